#include "broker_core/leader_epoch_cache.h"

#include <algorithm>
#include <sstream>

#include "broker_core/checkpoint_file.h"
#include "sim/assert.h"

namespace eosim::broker_core {

LeaderEpochCache::LeaderEpochCache(sim::Disk& disk, std::string path) : disk_(disk), path_(std::move(path)) {}

void LeaderEpochCache::load() {
    entries_.clear();
    // Missing or damaged: recovery assigns every batch's epoch again, as it does for a checkpoint that lags.
    const std::optional<std::string> opened = read_checkpoint(disk_, path_);
    if (!opened) {
        return;
    }
    std::istringstream text(*opened);
    std::int32_t epoch = 0;
    std::int64_t offset = 0;
    while (text >> epoch >> offset) {
        const EpochEntry entry{protocol::LeaderEpoch(epoch), protocol::Offset(offset)};
        if (!entries_.empty() && (entries_.back().epoch >= entry.epoch || entries_.back().start_offset > entry.start_offset)) {
            break;  // entries out of order (never written so): keep the consistent prefix
        }
        entries_.push_back(entry);
    }
}

void LeaderEpochCache::persist() {
    std::ostringstream text;
    for (const EpochEntry& entry : entries_) {
        text << entry.epoch.value() << ' ' << entry.start_offset.value() << '\n';
    }
    // A write that failed (a full disk) leaves the checkpoint as it was, never a short one in its place:
    // the broker is going offline, and recovery rebuilds the cache from the log.
    (void)write_checkpoint(disk_, path_, text.str());
}

void LeaderEpochCache::assign(protocol::LeaderEpoch epoch, protocol::Offset start_offset) {
    EOSIM_ASSERT_MSG(epoch.value() >= 0 && start_offset.value() >= 0, "an epoch entry needs an epoch and an offset");
    if (!entries_.empty() && epoch == entries_.back().epoch && start_offset >= entries_.back().start_offset) {
        return;  // the latest epoch goes on: where it started stays
    }
    // As Kafka's LeaderEpochFileCache: the new entry wins, and the newest entries that conflict with it
    // (an epoch or a start offset at least its own) go, so epochs and offsets both keep increasing.
    while (!entries_.empty() && (entries_.back().epoch >= epoch || entries_.back().start_offset >= start_offset)) {
        entries_.pop_back();
    }
    entries_.push_back(EpochEntry{epoch, start_offset});
    persist();
}

std::optional<EpochEntry> LeaderEpochCache::latest() const {
    if (entries_.empty()) {
        return std::nullopt;
    }
    return entries_.back();
}

EpochEndOffset LeaderEpochCache::end_offset_for(protocol::LeaderEpoch requested, protocol::Offset log_end_offset) const {
    if (requested.value() < 0 || entries_.empty()) {
        return EpochEndOffset{};  // an undefined epoch (a follower without epochs), or nothing known
    }
    if (requested == entries_.back().epoch) {
        return EpochEndOffset{requested, log_end_offset};  // the current epoch ends at the log end
    }
    const auto newer = [](protocol::LeaderEpoch epoch, const EpochEntry& entry) { return epoch < entry.epoch; };
    const auto higher = std::upper_bound(entries_.begin(), entries_.end(), requested, newer);
    if (higher == entries_.end()) {
        return EpochEndOffset{};  // newer than any epoch known here
    }
    if (higher == entries_.begin()) {
        // Older than every epoch kept (the log start passed them): it ended no later than where the
        // first kept one starts.
        return EpochEndOffset{requested, higher->start_offset};
    }
    // The largest epoch <= requested ends where the next epoch starts.
    return EpochEndOffset{std::prev(higher)->epoch, higher->start_offset};
}

void LeaderEpochCache::truncate_from_end(protocol::Offset end_offset) {
    if (end_offset.value() < 0) {
        return;  // an undefined offset truncates nothing (Kafka: UNDEFINED_EPOCH_OFFSET)
    }
    const std::size_t before = entries_.size();
    while (!entries_.empty() && entries_.back().start_offset >= end_offset) {
        entries_.pop_back();
    }
    if (entries_.size() != before) {
        persist();
    }
}

void LeaderEpochCache::truncate_from_start(protocol::Offset start_offset) {
    if (start_offset.value() < 0) {
        return;  // an undefined offset truncates nothing (Kafka: UNDEFINED_EPOCH_OFFSET)
    }
    std::size_t first_kept = 0;
    while (first_kept + 1 < entries_.size() && entries_[first_kept + 1].start_offset <= start_offset) {
        ++first_kept;
    }
    const bool moves = !entries_.empty() && entries_[first_kept].start_offset < start_offset;
    if (first_kept == 0 && !moves) {
        return;
    }
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(first_kept));
    if (moves) {
        entries_.front().start_offset = start_offset;
    }
    persist();
}

void LeaderEpochCache::clear() {
    if (!entries_.empty()) {
        entries_.clear();
        persist();
    }
}

std::optional<EpochEndOffset> find_divergence(const LeaderEpochCache& leader, protocol::Offset leader_log_end,
                                              protocol::LeaderEpoch last_fetched_epoch, protocol::Offset fetch_offset) {
    if (last_fetched_epoch.value() < 0) {
        return std::nullopt;  // an empty follower (or one without epochs) cannot diverge
    }
    const EpochEndOffset ours = leader.end_offset_for(last_fetched_epoch, leader_log_end);
    if (ours.epoch != last_fetched_epoch || ours.end_offset < fetch_offset) {
        return ours;
    }
    return std::nullopt;
}

protocol::Offset truncation_offset(const LeaderEpochCache& follower, protocol::Offset follower_log_start,
                                   protocol::Offset follower_log_end, const EpochEndOffset& leader_answer) {
    if (leader_answer.epoch.value() < 0) {
        return follower_log_start;
    }
    const EpochEndOffset ours = follower.end_offset_for(leader_answer.epoch, follower_log_end);
    if (ours.epoch.value() < 0) {
        return follower_log_start;
    }
    return protocol::Offset(std::min(leader_answer.end_offset.value(), ours.end_offset.value()));
}

}  // namespace eosim::broker_core
