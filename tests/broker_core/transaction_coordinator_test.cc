// The transaction coordinator and the partition side together, driven by a raw client: InitProducerId,
// AddPartitionsToTxn, transactional produce, EndTxn, markers, the last stable offset and read_committed
// fetches, fencing, verification (KIP-890 part 1), timeouts and coordinator failover.

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "broker_core/broker.h"
#include "broker_core/controller.h"
#include "protocol/control_record.h"
#include "protocol/coordinator.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using namespace std::chrono_literals;
using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::Offset;
using protocol::ProducerEpoch;
using protocol::TopicPartition;

const TopicPartition t0{"t", 0};
const TopicPartition t1{"t", 1};
const std::string txn_id = "tx";

struct TxnCluster {
    explicit TxnCluster(std::uint64_t seed, BrokerBugs bugs = {})
        : simulation(sim::SimulationOptions{.seed = seed,
                                            .trace_sink = std::getenv("EOSIM_TEST_TRACE") ? &std::cerr : nullptr}) {
        ControllerConfig controller_config;
        for (int i = 1; i <= 3; ++i) {
            controller_config.brokers.emplace_back(i);
        }
        controller_config.topics.push_back(TopicConfig{"t", 2, 3});
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

TEST(TransactionCoordinator, CommitWritesMarkersAndBumpsTheEpoch) {
    TxnCluster cluster(1);
    bool done = false;
    protocol::InitProducerIdResponse init;
    protocol::EndTxnResponse committed;
    Offset lso_while_open{-1};
    std::size_t read_while_open = 99;
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        init = cluster.init();
        ASSERT_EQ(init.error, ErrorCode::none);
        EXPECT_EQ(init.producer_epoch, ProducerEpoch(0));
        EXPECT_EQ(cluster.add(init.producer_id, init.producer_epoch, {t0, t1}), ErrorCode::none);
        EXPECT_EQ(cluster.produce(t0, init.producer_id, init.producer_epoch, 0, "a").error, ErrorCode::none);
        EXPECT_EQ(cluster.produce(t1, init.producer_id, init.producer_epoch, 0, "b").error, ErrorCode::none);
        const auto open = cluster.fetch_committed(t0);
        lso_while_open = open.last_stable_offset;
        read_while_open = open.batches.size();
        committed = cluster.end(init.producer_id, init.producer_epoch, true);
        sim::sleep(2s);
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(lso_while_open, Offset(0)) << "the open transaction holds the last stable offset at its first offset";
    EXPECT_EQ(read_while_open, 0U) << "read_committed reads nothing of an open transaction";
    EXPECT_EQ(committed.error, ErrorCode::none);
    EXPECT_EQ(committed.producer_epoch, ProducerEpoch(1)) << "transaction version 2 bumps the epoch";
    EXPECT_EQ(cluster.markers(t0), std::vector<std::string>{"COMMIT@1"});
    EXPECT_EQ(cluster.markers(t1), std::vector<std::string>{"COMMIT@1"});
    const Replica& replica = cluster.leader_replica(t0);
    EXPECT_EQ(replica.log.last_stable_offset(replica.high_watermark), replica.high_watermark);
}

TEST(TransactionCoordinator, AbortIsSkippedByReadCommittedAndTheOldEpochIsFenced) {
    TxnCluster cluster(2);
    bool done = false;
    protocol::FetchPartitionResponse read;
    ErrorCode zombie = ErrorCode::none;
    ErrorCode late = ErrorCode::none;
    protocol::EndTxnResponse retried;
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        const auto init = cluster.init();
        ASSERT_EQ(init.error, ErrorCode::none);
        ASSERT_EQ(cluster.add(init.producer_id, init.producer_epoch, {t0}), ErrorCode::none);
        ASSERT_EQ(cluster.produce(t0, init.producer_id, init.producer_epoch, 0, "aborted").error, ErrorCode::none);
        const auto aborted = cluster.end(init.producer_id, init.producer_epoch, false);
        ASSERT_EQ(aborted.error, ErrorCode::none);
        const ProducerEpoch next = aborted.producer_epoch;
        ASSERT_EQ(cluster.add(init.producer_id, next, {t0}), ErrorCode::none);
        ASSERT_EQ(cluster.produce(t0, init.producer_id, next, 0, "committed").error, ErrorCode::none);
        ASSERT_EQ(cluster.end(init.producer_id, next, true).error, ErrorCode::none);
        retried = cluster.end(init.producer_id, next, true);  // a retry of the commit
        sim::sleep(1s);
        zombie = cluster.produce(t0, init.producer_id, init.producer_epoch, 1, "zombie").error;
        // A late batch of the new epoch, for a partition never added to a transaction of that epoch.
        late = cluster.produce(t1, init.producer_id, ProducerEpoch(next.value() + 1), 0, "late").error;
        read = cluster.fetch_committed(t0);
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(retried.error, ErrorCode::none) << "a retried commit is answered as done";
    EXPECT_EQ(zombie, ErrorCode::invalid_producer_epoch);
    EXPECT_EQ(late, ErrorCode::transaction_abortable) << "verification refuses a write outside the transaction";
    EXPECT_EQ(cluster.markers(t0), (std::vector<std::string>{"ABORT@1", "COMMIT@2"}));
    ASSERT_EQ(read.aborted_transactions.size(), 1U);
    EXPECT_EQ(read.aborted_transactions[0].first_offset, Offset(0));
    EXPECT_EQ(read.last_stable_offset, read.high_watermark);
}

TEST(TransactionCoordinator, ANewInstanceFencesTheOngoingTransactionAndAbortsIt) {
    TxnCluster cluster(3);
    bool done = false;
    protocol::InitProducerIdResponse first;
    protocol::InitProducerIdResponse second;
    protocol::EndTxnResponse old_commit;
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        first = cluster.init();
        ASSERT_EQ(cluster.add(first.producer_id, first.producer_epoch, {t0}), ErrorCode::none);
        ASSERT_EQ(cluster.produce(t0, first.producer_id, first.producer_epoch, 0, "old").error, ErrorCode::none);
        second = cluster.init();  // CONCURRENT_TRANSACTIONS while the fence's abort completes, then a new epoch
        old_commit = cluster.end(first.producer_id, first.producer_epoch, true);
        sim::sleep(1s);
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(second.error, ErrorCode::none);
    EXPECT_EQ(second.producer_id, first.producer_id);
    EXPECT_GT(second.producer_epoch.value(), first.producer_epoch.value() + 1);
    EXPECT_EQ(old_commit.error, ErrorCode::producer_fenced);
    ASSERT_EQ(cluster.markers(t0).size(), 1U);
    EXPECT_EQ(cluster.markers(t0)[0].substr(0, 5), "ABORT");
}

TEST(TransactionCoordinator, ATransactionPastItsTimeoutIsAborted) {
    TxnCluster cluster(4);
    bool done = false;
    protocol::EndTxnResponse late_commit;
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        const auto init = cluster.init(1000);
        ASSERT_EQ(cluster.add(init.producer_id, init.producer_epoch, {t0}), ErrorCode::none);
        ASSERT_EQ(cluster.produce(t0, init.producer_id, init.producer_epoch, 0, "slow").error, ErrorCode::none);
        sim::sleep(3s);
        late_commit = cluster.end(init.producer_id, init.producer_epoch, true);
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(late_commit.error, ErrorCode::producer_fenced);
    ASSERT_EQ(cluster.markers(t0).size(), 1U);
    EXPECT_EQ(cluster.markers(t0)[0].substr(0, 5), "ABORT");
    const Replica& replica = cluster.leader_replica(t0);
    EXPECT_EQ(replica.log.last_stable_offset(replica.high_watermark), replica.high_watermark);
}

TEST(TransactionCoordinator, ANewCoordinatorFinishesAPreparedCommit) {
    TxnCluster cluster(5);
    bool done = false;
    BrokerId old_coordinator = protocol::no_broker;
    protocol::EndTxnResponse committed;
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        const auto init = cluster.init();
        ASSERT_EQ(cluster.add(init.producer_id, init.producer_epoch, {t0, t1}), ErrorCode::none);
        ASSERT_EQ(cluster.produce(t0, init.producer_id, init.producer_epoch, 0, "x").error, ErrorCode::none);
        ASSERT_EQ(cluster.produce(t1, init.producer_id, init.producer_epoch, 0, "y").error, ErrorCode::none);
        old_coordinator = cluster.coordinator();
        committed = cluster.end(init.producer_id, init.producer_epoch, true);
        // Crash the coordinator at once: the markers may not all be out; the next one must finish them.
        (void)cluster.brokers[static_cast<std::size_t>(old_coordinator.value() - 1)]->crash(
            sim::CrashOptions{.unsynced = sim::UnsyncedFate::keep});
        sim::sleep(6s);
        done = true;
    });
    cluster.run_until([&] { return done; });
    ASSERT_EQ(committed.error, ErrorCode::none);
    EXPECT_NE(cluster.leader({"__transaction_state", protocol::coordinator_partition(txn_id, 3)}), old_coordinator);
    EXPECT_EQ(cluster.markers(t0), std::vector<std::string>{"COMMIT@1"});
    EXPECT_EQ(cluster.markers(t1), std::vector<std::string>{"COMMIT@1"});
}

// KAFKA-18464: the next transaction's abort, sent while the last commit's markers are still being written, is
// answered CONCURRENT_TRANSACTIONS (the completion is pending) and succeeds once the commit completed. With
// the epoch checked first, as in Kafka 4.0 before the fix, the producer fences itself.
std::pair<ErrorCode, ErrorCode> abort_right_after_commit(BrokerBugs bugs) {
    TxnCluster cluster(6, bugs);
    bool done = false;
    ErrorCode first = ErrorCode::none;
    ErrorCode last = ErrorCode::none;
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        const auto init = cluster.init();
        ASSERT_EQ(cluster.add(init.producer_id, init.producer_epoch, {t0, t1}), ErrorCode::none);
        ASSERT_EQ(cluster.produce(t0, init.producer_id, init.producer_epoch, 0, "x").error, ErrorCode::none);
        const auto committed = cluster.end(init.producer_id, init.producer_epoch, true);
        ASSERT_EQ(committed.error, ErrorCode::none);
        auto aborted = cluster.end(init.producer_id, committed.producer_epoch, false);
        first = aborted.error;
        for (int attempt = 0; attempt < 50 && aborted.error == ErrorCode::concurrent_transactions; ++attempt) {
            sim::sleep(20ms);
            aborted = cluster.end(init.producer_id, committed.producer_epoch, false);
        }
        last = aborted.error;
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(cluster.markers(t0), std::vector<std::string>{"COMMIT@1"});
    return {first, last};
}

TEST(TransactionCoordinator, AnAbortWhileTheCommitsMarkersAreWrittenWaitsForThem) {
    const auto [first, last] = abort_right_after_commit({});
    EXPECT_EQ(first, ErrorCode::concurrent_transactions);
    EXPECT_EQ(last, ErrorCode::none);
}

TEST(TransactionCoordinator, Kafka18464FencesTheAbortWhileTheCommitsMarkersAreWritten) {
    const auto [first, last] = abort_right_after_commit(BrokerBugs{.kafka_18464 = true});
    EXPECT_EQ(first, ErrorCode::producer_fenced);
    EXPECT_EQ(last, ErrorCode::producer_fenced);
}

// AddOffsetsToTxn puts the group's partition of __consumer_offsets in the transaction (Kafka's
// handleAddOffsetsToTransaction), so the transaction's marker reaches it; a fenced epoch is refused.
TEST(TransactionCoordinator, AddOffsetsToTxnPutsTheGroupsOffsetsPartitionInTheTransaction) {
    TxnCluster cluster(7);
    bool done = false;
    ErrorCode added = ErrorCode::unknown_server_error;
    ErrorCode fenced = ErrorCode::none;
    const TopicPartition offsets{"__consumer_offsets", protocol::coordinator_partition("g", 3)};
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        (void)cluster.coordinator("g", protocol::CoordinatorType::group);  // creates __consumer_offsets
        const auto init = cluster.init();
        ASSERT_EQ(cluster.add(init.producer_id, init.producer_epoch, {t0}), ErrorCode::none);
        ASSERT_EQ(cluster.produce(t0, init.producer_id, init.producer_epoch, 0, "x").error, ErrorCode::none);
        const protocol::AddOffsetsToTxnRequest request{txn_id, init.producer_id, init.producer_epoch, "g"};
        for (int attempt = 0; attempt < 50; ++attempt) {
            const auto answer = cluster.call<protocol::AddOffsetsToTxnResponse>(cluster.coordinator(), request);
            added = answer ? answer->error : ErrorCode::network_exception;
            if (added != ErrorCode::concurrent_transactions && added != ErrorCode::network_exception) {
                break;
            }
            sim::sleep(20ms);
        }
        ASSERT_EQ(cluster.end(init.producer_id, init.producer_epoch, true).error, ErrorCode::none);
        const protocol::AddOffsetsToTxnRequest stale{txn_id, init.producer_id, init.producer_epoch, "g"};
        const auto refused = cluster.call<protocol::AddOffsetsToTxnResponse>(cluster.coordinator(), stale);
        fenced = refused ? refused->error : ErrorCode::network_exception;
        sim::sleep(2s);
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(added, ErrorCode::none);
    EXPECT_EQ(fenced, ErrorCode::producer_fenced) << "the commit bumped the epoch";
    EXPECT_EQ(cluster.markers(t0), std::vector<std::string>{"COMMIT@1"});
    EXPECT_EQ(cluster.markers(offsets), std::vector<std::string>{"COMMIT@1"});
}

}  // namespace
}  // namespace eosim::broker_core
