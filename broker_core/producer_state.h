#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol/types.h"
#include "sim/disk.h"

namespace eosim::broker_core {

// The metadata of one appended batch of an idempotent producer: enough to answer its retry with the
// original offsets.
struct ProducerBatchMetadata {
    protocol::Sequence first_sequence{0};
    protocol::Sequence last_sequence{0};
    protocol::Offset first_offset{0};
    protocol::Offset last_offset{0};
    std::int64_t timestamp_ms = 0;

    bool operator==(const ProducerBatchMetadata&) const = default;
};

// What a replica knows of one producer id on one partition: its epoch and its last few batches.
struct ProducerEntry {
    protocol::ProducerEpoch epoch{0};
    std::deque<ProducerBatchMetadata> batches;  // oldest first, at most ProducerStateConfig::batches_kept
    std::int64_t last_timestamp_ms = 0;         // of its newest batch: idle producers expire by it

    [[nodiscard]] std::optional<protocol::Sequence> last_sequence() const {
        return batches.empty() ? std::nullopt : std::optional(batches.back().last_sequence);
    }
    bool operator==(const ProducerEntry&) const = default;
};

struct ProducerStateConfig {
    std::size_t batches_kept = 5;  // Kafka keeps 5, so 5 batches may be in flight; 1 re-creates KAFKA-5494
    std::int64_t expiration_ms = 24LL * 3600 * 1000;  // producer.id.expiration.ms (Kafka: 1 day)
    bool dedup = true;  // false: the no-dedup bug switch, a duplicate batch is appended again
};

// The broker's verdict on a batch of an idempotent producer, before the leader appends it.
enum class SequenceVerdict : std::uint8_t {
    append,                  // in sequence: append it
    duplicate,               // one of the producer's last batches again: answer with its offsets
    out_of_order_sequence,   // OUT_OF_ORDER_SEQUENCE_NUMBER: a gap, or an old batch no longer known
    invalid_producer_epoch,  // INVALID_PRODUCER_EPOCH: an older epoch than the partition has seen
    unknown_producer_id,     // UNKNOWN_PRODUCER_ID: no state for the producer and not its first batch
};

struct SequenceCheck {
    SequenceVerdict verdict = SequenceVerdict::append;
    std::optional<ProducerBatchMetadata> original;  // for duplicate
};

// Kafka's ProducerStateManager for one replica of one partition: per producer id, the epoch and the
// last batches, built from the log (leaders and followers alike), checked by the leader before it
// appends, kept across restarts as snapshot files ("<offset>.snapshot": the state of the log below
// that offset) plus a replay of the log after the snapshot. The rules are in docs/idempotence.md.
class ProducerStateManager {
public:
    ProducerStateManager(sim::Disk& disk, std::string directory, ProducerStateConfig config);

    // The leader's check of a batch of an idempotent producer (producer_id >= 0) before appending it.
    [[nodiscard]] SequenceCheck check(const protocol::RecordBatch& batch) const;
    // Records an appended batch (with its offsets). Batches of non-idempotent producers only move the
    // end offset.
    void update(const protocol::RecordBatch& batch);
    // Removes producers whose newest batch is expiration_ms or more older than now_ms; how many.
    std::size_t expire(std::int64_t now_ms);

    [[nodiscard]] const std::map<protocol::ProducerId, ProducerEntry>& producers() const { return producers_; }
    // The state describes the log below this offset.
    [[nodiscard]] protocol::Offset end_offset() const { return end_offset_; }
    [[nodiscard]] const ProducerStateConfig& config() const { return config_; }

    // Forgets everything; the state now describes an empty log ending at `end`.
    void reset(protocol::Offset end);
    // Keeps every producer; the state now describes a log ending at `end` (emptied and started again).
    void advance_to(protocol::Offset end);
    // Writes a snapshot of the state at end_offset(), durably (temporary file, fsync, rename), and keeps
    // only the two newest snapshots.
    void take_snapshot();
    // Removes snapshots above `end`, then loads the newest readable one (a damaged one is removed).
    // Returns its offset, or nothing (the state is then empty, at offset 0).
    std::optional<protocol::Offset> load_snapshot(protocol::Offset end);
    [[nodiscard]] std::vector<protocol::Offset> snapshot_offsets() const;
    void remove_snapshots();

private:
    [[nodiscard]] std::string snapshot_path(protocol::Offset offset) const;

    sim::Disk& disk_;
    std::string directory_;
    ProducerStateConfig config_;
    std::uint64_t rebuilds_ = 0;  // a snapshot written across a rebuild describes a log that is gone
    std::map<protocol::ProducerId, ProducerEntry> producers_;
    protocol::Offset end_offset_{0};
};

std::string_view to_string(SequenceVerdict verdict);

}  // namespace eosim::broker_core
