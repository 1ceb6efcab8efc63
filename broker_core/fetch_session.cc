#include "broker_core/fetch_session.h"

#include <algorithm>

namespace eosim::broker_core {

using protocol::ErrorCode;
using protocol::FetchPartition;
using protocol::FetchPartitionResponse;
using protocol::FetchRequest;

FetchSessionCache::Context FetchSessionCache::open(const FetchRequest& request, sim::Random& random, sim::Time now) {
    if (request.session_epoch != protocol::initial_session_epoch &&
        request.session_epoch != protocol::final_session_epoch) {
        return open_incremental(request, now);
    }
    // A full request: it closes the session it names, if any, and creates one for epoch 0.
    sessions_.erase(request.session_id);
    Context context;
    context.partitions = request.partitions;
    if (request.session_epoch == protocol::initial_session_epoch) {
        context.session_id = create(request, random, now);
        context.epoch = context.session_id == protocol::no_fetch_session ? protocol::final_session_epoch : 1;
    }
    return context;
}

FetchSessionCache::Context FetchSessionCache::open_incremental(const FetchRequest& request, sim::Time now) {
    Context context;
    const auto found = sessions_.find(request.session_id);
    if (found == sessions_.end() || found->second.replica != request.replica) {
        context.error = ErrorCode::fetch_session_id_not_found;
        return context;
    }
    Session& session = found->second;
    if (request.session_epoch != session.next_epoch) {
        context.error = ErrorCode::invalid_fetch_session_epoch;
        return context;
    }
    for (const protocol::TopicPartition& partition : request.forgotten) {
        session.partitions.erase(partition);
        session.answered.erase(partition);
    }
    for (const FetchPartition& partition : request.partitions) {
        session.partitions[partition.partition] = partition;
    }
    session.next_epoch = protocol::next_session_epoch(session.next_epoch);
    session.last_used = now;
    context.session_id = request.session_id;
    context.epoch = session.next_epoch;
    context.incremental = true;
    for (const auto& [partition, state] : session.partitions) {
        context.partitions.push_back(state);
    }
    context.last_answered = session.answered;
    return context;
}

std::int32_t FetchSessionCache::create(const FetchRequest& request, sim::Random& random, sim::Time now) {
    const bool privileged = request.replica != protocol::consumer_replica_id;
    if (slots_ == 0 || (sessions_.size() >= slots_ && !evict_for(privileged, request.partitions.size(), now))) {
        return protocol::no_fetch_session;
    }
    std::int32_t id = protocol::no_fetch_session;
    while (id == protocol::no_fetch_session || sessions_.contains(id)) {
        id = static_cast<std::int32_t>(random.below(INT32_MAX)) + 1;
    }
    Session& session = sessions_[id];
    session.replica = request.replica;
    session.created = now;
    session.last_used = now;
    for (const FetchPartition& partition : request.partitions) {
        session.partitions[partition.partition] = partition;
    }
    return id;
}

bool FetchSessionCache::evict_for(bool privileged, std::size_t partitions, sim::Time now) {
    const auto least_recent = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
        return std::pair(a.second.last_used, a.first) < std::pair(b.second.last_used, b.first);
    });
    if (least_recent == sessions_.end()) {
        return false;
    }
    if (now - least_recent->second.last_used > eviction_) {
        sessions_.erase(least_recent);
        return true;
    }
    // A session's worth: a follower's above a consumer's, then by partitions, then by id.
    const auto worth = [](const auto& entry) {
        return std::tuple(entry.second.replica != protocol::consumer_replica_id, entry.second.partitions.size(),
                          entry.first);
    };
    auto victim = sessions_.end();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
        const bool follower = it->second.replica != protocol::consumer_replica_id;
        if (now - it->second.created < eviction_ || (privileged && follower)) {
            continue;  // too young to evict, or (for a follower's) not evictable by a follower
        }
        if (victim == sessions_.end() || worth(*it) < worth(*victim)) {
            victim = it;
        }
    }
    if (victim == sessions_.end() ||
        std::tuple(privileged, partitions, std::int32_t{0}) < worth(*victim)) {
        return false;
    }
    sessions_.erase(victim);
    return true;
}

std::vector<FetchPartition> FetchSessionCache::partitions(std::int32_t session_id) const {
    std::vector<FetchPartition> out;
    const auto found = sessions_.find(session_id);
    if (found != sessions_.end()) {
        for (const auto& [partition, state] : found->second.partitions) {
            out.push_back(state);
        }
    }
    return out;
}

bool answer_has_news(const FetchPartitionResponse& answer, const FetchPartitionResponse* last) {
    return last == nullptr || !answer.batches.empty() || answer.error != ErrorCode::none ||
           answer.diverging_epoch.has_value() || answer.high_watermark != last->high_watermark ||
           answer.log_start_offset != last->log_start_offset || answer.leader_epoch != last->leader_epoch ||
           last->error != ErrorCode::none;
}

void FetchSessionCache::finish(const Context& context, std::vector<FetchPartitionResponse>& answers) {
    if (context.incremental) {
        std::erase_if(answers, [&context](const FetchPartitionResponse& answer) {
            const auto last = context.last_answered.find(answer.partition);
            return !answer_has_news(answer, last != context.last_answered.end() ? &last->second : nullptr);
        });
    }
    const auto found = sessions_.find(context.session_id);
    if (found == sessions_.end() || found->second.next_epoch != context.epoch) {
        return;  // closed, evicted, or a newer request of it came meanwhile
    }
    for (const FetchPartitionResponse& answer : answers) {
        if (found->second.partitions.contains(answer.partition)) {
            FetchPartitionResponse& kept = found->second.answered[answer.partition];
            kept = answer;
            kept.batches.clear();
        }
    }
}

}  // namespace eosim::broker_core
