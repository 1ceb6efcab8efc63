#include "broker_core/partition_log.h"

#include <fmt/format.h>

#include <set>

#include "broker_core/batch_codec.h"
#include "broker_core/checkpoint_file.h"
#include "sim/simulation.h"
#include "protocol/control_record.h"

namespace eosim::broker_core {

namespace {

constexpr std::string_view segment_suffix = ".log";
constexpr std::string_view log_start_checkpoint = log_start_checkpoint_name;

bool is_abort_marker(const protocol::RecordBatch& batch) {
    const std::optional<protocol::TransactionMarker> marker = protocol::marker_of(batch);
    return marker && marker->type == protocol::ControlType::abort;
}

}  // namespace

PartitionLog::PartitionLog(sim::Disk& disk, std::string directory, LogConfig config)
    : disk_(disk),
      directory_(std::move(directory)),
      config_(config),
      epochs_(disk, directory_ + "/" + std::string(leader_epoch_checkpoint_name)),
      producer_state_(disk, directory_, config.producer_state) {}

std::string PartitionLog::segment_path(std::int64_t base_offset) const {
    return fmt::format("{}/{:020d}{}", directory_, base_offset, segment_suffix);
}

std::string PartitionLog::transaction_index_path(std::int64_t base_offset) const {
    return fmt::format("{}/{:020d}{}", directory_, base_offset, transaction_index_suffix);
}

TransactionIndex& PartitionLog::transaction_index(std::int64_t base) {
    auto found = transaction_indexes_.find(base);
    if (found == transaction_indexes_.end()) {
        found = transaction_indexes_
                    .emplace(base, TransactionIndex(disk_, transaction_index_path(base), protocol::Offset(base)))
                    .first;
    }
    return found->second;
}

void PartitionLog::remove_transaction_index(std::int64_t base) {
    transaction_indexes_.erase(base);
    if (disk_.remove(transaction_index_path(base))) {
        directory_unsynced_ = true;
    }
}

void PartitionLog::index_completed_transaction(const CompletedTransaction& completed) {
    const protocol::Offset last_stable = producer_state_.last_stable_offset_of(completed);
    directory_unsynced_ = directory_unsynced_ || !disk_.exists(transaction_index_path(active_segment_));
    transaction_index(active_segment_)
        .append(AbortedTransaction{completed.producer_id, completed.first_offset, completed.last_offset, last_stable});
}

std::vector<std::int64_t> PartitionLog::abort_markers_in(std::int64_t base) const {
    std::vector<std::int64_t> markers;
    for (auto it = index_.lower_bound(base); it != index_.end() && it->second.segment_base == base; ++it) {
        if (it->second.abort_marker) {
            markers.push_back(it->first);
        }
    }
    return markers;
}

void PartitionLog::recover_transaction_indexes() {
    transaction_indexes_.clear();
    const std::vector<std::int64_t> bases = segment_bases();
    const std::string prefix = directory_ + "/";
    for (const std::string& path : disk_.list(prefix)) {
        const std::string name = path.substr(prefix.size());
        const std::optional<std::int64_t> index_base = file_base_offset(name, transaction_index_suffix);
        if (name.ends_with(std::string(transaction_index_suffix) + ".tmp") ||
            (index_base && !std::binary_search(bases.begin(), bases.end(), *index_base))) {
            (void)disk_.remove(path);  // a rewrite cut short, or the index of a segment that is gone
        }
    }
    std::set<std::int64_t> rebuild;
    for (const std::int64_t base : bases) {
        TransactionIndex index(disk_, transaction_index_path(base), protocol::Offset(base));
        const std::vector<std::int64_t> expected = abort_markers_in(base);
        if (expected.empty() && !disk_.exists(index.path())) {
            continue;
        }
        const bool loaded = index.load();
        std::vector<std::int64_t> found;
        for (const AbortedTransaction& aborted : index.entries()) {
            found.push_back(aborted.last_offset.value());
        }
        if (!loaded || found != expected) {
            rebuild.insert(base);  // missing, damaged, behind or ahead of its segment
        }
        transaction_indexes_.emplace(base, std::move(index));
    }
    if (rebuild.empty()) {
        return;
    }
    std::map<std::int64_t, std::vector<AbortedTransaction>> entries = replay_aborted_transactions(rebuild);
    for (const std::int64_t base : rebuild) {
        if (entries[base].empty()) {
            remove_transaction_index(base);
        } else {
            transaction_index(base).rewrite(std::move(entries[base]));
        }
    }
}

std::map<std::int64_t, std::vector<AbortedTransaction>> PartitionLog::replay_aborted_transactions(
    const std::set<std::int64_t>& rebuild) const {
    // A producer state of its own, never snapshotted: transactions begun below the log start are unknown
    // to it (docs/kafka-differences.md).
    ProducerStateManager replayed(disk_, directory_ + "/transaction-index-replay", config_.producer_state);
    replayed.reset(log_start_offset_);
    std::map<std::int64_t, std::vector<AbortedTransaction>> entries;
    for (const protocol::RecordBatch& batch : read(log_start_offset_, log_end_offset_, UINT64_MAX).batches) {
        const std::optional<CompletedTransaction> completed = replayed.update(batch);
        const std::int64_t segment = index_.at(batch.base_offset.value()).segment_base;
        if (completed && completed->aborted && rebuild.contains(segment)) {
            entries[segment].push_back(AbortedTransaction{completed->producer_id, completed->first_offset,
                                                          completed->last_offset,
                                                          replayed.last_stable_offset_of(*completed)});
        }
    }
    return entries;
}

std::vector<std::int64_t> PartitionLog::segment_bases() const {
    std::vector<std::int64_t> bases;
    const std::string prefix = directory_ + "/";
    for (const std::string& path : disk_.list(prefix)) {
        if (const auto base = file_base_offset(std::string_view(path).substr(prefix.size()), segment_suffix)) {
            bases.push_back(*base);
        }
    }
    return bases;  // lexicographic order of zero-padded names is numeric order
}

RecoveryReport PartitionLog::recover(bool verify_crc) {
    RecoveryReport report;
    index_.clear();
    unflushed_segments_.clear();
    transaction_indexes_.clear();
    directory_unsynced_ = true;  // what recovery removes or cuts is durable after the next flush
    epochs_.load();
    const std::vector<std::int64_t> bases = segment_bases();
    std::int64_t expected = bases.empty() ? 0 : bases.front();
    log_start_offset_ = protocol::Offset(expected);
    active_segment_ = expected;
    bool cut = false;
    for (const std::int64_t base : bases) {
        const std::string path = segment_path(base);
        // A compacted log has gaps: segments and batches may start after the previous end.
        if (cut || (config_.compacted ? base < expected : base != expected)) {
            report.segments_removed += 1;
            report.truncated_bytes += disk_.size(path).value();
            (void)disk_.remove(path);
            cut = true;
            continue;
        }
        const std::vector<std::byte> bytes = disk_.read_all(path).value();
        const std::uint64_t position = recover_batches(base, bytes, verify_crc, expected, report);
        if (position < bytes.size()) {
            sim::probe("recovery-cuts-torn-or-corrupt-tail");
            cut = true;  // a torn or corrupt batch: everything after it goes
            report.truncated_bytes += bytes.size() - position;
            (void)disk_.truncate(path, position);
        }
        if (position == 0 && base != bases.front() && (base != bases.back() || base != expected)) {
            // A segment with nothing valid in it (emptied by compaction, or lost in a crash) goes: its
            // name would claim offsets that a compacted log, which accepts gaps, does not have.
            (void)disk_.remove(path);
            report.segments_removed += 1;
            continue;
        }
        active_segment_ = base;
    }
    log_end_offset_ = protocol::Offset(expected);
    epochs_.truncate_from_end(log_end_offset_);
    apply_log_start_checkpoint();
    if (config_.recover_producer_state) {
        rebuild_producer_state();
    } else {
        producer_state_.reset(log_end_offset_);  // the bug switch: every producer is forgotten
    }
    recover_transaction_indexes();
    return report;
}

std::uint64_t PartitionLog::recover_batches(std::int64_t base, std::span<const std::byte> bytes, bool verify_crc,
                                            std::int64_t& expected, RecoveryReport& report) {
    std::uint64_t position = 0;
    while (position < bytes.size()) {
        const DecodedBatch decoded = decode_batch(bytes.subspan(position), verify_crc);
        const std::int64_t batch_base = decoded.batch.base_offset.value();
        if (decoded.status != DecodeStatus::ok ||
            (config_.compacted ? batch_base < std::max(expected, base) : batch_base != expected)) {
            report.corrupt =
                report.corrupt || decoded.status == DecodeStatus::corrupt || (decoded.status == DecodeStatus::ok);
            break;
        }
        index_[batch_base] = BatchLocation{base,
                                           position,
                                           decoded.size_bytes,
                                           decoded.batch.last_offset().value(),
                                           decoded.batch.leader_epoch.value(),
                                           decoded.batch.max_timestamp_ms(),
                                           is_abort_marker(decoded.batch)};
        // The checkpoint may lag the log (a crash between an append and the checkpoint's rename):
        // every recovered batch's epoch is assigned again, as Kafka's recovery does.
        epochs_.assign(decoded.batch.leader_epoch, decoded.batch.base_offset);
        expected = decoded.batch.next_offset().value();
        position += decoded.size_bytes;
        ++report.batches;
    }
    return position;
}

void PartitionLog::apply_log_start_checkpoint() {
    if (const std::optional<std::int64_t> checkpointed = read_log_start_checkpoint()) {
        if (*checkpointed > log_end_offset_.value()) {
            // The log lost what the checkpoint says starts it (or was emptied and started again there).
            for (const std::int64_t base : segment_bases()) {
                (void)disk_.remove(segment_path(base));
            }
            index_.clear();
            log_end_offset_ = protocol::Offset(*checkpointed);
            active_segment_ = *checkpointed;
            epochs_.clear();
        }
        log_start_offset_ = protocol::Offset(std::max(log_start_offset_.value(), *checkpointed));
        epochs_.truncate_from_start(log_start_offset_);
    }
}

void PartitionLog::rebuild_producer_state(bool truncating) {
    const std::optional<protocol::Offset> snapshot = producer_state_.load_snapshot(log_end_offset_);
    protocol::Offset from = log_start_offset_;
    if (snapshot) {
        // Batches between a snapshot below the log start and the log start went with retention; the
        // producers the snapshot knows are kept (KIP-360) until they expire.
        from = std::max(*snapshot, log_start_offset_);
        replay_transactions_below_log_start(*snapshot);
        if (truncating && *snapshot < log_start_offset_) {
            // The batches between may be gone: what is ongoing below the log start comes from the state
            // before the truncation instead (truncate_to restores it).
            producer_state_.forget_transactions_below(log_start_offset_);
        }
    } else {
        producer_state_.reset(log_start_offset_);
    }
    if (from < log_end_offset_ && !truncating) {
        sim::probe(snapshot ? "producer-state-replayed-after-snapshot" : "producer-state-replayed-without-snapshot");
    }
    if (from < log_end_offset_) {
        const ReadResult replay = read(from, log_end_offset_, UINT64_MAX);
        for (const protocol::RecordBatch& batch : replay.batches) {
            if (batch.base_offset >= from) {
                producer_state_.update(batch);
            }
        }
    }
    if (producer_state_.has_transaction_state()) {
        // A replay that had nothing to read leaves the state's end at the snapshot or the log start; a
        // snapshot of transactions must be named by the end of the log it describes.
        producer_state_.move_end_to(log_end_offset_);
    }
}

void PartitionLog::replay_transactions_below_log_start(protocol::Offset snapshot) {
    if (snapshot >= log_start_offset_) {
        return;
    }
    // Those of them still on disk (the log start may be inside a segment) hold transactions that may
    // still be ongoing; only their transaction state is replayed, so idempotent producers stay as they were.
    const ReadResult below = read(snapshot, log_start_offset_, UINT64_MAX);
    for (const protocol::RecordBatch& batch : below.batches) {
        if (batch.base_offset >= snapshot && batch.producer_id.value() >= 0 && (batch.transactional || batch.control)) {
            producer_state_.update_transaction_state(batch);
        }
    }
}

std::uint64_t PartitionLog::size_bytes() const {
    std::uint64_t total = 0;
    for (const std::int64_t base : segment_bases()) {
        total += disk_.size(segment_path(base)).value();
    }
    return total;
}

sim::Result<bool> PartitionLog::roll_if_needed() {
    const std::string active = segment_path(active_segment_);
    if (!disk_.exists(active)) {
        if (sim::Status created = disk_.create(active); !created) {
            return created.error();
        }
        directory_unsynced_ = true;
        return false;
    }
    if (disk_.size(active).value() < config_.segment_bytes || log_end_offset_.value() == active_segment_) {
        return false;
    }
    active_segment_ = log_end_offset_.value();
    if (sim::Status created = disk_.create(segment_path(active_segment_)); !created) {
        return created.error();
    }
    directory_unsynced_ = true;
    return true;
}

sim::Status PartitionLog::append(const protocol::RecordBatch& batch) {
    // A follower of a compacted log copies batches across the gaps compaction left.
    EOSIM_ASSERT_MSG(
        config_.compacted ? batch.base_offset >= log_end_offset_ : batch.base_offset == log_end_offset_,
        fmt::format("append at {} to a log ending at {}", batch.base_offset.value(), log_end_offset_.value()));
    EOSIM_ASSERT(!batch.records.empty());
    if (index_.empty() && log_end_offset_ == log_start_offset_) {
        active_segment_ = log_end_offset_.value();
    }
    const std::int64_t previous_segment = active_segment_;
    const sim::Result<bool> rolled = roll_if_needed();
    if (!rolled) {
        return rolled.error();
    }
    std::vector<std::byte> early_snapshot;
    const std::uint64_t removals_at_roll = removals_;
    if (*rolled && config_.snapshot_holds_appended_batch) {
        // The bug switch: Kafka's roll snapshotted the state at the new segment's base before the append,
        // when the batch's sequences were already in it. Truncating to this offset, or a crash that loses
        // the batch, reloads a state that remembers a batch the log does not have. (Encoded here, written
        // below after the append and its fsyncs, unless the log lost batches meanwhile.)
        early_snapshot = producer_state_.encode_snapshot_holding(batch);
    }
    const std::string path = segment_path(active_segment_);
    const std::uint64_t position = disk_.size(path).value();
    const std::vector<std::byte> bytes = encode_batch(batch);
    if (sim::Status written = disk_.append(path, bytes); !written) {
        return written;
    }
    index_[batch.base_offset.value()] = BatchLocation{active_segment_,
                                                      position,
                                                      bytes.size(),
                                                      batch.last_offset().value(),
                                                      batch.leader_epoch.value(),
                                                      batch.max_timestamp_ms(),
                                                      is_abort_marker(batch)};
    log_end_offset_ = batch.next_offset();
    unflushed_segments_[active_segment_] = true;
    // Before the epoch checkpoint's fsync: another fiber may run meanwhile.
    if (const std::optional<CompletedTransaction> completed = producer_state_.update(batch);
        completed && completed->aborted) {
        index_completed_transaction(*completed);
    }
    epochs_.assign(batch.leader_epoch, batch.base_offset);
    if (*rolled) {
        // As Kafka does at every roll: the segment left behind is flushed (so only the active segment
        // can lose bytes in a crash) and the producer state is snapshotted (recovery replays from here).
        if (unflushed_segments_.erase(previous_segment) > 0 && disk_.exists(segment_path(previous_segment))) {
            (void)disk_.fsync(segment_path(previous_segment));
        }
        (void)sync_directory();  // and its name, and the new segment's
        if (config_.snapshot_holds_appended_batch) {
            if (removals_ == removals_at_roll) {
                producer_state_.write_snapshot(batch.base_offset, std::move(early_snapshot));
            }
        } else {
            producer_state_.take_snapshot();
        }
    }
    if (config_.flush_every_write) {
        return flush();
    }
    return sim::ok_status();
}

ReadResult PartitionLog::read(protocol::Offset from, protocol::Offset end, std::uint64_t max_bytes,
                              bool verify_crc, bool min_one) const {
    ReadResult result;
    auto it = index_.upper_bound(from.value());
    if (it != index_.begin()) {
        const auto previous = std::prev(it);
        if (previous->second.last_offset >= from.value()) {
            it = previous;
        }
    }
    std::uint64_t bytes_read = 0;
    std::int64_t segment = -1;
    std::string path;
    for (; it != index_.end() && it->first < end.value(); ++it) {
        const BatchLocation& location = it->second;
        if ((!min_one || !result.batches.empty()) && bytes_read + location.size > max_bytes) {
            break;
        }
        if (location.segment_base != segment) {
            segment = location.segment_base;
            path = segment_path(segment);
        }
        const auto bytes = disk_.read(path, location.position, location.size);
        if (!bytes || bytes->size() != location.size) {
            result.status = ReadStatus::corrupt;
            break;
        }
        DecodedBatch decoded = decode_batch(*bytes, verify_crc);
        if (decoded.status != DecodeStatus::ok || decoded.batch.base_offset.value() != it->first) {
            result.status = ReadStatus::corrupt;
            break;
        }
        bytes_read += location.size;
        result.batches.push_back(std::move(decoded.batch));
    }
    result.bytes = bytes_read;
    return result;
}

void PartitionLog::truncate_to(protocol::Offset end_offset) {
    EOSIM_ASSERT_MSG(end_offset.value() >= 0, "a log cannot be truncated to a negative offset");
    if (end_offset >= log_end_offset_) {
        // No batch goes, but an epoch begun at the end (by a leader that appended nothing) does, also
        // when asked to truncate past the end (Kafka's UnifiedLog.truncateTo).
        epochs_.truncate_from_end(log_end_offset_);
        return;
    }
    auto it = index_.upper_bound(end_offset.value());
    if (it != index_.begin() && std::prev(it)->second.last_offset >= end_offset.value()) {
        it = std::prev(it);  // the batch holding end_offset goes too: batches are never split
    }
    if (it == index_.end()) {
        return;
    }
    const std::int64_t new_end = it->first;
    const BatchLocation first_removed = it->second;
    ++removals_;
    directory_unsynced_ = true;  // a crash before the next flush may bring the removed batches back
    (void)disk_.truncate(segment_path(first_removed.segment_base), first_removed.position);
    if (const auto kept = transaction_indexes_.find(first_removed.segment_base); kept != transaction_indexes_.end()) {
        kept->second.truncate_to(protocol::Offset(new_end));
    }
    for (const std::int64_t base : segment_bases()) {
        if (base > first_removed.segment_base) {
            (void)disk_.remove(segment_path(base));
            remove_transaction_index(base);
            unflushed_segments_.erase(base);
        }
    }
    index_.erase(it, index_.end());
    active_segment_ = first_removed.segment_base;
    log_end_offset_ = protocol::Offset(std::max(new_end, log_start_offset_.value()));
    epochs_.truncate_from_end(log_end_offset_);
    // Transactions begun below the log start: a reload finding no snapshot at or above the log start
    // replays from it and would not see them (Kafka keeps a snapshot at every segment base instead).
    const std::vector<CompletedTransaction> begun_below =
        producer_state_.transactions_begun_below(log_start_offset_, log_end_offset_);
    rebuild_producer_state(true);
    if (!begun_below.empty() || producer_state_.has_transaction_state()) {
        // rebuild_producer_state moved the state's end to the log end.
        producer_state_.restore_transactions(begun_below, log_start_offset_);
        const std::vector<protocol::Offset> snapshots = producer_state_.snapshot_offsets();
        if (snapshots.empty() || snapshots.back() < log_start_offset_) {
            producer_state_.take_snapshot();  // a restart replays from the log start too
        }
    }
}

sim::Status PartitionLog::flush() {
    std::map<std::int64_t, bool> segments;
    segments.swap(unflushed_segments_);
    for (const auto& [base, dirty] : segments) {
        const std::string path = segment_path(base);
        if (disk_.exists(path)) {
            if (sim::Status synced = disk_.fsync(path); !synced) {
                return synced;
            }
        }
        if (const auto found = transaction_indexes_.find(base); found != transaction_indexes_.end()) {
            if (sim::Status synced = found->second.flush(); !synced) {
                return synced;
            }
        }
    }
    return sync_directory();
}

sim::Status PartitionLog::sync_directory() {
    // A flush that comes while another's directory sync waits syncs too: that sync may not be done when
    // this flush answers, and what this flush answers for may depend on it (a new segment's name).
    if (!directory_unsynced_ && directory_syncs_in_flight_ == 0) {
        return sim::ok_status();
    }
    directory_unsynced_ = false;  // an operation during the sync sets it again
    ++directory_syncs_in_flight_;
    const sim::Status synced = disk_.fsync_directory(directory_);
    --directory_syncs_in_flight_;
    if (!synced) {
        directory_unsynced_ = true;
    }
    return synced;
}

void PartitionLog::write_log_start_checkpoint() {
    (void)write_checkpoint(disk_, directory_ + "/" + std::string(log_start_checkpoint),
                           std::to_string(log_start_offset_.value()) + "\n");
}

std::optional<std::int64_t> PartitionLog::read_log_start_checkpoint() const {
    // Missing or damaged: the log starts at its first segment. Records below a lost log start may be read
    // again; nothing acknowledged is lost.
    const std::optional<std::string> text = read_checkpoint(disk_, directory_ + "/" + std::string(log_start_checkpoint));
    if (!text || text->empty() || text->back() != '\n' ||
        text->find_first_not_of("0123456789\n") != std::string::npos) {
        return std::nullopt;
    }
    return std::stoll(*text);
}

std::int64_t PartitionLog::newest_timestamp(std::int64_t from, std::int64_t to) const {
    std::int64_t newest = 0;
    for (auto it = index_.lower_bound(from); it != index_.end() && it->first < to; ++it) {
        newest = std::max(newest, it->second.max_timestamp_ms);
    }
    return newest;
}

void PartitionLog::delete_segments_below(std::int64_t offset) {
    ++removals_;
    directory_unsynced_ = true;
    const std::vector<std::int64_t> bases = segment_bases();
    for (std::size_t i = 0; i + 1 < bases.size() && bases[i + 1] <= offset; ++i) {
        (void)disk_.remove(segment_path(bases[i]));
        remove_transaction_index(bases[i]);
        unflushed_segments_.erase(bases[i]);
        index_.erase(index_.lower_bound(bases[i]), index_.lower_bound(bases[i + 1]));
    }
}

void PartitionLog::increment_log_start_offset(protocol::Offset offset, const LogStartMoved& moved) {
    offset = std::min(offset, log_end_offset_);
    if (offset <= log_start_offset_) {
        return;
    }
    const protocol::Offset before = log_start_offset_;
    log_start_offset_ = offset;
    if (moved) {
        moved(before, offset);
    }
    delete_segments_below(offset.value());
    epochs_.truncate_from_start(offset);
    // The producers of the records that go are kept (KIP-360): a snapshot at the log end holds them for
    // a restart, which replays only from the log start.
    const std::vector<protocol::Offset> snapshots = producer_state_.snapshot_offsets();
    if (snapshots.empty() || snapshots.back() < offset) {
        producer_state_.take_snapshot();
    }
    write_log_start_checkpoint();
}

std::size_t PartitionLog::apply_retention(std::int64_t now_ms, protocol::Offset upper_bound,
                                          const LogStartMoved& moved) {
    if (config_.compacted || (config_.retention_ms < 0 && config_.retention_bytes < 0)) {
        return 0;
    }
    const std::vector<std::int64_t> bases = segment_bases();
    std::vector<std::uint64_t> sizes;
    std::uint64_t total = 0;
    for (const std::int64_t base : bases) {
        sizes.push_back(disk_.size(segment_path(base)).value());
        total += sizes.back();
    }
    std::size_t deleted = 0;
    std::int64_t new_start = log_start_offset_.value();
    for (std::size_t i = 0; i + 1 < bases.size(); ++i) {
        if (bases[i + 1] > upper_bound.value()) {
            break;
        }
        const std::int64_t newest = newest_timestamp(bases[i], bases[i + 1]);
        const bool expired = config_.retention_ms >= 0 && now_ms - newest >= config_.retention_ms;
        const bool oversized =
            config_.retention_bytes >= 0 && total - sizes[i] >= static_cast<std::uint64_t>(config_.retention_bytes);
        if (!expired && !oversized) {
            break;
        }
        total -= sizes[i];
        new_start = bases[i + 1];
        ++deleted;
    }
    if (deleted > 0) {
        increment_log_start_offset(protocol::Offset(new_start), moved);
    }
    return deleted;
}

void PartitionLog::truncate_fully_and_start_at(protocol::Offset offset, const LogStartMoved& moved) {
    ++removals_;
    directory_unsynced_ = true;
    const protocol::Offset before = log_start_offset_;
    for (const std::int64_t base : segment_bases()) {
        (void)disk_.remove(segment_path(base));
        remove_transaction_index(base);
    }
    index_.clear();
    unflushed_segments_.clear();
    log_start_offset_ = offset;
    log_end_offset_ = offset;
    active_segment_ = offset.value();
    // An empty segment named for the new start, as Kafka's truncateFullyAndStartAt makes: the log start
    // does not rest on its checkpoint alone (a damaged checkpoint would start the log at 0 again). The
    // checkpoint's directory sync below makes the name durable too.
    (void)disk_.create(segment_path(active_segment_));
    if (moved && offset > before) {
        moved(before, offset);
    }
    write_log_start_checkpoint();
    epochs_.clear();
    // The producers the leader's log still knows stay known here (KIP-360); a snapshot keeps them.
    producer_state_.remove_snapshots();
    producer_state_.advance_to(offset);
    producer_state_.take_snapshot();
}

namespace {

// What the cleaner decides over the batches of the cleanable segments.
struct CleanPlan {
    const std::vector<protocol::RecordBatch>& batches;
    std::map<std::string, std::int64_t> latest;  // the offset of each key's latest record among them
    std::int64_t now_ms = 0;
    std::int64_t delete_retention_ms = 0;

    [[nodiscard]] bool expired_tombstone(const protocol::Record& record, std::int64_t offset) const {
        return !record.value && latest.at(*record.key) == offset && now_ms - record.timestamp_ms >= delete_retention_ms;
    }
};

std::int64_t record_offset(const protocol::RecordBatch& batch, std::size_t i) {
    return batch.base_offset.value() + static_cast<std::int64_t>(i);
}

std::map<std::string, std::int64_t> latest_offsets(const std::vector<protocol::RecordBatch>& batches) {
    std::map<std::string, std::int64_t> latest;
    for (const protocol::RecordBatch& batch : batches) {
        for (std::size_t i = 0; i < batch.records.size(); ++i) {
            if (batch.records[i].key) {
                latest[*batch.records[i].key] = record_offset(batch, i);
            }
        }
    }
    return latest;
}

// A batch goes only as a whole: it stays when it is a producer's last, or holds a record with no key, the
// latest of its key, or a tombstone still within its retention.
bool batch_must_stay(const CleanPlan& plan, const protocol::RecordBatch& batch, bool producers_last,
                     bool drops_latest) {
    // Markers stay: their control records' keys are not record keys, and the aborted-transaction index
    // points at them (Kafka removes them later, once their transaction's data is gone).
    bool keep = producers_last || batch.control;
    for (std::size_t i = 0; i < batch.records.size() && !keep; ++i) {
        const protocol::Record& record = batch.records[i];
        const std::int64_t offset = record_offset(batch, i);
        if (!record.key) {
            keep = true;
            break;
        }
        const std::int64_t newest = plan.latest.at(*record.key);
        const bool superseded = drops_latest ? newest >= offset : newest > offset;
        keep = !superseded && !plan.expired_tombstone(record, offset);
    }
    return keep;
}

// key -> the lowest offset of its records in a kept batch.
std::map<std::string, std::int64_t> oldest_kept(const CleanPlan& plan, const std::vector<bool>& kept_batch) {
    std::map<std::string, std::int64_t> oldest;
    for (std::size_t b = 0; b < plan.batches.size(); ++b) {
        if (!kept_batch[b]) {
            continue;
        }
        const protocol::RecordBatch& batch = plan.batches[b];
        for (std::size_t i = 0; i < batch.records.size(); ++i) {
            if (batch.records[i].key) {
                oldest.try_emplace(*batch.records[i].key, record_offset(batch, i));
            }
        }
    }
    return oldest;
}

// A tombstone may go only if no older record of its key stays (else that record would come back to life):
// keeping its batch may keep older records of other keys, so this repeats until stable.
void keep_tombstones_over_kept_records(const CleanPlan& plan, std::vector<bool>& kept_batch) {
    for (bool changed = true; changed;) {
        changed = false;
        const std::map<std::string, std::int64_t> oldest = oldest_kept(plan, kept_batch);
        for (std::size_t b = 0; b < plan.batches.size(); ++b) {
            if (kept_batch[b]) {
                continue;
            }
            const protocol::RecordBatch& batch = plan.batches[b];
            for (std::size_t i = 0; i < batch.records.size(); ++i) {
                const protocol::Record& record = batch.records[i];
                const std::int64_t offset = record_offset(batch, i);
                const auto older = oldest.find(*record.key);
                if (plan.expired_tombstone(record, offset) && older != oldest.end() && older->second < offset) {
                    kept_batch[b] = true;
                    changed = true;
                    break;
                }
            }
        }
    }
}

}  // namespace

CleanReport PartitionLog::compact(std::int64_t now_ms, protocol::Offset upper_bound) {
    CleanReport report;
    if (!config_.compacted) {
        return report;
    }
    const std::vector<std::int64_t> bases = segment_bases();
    const std::size_t cleanable = cleanable_segments(bases, now_ms, upper_bound);  // segments [0, cleanable)
    if (cleanable == 0) {
        return report;
    }
    const ReadResult read = this->read(log_start_offset_, protocol::Offset(bases[cleanable]), UINT64_MAX);
    if (read.status != ReadStatus::ok) {
        return report;  // damage is recovery's business, not the cleaner's
    }
    const CleanPlan plan{read.batches, latest_offsets(read.batches), now_ms, config_.delete_retention_ms};
    // Each producer's last batch stays, so its state can be rebuilt from the log.
    const std::set<std::int64_t> producers_last = producers_last_batches();
    std::vector<bool> kept_batch(read.batches.size(), false);
    // The batch where a leader epoch starts stays too: a follower learns where an epoch began only from the
    // batches it fetches, and a leader whose epoch cache starts an epoch late cannot see that a follower's
    // older epoch diverged below it (docs/log-lifecycle.md).
    std::set<std::int64_t> epoch_starts;
    for (const EpochEntry& entry : epochs_.entries()) {
        epoch_starts.insert(entry.start_offset.value());
    }
    for (std::size_t b = 0; b < read.batches.size(); ++b) {
        const std::int64_t base = read.batches[b].base_offset.value();
        kept_batch[b] = batch_must_stay(plan, read.batches[b], producers_last.contains(base) || epoch_starts.contains(base),
                                        config_.cleaner_drops_latest);
    }
    keep_tombstones_over_kept_records(plan, kept_batch);
    const std::uint64_t removals_before = removals_;
    for (std::size_t s = 0; s < cleanable; ++s) {
        if (!rewrite_segment(bases[s], bases[s + 1], read.batches, kept_batch, removals_before, report)) {
            return report;
        }
        note_removed_tombstones(read.batches, kept_batch, bases[s], bases[s + 1], plan.latest, report);
    }
    return report;
}

void PartitionLog::note_removed_tombstones(const std::vector<protocol::RecordBatch>& batches,
                                           const std::vector<bool>& kept_batch, std::int64_t from, std::int64_t to,
                                           const std::map<std::string, std::int64_t>& latest, CleanReport& report) {
    for (std::size_t b = 0; b < batches.size(); ++b) {
        const protocol::RecordBatch& batch = batches[b];
        if (kept_batch[b] || batch.base_offset.value() < from || batch.base_offset.value() >= to) {
            continue;
        }
        for (std::size_t i = 0; i < batch.records.size(); ++i) {
            const protocol::Record& record = batch.records[i];
            if (!record.value && record.key) {
                const std::int64_t offset = batch.base_offset.value() + static_cast<std::int64_t>(i);
                const auto newest = latest.find(*record.key);
                report.tombstones_removed.push_back(RemovedTombstone{
                    offset, *record.key, record.timestamp_ms, newest != latest.end() && newest->second == offset});
            }
        }
    }
}

std::size_t PartitionLog::cleanable_segments(const std::vector<std::int64_t>& bases, std::int64_t now_ms,
                                             protocol::Offset upper_bound) const {
    std::size_t cleanable = 0;
    while (cleanable + 1 < bases.size() && bases[cleanable + 1] <= upper_bound.value()) {
        if (now_ms - newest_timestamp(bases[cleanable], bases[cleanable + 1]) < config_.min_compaction_lag_ms) {
            break;
        }
        ++cleanable;
    }
    return cleanable;
}

std::set<std::int64_t> PartitionLog::producers_last_batches() const {
    std::set<std::int64_t> producers_last;
    for (const auto& [id, entry] : producer_state_.producers()) {
        if (!entry.batches.empty()) {
            producers_last.insert(entry.batches.back().first_offset.value());
        }
    }
    return producers_last;
}

bool PartitionLog::rewrite_segment(std::int64_t base, std::int64_t next,
                                   const std::vector<protocol::RecordBatch>& batches,
                                   const std::vector<bool>& kept_batch, std::uint64_t removals_before,
                                   CleanReport& report) {
    std::vector<std::byte> bytes;
    std::vector<std::pair<std::int64_t, BatchLocation>> kept;
    std::size_t removed = 0;
    for (std::size_t b = 0; b < batches.size(); ++b) {
        const protocol::RecordBatch& batch = batches[b];
        if (batch.base_offset.value() < base || batch.base_offset.value() >= next) {
            continue;
        }
        if (!kept_batch[b]) {
            ++removed;
            continue;
        }
        const std::vector<std::byte> encoded = encode_batch(batch);
        kept.emplace_back(batch.base_offset.value(),
                          BatchLocation{base, bytes.size(), encoded.size(), batch.last_offset().value(),
                                        batch.leader_epoch.value(), batch.max_timestamp_ms(), is_abort_marker(batch)});
        bytes.insert(bytes.end(), encoded.begin(), encoded.end());
    }
    if (removed == 0) {
        return true;
    }
    if (!replace_segment(segment_path(base), bytes, removals_before)) {
        return false;
    }
    index_.erase(index_.lower_bound(base), index_.lower_bound(next));
    for (const auto& [offset, location] : kept) {
        index_[offset] = location;
    }
    unflushed_segments_.erase(base);
    ++report.segments_rewritten;
    report.batches_removed += removed;
    return true;
}

bool PartitionLog::replace_segment(const std::string& path, const std::vector<std::byte>& bytes,
                                   std::uint64_t removals_before) {
    const std::string cleaned = path + ".cleaned";
    (void)disk_.remove(cleaned);
    if (!disk_.create(cleaned) || !disk_.append(cleaned, bytes) || !disk_.fsync(cleaned)) {
        (void)disk_.remove(cleaned);
        return false;
    }
    if (removals_ != removals_before || !disk_.exists(path)) {
        (void)disk_.remove(cleaned);  // truncated or deleted meanwhile: this rewrite is stale
        return false;
    }
    if (!disk_.rename(cleaned, path)) {
        (void)disk_.remove(cleaned);
        return false;
    }
    directory_unsynced_ = true;  // until then a crash may bring back the segment before cleaning
    return true;
}

protocol::Offset PartitionLog::last_stable_offset(protocol::Offset high_watermark) const {
    return std::min(high_watermark, std::max(producer_state_.last_stable_offset(high_watermark), log_start_offset_));
}

void PartitionLog::on_high_watermark(protocol::Offset high_watermark) {
    producer_state_.on_high_watermark(high_watermark);
}

std::vector<AbortedTransaction> PartitionLog::aborted_transactions(protocol::Offset from, protocol::Offset upto) const {
    std::vector<AbortedTransaction> aborted;
    auto it = transaction_indexes_.upper_bound(from.value());
    if (it != transaction_indexes_.begin()) {
        --it;  // the segment holding `from` (or an earlier one, whose entries all end below it)
    }
    for (; it != transaction_indexes_.end(); ++it) {
        it->second.collect(from, upto, aborted);
    }
    return aborted;
}

std::optional<protocol::LeaderEpoch> PartitionLog::epoch_at(protocol::Offset offset) const {
    auto it = index_.upper_bound(offset.value());
    if (it == index_.begin()) {
        return std::nullopt;
    }
    --it;
    if (it->second.last_offset < offset.value()) {
        return std::nullopt;
    }
    return protocol::LeaderEpoch(it->second.leader_epoch);
}

}  // namespace eosim::broker_core
