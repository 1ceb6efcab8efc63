#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "protocol/types.h"

// The group coordinator's committed offsets of the groups of one `__consumer_offsets` partition (Kafka's
// OffsetMetadataManager, as replayed from that log): plain commits, and transactional ones (KIP-98,
// KIP-447) that stay pending per producer until the transaction's marker reaches the offsets partition:
// a COMMIT applies them, an ABORT drops them. Each offset remembers the log offset of the record that
// carried it, so that a commit decided later but logged earlier never overwrites a newer one.
// docs/groups.md describes the rules.

namespace eosim::broker_core {

struct OffsetAndMetadata {
    std::int64_t offset = 0;          // the next record to consume
    std::int32_t leader_epoch = -1;   // of the record before it, if known
    std::string metadata;
    std::int64_t commit_timestamp_ms = 0;
    std::int64_t record_offset = -1;  // where its record is in __consumer_offsets

    bool operator==(const OffsetAndMetadata&) const = default;
};

class GroupOffsets {
public:
    // A plain OffsetCommit logged at `value.record_offset`: the newest record wins.
    void commit(const std::string& group, const protocol::TopicPartition& partition, OffsetAndMetadata value);
    // A TxnOffsetCommit of `producer_id`'s open transaction, logged at `value.record_offset`: pending.
    void commit_pending(const std::string& group, protocol::ProducerId producer_id,
                        const protocol::TopicPartition& partition, OffsetAndMetadata value);
    // The producer's transaction marker reached this partition: on commit each pending offset becomes the
    // committed one unless a record logged after it already is; either way nothing stays pending.
    void end_transaction(protocol::ProducerId producer_id, bool committed);
    // An offset tombstone: the group's committed offset for the partition goes.
    void remove(const std::string& group, const protocol::TopicPartition& partition);
    // Every pending offset goes (the pending-offsets-lost-on-failover bug switch).
    void drop_pending() { pending_.clear(); }
    // Whether any open transaction holds pending offsets.
    [[nodiscard]] bool any_pending() const { return !pending_.empty(); }
    // The group was deleted (or expired): its offsets and its pending ones go.
    void remove_group(const std::string& group);

    [[nodiscard]] std::optional<OffsetAndMetadata> committed(const std::string& group,
                                                             const protocol::TopicPartition& partition) const;
    [[nodiscard]] const std::map<protocol::TopicPartition, OffsetAndMetadata>* committed(const std::string& group) const;
    // Whether an open transaction holds a pending offset of the group for the partition (OffsetFetch with
    // require_stable answers UNSTABLE_OFFSET_COMMIT then).
    [[nodiscard]] bool has_pending(const std::string& group, const protocol::TopicPartition& partition) const;
    [[nodiscard]] bool has_pending(const std::string& group) const;
    // The producers with a transaction that holds pending offsets of the group.
    [[nodiscard]] std::set<protocol::ProducerId> open_transactions(const std::string& group) const;

private:
    using Offsets = std::map<protocol::TopicPartition, OffsetAndMetadata>;
    std::map<std::string, Offsets> committed_;                             // group -> partition -> offset
    std::map<protocol::ProducerId, std::map<std::string, Offsets>> pending_;  // producer -> group -> ...
};

}  // namespace eosim::broker_core
