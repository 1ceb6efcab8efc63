#include "broker_core/group_offsets.h"

namespace eosim::broker_core {

void GroupOffsets::commit(const std::string& group, const protocol::TopicPartition& partition,
                          OffsetAndMetadata value) {
    committed_[group][partition] = std::move(value);
}

void GroupOffsets::commit_pending(const std::string& group, protocol::ProducerId producer_id,
                                  const protocol::TopicPartition& partition, OffsetAndMetadata value) {
    pending_[producer_id][group][partition] = std::move(value);
}

void GroupOffsets::end_transaction(protocol::ProducerId producer_id, bool committed) {
    const auto found = pending_.find(producer_id);
    if (found == pending_.end()) {
        return;
    }
    if (committed) {
        for (auto& [group, offsets] : found->second) {
            Offsets& current = committed_[group];
            for (auto& [partition, value] : offsets) {
                const auto existing = current.find(partition);
                // A plain commit logged after the transactional one is newer, though applied first.
                if (existing == current.end() || existing->second.record_offset < value.record_offset) {
                    current[partition] = std::move(value);
                }
            }
        }
    }
    pending_.erase(found);
}

void GroupOffsets::remove(const std::string& group, const protocol::TopicPartition& partition) {
    const auto offsets = committed_.find(group);
    if (offsets != committed_.end()) {
        offsets->second.erase(partition);
        if (offsets->second.empty()) {
            committed_.erase(offsets);
        }
    }
}

void GroupOffsets::remove_group(const std::string& group) {
    committed_.erase(group);
    for (auto it = pending_.begin(); it != pending_.end();) {
        it->second.erase(group);
        it = it->second.empty() ? pending_.erase(it) : std::next(it);
    }
}

std::optional<OffsetAndMetadata> GroupOffsets::committed(const std::string& group,
                                                         const protocol::TopicPartition& partition) const {
    const auto offsets = committed_.find(group);
    if (offsets == committed_.end()) {
        return std::nullopt;
    }
    const auto found = offsets->second.find(partition);
    return found == offsets->second.end() ? std::nullopt : std::optional(found->second);
}

const std::map<protocol::TopicPartition, OffsetAndMetadata>* GroupOffsets::committed(const std::string& group) const {
    const auto offsets = committed_.find(group);
    return offsets == committed_.end() ? nullptr : &offsets->second;
}

bool GroupOffsets::has_pending(const std::string& group, const protocol::TopicPartition& partition) const {
    for (const auto& [producer, groups] : pending_) {
        const auto offsets = groups.find(group);
        if (offsets != groups.end() && offsets->second.contains(partition)) {
            return true;
        }
    }
    return false;
}

bool GroupOffsets::has_pending(const std::string& group) const { return !open_transactions(group).empty(); }

std::set<protocol::ProducerId> GroupOffsets::open_transactions(const std::string& group) const {
    std::set<protocol::ProducerId> producers;
    for (const auto& [producer, groups] : pending_) {
        if (groups.contains(group)) {
            producers.insert(producer);
        }
    }
    return producers;
}

}  // namespace eosim::broker_core
