#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/types.h"
#include "sim/disk.h"

namespace eosim::broker_core {

// One aborted transaction of one producer on one partition (Kafka's AbortedTxn): its data is
// [first_offset, last_offset), its ABORT marker at last_offset. last_stable_offset is the partition's
// LSO when the marker was appended, as Kafka's lastStableOffset(CompletedTxn) has it: the first offset
// of the oldest transaction of another producer still ongoing, else the marker's next offset.
struct AbortedTransaction {
    protocol::ProducerId producer_id = protocol::no_producer_id;
    protocol::Offset first_offset{0};
    protocol::Offset last_offset{0};
    protocol::Offset last_stable_offset{0};

    bool operator==(const AbortedTransaction&) const = default;
};

// Kafka's TransactionIndex: the aborted transactions whose ABORT marker is in one segment, in marker
// order, kept in memory and in a file beside the segment ("<base>.txnindex"). Each entry is 34 bytes,
// little-endian: version (i16, 0), producer id (i64), first offset, last offset, last stable offset
// (i64 each). Appends are not synced by themselves (flush() syncs them); recovery checks the file
// against the segment's ABORT markers and rebuilds it when they differ.
class TransactionIndex {
public:
    static constexpr std::uint64_t entry_bytes = 34;

    // The index of the segment that starts at `start_offset`.
    TransactionIndex(sim::Disk& disk, std::string path, protocol::Offset start_offset);

    // Reads the file; false (and no entries) when it is missing, torn or malformed (a bad version,
    // last offsets not increasing, first above last, a marker below the segment's start: Kafka's
    // sanityCheck).
    bool load();
    // The entries of a file's bytes for the segment that starts at `start_offset`; nothing when they are
    // torn or malformed (the checks of load()).
    [[nodiscard]] static std::optional<std::vector<AbortedTransaction>> decode(std::span<const std::byte> bytes,
                                                                             protocol::Offset start_offset);
    // Adds an entry whose last offset is above every other's (asserted).
    void append(const AbortedTransaction& aborted);
    // Removes the entries whose marker is at or past `offset` (Kafka's truncateTo).
    void truncate_to(protocol::Offset offset);
    // Replaces the file by exactly `entries`, durably (a temporary file, fsync, rename).
    void rewrite(std::vector<AbortedTransaction> entries);
    void remove();
    sim::Status flush();

    // The entries whose transaction overlaps [from, upto): last offset at or past `from`, first offset
    // below `upto` (Kafka's collectAbortedTxns), in marker order, added to `out`.
    void collect(protocol::Offset from, protocol::Offset upto, std::vector<AbortedTransaction>& out) const;
    [[nodiscard]] const std::vector<AbortedTransaction>& entries() const { return entries_; }
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    sim::Disk& disk_;
    std::string path_;
    protocol::Offset start_offset_;
    std::vector<AbortedTransaction> entries_;
};

// The index file's bytes of `entries`.
[[nodiscard]] std::vector<std::byte> encode_aborted_transactions(const std::vector<AbortedTransaction>& entries);

}  // namespace eosim::broker_core
