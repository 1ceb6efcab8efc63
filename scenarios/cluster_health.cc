#include "scenarios/cluster_health.h"

#include "scenarios/stream_workloads.h"

#include <algorithm>

#include "protocol/coordinator.h"
#include "scenarios/workloads.h"
#include "sim/simulation.h"

namespace eosim::scenarios {

using broker_core::Broker;
using broker_core::Controller;
using protocol::BrokerId;
using protocol::TopicPartition;

namespace {

// A healthy cluster's controller heard from every broker within this (brokers heartbeat every 200 ms).
constexpr sim::Duration healthy_heartbeat_age = std::chrono::milliseconds(500);

// In a healthy cluster every follower caught up with its leader within this: with the 1 s lag bound,
// no ISR can shrink during a bit flip's latent window.
constexpr sim::Duration healthy_follower_lag = std::chrono::milliseconds(300);

}  // namespace

bool ClusterHealth::healthy() {
    return every_partition_settled(
        [this](const TopicPartition& partition, const protocol::PartitionState& state) {
            return leader_settled(partition, state);
        });
}

bool ClusterHealth::every_partition_settled(
    const std::function<bool(const TopicPartition&, const protocol::PartitionState&)>& settled) const {
    if (!nodes_.controller->up()) {
        return false;
    }
    const auto& controller = nodes_.controller->state<Controller>();
    if (!brokers_in_touch(controller)) {
        return false;
    }
    for (const auto& [partition, state] : controller.partitions()) {
        if (state.leader == protocol::no_broker || state.isr.size() != state.replicas.size()) {
            return false;
        }
        if (!settled(partition, state)) {
            return false;
        }
    }
    return true;
}

bool ClusterHealth::leader_settled(const TopicPartition& partition, const protocol::PartitionState& state) const {
    const broker_core::Replica* leader = replica_of_leader(partition, state);
    if (leader == nullptr) {
        return false;
    }
    const broker_core::Replica& replica = *leader;
    if (replica.role != broker_core::ReplicaRole::leader || replica.alter_in_flight || !replica.isr_in_doubt.empty() ||
        replica.isr.size() != state.replicas.size()) {
        return false;
    }
    // The leader times its followers by its own wall clock (Kafka's lastCaughtUpTimeMs): read it the same way,
    // or a leader whose clock a fault skewed would never count as settled.
    sim::Node& leader_node = *nodes_.brokers[static_cast<std::size_t>(state.leader.value() - 1)];
    const sim::Time leader_now = leader_node.clock().local_time(sim::now());
    return std::all_of(replica.followers.begin(), replica.followers.end(), [leader_now](const auto& follower) {
        return leader_now - follower.second.last_caught_up <= healthy_follower_lag;
    });
}

bool ClusterHealth::incarnation_registered(const std::string& broker) {
    const auto& controller = nodes_.controller->state<Controller>();
    const auto found = std::find_if(nodes_.brokers.begin(), nodes_.brokers.end(),
                                    [&broker](const sim::Node* node) { return node->name() == broker; });
    if (found == nodes_.brokers.end()) {
        return true;  // not a broker (an application instance an aimed crash hit): nothing to register
    }
    const BrokerId id(static_cast<std::int32_t>(found - nodes_.brokers.begin() + 1));
    return controller.registered_incarnation(id) == (*found)->incarnation();
}

bool ClusterHealth::quiescent() const {
    for (const auto* clients : {&nodes_.producers, &nodes_.consumers, &nodes_.txn_writers}) {
        if (std::any_of(clients->begin(), clients->end(), [](const sim::Node* client) { return !client->up(); })) {
            return false;  // a crashed client restarts first
        }
    }
    for (sim::Node* producer : nodes_.producers) {
        const auto& workload = producer->state<ProducerWorkload>();
        if (workload.pending() > 0 || workload.probes_left() > 0 || workload.input_left() > 0) {
            return false;
        }
    }
    for (sim::Node* writer : nodes_.txn_writers) {
        const auto& workload = writer->state<TxnWriterWorkload>();
        if (workload.busy() || workload.probes_left() > 0) {
            return false;
        }
    }
    // A transaction whose commit or abort was answered still has its markers to come: the checks after
    // healing would take its partitions for hanging.
    for (sim::Node* broker : nodes_.brokers) {
        if (broker->up() && (!broker->state<Broker>().transaction_coordinator().idle() ||
                             !broker->state<Broker>().group_coordinator().idle())) {
            return false;
        }
    }
    for (sim::Node* instance : nodes_.ctp_instances) {
        if (!instance->up() || instance->paused() || instance->state<CtpWorkload>().busy()) {
            return false;
        }
    }
    for (sim::Node* member : nodes_.group_members) {
        if (!member->up() || member->paused()) {
            return false;
        }
    }
    for (sim::Node* instance : nodes_.stream_instances) {
        if (!instance->up() || instance->paused() || !instance->state<StreamInstanceWorkload>().idle()) {
            return false;
        }
    }
    for (const TopicPartition& partition : nodes_.stream_sources) {
        const auto& states = nodes_.controller->state<Controller>().partitions();
        const auto state = states.find(partition);
        const broker_core::Replica* leader = state == states.end() || state->second.leader == protocol::no_broker
                                                 ? nullptr
                                                 : replica_of_leader(partition, state->second);
        if (leader == nullptr || std::none_of(nodes_.stream_instances.begin(), nodes_.stream_instances.end(),
                                              [&](sim::Node* instance) {
                                                  const auto at =
                                                      instance->state<StreamInstanceWorkload>().position(partition);
                                                  return at && *at >= leader->log.log_end_offset();
                                              })) {
            return false;
        }
    }
    // Every input partition of the application is read to its end by the instance that owns it.
    for (const TopicPartition& partition : nodes_.ctp_inputs) {
        const auto& states = nodes_.controller->state<Controller>().partitions();
        const auto state = states.find(partition);
        const broker_core::Replica* leader = state == states.end() || state->second.leader == protocol::no_broker
                                                 ? nullptr
                                                 : replica_of_leader(partition, state->second);
        if (leader == nullptr || std::none_of(nodes_.ctp_instances.begin(), nodes_.ctp_instances.end(),
                                              [&](sim::Node* instance) {
                                                  return instance->state<CtpWorkload>().done_with(
                                                      partition, leader->log.log_end_offset());
                                              })) {
            return false;
        }
    }
    // Every group has committed everything there is to read.
    for (const auto& [group, partitions] : nodes_.groups) {
        for (const TopicPartition& partition : partitions) {
            const auto& states = nodes_.controller->state<Controller>().partitions();
            const auto state = states.find(partition);
            if (state == states.end()) {
                return false;
            }
            const broker_core::Replica* leader = state->second.leader == protocol::no_broker
                                                     ? nullptr
                                                     : replica_of_leader(partition, state->second);
            if (leader == nullptr ||
                std::max<std::int64_t>(committed_offset(group, partition), 0) != leader->log.log_end_offset().value()) {
                return false;
            }
        }
    }
    return every_partition_settled(
        [this](const TopicPartition& partition, const protocol::PartitionState& state) {
            return caught_up(partition, state);
        });
}

std::int64_t ClusterHealth::committed_offset(const std::string& group, const TopicPartition& partition) const {
    const auto& states = nodes_.controller->state<Controller>().partitions();
    std::int32_t count = 0;
    for (const auto& [candidate, state] : states) {
        count += candidate.topic == protocol::consumer_offsets_topic ? 1 : 0;
    }
    if (count == 0) {
        return -1;
    }
    const auto state = states.find(
        TopicPartition{std::string(protocol::consumer_offsets_topic), protocol::coordinator_partition(group, count)});
    if (state == states.end() || state->second.leader == protocol::no_broker) {
        return -1;
    }
    sim::Node& broker = *nodes_.brokers[static_cast<std::size_t>(state->second.leader.value() - 1)];
    if (!broker.up()) {
        return -1;
    }
    const auto committed = broker.state<Broker>().group_coordinator().committed(group, partition);
    return committed ? committed->offset : -1;
}

bool ClusterHealth::caught_up(const TopicPartition& partition, const protocol::PartitionState& state) const {
    const broker_core::Replica* leader = replica_of_leader(partition, state);
    if (leader == nullptr || leader->role != broker_core::ReplicaRole::leader ||
        leader->leader_epoch != state.leader_epoch) {
        return false;
    }
    const protocol::Offset end = leader->log.log_end_offset();
    if (leader->high_watermark != end) {
        return false;
    }
    for (const BrokerId replica : state.replicas) {
        const auto& replicas =
            nodes_.brokers[static_cast<std::size_t>(replica.value() - 1)]->state<Broker>().replicas();
        const auto found = replicas.find(partition);
        if (found == replicas.end() || found->second->log.log_end_offset() != end) {
            return false;
        }
    }
    return std::all_of(nodes_.consumers.begin(), nodes_.consumers.end(), [&partition, end](sim::Node* consumer) {
        if (!consumer->up()) {
            return false;  // crashed (client_faults): it reads again once restarted
        }
        const auto& workload = consumer->state<ConsumerWorkload>();
        return !workload.reads(partition) || workload.position(partition) >= end;  // internal topics: not read
    });
}

bool ClusterHealth::brokers_in_touch(const Controller& controller) const {
    for (std::size_t i = 0; i < nodes_.brokers.size(); ++i) {
        if (!nodes_.brokers[i]->up() || nodes_.brokers[i]->paused()) {
            return false;
        }
        // The controller is in touch with it: no session is about to expire, fencing brokers at once.
        const BrokerId id(static_cast<std::int32_t>(i + 1));
        if (sim::now() - controller.last_heartbeat(id) > healthy_heartbeat_age) {
            return false;
        }
    }
    return true;
}

const broker_core::Replica* ClusterHealth::replica_of_leader(const TopicPartition& partition,
                                                             const protocol::PartitionState& state) const {
    const auto& replicas =
        nodes_.brokers[static_cast<std::size_t>(state.leader.value() - 1)]->state<Broker>().replicas();
    const auto found = replicas.find(partition);
    return found != replicas.end() ? found->second.get() : nullptr;
}

}  // namespace eosim::scenarios
