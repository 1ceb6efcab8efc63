#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/history.h"

// What the checkers share: a history's acknowledged sends, reads, committed logs and consumer timelines, each
// in a deterministic order. Internal to model/.

namespace eosim::model {

// An ok send and the index of the invoke it completes (its own index when no invoke matches).
struct AckedSend {
    std::uint64_t invoke_index = 0;
    std::uint64_t index = 0;
    std::string process;
    std::string partition;
    std::string value;
    Acks acks = Acks::all;
    std::optional<std::int64_t> offset;
    std::optional<std::string> key;
};

// In history order of the completions. Tombstones (sends without a value) are left out.
std::vector<AckedSend> acked_sends(const History& history);

// One record of one ok poll.
struct Read {
    std::uint64_t index = 0;
    std::string process;
    std::string partition;
    std::int64_t offset = 0;
    std::string value;
    std::optional<std::string> key;
};

// Every record of every ok poll, in history order then record order; tombstones are left out.
std::vector<Read> reads(const History& history);

// A committed log indexed by offset and by value.
struct LogIndex {
    CommittedLog log;
    std::map<std::int64_t, std::vector<std::string>> values_at;  // tombstones left out
    std::map<std::string, std::set<std::int64_t>> offsets_of;
    std::set<std::int64_t> offsets;                            // of every record, tombstones included
    std::map<std::string, std::int64_t> latest_offset_of_key;  // tombstones included

    [[nodiscard]] bool holds(std::int64_t offset, const std::string& value) const;
    [[nodiscard]] const std::string* first_value_at(std::int64_t offset) const;
};

// By partition; only partitions that have at least one replica line.
std::map<std::string, LogIndex> committed_logs(const History& history);

// What was written to each key of each partition, for compacted partitions: a record may be gone
// because a later write of its key superseded it.
class KeyWrites {
public:
    explicit KeyWrites(const History& history);
    // Whether a write of `key` at `offset` of `partition` may have been superseded: the committed log
    // holds the key at a higher offset, or a write of the key (tombstones included) was acknowledged at a
    // higher offset, or one has an unknown outcome (it may have landed later).
    [[nodiscard]] bool superseded(const LogIndex& log, const std::string& key, std::int64_t offset) const;
    // The acknowledged write of `key` with the highest offset: its offset and whether it was a tombstone.
    [[nodiscard]] std::optional<std::pair<std::int64_t, bool>> latest_acknowledged(const std::string& partition,
                                                                                    const std::string& key) const;
    // Whether some write of `key` with an unknown outcome was a tombstone.
    [[nodiscard]] bool unknown_tombstone(const std::string& partition, const std::string& key) const;
    // The keys with an acknowledged write, per partition.
    [[nodiscard]] std::vector<std::string> keys(const std::string& partition) const;

private:
    struct Writes {
        std::map<std::int64_t, bool> acknowledged;  // offset -> tombstone
        bool unknown = false;
        bool unknown_tombstone = false;
    };
    std::map<std::pair<std::string, std::string>, Writes> writes_;
};

// (process, partition) -> its ok polls, assigns and seeks, in history order.
using ProcessPartition = std::pair<std::string, std::string>;
std::map<ProcessPartition, std::vector<const Operation*>> consumer_timelines(const History& history);

// Partition -> the offsets that exist in it: in its committed log or read by anyone.
std::map<std::string, std::set<std::int64_t>> known_offsets(const std::map<std::string, LogIndex>& logs,
                                                            const std::vector<Read>& all_reads);

}  // namespace eosim::model
