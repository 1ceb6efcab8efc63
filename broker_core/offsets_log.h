#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>

#include "broker_core/group_metadata.h"
#include "broker_core/group_offsets.h"
#include "protocol/types.h"

// The group coordinator's records in its partitions of `__consumer_offsets` (Kafka's GroupCoordinator
// record formats, in eosim's fixed-width encoding): an offset commit record per group and partition (key:
// group, topic, partition; value: the offset), and a group metadata record per group (key: group; value:
// generation, protocol, leader, members with their subscriptions and assignments). A tombstone (no value)
// removes either. A TxnOffsetCommit's records are appended in a transactional batch of its producer, so
// a loader keeps them pending until that producer's marker. A coordinator that becomes the leader of such
// a partition loads its groups and offsets from the batches (Kafka's GroupMetadataManager.loadGroupsAndOffsets).
// docs/groups.md.

namespace eosim::broker_core {

[[nodiscard]] protocol::Record offset_commit_record(const std::string& group, const protocol::TopicPartition& partition,
                                                    const OffsetAndMetadata& value, std::int64_t timestamp_ms);
[[nodiscard]] protocol::Record offset_commit_tombstone(const std::string& group,
                                                       const protocol::TopicPartition& partition,
                                                       std::int64_t timestamp_ms);
// The group's metadata as of the end of a rebalance (or Empty): generation, protocol, leader, members.
[[nodiscard]] protocol::Record group_metadata_record(const GroupMetadata& group, std::int64_t timestamp_ms);
[[nodiscard]] protocol::Record group_metadata_tombstone(const std::string& group, std::int64_t timestamp_ms);

struct LoadedGroups {
    std::map<std::string, GroupMetadata> groups;  // by group id: Empty without members, Stable with them
    GroupOffsets offsets;
    std::size_t records = 0;  // data records read
    std::size_t refused = 0;  // records without a key, or whose key or value does not decode (skipped)
};

// What the batches of one offsets partition describe, read in log order: the last record of a key wins
// (a tombstone removes it); records of a transactional batch are pending under its producer until a
// COMMIT marker applies them or an ABORT marker drops them; each offset keeps the log offset of its
// record. A record that cannot be read is skipped and counted.
[[nodiscard]] LoadedGroups load_groups(std::span<const protocol::RecordBatch> batches);

}  // namespace eosim::broker_core
