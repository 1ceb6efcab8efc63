#include "scenarios/runner.h"

#include <algorithm>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "broker_core/broker.h"
#include "broker_core/controller.h"
#include "client_core/consumer.h"
#include "client_core/producer.h"
#include "model/checkers.h"
#include "model/history.h"
#include "scenarios/bugs.h"
#include "scenarios/history_export.h"
#include "sim/simulation.h"

namespace eosim::scenarios {

using broker_core::Broker;
using broker_core::Controller;
using client_core::HistoryRecorder;
using protocol::BrokerId;
using protocol::TopicPartition;

std::string_view to_string(RunStatus status) {
    switch (status) {
        case RunStatus::pass: return "pass";
        case RunStatus::fail: return "fail";
        case RunStatus::error: return "error";
    }
    return "unknown";
}

std::string reproduce_command(const std::string& scenario, std::uint64_t seed, const std::string& bug,
                              const std::string& spec_path) {
    std::string command = spec_path.empty() ? fmt::format("./eosim run {} --seed {}", scenario, seed)
                                            : fmt::format("./eosim run --spec {} --seed {}", spec_path, seed);
    if (!bug.empty()) {
        command += " --bug " + bug;
    }
    return command;
}

namespace {

// How long a bit flip stays latent in a within-tolerance scenario before its scrub: under the brokers'
// replica lag bound (1 s), so the ISR cannot have shrunk to the damaged replica meanwhile.
constexpr sim::Duration latent_corruption_window = std::chrono::milliseconds(500);

// A healthy cluster's controller heard from every broker within this (brokers heartbeat every 200 ms).
constexpr sim::Duration healthy_heartbeat_age = std::chrono::milliseconds(500);

// In a healthy cluster every follower caught up with its leader within this: with the 1 s lag bound,
// no ISR can shrink during a bit flip's latent window.
constexpr sim::Duration healthy_follower_lag = std::chrono::milliseconds(300);

// ---- Clients -------------------------------------------------------------------------------------

class ProducerWorkload final : public sim::NodeState {
public:
    ProducerWorkload(sim::Node& node, client_core::ProducerConfig config, const broker_core::ClusterAddresses& addresses,
                     HistoryRecorder& history, const Spec& spec, int index, sim::Time stop_at)
        : producer_(node, std::move(config), addresses, history) {
        node.spawn("workload", [this, &node, &spec, index, stop_at] {
            const WorkloadSpec& workload = spec.workload;
            const auto draw_pause_at = [&node, &workload] {
                return workload.pause_every_max_ms == 0
                           ? sim::Time::max()
                           : sim::now() + std::chrono::milliseconds(node.random().between(workload.pause_every_min_ms,
                                                                                           workload.pause_every_max_ms));
            };
            sim::Time pause_at = draw_pause_at();
            for (std::uint64_t n = 0; sim::now() < stop_at; ++n) {
                sim::sleep(std::chrono::milliseconds(node.random().between(workload.send_interval_min_ms, workload.send_interval_max_ms)));
                if (sim::now() >= pause_at) {
                    // An idle producer: brokers may forget it meanwhile (producer id expiration).
                    sim::sleep(std::chrono::milliseconds(node.random().between(workload.pause_min_ms, workload.pause_max_ms)));
                    pause_at = draw_pause_at();
                }
                if (producer_.pending() > 256) {
                    continue;  // back-pressure: the cluster is not keeping up
                }
                std::string value = fmt::format("p{}-{}", index, n);
                value.resize(std::max<std::size_t>(value.size(), static_cast<std::size_t>(workload.value_bytes)), '.');
                std::optional<std::string> key;
                if (workload.keyed) {
                    key = fmt::format("k{}", n % static_cast<std::uint64_t>(workload.keys));
                }
                if (workload.tombstone_percent > 0 &&
                    node.random().below(100) < static_cast<std::uint64_t>(workload.tombstone_percent)) {
                    (void)producer_.send(spec.cluster.topic, std::move(key), std::nullopt);  // delete the key
                    continue;
                }
                (void)producer_.send(spec.cluster.topic, std::move(key), std::move(value));
            }
        });
    }
    [[nodiscard]] std::size_t pending() const { return producer_.pending(); }

private:
    client_core::Producer producer_;
};

// An admin client that deletes records now and then: DeleteRecords up to a committed offset of a
// random partition, recorded as "delete-records" operations (the checkers ignore them).
class AdminWorkload final : public sim::NodeState {
public:
    AdminWorkload(sim::Node& node, const broker_core::ClusterAddresses& addresses, HistoryRecorder& history,
                  const Spec& spec, sim::Time stop_at)
        : metadata_(node, addresses, std::chrono::milliseconds(1000)), history_(history) {
        node.spawn("admin", [this, &node, &spec, stop_at] {
            const WorkloadSpec& workload = spec.workload;
            while (true) {
                sim::sleep(std::chrono::milliseconds(
                    node.random().between(workload.delete_records_every_min_ms, workload.delete_records_every_max_ms)));
                if (sim::now() >= stop_at) {
                    return;
                }
                const TopicPartition partition{spec.cluster.topic,
                                               static_cast<std::int32_t>(node.random().below(
                                                   static_cast<std::uint64_t>(spec.cluster.partitions)))};
                delete_some(node, partition);
            }
        });
    }

private:
    void delete_some(sim::Node& node, const TopicPartition& partition) {
        (void)metadata_.refresh();
        const std::optional<protocol::BrokerId> leader = metadata_.leader(partition);
        if (!leader) {
            return;
        }
        sim::Result<sim::Message> listed = metadata_.client(*leader).call(
            sim::make_message(protocol::ListOffsetsRequest{partition, protocol::latest_timestamp}), metadata_.request_timeout());
        if (!listed || listed->as<protocol::ListOffsetsResponse>().error != protocol::ErrorCode::none) {
            return;
        }
        const std::int64_t high_watermark = listed->as<protocol::ListOffsetsResponse>().offset.value();
        const protocol::Offset target(std::max<std::int64_t>(0, high_watermark - static_cast<std::int64_t>(node.random().below(64))));
        client_core::ClientOperation invoke;
        invoke.time = sim::now();
        invoke.process = "admin";
        invoke.f = "delete-records";
        invoke.partition = partition.name();
        invoke.offset = target.value();
        history_.record(invoke);
        sim::Result<sim::Message> result = metadata_.client(*leader).call(
            sim::make_message(protocol::DeleteRecordsRequest{partition, target, std::chrono::milliseconds(1000)}),
            std::chrono::milliseconds(1200));
        client_core::ClientOperation done = invoke;
        done.time = sim::now();
        if (!result) {
            done.type = client_core::ClientOperation::Type::info;
            done.error = "NETWORK_EXCEPTION";
        } else {
            const auto& response = result->as<protocol::DeleteRecordsResponse>();
            if (response.error == protocol::ErrorCode::none) {
                done.type = client_core::ClientOperation::Type::ok;
            } else {
                done.type = response.error == protocol::ErrorCode::request_timed_out ? client_core::ClientOperation::Type::info
                                                                                    : client_core::ClientOperation::Type::fail;
                done.error = std::string(protocol::error_name(response.error));
            }
        }
        history_.record(done);
    }

    client_core::MetadataClient metadata_;
    HistoryRecorder& history_;
};

class ConsumerWorkload final : public sim::NodeState {
public:
    ConsumerWorkload(sim::Node& node, client_core::ConsumerConfig config, const broker_core::ClusterAddresses& addresses,
                     HistoryRecorder& history, const Spec& spec)
        : consumer_(node, std::move(config), addresses, history) {
        for (std::int32_t p = 0; p < spec.cluster.partitions; ++p) {
            const TopicPartition partition{spec.cluster.topic, p};
            partitions_.push_back(partition);
            consumer_.assign(partition, protocol::Offset(0));
            node.spawn("consume", [this, partition] {
                while (true) {
                    (void)consumer_.poll(partition);
                }
            });
        }
    }
    [[nodiscard]] protocol::Offset position(const TopicPartition& partition) const { return consumer_.position(partition); }

private:
    client_core::Consumer consumer_;
    std::vector<TopicPartition> partitions_;
};

// ---- The run -------------------------------------------------------------------------------------

class Run {
public:
    Run(const Spec& spec, const RunOptions& options)
        : spec_(spec),
          options_(options),
          simulation_(sim::SimulationOptions{.seed = options.seed, .buggify = spec.buggify, .trace_sink = options.trace}) {}

    RunResult execute();

private:
    void build();
    void nemesis();
    void apply(const faults::FaultAction& action);
    void heal_everything();
    void restart_down_nodes();
    [[nodiscard]] bool healthy();
    // Every broker is up, not paused, and heard by the controller lately.
    [[nodiscard]] bool brokers_in_touch(const Controller& controller) const;
    // The replica of `partition` on the broker the controller names as its leader (null: it has none).
    [[nodiscard]] const broker_core::Replica* replica_of_leader(const TopicPartition& partition,
                                                                const protocol::PartitionState& state) const;
    [[nodiscard]] bool repaired();
    [[nodiscard]] bool quiescent();
    void block(sim::NodeId from, sim::NodeId to, std::vector<std::pair<sim::NodeId, sim::NodeId>>& blocked);
    void unblock(const std::vector<std::pair<sim::NodeId, sim::NodeId>>& blocked);
    sim::Node& node(const std::string& name);
    [[nodiscard]] model::History history(bool stuck);
    void classify(RunResult& result, const std::vector<model::Anomaly>& anomalies) const;

    const Spec& spec_;
    const RunOptions& options_;
    sim::Simulation simulation_;
    broker_core::ClusterAddresses addresses_;
    sim::Node* controller_ = nullptr;
    std::vector<sim::Node*> brokers_;
    std::vector<sim::Node*> producers_;
    std::vector<sim::Node*> consumers_;
    sim::Node* admin_ = nullptr;
    HistoryRecorder history_;
    faults::FaultPlan plan_;
    std::map<std::pair<std::uint32_t, std::uint32_t>, int> blocks_;
    std::set<std::string> corrupted_;  // brokers that got a latent bit flip
    sim::Time last_lossy_{};
    bool any_lossy_ = false;
    // Victims of lossy faults (within tolerance) that have not rejoined every ISR with a new incarnation
    // yet, and whether a scrub is still to come.
    std::map<std::string, bool> repairing_;
    bool quiesced_ = false;
};

sim::Node& Run::node(const std::string& name) {
    sim::Node* found = simulation_.find_node(name);
    EOSIM_ASSERT_MSG(found != nullptr, "no node " + name);
    return *found;
}

void Run::build() {
    const ClusterSpec& cluster = spec_.cluster;
    broker_core::ControllerConfig controller_config;
    for (std::int32_t i = 1; i <= cluster.brokers; ++i) {
        controller_config.brokers.emplace_back(i);
    }
    controller_config.topics.push_back(broker_core::TopicConfig{cluster.topic, cluster.partitions, cluster.replication_factor});
    controller_config.unclean_leader_election = cluster.unclean_leader_election;
    controller_ = &simulation_.add_node("controller", [controller_config](sim::Node& n) {
        return std::make_unique<Controller>(n, controller_config);
    });
    addresses_.controller = controller_->id();
    const auto first_broker_node = static_cast<std::uint32_t>(simulation_.nodes().size());
    for (std::int32_t i = 1; i <= cluster.brokers; ++i) {
        addresses_.brokers[BrokerId(i)] = sim::NodeId(first_broker_node + static_cast<std::uint32_t>(i - 1));
    }
    broker_core::BrokerBugs bugs;
    EOSIM_ASSERT(apply_bug(options_.bug, bugs));
    for (std::int32_t i = 1; i <= cluster.brokers; ++i) {
        broker_core::BrokerConfig config;
        config.id = BrokerId(i);
        config.addresses = addresses_;
        config.log.flush_every_write = cluster.flush_every_write;
        config.log.segment_bytes = static_cast<std::uint64_t>(cluster.segment_bytes);
        config.log.producer_state.expiration_ms = cluster.producer_id_expiration_ms;
        config.log.retention_ms = cluster.retention_ms;
        config.log.retention_bytes = cluster.retention_bytes;
        config.log.compacted = cluster.compacted;
        config.log.delete_retention_ms = cluster.delete_retention_ms;
        config.log.min_compaction_lag_ms = cluster.min_compaction_lag_ms;
        config.min_insync_replicas = cluster.min_insync_replicas;
        config.bugs = bugs;
        brokers_.push_back(&simulation_.add_node(fmt::format("broker-{}", i), [config](sim::Node& n) {
            return std::make_unique<Broker>(n, config);
        }));
    }
    const sim::Time stop_at = sim::Time(spec_.faults.plan.chaos);
    for (std::int32_t i = 1; i <= spec_.workload.producers; ++i) {
        client_core::ProducerConfig config;
        config.client_id = fmt::format("producer-{}", i);
        config.acks = spec_.workload.acks;
        config.idempotent = spec_.workload.idempotent;
        config.max_in_flight = spec_.workload.max_in_flight;
        config.delivery_timeout = std::chrono::milliseconds(spec_.workload.delivery_timeout_ms);
        producers_.push_back(&simulation_.add_node(config.client_id, [this, config, i, stop_at](sim::Node& n) {
            return std::make_unique<ProducerWorkload>(n, config, addresses_, history_, spec_, i, stop_at);
        }));
    }
    for (std::int32_t i = 1; i <= spec_.workload.consumers; ++i) {
        client_core::ConsumerConfig config;
        config.client_id = fmt::format("consumer-{}", i);
        consumers_.push_back(&simulation_.add_node(config.client_id, [this, config](sim::Node& n) {
            return std::make_unique<ConsumerWorkload>(n, config, addresses_, history_, spec_);
        }));
    }
    if (spec_.workload.delete_records_every_max_ms > 0) {
        admin_ = &simulation_.add_node("admin", [this, stop_at](sim::Node& n) {
            return std::make_unique<AdminWorkload>(n, addresses_, history_, spec_, stop_at);
        });
    }
    std::vector<std::string> broker_names;
    for (sim::Node* broker : brokers_) {
        broker_names.push_back(broker->name());
    }
    plan_ = faults::draw_fault_plan(simulation_.random().fork("fault-plan"), spec_.faults.plan, broker_names, "controller");
    simulation_.record_param("scenario", spec_.name);
    simulation_.record_param("bug", options_.bug.empty() ? "none" : options_.bug);
    simulation_.record_param("fault_actions", std::to_string(plan_.actions.size()));
}

void Run::block(sim::NodeId from, sim::NodeId to, std::vector<std::pair<sim::NodeId, sim::NodeId>>& blocked) {
    if (from == to) {
        return;
    }
    if (blocks_[{from.value(), to.value()}]++ == 0) {
        simulation_.network().block(from, to);
    }
    blocked.emplace_back(from, to);
}

void Run::unblock(const std::vector<std::pair<sim::NodeId, sim::NodeId>>& blocked) {
    for (const auto& [from, to] : blocked) {
        const auto found = blocks_.find({from.value(), to.value()});
        if (found != blocks_.end() && --found->second == 0) {
            blocks_.erase(found);
            simulation_.network().unblock(from, to);
        }
    }
}

bool Run::repaired() {
    if (!healthy()) {
        return false;
    }
    const auto& controller = controller_->state<Controller>();
    for (const auto& [name, scrub_pending] : repairing_) {
        const sim::Node& victim = node(name);
        // The controller has seen its new incarnation (so fenced the old one out of every ISR), and,
        // the cluster being healthy, it has caught up and rejoined.
        const auto index = std::find(brokers_.begin(), brokers_.end(), &victim) - brokers_.begin();
        const protocol::BrokerId id(static_cast<std::int32_t>(index + 1));
        if (scrub_pending || controller.registered_incarnation(id) != victim.incarnation()) {
            return false;
        }
    }
    return true;
}

bool Run::brokers_in_touch(const Controller& controller) const {
    for (std::size_t i = 0; i < brokers_.size(); ++i) {
        if (!brokers_[i]->up() || brokers_[i]->paused()) {
            return false;
        }
        // The controller is in touch with it: no session is about to expire, fencing brokers at once.
        const protocol::BrokerId id(static_cast<std::int32_t>(i + 1));
        if (sim::now() - controller.last_heartbeat(id) > healthy_heartbeat_age) {
            return false;
        }
    }
    return true;
}

const broker_core::Replica* Run::replica_of_leader(const TopicPartition& partition,
                                                   const protocol::PartitionState& state) const {
    const auto& replicas = brokers_[static_cast<std::size_t>(state.leader.value() - 1)]->state<Broker>().replicas();
    const auto found = replicas.find(partition);
    return found != replicas.end() ? found->second.get() : nullptr;
}

bool Run::healthy() {
    if (!blocks_.empty() || !controller_->up()) {
        return false;
    }
    const auto& controller = controller_->state<Controller>();
    if (!brokers_in_touch(controller)) {
        return false;
    }
    for (const auto& [partition, state] : controller.partitions()) {
        if (state.leader == protocol::no_broker || state.isr.size() != state.replicas.size()) {
            return false;
        }
        // The leader agrees, has no ISR change under way, and every follower caught up recently: the
        // ISR cannot shrink for a good while (the latent window of a bit flip is shorter).
        const broker_core::Replica* leader = replica_of_leader(partition, state);
        if (leader == nullptr) {
            return false;
        }
        const broker_core::Replica& replica = *leader;
        if (replica.role != broker_core::ReplicaRole::leader || replica.alter_in_flight || !replica.isr_in_doubt.empty() ||
            replica.isr.size() != state.replicas.size()) {
            return false;
        }
        for (const auto& [follower, follower_state] : replica.followers) {
            if (sim::now() - follower_state.last_caught_up > healthy_follower_lag) {
                return false;
            }
        }
    }
    return true;
}

void Run::apply(const faults::FaultAction& action) {
    sim::trace("FaultStart").detail("fault", faults::to_json(action).dump());
    const sim::Duration duration = action.duration;
    const auto later = [this, duration](std::function<void()> end) {
        simulation_.world().spawn("fault-end", [duration, end = std::move(end)] {
            sim::sleep(duration);
            end();
        });
    };
    // Faults that can lose what a replica acknowledged stay within the replication's tolerance in
    // must-pass scenarios: one at a time, on a healthy cluster, spaced apart.
    const auto lossy_allowed = [this] {
        if (!spec_.faults.within_tolerance) {
            return true;
        }
        const bool allowed = healthy() && (!any_lossy_ || sim::now() - last_lossy_ > std::chrono::seconds(3));
        if (allowed) {
            any_lossy_ = true;
            last_lossy_ = sim::now();
        }
        return allowed;
    };
    switch (action.kind) {
        case faults::FaultKind::crash:
        case faults::FaultKind::crash_several:
        case faults::FaultKind::crash_controller:
        case faults::FaultKind::power_loss: {
            std::vector<sim::Node*> crashed;
            sim::UnsyncedFate fate = action.unsynced;
            const bool lossy = fate != sim::UnsyncedFate::keep && action.kind != faults::FaultKind::crash_controller;
            if (lossy && spec_.faults.within_tolerance &&
                (action.kind != faults::FaultKind::crash || !lossy_allowed())) {
                fate = sim::UnsyncedFate::keep;
                sim::trace("FaultDowngraded").detail("why", "a lossy crash now could exceed the fault tolerance");
            }
            const bool repair = spec_.faults.within_tolerance && fate != sim::UnsyncedFate::keep &&
                                action.kind != faults::FaultKind::crash_controller;
            for (const std::string& target : action.targets) {
                sim::Node& victim = node(target);
                if (victim.up()) {
                    if (repair) {
                        repairing_.emplace(victim.name(), false);
                    }
                    (void)victim.crash(sim::CrashOptions{fate});
                    crashed.push_back(&victim);
                }
            }
            later([crashed] {
                for (sim::Node* victim : crashed) {
                    if (!victim->up()) {
                        victim->restart();
                    }
                }
            });
            break;
        }
        case faults::FaultKind::pause:
            for (const std::string& target : action.targets) {
                if (node(target).up()) {
                    node(target).pause(duration);
                }
            }
            break;
        case faults::FaultKind::partition:
        case faults::FaultKind::partition_one_way:
        case faults::FaultKind::isolate:
        case faults::FaultKind::split:
        case faults::FaultKind::bridge: {
            auto blocked = std::make_shared<std::vector<std::pair<sim::NodeId, sim::NodeId>>>();
            std::vector<std::string> everyone{"controller"};
            for (sim::Node* broker : brokers_) {
                everyone.push_back(broker->name());
            }
            const auto cut = [&](const std::string& a, const std::string& b, bool both) {
                block(node(a).id(), node(b).id(), *blocked);
                if (both) {
                    block(node(b).id(), node(a).id(), *blocked);
                }
            };
            if (action.kind == faults::FaultKind::partition || action.kind == faults::FaultKind::partition_one_way) {
                cut(action.targets.front(), action.other_side.front(), action.kind == faults::FaultKind::partition);
            } else if (action.kind == faults::FaultKind::isolate) {
                for (const std::string& other : everyone) {
                    cut(action.targets.front(), other, true);
                }
                for (sim::Node* client : producers_) {
                    cut(action.targets.front(), client->name(), true);
                }
                for (sim::Node* client : consumers_) {
                    cut(action.targets.front(), client->name(), true);
                }
            } else if (action.kind == faults::FaultKind::split) {
                for (const std::string& a : action.targets) {
                    for (const std::string& b : action.other_side) {
                        cut(a, b, true);
                    }
                }
            } else {
                // targets[0] is the bridge; targets[1..] and other_side are the two halves.
                for (std::size_t i = 1; i < action.targets.size(); ++i) {
                    for (const std::string& b : action.other_side) {
                        cut(action.targets[i], b, true);
                    }
                }
            }
            later([this, blocked] { unblock(*blocked); });
            break;
        }
        case faults::FaultKind::reset:
            simulation_.network().reset_connections(node(action.targets.front()).id());
            break;
        case faults::FaultKind::latency_spike:
            simulation_.network().set_latency_spike(action.extra_latency, sim::now() + duration);
            break;
        case faults::FaultKind::corrupt: {
            if (!lossy_allowed()) {
                sim::trace("FaultSkipped").detail("why", "corruption now could exceed the fault tolerance");
                break;
            }
            sim::Node& victim = node(action.targets.front());
            const auto flipped = victim.disk().corrupt_random_bit([](const std::string& path) { return path.ends_with(".log"); });
            if (!flipped) {
                break;
            }
            sim::trace("DiskCorrupted").detail("target", victim.name()).detail("file", flipped->first).detail("offset", flipped->second);
            if (!spec_.faults.within_tolerance) {
                corrupted_.insert(victim.name());  // latent until the final scrub
                break;
            }
            // A damaged replica left in the ISR uses up the replication's tolerance: if the ISR later
            // shrank to it alone, its recovery would cut committed records and it would still be elected
            // (Kafka has no defence here before KIP-966). So within tolerance the damage stays latent only
            // while the ISR cannot have shrunk (less than the lag bound) and is then scrubbed: a restart
            // whose recovery checks every batch. No other fault comes before the cluster is healthy again.
            repairing_[victim.name()] = true;
            simulation_.world().spawn("scrub", [this, &victim] {
                sim::sleep(latent_corruption_window);
                sim::trace("Scrub").detail("broker", victim.name());
                if (victim.up()) {
                    (void)victim.crash(sim::CrashOptions{sim::UnsyncedFate::keep});
                    victim.restart();
                }
                if (const auto pending = repairing_.find(victim.name()); pending != repairing_.end()) {
                    pending->second = false;
                }
            });
            break;
        }
    }
}

void Run::nemesis() {
    const sim::Time chaos_end(spec_.faults.plan.chaos);
    for (const faults::FaultAction& action : plan_.actions) {
        const sim::Time at(action.at);
        if (at > sim::now()) {
            sim::sleep(at - sim::now());
        }
        if (!repairing_.empty()) {
            // A replica that lost data is still in the ISR until the controller fences it and it
            // catches up again; another fault meanwhile could leave it the last in-sync replica, which
            // would lead with what it lost. Within tolerance, the next fault waits for full health.
            sim::trace("FaultDeferred").detail("why", "a replica is repairing after a lossy fault");
            while (!repaired() && sim::now() < chaos_end) {
                sim::sleep(std::chrono::milliseconds(50));
            }
            repairing_.clear();
            if (sim::now() >= chaos_end) {
                break;
            }
        }
        apply(action);
    }
}

void Run::restart_down_nodes() {
    if (!controller_->up()) {
        controller_->restart();
    }
    for (sim::Node* broker : brokers_) {
        if (!broker->up()) {
            broker->restart();
        }
    }
}

void Run::heal_everything() {
    sim::trace("Heal");
    blocks_.clear();
    simulation_.network().heal();
    simulation_.network().clear_extra_latency();
    restart_down_nodes();
}

bool Run::quiescent() {
    if (!controller_->up()) {
        return false;
    }
    for (sim::Node* producer : producers_) {
        if (producer->state<ProducerWorkload>().pending() > 0) {
            return false;
        }
    }
    const auto& controller = controller_->state<Controller>();
    if (!brokers_in_touch(controller)) {
        return false;
    }
    for (const auto& [partition, state] : controller.partitions()) {
        if (state.leader == protocol::no_broker || state.isr.size() != state.replicas.size()) {
            return false;
        }
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
            const auto& replicas = brokers_[static_cast<std::size_t>(replica.value() - 1)]->state<Broker>().replicas();
            const auto found = replicas.find(partition);
            if (found == replicas.end() || found->second->log.log_end_offset() != end) {
                return false;
            }
        }
        for (sim::Node* consumer : consumers_) {
            if (consumer->state<ConsumerWorkload>().position(partition) < end) {
                return false;
            }
        }
    }
    return true;
}

model::History Run::history(bool stuck) {
    model::History history;
    const ExportOptions options{.keys_in_records = spec_.cluster.compacted};
    history.operations.reserve(history_.operations().size() + 1);
    std::uint64_t index = 0;
    for (const client_core::ClientOperation& operation : history_.operations()) {
        history.operations.push_back(model_operation(operation, index++, options));
    }
    if (stuck) {
        history.operations.push_back(model::Operation{.index = index++,
                                                      .time = sim::to_ns(simulation_.now()),
                                                      .process = "runner",
                                                      .type = model::OpType::info,
                                                      .f = "stuck",
                                                      .reason = "the cluster did not quiesce after healing"});
    }
    if (!controller_->up()) {
        return history;
    }
    for (const auto& [partition, state] : controller_->state<Controller>().partitions()) {
        for (const BrokerId replica : state.replicas) {
            sim::Node& broker = *brokers_[static_cast<std::size_t>(replica.value() - 1)];
            if (!broker.up()) {
                continue;
            }
            const auto& replicas = broker.state<Broker>().replicas();
            if (const auto found = replicas.find(partition); found != replicas.end()) {
                history.replicas.push_back(replica_state(*found->second, broker.name(), state.leader == replica, options));
            }
        }
    }
    return history;
}

void Run::classify(RunResult& result, const std::vector<model::Anomaly>& anomalies) const {
    std::set<std::string> failures;
    std::set<std::string> weaknesses;
    std::set<std::string> allowed;
    const auto listed = [](const std::vector<std::string>& names, const std::string& name) {
        return std::find(names.begin(), names.end(), name) != names.end();
    };
    for (const model::Anomaly& anomaly : anomalies) {
        result.reports.push_back(AnomalyReport{anomaly.name, anomaly.partition, anomaly.description});
        if (listed(spec_.checks.weaknesses, anomaly.name)) {
            weaknesses.insert(anomaly.name);
        } else if (listed(spec_.checks.allowed, anomaly.name)) {
            allowed.insert(anomaly.name);
        } else {
            failures.insert(anomaly.name);
        }
    }
    result.anomalies.assign(failures.begin(), failures.end());
    result.weaknesses.assign(weaknesses.begin(), weaknesses.end());
    result.allowed.assign(allowed.begin(), allowed.end());
    result.status = failures.empty() ? RunStatus::pass : RunStatus::fail;
}

RunResult Run::execute() {
    RunResult result;
    result.scenario = spec_.name;
    result.seed = options_.seed;
    result.bug = options_.bug;
    result.reproduce = reproduce_command(spec_.name, options_.seed, options_.bug, options_.spec_path);
    try {
        build();
        result.fault_plan = faults::to_json(plan_);
        controller_->start();
        for (sim::Node* broker : brokers_) {
            broker->start();
        }
        for (sim::Node* client : producers_) {
            client->start();
        }
        for (sim::Node* client : consumers_) {
            client->start();
        }
        if (admin_ != nullptr) {
            admin_->start();
        }
        simulation_.world().spawn("nemesis", [this] { nemesis(); });
        if (spec_.cluster.writeback_interval_ms > 0) {
            simulation_.world().spawn("writeback", [this] {
                while (true) {
                    sim::sleep(std::chrono::milliseconds(spec_.cluster.writeback_interval_ms));
                    for (sim::Node* broker : brokers_) {
                        if (broker->up()) {
                            broker->disk().writeback();
                        }
                    }
                }
            });
        }
        const sim::Time heal_at(spec_.faults.plan.chaos);
        const sim::Time give_up = heal_at + spec_.faults.plan.duration_max + std::chrono::milliseconds(spec_.checks.quiesce_ms);
        simulation_.world().spawn("healer", [this, heal_at] {
            sim::sleep(heal_at - sim::now());
            sim::sleep(spec_.faults.plan.duration_max);  // let the last faults end by themselves
            heal_everything();
            const auto settle = [this] {
                while (!quiescent()) {
                    sim::sleep(std::chrono::milliseconds(100));
                    restart_down_nodes();  // a broker that halted on a corrupt batch comes back
                }
            };
            settle();
            // Latent corruption stays until something reads it: restart each broker that got a bit flip,
            // one at a time, so that its recovery checks every batch (a scrub).
            for (const std::string& name : corrupted_) {
                sim::trace("Scrub").detail("broker", name);
                (void)node(name).crash(sim::CrashOptions{sim::UnsyncedFate::keep});
                node(name).restart();
                settle();
            }
            quiesced_ = true;
        });
        const sim::RunOutcome outcome =
            simulation_.run(sim::RunBounds{.time_limit = give_up, .max_events = 200'000'000}, [this] { return quiesced_; });
        const bool stuck = outcome.status != sim::RunStatus::done;
        const model::History history = this->history(stuck);
        if (options_.history != nullptr) {
            model::write_history(*options_.history, history);
        }
        classify(result, model::check(history));
        if (const sim::Trace& trace = simulation_.trace(); trace.error_count() > 0 && result.status == RunStatus::pass) {
            // An error-severity trace event is a failed internal check of the simulated system.
            result.status = RunStatus::error;
            result.error = fmt::format("{} error trace event(s), the first: {}", trace.error_count(), trace.first_error());
        }
        result.events = outcome.events;
        result.sim_ns = sim::to_ns(simulation_.now());
    } catch (const sim::InvariantViolation& violation) {
        // An invariant of the simulated system broke during the run: the seed fails at once, as an anomaly.
        sim::trace("InvariantViolation").detail("invariant", violation.name()).detail("what", violation.what());
        classify(result, {model::Anomaly{.name = "invariant-violation",
                                         .partition = "",
                                         .description = violation.what(),
                                         .evidence = {{"invariant", violation.name()}}}});
        result.events = simulation_.scheduler().events_dispatched();
        result.sim_ns = sim::to_ns(simulation_.now());
    } catch (const sim::AssertionFailure& failure) {
        result.status = RunStatus::error;
        result.error = failure.what();
    } catch (const std::exception& error) {
        result.status = RunStatus::error;
        result.error = std::string("internal error: ") + error.what();
    }
    result.fingerprint = simulation_.fingerprint();
    result.params = simulation_.params();
    return result;
}

}  // namespace

RunResult run(const Spec& spec, std::uint64_t seed, RunOptions options) {
    options.seed = seed;
    return run(spec, options);
}

RunResult run(const Spec& spec, const RunOptions& options) {
    Run run(spec, options);
    return run.execute();
}

}  // namespace eosim::scenarios
