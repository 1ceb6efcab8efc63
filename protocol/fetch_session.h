#pragma once

#include <map>
#include <vector>

#include "protocol/messages.h"

namespace eosim::protocol {

// The fetcher's side of a fetch session (KIP-227, Kafka's FetchSessionHandler), for one connection to
// one broker: the first request is full and asks for a session; while the session lives, each request
// carries only the partitions added or whose fetch state changed, and those dropped. Any failure (no
// answer, a session error, an answer that does not fit the request) makes the next request full again.
class FetchSessionBuilder {
public:
    // The request for `wanted`, every partition to fetch now with its fetch state; `base` gives the
    // replica id, max wait and max bytes.
    FetchRequest build(const std::vector<FetchPartition>& wanted, FetchRequest base) {
        base.session_id = session_id_;
        base.session_epoch = epoch_;
        base.partitions.clear();
        base.forgotten.clear();
        pending_.clear();
        for (const FetchPartition& partition : wanted) {
            pending_.emplace(partition.partition, partition);
        }
        full_ = epoch_ == initial_session_epoch;
        for (const FetchPartition& partition : wanted) {
            const auto sent = sent_.find(partition.partition);
            if (full_ || sent == sent_.end() || !(sent->second == partition)) {
                base.partitions.push_back(partition);
            }
        }
        if (!full_) {
            for (const auto& [partition, state] : sent_) {
                if (!pending_.contains(partition)) {
                    base.forgotten.push_back(partition);
                }
            }
        }
        return base;
    }

    // Takes the answer to the last request built: false when it is a session error or does not fit the
    // request (then it must be ignored, and the next request is full).
    bool handle_response(const FetchResponse& response) {
        if (response.error != ErrorCode::none || !fits(response)) {
            if (response.error == ErrorCode::fetch_session_id_not_found) {
                session_id_ = no_fetch_session;
            }
            restart();
            return false;
        }
        if (full_) {
            session_id_ = response.session_id;
            epoch_ = session_id_ == no_fetch_session ? initial_session_epoch : next_session_epoch(initial_session_epoch);
        } else {
            epoch_ = next_session_epoch(epoch_);
        }
        sent_ = std::move(pending_);
        pending_.clear();
        return true;
    }

    // The last request got no answer: the next one is full (and replaces the session).
    void handle_error() { restart(); }

    [[nodiscard]] std::int32_t session_id() const { return session_id_; }
    [[nodiscard]] std::int32_t epoch() const { return epoch_; }

private:
    // A full answer holds every partition asked for, an incremental one only partitions of the session.
    [[nodiscard]] bool fits(const FetchResponse& response) const {
        std::map<TopicPartition, int> seen;
        for (const FetchPartitionResponse& partition : response.partitions) {
            if (!pending_.contains(partition.partition) || ++seen[partition.partition] > 1) {
                return false;
            }
        }
        return !full_ || seen.size() == pending_.size();
    }

    void restart() {
        epoch_ = initial_session_epoch;
        sent_.clear();
        pending_.clear();
    }

    std::int32_t session_id_ = no_fetch_session;
    std::int32_t epoch_ = initial_session_epoch;
    bool full_ = true;
    std::map<TopicPartition, FetchPartition> sent_;     // the session's partitions as the broker has them
    std::map<TopicPartition, FetchPartition> pending_;  // as of the last request built
};

}  // namespace eosim::protocol
