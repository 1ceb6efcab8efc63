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
};

// In history order of the completions.
std::vector<AckedSend> acked_sends(const History& history);

// One record of one ok poll.
struct Read {
    std::uint64_t index = 0;
    std::string process;
    std::string partition;
    std::int64_t offset = 0;
    std::string value;
};

// Every record of every ok poll, in history order then record order.
std::vector<Read> reads(const History& history);

// A committed log indexed by offset and by value.
struct LogIndex {
    CommittedLog log;
    std::map<std::int64_t, std::vector<std::string>> values_at;
    std::map<std::string, std::set<std::int64_t>> offsets_of;

    [[nodiscard]] bool holds(std::int64_t offset, const std::string& value) const;
    [[nodiscard]] const std::string* first_value_at(std::int64_t offset) const;
};

// By partition; only partitions that have at least one replica line.
std::map<std::string, LogIndex> committed_logs(const History& history);

// (process, partition) -> its ok polls, assigns and seeks, in history order.
using ProcessPartition = std::pair<std::string, std::string>;
std::map<ProcessPartition, std::vector<const Operation*>> consumer_timelines(const History& history);

// Partition -> the offsets that exist in it: in its committed log or read by anyone.
std::map<std::string, std::set<std::int64_t>> known_offsets(const std::map<std::string, LogIndex>& logs,
                                                            const std::vector<Read>& all_reads);

}  // namespace eosim::model
