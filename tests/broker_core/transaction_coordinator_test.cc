// The transaction coordinator and the partition side together, driven by a raw client: InitProducerId,
// AddPartitionsToTxn, transactional produce, EndTxn, markers, the last stable offset and read_committed
// fetches, fencing, verification (KIP-890 part 1), timeouts and coordinator failover.

#include <gtest/gtest.h>

#include "tests/broker_core/txn_cluster.h"

namespace eosim::broker_core {
namespace {

using namespace test_cluster;

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

// A PrepareCommit the new coordinator loaded above its partition's high watermark is not acted on: the
// follower that lacks it is still in the ISR, so the record is not committed and is lost if this leader
// fails too. eosim's coordinator answers COORDINATOR_LOAD_IN_PROGRESS until the high watermark reaches what
// it loaded (here: until the network heals, since the ISR without the cut-off follower is below min ISR
// and the high watermark holds); Kafka's (the
// txn-load-uncommitted switch) is in PrepareCommit at once, its markers on the way. Found by swarm seed 1324.
struct LoadedTail {
    ErrorCode answered = ErrorCode::none;  // EndTxn(commit) retried at the new coordinator, 100 ms after it led
    std::vector<std::string> markers_t0, markers_t1;
};

LoadedTail load_prepare_commit_above_high_watermark(BrokerBugs bugs) {
    TxnCluster cluster(8, bugs);
    LoadedTail seen;
    bool done = false;
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        const auto init = cluster.init();
        ASSERT_EQ(cluster.add(init.producer_id, init.producer_epoch, {t0, t1}), ErrorCode::none);
        ASSERT_EQ(cluster.produce(t0, init.producer_id, init.producer_epoch, 0, "x").error, ErrorCode::none);
        ASSERT_EQ(cluster.produce(t1, init.producer_id, init.producer_epoch, 0, "y").error, ErrorCode::none);
        const TopicPartition state{"__transaction_state", protocol::coordinator_partition(txn_id, 3)};
        const BrokerId old_leader = cluster.leader(state);
        std::vector<BrokerId> others;
        for (const BrokerId replica : cluster.partitions().at(state).replicas) {
            if (replica != old_leader) {
                others.push_back(replica);
            }
        }
        const BrokerId next = others.at(0);  // the controller's choice: the first live ISR member in order
        const BrokerId cut = others.at(1);   // in the ISR, but never gets the PrepareCommit
        sim::Network& network = cluster.simulation.network();
        const auto node = [&](BrokerId id) { return cluster.addresses.brokers.at(id); };
        network.partition(node(cut), node(old_leader));
        network.partition(node(cut), node(next));
        cluster.client->spawn("end", [&cluster, init] { (void)cluster.end(init.producer_id, init.producer_epoch, true); });
        sim::sleep(50ms);  // the PrepareCommit is appended and copied by `next`, not by `cut`
        (void)cluster.brokers[static_cast<std::size_t>(old_leader.value() - 1)]->crash(
            sim::CrashOptions{.unsynced = sim::UnsyncedFate::keep});
        while (cluster.leader(state) != next) {
            sim::sleep(10ms);
        }
        sim::sleep(100ms);
        const auto retried = cluster.call<protocol::EndTxnResponse>(
            next, protocol::EndTxnRequest{txn_id, init.producer_id, init.producer_epoch, true});
        seen.answered = retried ? retried->error : ErrorCode::network_exception;
        network.heal();
        sim::sleep(5s);
        done = true;
    });
    cluster.run_until([&] { return done; });
    seen.markers_t0 = cluster.markers(t0);
    seen.markers_t1 = cluster.markers(t1);
    return seen;
}

TEST(TransactionCoordinator, ANewCoordinatorWaitsForWhatItLoadedToCommit) {
    const LoadedTail seen = load_prepare_commit_above_high_watermark({});
    EXPECT_EQ(seen.answered, ErrorCode::coordinator_load_in_progress);
    EXPECT_EQ(seen.markers_t0, std::vector<std::string>{"COMMIT@1"});
    EXPECT_EQ(seen.markers_t1, std::vector<std::string>{"COMMIT@1"});
}

TEST(TransactionCoordinator, TxnLoadUncommittedBugSwitchActsAtOnce) {
    const LoadedTail seen = load_prepare_commit_above_high_watermark(BrokerBugs{.txn_load_uncommitted = true});
    EXPECT_EQ(seen.answered, ErrorCode::concurrent_transactions) << "in PrepareCommit while the record is uncommitted";
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
