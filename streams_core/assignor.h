#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client_core/assignors.h"
#include "streams_core/record.h"
#include "streams_core/topology.h"

// The assignor a stream application's threads use in their consumer group (Kafka Streams'
// StreamsPartitionAssignor with its StickyTaskAssignor, eager): it hands out tasks, not partitions.
// Each thread says in its subscription which instance it runs in, the tasks it ran and kept as standbys
// before the rebalance, and the tasks its instance has local state for; the leader gives each task to
// the instance that ran it, else to the one with the most of its state, else to the least loaded one,
// then spreads standby replicas over other instances, preferring those with the task's state. A task's
// partitions (one partition number of every source topic of its sub-topology: co-partitioned) go to
// one thread together. docs/streams.md, "Assignment".

namespace eosim::streams_core {

// Kafka's SubscriptionInfo, the part eosim uses.
struct SubscriptionInfo {
    std::string process;               // the instance: standbys of a task go to other instances
    std::set<TaskId> previous_active;  // the tasks the thread ran before this rebalance
    std::set<TaskId> previous_standby;
    // The instance's tasks with local state (its state directory): the sum of their checkpointed changelog
    // offsets, or `latest` for a task the instance runs now (Kafka's task offset sums, KIP-441).
    std::map<TaskId, std::int64_t> offset_sums;
    static constexpr std::int64_t latest = -2;

    bool operator==(const SubscriptionInfo&) const = default;
};

// Kafka's AssignmentInfo, the part eosim uses.
struct AssignmentInfo {
    std::set<TaskId> active;
    std::set<TaskId> standby;

    bool operator==(const AssignmentInfo&) const = default;
};

// Text, one line per field: `process NAME`, `active 0_1 0_2`, `standby ...`, `state 0_1=12 ...`.
[[nodiscard]] std::string encode(const SubscriptionInfo& info);
[[nodiscard]] std::optional<SubscriptionInfo> decode_subscription_info(const std::string& bytes);
[[nodiscard]] std::string encode(const AssignmentInfo& info);
[[nodiscard]] std::optional<AssignmentInfo> decode_assignment_info(const std::string& bytes);

// The source partitions of task `id`: partition `id.partition` of every source topic of its
// sub-topology that has it.
[[nodiscard]] std::vector<protocol::TopicPartition> task_partitions(
    const Subtopology& subtopology, TaskId id, const std::map<std::string, std::int32_t>& partitions_per_topic);

// The leader's assignment: every member gets an entry (partitions and an encoded AssignmentInfo). A
// member whose subscription carries no SubscriptionInfo is an instance of its own with nothing before.
// Deterministic: the same subscriptions give the same assignment.
// Cooperative (KIP-429): a task whose partitions another member still owns is left out of this round
// (its owner revokes it and rejoins; the next round hands it out).
[[nodiscard]] std::map<std::string, client_core::Assignment> assign_tasks(
    const std::vector<Subtopology>& subtopologies, const std::map<std::string, std::int32_t>& partitions_per_topic,
    const std::map<std::string, client_core::Subscription>& subscriptions, std::int32_t standby_replicas,
    bool cooperative = false);

}  // namespace eosim::streams_core
