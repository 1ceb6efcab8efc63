// Kafka's UnifiedLogTest (its truncation, retention, idempotence and producer-state cases), against
// broker_core::PartitionLog. Kafka's appendAsLeader is the leader's producer-state check followed by an
// append at the log end (Broker::produce); appendAsFollower is an append of the leader's batch.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "broker_core/batch_codec.h"
#include "broker_core/partition_log.h"
#include "protocol/control_record.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using protocol::LeaderEpoch;
using protocol::Offset;
using protocol::ProducerEpoch;
using protocol::ProducerId;
using protocol::RecordBatch;
using protocol::Sequence;

RecordBatch records(std::int64_t base, int count, std::int64_t timestamp_ms = 0, std::int32_t leader_epoch = 0) {
    RecordBatch batch;
    batch.base_offset = Offset(base);
    batch.leader_epoch = LeaderEpoch(leader_epoch);
    for (int i = 0; i < count; ++i) {
        batch.records.push_back(protocol::Record{"key", "value-" + std::to_string(base + i), timestamp_ms});
    }
    return batch;
}

RecordBatch idempotent(std::int64_t base, std::int64_t pid, std::int16_t epoch, std::int32_t sequence, int count = 1) {
    RecordBatch batch = records(base, count);
    batch.producer_id = ProducerId(pid);
    batch.producer_epoch = ProducerEpoch(epoch);
    batch.base_sequence = Sequence(sequence);
    return batch;
}

struct LeaderAppend {
    SequenceVerdict verdict = SequenceVerdict::append;
    Offset first{-1};
    Offset last{-1};
};

class UnifiedLogTest : public ::testing::Test {
protected:
    sim::Simulation simulation{sim::SimulationOptions{.seed = 19}};
    sim::Disk disk{sim::DiskOptions{}, sim::Random(19)};

    PartitionLog& create_log(LogConfig config = {}) {
        log_ = std::make_unique<PartitionLog>(disk, "topic-0", config);
        (void)log_->recover();
        return *log_;
    }
    // Kafka's appendAsLeader: the batch gets the log end as its base offset, after the producer check.
    LeaderAppend append_as_leader(RecordBatch batch) {
        batch.base_offset = log_->log_end_offset();
        if (batch.producer_id.value() >= 0) {
            const SequenceCheck check = log_->producer_state().check(batch);
            if (check.verdict == SequenceVerdict::duplicate) {
                return LeaderAppend{check.verdict, check.original->first_offset, check.original->last_offset};
            }
            if (check.verdict != SequenceVerdict::append) {
                return LeaderAppend{check.verdict, Offset(-1), Offset(-1)};
            }
        }
        EXPECT_TRUE(log_->append(batch).ok());
        return LeaderAppend{SequenceVerdict::append, batch.base_offset, batch.last_offset()};
    }
    [[nodiscard]] std::size_t segment_count() const {
        std::size_t count = 0;
        for (const std::string& path : disk.list("topic-0/")) {
            count += path.ends_with(".log") ? 1U : 0U;
        }
        return count;
    }

    std::unique_ptr<PartitionLog> log_;
};

// Kafka: UnifiedLogTest.testTruncateToEndOffsetClearsEpochCache
TEST_F(UnifiedLogTest, testTruncateToEndOffsetClearsEpochCache) {
    PartitionLog& log = create_log();
    log.truncate_fully_and_start_at(Offset(27));
    ASSERT_TRUE(log.append(records(27, 2, 0, 19)).ok());  // as a follower, at epoch 19
    ASSERT_EQ(log.epochs().latest(), (EpochEntry{LeaderEpoch(19), Offset(27)}));
    ASSERT_EQ(log.log_end_offset(), Offset(29));
    for (const auto& [epoch, truncation] : {std::pair{20, 29}, std::pair{24, 30}}) {
        log.epochs().assign(LeaderEpoch(epoch), log.log_end_offset());  // becomes leader, appends nothing
        EXPECT_EQ(log.epochs().latest(), (EpochEntry{LeaderEpoch(epoch), Offset(29)}));
        // Then follower again: a truncation at or past the end removes the empty epoch.
        log.truncate_to(Offset(truncation));
        EXPECT_EQ(log.epochs().latest(), (EpochEntry{LeaderEpoch(19), Offset(27)})) << "truncated to " << truncation;
        EXPECT_EQ(log.log_end_offset(), Offset(29));
    }
}

// Kafka: UnifiedLogTest.testTruncateTo
TEST_F(UnifiedLogTest, testTruncateTo) {
    PartitionLog& log = create_log(LogConfig{.segment_bytes = 10 * encode_batch(records(0, 1)).size()});
    for (int i = 0; i < 10; ++i) {
        (void)append_as_leader(records(0, 1));
    }
    ASSERT_EQ(segment_count(), 1U);
    const Offset last = log.log_end_offset();
    const std::uint64_t size = log.size_bytes();
    log.truncate_to(last);  // keeps everything
    EXPECT_EQ(log.log_end_offset(), last);
    EXPECT_EQ(log.size_bytes(), size);
    log.truncate_to(Offset(last.value() + 1));  // past the end: nothing happens
    EXPECT_EQ(log.log_end_offset(), last);
    EXPECT_EQ(log.size_bytes(), size);
    // Kafka's truncateTo refuses a negative offset (IllegalArgumentException); eosim asserts.
    EXPECT_THROW(log.truncate_to(Offset(-1)), sim::AssertionFailure);
    EXPECT_EQ(log.log_end_offset(), last);
    log.truncate_to(Offset(5));
    EXPECT_EQ(log.log_end_offset(), Offset(5));
    EXPECT_LT(log.size_bytes(), size);
    log.truncate_to(Offset(0));
    EXPECT_EQ(log.log_end_offset(), Offset(0));
    EXPECT_EQ(log.size_bytes(), 0U);
    for (int i = 0; i < 10; ++i) {
        (void)append_as_leader(records(0, 1));
    }
    EXPECT_EQ(log.log_end_offset(), last);
    EXPECT_EQ(log.size_bytes(), size);
    log.truncate_fully_and_start_at(Offset(last.value() - 9));
    EXPECT_EQ(log.log_end_offset(), Offset(1));
    EXPECT_EQ(log.size_bytes(), 0U);
    for (int i = 0; i < 10; ++i) {
        (void)append_as_leader(records(0, 1));
    }
    EXPECT_GT(log.log_end_offset(), Offset(10));
    EXPECT_EQ(log.size_bytes(), size);
    // Below the log start: Kafka starts the log again at the offset (its log start moves down); eosim's
    // log start never moves down, so the log ends at its start (docs/kafka-differences.md).
    log.truncate_to(Offset(0));
    EXPECT_EQ(log.log_start_offset(), Offset(1));
    EXPECT_EQ(log.log_end_offset(), Offset(1));
    EXPECT_EQ(log.size_bytes(), 0U);
    EXPECT_TRUE(log.epochs().entries().empty());
}

// Kafka: UnifiedLogTest.testTruncateFullyAndStart
TEST_F(UnifiedLogTest, testTruncateFullyAndStart) {
    PartitionLog& log = create_log();
    (void)append_as_leader(records(0, 3));
    ASSERT_EQ(append_as_leader(idempotent(0, 17, 10, 0, 2)).verdict, SequenceVerdict::append);
    log.truncate_fully_and_start_at(Offset(2));
    EXPECT_EQ(log.log_start_offset(), Offset(2));
    EXPECT_EQ(log.log_end_offset(), Offset(2));
    EXPECT_TRUE(log.epochs().entries().empty());
    // Kafka forgets the producers here; eosim keeps them (KIP-360, docs/log-lifecycle.md): a follower
    // emptied and started again at its leader's log start still knows the leader's producers.
    EXPECT_EQ(log.producer_state().producers().size(), 1U);
    EXPECT_EQ(log.producer_state().end_offset(), Offset(2));
}

// Kafka: UnifiedLogTest.testProducerIdMapOffsetUpdatedForNonIdempotentData
TEST_F(UnifiedLogTest, testProducerIdMapOffsetUpdatedForNonIdempotentData) {
    PartitionLog& log = create_log();
    (void)append_as_leader(records(0, 1));
    log.producer_state().take_snapshot();
    EXPECT_EQ(log.producer_state().snapshot_offsets(), std::vector<Offset>{Offset(1)});
}

// Kafka: UnifiedLogTest.testProducerIdMapTruncateTo
TEST_F(UnifiedLogTest, testProducerIdMapTruncateTo) {
    PartitionLog& log = create_log();
    (void)append_as_leader(records(0, 1));
    (void)append_as_leader(records(0, 1));
    log.producer_state().take_snapshot();
    (void)append_as_leader(records(0, 1));
    log.producer_state().take_snapshot();
    for (const std::int64_t end : {2, 1, 0}) {
        log.truncate_to(Offset(end));
        EXPECT_EQ(log.producer_state().end_offset(), Offset(end));
        // No snapshot describes more than the log holds (Kafka also writes one at the new end).
        const std::vector<Offset> snapshots = log.producer_state().snapshot_offsets();
        EXPECT_TRUE(snapshots.empty() || snapshots.back() <= Offset(end)) << end;
    }
    EXPECT_TRUE(log.producer_state().snapshot_offsets().empty());
}

// Kafka: UnifiedLogTest.testProducerIdMapTruncateToWithNoSnapshots
TEST_F(UnifiedLogTest, testProducerIdMapTruncateToWithNoSnapshots) {
    PartitionLog& log = create_log();
    ASSERT_EQ(append_as_leader(idempotent(0, 1, 0, 0)).verdict, SequenceVerdict::append);
    ASSERT_EQ(append_as_leader(idempotent(0, 1, 0, 1)).verdict, SequenceVerdict::append);
    log.producer_state().remove_snapshots();
    log.truncate_to(Offset(1));
    ASSERT_EQ(log.producer_state().producers().size(), 1U);
    EXPECT_EQ(log.producer_state().producers().at(ProducerId(1)).last_sequence(), Sequence(0));
}

// Kafka: UnifiedLogTest.testRetentionIdempotency
TEST_F(UnifiedLogTest, testRetentionIdempotency) {
    const std::int64_t now = 10'000;
    PartitionLog& log = create_log(LogConfig{.segment_bytes = 1, .retention_ms = 900});
    (void)append_as_leader(records(0, 1, now + 100));
    (void)append_as_leader(records(0, 1, now));
    (void)append_as_leader(records(0, 1, now + 100));
    ASSERT_EQ(segment_count(), 3U);
    // DeleteRecords to 1 removes the first segment (eosim deletes it at once; Kafka at the next
    // retention pass), which lets time retention remove the second: two in all, then none.
    log.increment_log_start_offset(Offset(1));
    EXPECT_EQ(segment_count(), 2U);
    EXPECT_EQ(log.apply_retention(now + 901, log.log_end_offset()), 1U);
    EXPECT_EQ(segment_count(), 1U);
    EXPECT_EQ(log.apply_retention(now + 901, log.log_end_offset()), 0U);
    EXPECT_EQ(log.log_start_offset(), Offset(2));
}

// Kafka: UnifiedLogTest.testProducerIdMapTruncateFullyAndStartAt
TEST_F(UnifiedLogTest, testProducerIdMapTruncateFullyAndStartAt) {
    PartitionLog& log = create_log(LogConfig{.segment_bytes = 1});
    (void)append_as_leader(records(0, 1));
    (void)append_as_leader(records(0, 1));
    (void)append_as_leader(records(0, 1));
    EXPECT_EQ(segment_count(), 3U);
    EXPECT_EQ(log.producer_state().end_offset(), Offset(3));
    log.truncate_fully_and_start_at(Offset(29));
    EXPECT_EQ(segment_count(), 1U);  // an empty one at 29, as Kafka's
    EXPECT_EQ(log.segment_bases(), std::vector<std::int64_t>{29});
    EXPECT_EQ(log.producer_state().end_offset(), Offset(29));
    // eosim snapshots the (kept) producers at the new start; Kafka removes every snapshot.
    EXPECT_EQ(log.producer_state().snapshot_offsets(), std::vector<Offset>{Offset(29)});
}

// Kafka: UnifiedLogTest.testProducerIdExpirationOnSegmentDeletion
TEST_F(UnifiedLogTest, testProducerIdExpirationOnSegmentDeletion) {
    const std::uint64_t batch_bytes = encode_batch(idempotent(0, 1, 0, 0)).size();
    PartitionLog& log =
        create_log(LogConfig{.segment_bytes = 1, .retention_bytes = static_cast<std::int64_t>(batch_bytes * 2)});
    ASSERT_EQ(append_as_leader(idempotent(0, 1, 0, 0)).verdict, SequenceVerdict::append);
    ASSERT_EQ(append_as_leader(idempotent(0, 2, 0, 0)).verdict, SequenceVerdict::append);
    ASSERT_EQ(append_as_leader(idempotent(0, 2, 0, 1)).verdict, SequenceVerdict::append);
    ASSERT_EQ(segment_count(), 3U);
    EXPECT_EQ(log.apply_retention(0, log.log_end_offset()), 1U);
    EXPECT_EQ(segment_count(), 2U);
    // Deleting a segment does not remove its producers' state.
    EXPECT_EQ(log.producer_state().producers().size(), 2U);
}

// Kafka: UnifiedLogTest.testDuplicateAppends
TEST_F(UnifiedLogTest, testDuplicateAppends) {
    create_log();
    std::int32_t sequence = 0;
    for (; sequence < 6; ++sequence) {
        ASSERT_EQ(append_as_leader(idempotent(0, 1, 0, sequence)).verdict, SequenceVerdict::append);
    }
    const LeaderAppend multi = append_as_leader(idempotent(0, 1, 0, sequence, 3));
    ASSERT_EQ(multi.verdict, SequenceVerdict::append);
    EXPECT_EQ(multi.last.value() - multi.first.value() + 1, 3);
    const LeaderAppend duplicate = append_as_leader(idempotent(0, 1, 0, sequence, 3));
    EXPECT_EQ(duplicate.verdict, SequenceVerdict::duplicate);
    EXPECT_EQ(duplicate.first, multi.first);
    EXPECT_EQ(duplicate.last, multi.last);
    sequence += 3;
    // A partial duplicate of the tail is refused.
    EXPECT_EQ(append_as_leader(idempotent(0, 1, 0, sequence - 2, 2)).verdict, SequenceVerdict::out_of_order_sequence);
    // The oldest of the last 5 batches (sequence 2) is still remembered.
    EXPECT_EQ(append_as_leader(idempotent(0, 1, 0, 2)).verdict, SequenceVerdict::duplicate);
    // Older ones are out of order.
    EXPECT_EQ(append_as_leader(idempotent(0, 1, 0, 1)).verdict, SequenceVerdict::out_of_order_sequence);
    const LeaderAppend original = append_as_leader(idempotent(0, 1, 0, sequence));
    const LeaderAppend again = append_as_leader(idempotent(0, 1, 0, sequence));
    EXPECT_EQ(again.verdict, SequenceVerdict::duplicate);
    EXPECT_EQ(again.first, original.first);
    EXPECT_EQ(again.last, original.last);
}

// Kafka: UnifiedLogTest.testDuplicateAppendToFollower
TEST_F(UnifiedLogTest, testDuplicateAppendToFollower) {
    PartitionLog& log = create_log();
    // A follower does not validate: the same sequences at increasing offsets are both appended.
    ASSERT_TRUE(log.append(idempotent(0, 1, 0, 0, 2)).ok());
    ASSERT_TRUE(log.append(idempotent(2, 1, 0, 0, 2)).ok());
    EXPECT_EQ(log.log_end_offset(), Offset(4));
}

// Kafka: UnifiedLogTest.testOldProducerEpoch
TEST_F(UnifiedLogTest, testOldProducerEpoch) {
    create_log();
    ASSERT_EQ(append_as_leader(idempotent(0, 1, 1, 0)).verdict, SequenceVerdict::append);
    EXPECT_EQ(append_as_leader(idempotent(0, 1, 0, 0)).verdict, SequenceVerdict::invalid_producer_epoch);
}

// Kafka: UnifiedLogTest.testNonSequentialAppend
TEST_F(UnifiedLogTest, testNonSequentialAppend) {
    create_log();
    ASSERT_EQ(append_as_leader(idempotent(0, 1, 0, 0)).verdict, SequenceVerdict::append);
    EXPECT_EQ(append_as_leader(idempotent(0, 1, 0, 2)).verdict, SequenceVerdict::out_of_order_sequence);
}

// Kafka: UnifiedLogTest.testCannotDeleteSegmentsAtOrAboveHighWatermark
TEST_F(UnifiedLogTest, testCannotDeleteSegmentsAtOrAboveHighWatermark) {
    const std::int64_t now = 100'000;
    PartitionLog& log = create_log(LogConfig{.segment_bytes = 300, .retention_ms = 999});
    for (int i = 0; i < 100; ++i) {
        (void)append_as_leader(records(0, 1, now - 1000));
    }
    ASSERT_GT(segment_count(), 5U);
    for (std::int64_t hw = 0; hw <= 100; ++hw) {
        (void)log.apply_retention(now, Offset(hw));
        ASSERT_LE(log.log_start_offset(), Offset(hw));
        // What remains starts at or below the high watermark: everything below it that could go, went.
        const ReadResult rest = log.read(log.log_start_offset(), log.log_end_offset(), 1);
        ASSERT_FALSE(rest.batches.empty());
        EXPECT_LE(rest.batches.front().base_offset, Offset(hw));
    }
    // eosim never deletes the active segment (Kafka rolls an empty one and deletes the old).
    EXPECT_EQ(segment_count(), 1U);
    EXPECT_EQ(log.log_end_offset(), Offset(100));
}

// Kafka: UnifiedLogTest.testDeleteOldSegments
TEST_F(UnifiedLogTest, testDeleteOldSegments) {
    const std::int64_t now = 100'000;
    PartitionLog& log =
        create_log(LogConfig{.segment_bytes = 5 * encode_batch(records(0, 1)).size(), .retention_ms = 999});
    for (int i = 0; i < 100; ++i) {
        (void)append_as_leader(records(0, 1, now - 1000));
    }
    log.epochs().assign(LeaderEpoch(0), Offset(40));  // the latest epoch again: no change
    log.epochs().assign(LeaderEpoch(1), Offset(90));
    const std::size_t segments = segment_count();
    EXPECT_EQ(log.apply_retention(now, Offset(0)), 0U);  // nothing is committed: nothing goes
    EXPECT_EQ(segment_count(), segments);
    EXPECT_EQ(log.log_start_offset(), Offset(0));
    for (std::int64_t hw = 25; hw <= 30; ++hw) {
        (void)log.apply_retention(now, Offset(hw));
        EXPECT_LE(log.log_start_offset(), Offset(hw));
    }
    (void)log.apply_retention(now, log.log_end_offset());
    EXPECT_EQ(segment_count(), 1U);
    EXPECT_EQ(log.log_start_offset(), Offset(95));
    // The epochs below the log start went; the one holding it starts there.
    EXPECT_EQ(log.epochs().entries(), (std::vector<EpochEntry>{{LeaderEpoch(1), Offset(95)}}));
}

// Kafka: UnifiedLogTest.testLogDeletionAfterDeleteRecords
TEST_F(UnifiedLogTest, testLogDeletionAfterDeleteRecords) {
    PartitionLog& log = create_log(LogConfig{.segment_bytes = 5 * encode_batch(records(0, 1)).size()});
    for (int i = 0; i < 15; ++i) {
        (void)append_as_leader(records(0, 1));
    }
    ASSERT_EQ(segment_count(), 3U);
    log.increment_log_start_offset(Offset(1));
    EXPECT_EQ(segment_count(), 3U);
    EXPECT_EQ(log.log_start_offset(), Offset(1));
    log.increment_log_start_offset(Offset(6));
    EXPECT_EQ(segment_count(), 2U);
    EXPECT_EQ(log.log_start_offset(), Offset(6));
    log.increment_log_start_offset(Offset(15));
    EXPECT_EQ(segment_count(), 1U);
    EXPECT_EQ(log.log_start_offset(), Offset(15));
}

// Kafka: UnifiedLogTest.testLoadingLogDeletesProducerStateSnapshotsPastLogEndOffset
TEST_F(UnifiedLogTest, testLoadingLogDeletesProducerStateSnapshotsPastLogEndOffset) {
    const std::string stray = "topic-0/00000000000000000042.snapshot";
    ASSERT_TRUE(disk.create(stray).ok());
    PartitionLog& log = create_log();
    EXPECT_FALSE(disk.exists(stray));
    EXPECT_TRUE(log.producer_state().snapshot_offsets().empty());
}

// Kafka: UnifiedLogTest.testProducerSnapshotAfterSegmentRollOnAppend (KAFKA-6683: the roll's snapshot held
// the batch being appended). eosim snapshots a roll after the append, named by the state's end (2, where
// Kafka names it by the segment base, 1; docs/kafka-differences.md); a truncation to the segment base then
// reloads an older snapshot and the log, and the state must hold only the first batch.
TEST_F(UnifiedLogTest, testProducerSnapshotAfterSegmentRollOnAppend) {
    RecordBatch first = idempotent(0, 1, 0, 0);
    first.records[0].value = std::string(512, 'x');
    RecordBatch second = idempotent(0, 1, 0, 1);
    second.records[0].value = std::string(512, 'y');
    PartitionLog& log = create_log(LogConfig{.segment_bytes = encode_batch(first).size()});
    ASSERT_EQ(append_as_leader(first).verdict, SequenceVerdict::append);
    ASSERT_EQ(append_as_leader(second).verdict, SequenceVerdict::append);  // overflows the segment: a roll
    ASSERT_EQ(segment_count(), 2U);
    EXPECT_EQ(log.segment_bases().back(), 1);
    EXPECT_EQ(log.producer_state().snapshot_offsets().back(), Offset(2));

    log.truncate_to(Offset(1));  // forces a reload from a snapshot
    EXPECT_EQ(segment_count(), 2U);
    EXPECT_EQ(log.segment_bases().back(), 1);
    EXPECT_EQ(log.log_end_offset(), Offset(1));
    const ProducerEntry& entry = log.producer_state().producers().at(ProducerId(1));
    EXPECT_EQ(entry.last_sequence(), Sequence(0));
    EXPECT_EQ(entry.batches.back().first_offset, Offset(0));
    EXPECT_EQ(entry.batches.back().last_offset, Offset(0));
    // The second batch's retry is appended again, at 1.
    const LeaderAppend again = append_as_leader(second);
    EXPECT_EQ(again.verdict, SequenceVerdict::append);
    EXPECT_EQ(again.first, Offset(1));
}

// The transaction cases. Kafka's LogTestUtils.appendTransactionalAsLeader: a producer's transactional
// batches, its sequence carried on; appendEndTxnMarkerAsLeader: the leader's marker check, then the append.
class UnifiedLogTransactionTest : public UnifiedLogTest {
protected:
    std::map<std::int64_t, std::int32_t> sequences;

    Offset append_transactional(std::int64_t pid, int count, std::int16_t epoch = 0) {
        RecordBatch batch = idempotent(0, pid, epoch, sequences[pid], count);
        batch.transactional = true;
        sequences[pid] += count;
        const LeaderAppend appended = append_as_leader(batch);
        EXPECT_EQ(appended.verdict, SequenceVerdict::append);
        return appended.first;
    }
    Offset append_non_transactional(int count) { return append_as_leader(records(0, count)).first; }
    // The marker's offset, or -1 when the leader's check refuses it with `expected`.
    Offset end_txn(std::int64_t pid, protocol::ControlType type, std::int16_t epoch = 0,
                   std::int32_t coordinator_epoch = 0, TransactionVerdict expected = TransactionVerdict::append) {
        RecordBatch marker = protocol::marker_batch(ProducerId(pid), ProducerEpoch(epoch),
                                                    protocol::TransactionMarker{type, coordinator_epoch}, 0);
        marker.base_offset = log_->log_end_offset();
        EXPECT_EQ(log_->producer_state().check_transaction(marker), expected);
        if (expected != TransactionVerdict::append) {
            return Offset(-1);
        }
        EXPECT_TRUE(log_->append(marker).ok());
        return marker.base_offset;
    }
    void update_high_watermark(Offset high_watermark) { log_->on_high_watermark(high_watermark); }
    [[nodiscard]] std::optional<Offset> first_unstable_offset(Offset high_watermark) const {
        return log_->producer_state().first_unstable_offset(high_watermark);
    }
    // Kafka's LogTestUtils.allAbortedTransactions.
    [[nodiscard]] std::vector<AbortedTransaction> all_aborted() const {
        return log_->aborted_transactions(Offset(0), Offset(INT64_MAX));
    }
    // The mixed history of Kafka's testTransactionIndexUpdated, as the leader writes it.
    void append_mixed_history() {
        append_transactional(1, 5);    // 5
        append_non_transactional(3);   // 8
        append_transactional(2, 2);    // 10
        append_transactional(1, 4);    // 14
        append_transactional(3, 3);    // 17
        append_non_transactional(2);   // 19
        append_transactional(1, 10);   // 29
        end_txn(1, abort_);            // 30
        append_transactional(2, 6);    // 36
        append_transactional(4, 3);    // 39
        append_non_transactional(10);  // 49
        append_transactional(3, 9);    // 58
        end_txn(3, commit);            // 59
        append_transactional(4, 8);    // 67
        append_transactional(2, 7);    // 74
        end_txn(2, abort_);            // 75
        append_non_transactional(10);  // 85
        append_transactional(4, 4);    // 89
        end_txn(4, commit);            // 90
        ASSERT_EQ(log_->log_end_offset(), Offset(90));
    }
    static std::vector<AbortedTransaction> mixed_history_aborted() {
        return {AbortedTransaction{ProducerId(1), Offset(0), Offset(29), Offset(8)},
                AbortedTransaction{ProducerId(2), Offset(8), Offset(74), Offset(36)}};
    }
    static constexpr auto commit = protocol::ControlType::commit;
    static constexpr auto abort_ = protocol::ControlType::abort;
};

// Kafka: UnifiedLogTest.testFirstUnstableOffsetNoTransactionalData
TEST_F(UnifiedLogTransactionTest, testFirstUnstableOffsetNoTransactionalData) {
    create_log();
    append_non_transactional(3);
    EXPECT_EQ(first_unstable_offset(Offset(0)), std::nullopt);
    EXPECT_EQ(log_->last_stable_offset(Offset(3)), Offset(3));
}

// Kafka: UnifiedLogTest.testFirstUnstableOffsetWithTransactionalData
TEST_F(UnifiedLogTransactionTest, testFirstUnstableOffsetWithTransactionalData) {
    create_log();
    const Offset first = append_transactional(137, 3, 5);
    EXPECT_EQ(first_unstable_offset(Offset(0)), first);
    append_transactional(137, 1, 5);
    EXPECT_EQ(first_unstable_offset(Offset(0)), first);
    const Offset marker = end_txn(137, commit, 5);
    EXPECT_EQ(first_unstable_offset(Offset(0)), first);  // not until the high watermark passes the marker
    EXPECT_EQ(log_->last_stable_offset(marker), first);
    update_high_watermark(Offset(marker.value() + 1));
    EXPECT_EQ(first_unstable_offset(Offset(marker.value() + 1)), std::nullopt);
    EXPECT_EQ(log_->last_stable_offset(Offset(marker.value() + 1)), Offset(marker.value() + 1));
}

// Kafka: UnifiedLogTest.testTransactionIndexUpdated
TEST_F(UnifiedLogTransactionTest, testTransactionIndexUpdated) {
    create_log();
    append_mixed_history();
    EXPECT_EQ(all_aborted(), mixed_history_aborted());
    update_high_watermark(Offset(30));
    EXPECT_EQ(first_unstable_offset(Offset(30)), Offset(8));
    EXPECT_EQ(log_->last_stable_offset(Offset(30)), Offset(8));
    update_high_watermark(Offset(75));
    EXPECT_EQ(first_unstable_offset(Offset(75)), Offset(36));
    update_high_watermark(Offset(90));
    EXPECT_EQ(first_unstable_offset(Offset(90)), std::nullopt);
    EXPECT_EQ(log_->last_stable_offset(Offset(90)), Offset(90));
}

// Kafka: UnifiedLogTest.testTransactionIndexUpdatedThroughReplication
TEST_F(UnifiedLogTransactionTest, testTransactionIndexUpdatedThroughReplication) {
    create_log();
    append_mixed_history();
    const ReadResult leader = log_->read(Offset(0), Offset(90), UINT64_MAX);
    ASSERT_EQ(leader.status, ReadStatus::ok);
    std::unique_ptr<PartitionLog> leader_log = std::move(log_);
    log_ = std::make_unique<PartitionLog>(disk, "follower-0", LogConfig{});
    (void)log_->recover();
    for (const RecordBatch& batch : leader.batches) {
        ASSERT_TRUE(log_->append(batch).ok());  // a follower appends without the leader's checks
    }
    EXPECT_EQ(all_aborted(), mixed_history_aborted());
    update_high_watermark(Offset(30));
    EXPECT_EQ(first_unstable_offset(Offset(30)), Offset(8));
    update_high_watermark(Offset(75));
    EXPECT_EQ(first_unstable_offset(Offset(75)), Offset(36));
    update_high_watermark(Offset(90));
    EXPECT_EQ(first_unstable_offset(Offset(90)), std::nullopt);
}

// Kafka: LogLoaderTest.testFullTransactionIndexRecovery
TEST_F(UnifiedLogTransactionTest, testFullTransactionIndexRecovery) {
    create_log(LogConfig{.segment_bytes = 300});
    append_mixed_history();
    ASSERT_GT(segment_count(), 3U);
    for (const std::string& path : disk.list("topic-0/")) {
        if (path.ends_with(".txnindex") || path.ends_with(".snapshot")) {
            (void)disk.remove(path);
        }
    }
    create_log(LogConfig{.segment_bytes = 5000});
    EXPECT_EQ(all_aborted(), mixed_history_aborted());
    EXPECT_EQ(log_->transaction_indexes().size(), 2U);  // the segments of the two ABORT markers
}

// Kafka: LogLoaderTest.testRecoverOnlyLastSegment (eosim: the last segment's index is lost, or torn)
TEST_F(UnifiedLogTransactionTest, testRecoverOnlyLastSegment) {
    create_log(LogConfig{.segment_bytes = 300});
    append_mixed_history();
    const std::map<std::int64_t, TransactionIndex>& indexes = log_->transaction_indexes();
    ASSERT_EQ(indexes.size(), 2U);
    const std::string last = indexes.rbegin()->second.path();
    (void)disk.remove(last);
    create_log(LogConfig{.segment_bytes = 300});
    EXPECT_EQ(all_aborted(), mixed_history_aborted());
    EXPECT_TRUE(disk.exists(last));
    (void)disk.truncate(last, TransactionIndex::entry_bytes / 2);  // torn
    create_log(LogConfig{.segment_bytes = 300});
    EXPECT_EQ(all_aborted(), mixed_history_aborted());
}

// Kafka: UnifiedLogTest.testZombieCoordinatorFenced
TEST_F(UnifiedLogTransactionTest, testZombieCoordinatorFenced) {
    create_log();
    append_transactional(1, 10);
    end_txn(1, abort_, 0, 1);
    append_transactional(1, 5);
    end_txn(1, commit, 0, 2);
    end_txn(1, abort_, 0, 1, TransactionVerdict::coordinator_fenced);
}

// Kafka: UnifiedLogTest.testZombieCoordinatorFencedEmptyTransaction
TEST_F(UnifiedLogTransactionTest, testZombieCoordinatorFencedEmptyTransaction) {
    create_log();
    append_transactional(1, 10);
    end_txn(1, commit);
    end_txn(1, abort_, 0, 2);
    end_txn(1, abort_, 0, 2);
    end_txn(1, abort_, 0, 1, TransactionVerdict::coordinator_fenced);
    // The empty aborted transactions are indexed too, each from its marker to its marker.
    EXPECT_EQ(all_aborted(), (std::vector<AbortedTransaction>{{ProducerId(1), Offset(11), Offset(11), Offset(12)},
                                                              {ProducerId(1), Offset(12), Offset(12), Offset(13)}}));
}

// Kafka: UnifiedLogTest.testEndTxnWithFencedProducerEpoch
TEST_F(UnifiedLogTransactionTest, testEndTxnWithFencedProducerEpoch) {
    create_log();
    end_txn(1, abort_, 5, 1);
    end_txn(1, abort_, 4, 1, TransactionVerdict::invalid_producer_epoch);
}

// Kafka: UnifiedLogTest.testLastStableOffsetDoesNotExceedLogStartOffsetMidSegment
TEST_F(UnifiedLogTransactionTest, testLastStableOffsetDoesNotExceedLogStartOffsetMidSegment) {
    create_log();
    append_transactional(1, 5);
    append_non_transactional(3);
    append_transactional(1, 5);
    EXPECT_EQ(first_unstable_offset(Offset(13)), Offset(0));
    log_->increment_log_start_offset(Offset(5));
    EXPECT_EQ(log_->last_stable_offset(Offset(13)), Offset(5));
}

// Kafka: UnifiedLogTest.testLastStableOffsetDoesNotExceedLogStartOffsetAfterSegmentDeletion
TEST_F(UnifiedLogTransactionTest, testLastStableOffsetDoesNotExceedLogStartOffsetAfterSegmentDeletion) {
    create_log(LogConfig{.segment_bytes = 100});
    append_transactional(1, 5);
    append_non_transactional(3);
    append_transactional(1, 5);
    ASSERT_GE(segment_count(), 2U);
    log_->increment_log_start_offset(Offset(8));
    EXPECT_EQ(log_->last_stable_offset(Offset(13)), Offset(8));
}

// Kafka: UnifiedLogTest.testLastStableOffsetWithMixedProducerData
TEST_F(UnifiedLogTransactionTest, testLastStableOffsetWithMixedProducerData) {
    create_log();
    const Offset first = append_transactional(137, 3, 5);
    EXPECT_EQ(first_unstable_offset(Offset(0)), first);
    append_non_transactional(3);
    const Offset second = append_transactional(983, 3, 5);
    EXPECT_EQ(first_unstable_offset(Offset(0)), first);
    const Offset abort_marker = end_txn(137, abort_, 5);
    update_high_watermark(Offset(abort_marker.value() + 1));
    EXPECT_EQ(first_unstable_offset(Offset(abort_marker.value() + 1)), second);
    EXPECT_EQ(log_->last_stable_offset(Offset(abort_marker.value() + 1)), second);
    const Offset commit_marker = end_txn(983, commit, 5);
    update_high_watermark(Offset(commit_marker.value() + 1));
    EXPECT_EQ(first_unstable_offset(Offset(commit_marker.value() + 1)), std::nullopt);
}

// Kafka: UnifiedLogTest.testAbortedTransactionSpanningMultipleSegments
TEST_F(UnifiedLogTransactionTest, testAbortedTransactionSpanningMultipleSegments) {
    create_log(LogConfig{.segment_bytes = 60});
    const Offset first = append_transactional(137, 3, 5);
    EXPECT_EQ(first_unstable_offset(Offset(0)), first);
    append_transactional(137, 3, 5);  // spills into the second segment
    ASSERT_EQ(segment_count(), 2U);
    const Offset marker = end_txn(137, abort_, 5);
    update_high_watermark(Offset(marker.value() + 1));
    EXPECT_EQ(first_unstable_offset(Offset(marker.value() + 1)), std::nullopt);
    // A read_committed fetch from 0 (up to the first segment's end) learns of the aborted transaction.
    const std::vector<AbortedTransaction> aborted = log_->aborted_transactions(Offset(0), Offset(3));
    ASSERT_EQ(aborted.size(), 1U);
    EXPECT_EQ(aborted.front().producer_id, ProducerId(137));
    EXPECT_EQ(aborted.front().first_offset, Offset(0));
}

// Kafka: UnifiedLogTest.testTruncateTo (eosim: the aborted-transaction index and the unstable offsets too)
TEST_F(UnifiedLogTransactionTest, truncationCutsTheTransactionIndex) {
    create_log(LogConfig{.segment_bytes = 300});
    append_mixed_history();
    log_->truncate_to(Offset(74));  // the second ABORT marker goes
    EXPECT_EQ(all_aborted(), std::vector<AbortedTransaction>{mixed_history_aborted().front()});
    EXPECT_EQ(first_unstable_offset(Offset(30)), Offset(8));  // producers 2 and 4 are ongoing again
    create_log(LogConfig{.segment_bytes = 300});
    EXPECT_EQ(all_aborted(), std::vector<AbortedTransaction>{mixed_history_aborted().front()});
    EXPECT_EQ(first_unstable_offset(Offset(30)), Offset(8));
    log_->truncate_to(Offset(20));
    EXPECT_TRUE(all_aborted().empty());
    log_->truncate_fully_and_start_at(Offset(100));
    EXPECT_TRUE(log_->transaction_indexes().empty());
    for (const std::string& path : disk.list("topic-0/")) {
        EXPECT_FALSE(path.ends_with(".txnindex")) << path;
    }
}

// Kafka: UnifiedLogTest.testDeleteOldSegments (eosim: a deleted segment's aborted-transaction index goes with it)
TEST_F(UnifiedLogTransactionTest, deletedSegmentsTakeTheirTransactionIndex) {
    create_log(LogConfig{.segment_bytes = 300});
    append_mixed_history();
    const std::int64_t first_index = log_->transaction_indexes().begin()->first;
    const std::string first_path = log_->transaction_indexes().begin()->second.path();
    log_->increment_log_start_offset(Offset(60));
    EXPECT_FALSE(log_->transaction_indexes().contains(first_index));
    EXPECT_FALSE(disk.exists(first_path));
    EXPECT_EQ(all_aborted(), std::vector<AbortedTransaction>{mixed_history_aborted().back()});
    create_log(LogConfig{.segment_bytes = 300});
    EXPECT_EQ(all_aborted(), std::vector<AbortedTransaction>{mixed_history_aborted().back()});
}

// eosim: the cleaner keeps markers (their control records' keys are not record keys), so the index of a
// compacted segment still matches it.
TEST_F(UnifiedLogTransactionTest, compactionKeepsMarkers) {
    create_log(LogConfig{.segment_bytes = 300, .compacted = true});
    append_mixed_history();
    const std::size_t indexes = log_->transaction_indexes().size();
    (void)log_->compact(0, Offset(90));
    const ReadResult read = log_->read(Offset(0), Offset(90), UINT64_MAX);
    std::size_t markers = 0;
    for (const RecordBatch& batch : read.batches) {
        markers += batch.control ? 1U : 0U;
    }
    EXPECT_EQ(markers, 4U);
    create_log(LogConfig{.segment_bytes = 300, .compacted = true});
    EXPECT_EQ(log_->transaction_indexes().size(), indexes);
    EXPECT_EQ(all_aborted(), mixed_history_aborted());
}

// eosim: an index rebuilt after the log start cut a transaction knows only its batches still in the log
// (docs/kafka-differences.md); a read_committed fetch from the log start skips the same batches.
TEST_F(UnifiedLogTransactionTest, rebuiltIndexAfterTheLogStartCutATransaction) {
    create_log(LogConfig{.segment_bytes = 100});
    append_transactional(1, 5);   // 0..4
    append_non_transactional(5);  // 5..9
    append_transactional(1, 2);   // 10..11
    const Offset marker = end_txn(1, abort_);
    ASSERT_EQ(marker, Offset(12));
    ASSERT_GE(segment_count(), 3U);
    log_->increment_log_start_offset(Offset(10));
    ASSERT_EQ(log_->log_start_offset(), Offset(10));
    EXPECT_EQ(all_aborted(), (std::vector<AbortedTransaction>{{ProducerId(1), Offset(0), Offset(12), Offset(13)}}));
    for (const auto& [base, index] : log_->transaction_indexes()) {
        (void)disk.remove(index.path());
    }
    create_log(LogConfig{.segment_bytes = 100});
    EXPECT_EQ(all_aborted(), (std::vector<AbortedTransaction>{{ProducerId(1), Offset(10), Offset(12), Offset(13)}}));
    EXPECT_EQ(log_->aborted_transactions(Offset(10), Offset(13)).size(), 1U);
}

// eosim: a truncation whose producer-state reload finds no snapshot at or above the log start keeps the
// transactions begun below the log start (Kafka keeps a snapshot at every segment's base, so its reload
// starts at or below the log start).
TEST_F(UnifiedLogTransactionTest, truncationKeepsTransactionsBegunBelowTheLogStart) {
    create_log(LogConfig{.segment_bytes = 100});
    append_non_transactional(5);
    append_transactional(1, 2);  // 5..6, ongoing
    append_transactional(2, 1);  // 7, aborted at 30
    for (int i = 0; i < 11; ++i) {
        append_non_transactional(2);  // 8..29
    }
    ASSERT_EQ(end_txn(2, abort_), Offset(30));
    ASSERT_GT(log_->producer_state().snapshot_offsets().front(), Offset(22));
    log_->increment_log_start_offset(Offset(20));
    update_high_watermark(Offset(20));
    ASSERT_EQ(log_->last_stable_offset(Offset(20)), Offset(20));
    log_->truncate_to(Offset(32));  // keeps the marker; every snapshot was above 22
    EXPECT_EQ(first_unstable_offset(Offset(20)), Offset(5));
    EXPECT_EQ(log_->producer_state().unreplicated_transactions().at(Offset(7)).last_offset, Offset(30));
    log_->truncate_to(Offset(22));  // the marker goes: producer 2's transaction is ongoing again
    EXPECT_EQ(first_unstable_offset(Offset(20)), Offset(5));
    EXPECT_EQ(log_->producer_state().producers().at(ProducerId(2)).current_txn_first_offset, Offset(7));
    EXPECT_EQ(log_->last_stable_offset(Offset(22)), Offset(20));
    create_log(LogConfig{.segment_bytes = 100});  // a snapshot at the new end keeps them for a restart
    EXPECT_EQ(first_unstable_offset(Offset(20)), Offset(5));
    EXPECT_EQ(log_->producer_state().producers().at(ProducerId(2)).current_txn_first_offset, Offset(7));
}

}  // namespace
}  // namespace eosim::broker_core
