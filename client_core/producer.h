#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client_core/history.h"
#include "client_core/metadata_client.h"
#include "sim/condition.h"
#include "sim/future.h"

namespace eosim::client_core {

struct ProducerConfig {
    std::string client_id = "producer";
    std::int16_t acks = -1;           // -1 (all), 1, 0
    std::int32_t max_in_flight = 1;   // batches in flight per partition (more can reorder on retry)
    std::size_t batch_records_max = 16;
    sim::Duration linger{std::chrono::milliseconds(2)};
    sim::Duration request_timeout{std::chrono::milliseconds(1000)};
    sim::Duration delivery_timeout{std::chrono::seconds(10)};
    sim::Duration retry_backoff{std::chrono::milliseconds(50)};
};

struct SendOutcome {
    enum class Status : std::uint8_t { ok, failed, unknown };
    Status status = Status::unknown;
    protocol::Offset offset{-1};
    protocol::ErrorCode error = protocol::ErrorCode::none;
};

// A Kafka producer without idempotence: records are batched per partition (hash(key) % partitions,
// XXH64; unkeyed records stick to one partition per batch), sent to the partition's leader with the
// configured acks, retried with backoff on retriable errors and on timeouts until the delivery
// timeout. Every send is recorded: invoke, then ok (with its offset), fail (it was definitely not
// written) or info (unknown).
class Producer {
public:
    Producer(sim::Node& node, ProducerConfig config, protocol::ClusterAddresses addresses, HistoryRecorder& history);
    Producer(const Producer&) = delete;
    Producer& operator=(const Producer&) = delete;

    // In a fiber (it may fetch metadata first).
    sim::Future<SendOutcome> send(const std::string& topic, std::optional<std::string> key, std::string value);
    [[nodiscard]] std::size_t pending() const { return pending_; }

private:
    struct Pending {
        protocol::Record record;
        sim::Promise<SendOutcome> promise;
    };
    struct PartitionQueue {
        std::deque<Pending> queue;
        sim::Condition changed;
        std::int32_t in_flight = 0;
        bool sender_started = false;
    };

    void run_sender(protocol::TopicPartition partition);
    void deliver(protocol::TopicPartition partition, std::vector<Pending> batch);
    void complete(const protocol::TopicPartition& partition, std::vector<Pending>& batch, const SendOutcome& outcome);
    std::int32_t choose_partition(const std::string& topic, const std::optional<std::string>& key);

    sim::Node& node_;
    ProducerConfig config_;
    MetadataClient metadata_;
    HistoryRecorder& history_;
    std::map<protocol::TopicPartition, std::unique_ptr<PartitionQueue>> queues_;
    std::int32_t sticky_partition_ = -1;
    std::size_t sticky_count_ = 0;
    std::size_t pending_ = 0;
};

}  // namespace eosim::client_core
