#pragma once

// A three-broker cluster with topic "t" (two partitions, replication factor 3) and a raw client node, for
// the coordinator tests: requests go straight to brokers, and the test reads the brokers' state.

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "broker_core/broker.h"
#include "broker_core/controller.h"
#include "protocol/control_record.h"
#include "protocol/coordinator.h"
#include "sim/simulation.h"

namespace eosim::broker_core::test_cluster {

using namespace std::chrono_literals;
using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::Offset;
using protocol::ProducerEpoch;
using protocol::TopicPartition;

inline const TopicPartition t0{"t", 0};
inline const TopicPartition t1{"t", 1};
inline const std::string txn_id = "tx";

struct TxnCluster {
    // `topics` are created with the cluster, beside "t" (2 partitions, replication 3).
    explicit TxnCluster(std::uint64_t seed, BrokerBugs bugs = {}, const std::vector<TopicConfig>& topics = {})
        : simulation(sim::SimulationOptions{.seed = seed,
                                            .trace_sink = std::getenv("EOSIM_TEST_TRACE") ? &std::cerr : nullptr}) {
        ControllerConfig controller_config;
        for (int i = 1; i <= 3; ++i) {
            controller_config.brokers.emplace_back(i);
        }
        controller_config.topics.push_back(TopicConfig{"t", 2, 3});
        controller_config.topics.insert(controller_config.topics.end(), topics.begin(), topics.end());
        controller = &simulation.add_node("controller", [controller_config](sim::Node& node) {
            return std::make_unique<Controller>(node, controller_config);
        });
        addresses.controller = controller->id();
        for (int i = 1; i <= 3; ++i) {
            addresses.brokers[BrokerId(i)] = sim::NodeId(static_cast<std::uint32_t>(i + 1));
        }
        for (int i = 1; i <= 3; ++i) {
            BrokerConfig config;
            config.id = BrokerId(i);
            config.addresses = addresses;
            config.bugs = bugs;
            brokers.push_back(&simulation.add_node("broker-" + std::to_string(i), [config](sim::Node& node) {
                return std::make_unique<Broker>(node, config);
            }));
        }
        client = &simulation.add_node("client", [](sim::Node&) { return std::make_unique<sim::NodeState>(); });
        controller->start();
        for (sim::Node* broker : brokers) {
            broker->start();
        }
        client->start();
    }

    const std::map<TopicPartition, protocol::PartitionState>& partitions() {
        return controller->state<Controller>().partitions();
    }
    BrokerId leader(const TopicPartition& partition) { return partitions().at(partition).leader; }
    Broker& state(BrokerId id) { return brokers[static_cast<std::size_t>(id.value() - 1)]->state<Broker>(); }
    const Replica& leader_replica(const TopicPartition& partition) {
        return *state(leader(partition)).replicas().at(partition);
    }

    template <typename Response, typename Request>
    std::optional<Response> call(BrokerId to, const Request& request, sim::Duration timeout = 2s) {
        sim::RpcClient rpc(*client, addresses.brokers.at(to), broker_port);
        auto response = rpc.call(sim::make_message(request), timeout);
        if (!response) {
            return std::nullopt;
        }
        return response->template as<Response>();
    }

    BrokerId coordinator(const std::string& key = txn_id,
                         protocol::CoordinatorType type = protocol::CoordinatorType::transaction) {
        for (int attempt = 0; attempt < 100; ++attempt) {
            const auto found =
                call<protocol::FindCoordinatorResponse>(BrokerId(1), protocol::FindCoordinatorRequest{key, type});
            if (found && found->error == ErrorCode::none) {
                return found->coordinator;
            }
            sim::sleep(100ms);
        }
        ADD_FAILURE() << "no coordinator";
        return protocol::no_broker;
    }

    // InitProducerId, retried while the coordinator loads or a fence completes.
    protocol::InitProducerIdResponse init(std::int32_t timeout_ms = 60'000) {
        protocol::InitProducerIdResponse last;
        for (int attempt = 0; attempt < 100; ++attempt) {
            const auto response = call<protocol::InitProducerIdResponse>(
                coordinator(), protocol::InitProducerIdRequest{txn_id, timeout_ms});
            if (response) {
                last = *response;
                if (last.error == ErrorCode::none) {
                    return last;
                }
            }
            sim::sleep(100ms);
        }
        return last;
    }

    // AddPartitionsToTxn, retried while the previous transaction's markers are written.
    ErrorCode add(protocol::ProducerId pid, ProducerEpoch epoch, const std::vector<TopicPartition>& partitions) {
        ErrorCode error = ErrorCode::network_exception;
        for (int attempt = 0; attempt < 50; ++attempt) {
            const auto response = call<protocol::AddPartitionsToTxnResponse>(
                coordinator(), protocol::AddPartitionsToTxnRequest{txn_id, pid, epoch, partitions});
            error = !response                     ? ErrorCode::network_exception
                    : response->partitions.empty() ? response->error
                                                   : response->partitions.front().error;
            if (error != ErrorCode::concurrent_transactions) {
                return error;
            }
            sim::sleep(50ms);
        }
        return error;
    }

    protocol::ProducePartitionResponse produce(const TopicPartition& partition, protocol::ProducerId pid,
                                               ProducerEpoch epoch, std::int32_t sequence, const std::string& value) {
        protocol::ProduceRequest request;
        request.transactional_id = txn_id;
        protocol::RecordBatch batch;
        batch.producer_id = pid;
        batch.producer_epoch = epoch;
        batch.base_sequence = protocol::Sequence(sequence);
        batch.transactional = true;
        batch.records.push_back(protocol::Record{std::nullopt, value, 0});
        request.partitions.push_back(protocol::ProducePartition{partition, batch});
        const auto response = call<protocol::ProduceResponse>(leader(partition), request, 3s);
        return response ? response->partitions.at(0)
                        : protocol::ProducePartitionResponse{.error = ErrorCode::network_exception};
    }

    protocol::EndTxnResponse end(protocol::ProducerId pid, ProducerEpoch epoch, bool commit) {
        const auto response = call<protocol::EndTxnResponse>(coordinator(),
                                                             protocol::EndTxnRequest{txn_id, pid, epoch, commit});
        return response ? *response : protocol::EndTxnResponse{.error = ErrorCode::network_exception};
    }

    protocol::FetchPartitionResponse fetch_committed(const TopicPartition& partition) {
        protocol::FetchRequest request;
        request.max_wait = 10ms;
        request.isolation = protocol::IsolationLevel::read_committed;
        request.partitions.push_back(protocol::FetchPartition{.partition = partition, .fetch_offset = Offset(0)});
        const auto response = call<protocol::FetchResponse>(leader(partition), request);
        return response ? response->partitions.at(0) : protocol::FetchPartitionResponse{};
    }

    // The markers in the leader's log of `partition`, in order ("COMMIT@epoch", "ABORT@epoch").
    std::vector<std::string> markers(const TopicPartition& partition) {
        const Replica& replica = leader_replica(partition);
        std::vector<std::string> out;
        for (const auto& batch : replica.log.read(Offset(0), replica.log.log_end_offset(), UINT64_MAX).batches) {
            if (const auto marker = protocol::marker_of(batch)) {
                out.push_back(std::string(protocol::to_string(marker->type)) + "@" +
                              std::to_string(batch.producer_epoch.value()));
            }
        }
        return out;
    }

    void run_until(const std::function<bool()>& done, sim::Duration limit = 120s) {
        const auto outcome = simulation.run(sim::RunBounds{.time_limit = simulation.now() + limit}, done);
        ASSERT_EQ(outcome.status, sim::RunStatus::done) << "gave up at " << sim::to_ns(outcome.end_time);
    }

    sim::Simulation simulation;
    ClusterAddresses addresses;
    sim::Node* controller = nullptr;
    std::vector<sim::Node*> brokers;
    sim::Node* client = nullptr;
};

}  // namespace eosim::broker_core::test_cluster
