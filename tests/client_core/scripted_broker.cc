#include "tests/client_core/scripted_broker.h"

#include <algorithm>

#include <gtest/gtest.h>

namespace eosim::client_core::testing {

using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::Offset;

// ---- Script ----------------------------------------------------------------------------------------

Script::Script()
    : on_produce([this](const protocol::ProduceRequest& request, const Received&) { return append(request); }),
      on_fetch([this](const protocol::FetchRequest& request, const Received&) { return read(request); }),
      on_list_offsets(
          [this](const protocol::ListOffsetsRequest& request, const Received&) { return list_offsets(request); }),
      on_init_producer_id([](const Received&) {
          return Reply::answer(protocol::InitProducerIdResponse{ErrorCode::none, protocol::ProducerId(1000),
                                                                protocol::ProducerEpoch(0)});
      }),
      on_offsets_for_leader_epoch([this](const protocol::OffsetsForLeaderEpochRequest& request, const Received&) {
          return Reply::answer(
              protocol::OffsetsForLeaderEpochResponse{ErrorCode::none, request.requested_epoch, log_end(request.partition)});
      }),
      on_find_coordinator([](const protocol::FindCoordinatorRequest&, const Received&) {
          return Reply::answer(protocol::FindCoordinatorResponse{ErrorCode::none, BrokerId(1)});
      }),
      on_add_partitions([](const protocol::AddPartitionsToTxnRequest& request, const Received&) {
          protocol::AddPartitionsToTxnResponse response;
          for (const protocol::TopicPartition& partition : request.partitions) {
              response.partitions.push_back(protocol::PartitionError{partition, ErrorCode::none});
          }
          return Reply::answer(response);
      }),
      on_end_txn([](const protocol::EndTxnRequest& request, const Received&) {
          return Reply::answer(protocol::EndTxnResponse{
              ErrorCode::none, request.producer_id,
              protocol::ProducerEpoch(static_cast<std::int16_t>(request.producer_epoch.value() + 1))});
      }) {}

Offset Script::log_end(const protocol::TopicPartition& partition) const {
    const auto found = log.find(partition);
    return found == log.end() || found->second.empty() ? Offset(0) : found->second.back().next_offset();
}

Reply Script::append(const protocol::ProduceRequest& request) {
    protocol::ProduceResponse response;
    for (const protocol::ProducePartition& data : request.partitions) {
        protocol::RecordBatch batch = data.batch;
        batch.base_offset = log_end(data.partition);
        log[data.partition].push_back(batch);
        response.partitions.push_back(
            protocol::ProducePartitionResponse{data.partition, ErrorCode::none, batch.base_offset, Offset(0)});
    }
    return Reply::answer(response);
}

protocol::FetchPartitionResponse Script::read(const protocol::FetchPartition& request) const {
    const Offset end = log_end(request.partition);
    protocol::FetchPartitionResponse response;
    response.partition = request.partition;
    if (request.fetch_offset < Offset(0) || request.fetch_offset > end) {
        response.error = ErrorCode::offset_out_of_range;
        return response;
    }
    response.high_watermark = end;
    response.log_start_offset = Offset(0);
    response.log_end_offset = end;
    const auto found = log.find(request.partition);
    if (found != log.end()) {
        for (const protocol::RecordBatch& batch : found->second) {
            if (batch.next_offset() > request.fetch_offset) {
                response.batches.push_back(batch);
            }
        }
    }
    return response;
}

Reply Script::read(const protocol::FetchRequest& request) const {
    protocol::FetchResponse response;
    for (const protocol::FetchPartition& partition : request.partitions) {
        response.partitions.push_back(read(partition));
    }
    return Reply::answer(response);
}

Reply Script::list_offsets(const protocol::ListOffsetsRequest& request) const {
    const Offset offset = request.timestamp == protocol::earliest_timestamp ? Offset(0) : log_end(request.partition);
    return Reply::answer(protocol::ListOffsetsResponse{ErrorCode::none, offset, protocol::LeaderEpoch(0)});
}

void Script::set_leaders(const std::string& topic, const std::vector<BrokerId>& leaders, protocol::LeaderEpoch epoch) {
    std::erase_if(metadata.partitions,
                  [&topic](const protocol::PartitionState& state) { return state.partition.topic == topic; });
    for (std::size_t i = 0; i < leaders.size(); ++i) {
        protocol::PartitionState state;
        state.partition = protocol::TopicPartition{topic, static_cast<std::int32_t>(i)};
        state.replicas = {leaders[i]};
        state.leader = leaders[i];
        state.leader_epoch = epoch;
        state.isr = {leaders[i]};
        metadata.partitions.push_back(state);
    }
    ++metadata.version;
}

Reply Script::receive(Received entry) {
    entry.index = received_.size();
    if (entry.is<protocol::ProduceRequest>()) {
        const auto has = [](const protocol::ProduceRequest& request, const protocol::TopicPartition& partition) {
            return std::any_of(request.partitions.begin(), request.partitions.end(),
                               [&partition](const protocol::ProducePartition& data) { return data.partition == partition; });
        };
        for (const protocol::ProducePartition& data : entry.as<protocol::ProduceRequest>().partitions) {
            for (const Received& earlier : received_) {
                if (earlier.is<protocol::ProduceRequest>() && !earlier.answered && !earlier.dropped &&
                    has(earlier.as<protocol::ProduceRequest>(), data.partition)) {
                    ++entry.produces_outstanding;
                }
            }
        }
    }
    received_.push_back(std::move(entry));
    const Received& stored = received_.back();
    if (stored.broker == protocol::no_broker) {
        ADD_FAILURE() << "a client sent the controller a request";
        return Reply::never();
    }
    if (stored.is<protocol::MetadataRequest>()) {
        return Reply::answer(protocol::MetadataResponse{metadata});
    }
    if (stored.is<protocol::InitProducerIdRequest>()) {
        return on_init_producer_id(stored);
    }
    if (stored.is<protocol::ProduceRequest>()) {
        return on_produce(stored.as<protocol::ProduceRequest>(), stored);
    }
    if (stored.is<protocol::FetchRequest>()) {
        return on_fetch(stored.as<protocol::FetchRequest>(), stored);
    }
    if (stored.is<protocol::ListOffsetsRequest>()) {
        return on_list_offsets(stored.as<protocol::ListOffsetsRequest>(), stored);
    }
    if (stored.is<protocol::OffsetsForLeaderEpochRequest>()) {
        return on_offsets_for_leader_epoch(stored.as<protocol::OffsetsForLeaderEpochRequest>(), stored);
    }
    if (stored.is<protocol::FindCoordinatorRequest>()) {
        return on_find_coordinator(stored.as<protocol::FindCoordinatorRequest>(), stored);
    }
    if (stored.is<protocol::AddPartitionsToTxnRequest>()) {
        return on_add_partitions(stored.as<protocol::AddPartitionsToTxnRequest>(), stored);
    }
    if (stored.is<protocol::EndTxnRequest>()) {
        return on_end_txn(stored.as<protocol::EndTxnRequest>(), stored);
    }
    ADD_FAILURE() << "the scripted broker got a request it does not know: " << stored.request.payload.type().name();
    return Reply::never();
}

// ---- ScriptedNode ----------------------------------------------------------------------------------

ScriptedNode::ScriptedNode(sim::Node& node, BrokerId broker, Script& script)
    : node_(node), broker_(broker), script_(script) {
    const sim::Port port = broker == protocol::no_broker ? protocol::controller_port : protocol::broker_port;
    listeners_.push_back(node.simulation().network().listen(
        node, port, [this, port](sim::Socket socket) { accept(port, std::move(socket)); }));
}

void ScriptedNode::accept(sim::Port port, sim::Socket socket) {
    const std::uint64_t id = next_connection_++;
    auto connection = std::make_unique<Connection>();
    connection->socket = std::move(socket);
    connection->socket.on_message(
        [this, port, id](sim::Message&& message) { on_request(port, id, std::move(message)); });
    connection->socket.on_close([this, id](std::error_code) { close(id); });
    connections_.emplace(id, std::move(connection));
}

void ScriptedNode::on_request(sim::Port port, std::uint64_t connection, sim::Message&& message) {
    const auto& envelope = message.as<sim::RpcEnvelope>();
    Received entry;
    entry.time = sim::now();
    entry.broker = broker_;
    entry.port = port;
    entry.connection = connection;
    entry.request = envelope.body;
    Reply reply = script_.receive(std::move(entry));
    const std::size_t index = script_.received().size() - 1;
    Connection& open = *connections_.at(connection);
    open.slots.push_back(Slot{index, envelope.correlation_id, std::nullopt});
    if (reply.kind != Reply::Kind::answer) {
        return;  // held (the test answers it) or never answered
    }
    if (reply.delay == sim::Duration::zero()) {
        fill(connection, index, std::move(reply.response));
        return;
    }
    (void)node_.after(reply.delay, [this, connection, index, response = std::move(reply.response)]() mutable {
        fill(connection, index, std::move(response));
    });
}

void ScriptedNode::answer(std::size_t index, sim::Message response) {
    const std::uint64_t connection = script_.received(index).connection;
    (void)node_.after(sim::Duration::zero(), [this, connection, index, response = std::move(response)]() mutable {
        fill(connection, index, std::move(response));
    });
}

void ScriptedNode::fill(std::uint64_t connection, std::size_t index, sim::Message response) {
    Connection& open = *connections_.at(connection);
    for (Slot& slot : open.slots) {
        if (slot.index == index) {
            slot.response = std::move(response);
        }
    }
    flush(connection);
}

void ScriptedNode::flush(std::uint64_t connection) {
    Connection& open = *connections_.at(connection);
    while (!open.closed && !open.slots.empty() && open.slots.front().response) {
        Slot& slot = open.slots.front();
        script_.received(slot.index).answered = sim::now();
        (void)open.socket.send(sim::make_message(sim::RpcEnvelope{slot.correlation_id, std::move(*slot.response)}));
        open.slots.pop_front();
    }
}

void ScriptedNode::close(std::uint64_t connection) {
    Connection& open = *connections_.at(connection);
    open.closed = true;
    for (const Slot& slot : open.slots) {
        script_.received(slot.index).dropped = true;
    }
    open.slots.clear();
}

// ---- ScriptedCluster -------------------------------------------------------------------------------

ScriptedCluster::ScriptedCluster(std::uint64_t seed, int brokers) : simulation(sim::SimulationOptions{.seed = seed}) {
    controller_ = &simulation.add_node("controller", [this](sim::Node& node) {
        return std::make_unique<ScriptedNode>(node, protocol::no_broker, script);
    });
    addresses.controller = controller_->id();
    for (int i = 1; i <= brokers; ++i) {
        const BrokerId id(i);
        sim::Node& node = simulation.add_node("broker-" + std::to_string(i), [this, id](sim::Node& n) {
            return std::make_unique<ScriptedNode>(n, id, script);
        });
        brokers_[id] = &node;
        addresses.brokers[id] = node.id();
    }
    client_ = &simulation.add_node("client", [](sim::Node&) { return std::make_unique<ClientNode>(); });
    controller_->start();
    for (auto& [id, node] : brokers_) {
        node->start();
    }
    client_->start();
    script.set_leaders("t", {BrokerId(1)});
}

Producer& ScriptedCluster::make_producer(ProducerConfig config) {
    ClientNode& state = client_->state<ClientNode>();
    state.producer = std::make_unique<Producer>(*client_, std::move(config), addresses, history);
    return *state.producer;
}

Consumer& ScriptedCluster::make_consumer(ConsumerConfig config) {
    ClientNode& state = client_->state<ClientNode>();
    state.consumer = std::make_unique<Consumer>(*client_, std::move(config), addresses, history);
    return *state.consumer;
}

TransactionalProducer& ScriptedCluster::make_transactional_producer(TransactionalProducerConfig config) {
    ClientNode& state = client_->state<ClientNode>();
    state.transactional_producer = std::make_unique<TransactionalProducer>(*client_, std::move(config), addresses, history);
    return *state.transactional_producer;
}

void ScriptedCluster::answer(std::size_t index, sim::Message response) {
    const BrokerId broker = script.received(index).broker;
    brokers_.at(broker)->state<ScriptedNode>().answer(index, std::move(response));
}

bool ScriptedCluster::run_until(const std::function<bool()>& done, sim::Duration limit) {
    const sim::RunOutcome outcome = simulation.run(sim::RunBounds{.time_limit = simulation.now() + limit}, done);
    EXPECT_EQ(outcome.status, sim::RunStatus::done) << "gave up at " << sim::to_ns(outcome.end_time) << " ns";
    return outcome.status == sim::RunStatus::done;
}

void ScriptedCluster::run_for(sim::Duration duration) {
    const sim::Time until = simulation.now() + duration;
    (void)simulation.run(sim::RunBounds{.time_limit = until}, [this, until] { return simulation.now() >= until; });
}

}  // namespace eosim::client_core::testing
