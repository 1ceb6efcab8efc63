#include <gtest/gtest.h>

#include "broker_core/partition_log.h"
#include "broker_core/producer_state.h"
#include "protocol/control_record.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using protocol::Offset;
using protocol::ProducerEpoch;
using protocol::ProducerId;
using protocol::RecordBatch;
using protocol::Sequence;

RecordBatch idempotent_batch(std::int64_t base_offset, std::int64_t producer, std::int16_t epoch, std::int32_t sequence,
                             int records, std::int64_t timestamp_ms = 0) {
    RecordBatch batch;
    batch.base_offset = Offset(base_offset);
    batch.producer_id = ProducerId(producer);
    batch.producer_epoch = ProducerEpoch(epoch);
    batch.base_sequence = Sequence(sequence);
    for (int i = 0; i < records; ++i) {
        batch.records.push_back(protocol::Record{std::nullopt, "v" + std::to_string(sequence + i), timestamp_ms});
    }
    return batch;
}

class ProducerStateTest : public ::testing::Test {
protected:
    sim::Simulation simulation{sim::SimulationOptions{.seed = 3}};
    sim::Disk disk{sim::DiskOptions{}, sim::Random(3)};
    ProducerStateManager state{disk, "t-0", ProducerStateConfig{}};

    // Checks the batch and, if it may be appended, records it at `offset`.
    SequenceVerdict offer(std::int64_t offset, std::int64_t producer, std::int16_t epoch, std::int32_t sequence, int records) {
        const RecordBatch batch = idempotent_batch(offset, producer, epoch, sequence, records);
        const SequenceCheck check = state.check(batch);
        if (check.verdict == SequenceVerdict::append) {
            state.update(batch);
        }
        return check.verdict;
    }
};

TEST_F(ProducerStateTest, AProducerStartsAtSequenceZeroAndContinuesInOrder) {
    EXPECT_EQ(offer(0, 7, 0, 0, 3), SequenceVerdict::append);
    EXPECT_EQ(offer(3, 7, 0, 3, 2), SequenceVerdict::append);
    EXPECT_EQ(offer(5, 7, 0, 6, 1), SequenceVerdict::out_of_order_sequence);  // a gap
    EXPECT_EQ(offer(5, 8, 0, 4, 1), SequenceVerdict::unknown_producer_id);    // no state, not its first batch
    EXPECT_EQ(state.end_offset(), Offset(5));
}

TEST_F(ProducerStateTest, ARetryIsAnsweredWithTheOriginalOffsets) {
    ASSERT_EQ(offer(0, 7, 0, 0, 3), SequenceVerdict::append);
    ASSERT_EQ(offer(10, 7, 0, 3, 2), SequenceVerdict::append);
    const SequenceCheck check = state.check(idempotent_batch(20, 7, 0, 0, 3));
    ASSERT_EQ(check.verdict, SequenceVerdict::duplicate);
    EXPECT_EQ(check.original->first_offset, Offset(0));
    EXPECT_EQ(check.original->last_offset, Offset(2));
    // The same sequences in other batch bounds are not the same batch.
    EXPECT_EQ(state.check(idempotent_batch(20, 7, 0, 0, 2)).verdict, SequenceVerdict::out_of_order_sequence);
}

TEST_F(ProducerStateTest, OnlyTheLastFiveBatchesAreRemembered) {
    for (int i = 0; i < 6; ++i) {
        ASSERT_EQ(offer(i, 7, 0, i, 1), SequenceVerdict::append);
    }
    EXPECT_EQ(state.check(idempotent_batch(9, 7, 0, 1, 1)).verdict, SequenceVerdict::duplicate);
    EXPECT_EQ(state.check(idempotent_batch(9, 7, 0, 0, 1)).verdict, SequenceVerdict::out_of_order_sequence);
}

TEST_F(ProducerStateTest, EpochsFenceOldBatchesAndRestartSequences) {
    ASSERT_EQ(offer(0, 7, 1, 0, 2), SequenceVerdict::append);
    EXPECT_EQ(offer(2, 7, 0, 2, 1), SequenceVerdict::invalid_producer_epoch);
    EXPECT_EQ(offer(2, 7, 2, 5, 1), SequenceVerdict::out_of_order_sequence);  // a new epoch starts at 0
    EXPECT_EQ(offer(2, 7, 2, 0, 1), SequenceVerdict::append);
    // The new epoch forgot the old epoch's batches.
    EXPECT_EQ(state.check(idempotent_batch(3, 7, 1, 0, 2)).verdict, SequenceVerdict::invalid_producer_epoch);
    EXPECT_EQ(state.producers().at(ProducerId(7)).batches.size(), 1U);
}

TEST_F(ProducerStateTest, IdleProducersExpire) {
    ProducerStateManager expiring(disk, "t-1", ProducerStateConfig{.expiration_ms = 1000});
    expiring.update(idempotent_batch(0, 7, 0, 0, 1, 100));
    expiring.update(idempotent_batch(1, 8, 0, 0, 1, 900));
    EXPECT_EQ(expiring.expire(1099), 0U);
    EXPECT_EQ(expiring.expire(1100), 1U);
    EXPECT_FALSE(expiring.producers().contains(ProducerId(7)));
    EXPECT_TRUE(expiring.producers().contains(ProducerId(8)));
    EXPECT_EQ(expiring.check(idempotent_batch(2, 7, 0, 1, 1)).verdict, SequenceVerdict::unknown_producer_id);
}

// A marker refreshes its producer's timestamp: a transaction aborted long after its last data batch keeps
// its producer for a whole expiration after the marker. The kafka-9144 switch counts from the data only.
TEST_F(ProducerStateTest, AMarkerRefreshesItsProducerUnlessKafka9144) {
    for (const bool marker_timestamps : {true, false}) {
        ProducerStateManager expiring(disk, marker_timestamps ? "t-1" : "t-2",
                                      ProducerStateConfig{.expiration_ms = 1000, .marker_timestamps = marker_timestamps});
        RecordBatch data = idempotent_batch(0, 7, 0, 0, 1, 100);
        data.transactional = true;
        expiring.update(data);
        RecordBatch marker = protocol::marker_batch(ProducerId(7), ProducerEpoch(1),
                                                    protocol::TransactionMarker{protocol::ControlType::abort, 0}, 2000);
        marker.base_offset = Offset(1);
        expiring.update(marker);
        EXPECT_EQ(expiring.expire(2500), marker_timestamps ? 0U : 1U) << marker_timestamps;
    }
}

TEST_F(ProducerStateTest, Kafka9144TakesAnUnknownProducerAtAnySequence) {
    ProducerStateManager lenient(disk, "t-3", ProducerStateConfig{.unknown_producer_any_sequence = true});
    EXPECT_EQ(lenient.check(idempotent_batch(0, 7, 0, 5, 1)).verdict, SequenceVerdict::append);
    EXPECT_EQ(state.check(idempotent_batch(0, 7, 0, 5, 1)).verdict, SequenceVerdict::unknown_producer_id);
}

TEST_F(ProducerStateTest, TheBugSwitchesWeakenTheCheck) {
    ProducerStateManager no_dedup(disk, "t-1", ProducerStateConfig{.dedup = false});
    no_dedup.update(idempotent_batch(0, 7, 0, 0, 2));
    EXPECT_EQ(no_dedup.check(idempotent_batch(2, 7, 0, 0, 2)).verdict, SequenceVerdict::append);

    ProducerStateManager window_1(disk, "t-2", ProducerStateConfig{.batches_kept = 1});
    window_1.update(idempotent_batch(0, 7, 0, 0, 1));
    window_1.update(idempotent_batch(1, 7, 0, 1, 1));
    EXPECT_EQ(window_1.check(idempotent_batch(2, 7, 0, 1, 1)).verdict, SequenceVerdict::duplicate);
    EXPECT_EQ(window_1.check(idempotent_batch(2, 7, 0, 0, 1)).verdict, SequenceVerdict::out_of_order_sequence);
}

TEST_F(ProducerStateTest, SnapshotsRoundTripAndADamagedOneIsSkipped) {
    state.update(idempotent_batch(0, 7, 0, 0, 3, 50));
    state.take_snapshot();  // at 3
    state.update(idempotent_batch(3, 8, 2, 0, 1, 60));
    state.take_snapshot();  // at 4
    const auto saved = state.producers();
    state.update(idempotent_batch(4, 9, 0, 0, 1, 70));
    state.take_snapshot();  // at 5; the one at 3 goes (two are kept)
    EXPECT_EQ(state.snapshot_offsets(), (std::vector<Offset>{Offset(4), Offset(5)}));

    ProducerStateManager reloaded(disk, "t-0", ProducerStateConfig{});
    EXPECT_EQ(reloaded.load_snapshot(Offset(4)), Offset(4));  // the one above 4 is removed
    EXPECT_EQ(reloaded.producers(), saved);
    EXPECT_EQ(reloaded.end_offset(), Offset(4));
    EXPECT_EQ(reloaded.snapshot_offsets(), (std::vector<Offset>{Offset(4)}));

    const std::string path = "t-0/00000000000000000004.snapshot";
    const std::uint64_t size = disk.size(path).value();
    ASSERT_TRUE(disk.truncate(path, size - 1).ok());
    EXPECT_EQ(reloaded.load_snapshot(Offset(100)), std::nullopt);
    EXPECT_TRUE(reloaded.producers().empty());
    EXPECT_TRUE(reloaded.snapshot_offsets().empty());  // the damaged one is removed
}

class ProducerStateRecoveryTest : public ::testing::Test {
protected:
    sim::Simulation simulation{sim::SimulationOptions{.seed = 4}};
    sim::Disk disk{sim::DiskOptions{}, sim::Random(4)};

    // Appends `batches` batches of producer 7 (two records each) to a log with small segments.
    void fill(PartitionLog& log, int batches) {
        for (int i = 0; i < batches; ++i) {
            ASSERT_TRUE(log.append(idempotent_batch(log.log_end_offset().value(), 7, 0, 2 * i, 2)).ok());
        }
    }
};

TEST_F(ProducerStateRecoveryTest, RecoveryRebuildsTheStateFromTheNewestSnapshotAndTheLog) {
    PartitionLog log(disk, "t-0", LogConfig{.segment_bytes = 300});
    (void)log.recover();
    fill(log, 20);
    ASSERT_FALSE(log.producer_state().snapshot_offsets().empty());  // rolls took snapshots
    const auto before = log.producer_state().producers();

    PartitionLog restarted(disk, "t-0", LogConfig{.segment_bytes = 300});
    (void)restarted.recover();
    EXPECT_EQ(restarted.producer_state().producers(), before);
    EXPECT_EQ(restarted.producer_state().end_offset(), Offset(40));
    EXPECT_EQ(restarted.producer_state().check(idempotent_batch(40, 7, 0, 38, 2)).verdict, SequenceVerdict::duplicate);
    EXPECT_EQ(restarted.producer_state().check(idempotent_batch(40, 7, 0, 40, 2)).verdict, SequenceVerdict::append);
}

TEST_F(ProducerStateRecoveryTest, TruncationRebuildsTheStateForTheShorterLog) {
    PartitionLog log(disk, "t-0", LogConfig{.segment_bytes = 300});
    (void)log.recover();
    fill(log, 20);
    log.truncate_to(Offset(11));  // batches are never split: the log ends at 10
    ASSERT_EQ(log.log_end_offset(), Offset(10));
    const ProducerEntry& entry = log.producer_state().producers().at(ProducerId(7));
    EXPECT_EQ(entry.last_sequence(), Sequence(9));
    EXPECT_EQ(log.producer_state().end_offset(), Offset(10));
    for (const Offset snapshot : log.producer_state().snapshot_offsets()) {
        EXPECT_LE(snapshot, Offset(10));
    }
}

TEST_F(ProducerStateRecoveryTest, WithTheBugSwitchARestartForgetsEveryProducer) {
    LogConfig config{.segment_bytes = 300, .recover_producer_state = false};
    PartitionLog log(disk, "t-0", config);
    (void)log.recover();
    fill(log, 5);
    PartitionLog restarted(disk, "t-0", config);
    (void)restarted.recover();
    EXPECT_TRUE(restarted.producer_state().producers().empty());
    // The retry of the last batch is taken for a stranger's batch.
    EXPECT_EQ(restarted.producer_state().check(idempotent_batch(10, 7, 0, 8, 2)).verdict,
              SequenceVerdict::unknown_producer_id);
}

// KAFKA-6683: the roll's snapshot is named by the new segment's base; it must describe the log below that
// offset. A log truncated to the base (a follower meeting a leader without the batch, or a crash losing
// the unflushed active segment) reloads it and must not remember the batch that started the segment.
TEST_F(ProducerStateRecoveryTest, TruncationToASegmentBaseRemembersOnlyTheBatchesBelowIt) {
    PartitionLog log(disk, "t-0", LogConfig{.segment_bytes = 300});
    (void)log.recover();
    fill(log, 20);
    const std::vector<std::int64_t> bases = log.segment_bases();
    ASSERT_GE(bases.size(), 3U);
    const Offset base(bases[bases.size() - 2]);
    log.truncate_to(base);
    ASSERT_EQ(log.log_end_offset(), base);
    const ProducerEntry& entry = log.producer_state().producers().at(ProducerId(7));
    EXPECT_EQ(entry.batches.back().last_offset, Offset(base.value() - 1));
    EXPECT_EQ(entry.last_sequence(), Sequence(static_cast<std::int32_t>(base.value() - 1)));
    // The retry of the batch the truncation removed is appended again, not answered from the state.
    EXPECT_EQ(log.producer_state().check(idempotent_batch(base.value(), 7, 0, static_cast<std::int32_t>(base.value()), 2))
                  .verdict,
              SequenceVerdict::append);
}

TEST_F(ProducerStateRecoveryTest, WithTheKafka6683SwitchTheRollSnapshotHoldsTheBatchAtItsOffset) {
    const LogConfig config{.segment_bytes = 300, .snapshot_holds_appended_batch = true};
    PartitionLog log(disk, "t-0", config);
    (void)log.recover();
    fill(log, 20);
    const std::vector<std::int64_t> bases = log.segment_bases();
    ASSERT_GE(bases.size(), 3U);
    const Offset base(bases[bases.size() - 2]);
    // Snapshots are named by segment bases, as Kafka's roll names them.
    const std::vector<Offset> snapshots = log.producer_state().snapshot_offsets();
    EXPECT_EQ(snapshots.back(), Offset(bases.back()));
    log.truncate_to(base);
    ASSERT_EQ(log.log_end_offset(), base);
    // The state remembers the batch at the base, which the log no longer has: its retry is taken for a
    // duplicate and answered with offsets the log lacks.
    const ProducerEntry& entry = log.producer_state().producers().at(ProducerId(7));
    EXPECT_EQ(entry.batches.back().first_offset, base);
    const SequenceCheck retry =
        log.producer_state().check(idempotent_batch(base.value(), 7, 0, static_cast<std::int32_t>(base.value()), 2));
    EXPECT_EQ(retry.verdict, SequenceVerdict::duplicate);
}

}  // namespace
}  // namespace eosim::broker_core
