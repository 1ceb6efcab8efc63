// Histories of a correct system, some of them tricky: every checker must stay silent on each.

#include <gtest/gtest.h>

#include "model/checkers.h"
#include "tests/model/history_builder.h"

namespace eosim::model {
namespace {

using testing::HistoryBuilder;
using testing::names_of;

const std::string partition = "orders-0";

// Two producers, one consumer reading everything, a leader, an in-sync follower and a lagging follower.
HistoryBuilder clean_run() {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 0);
    run.send("producer-2", partition, "p2-0", 1);
    run.send("producer-1", partition, "p1-1", 2);
    run.send("producer-2", partition, "p2-1", 3);
    run.assign("consumer-1", partition, 0);
    run.poll("consumer-1", partition, {{0, "p1-0"}, {1, "p2-0"}});
    run.poll("consumer-1", partition, {});
    run.poll("consumer-1", partition, {{2, "p1-1"}, {3, "p2-1"}});
    const std::vector<Record> log = {{0, "p1-0"}, {1, "p2-0"}, {2, "p1-1"}, {3, "p2-1"}};
    run.replica(partition, "broker-1", true, 0, 4, 4, log);
    run.replica(partition, "broker-2", false, 0, 4, 4, log);
    run.replica(partition, "broker-3", false, 0, 2, 2, {{0, "p1-0"}, {1, "p2-0"}});
    return run;
}

void expect_clean(const History& history) {
    const std::vector<Anomaly> anomalies = check(history);
    EXPECT_TRUE(anomalies.empty()) << names_of(anomalies);
}

TEST(CleanHistories, ACorrectRunHasNoAnomalies) {
    expect_clean(clean_run().history());
}

TEST(CleanHistories, AnEmptyHistoryHasNoAnomalies) {
    expect_clean(History{});
}

// lost-write
TEST(CleanHistories, ALostSendWithAcksZeroIsNotALostWrite) {
    HistoryBuilder run = clean_run();
    run.send("producer-2", partition, "p2-2", std::nullopt, Acks::none);  // acks=0: no promise was made
    EXPECT_TRUE(check_lost_writes(run.history()).empty());
    expect_clean(run.history());
}

// lost-write
TEST(CleanHistories, FailedAndIndeterminateSendsMayBeMissing) {
    HistoryBuilder run = clean_run();
    run.send("producer-1", partition, "p1-2", std::nullopt, Acks::all, OpType::fail);
    run.send("producer-2", partition, "p2-2", std::nullopt, Acks::all, OpType::info);
    run.send_invoke("producer-3", partition, "p3-0");  // never completed
    EXPECT_TRUE(check_lost_writes(run.history()).empty());
    expect_clean(run.history());
}

// lost-write, vanished-read, replica-divergence
TEST(CleanHistories, RecordsBelowTheLogStartWereRemovedByRetention) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 0);
    run.send("producer-1", partition, "p1-1", 1);
    run.send("producer-1", partition, "p1-2", 2);
    run.send("producer-1", partition, "p1-3", 3);
    run.poll("consumer-1", partition, {{0, "p1-0"}, {1, "p1-1"}, {2, "p1-2"}, {3, "p1-3"}});
    run.replica(partition, "broker-1", true, 2, 4, 4, {{2, "p1-2"}, {3, "p1-3"}});
    run.replica(partition, "broker-2", false, 1, 4, 4, {{1, "p1-1"}, {2, "p1-2"}, {3, "p1-3"}});
    run.removal(partition, "broker-1", "retention", 0, 2, 4);
    run.removal(partition, "broker-2", "follow-leader", 0, 1, 4, 2);
    EXPECT_TRUE(check_lost_writes(run.history()).empty());
    EXPECT_TRUE(check_vanished_reads(run.history()).empty());
    EXPECT_TRUE(check_replica_divergence(run.history()).empty());
    expect_clean(run.history());
}

// nonmonotonic-poll, poll-skip, duplicate
TEST(CleanHistories, PollsAcrossSeeksBackAndForward) {
    HistoryBuilder run = clean_run();
    run.seek("consumer-1", partition, 1);  // back: offsets 1..3 are read again
    run.poll("consumer-1", partition, {{1, "p2-0"}, {2, "p1-1"}});
    run.seek("consumer-1", partition, 0);
    run.poll("consumer-1", partition, {{0, "p1-0"}});
    run.seek("consumer-1", partition, 3);  // forward over offsets 1 and 2: a seek may skip
    run.poll("consumer-1", partition, {{3, "p2-1"}});
    run.assign("consumer-1", partition, 2);  // a rebalance handed the partition back at offset 2
    run.poll("consumer-1", partition, {{2, "p1-1"}, {3, "p2-1"}});
    EXPECT_TRUE(check_nonmonotonic_polls(run.history()).empty());
    EXPECT_TRUE(check_poll_skips(run.history()).empty());
    EXPECT_TRUE(check_duplicates(run.history()).empty());
    expect_clean(run.history());
}

// poll-skip
TEST(CleanHistories, AConsumerJumpsOverGapsInTheLog) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 0);
    run.send("producer-1", partition, "p1-1", 1);
    run.send("producer-1", partition, "p1-2", 4);  // offsets 2 and 3 hold no record (e.g. control records)
    run.send("producer-1", partition, "p1-3", 5);
    run.send("producer-1", partition, "p1-4", 8);
    run.assign("consumer-1", partition, 0);
    run.poll("consumer-1", partition, {{0, "p1-0"}, {1, "p1-1"}});
    run.poll("consumer-1", partition, {{4, "p1-2"}, {5, "p1-3"}, {8, "p1-4"}});
    run.seek("consumer-1", partition, 2);
    run.poll("consumer-1", partition, {{4, "p1-2"}});
    const std::vector<Record> log = {{0, "p1-0"}, {1, "p1-1"}, {4, "p1-2"}, {5, "p1-3"}, {8, "p1-4"}};
    run.replica(partition, "broker-1", true, 0, 9, 9, log);
    run.replica(partition, "broker-2", false, 0, 9, 9, log);
    EXPECT_TRUE(check_poll_skips(run.history()).empty());
    expect_clean(run.history());
}

// replica-divergence
TEST(CleanHistories, AFollowerLaggingBehindTheLeaderHasNotDiverged) {
    HistoryBuilder run = clean_run();  // broker-3 ends at offset 2, the leader at 4
    run.replica("orders-1", "broker-1", false, 0, 1, 1, {{0, "x"}});
    run.replica("orders-1", "broker-2", true, 0, 3, 5, {{0, "x"}, {1, "y"}, {2, "z"}, {3, "w"}, {4, "v"}});
    run.replica("orders-1", "broker-3", false, 0, 0, 0, {});
    EXPECT_TRUE(check_replica_divergence(run.history()).empty());
    expect_clean(run.history());
}

// nonmonotonic-send
TEST(CleanHistories, PipelinedSendsCompletingOutOfOrderKeepInvokeOrder) {
    HistoryBuilder run;
    run.send_invoke("producer-1", partition, "p1-0");
    run.send_invoke("producer-1", partition, "p1-1");
    run.send_completion("producer-1", partition, "p1-1", 1);
    run.send_completion("producer-1", partition, "p1-0", 0);
    run.replica(partition, "broker-1", true, 0, 2, 2, {{0, "p1-0"}, {1, "p1-1"}});
    EXPECT_TRUE(check_nonmonotonic_sends(run.history()).empty());
    expect_clean(run.history());
}

// inconsistent-offsets
TEST(CleanHistories, ReplicaRecordsAboveTheirHighWatermarkAreNotObservations) {
    HistoryBuilder run = clean_run();
    // An uncommitted tail at offset 4 on the leader, a different one on a follower: both above their high watermark.
    run.replica("orders-1", "broker-1", true, 0, 1, 2, {{0, "a"}, {1, "tail-1"}});
    run.replica("orders-1", "broker-2", false, 0, 1, 2, {{0, "a"}, {1, "tail-2"}});
    EXPECT_TRUE(check_inconsistent_offsets(run.history()).empty());
    expect_clean(run.history());
}

// lost-write, vanished-read: nothing to hold them against
TEST(CleanHistories, APartitionWithoutReplicasIsNotCheckedAgainstALog) {
    HistoryBuilder run = clean_run();
    run.send("producer-1", "unread-0", "u-0", 0);
    run.poll("consumer-2", "unread-0", {{0, "u-0"}});
    expect_clean(run.history());
}

// lost-write without replicas: judged by reads only where a consumer read on past the offset from at or below
// it; a consumer moved past it by a seek, or one that started above it, proves nothing
TEST(CleanHistories, WithoutReplicasAnUnreadWriteIsLostOnlyWhenAConsumerReadPastIt) {
    HistoryBuilder run = clean_run();
    run.send("producer-1", "unread-0", "u-0", 0);
    run.send("producer-1", "unread-0", "u-1", 1);
    run.send("producer-1", "unread-0", "u-2", 2);
    run.assign("consumer-2", "unread-0", 2);  // started above offsets 0 and 1
    run.poll("consumer-2", "unread-0", {{2, "u-2"}});
    run.send("producer-1", "unread-1", "v-0", 0);
    run.send("producer-1", "unread-1", "v-1", 1);
    run.poll("consumer-3", "unread-1", {{0, "v-0"}});
    run.seek("consumer-3", "unread-1", 2);  // moved past offset 1 (retention, say)
    run.poll("consumer-3", "unread-1", {{2, "v-2"}});
    expect_clean(run.history());
}

// aborted-read: a failed send that nobody read and no log holds
TEST(CleanHistories, AFailedSendNobodyReadIsNoAbortedRead) {
    HistoryBuilder run = clean_run();
    run.send("producer-1", "orders-0", "never-written", std::nullopt, Acks::all, OpType::fail);
    EXPECT_TRUE(check_aborted_reads(run.history()).empty());
    expect_clean(run.history());
}

// every checker: functions it does not know are ignored
TEST(CleanHistories, UnknownFunctionsAreIgnored) {
    HistoryBuilder run = clean_run();
    run.other("admin", "create-topic");
    run.other("consumer-1", "commit");
    expect_clean(run.history());
}

// stuck
TEST(CleanHistories, NoStuckOperationNoStuckAnomaly) {
    EXPECT_TRUE(check_stuck(clean_run().history()).empty());
}

// every checker: a transactional run. producer-1 commits t1 across two partitions, aborts t2, and commits t3
// with an unknown outcome (it committed); producer-2 writes plainly in between; producer-3, a new instance of
// producer-1's transactional id, fences producer-1. A read_committed consumer skips the aborted record and the
// markers; a read_uncommitted consumer reads only what committed, passing over the markers.
BatchHeader header(std::int64_t offset, std::int64_t producer, std::int32_t epoch, bool control) {
    return BatchHeader{.base_offset = offset, .last_offset = offset, .producer_id = producer, .producer_epoch = epoch,
                       .base_sequence = control ? -1 : 0, .transactional = producer == 7, .control = control};
}

HistoryBuilder transactional_run() {
    const std::string payments = "payments-0";
    HistoryBuilder run;
    run.init_txn("producer-1", "tid-producer-1", 10'000, 7, 0);
    run.begin("producer-1", "tid-producer-1", "t1");
    run.txn_send("producer-1", "t1", partition, "t1-0", 0);
    run.txn_send("producer-1", "t1", payments, "t1-1", 0);
    run.end_txn("producer-1", "t1", "commit");
    run.begin("producer-1", "tid-producer-1", "t2");
    run.txn_send("producer-1", "t2", partition, "t2-0", 2);
    run.end_txn("producer-1", "t2", "abort");
    run.send("producer-2", partition, "p2-0", 4);
    run.begin("producer-1", "tid-producer-1", "t3");
    run.txn_send("producer-1", "t3", partition, "t3-0", 5);
    run.end_txn("producer-1", "t3", "commit", OpType::info, "request timed out");
    run.init_txn("producer-3", "tid-producer-1", 10'000, 7, 4);
    run.begin("producer-1", "tid-producer-1", "t4");
    run.txn_send("producer-1", "t4", partition, "t4-0", std::nullopt, OpType::fail, "PRODUCER_FENCED");
    run.assign("consumer-1", partition, 0);
    run.poll_committed("consumer-1", partition, {{0, "t1-0"}, {4, "p2-0"}});
    run.poll_committed("consumer-1", partition, {{5, "t3-0"}});
    run.assign("consumer-1", payments, 0);
    run.poll_committed("consumer-1", payments, {{0, "t1-1"}});
    run.assign("consumer-2", partition, 4);
    run.poll("consumer-2", partition, {{4, "p2-0"}, {5, "t3-0"}});
    const std::vector<Record> orders_log = {{0, "t1-0"}, {2, "t2-0"}, {4, "p2-0"}, {5, "t3-0"}};
    for (const bool leader : {true, false}) {
        run.replica(partition, leader ? "broker-1" : "broker-2", leader, 0, 7, 7, orders_log);
        run.replica(payments, leader ? "broker-1" : "broker-2", leader, 0, 2, 2, {{0, "t1-1"}});
    }
    return run;
}

TEST(CleanHistories, ATransactionalRunHasNoAnomalies) {
    History history = transactional_run().history();
    // Markers at orders 1, 3, 6 and payments 1: in the headers, not in the records.
    const std::vector<BatchHeader> orders_batches = {header(0, 7, 0, false), header(1, 7, 1, true),
                                                     header(2, 7, 1, false), header(3, 7, 2, true),
                                                     header(4, 8, 0, false), header(5, 7, 2, false),
                                                     header(6, 7, 3, true)};
    const std::vector<BatchHeader> payments_batches = {header(0, 7, 0, false), header(1, 7, 1, true)};
    for (ReplicaState& replica : history.replicas) {
        replica.batches = replica.partition == partition ? orders_batches : payments_batches;
    }
    expect_clean(history);
}

}  // namespace
}  // namespace eosim::model
