#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol/types.h"

// The consumer protocol a group's members speak inside JoinGroup and SyncGroup (Kafka's
// ConsumerProtocol: the subscription a member sends and the assignment the leader hands out, opaque to
// the coordinator), and the partition assignors the leader runs (Kafka's RangeAssignor and
// CooperativeStickyAssignor). docs/groups.md.

namespace eosim::client_core {

struct Subscription {
    std::vector<std::string> topics;                     // sorted, no duplicates
    std::vector<protocol::TopicPartition> owned;         // what the member holds now (cooperative protocols)
    std::int32_t generation_id = -1;                     // of `owned`
    std::string user_data;                               // the assignor's own (Kafka's userData), opaque here

    bool operator==(const Subscription&) const = default;
};

struct Assignment {
    std::vector<protocol::TopicPartition> partitions;  // sorted
    std::string user_data;                             // the assignor's own (Kafka's userData), opaque here

    bool operator==(const Assignment&) const = default;
};

// Big-endian, as Kafka's: i16 version 0; i32 count, then per topic an i16 length and the name; i32 count,
// then per owned partition an i16 topic length, the name and an i32 partition; i32 generation; then, only
// when there is user data, an i32 length and its bytes.
[[nodiscard]] std::string encode_subscription(const Subscription& subscription);
// Nothing when the bytes are not a subscription this code wrote (truncated, trailing bytes, a negative
// count, an unsorted topic list).
[[nodiscard]] std::optional<Subscription> decode_subscription(const std::string& bytes);
// i16 version 0; i32 count, then per partition an i16 topic length, the name and an i32 partition; then,
// only when there is user data, an i32 length and its bytes.
[[nodiscard]] std::string encode_assignment(const Assignment& assignment);
[[nodiscard]] std::optional<Assignment> decode_assignment(const std::string& bytes);

// Kafka's RangeAssignor (without racks): for each topic, its partitions are cut into ranges handed to
// the members subscribed to it in member id order, the first (partitions % members) getting one more.
// Members with the same subscriptions get the same partition numbers of every topic (co-partitioning).
// `partitions_per_topic` holds the partition count of every topic that exists; a subscribed topic that
// does not is skipped. Every member gets an entry, possibly empty.
[[nodiscard]] std::map<std::string, Assignment> range_assign(
    const std::map<std::string, std::int32_t>& partitions_per_topic,
    const std::map<std::string, Subscription>& subscriptions);

// Kafka's CooperativeStickyAssignor (KIP-429), without racks: balanced (partition counts of members that
// can take the same partitions differ by at most one), sticky (a member keeps what it owned where
// balance allows; a partition claimed by several members goes to the claimant of the highest
// generation, or to none if they tie), and cooperative (a partition that moves from its previous owner
// to another member is left out of this assignment: the owner revokes it first, rejoins, and the
// next rebalance hands it out).
[[nodiscard]] std::map<std::string, Assignment> cooperative_sticky_assign(
    const std::map<std::string, std::int32_t>& partitions_per_topic,
    const std::map<std::string, Subscription>& subscriptions);

}  // namespace eosim::client_core
