#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client_core/history.h"
#include "client_core/metadata_client.h"

namespace eosim::client_core {

struct ConsumerConfig {
    std::string client_id = "consumer";
    sim::Duration fetch_max_wait{std::chrono::milliseconds(100)};
    sim::Duration request_timeout{std::chrono::milliseconds(1000)};
    sim::Duration retry_backoff{std::chrono::milliseconds(50)};
    std::uint64_t fetch_max_bytes = 64U << 10U;
    bool reset_to_earliest = true;  // auto.offset.reset: earliest (else latest)
};

// A Kafka consumer with manual assignment: it fetches each assigned partition from its leader (up to
// the high watermark), follows leadership changes, and on OFFSET_OUT_OF_RANGE resets its position
// (recorded as a seek). A fetch answered after a seek moved the position is dropped. Every assign,
// seek and non-empty poll is recorded.
class Consumer {
public:
    Consumer(sim::Node& node, ConsumerConfig config, protocol::ClusterAddresses addresses, HistoryRecorder& history);
    Consumer(const Consumer&) = delete;
    Consumer& operator=(const Consumer&) = delete;

    void assign(const protocol::TopicPartition& partition, protocol::Offset offset);
    void seek(const protocol::TopicPartition& partition, protocol::Offset offset);
    // One fetch of one partition (in a fiber): the records it got, in offset order.
    std::vector<std::pair<protocol::Offset, protocol::Record>> poll(const protocol::TopicPartition& partition);
    [[nodiscard]] protocol::Offset position(const protocol::TopicPartition& partition) const {
        return positions_.at(partition);
    }
    // The leader's high watermark as of the last fetch (-1 before any).
    [[nodiscard]] protocol::Offset last_high_watermark(const protocol::TopicPartition& partition) const;

private:
    void record_position(const char* f, const protocol::TopicPartition& partition, protocol::Offset offset);
    void reset(const protocol::TopicPartition& partition);

    sim::Node& node_;
    ConsumerConfig config_;
    MetadataClient metadata_;
    HistoryRecorder& history_;
    std::map<protocol::TopicPartition, protocol::Offset> positions_;
    std::map<protocol::TopicPartition, protocol::Offset> high_watermarks_;
    std::map<protocol::TopicPartition, std::pair<protocol::BrokerId, std::unique_ptr<sim::RpcClient>>> connections_;
};

}  // namespace eosim::client_core
