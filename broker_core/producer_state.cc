#include "broker_core/producer_state.h"

#include <algorithm>

#include <fmt/format.h>

#include "broker_core/byte_io.h"
#include "protocol/sequence.h"
#include "sim/crc32c.h"

namespace eosim::broker_core {

using protocol::Offset;
using protocol::Sequence;

namespace {

constexpr std::string_view snapshot_suffix = ".snapshot";
constexpr std::uint32_t snapshot_magic = 0x50534e31;  // "PSN1"
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
        return SequenceCheck{first.value() == 0 ? SequenceVerdict::append : SequenceVerdict::unknown_producer_id, {}};
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

void ProducerStateManager::update(const protocol::RecordBatch& batch) {
    end_offset_ = std::max(end_offset_, batch.next_offset());
    if (batch.producer_id.value() < 0) {
        return;
    }
    ProducerEntry& entry = producers_[batch.producer_id];
    if (batch.producer_epoch != entry.epoch) {
        entry.batches.clear();  // a new epoch: its sequences start again
        entry.epoch = batch.producer_epoch;
    }
    const std::int64_t timestamp = batch.max_timestamp_ms();
    entry.batches.push_back(ProducerBatchMetadata{batch.base_sequence, last_sequence_of(batch), batch.base_offset,
                                                  batch.last_offset(), timestamp});
    while (entry.batches.size() > config_.batches_kept) {
        entry.batches.pop_front();
    }
    entry.last_timestamp_ms = std::max(entry.last_timestamp_ms, timestamp);
}

std::size_t ProducerStateManager::expire(std::int64_t now_ms) {
    return std::erase_if(producers_, [this, now_ms](const auto& item) {
        return now_ms - item.second.last_timestamp_ms >= config_.expiration_ms;
    });
}

void ProducerStateManager::reset(Offset end) {
    ++rebuilds_;
    producers_.clear();
    end_offset_ = end;
}

void ProducerStateManager::advance_to(Offset end) {
    ++rebuilds_;
    end_offset_ = end;
}

std::string ProducerStateManager::snapshot_path(Offset offset) const {
    return fmt::format("{}/{:020d}{}", directory_, offset.value(), snapshot_suffix);
}

std::vector<Offset> ProducerStateManager::snapshot_offsets() const {
    std::vector<Offset> offsets;
    const std::string prefix = directory_ + "/";
    for (const std::string& path : disk_.list(prefix)) {
        const std::string name = path.substr(prefix.size());
        if (name.size() == 20 + snapshot_suffix.size() && name.ends_with(snapshot_suffix)) {
            offsets.emplace_back(std::stoll(name.substr(0, 20)));
        }
    }
    return offsets;  // zero-padded names list in numeric order
}

void ProducerStateManager::take_snapshot() {
    ByteWriter writer;
    writer.put<std::uint32_t>(snapshot_magic);
    writer.put<std::int64_t>(end_offset_.value());
    writer.put<std::int32_t>(static_cast<std::int32_t>(producers_.size()));
    for (const auto& [id, entry] : producers_) {
        writer.put<std::int64_t>(id.value());
        writer.put<std::int16_t>(entry.epoch.value());
        writer.put<std::int64_t>(entry.last_timestamp_ms);
        writer.put<std::int32_t>(static_cast<std::int32_t>(entry.batches.size()));
        for (const ProducerBatchMetadata& batch : entry.batches) {
            writer.put<std::int32_t>(batch.first_sequence.value());
            writer.put<std::int32_t>(batch.last_sequence.value());
            writer.put<std::int64_t>(batch.first_offset.value());
            writer.put<std::int64_t>(batch.last_offset.value());
            writer.put<std::int64_t>(batch.timestamp_ms);
        }
    }
    writer.put<std::uint32_t>(sim::crc32c(writer.bytes()));
    const std::string path = snapshot_path(end_offset_);
    const std::string temporary = path + ".tmp";
    const std::uint64_t rebuilds = rebuilds_;
    (void)disk_.remove(temporary);
    if (!disk_.create(temporary) || !disk_.append(temporary, writer.bytes()) || !disk_.fsync(temporary) ||
        rebuilds != rebuilds_ || !disk_.rename(temporary, path)) {
        (void)disk_.remove(temporary);  // a snapshot is an optimisation: recovery replays more without it
        return;
    }
    std::vector<Offset> offsets = snapshot_offsets();
    while (offsets.size() > snapshots_kept) {
        (void)disk_.remove(snapshot_path(offsets.front()));
        offsets.erase(offsets.begin());
    }
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
        std::map<protocol::ProducerId, ProducerEntry> loaded;
        bool good = bytes.ok() && bytes->size() >= 20;
        if (good) {
            const std::span<const std::byte> body = std::span<const std::byte>(*bytes).first(bytes->size() - 4);
            ByteReader crc_reader{std::span<const std::byte>(*bytes).subspan(bytes->size() - 4)};
            good = crc_reader.get<std::uint32_t>() == sim::crc32c(body);
            ByteReader reader(body);
            good = good && reader.get<std::uint32_t>() == snapshot_magic && reader.get<std::int64_t>() == offset.value();
            const auto count = good ? reader.get<std::int32_t>() : std::nullopt;
            good = good && count && *count >= 0;
            for (std::int32_t i = 0; good && i < *count; ++i) {
                const auto id = reader.get<std::int64_t>();
                const auto epoch = reader.get<std::int16_t>();
                const auto last_timestamp = reader.get<std::int64_t>();
                const auto batches = reader.get<std::int32_t>();
                good = id && epoch && last_timestamp && batches && *batches >= 0;
                if (!good) {
                    break;
                }
                ProducerEntry& entry = loaded[protocol::ProducerId(*id)];
                entry.epoch = protocol::ProducerEpoch(*epoch);
                entry.last_timestamp_ms = *last_timestamp;
                for (std::int32_t b = 0; good && b < *batches; ++b) {
                    const auto first_sequence = reader.get<std::int32_t>();
                    const auto last_sequence = reader.get<std::int32_t>();
                    const auto first_offset = reader.get<std::int64_t>();
                    const auto last_offset = reader.get<std::int64_t>();
                    const auto timestamp = reader.get<std::int64_t>();
                    good = first_sequence && last_sequence && first_offset && last_offset && timestamp;
                    if (good) {
                        entry.batches.push_back(ProducerBatchMetadata{Sequence(*first_sequence), Sequence(*last_sequence),
                                                                      Offset(*first_offset), Offset(*last_offset),
                                                                      *timestamp});
                    }
                }
            }
            good = good && reader.position() == body.size();
        }
        if (good) {
            producers_ = std::move(loaded);
            end_offset_ = offset;
            return offset;
        }
        (void)disk_.remove(snapshot_path(offset));  // torn or damaged: an older one, or a longer replay
    }
    return std::nullopt;
}

}  // namespace eosim::broker_core
