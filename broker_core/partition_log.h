#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "broker_core/leader_epoch_cache.h"
#include "broker_core/producer_state.h"
#include "broker_core/transaction_index.h"
#include "protocol/types.h"
#include "sim/disk.h"
#include "sim/errc.h"

namespace eosim::broker_core {

struct LogConfig {
    std::uint64_t segment_bytes = 1U << 20U;  // roll to a new segment file past this size
    bool flush_every_write = false;           // Kafka's default: no fsync per write
    ProducerStateConfig producer_state;
    bool recover_producer_state = true;  // false: the producer-state-not-recovered bug switch
    bool snapshot_holds_appended_batch = false;  // the kafka-6683 bug switch
    std::int64_t retention_ms = -1;      // retention.ms: delete segments whose newest record is older; -1: never
    std::int64_t retention_bytes = -1;   // retention.bytes: delete the oldest segments beyond this size; -1: never
    bool compacted = false;              // cleanup.policy=compact: compact() may remove superseded records
    std::int64_t delete_retention_ms = 86'400'000;  // delete.retention.ms: a cleanable tombstone stays this long
    std::int64_t min_compaction_lag_ms = 0;  // min.compaction.lag.ms: segments with younger records stay as they are
    bool cleaner_drops_latest = false;       // the compaction-drops-latest bug switch
};

// A tombstone the cleaner removed (durably gone).
struct RemovedTombstone {
    std::int64_t offset = 0;
    std::string key;
    std::int64_t timestamp_ms = 0;  // the record's
    bool latest = false;            // it was its key's latest record (else a later record superseded it)
};

// What one compact() did.
struct CleanReport {
    std::size_t segments_rewritten = 0;
    std::size_t batches_removed = 0;
    std::vector<RemovedTombstone> tombstones_removed;
};

// What recovery found on disk.
struct RecoveryReport {
    std::uint64_t batches = 0;
    std::uint64_t truncated_bytes = 0;   // a torn or corrupt tail cut off
    std::uint64_t segments_removed = 0;  // segments after the first bad batch
    bool corrupt = false;                // a CRC or structure check failed (not just a torn tail)
};

enum class ReadStatus : std::uint8_t { ok, corrupt };

// Told that a log's start moved up from `from` to `to` (the records between are gone).
using LogStartMoved = std::function<void(protocol::Offset from, protocol::Offset to)>;

struct ReadResult {
    ReadStatus status = ReadStatus::ok;
    std::vector<protocol::RecordBatch> batches;
    std::uint64_t bytes = 0;  // their size on disk
};

// One replica's log of one partition: record batches in segment files on the node's disk, named by
// their base offset (00000000000000000000.log). An in-memory index maps each batch's base offset to
// its place; it is rebuilt by recovery, which validates every batch (CRC, structure, offsets) and cuts
// the log at the first bad one.
class PartitionLog {
public:
    PartitionLog(sim::Disk& disk, std::string directory, LogConfig config);

    // Rebuilds the index from the segment files; verify_crc false skips the CRC check (a bug switch).
    RecoveryReport recover(bool verify_crc = true);

    [[nodiscard]] protocol::Offset log_start_offset() const { return log_start_offset_; }
    [[nodiscard]] protocol::Offset log_end_offset() const { return log_end_offset_; }
    [[nodiscard]] std::uint64_t size_bytes() const;
    [[nodiscard]] LeaderEpochCache& epochs() { return epochs_; }
    [[nodiscard]] const LeaderEpochCache& epochs() const { return epochs_; }
    [[nodiscard]] const LogConfig& config() const { return config_; }
    // The base offsets of the segment files, in order.
    [[nodiscard]] std::vector<std::int64_t> segment_bases() const;
    [[nodiscard]] ProducerStateManager& producer_state() { return producer_state_; }
    [[nodiscard]] const ProducerStateManager& producer_state() const { return producer_state_; }

    // Appends a batch whose base offset is the log end offset (leaders assign it; followers copy the
    // leader's). Records the batch's leader epoch in the epoch cache and its producer in the producer
    // state before any suspension point; then, after rolling to a new segment, snapshots the producer
    // state, and with flush_every_write fsyncs (both suspension points).
    sim::Status append(const protocol::RecordBatch& batch);

    // Batches from the one containing `from` on, up to max_bytes (at least one batch with min_one), none
    // starting at or past `end` (a high watermark, say). Read back from the disk: a corrupt batch gives
    // ReadStatus::corrupt unless verify_crc is false.
    [[nodiscard]] ReadResult read(protocol::Offset from, protocol::Offset end, std::uint64_t max_bytes,
                                  bool verify_crc = true, bool min_one = true) const;

    // Removes every batch that ends at or past `end_offset` (a batch is never split), and the epochs
    // that start at or past the new end (also when no batch goes: an offset at or past the log end
    // removes an epoch begun at the log end); rebuilds the producer state for the shorter log. The log
    // start never moves down: below it, the log ends at its start. A negative offset is asserted.
    void truncate_to(protocol::Offset end_offset);

    // Makes every written byte durable (fsync of the segments written since the last flush).
    sim::Status flush();
    // Makes the segments' creations, removals and truncations durable, if any is not (a directory sync).
    sim::Status sync_directory();

    // Moves the log start offset up to `offset` (never down, never past the log end) and makes it
    // durable (a checkpoint file); whole segments below it are deleted. Records below it are gone. `moved`
    // hears of the move (from, to) at once, before anything that may suspend: a crash may stop this call
    // midway with the move already durable.
    void increment_log_start_offset(protocol::Offset offset, const LogStartMoved& moved = nullptr);
    // Deletes the oldest segments retention lets go: those whose newest record is retention_ms or more
    // older than now_ms, or while the rest is still retention_bytes or more. Never the active segment,
    // nor one that reaches `upper_bound` (the high watermark: uncommitted records stay), nor any of a
    // compacted log (Kafka applies retention only with cleanup.policy=delete). How many went; `moved` as
    // for increment_log_start_offset.
    std::size_t apply_retention(std::int64_t now_ms, protocol::Offset upper_bound, const LogStartMoved& moved = nullptr);
    // Empties the log and starts it again at `offset` (a follower behind its leader's log start); `moved`
    // as for increment_log_start_offset, when the start moved up.
    void truncate_fully_and_start_at(protocol::Offset offset, const LogStartMoved& moved = nullptr);

    // Log compaction (docs/log-lifecycle.md), for compacted logs. Cleans the segments from the first one
    // up to the first that must stay (the active one, one reaching `upper_bound`, the high watermark, or
    // one with a record younger than min_compaction_lag_ms): a batch goes when each of its records is
    // superseded by a later record of its key in the cleaned range, or is a tombstone that is its key's
    // latest and older than delete_retention_ms; unkeyed records and each producer's last batch stay.
    // Batches keep their offsets (the log gets gaps). A segment is rewritten durably: a ".cleaned" file,
    // fsynced, renamed over it (a suspension point; a truncation meanwhile abandons the rewrite).
    CleanReport compact(std::int64_t now_ms, protocol::Offset upper_bound);

    // The last stable offset: min(first unstable offset, high_watermark), never below the log start
    // (docs/transactions.md, "Partitions").
    [[nodiscard]] protocol::Offset last_stable_offset(protocol::Offset high_watermark) const;
    // Tells the producer state that the high watermark reached `high_watermark`: completed transactions
    // whose marker is below it are stable.
    void on_high_watermark(protocol::Offset high_watermark);
    // The aborted transactions overlapping [from, upto), in marker order: what a read_committed fetch of
    // that range returns (Kafka's collectAbortedTransactions). From the indexes of the segment holding
    // `from` and of every later one.
    [[nodiscard]] std::vector<AbortedTransaction> aborted_transactions(protocol::Offset from,
                                                                       protocol::Offset upto) const;
    // The aborted-transaction index of each segment, by base offset (segments without one are absent).
    [[nodiscard]] const std::map<std::int64_t, TransactionIndex>& transaction_indexes() const {
        return transaction_indexes_;
    }

    // The leader epoch of the batch holding `offset`, if the log has it.
    [[nodiscard]] std::optional<protocol::LeaderEpoch> epoch_at(protocol::Offset offset) const;

private:
    struct BatchLocation {
        std::int64_t segment_base = 0;
        std::uint64_t position = 0;
        std::uint64_t size = 0;
        std::int64_t last_offset = 0;
        std::int32_t leader_epoch = 0;
        std::int64_t max_timestamp_ms = 0;
        bool abort_marker = false;  // an ABORT marker: its segment's transaction index has an entry for it
    };

    [[nodiscard]] std::string segment_path(std::int64_t base_offset) const;
    [[nodiscard]] std::string transaction_index_path(std::int64_t base_offset) const;
    // The index of the segment `base`, created (empty, no file yet) when absent.
    TransactionIndex& transaction_index(std::int64_t base);
    // Removes the index of the segment `base`, file and all.
    void remove_transaction_index(std::int64_t base);
    // Records the aborted transaction a just appended marker completed, in the active segment's index.
    void index_completed_transaction(const CompletedTransaction& completed);
    // After recovery: loads every segment's index, removes orphans, and rebuilds the indexes that do not
    // match their segment's ABORT markers by replaying the log from its start.
    void recover_transaction_indexes();
    // The ABORT markers' offsets in the segment `base`, from the in-memory batch index.
    [[nodiscard]] std::vector<std::int64_t> abort_markers_in(std::int64_t base) const;
    // Every index entry of the segments in `rebuild`, from a replay of the log from its start.
    [[nodiscard]] std::map<std::int64_t, std::vector<AbortedTransaction>> replay_aborted_transactions(
        const std::set<std::int64_t>& rebuild) const;
    // Whether it started a new segment.
    sim::Result<bool> roll_if_needed();
    // Recovery of one segment: indexes its valid batches in sequence from `expected` (which moves past
    // them) and stops at the first torn, corrupt or misplaced one. The position after the last valid batch.
    std::uint64_t recover_batches(std::int64_t base, std::span<const std::byte> bytes, bool verify_crc,
                                  std::int64_t& expected, RecoveryReport& report);
    // After recovery: the log start checkpoint raises the log start (and empties a log that lost it all).
    void apply_log_start_checkpoint();
    // The producer state of the log as it is: the newest snapshot at or below the end, then a replay.
    // `truncating`: the state before the truncation restores the transactions begun below the log start.
    void rebuild_producer_state(bool truncating = false);
    // The transaction state of the batches still on disk between a snapshot below the log start and the
    // log start (transactional and control batches only).
    void replay_transactions_below_log_start(protocol::Offset snapshot);
    void write_log_start_checkpoint();
    [[nodiscard]] std::optional<std::int64_t> read_log_start_checkpoint() const;
    // The newest record timestamp of the batches based in [from, to) (0 for none).
    [[nodiscard]] std::int64_t newest_timestamp(std::int64_t from, std::int64_t to) const;
    // Adds to `report` the tombstones of the batches removed from the segment [from, to).
    // `latest`: the offset of each key's latest record among the batches.
    static void note_removed_tombstones(const std::vector<protocol::RecordBatch>& batches,
                                        const std::vector<bool>& kept_batch, std::int64_t from, std::int64_t to,
                                        const std::map<std::string, std::int64_t>& latest, CleanReport& report);
    // Deletes the segments holding only offsets below `offset` (never the last one).
    void delete_segments_below(std::int64_t offset);
    // How many of the first segments the cleaner may clean: wholly below `upper_bound` and older than the
    // minimum compaction lag.
    [[nodiscard]] std::size_t cleanable_segments(const std::vector<std::int64_t>& bases, std::int64_t now_ms,
                                                 protocol::Offset upper_bound) const;
    // The base offset of each producer's last batch.
    [[nodiscard]] std::set<std::int64_t> producers_last_batches() const;
    // Rewrites the segment [base, next) with only its kept batches (unchanged when none goes); false when
    // the rewrite failed or went stale, and cleaning stops.
    bool rewrite_segment(std::int64_t base, std::int64_t next, const std::vector<protocol::RecordBatch>& batches,
                         const std::vector<bool>& kept_batch, std::uint64_t removals_before, CleanReport& report);
    // Writes `bytes` beside `path`, syncs them and renames them over it, unless segments were truncated or
    // deleted meanwhile.
    bool replace_segment(const std::string& path, const std::vector<std::byte>& bytes, std::uint64_t removals_before);

    sim::Disk& disk_;
    std::string directory_;
    LogConfig config_;
    LeaderEpochCache epochs_;
    ProducerStateManager producer_state_;
    std::map<std::int64_t, BatchLocation> index_;  // by base offset
    std::map<std::int64_t, TransactionIndex> transaction_indexes_;  // by segment base offset
    std::int64_t active_segment_ = 0;
    std::uint64_t removals_ = 0;  // bumped whenever segments are truncated or deleted
    std::map<std::int64_t, bool> unflushed_segments_;
    // A segment or index was created, removed, renamed or cut since the directory was last synced
    // (Kafka's needsFlushParentDir): the next flush syncs it.
    bool directory_unsynced_ = false;
    int directory_syncs_in_flight_ = 0;
    protocol::Offset log_start_offset_{0};
    protocol::Offset log_end_offset_{0};
};

}  // namespace eosim::broker_core
