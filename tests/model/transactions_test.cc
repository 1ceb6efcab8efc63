// The transaction checkers (model/transactions.cc) and the transactional rules of the others (lost-write,
// aborted-read, poll-skip): each fires on a crafted history and stays silent on clean ones built to look
// suspicious.

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "model/checkers.h"
#include "tests/model/history_builder.h"

namespace eosim::model {
namespace {

BatchHeader data(std::int64_t base, std::int64_t last, std::int64_t producer, std::int32_t epoch, bool transactional) {
    return BatchHeader{.base_offset = base,
                       .last_offset = last,
                       .producer_id = producer,
                       .producer_epoch = epoch,
                       .base_sequence = 0,
                       .transactional = transactional};
}

BatchHeader marker(std::int64_t offset, std::int64_t producer, std::int32_t epoch) {
    return BatchHeader{.base_offset = offset,
                       .last_offset = offset,
                       .producer_id = producer,
                       .producer_epoch = epoch,
                       .transactional = true,
                       .control = true};
}

History log_of(std::vector<BatchHeader> batches, std::int64_t high_watermark) {
    History history;
    history.replicas.push_back(ReplicaState{.partition = "events-0",
                                            .replica = "broker-1",
                                            .leader = true,
                                            .high_watermark = high_watermark,
                                            .log_end_offset = high_watermark,
                                            .batches = std::move(batches)});
    return history;
}

TEST(ZombieWrite, FiresForABatchOfAnEpochOlderThanOneBeforeIt) {
    // Epoch 3's transaction was aborted by the fence at epoch 4; then a late batch of epoch 3 landed.
    const History history = log_of({data(0, 1, 7, 3, true), marker(2, 7, 4), data(3, 3, 7, 3, true)}, 4);
    const std::vector<Anomaly> found = check_zombie_writes(history);
    ASSERT_EQ(found.size(), 1U);
    EXPECT_EQ(found[0].name, "zombie-write");
    EXPECT_EQ(found[0].partition, "events-0");
    EXPECT_EQ(found[0].evidence["batch"]["base_offset"], 3);
    EXPECT_EQ(found[0].evidence["fenced_by"]["base_offset"], 2);
    EXPECT_EQ(found[0].description,
              "data batch 3..3 of producer 7 epoch 3 on events-0 (broker-1) comes after control batch 2..2 of "
              "producer 7 epoch 4: a fenced epoch wrote after the fence");
}

TEST(ZombieWrite, SilentForRisingEpochsOtherProducersAndPlainBatches) {
    const History history = log_of({data(0, 0, 7, 3, true), data(1, 1, 8, 0, false), marker(2, 7, 4),
                                    data(3, 3, 7, 4, true), data(4, 4, -1, -1, false), marker(5, 7, 5),
                                    data(6, 6, 8, 0, false)},
                                   7);
    EXPECT_TRUE(check_zombie_writes(history).empty());
}

TEST(ZombieWrite, SilentForIdempotentBatchesWhoseEpochGoesBack) {
    // A broker that forgot an idle idempotent producer takes its old epoch again: not a fence.
    EXPECT_TRUE(check_zombie_writes(log_of({data(0, 0, 7, 4, false), data(1, 1, 7, 3, false)}, 2)).empty());
}

// A stuck run (the runner gave up `timeout_ms` after healing) whose log holds two open transactions: producer 7's
// first write was sent at `old_send` s, producer 8's at 70 s. Producers ask for a 10 s transaction timeout.
History stuck_with_open_transactions(std::int64_t old_send_s, std::optional<std::int64_t> liveness_ms) {
    constexpr std::int64_t s = 1'000'000'000;
    History history = log_of({data(0, 0, 7, 3, true), data(1, 1, 8, 0, true)}, 2);
    history.replicas[0].records = {Record{.offset = 0, .value = "v7"}, Record{.offset = 1, .value = "v8"}};
    history.operations = {
        Operation{.index = 0, .time = 0, .process = "w", .f = "init-txn", .timeout_ms = 10'000},
        Operation{.index = 1, .time = old_send_s * s, .process = "w", .f = "send", .partition = "events-0", .value = "v7"},
        Operation{.index = 2, .time = 70 * s, .process = "w", .f = "send", .partition = "events-0", .value = "v8"},
        Operation{.index = 3, .time = 73 * s, .process = "runner", .type = OpType::info, .f = "stuck",
                  .timeout_ms = liveness_ms},
    };
    return history;
}

TEST(HangingTransaction, FiresInAStuckRunForATransactionOpenPastItsTimeoutSinceHealing) {
    // Healed at 13 s: producer 7's transaction (sent at 9 s) has been open on a healed cluster for 60 s.
    const std::vector<Anomaly> found = check_hanging_transactions(stuck_with_open_transactions(9, 60'000));
    ASSERT_EQ(found.size(), 1U) << "producer 8's transaction began 3 s before the end: it may still time out";
    EXPECT_EQ(found[0].evidence["producer_id"], 7);
    EXPECT_EQ(found[0].evidence["open_healthy_ns"], 60'000'000'000);
    EXPECT_EQ(found[0].description,
              "the transaction of producer 7 on events-0 (broker-1) that began with data batch 0..0 of producer 7 "
              "epoch 3 has no marker below the high watermark 2 after healing and was open on a healthy cluster "
              "for 60.0 s when the run gave up (the transaction timeout is 10000 ms)");
}

TEST(HangingTransaction, SilentInAStuckRunForTransactionsThatMayStillTimeOut) {
    // Healed only 12 s before the end: less than the 10 s timeout and the 5 s slack.
    EXPECT_TRUE(check_hanging_transactions(stuck_with_open_transactions(9, 12'000)).empty());
    // Without the liveness bound or a health line, when the cluster healed is unknown.
    EXPECT_TRUE(check_hanging_transactions(stuck_with_open_transactions(9, std::nullopt)).empty());
    // Without a transaction timeout, nothing says the coordinator should have ended it.
    History no_timeout = stuck_with_open_transactions(9, 60'000);
    no_timeout.operations[0].timeout_ms.reset();
    EXPECT_TRUE(check_hanging_transactions(no_timeout).empty());
}

TEST(ZombieWrite, LooksOnlyBelowTheHighWatermark) {
    EXPECT_TRUE(check_zombie_writes(log_of({marker(0, 7, 4), data(1, 1, 7, 3, true)}, 1)).empty());
}

TEST(HangingTransaction, FiresForATransactionWithoutAMarker) {
    const History history = log_of({data(0, 1, 7, 3, true), marker(2, 7, 4), data(3, 4, 7, 4, true),
                                    data(5, 5, 8, 0, true)},
                                   6);
    const std::vector<Anomaly> found = check_hanging_transactions(history);
    ASSERT_EQ(found.size(), 2U);
    EXPECT_EQ(found[0].name, "hanging-transaction");
    EXPECT_EQ(found[0].evidence["producer_id"], 7);
    EXPECT_EQ(found[0].evidence["first_batch"]["base_offset"], 3);
    EXPECT_EQ(found[1].evidence["producer_id"], 8);
    EXPECT_EQ(found[0].description,
              "the transaction of producer 7 on events-0 (broker-1) that began with data batch 3..4 of producer 7 "
              "epoch 4 has no marker below the high watermark 6 after healing");
}

TEST(HangingTransaction, SilentWhenEveryTransactionEnded) {
    const History history = log_of({data(0, 1, 7, 3, true), data(2, 2, 8, 0, true), data(3, 3, 9, 0, false),
                                    marker(4, 8, 1), marker(5, 7, 4)},
                                   6);
    EXPECT_TRUE(check_hanging_transactions(history).empty());
}

TEST(HangingTransaction, SilentWithoutBatchHeaders) {
    History history = log_of({}, 10);
    EXPECT_TRUE(check_hanging_transactions(history).empty());
    EXPECT_TRUE(check_zombie_writes(history).empty());
}

// ---- histories with transactional operations ----

using testing::HistoryBuilder;
using testing::named;
using testing::names_of;

const std::string orders = "orders-0";
const std::string payments = "payments-0";

// Transaction `txn` of producer-1 (transactional id tid-producer-1): one send of `value`, acknowledged at
// `offset` of orders, then `end` ("commit" or "abort"), completed ok.
void one_send_transaction(HistoryBuilder& run, const std::string& txn, const std::string& value, std::int64_t offset,
                          const std::string& end) {
    run.begin("producer-1", "tid-producer-1", txn);
    run.txn_send("producer-1", txn, orders, value, offset);
    run.end_txn("producer-1", txn, end);
}

// producer-1 (transactional id tid-producer-1): transaction t1 writes a1 at offset 0 of orders and aborts
// (marker at 1); t2 writes c1 at offset 2 and commits (marker at 3).
HistoryBuilder aborted_then_committed() {
    HistoryBuilder run;
    run.init_txn("producer-1", "tid-producer-1", 10'000, 7, 0);
    one_send_transaction(run, "t1", "a1", 0, "abort");
    one_send_transaction(run, "t2", "c1", 2, "commit");
    return run;
}

void final_log_of_aborted_then_committed(HistoryBuilder& run) {
    run.leader_with_batches(orders, 4, {{0, "a1"}, {2, "c1"}},
                            {data(0, 0, 7, 0, true), marker(1, 7, 1), data(2, 2, 7, 1, true), marker(3, 7, 2)});
}

void expect_clean(const History& history) {
    const std::vector<Anomaly> anomalies = check(history);
    EXPECT_TRUE(anomalies.empty()) << names_of(anomalies);
}

TEST(TransactionalHistory, AbortedDataInTheLogAndReadCommittedSkipsAreClean) {
    HistoryBuilder run = aborted_then_committed();
    run.assign("consumer-1", orders, 0);
    // read_committed: skips the aborted a1 (offset 0) and both markers (1, 3).
    run.poll_committed("consumer-1", orders, {{2, "c1"}});
    run.poll_committed("consumer-1", orders, {});
    final_log_of_aborted_then_committed(run);
    expect_clean(run.history());
}

TEST(TransactionalHistory, AReadUncommittedConsumerSkipsMarkersOnly) {
    HistoryBuilder run = aborted_then_committed();
    run.assign("consumer-1", orders, 0);
    run.poll("consumer-1", orders, {{0, "a1"}, {2, "c1"}});  // offset 1 is a marker
    final_log_of_aborted_then_committed(run);
    const std::vector<Anomaly> found = check(run.history());
    EXPECT_TRUE(named(found, "poll-skip").empty()) << names_of(found);
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].name, "aborted-read");  // allowed only with the cause below
}

TEST(PollSkip, FiresForAReadUncommittedConsumerSkippingAnAbortedRecord) {
    HistoryBuilder run = aborted_then_committed();
    run.assign("consumer-1", orders, 0);
    run.poll("consumer-1", orders, {{2, "c1"}});
    final_log_of_aborted_then_committed(run);
    const std::vector<Anomaly> found = check_poll_skips(run.history());
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].evidence["skipped_offsets"], nlohmann::json::array({0}));
}

TEST(PollSkip, FiresForAReadCommittedConsumerSkippingACommittedRecord) {
    HistoryBuilder run = aborted_then_committed();
    run.begin("producer-1", "tid-producer-1", "t3");
    run.txn_send("producer-1", "t3", orders, "c2", 4);
    run.end_txn("producer-1", "t3", "commit");
    run.assign("consumer-1", orders, 0);
    run.poll_committed("consumer-1", orders, {{4, "c2"}});  // skipped c1 at offset 2
    run.leader_with_batches(orders, 6, {{0, "a1"}, {2, "c1"}, {4, "c2"}},
                            {data(0, 0, 7, 0, true), marker(1, 7, 1), data(2, 2, 7, 1, true), marker(3, 7, 2),
                             data(4, 4, 7, 2, true), marker(5, 7, 3)});
    const std::vector<Anomaly> found = check_poll_skips(run.history());
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].evidence["skipped_offsets"], nlohmann::json::array({2}));
}

TEST(AbortedRead, AReadUncommittedReadOfAnAbortedTransactionHasTheCauseReadUncommitted) {
    HistoryBuilder run = aborted_then_committed();
    const std::uint64_t poll = run.poll("consumer-1", orders, {{0, "a1"}});
    final_log_of_aborted_then_committed(run);
    const std::vector<Anomaly> found = check_aborted_reads(run.history());
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].name, "aborted-read");
    EXPECT_EQ(found[0].partition, orders);
    EXPECT_EQ(found[0].causes, std::vector<std::string>{"read-uncommitted"});
    EXPECT_EQ(found[0].evidence["txn"], "t1");
    EXPECT_EQ(found[0].evidence["value"], "a1");
    EXPECT_EQ(found[0].evidence["reads"][0]["index"], poll);
    EXPECT_EQ(found[0].evidence["reads"][0]["isolation"], "read_uncommitted");
}

TEST(AbortedRead, AReadCommittedReadOfAnAbortedTransactionHasNoCause) {
    HistoryBuilder run = aborted_then_committed();
    run.poll_committed("consumer-1", orders, {{0, "a1"}});
    final_log_of_aborted_then_committed(run);
    const std::vector<Anomaly> found = check_aborted_reads(run.history());
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_TRUE(found[0].causes.empty());
    EXPECT_EQ(found[0].evidence["reads"][0]["isolation"], "read_committed");
}

// Every op of `process` at producer id 7 and `epoch` (the builder's ops carry none).
History at_epoch(History history, const std::string& txn, std::int64_t epoch) {
    for (Operation& op : history.operations) {
        if (op.txn == txn) {
            op.producer_id = 7;
            op.producer_epoch = epoch;
        }
    }
    return history;
}

// The causes of the one anomaly `check` finds with t1 at epoch 0 and t2 (and t3, where there is one) at
// `epoch`: the same (version 1 keeps the epoch) or the next (version 2 bumps it at every end).
std::vector<std::string> causes_at(std::vector<Anomaly> (*check)(const History&), const History& history,
                                   std::int64_t epoch) {
    const std::vector<Anomaly> found = check(at_epoch(at_epoch(at_epoch(history, "t1", 0), "t2", epoch), "t3", epoch));
    EXPECT_EQ(found.size(), 1U) << names_of(found);
    return found.empty() ? std::vector<std::string>{"(no anomaly)"} : found[0].causes;
}

const std::vector<std::string> late_request{"late-request"};

TEST(AbortedRead, ATransactionAfterAnotherAtTheSameEpochHasTheCauseLateRequest) {
    // Transaction version 1 keeps the epoch: a late COMMIT marker or EndTxn(commit) of t1 may commit t2's a2.
    HistoryBuilder run;
    one_send_transaction(run, "t1", "c1", 0, "commit");
    one_send_transaction(run, "t2", "a2", 2, "abort");
    run.poll_committed("consumer-1", orders, {{0, "c1"}, {2, "a2"}});
    EXPECT_EQ(causes_at(check_aborted_reads, run.history(), 0), late_request);
    // Version 2 bumps the epoch with every end: nothing of t1's can reach t2.
    EXPECT_TRUE(causes_at(check_aborted_reads, run.history(), 1).empty());
}

TEST(AbortedRead, ASendAnsweredAfterItsTransactionEndedIsNoExcuse) {
    // The producer ends a transaction only once its sends are answered (and bumps the epoch after one of unknown
    // outcome): in its first transaction at an epoch, nothing late can explain a committed aborted record.
    HistoryBuilder run;
    run.begin("producer-1", "tid-producer-1", "t1");
    run.txn_send("producer-1", "t1", orders, "a1", std::nullopt, OpType::invoke);  // never answered
    run.end_txn("producer-1", "t1", "abort");
    run.poll_committed("consumer-1", orders, {{0, "a1"}});
    EXPECT_TRUE(causes_at(check_aborted_reads, run.history(), 0).empty());
}

TEST(AbortedRead, OnlyAnEarlierCommitAtTheSameEpochExcusesIt) {
    // Only a late COMMIT (an EndTxn(commit) sent twice, a COMMIT marker sent again) can make an aborted
    // record visible: after an aborted transaction at the same epoch there is no excuse.
    HistoryBuilder run;
    one_send_transaction(run, "t1", "a1", 0, "abort");
    one_send_transaction(run, "t2", "a2", 2, "abort");
    run.poll_committed("consumer-1", orders, {{2, "a2"}});
    EXPECT_TRUE(causes_at(check_aborted_reads, run.history(), 0).empty());
}

TEST(PollSkip, ARecordAnEarlierAbortAtTheSameEpochMayHaveAbortedHasTheCauseLateRequest) {
    // t1 aborted; a late ABORT marker of it at t2's epoch may abort t2's c1, which read_committed skips.
    HistoryBuilder run = aborted_then_committed();
    one_send_transaction(run, "t3", "c2", 4, "commit");
    run.assign("consumer-1", orders, 0);
    run.poll_committed("consumer-1", orders, {{4, "c2"}});  // skipped c1 at offset 2
    run.leader_with_batches(orders, 6, {{0, "a1"}, {2, "c1"}, {4, "c2"}},
                            {data(0, 0, 7, 0, true), marker(1, 7, 0), data(2, 2, 7, 0, true), marker(3, 7, 0),
                             data(4, 4, 7, 0, true), marker(5, 7, 0)});
    EXPECT_EQ(causes_at(check_poll_skips, run.history(), 0), late_request);
    // With t1 at an earlier epoch (version 2 bumps it at every end), nothing of t1's can reach c1.
    EXPECT_TRUE(causes_at(check_poll_skips, run.history(), 1).empty());
}

TEST(UncommittedRead, ATransactionAfterAnotherAtTheSameEpochHasTheCauseLateRequest) {
    HistoryBuilder run;
    one_send_transaction(run, "t1", "c1", 0, "commit");
    run.begin("producer-1", "tid-producer-1", "t2");
    run.txn_send("producer-1", "t2", orders, "c2", 2);
    run.poll_committed("consumer-1", orders, {{2, "c2"}});
    run.end_txn("producer-1", "t2", "commit");
    EXPECT_EQ(causes_at(check_uncommitted_reads, run.history(), 0), late_request);
    EXPECT_TRUE(causes_at(check_uncommitted_reads, run.history(), 1).empty());
}

TEST(AbortedRead, FiresForTransactionsAbortedByAFailedCommitOrNeverCommitted) {
    HistoryBuilder run;
    run.begin("producer-1", "tid-producer-1", "t1");
    run.txn_send("producer-1", "t1", orders, "v1", 0);
    run.end_txn("producer-1", "t1", "commit", OpType::fail, "abortable");
    run.begin("producer-1", "tid-producer-1", "t2");
    run.txn_send("producer-1", "t2", orders, "v2", 1);  // no commit was ever invoked
    run.poll_committed("consumer-1", orders, {{0, "v1"}, {1, "v2"}});
    const std::vector<Anomaly> found = check_aborted_reads(run.history());
    ASSERT_EQ(found.size(), 2U) << names_of(found);
    EXPECT_EQ(found[0].evidence["txn"], "t1");
    EXPECT_EQ(found[1].evidence["txn"], "t2");
}

TEST(AbortedRead, SilentForCommittedAndUnknownTransactionsAndAbortedDataNobodyRead) {
    HistoryBuilder run = aborted_then_committed();
    run.begin("producer-1", "tid-producer-1", "t3");
    run.txn_send("producer-1", "t3", orders, "u1", 4);
    run.end_txn("producer-1", "t3", "commit", OpType::info, "request timed out");
    run.poll("consumer-1", orders, {{2, "c1"}, {4, "u1"}});
    final_log_of_aborted_then_committed(run);
    EXPECT_TRUE(check_aborted_reads(run.history()).empty());
}

TEST(LostWrite, FiresForACommittedTransactionsMissingSend) {
    HistoryBuilder run = aborted_then_committed();
    run.leader_with_batches(orders, 4, {{0, "a1"}}, {data(0, 0, 7, 0, true), marker(1, 7, 1), marker(3, 7, 2)});
    const std::vector<Anomaly> found = check_lost_writes(run.history());
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].evidence["send"]["value"], "c1");
}

TEST(LostWrite, SilentForAbortedAndUnknownTransactionsMissingSends) {
    HistoryBuilder run = aborted_then_committed();
    run.begin("producer-1", "tid-producer-1", "t3");
    run.txn_send("producer-1", "t3", orders, "u1", 4);
    run.end_txn("producer-1", "t3", "commit", OpType::info, "request timed out");
    run.leader_with_batches(orders, 4, {{2, "c1"}}, {marker(1, 7, 1), data(2, 2, 7, 1, true), marker(3, 7, 2)});
    EXPECT_TRUE(check_lost_writes(run.history()).empty());
}

TEST(UncommittedRead, FiresForARecordReadBeforeItsCommitWasInvoked) {
    HistoryBuilder run;
    run.begin("producer-1", "tid-producer-1", "t1");
    run.txn_send("producer-1", "t1", orders, "v1", 0);
    const std::uint64_t poll = run.poll_committed("consumer-1", orders, {{0, "v1"}});
    const std::uint64_t commit = run.end_txn("producer-1", "t1", "commit") - 1;
    const std::vector<Anomaly> found = check_uncommitted_reads(run.history());
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].name, "uncommitted-read");
    EXPECT_EQ(found[0].partition, orders);
    EXPECT_EQ(found[0].evidence["poll_index"], poll);
    EXPECT_EQ(found[0].evidence["txn"], "t1");
    EXPECT_EQ(found[0].evidence["commit_invoke_index"], commit);
    EXPECT_EQ(found[0].evidence["records"][0]["offset"], 0);
}

TEST(UncommittedRead, FiresForATransactionWhoseCommitOutcomeIsUnknown) {
    HistoryBuilder run;
    run.begin("producer-1", "tid-producer-1", "t1");
    run.txn_send("producer-1", "t1", orders, "v1", 0);
    run.poll_committed("consumer-1", orders, {{0, "v1"}});
    run.end_txn("producer-1", "t1", "commit", OpType::info, "request timed out");
    const std::vector<Anomaly> found = check_uncommitted_reads(run.history());
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].evidence["outcome"], "unknown");
}

TEST(UncommittedRead, LeavesATransactionNeverCommittedToAbortedRead) {
    HistoryBuilder run;
    run.begin("producer-1", "tid-producer-1", "t1");
    run.txn_send("producer-1", "t1", orders, "v1", 0);
    run.poll_committed("consumer-1", orders, {{0, "v1"}});
    EXPECT_TRUE(check_uncommitted_reads(run.history()).empty());
    const std::vector<Anomaly> aborted = check_aborted_reads(run.history());
    ASSERT_EQ(aborted.size(), 1U) << names_of(aborted);
    EXPECT_EQ(aborted[0].name, "aborted-read");
}

TEST(UncommittedRead, SilentForReadsAfterTheCommitWasInvokedAndForReadUncommittedConsumers) {
    HistoryBuilder run;
    run.begin("producer-1", "tid-producer-1", "t1");
    run.txn_send("producer-1", "t1", orders, "v1", 0);
    run.poll("consumer-2", orders, {{0, "v1"}});  // read_uncommitted: sees open transactions by design
    run.end_txn("producer-1", "t1", "commit", OpType::invoke);
    run.poll_committed("consumer-1", orders, {{0, "v1"}});  // after the invoke: the commit may be done
    EXPECT_TRUE(check_uncommitted_reads(run.history()).empty());
}

// producer-1's transaction t1 writes o1 to orders (offset 0) and p1 to payments (offset 0), and commits.
HistoryBuilder committed_across_two_partitions() {
    HistoryBuilder run;
    run.init_txn("producer-1", "tid-producer-1", 10'000, 7, 0);
    run.begin("producer-1", "tid-producer-1", "t1");
    run.txn_send("producer-1", "t1", orders, "o1", 0);
    run.txn_send("producer-1", "t1", payments, "p1", 0);
    run.end_txn("producer-1", "t1", "commit");
    return run;
}

TEST(TornTransaction, FiresForACommittedTransactionMissingFromOnePartitionsLog) {
    HistoryBuilder run = committed_across_two_partitions();
    run.leader_with_batches(orders, 2, {{0, "o1"}}, {data(0, 0, 7, 0, true), marker(1, 7, 1)});
    run.leader_with_batches(payments, 1, {}, {marker(0, 7, 1)});
    const std::vector<Anomaly> found = check_torn_transactions(run.history());
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].name, "torn-transaction");
    EXPECT_EQ(found[0].partition, payments);
    EXPECT_EQ(found[0].evidence["txn"], "t1");
    EXPECT_EQ(found[0].evidence["visible"]["partition"], orders);
    EXPECT_EQ(found[0].evidence["missing"]["value"], "p1");
}

TEST(TornTransaction, SilentWhenEveryPartitionHoldsItOrRetentionRemovedIt) {
    HistoryBuilder whole = committed_across_two_partitions();
    whole.leader_with_batches(orders, 2, {{0, "o1"}}, {data(0, 0, 7, 0, true), marker(1, 7, 1)});
    whole.leader_with_batches(payments, 2, {{0, "p1"}}, {data(0, 0, 7, 0, true), marker(1, 7, 1)});
    expect_clean(whole.history());

    HistoryBuilder removed = committed_across_two_partitions();
    removed.leader_with_batches(orders, 2, {{0, "o1"}}, {data(0, 0, 7, 0, true), marker(1, 7, 1)});
    removed.leader_with_batches(payments, 2, {}, {marker(1, 7, 1)}, 1);
    EXPECT_TRUE(check_torn_transactions(removed.history()).empty());
}

TEST(TornTransaction, FiresForAReadCommittedConsumerReadingPastOnePartOfATransaction) {
    HistoryBuilder run = committed_across_two_partitions();
    run.send("producer-2", payments, "x1", 2);
    run.poll_committed("consumer-1", orders, {{0, "o1"}});
    run.assign("consumer-1", payments, 0);
    const std::uint64_t past = run.poll_committed("consumer-1", payments, {{2, "x1"}});
    const std::vector<Anomaly> found = check_torn_transactions(run.history());
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].evidence["consumer"], "consumer-1");
    EXPECT_EQ(found[0].evidence["skipped"]["partition"], payments);
    EXPECT_EQ(found[0].evidence["skipped"]["offset"], 0);
    EXPECT_EQ(found[0].evidence["read_past"]["poll_index"], past);
}

TEST(TornTransaction, SilentWhenTheConsumerReadsEveryPartOrStartsPastIt) {
    HistoryBuilder run = committed_across_two_partitions();
    run.send("producer-2", payments, "x1", 2);
    run.poll_committed("consumer-1", orders, {{0, "o1"}});
    run.assign("consumer-1", payments, 0);
    run.poll_committed("consumer-1", payments, {{0, "p1"}, {2, "x1"}});
    run.poll_committed("consumer-2", orders, {{0, "o1"}});
    run.assign("consumer-2", payments, 2);  // starts past the transaction's record there
    run.poll_committed("consumer-2", payments, {{2, "x1"}});
    run.poll("consumer-3", orders, {{0, "o1"}});  // read_uncommitted: not judged
    run.assign("consumer-3", payments, 0);
    run.poll("consumer-3", payments, {{2, "x1"}});
    EXPECT_TRUE(check_torn_transactions(run.history()).empty());
}

// producer-1 inits tid with a 10 s transaction timeout, begins t1, and a send of t1 fails with PRODUCER_FENCED.
HistoryBuilder fenced_producer(const std::function<void(HistoryBuilder&)>& before_fence) {
    HistoryBuilder run;
    run.init_txn("producer-1", "tid", 10'000, 7, 0);
    run.begin("producer-1", "tid", "t1");
    before_fence(run);
    run.txn_send("producer-1", "t1", orders, "v1", std::nullopt, OpType::fail, "PRODUCER_FENCED");
    return run;
}

TEST(SpuriousFence, FiresForAFenceWithNoOtherInstanceAndNoTimeout) {
    const HistoryBuilder run = fenced_producer([](HistoryBuilder& history) {
        history.init_txn("producer-2", "other-tid", 10'000, 8, 0);  // another transactional id
    });
    const std::vector<Anomaly> found = check_spurious_fences(run.history());
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].name, "spurious-fence");
    EXPECT_EQ(found[0].evidence["process"], "producer-1");
    EXPECT_EQ(found[0].evidence["transactional_id"], "tid");
    EXPECT_EQ(found[0].evidence["fence"]["error"], "PRODUCER_FENCED");
    EXPECT_EQ(found[0].evidence["open_transaction"]["txn"], "t1");
    EXPECT_EQ(found[0].evidence["timeout_ms"], 10'000);
}

TEST(SpuriousFence, FiresOncePerProcessWhatEverTheErrorsCase) {
    HistoryBuilder run = fenced_producer([](HistoryBuilder&) {});
    run.end_txn("producer-1", "t1", "abort", OpType::fail, "invalid_producer_epoch");
    const std::vector<Anomaly> found = check_spurious_fences(run.history());
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].evidence["fence"]["f"], "send");
}

TEST(SpuriousFence, SilentWhenAnotherInstanceInitedTheSameTransactionalId) {
    const HistoryBuilder run = fenced_producer([](HistoryBuilder& history) {
        history.init_txn("producer-2", "tid", 10'000, 7, 1);
    });
    EXPECT_TRUE(check_spurious_fences(run.history()).empty());
}

TEST(SpuriousFence, SilentWhenTheOpenTransactionWasOlderThanItsTimeout) {
    const HistoryBuilder run = fenced_producer([](HistoryBuilder& history) {
        history.advance_time(10'000'000'000);  // 10 s: the coordinator may have aborted t1 and bumped the epoch
    });
    EXPECT_TRUE(check_spurious_fences(run.history()).empty());
}

// fenced_producer with t1 open for `open_ns` before the fence, and the clock lines `clocks` made of (node,
// offset from the begin's time in ns, the node's clock offset from then on).
History fenced_with_clocks(std::int64_t open_ns,
                           const std::vector<std::tuple<std::string, std::int64_t, std::int64_t>>& clocks) {
    History history = fenced_producer([open_ns](HistoryBuilder& run) { run.advance_time(open_ns); }).history();
    const auto begin = std::find_if(history.operations.begin(), history.operations.end(),
                                    [](const Operation& op) { return op.f == "begin"; });
    for (const auto& [node, at, offset] : clocks) {
        history.clocks.push_back(ClockChange{.time = begin->time + at, .node = node, .offset_ns = offset});
    }
    return history;
}

TEST(SpuriousFence, SilentWhenACoordinatorsClockSteppedPastTheTimeoutAndBack) {
    // broker-1's clock steps 12 s forward 0.2 s into t1 and back 0.5 s later, before the fence at 1 s: by its
    // clock t1 was open 12.2 s at one moment, and a coordinator there times it out (Kafka's wall clock).
    const History history = fenced_with_clocks(
        1'000'000'000, {{"broker-1", 200'000'000, 12'000'000'000}, {"broker-1", 700'000'000, 0}});
    EXPECT_TRUE(check_spurious_fences(history).empty()) << names_of(check_spurious_fences(history));
}

TEST(SpuriousFence, SilentWhenTheStartWasTimedByAClockBehindTheCoordinators) {
    // broker-2 runs 9.5 s behind from before t1 began (it wrote t1's start), broker-1 true: after 1 s a
    // coordinator failing over to broker-1 finds t1 open 10.5 s.
    const History history = fenced_with_clocks(1'000'000'000, {{"broker-2", -1, -9'500'000'000}});
    EXPECT_TRUE(check_spurious_fences(history).empty()) << names_of(check_spurious_fences(history));
}

TEST(SpuriousFence, FiresWhenOnlyTheControllersClockJumped) {
    // The controller coordinates no transaction: its 30 s step excuses nothing once replica lines name the
    // brokers.
    History history = fenced_with_clocks(1'000'000'000, {{"controller", 200'000'000, 30'000'000'000}});
    for (const char* broker : {"broker-1", "broker-2", "broker-3"}) {
        history.replicas.push_back(ReplicaState{.partition = orders, .replica = broker});
    }
    EXPECT_EQ(check_spurious_fences(history).size(), 1U);
}

TEST(SpuriousFence, FiresWhenTheStepsCameInTheWrongOrderToAddUp) {
    // broker-2 runs 6 s ahead from 1 ms to 300 ms into t1, broker-1 6 s behind from 700 ms on: a start
    // written by broker-1 is judged by broker-2 only before it was written, so t1 looked at most 6.3 s old.
    const History history = fenced_with_clocks(1'000'000'000, {{"broker-2", 1'000'000, 6'000'000'000},
                                                               {"broker-2", 300'000'000, 0},
                                                               {"broker-1", 700'000'000, -6'000'000'000}});
    EXPECT_EQ(check_spurious_fences(history).size(), 1U);
}

TEST(SpuriousFence, FiresWhenNoClockMovedAsFarAsTheTimeout) {
    const History history = fenced_with_clocks(
        1'000'000'000, {{"broker-1", 200'000'000, 2'000'000'000}, {"broker-2", -1, -3'000'000'000}});
    const std::vector<Anomaly> found = check_spurious_fences(history);
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].name, "spurious-fence");
}

TEST(SpuriousFence, SilentForALateAnswerToTheSameProcessesEarlierProducer) {
    // producer-1 gives up on its producer while a send of t1 is still being retried, and starts a new one
    // (a new init-txn under the same name): the old send's fence is the new instance's doing, even though
    // t2 is open and young when it arrives.
    HistoryBuilder run;
    run.init_txn("producer-1", "tid", 10'000, 7, 0);
    run.begin("producer-1", "tid", "t1");
    run.advance_time(1'000'000'000);
    run.init_txn("producer-1", "tid", 10'000, 7, 1);
    run.begin("producer-1", "tid", "t2");
    run.txn_send("producer-1", "t1", orders, "v1", std::nullopt, OpType::info, "INVALID_PRODUCER_EPOCH");
    EXPECT_TRUE(check_spurious_fences(run.history()).empty()) << names_of(check_spurious_fences(run.history()));
    // The new instance's own transaction fenced with nothing to explain it still fires.
    run.txn_send("producer-1", "t2", orders, "v2", std::nullopt, OpType::fail, "PRODUCER_FENCED");
    const std::vector<Anomaly> found = check_spurious_fences(run.history());
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].evidence["open_transaction"]["txn"], "t2");
}

TEST(SpuriousFence, AnInstanceThatEndedBeforeTheProducersInitExcusesNothing) {
    HistoryBuilder run;
    run.init_txn("producer-0", "tid", 10'000, 7, 0);  // an older instance, done before producer-1 began
    HistoryBuilder fenced = fenced_producer([](HistoryBuilder&) {});
    History history = run.history();
    for (Operation op : fenced.history().operations) {
        op.index += 2;
        history.operations.push_back(op);
    }
    ASSERT_EQ(check_spurious_fences(history).size(), 1U);
}

}  // namespace
}  // namespace eosim::model
