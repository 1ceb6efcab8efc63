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
    bool idempotent = true;           // enable.idempotence (Kafka's default); needs acks=all
    // max.in.flight.requests.per.connection: produce requests out on one connection, and so batches of one
    // partition (a request carries at most one per partition); without idempotence, more than 1 can reorder.
    std::int32_t max_in_flight = 5;
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
    std::int32_t attempts = 0;  // produce requests sent for the batch (more than 1: it was retried)
};

// A Kafka producer: records are batched per partition (hash(key) % partitions, XXH64; unkeyed records
// stick to one partition per batch), sent to the partition's leader with the configured acks, retried
// with backoff on retriable errors and on timeouts until the delivery timeout. Every send is recorded:
// invoke, then ok (with its offset), fail (it was definitely not written) or info (unknown).
//
// With idempotence (KIP-98) the producer first gets a producer id, numbers each partition's batches
// with sequences, keeps up to max_in_flight (at most 5) of them in flight in order, retries a batch
// only once every earlier one is acknowledged, and bumps its epoch and numbers the rest again from 0
// when the broker lost its sequence (OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID for the
// first unacknowledged batch) or a batch left with its outcome unknown (KIP-360). docs/idempotence.md.
class Producer {
public:
    Producer(sim::Node& node, ProducerConfig config, protocol::ClusterAddresses addresses, HistoryRecorder& history);
    Producer(const Producer&) = delete;
    Producer& operator=(const Producer&) = delete;

    // In a fiber (it may fetch metadata first).
    // A value of nothing sends a tombstone (for compacted topics; it needs a key). The record's timestamp
    // is `timestamp_ms` when given (an application's event time, as Kafka's ProducerRecord carries), else
    // the node's clock; its partition is `partition` when given, else the key's.
    sim::Future<SendOutcome> send(const std::string& topic, std::optional<std::string> key,
                                  std::optional<std::string> value,
                                  std::optional<std::int64_t> timestamp_ms = std::nullopt,
                                  std::optional<std::int32_t> partition = std::nullopt);
    [[nodiscard]] std::size_t pending() const { return pending_; }
    [[nodiscard]] protocol::ProducerId producer_id() const { return producer_id_; }

private:
    struct Pending {
        protocol::Record record;
        sim::Promise<SendOutcome> promise;
        sim::Time sent{};  // when send() took it: its delivery timeout counts from here, as in Kafka
    };
    // A batch of an idempotent producer, from its first send until it completes.
    struct Batch {
        std::vector<Pending> records;
        protocol::ProducerEpoch epoch = protocol::no_producer_epoch;
        protocol::Sequence base_sequence = protocol::no_sequence;
        sim::Time deadline{};  // the delivery timeout
        sim::Time retry_at{};
        bool in_flight = false;
        bool acked = false;          // done, but it holds its place until every earlier batch is
        bool retry = false;          // it failed once: it goes again only as the first unacknowledged batch
        bool maybe_written = false;  // an attempt may have reached the log
        protocol::ErrorCode last_error = protocol::ErrorCode::request_timed_out;
        std::int32_t attempts = 0;  // produce requests sent
    };
    struct PartitionQueue {
        std::deque<Pending> queue;
        sim::Condition changed;
        std::uint64_t changes = 0;  // bumped with every notify: the sender waits for any change
        std::int32_t in_flight = 0;
        bool sender_started = false;
        // Idempotence: the batches from the first unacknowledged one on, in sequence order. At most
        // max_in_flight (<= 5, what brokers remember of a producer): a retry of the first always
        // finds the broker still knowing it, if it was written.
        std::deque<std::shared_ptr<Batch>> window;
        protocol::ProducerEpoch epoch = protocol::no_producer_epoch;
        protocol::Sequence next_sequence{0};
        bool bump_needed = false;
        bool unresolved = false;  // a batch left with its outcome unknown: later ones may be written too

        void notify() {
            ++changes;
            changed.notify_all();
        }
    };

    // One partition's batch on its way to a broker (Kafka's Sender drains per node): the batches of
    // several partitions that are ready together go in one Produce request, at most one per partition,
    // with at most max_in_flight requests out on the connection, answered in order.
    struct Outgoing {
        protocol::ProducePartition data;
        sim::Promise<protocol::ProducePartitionResponse> answer;
    };
    struct Connection {
        std::deque<Outgoing> queue;
        std::int32_t in_flight = 0;
        bool draining = false;
        sim::Condition changed;
    };
    // Sends one partition's batch to `broker` (in a fiber) and waits for its answer (an error: none came).
    sim::Result<protocol::ProducePartitionResponse> produce_to(protocol::BrokerId broker,
                                                               protocol::ProducePartition data);
    void drain(protocol::BrokerId broker);
    void send_request(protocol::BrokerId broker, std::vector<Outgoing> items);

    void run_sender(protocol::TopicPartition partition);
    void deliver(protocol::TopicPartition partition, std::vector<Pending> batch);
    void complete(const protocol::TopicPartition& partition, std::vector<Pending>& batch, const SendOutcome& outcome);
    // Idempotence.
    // Gets a producer id, failing the partition's queued records whose delivery timeout passes meanwhile.
    void ensure_producer_id(const protocol::TopicPartition& partition, PartitionQueue& queue);
    // Fails the queued records (never sent) whose delivery timeout has passed.
    void expire_queued(const protocol::TopicPartition& partition, PartitionQueue& queue);
    void run_idempotent_sender(protocol::TopicPartition partition);
    void attempt(protocol::TopicPartition partition, std::shared_ptr<Batch> batch);
    void bump_epoch(const protocol::TopicPartition& partition, PartitionQueue& queue);
    static std::shared_ptr<Batch> first_unacked(const PartitionQueue& queue);
    // Drops acknowledged batches from the front of the window.
    static void trim(PartitionQueue& queue);
    // Completes a batch that leaves the window unacknowledged.
    void give_up(const protocol::TopicPartition& partition, PartitionQueue& queue, Batch& batch);
    std::int32_t choose_partition(const std::string& topic, const std::optional<std::string>& key);

    sim::Node& node_;
    ProducerConfig config_;
    MetadataClient metadata_;
    HistoryRecorder& history_;
    std::map<protocol::TopicPartition, std::unique_ptr<PartitionQueue>> queues_;
    std::map<protocol::BrokerId, std::unique_ptr<Connection>> connections_;
    struct Sticky {
        std::int32_t partition = -1;
        std::size_t count = 0;
    };
    std::map<std::string, Sticky> sticky_;  // per topic, as Kafka's sticky partitioner keeps it
    std::size_t pending_ = 0;
    protocol::ProducerId producer_id_ = protocol::no_producer_id;
    protocol::ProducerEpoch epoch_ = protocol::no_producer_epoch;  // the newest epoch of any partition
    bool initializing_ = false;
    sim::Condition producer_id_changed_;
};

}  // namespace eosim::client_core
