#pragma once

// A scripted cluster for the clients' unit tests: broker nodes (and a controller node) that speak
// protocol/ messages on the ports clients use and answer each request as the test says, recording
// every request they receive. No broker_core: the tests see exactly what a client sends and decide
// exactly what it gets back (an error, an offset, late, or never).
//
// Each connection's answers leave in the order its requests arrived, as a Kafka broker's do: an
// answer held or never given holds up the later answers of its connection (not other connections).
// Unlike sim::RpcServer, which reads a connection's next request only once it has answered the
// previous one, the scripted broker reads every request as it arrives, so a test sees how many a
// client pipelines (a producer's window) while none is answered.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client_core/consumer.h"
#include "client_core/history.h"
#include "client_core/producer.h"
#include "client_core/transactional_producer.h"
#include "protocol/coordinator.h"
#include "protocol/addresses.h"
#include "protocol/messages.h"
#include "sim/rpc.h"
#include "sim/simulation.h"

namespace eosim::client_core::testing {

// What a scripted broker does with one request.
struct Reply {
    enum class Kind : std::uint8_t {
        answer,  // answers with `response` after `delay`
        hold,    // keeps it until the test answers it (ScriptedCluster::answer)
        never,   // never answers it: the client times out (and its later requests on the connection too)
    };
    Kind kind = Kind::answer;
    sim::Message response;
    sim::Duration delay{0};

    template <typename Response>
    static Reply answer(Response response, sim::Duration delay = sim::Duration::zero()) {
        return Reply{Kind::answer, sim::make_message(std::move(response)), delay};
    }
    static Reply hold() { return Reply{Kind::hold, {}, {}}; }
    static Reply never() { return Reply{Kind::never, {}, {}}; }
};

// One request a scripted node received.
struct Received {
    std::size_t index = 0;                            // in Script::received()
    sim::Time time{};                                 // when it arrived
    protocol::BrokerId broker = protocol::no_broker;  // no_broker: the controller
    sim::Port port{};
    std::uint64_t connection = 0;  // a number of the scripted node's own, per accepted connection
    sim::Message request;
    // Produce requests of the same partition that had arrived (on any connection) and were neither
    // answered nor dropped with their connection when this one arrived.
    std::size_t produces_outstanding = 0;
    std::optional<sim::Time> answered;  // when its answer left
    bool dropped = false;               // its connection closed before it was answered

    template <typename T>
    [[nodiscard]] bool is() const {
        return request.is<T>();
    }
    template <typename T>
    [[nodiscard]] const T& as() const {
        return request.as<T>();
    }
};

// What the scripted brokers answer, and the record of what they received. Owned by the test, so it
// outlives the broker nodes. A handler runs in the scheduler's context (it must not suspend); it sees
// the request and its Received entry. The defaults make a well-behaved single-replica broker over an
// in-memory log (`log`): Produce appends and answers with the base offset, Fetch returns the batches
// from the fetch offset up to the log end (the high watermark), ListOffsets answers the log's start (0)
// or end, InitProducerId gives producer id 1000 and epoch 0, Metadata answers `metadata`.
class Script {
public:
    using ProduceHandler = std::function<Reply(const protocol::ProduceRequest&, const Received&)>;
    using FetchHandler = std::function<Reply(const protocol::FetchRequest&, const Received&)>;
    using ListOffsetsHandler = std::function<Reply(const protocol::ListOffsetsRequest&, const Received&)>;
    using InitProducerIdHandler = std::function<Reply(const Received&)>;
    using EpochHandler = std::function<Reply(const protocol::OffsetsForLeaderEpochRequest&, const Received&)>;
    using FindCoordinatorHandler = std::function<Reply(const protocol::FindCoordinatorRequest&, const Received&)>;
    using AddPartitionsHandler = std::function<Reply(const protocol::AddPartitionsToTxnRequest&, const Received&)>;
    using EndTxnHandler = std::function<Reply(const protocol::EndTxnRequest&, const Received&)>;

    Script();

    protocol::MetadataSnapshot metadata;
    ProduceHandler on_produce;
    FetchHandler on_fetch;
    ListOffsetsHandler on_list_offsets;
    InitProducerIdHandler on_init_producer_id;
    EpochHandler on_offsets_for_leader_epoch;  // default: the log ends the requested epoch
    // Transactions. Defaults: broker 1 coordinates every id; every partition is added; EndTxn succeeds
    // and, as transaction version 2 does, answers the producer's epoch + 1.
    FindCoordinatorHandler on_find_coordinator;
    AddPartitionsHandler on_add_partitions;
    EndTxnHandler on_end_txn;
    std::map<protocol::TopicPartition, std::vector<protocol::RecordBatch>> log;

    // The defaults, for handlers that script some requests and leave the rest to them.
    Reply append(const protocol::ProduceRequest& request);
    Reply read(const protocol::FetchRequest& request) const;  // sessionless: every partition answered
    [[nodiscard]] protocol::FetchPartitionResponse read(const protocol::FetchPartition& request) const;
    Reply list_offsets(const protocol::ListOffsetsRequest& request) const;
    [[nodiscard]] protocol::Offset log_end(const protocol::TopicPartition& partition) const;

    // Sets the metadata: one partition per entry of `leaders` (its leader, in `epoch`), version bumped.
    void set_leaders(const std::string& topic, const std::vector<protocol::BrokerId>& leaders,
                     protocol::LeaderEpoch epoch = protocol::LeaderEpoch(0));

    [[nodiscard]] const std::deque<Received>& received() const { return received_; }
    [[nodiscard]] Received& received(std::size_t index) { return received_.at(index); }
    // The requests of one type, in arrival order.
    template <typename T>
    [[nodiscard]] std::vector<const Received*> received_of() const {
        std::vector<const Received*> out;
        for (const Received& entry : received_) {
            if (entry.is<T>()) {
                out.push_back(&entry);
            }
        }
        return out;
    }

    // For the scripted nodes: records a request and decides its reply.
    Reply receive(Received entry);

private:
    std::deque<Received> received_;  // a deque: entries stay where they are as it grows
};

// A broker (or, with broker = no_broker, the controller) whose answers the Script decides.
class ScriptedNode final : public sim::NodeState {
public:
    ScriptedNode(sim::Node& node, protocol::BrokerId broker, Script& script);

    // Answers a held request (from any context: it takes effect in this node's scheduler turn).
    void answer(std::size_t index, sim::Message response);

private:
    struct Slot {
        std::size_t index = 0;
        std::uint64_t correlation_id = 0;
        std::optional<sim::Message> response;
    };
    struct Connection {
        sim::Socket socket;
        std::deque<Slot> slots;  // requests not answered yet, in arrival order
        bool closed = false;
    };

    void accept(sim::Port port, sim::Socket socket);
    void on_request(sim::Port port, std::uint64_t connection, sim::Message&& message);
    void fill(std::uint64_t connection, std::size_t index, sim::Message response);
    void flush(std::uint64_t connection);
    void close(std::uint64_t connection);

    sim::Node& node_;
    protocol::BrokerId broker_;
    Script& script_;
    std::vector<sim::Listener> listeners_;
    std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;
    std::uint64_t next_connection_ = 1;
};

// The client's node: it owns the clients under test, so that their fibers die before they do.
class ClientNode final : public sim::NodeState {
public:
    std::unique_ptr<Producer> producer;
    std::unique_ptr<Consumer> consumer;
    std::unique_ptr<TransactionalProducer> transactional_producer;
};

// A controller and `brokers` scripted brokers (ids 1..n) and a client node.
class ScriptedCluster {
public:
    explicit ScriptedCluster(std::uint64_t seed, int brokers = 1);
    ScriptedCluster(const ScriptedCluster&) = delete;
    ScriptedCluster& operator=(const ScriptedCluster&) = delete;

    Producer& make_producer(ProducerConfig config);
    Consumer& make_consumer(ConsumerConfig config);
    TransactionalProducer& make_transactional_producer(TransactionalProducerConfig config);
    sim::Node& client() { return *client_; }
    sim::Node& broker(protocol::BrokerId id) { return *brokers_.at(id); }
    // Answers the held request `index` of Script::received().
    void answer(std::size_t index, sim::Message response);
    template <typename Response>
    void answer(std::size_t index, Response response) {
        answer(index, sim::make_message(std::move(response)));
    }
    // Runs until `done` holds; false (and a test failure) if `limit` of simulated time passes first.
    bool run_until(const std::function<bool()>& done, sim::Duration limit = std::chrono::seconds(60));
    // Runs for `duration` of simulated time.
    void run_for(sim::Duration duration);

    // Declared before the simulation: they outlive its nodes.
    Script script;
    HistoryRecorder history;
    protocol::ClusterAddresses addresses;
    sim::Simulation simulation;

private:
    sim::Node* controller_ = nullptr;
    std::map<protocol::BrokerId, sim::Node*> brokers_;
    sim::Node* client_ = nullptr;
};

}  // namespace eosim::client_core::testing
