#pragma once

#include <optional>
#include <string>
#include <vector>

#include "protocol/types.h"
#include "sim/disk.h"

namespace eosim::broker_core {

struct EpochEntry {
    protocol::LeaderEpoch epoch;
    protocol::Offset start_offset;
    bool operator==(const EpochEntry&) const = default;
};

// The answer to OffsetsForLeaderEpoch: the largest epoch at most the one asked for, and the offset
// where it ended (the start of the next epoch, or the log end for the latest). Undefined (-1, -1) for
// an undefined epoch, an empty cache, or an epoch newer than the latest.
struct EpochEndOffset {
    protocol::LeaderEpoch epoch = protocol::no_leader_epoch;
    protocol::Offset end_offset{-1};
    bool operator==(const EpochEndOffset&) const = default;
};

// Which leader epoch began at which offset (KIP-101), kept on disk in a checkpoint file that is
// replaced atomically (write a temporary file, fsync, rename).
class LeaderEpochCache {
public:
    LeaderEpochCache(sim::Disk& disk, std::string path);

    // Reads the checkpoint (a missing or unreadable one gives an empty cache).
    void load();

    // Records that `epoch` starts at `start_offset` (both >= 0, asserted). The latest epoch again, at or
    // after its start, changes nothing; otherwise the new entry wins over the newest entries with an
    // epoch or a start offset at least its own, which go (Kafka's LeaderEpochFileCache.assign).
    void assign(protocol::LeaderEpoch epoch, protocol::Offset start_offset);
    [[nodiscard]] std::optional<EpochEntry> latest() const;
    // Kafka's endOffsetFor: the latest epoch ends at `log_end_offset`; an older one at the start of the
    // next epoch kept, with the largest kept epoch <= requested; one older than every kept epoch (the
    // log start passed it) as itself, ending where the first kept epoch starts.
    [[nodiscard]] EpochEndOffset end_offset_for(protocol::LeaderEpoch requested, protocol::Offset log_end_offset) const;
    // The log was truncated to `end_offset`: forget epochs that start at or after it (nothing for a
    // negative, undefined, offset).
    void truncate_from_end(protocol::Offset end_offset);
    // The log now starts at `start_offset` (retention, DeleteRecords): epochs that ended before it are
    // forgotten, and the one holding it starts there (nothing for a negative offset).
    void truncate_from_start(protocol::Offset start_offset);
    // The log was emptied: forget every epoch.
    void clear();
    [[nodiscard]] const std::vector<EpochEntry>& entries() const { return entries_; }

private:
    void persist();

    sim::Disk& disk_;
    std::string path_;
    std::vector<EpochEntry> entries_;
};

// KIP-279, the leader's side of a follower's fetch: the follower's log ends at `fetch_offset` and its
// latest epoch is `last_fetched_epoch`. When that log diverges from the leader's, returns the leader's
// largest epoch at most the follower's and where it ends; nothing when the follower may go on fetching.
[[nodiscard]] std::optional<EpochEndOffset> find_divergence(const LeaderEpochCache& leader,
                                                            protocol::Offset leader_log_end,
                                                            protocol::LeaderEpoch last_fetched_epoch,
                                                            protocol::Offset fetch_offset);

// The follower's side: where it truncates given the leader's answer. The lower of the leader's end for
// the epoch and the follower's own end for that epoch; its log start when either has no such epoch.
// Never the high watermark (KIP-101).
[[nodiscard]] protocol::Offset truncation_offset(const LeaderEpochCache& follower, protocol::Offset follower_log_start,
                                                 protocol::Offset follower_log_end, const EpochEndOffset& leader_answer);

}  // namespace eosim::broker_core
