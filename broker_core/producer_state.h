#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/control_record.h"
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

// What a replica knows of one producer id on one partition: its epoch, its last few batches and its
// transaction.
struct ProducerEntry {
    protocol::ProducerEpoch epoch{0};
    std::deque<ProducerBatchMetadata> batches;  // oldest first, at most ProducerStateConfig::batches_kept
    std::int64_t last_timestamp_ms = 0;         // of its newest batch: idle producers expire by it
    // The first offset of its ongoing transaction (its first transactional data batch since its last marker).
    std::optional<protocol::Offset> current_txn_first_offset;
    std::int32_t coordinator_epoch = -1;  // of its last marker; -1: none seen

    [[nodiscard]] std::optional<protocol::Sequence> last_sequence() const {
        return batches.empty() ? std::nullopt : std::optional(batches.back().last_sequence);
    }
    bool operator==(const ProducerEntry&) const = default;
};

struct ProducerStateConfig {
    std::size_t batches_kept = 5;  // Kafka keeps 5, so 5 batches may be in flight; 1 re-creates KAFKA-5494
    std::int64_t expiration_ms = 24LL * 3600 * 1000;  // producer.id.expiration.ms (Kafka: 1 day)
    bool dedup = true;  // false: the no-dedup bug switch, a duplicate batch is appended again
    // The kafka-9144 bug switch: false, a marker does not refresh its producer's timestamp, so the producer
    // expires counting from its last data batch; and a producer with no state is taken at any sequence.
    bool marker_timestamps = true;
    bool unknown_producer_any_sequence = false;
};

// The broker's verdict on a batch of an idempotent producer, before the leader appends it.
enum class SequenceVerdict : std::uint8_t {
    append,                  // in sequence: append it
    duplicate,               // one of the producer's last batches again: answer with its offsets
    out_of_order_sequence,   // OUT_OF_ORDER_SEQUENCE_NUMBER: a gap, or an old batch no longer known
    invalid_producer_epoch,  // INVALID_PRODUCER_EPOCH: an older epoch than the partition has seen
    unknown_producer_id,     // UNKNOWN_PRODUCER_ID: no state for the producer and not its first batch
};

// A transaction ended by a marker: its data is [first_offset, last_offset), the marker at last_offset.
struct CompletedTransaction {
    protocol::ProducerId producer_id = protocol::no_producer_id;
    protocol::Offset first_offset{0};  // the marker's own offset for a transaction without data here
    protocol::Offset last_offset{0};   // the marker's offset
    bool aborted = false;

    bool operator==(const CompletedTransaction&) const = default;
};

// The leader's transactional check of a batch (besides the sequence check of data batches).
enum class TransactionVerdict : std::uint8_t {
    append,
    invalid_txn_state,       // INVALID_TXN_STATE: a non-transactional batch while the producer's transaction is ongoing
    invalid_producer_epoch,  // INVALID_PRODUCER_EPOCH (PRODUCER_FENCED): a marker of an older producer epoch
    coordinator_fenced,      // TRANSACTION_COORDINATOR_FENCED: a marker of an older coordinator epoch
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
    // The leader's transactional check of a batch of a producer (producer_id >= 0) before appending it:
    // a non-transactional data batch during the producer's transaction, and a marker (Kafka's
    // ProducerAppendInfo.appendEndTxnMarker: an older producer epoch, an older coordinator epoch).
    // `bumped_marker`: a coordinator's marker of transaction version 2, whose epoch is above its own
    // transaction's batches; one whose epoch is not above an ongoing transaction's is a late or repeated
    // marker of an earlier transaction, refused (KAFKA-19446).
    [[nodiscard]] TransactionVerdict check_transaction(const protocol::RecordBatch& batch,
                                                       bool bumped_marker = false) const;
    // Records an appended batch (with its offsets). Batches of non-idempotent producers only move the
    // end offset. A marker (a control batch with a COMMIT or ABORT record) ends its producer's
    // transaction, which is returned; markers carry no sequence and stay out of the dedup window.
    std::optional<CompletedTransaction> update(const protocol::RecordBatch& batch);
    // Records only the transaction state of a transactional or control batch (the ongoing transaction, a
    // marker's completion and coordinator epoch), for batches a reload replays below the log start.
    void update_transaction_state(const protocol::RecordBatch& batch);
    // Removes producers whose newest batch is expiration_ms or more older than now_ms, except those with
    // an ongoing transaction; how many.
    std::size_t expire(std::int64_t now_ms);

    // The lowest first offset of an ongoing transaction or of a completed one whose marker is not below
    // `high_watermark` (forgotten once on_high_watermark passed it).
    [[nodiscard]] std::optional<protocol::Offset> first_unstable_offset(protocol::Offset high_watermark) const;
    // The lowest first offset of an ongoing transaction (Kafka's firstUndecidedOffset).
    [[nodiscard]] std::optional<protocol::Offset> first_undecided_offset() const;
    // min(first unstable offset, high watermark).
    [[nodiscard]] protocol::Offset last_stable_offset(protocol::Offset high_watermark) const;
    // Forgets the completed transactions whose marker is below `high_watermark`.
    void on_high_watermark(protocol::Offset high_watermark);
    // The LSO an aborted-index entry of `completed` records (Kafka's lastStableOffset(CompletedTxn)): the
    // first offset of the oldest transaction of another producer still ongoing, else the marker's next offset.
    [[nodiscard]] protocol::Offset last_stable_offset_of(const CompletedTransaction& completed) const;
    // The transaction state a reload for a log truncated to `end` cannot see when it replays from `from`:
    // transactions begun below `from` that are ongoing at `end` (their marker, if any, is at or past it),
    // and the completed ones among them whose marker stays.
    [[nodiscard]] std::vector<CompletedTransaction> transactions_begun_below(protocol::Offset from,
                                                                             protocol::Offset end) const;
    // Puts back what transactions_begun_below(from, ...) gave, after a reload: an ongoing one (last_offset at
    // or past the state's end) as its producer's ongoing transaction, a completed one in place of the
    // completed transaction the replay found for its marker; and ends the transactions begun below `from`
    // that the reload found ongoing but were not (an old snapshot whose later batches are gone).
    void restore_transactions(const std::vector<CompletedTransaction>& transactions, protocol::Offset from);
    // Forgets the ongoing transactions begun below `offset`.
    void forget_transactions_below(protocol::Offset offset);
    // Whether any producer has an ongoing transaction or has seen a marker, or a completed transaction is
    // unreplicated.
    [[nodiscard]] bool has_transaction_state() const;
    // The state now describes the log up to `end` (at or past its end): the batches between held nothing
    // for it.
    void move_end_to(protocol::Offset end);
    // Completed transactions not yet known to be below the high watermark, by first offset.
    [[nodiscard]] const std::map<protocol::Offset, CompletedTransaction>& unreplicated_transactions() const {
        return unreplicated_;
    }

    [[nodiscard]] const std::map<protocol::ProducerId, ProducerEntry>& producers() const { return producers_; }
    // The state describes the log below this offset.
    [[nodiscard]] protocol::Offset end_offset() const { return end_offset_; }
    [[nodiscard]] const ProducerStateConfig& config() const { return config_; }

    // Forgets everything; the state now describes an empty log ending at `end`.
    void reset(protocol::Offset end);
    // Keeps every producer but forgets their transactions; the state now describes a log ending at `end`
    // (emptied and started again).
    void advance_to(protocol::Offset end);
    // Writes a snapshot of the state at end_offset(), durably (temporary file, fsync, rename), and keeps
    // only the two newest snapshots.
    void take_snapshot();
    // The kafka-6683 bug switch: as Kafka did before KAFKA-6683, a roll snapshots the state at `batch`'s
    // base offset after `batch`'s sequences were already put in its producer's cached batches. These are
    // that snapshot's bytes, for write_snapshot(batch.base_offset, ...); the state itself is not changed.
    [[nodiscard]] std::vector<std::byte> encode_snapshot_holding(const protocol::RecordBatch& batch);
    // Writes `body` (encoded as a snapshot of the log below `end`) with its CRC, as take_snapshot does.
    void write_snapshot(protocol::Offset end, std::vector<std::byte> body);
    // Removes snapshots above `end`, then loads the newest readable one (a damaged one is removed).
    // Returns its offset, or nothing (the state is then empty, at offset 0).
    std::optional<protocol::Offset> load_snapshot(protocol::Offset end);
    // Whether a snapshot file's bytes are whole: long enough, and their trailing CRC-32C matches the rest.
    [[nodiscard]] static bool snapshot_intact(std::span<const std::byte> bytes);
    [[nodiscard]] std::vector<protocol::Offset> snapshot_offsets() const;
    void remove_snapshots();

private:
    [[nodiscard]] std::string snapshot_path(protocol::Offset offset) const;
    // Applies a marker to `entry`; the transaction it ends.
    CompletedTransaction complete_transaction(const protocol::RecordBatch& batch,
                                              const protocol::TransactionMarker& marker, ProducerEntry& entry);
    // The snapshot's bytes (without its CRC) and their parse.
    [[nodiscard]] std::vector<std::byte> encode_snapshot() const;
    // Puts `batch`'s sequences in its producer's cached batches (update()'s part for a data batch).
    void cache_batch(const protocol::RecordBatch& batch, ProducerEntry& entry);
    [[nodiscard]] bool decode_snapshot(std::span<const std::byte> body, protocol::Offset offset);

    sim::Disk& disk_;
    std::string directory_;
    ProducerStateConfig config_;
    std::uint64_t rebuilds_ = 0;  // a snapshot written across a rebuild describes a log that is gone
    std::map<protocol::ProducerId, ProducerEntry> producers_;
    std::map<protocol::Offset, CompletedTransaction> unreplicated_;  // by first offset
    protocol::Offset end_offset_{0};
};

std::string_view to_string(SequenceVerdict verdict);
std::string_view to_string(TransactionVerdict verdict);

}  // namespace eosim::broker_core
