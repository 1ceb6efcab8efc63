#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/errors.h"
#include "protocol/messages.h"
#include "protocol/types.h"

// The consumer group requests of Kafka's classic protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup),
// the offset requests (OffsetCommit, OffsetFetch) and the transactional ones that reach a group
// (AddOffsetsToTxn to the transaction coordinator, TxnOffsetCommit to the group coordinator, KIP-447).
// Fields are Kafka's, less what eosim does not simulate (group instance ids, topic ids, rack ids).
// docs/groups.md.

namespace eosim::protocol {

inline constexpr std::int32_t no_generation = -1;  // Kafka's JoinGroupRequest.UNKNOWN_GENERATION_ID

struct JoinGroupProtocol {
    std::string name;      // an assignor ("range", "cooperative-sticky")
    std::string metadata;  // for the consumer protocol: the member's subscription (consumer_protocol.h)

    bool operator==(const JoinGroupProtocol&) const = default;
};

// A member joins (member_id empty: a new member, answered MEMBER_ID_REQUIRED with its id, KIP-394) or
// rejoins. The answer comes once the rebalance completes (every known member rejoined, or the rebalance
// timeout passed).
struct JoinGroupRequest {
    std::string group_id;
    std::string client_id;  // the request header's: the prefix of a new member's id
    std::int32_t session_timeout_ms = 0;
    std::int32_t rebalance_timeout_ms = 0;
    std::string member_id;
    std::string protocol_type;  // "consumer"
    std::vector<JoinGroupProtocol> protocols;
    std::string reason;
};
struct JoinGroupMember {
    std::string member_id;
    std::string metadata;  // its subscription for the chosen protocol

    bool operator==(const JoinGroupMember&) const = default;
};
struct JoinGroupResponse {
    ErrorCode error = ErrorCode::none;
    std::int32_t generation_id = no_generation;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::string leader;
    std::string member_id;
    std::vector<JoinGroupMember> members;  // to the leader only: every member, to compute the assignment
};

struct SyncGroupAssignment {
    std::string member_id;
    std::string assignment;  // consumer_protocol.h

    bool operator==(const SyncGroupAssignment&) const = default;
};
// After the join: the leader sends the assignment of every member, the others an empty list; each is
// answered its own assignment once the leader's arrived.
struct SyncGroupRequest {
    std::string group_id;
    std::int32_t generation_id = no_generation;
    std::string member_id;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::vector<SyncGroupAssignment> assignments;
};
struct SyncGroupResponse {
    ErrorCode error = ErrorCode::none;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::string assignment;
};

struct HeartbeatRequest {
    std::string group_id;
    std::int32_t generation_id = no_generation;
    std::string member_id;
};
struct HeartbeatResponse {
    ErrorCode error = ErrorCode::none;  // REBALANCE_IN_PROGRESS: rejoin
};

struct LeaveGroupRequest {
    std::string group_id;
    std::string member_id;
    std::string reason;
};
struct LeaveGroupResponse {
    ErrorCode error = ErrorCode::none;
};

struct OffsetCommitPartition {
    TopicPartition partition;
    std::int64_t offset = 0;  // the next record to consume
    std::int32_t leader_epoch = -1;
    std::string metadata;

    bool operator==(const OffsetCommitPartition&) const = default;
};

// member_id empty and generation -1: a commit from outside the group's management (an admin tool).
struct OffsetCommitRequest {
    std::string group_id;
    std::int32_t generation_id = no_generation;
    std::string member_id;
    std::vector<OffsetCommitPartition> partitions;
};
struct OffsetCommitResponse {
    std::vector<PartitionError> partitions;
};

// The group's committed offsets of `partitions` (all of its partitions when empty). With require_stable
// (KIP-447) a partition that an open transaction holds pending offsets for is answered
// UNSTABLE_OFFSET_COMMIT, and the consumer asks again.
struct OffsetFetchRequest {
    std::string group_id;
    std::vector<TopicPartition> partitions;
    bool require_stable = false;
};
struct OffsetFetchPartition {
    TopicPartition partition;
    std::int64_t offset = -1;  // -1: nothing committed
    std::int32_t leader_epoch = -1;
    std::string metadata;
    ErrorCode error = ErrorCode::none;

    bool operator==(const OffsetFetchPartition&) const = default;
};
struct OffsetFetchResponse {
    ErrorCode error = ErrorCode::none;  // of the whole group (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, ...)
    std::vector<OffsetFetchPartition> partitions;
};

// To the transaction coordinator: the group's offsets partition joins the producer's transaction, so
// that its markers reach it.
struct AddOffsetsToTxnRequest {
    std::string transactional_id;
    ProducerId producer_id = no_producer_id;
    ProducerEpoch producer_epoch = no_producer_epoch;
    std::string group_id;
};
struct AddOffsetsToTxnResponse {
    ErrorCode error = ErrorCode::none;
};

// To the group coordinator: offsets committed in the producer's transaction, pending until its marker.
// KIP-447: the consumer's group metadata (member, generation) fences a member that lost the partitions.
struct TxnOffsetCommitRequest {
    std::string transactional_id;
    std::string group_id;
    ProducerId producer_id = no_producer_id;
    ProducerEpoch producer_epoch = no_producer_epoch;
    std::int32_t generation_id = no_generation;
    std::string member_id;
    std::vector<OffsetCommitPartition> partitions;
};
struct TxnOffsetCommitResponse {
    std::vector<PartitionError> partitions;
};

}  // namespace eosim::protocol
