#include "broker_core/transaction_index.h"

#include "broker_core/byte_io.h"
#include "sim/assert.h"

namespace eosim::broker_core {

using protocol::Offset;

namespace {

constexpr std::int16_t entry_version = 0;

void put_entry(ByteWriter& writer, const AbortedTransaction& aborted) {
    writer.put<std::int16_t>(entry_version);
    writer.put<std::int64_t>(aborted.producer_id.value());
    writer.put<std::int64_t>(aborted.first_offset.value());
    writer.put<std::int64_t>(aborted.last_offset.value());
    writer.put<std::int64_t>(aborted.last_stable_offset.value());
}

}  // namespace

std::vector<std::byte> encode_aborted_transactions(const std::vector<AbortedTransaction>& entries) {
    ByteWriter writer;
    for (const AbortedTransaction& aborted : entries) {
        put_entry(writer, aborted);
    }
    return writer.bytes();
}

TransactionIndex::TransactionIndex(sim::Disk& disk, std::string path, Offset start_offset)
    : disk_(disk), path_(std::move(path)), start_offset_(start_offset) {}

bool TransactionIndex::load() {
    entries_.clear();
    const auto bytes = disk_.read_all(path_);
    if (!bytes) {
        return false;
    }
    std::optional<std::vector<AbortedTransaction>> loaded = decode(*bytes, start_offset_);
    if (!loaded) {
        return false;
    }
    entries_ = std::move(*loaded);
    return true;
}

std::optional<std::vector<AbortedTransaction>> TransactionIndex::decode(std::span<const std::byte> bytes,
                                                                        Offset start_offset) {
    if (bytes.size() % entry_bytes != 0) {
        return std::nullopt;
    }
    ByteReader reader(bytes);
    std::vector<AbortedTransaction> loaded;
    while (reader.position() < bytes.size()) {
        const auto version = reader.get<std::int16_t>();
        const auto producer_id = reader.get<std::int64_t>();
        const auto first = reader.get<std::int64_t>();
        const auto last = reader.get<std::int64_t>();
        const auto last_stable = reader.get<std::int64_t>();
        if (!version || *version != entry_version || !producer_id || !first || !last || !last_stable ||
            *producer_id < 0 || *first < 0 || *first > *last || *last < start_offset.value() ||
            (!loaded.empty() && loaded.back().last_offset.value() >= *last)) {
            return std::nullopt;
        }
        loaded.push_back(AbortedTransaction{protocol::ProducerId(*producer_id), Offset(*first), Offset(*last),
                                            Offset(*last_stable)});
    }
    return loaded;
}

void TransactionIndex::append(const AbortedTransaction& aborted) {
    EOSIM_ASSERT(aborted.first_offset <= aborted.last_offset);
    EOSIM_ASSERT(aborted.last_offset >= start_offset_);
    EOSIM_ASSERT_MSG(entries_.empty() || entries_.back().last_offset < aborted.last_offset,
                     "the last offsets of aborted transactions must increase");
    entries_.push_back(aborted);
    ByteWriter writer;
    put_entry(writer, aborted);
    // A lost append is found and repaired by recovery, which checks the index against the segment.
    if (disk_.create(path_)) {
        (void)disk_.append(path_, writer.bytes());
    }
}

void TransactionIndex::truncate_to(Offset offset) {
    std::size_t kept = 0;
    while (kept < entries_.size() && entries_[kept].last_offset < offset) {
        ++kept;
    }
    if (kept == entries_.size()) {
        return;
    }
    entries_.resize(kept);
    if (disk_.exists(path_)) {
        (void)disk_.truncate(path_, kept * entry_bytes);
    }
}

void TransactionIndex::rewrite(std::vector<AbortedTransaction> entries) {
    entries_ = std::move(entries);
    const std::string temporary = path_ + ".tmp";
    (void)disk_.remove(temporary);
    if (!disk_.create(temporary) || !disk_.append(temporary, encode_aborted_transactions(entries_)) ||
        !disk_.fsync(temporary) || !disk_.rename(temporary, path_)) {
        (void)disk_.remove(temporary);  // recovery will find the index wrong and rebuild it again
        return;
    }
    (void)disk_.fsync_directory(sim::Disk::directory_of(path_));
}

void TransactionIndex::remove() {
    entries_.clear();
    (void)disk_.remove(path_);
}

sim::Status TransactionIndex::flush() {
    return disk_.exists(path_) ? disk_.fsync(path_) : sim::ok_status();
}

void TransactionIndex::collect(Offset from, Offset upto, std::vector<AbortedTransaction>& out) const {
    for (const AbortedTransaction& aborted : entries_) {
        if (aborted.last_offset >= from && aborted.first_offset < upto) {
            out.push_back(aborted);
        }
    }
}

}  // namespace eosim::broker_core
