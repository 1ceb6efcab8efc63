#pragma once

#include <functional>
#include <string>
#include <vector>

#include "broker_core/broker.h"
#include "broker_core/controller.h"
#include "faults/cluster_probe.h"
#include "sim/node.h"

namespace eosim::scenarios {

// The nodes of a run, as the health checks see them: brokers in id order (broker-1 first).
struct ClusterNodes {
    sim::Node* controller = nullptr;
    std::vector<sim::Node*> brokers;
    std::vector<sim::Node*> producers;  // their state is a ProducerWorkload
    std::vector<sim::Node*> consumers;  // their state is a ConsumerWorkload
    std::vector<sim::Node*> txn_writers;  // their state is a TxnWriterWorkload
    std::vector<sim::Node*> group_members;  // their state is a GroupMemberWorkload
    std::vector<sim::Node*> ctp_instances;  // their state is a CtpWorkload
    std::vector<sim::Node*> stream_instances;  // their state is a StreamInstanceWorkload
    // The groups whose committed offsets must reach the log end of these partitions before the run is
    // quiescent (the group members').
    std::vector<std::pair<std::string, std::vector<protocol::TopicPartition>>> groups;
    // The consume-transform-produce application's input: before the run is quiescent, some instance owns
    // each partition and has read it to its end (what it committed is the checkers' business).
    std::vector<protocol::TopicPartition> ctp_inputs;
    // The stream application's source partitions (repartition topics included): before the run is
    // quiescent, a thread runs the task of each and has read it to its end.
    std::vector<protocol::TopicPartition> stream_sources;
};

// Health and quiescence of a run's cluster, read from the nodes' states: what the nemesis's guards ask
// (faults::ClusterProbe) and what the heal phase waits for.
class ClusterHealth final : public faults::ClusterProbe {
public:
    explicit ClusterHealth(ClusterNodes nodes) : nodes_(std::move(nodes)) {}

    [[nodiscard]] bool healthy() override;
    [[nodiscard]] bool incarnation_registered(const std::string& broker) override;
    // After healing: every producer has nothing pending and no probe send left, every partition has a leader and a full ISR, every
    // replica holds the leader's log end, which is the high watermark, and every consumer has read it all.
    [[nodiscard]] bool quiescent() const;
    // The group's committed offset of `partition`, as its coordinator holds it now (-1: none, or no loaded
    // coordinator).
    [[nodiscard]] std::int64_t committed_offset(const std::string& group, const protocol::TopicPartition& partition) const;

private:
    // Every broker is up, not paused, and heard by the controller lately.
    [[nodiscard]] bool brokers_in_touch(const broker_core::Controller& controller) const;
    // The controller is up and in touch with every broker, and every partition has a leader, its full
    // replica set in the ISR, and `settled` holds for it.
    [[nodiscard]] bool every_partition_settled(
        const std::function<bool(const protocol::TopicPartition&, const protocol::PartitionState&)>& settled) const;
    // The replica of `partition` on the broker the controller names as its leader (null: it has none).
    [[nodiscard]] const broker_core::Replica* replica_of_leader(const protocol::TopicPartition& partition,
                                                                const protocol::PartitionState& state) const;
    // The leader agrees with the controller, has no ISR change under way, and every follower caught up
    // recently: the ISR cannot shrink for a good while.
    [[nodiscard]] bool leader_settled(const protocol::TopicPartition& partition,
                                      const protocol::PartitionState& state) const;
    // The leader's log end is its high watermark, and every replica and consumer reached it.
    [[nodiscard]] bool caught_up(const protocol::TopicPartition& partition,
                                 const protocol::PartitionState& state) const;

    ClusterNodes nodes_;
};

}  // namespace eosim::scenarios
