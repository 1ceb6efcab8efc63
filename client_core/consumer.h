#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client_core/history.h"
#include "client_core/metadata_client.h"
#include "protocol/fetch_session.h"

namespace eosim::client_core {

struct ConsumerConfig {
    std::string client_id = "consumer";
    sim::Duration fetch_max_wait{std::chrono::milliseconds(100)};
    sim::Duration request_timeout{std::chrono::milliseconds(1000)};
    sim::Duration retry_backoff{std::chrono::milliseconds(50)};
    std::uint64_t fetch_max_bytes = 50U << 20U;            // fetch.max.bytes, a whole answer (Kafka's default)
    std::uint64_t max_partition_fetch_bytes = 64U << 10U;  // max.partition.fetch.bytes
    bool reset_to_earliest = true;  // auto.offset.reset: earliest (else latest)
    // isolation.level: read_committed reads stop at the last stable offset and skip aborted transactions.
    protocol::IsolationLevel isolation = protocol::IsolationLevel::read_uncommitted;
};

// A record as poll() returns it.
struct ConsumedRecord {
    protocol::TopicPartition partition;
    protocol::Offset offset;
    protocol::Record record;
    protocol::LeaderEpoch leader_epoch = protocol::no_leader_epoch;  // of its batch (Kafka's leaderEpoch())
};

// A Kafka consumer with manual assignment. A poll sends one Fetch to each leader of assigned partitions,
// all at once, each in the fetch session of its connection (KIP-227), and reads up to the high watermark.
// It follows leadership changes: it sends the leader epoch it knows (a broker with another one refuses,
// KIP-320), and when a partition's leader epoch changed, it first validates its position against the new
// leader (OffsetsForLeaderEpoch for the epoch of the last record consumed): a leader whose log ends below
// the position lost records the consumer read (an unclean election), and the consumer seeks back to where
// the logs agree. On OFFSET_OUT_OF_RANGE it resets its position (ListOffsets, KIP-207). Seeks and resets
// are recorded as seeks; an answer to a fetch sent before a seek moved the position is dropped. Every
// assign, seek and non-empty poll of a partition is recorded.
class Consumer {
public:
    Consumer(sim::Node& node, ConsumerConfig config, protocol::ClusterAddresses addresses, HistoryRecorder& history);
    Consumer(const Consumer&) = delete;
    Consumer& operator=(const Consumer&) = delete;

    void assign(const protocol::TopicPartition& partition, protocol::Offset offset);
    // Starts at a committed offset with the leader epoch it was committed with (KIP-320): metadata older
    // than that epoch is not trusted for the partition.
    void assign(const protocol::TopicPartition& partition, protocol::Offset offset, protocol::LeaderEpoch epoch);
    // The leader epoch of the record before the position, when known (what a commit of the position carries).
    [[nodiscard]] protocol::LeaderEpoch position_epoch(const protocol::TopicPartition& partition) const {
        return positions_.at(partition).offset_epoch;
    }
    // Stops reading the partition (recorded as "unassign").
    void unassign(const protocol::TopicPartition& partition);
    [[nodiscard]] bool assigned(const protocol::TopicPartition& partition) const {
        return positions_.contains(partition);
    }
    void seek(const protocol::TopicPartition& partition, protocol::Offset offset);
    // One round of fetches (in a fiber): the records they brought, each partition's in offset order.
    std::vector<ConsumedRecord> poll();
    [[nodiscard]] protocol::Offset position(const protocol::TopicPartition& partition) const {
        return positions_.at(partition).offset;
    }
    // The leader's high watermark as of the last fetch (-1 before any).
    [[nodiscard]] protocol::Offset last_high_watermark(const protocol::TopicPartition& partition) const;
    // The partition's end as the consumer's isolation level sees it (Kafka's endOffsets: ListOffsets for the
    // latest offset, the last stable offset under read_committed), asked of its leader now; none when the
    // leader could not answer (the metadata is refreshed for the next try). In a fiber.
    [[nodiscard]] std::optional<protocol::Offset> end_offset(const protocol::TopicPartition& partition);
    // The same under `isolation` instead of the consumer's.
    [[nodiscard]] std::optional<protocol::Offset> end_offset(const protocol::TopicPartition& partition,
                                                             protocol::IsolationLevel isolation);

private:
    struct Position {
        protocol::Offset offset{0};
        // The leader epoch of the record before `offset`, when known (from a fetch): what validation asks
        // the leader about.
        protocol::LeaderEpoch offset_epoch = protocol::no_leader_epoch;
        // The leader epoch the position is known to be valid in (validated, or fetched from).
        protocol::LeaderEpoch validated_epoch = protocol::no_leader_epoch;
        protocol::Offset high_watermark{-1};
        std::uint64_t seeks = 0;  // bumped by every seek: a fetch sent before one is dropped
    };
    struct Connection {
        std::unique_ptr<sim::RpcClient> client;
        protocol::FetchSessionBuilder session;
    };

    void record_position(const char* f, const protocol::TopicPartition& partition, protocol::Offset offset);
    void seek_to(const protocol::TopicPartition& partition, protocol::Offset offset, protocol::LeaderEpoch epoch);
    void reset(const protocol::TopicPartition& partition);
    // KIP-320: true when the position may be fetched from the current leader (validated now if needed).
    bool validated(const protocol::TopicPartition& partition);
    // The fetch of every partition `broker` leads, built in its session.
    protocol::FetchRequest fetch_request(protocol::BrokerId broker,
                                         const std::vector<protocol::TopicPartition>& partitions);
    // Applies one partition's answer; false when the metadata must be refreshed.
    bool apply(const protocol::FetchPartitionResponse& answer, std::uint64_t seeks_when_sent,
               std::vector<ConsumedRecord>& out);

    sim::Node& node_;
    ConsumerConfig config_;
    MetadataClient metadata_;
    HistoryRecorder& history_;
    std::map<protocol::TopicPartition, Position> positions_;
    std::map<protocol::BrokerId, Connection> connections_;
};

}  // namespace eosim::client_core
