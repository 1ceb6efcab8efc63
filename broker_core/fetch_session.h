#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "protocol/messages.h"
#include "sim/random.h"
#include "sim/time.h"

namespace eosim::broker_core {

// The leader's side of fetch sessions (KIP-227, Kafka's FetchSessionCache and FetchContext): a bounded
// cache of sessions, each the set of partitions one fetcher reads with their fetch state and what the
// last answer told of each. Sessions live in memory only: a restarted broker knows none.
class FetchSessionCache {
public:
    // Kafka's max.incremental.fetch.session.cache.slots, and the age below which a session is safe from
    // eviction by a more valuable one (MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS).
    explicit FetchSessionCache(std::size_t slots, sim::Duration eviction = std::chrono::seconds(120))
        : slots_(slots), eviction_(eviction) {}

    // What one Fetch request reads, decided when it arrives.
    struct Context {
        protocol::ErrorCode error = protocol::ErrorCode::none;  // a session error: answer with it alone
        std::int32_t session_id = protocol::no_fetch_session;   // the session the answer names
        std::int32_t epoch = protocol::final_session_epoch;     // the session's epoch after this request
        bool incremental = false;
        // Every partition to read (the session's, for an incremental request), and, per partition, what
        // the session's last answer said of it (absent: nothing yet).
        std::vector<protocol::FetchPartition> partitions;
        std::map<protocol::TopicPartition, protocol::FetchPartitionResponse> last_answered;
    };

    // Validates the request's session fields, creates, updates or closes its session, and says what to read.
    Context open(const protocol::FetchRequest& request, sim::Random& random, sim::Time now);
    // Drops from an incremental answer the partitions with nothing new, and remembers what is answered.
    void finish(const Context& context, std::vector<protocol::FetchPartitionResponse>& answers);
    // Forgets a session (a buggify site: the client must start over with a full request).
    void evict(std::int32_t session_id) { sessions_.erase(session_id); }
    [[nodiscard]] std::size_t size() const { return sessions_.size(); }
    [[nodiscard]] bool contains(std::int32_t session_id) const { return sessions_.contains(session_id); }
    // The session's partitions as the cache holds them (empty: no such session).
    [[nodiscard]] std::vector<protocol::FetchPartition> partitions(std::int32_t session_id) const;

private:
    struct Session {
        protocol::BrokerId replica;
        std::int32_t next_epoch = 1;
        sim::Time created{};
        sim::Time last_used{};
        std::map<protocol::TopicPartition, protocol::FetchPartition> partitions;
        std::map<protocol::TopicPartition, protocol::FetchPartitionResponse> answered;  // offsets only, no batches
    };

    Context open_incremental(const protocol::FetchRequest& request, sim::Time now);
    // A new session for a full request, or none when the cache is full of sessions it may not evict.
    std::int32_t create(const protocol::FetchRequest& request, sim::Random& random, sim::Time now);
    // Kafka's rule when the cache is full: the least recently used session goes if it is stale (unused for
    // longer than the eviction age); else, among sessions older than that age, the least valuable one
    // (followers' before consumers', then more partitions before fewer) goes if the new session is worth
    // at least as much; a consumer's session never evicts a follower's. False: nothing may go.
    bool evict_for(bool privileged, std::size_t partitions, sim::Time now);

    std::size_t slots_;
    sim::Duration eviction_;
    std::map<std::int32_t, Session> sessions_;
};

// Whether an incremental answer must carry the partition: records, an error, a diverging epoch, or
// offsets that moved since the session's last answer for it.
[[nodiscard]] bool answer_has_news(const protocol::FetchPartitionResponse& answer,
                                   const protocol::FetchPartitionResponse* last);

}  // namespace eosim::broker_core
