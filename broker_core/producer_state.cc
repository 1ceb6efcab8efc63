#include "broker_core/producer_state.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "broker_core/byte_io.h"
#include "broker_core/checkpoint_file.h"
#include "protocol/sequence.h"
#include "sim/crc32c.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::Offset;
using protocol::Sequence;

namespace {

constexpr std::uint32_t snapshot_magic_v1 = 0x50534e31;  // "PSN1": without transactions
constexpr std::uint32_t snapshot_magic = 0x50534e32;     // "PSN2": with transactions
constexpr std::size_t snapshots_kept = 2;

// Wraps past 2^31-1 to 0, as Kafka's DefaultRecordBatch.lastSequence does.
Sequence last_sequence_of(const protocol::RecordBatch& batch) {
    return protocol::last_sequence(batch.base_sequence, static_cast<std::int64_t>(batch.records.size()));
}

}  // namespace

std::string_view to_string(SequenceVerdict verdict) {
    switch (verdict) {
        case SequenceVerdict::append: return "append";
        case SequenceVerdict::duplicate: return "duplicate";
        case SequenceVerdict::out_of_order_sequence: return "out-of-order-sequence";
        case SequenceVerdict::invalid_producer_epoch: return "invalid-producer-epoch";
        case SequenceVerdict::unknown_producer_id: return "unknown-producer-id";
    }
    return "unknown";
}

std::string_view to_string(TransactionVerdict verdict) {
    switch (verdict) {
        case TransactionVerdict::append: return "append";
        case TransactionVerdict::invalid_txn_state: return "invalid-txn-state";
        case TransactionVerdict::invalid_producer_epoch: return "invalid-producer-epoch";
        case TransactionVerdict::coordinator_fenced: return "coordinator-fenced";
    }
    return "unknown";
}

ProducerStateManager::ProducerStateManager(sim::Disk& disk, std::string directory, ProducerStateConfig config)
    : disk_(disk), directory_(std::move(directory)), config_(config) {
    EOSIM_ASSERT(config_.batches_kept >= 1);
}

SequenceCheck ProducerStateManager::check(const protocol::RecordBatch& batch) const {
    EOSIM_ASSERT(batch.producer_id.value() >= 0);
    const Sequence first = batch.base_sequence;
    const auto found = producers_.find(batch.producer_id);
    if (found == producers_.end()) {
        // A producer's first batch starts at sequence 0; any other means its state is gone (expired,
        // or removed with the log): the producer must bump its epoch and start again (KIP-360).
        const bool taken = first.value() == 0 || config_.unknown_producer_any_sequence;
        return SequenceCheck{taken ? SequenceVerdict::append : SequenceVerdict::unknown_producer_id, {}};
    }
    const ProducerEntry& entry = found->second;
    if (batch.producer_epoch < entry.epoch) {
        return SequenceCheck{SequenceVerdict::invalid_producer_epoch, {}};
    }
    if (batch.producer_epoch == entry.epoch && config_.dedup) {
        const Sequence last = last_sequence_of(batch);
        for (const ProducerBatchMetadata& cached : entry.batches) {
            if (cached.first_sequence == first && cached.last_sequence == last) {
                return SequenceCheck{SequenceVerdict::duplicate, cached};
            }
        }
    }
    if (batch.producer_epoch > entry.epoch) {
        // A new epoch starts its sequences again at 0.
        return SequenceCheck{first.value() == 0 ? SequenceVerdict::append : SequenceVerdict::out_of_order_sequence, {}};
    }
    const std::optional<Sequence> last = entry.last_sequence();
    if (last ? protocol::in_sequence(*last, first) : first.value() == 0) {
        return SequenceCheck{SequenceVerdict::append, {}};
    }
    if (!config_.dedup && last && first.value() <= last->value()) {
        return SequenceCheck{SequenceVerdict::append, {}};  // the no-dedup bug: an old batch is appended again
    }
    return SequenceCheck{SequenceVerdict::out_of_order_sequence, {}};
}

TransactionVerdict ProducerStateManager::check_transaction(const protocol::RecordBatch& batch,
                                                          bool bumped_marker) const {
    EOSIM_ASSERT(batch.producer_id.value() >= 0);
    const auto found = producers_.find(batch.producer_id);
    if (found == producers_.end()) {
        return TransactionVerdict::append;
    }
    const ProducerEntry& entry = found->second;
    if (!batch.control) {
        const bool ongoing = entry.current_txn_first_offset.has_value();
        return ongoing && !batch.transactional ? TransactionVerdict::invalid_txn_state : TransactionVerdict::append;
    }
    const std::optional<protocol::TransactionMarker> marker = protocol::marker_of(batch);
    if (!marker) {
        return TransactionVerdict::append;  // an unknown control record: nothing to check
    }
    if (batch.producer_epoch < entry.epoch) {
        return TransactionVerdict::invalid_producer_epoch;
    }
    if (bumped_marker && entry.current_txn_first_offset && batch.producer_epoch <= entry.epoch) {
        // Kafka refuses every such marker; with no transaction ongoing one ends nothing, so eosim takes it
        // (a coordinator's retry of a marker that was written: docs/kafka-differences.md).
        sim::probe("late-marker-refused");
        return TransactionVerdict::invalid_producer_epoch;
    }
    if (marker->coordinator_epoch < entry.coordinator_epoch) {
        return TransactionVerdict::coordinator_fenced;
    }
    return TransactionVerdict::append;
}

std::optional<CompletedTransaction> ProducerStateManager::update(const protocol::RecordBatch& batch) {
    end_offset_ = std::max(end_offset_, batch.next_offset());
    if (batch.producer_id.value() < 0) {
        return std::nullopt;
    }
    ProducerEntry& entry = producers_[batch.producer_id];
    if (batch.producer_epoch != entry.epoch) {
        entry.batches.clear();  // a new epoch: its sequences start again
        entry.epoch = batch.producer_epoch;
    }
    const std::int64_t timestamp = batch.max_timestamp_ms();
    if (!batch.control || config_.marker_timestamps) {
        entry.last_timestamp_ms = std::max(entry.last_timestamp_ms, timestamp);
    }
    if (batch.control) {
        const std::optional<protocol::TransactionMarker> marker = protocol::marker_of(batch);
        if (!marker) {
            return std::nullopt;  // Kafka skips an unknown control record
        }
        return complete_transaction(batch, *marker, entry);
    }
    if (batch.transactional && !entry.current_txn_first_offset) {
        entry.current_txn_first_offset = batch.base_offset;
    }
    cache_batch(batch, entry);
    return std::nullopt;
}

void ProducerStateManager::cache_batch(const protocol::RecordBatch& batch, ProducerEntry& entry) {
    entry.batches.push_back(ProducerBatchMetadata{batch.base_sequence, last_sequence_of(batch), batch.base_offset,
                                                  batch.last_offset(), batch.max_timestamp_ms()});
    while (entry.batches.size() > config_.batches_kept) {
        entry.batches.pop_front();
    }
}

void ProducerStateManager::update_transaction_state(const protocol::RecordBatch& batch) {
    EOSIM_ASSERT(batch.producer_id.value() >= 0 && (batch.transactional || batch.control));
    const auto [found, added] = producers_.try_emplace(batch.producer_id);
    ProducerEntry& entry = found->second;
    if (added) {
        entry.epoch = batch.producer_epoch;
        entry.last_timestamp_ms = batch.max_timestamp_ms();
    }
    if (!batch.control) {
        if (!entry.current_txn_first_offset) {
            entry.current_txn_first_offset = batch.base_offset;
        }
        return;
    }
    if (const std::optional<protocol::TransactionMarker> marker = protocol::marker_of(batch)) {
        (void)complete_transaction(batch, *marker, entry);
    }
}

CompletedTransaction ProducerStateManager::complete_transaction(const protocol::RecordBatch& batch,
                                                                const protocol::TransactionMarker& marker,
                                                                ProducerEntry& entry) {
    const CompletedTransaction completed{batch.producer_id, entry.current_txn_first_offset.value_or(batch.base_offset),
                                         batch.base_offset, marker.type == protocol::ControlType::abort};
    EOSIM_ASSERT(completed.first_offset <= completed.last_offset);
    entry.current_txn_first_offset.reset();
    entry.coordinator_epoch = marker.coordinator_epoch;
    unreplicated_[completed.first_offset] = completed;
    return completed;
}

std::size_t ProducerStateManager::expire(std::int64_t now_ms) {
    return std::erase_if(producers_, [this, now_ms](const auto& item) {
        return !item.second.current_txn_first_offset && now_ms - item.second.last_timestamp_ms >= config_.expiration_ms;
    });
}

std::optional<Offset> ProducerStateManager::first_unstable_offset(Offset high_watermark) const {
    std::optional<Offset> lowest = first_undecided_offset();
    for (const auto& [first, completed] : unreplicated_) {
        if (completed.last_offset >= high_watermark) {
            // Ordered by first offset: the first one found is the lowest.
            lowest = lowest ? std::min(*lowest, first) : first;
            break;
        }
    }
    return lowest;
}

std::optional<Offset> ProducerStateManager::first_undecided_offset() const {
    std::optional<Offset> lowest;
    for (const auto& [id, entry] : producers_) {
        if (entry.current_txn_first_offset && (!lowest || *entry.current_txn_first_offset < *lowest)) {
            lowest = entry.current_txn_first_offset;
        }
    }
    return lowest;
}

Offset ProducerStateManager::last_stable_offset(Offset high_watermark) const {
    const std::optional<Offset> unstable = first_unstable_offset(high_watermark);
    return unstable ? std::min(*unstable, high_watermark) : high_watermark;
}

void ProducerStateManager::on_high_watermark(Offset high_watermark) {
    std::erase_if(unreplicated_,
                  [high_watermark](const auto& item) { return item.second.last_offset < high_watermark; });
}

std::vector<CompletedTransaction> ProducerStateManager::transactions_begun_below(Offset from, Offset end) const {
    std::vector<CompletedTransaction> begun;
    for (const auto& [id, entry] : producers_) {
        if (entry.current_txn_first_offset && *entry.current_txn_first_offset < from) {
            begun.push_back(CompletedTransaction{id, *entry.current_txn_first_offset, end_offset_, false});
        }
    }
    for (const auto& [first, completed] : unreplicated_) {
        if (first < from) {
            CompletedTransaction kept = completed;
            if (kept.last_offset >= end) {
                kept.last_offset = end_offset_;  // its marker goes: ongoing again
            }
            begun.push_back(kept);
        }
    }
    return begun;
}

void ProducerStateManager::restore_transactions(const std::vector<CompletedTransaction>& transactions, Offset from) {
    std::set<protocol::ProducerId> ongoing;
    for (const CompletedTransaction& transaction : transactions) {
        if (transaction.last_offset >= end_offset_) {
            ongoing.insert(transaction.producer_id);
        }
    }
    for (auto& [id, entry] : producers_) {
        if (entry.current_txn_first_offset && *entry.current_txn_first_offset < from && !ongoing.contains(id)) {
            entry.current_txn_first_offset.reset();
        }
    }
    for (const CompletedTransaction& transaction : transactions) {
        if (transaction.last_offset >= end_offset_) {
            // Begun below `from`, it was ongoing at the old end: what the reload found may be older.
            producers_[transaction.producer_id].current_txn_first_offset = transaction.first_offset;
            continue;
        }
        std::erase_if(unreplicated_, [&transaction](const auto& item) {
            return item.second.producer_id == transaction.producer_id &&
                   item.second.last_offset == transaction.last_offset;
        });
        unreplicated_[transaction.first_offset] = transaction;
    }
}

Offset ProducerStateManager::last_stable_offset_of(const CompletedTransaction& completed) const {
    std::optional<Offset> lowest;
    for (const auto& [id, entry] : producers_) {
        if (id != completed.producer_id && entry.current_txn_first_offset &&
            (!lowest || *entry.current_txn_first_offset < *lowest)) {
            lowest = entry.current_txn_first_offset;
        }
    }
    return lowest.value_or(Offset(completed.last_offset.value() + 1));
}

void ProducerStateManager::reset(Offset end) {
    ++rebuilds_;
    producers_.clear();
    unreplicated_.clear();
    end_offset_ = end;
}

void ProducerStateManager::advance_to(Offset end) {
    ++rebuilds_;
    end_offset_ = end;
    // Their transactions were in the log that is gone (Kafka's truncateFullyAndStartAt forgets them too).
    unreplicated_.clear();
    for (auto& [id, entry] : producers_) {
        entry.current_txn_first_offset.reset();
        // A log started again below batches it had: those batches are gone with it.
        std::erase_if(entry.batches, [end](const ProducerBatchMetadata& batch) { return batch.last_offset >= end; });
    }
}

std::string ProducerStateManager::snapshot_path(Offset offset) const {
    return fmt::format("{}/{:020d}{}", directory_, offset.value(), snapshot_suffix);
}

std::vector<Offset> ProducerStateManager::snapshot_offsets() const {
    std::vector<Offset> offsets;
    const std::string prefix = directory_ + "/";
    for (const std::string& path : disk_.list(prefix)) {
        if (const auto base = file_base_offset(std::string_view(path).substr(prefix.size()), snapshot_suffix)) {
            offsets.emplace_back(*base);
        }
    }
    return offsets;  // zero-padded names list in numeric order
}

void ProducerStateManager::forget_transactions_below(Offset offset) {
    for (auto& [id, entry] : producers_) {
        if (entry.current_txn_first_offset && *entry.current_txn_first_offset < offset) {
            entry.current_txn_first_offset.reset();
        }
    }
}

bool ProducerStateManager::has_transaction_state() const {
    return !unreplicated_.empty() || std::any_of(producers_.begin(), producers_.end(), [](const auto& item) {
               return item.second.current_txn_first_offset.has_value() || item.second.coordinator_epoch >= 0;
           });
}

void ProducerStateManager::move_end_to(Offset end) {
    EOSIM_ASSERT(end >= end_offset_);
    end_offset_ = end;
}

std::vector<std::byte> ProducerStateManager::encode_snapshot() const {
    // Without any transaction state the snapshot keeps format 1, byte for byte what eosim wrote before
    // transactions: runs without transactions stay as they were (docs/transactions.md, "Partitions").
    const bool transactions = has_transaction_state();
    ByteWriter writer;
    writer.put<std::uint32_t>(transactions ? snapshot_magic : snapshot_magic_v1);
    writer.put<std::int64_t>(end_offset_.value());
    writer.put<std::int32_t>(static_cast<std::int32_t>(producers_.size()));
    for (const auto& [id, entry] : producers_) {
        writer.put<std::int64_t>(id.value());
        writer.put<std::int16_t>(entry.epoch.value());
        writer.put<std::int64_t>(entry.last_timestamp_ms);
        if (transactions) {
            writer.put<std::int32_t>(entry.coordinator_epoch);
            writer.put<std::int64_t>(entry.current_txn_first_offset.value_or(Offset(-1)).value());
        }
        writer.put<std::int32_t>(static_cast<std::int32_t>(entry.batches.size()));
        for (const ProducerBatchMetadata& batch : entry.batches) {
            writer.put<std::int32_t>(batch.first_sequence.value());
            writer.put<std::int32_t>(batch.last_sequence.value());
            writer.put<std::int64_t>(batch.first_offset.value());
            writer.put<std::int64_t>(batch.last_offset.value());
            writer.put<std::int64_t>(batch.timestamp_ms);
        }
    }
    if (!transactions) {
        return writer.bytes();
    }
    writer.put<std::int32_t>(static_cast<std::int32_t>(unreplicated_.size()));
    for (const auto& [first, completed] : unreplicated_) {
        writer.put<std::int64_t>(completed.producer_id.value());
        writer.put<std::int64_t>(first.value());
        writer.put<std::int64_t>(completed.last_offset.value());
        writer.put<std::uint8_t>(completed.aborted ? 1 : 0);
    }
    return writer.bytes();
}

void ProducerStateManager::take_snapshot() {
    write_snapshot(end_offset_, encode_snapshot());
}

std::vector<std::byte> ProducerStateManager::encode_snapshot_holding(const protocol::RecordBatch& batch) {
    // Encoded from a state changed for the moment, with no suspension point before it is put back.
    const std::map<protocol::ProducerId, ProducerEntry> kept = producers_;
    const Offset end = end_offset_;
    // Kafka's ProducerAppendInfo shared only an existing producer's queue of cached batches (of the same
    // epoch); its other fields, and a new producer's entry, were its own until the append.
    if (const auto found = producers_.find(batch.producer_id);
        found != producers_.end() && !batch.control && found->second.epoch == batch.producer_epoch) {
        cache_batch(batch, found->second);
    }
    end_offset_ = batch.base_offset;
    std::vector<std::byte> body = encode_snapshot();
    producers_ = kept;
    end_offset_ = end;
    return body;
}

void ProducerStateManager::write_snapshot(Offset end, std::vector<std::byte> bytes) {
    ByteWriter crc;
    crc.put<std::uint32_t>(sim::crc32c(bytes));
    bytes.insert(bytes.end(), crc.bytes().begin(), crc.bytes().end());
    const std::string path = snapshot_path(end);
    const std::string temporary = path + ".tmp";
    const std::uint64_t rebuilds = rebuilds_;
    (void)disk_.remove(temporary);
    if (!disk_.create(temporary) || !disk_.append(temporary, bytes) || !disk_.fsync(temporary) ||
        rebuilds != rebuilds_ || !disk_.rename(temporary, path)) {
        (void)disk_.remove(temporary);  // a snapshot is an optimisation: recovery replays more without it
        return;
    }
    std::vector<Offset> offsets = snapshot_offsets();
    while (offsets.size() > snapshots_kept) {
        (void)disk_.remove(snapshot_path(offsets.front()));
        offsets.erase(offsets.begin());
    }
    (void)disk_.fsync_directory(directory_);
}

void ProducerStateManager::remove_snapshots() {
    ++rebuilds_;
    for (const Offset offset : snapshot_offsets()) {
        (void)disk_.remove(snapshot_path(offset));
    }
}

std::optional<Offset> ProducerStateManager::load_snapshot(Offset end) {
    ++rebuilds_;
    producers_.clear();
    unreplicated_.clear();
    end_offset_ = Offset(0);
    std::vector<Offset> offsets = snapshot_offsets();
    for (const Offset offset : offsets) {
        if (offset > end) {
            (void)disk_.remove(snapshot_path(offset));
        }
    }
    std::erase_if(offsets, [end](Offset offset) { return offset > end; });
    while (!offsets.empty()) {
        const Offset offset = offsets.back();
        offsets.pop_back();
        const auto bytes = disk_.read_all(snapshot_path(offset));
        if (bytes.ok() && snapshot_intact(*bytes) &&
            decode_snapshot(std::span<const std::byte>(*bytes).first(bytes->size() - 4), offset)) {
            end_offset_ = offset;
            return offset;
        }
        sim::probe("damaged-snapshot-skipped");
        (void)disk_.remove(snapshot_path(offset));  // torn or damaged: an older one, or a longer replay
    }
    return std::nullopt;
}

bool ProducerStateManager::snapshot_intact(std::span<const std::byte> bytes) {
    if (bytes.size() < 20) {
        return false;
    }
    ByteReader crc_reader{bytes.subspan(bytes.size() - 4)};
    return crc_reader.get<std::uint32_t>() == sim::crc32c(bytes.first(bytes.size() - 4));
}

namespace {

// One producer of a snapshot; version 1 has no transaction fields.
bool decode_producer(ByteReader& reader, bool version_1, std::map<protocol::ProducerId, ProducerEntry>& loaded) {
    const auto id = reader.get<std::int64_t>();
    const auto epoch = reader.get<std::int16_t>();
    const auto last_timestamp = reader.get<std::int64_t>();
    const auto coordinator_epoch = version_1 ? std::optional<std::int32_t>(-1) : reader.get<std::int32_t>();
    const auto txn_first = version_1 ? std::optional<std::int64_t>(-1) : reader.get<std::int64_t>();
    const auto batches = reader.get<std::int32_t>();
    if (!id || !epoch || !last_timestamp || !coordinator_epoch || !txn_first || !batches || *batches < 0 ||
        *txn_first < -1 || loaded.contains(protocol::ProducerId(*id))) {
        return false;
    }
    ProducerEntry& entry = loaded[protocol::ProducerId(*id)];
    entry.epoch = protocol::ProducerEpoch(*epoch);
    entry.last_timestamp_ms = *last_timestamp;
    entry.coordinator_epoch = *coordinator_epoch;
    if (*txn_first >= 0) {
        entry.current_txn_first_offset = Offset(*txn_first);
    }
    for (std::int32_t b = 0; b < *batches; ++b) {
        const auto first_sequence = reader.get<std::int32_t>();
        const auto last_sequence = reader.get<std::int32_t>();
        const auto first_offset = reader.get<std::int64_t>();
        const auto last_offset = reader.get<std::int64_t>();
        const auto timestamp = reader.get<std::int64_t>();
        if (!first_sequence || !last_sequence || !first_offset || !last_offset || !timestamp) {
            return false;
        }
        entry.batches.push_back(ProducerBatchMetadata{Sequence(*first_sequence), Sequence(*last_sequence),
                                                      Offset(*first_offset), Offset(*last_offset), *timestamp});
    }
    return true;
}

}  // namespace

bool ProducerStateManager::decode_snapshot(std::span<const std::byte> body, Offset offset) {
    ByteReader reader(body);
    const auto magic = reader.get<std::uint32_t>();
    const bool version_1 = magic == snapshot_magic_v1;
    if (!magic || (*magic != snapshot_magic && !version_1) || reader.get<std::int64_t>() != offset.value()) {
        return false;
    }
    const auto count = reader.get<std::int32_t>();
    if (!count || *count < 0) {
        return false;
    }
    std::map<protocol::ProducerId, ProducerEntry> loaded;
    for (std::int32_t i = 0; i < *count; ++i) {
        if (!decode_producer(reader, version_1, loaded)) {
            return false;
        }
    }
    std::map<Offset, CompletedTransaction> unreplicated;
    const auto completed_count = version_1 ? std::optional<std::int32_t>(0) : reader.get<std::int32_t>();
    if (!completed_count || *completed_count < 0) {
        return false;
    }
    for (std::int32_t i = 0; i < *completed_count; ++i) {
        const auto id = reader.get<std::int64_t>();
        const auto first = reader.get<std::int64_t>();
        const auto last = reader.get<std::int64_t>();
        const auto aborted = reader.get<std::uint8_t>();
        if (!id || !first || !last || !aborted || *first > *last || *last >= offset.value() || *aborted > 1) {
            return false;
        }
        unreplicated[Offset(*first)] =
            CompletedTransaction{protocol::ProducerId(*id), Offset(*first), Offset(*last), *aborted == 1};
    }
    if (reader.position() != body.size()) {
        return false;
    }
    producers_ = std::move(loaded);
    unreplicated_ = std::move(unreplicated);
    return true;
}

}  // namespace eosim::broker_core
