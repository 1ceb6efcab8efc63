// zombie-write and hanging-transaction (model/transactions.cc): each fires on a crafted log and stays silent
// on clean ones built to look suspicious.

#include <gtest/gtest.h>

#include "model/checkers.h"

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

TEST(HangingTransaction, SilentWhenTheRunIsStuck) {
    History history = log_of({data(0, 1, 7, 3, true)}, 2);
    history.operations.push_back(Operation{.index = 1, .process = "runner", .type = OpType::info, .f = "stuck"});
    EXPECT_TRUE(check_hanging_transactions(history).empty());
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

}  // namespace
}  // namespace eosim::model
