// Kafka's LeaderEpochFileCacheTest, against broker_core::LeaderEpochCache. Kafka answers an unknown
// epoch with (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET) = (-1, -1), as eosim's EpochEndOffset{} does.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "broker_core/leader_epoch_cache.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using protocol::LeaderEpoch;
using protocol::Offset;

using Answer = std::pair<std::int32_t, std::int64_t>;  // (epoch, end offset), as Kafka's tests compare
constexpr Answer undefined{-1, -1};

class LeaderEpochFileCacheTest : public ::testing::Test {
protected:
    sim::Simulation simulation{sim::SimulationOptions{.seed = 11}};
    sim::Disk disk{sim::DiskOptions{}, sim::Random(11)};
    LeaderEpochCache cache{disk, "t-5/leader-epoch-checkpoint"};

    void assign(std::int32_t epoch, std::int64_t start) { cache.assign(LeaderEpoch(epoch), Offset(start)); }
    Answer end_offset_for(std::int32_t epoch, std::int64_t log_end) const {
        const EpochEndOffset answer = cache.end_offset_for(LeaderEpoch(epoch), Offset(log_end));
        return {answer.epoch.value(), answer.end_offset.value()};
    }
    static std::vector<EpochEntry> entries(std::initializer_list<std::pair<std::int32_t, std::int64_t>> list) {
        std::vector<EpochEntry> result;
        for (const auto& [epoch, start] : list) {
            result.push_back(EpochEntry{LeaderEpoch(epoch), Offset(start)});
        }
        return result;
    }
    std::optional<std::int32_t> latest_epoch() const {
        const auto latest = cache.latest();
        return latest ? std::optional(latest->epoch.value()) : std::nullopt;
    }
    // The epoch before the latest one (Kafka's previousEpoch).
    std::optional<std::int32_t> previous_epoch() const {
        const auto& all = cache.entries();
        return all.size() < 2 ? std::nullopt : std::optional(all[all.size() - 2].epoch.value());
    }
    // What a fresh cache reads from the checkpoint file.
    std::vector<EpochEntry> checkpointed() {
        LeaderEpochCache reread{disk, "t-5/leader-epoch-checkpoint"};
        reread.load();
        return reread.entries();
    }
    void three_epochs() {
        assign(2, 6);
        assign(3, 8);
        assign(4, 11);
    }
};

// Kafka: LeaderEpochFileCacheTest.testPreviousEpoch
TEST_F(LeaderEpochFileCacheTest, testPreviousEpoch) {
    EXPECT_EQ(previous_epoch(), std::nullopt);
    assign(2, 10);
    EXPECT_EQ(previous_epoch(), std::nullopt);
    assign(4, 15);
    EXPECT_EQ(previous_epoch(), 2);
    assign(10, 20);
    EXPECT_EQ(previous_epoch(), 4);
    cache.truncate_from_end(Offset(18));
    EXPECT_EQ(previous_epoch(), 2);
}

// Kafka: LeaderEpochFileCacheTest.shouldAddEpochAndMessageOffsetToCache
TEST_F(LeaderEpochFileCacheTest, shouldAddEpochAndMessageOffsetToCache) {
    assign(2, 10);
    EXPECT_EQ(latest_epoch(), 2);
    EXPECT_EQ(cache.entries(), entries({{2, 10}}));
    EXPECT_EQ(end_offset_for(2, 11), Answer(2, 11));
}

// Kafka: LeaderEpochFileCacheTest.shouldReturnLogEndOffsetIfLatestEpochRequested
TEST_F(LeaderEpochFileCacheTest, shouldReturnLogEndOffsetIfLatestEpochRequested) {
    assign(2, 11);
    assign(2, 12);
    EXPECT_EQ(end_offset_for(2, 14), Answer(2, 14));
}

// Kafka: LeaderEpochFileCacheTest.shouldReturnUndefinedOffsetIfUndefinedEpochRequested
TEST_F(LeaderEpochFileCacheTest, shouldReturnUndefinedOffsetIfUndefinedEpochRequested) {
    assign(2, 11);
    assign(3, 12);
    EXPECT_EQ(end_offset_for(-1, 0), undefined);
}

// Kafka: LeaderEpochFileCacheTest.shouldNotOverwriteLogEndOffsetForALeaderEpochOnceItHasBeenAssigned
TEST_F(LeaderEpochFileCacheTest, shouldNotOverwriteLogEndOffsetForALeaderEpochOnceItHasBeenAssigned) {
    assign(2, 9);
    assign(2, 10);
    EXPECT_EQ(cache.entries(), entries({{2, 9}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldEnforceMonotonicallyIncreasingStartOffsets
TEST_F(LeaderEpochFileCacheTest, shouldEnforceMonotonicallyIncreasingStartOffsets) {
    assign(2, 9);
    assign(3, 9);  // a new epoch at the same offset: epoch 2 never held a record, it goes
    EXPECT_EQ(cache.entries(), entries({{3, 9}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldNotOverwriteOffsetForALeaderEpochOnceItHasBeenAssigned
TEST_F(LeaderEpochFileCacheTest, shouldNotOverwriteOffsetForALeaderEpochOnceItHasBeenAssigned) {
    assign(2, 6);
    assign(2, 10);
    EXPECT_EQ(cache.entries().at(0).start_offset, Offset(6));
}

// Kafka: LeaderEpochFileCacheTest.shouldReturnUnsupportedIfNoEpochRecorded
TEST_F(LeaderEpochFileCacheTest, shouldReturnUnsupportedIfNoEpochRecorded) {
    EXPECT_EQ(end_offset_for(0, 0), undefined);
}

// Kafka: LeaderEpochFileCacheTest.shouldReturnUnsupportedIfNoEpochRecordedAndUndefinedEpochRequested
TEST_F(LeaderEpochFileCacheTest, shouldReturnUnsupportedIfNoEpochRecordedAndUndefinedEpochRequested) {
    EXPECT_EQ(end_offset_for(-1, 73), undefined);
}

// Kafka: LeaderEpochFileCacheTest.shouldReturnFirstEpochIfRequestedEpochLessThanFirstEpoch
TEST_F(LeaderEpochFileCacheTest, shouldReturnFirstEpochIfRequestedEpochLessThanFirstEpoch) {
    assign(5, 11);
    assign(6, 12);
    assign(7, 13);
    // The requested epoch itself, ending where the first known one starts.
    EXPECT_EQ(end_offset_for(4, 0), Answer(4, 11));
}

// Kafka: LeaderEpochFileCacheTest.shouldTruncateIfMatchingEpochButEarlierStartingOffset
TEST_F(LeaderEpochFileCacheTest, shouldTruncateIfMatchingEpochButEarlierStartingOffset) {
    assign(5, 11);
    assign(6, 12);
    assign(7, 13);
    assign(7, 12);  // epoch 7 starts earlier: epoch 6, which started there, goes
    EXPECT_EQ(end_offset_for(5, 0), Answer(5, 12));
    EXPECT_EQ(end_offset_for(6, 0), Answer(5, 12));
    EXPECT_EQ(cache.entries(), entries({{5, 11}, {7, 12}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldGetFirstOffsetOfSubsequentEpochWhenOffsetRequestedForPreviousEpoch
TEST_F(LeaderEpochFileCacheTest, shouldGetFirstOffsetOfSubsequentEpochWhenOffsetRequestedForPreviousEpoch) {
    assign(1, 11);
    assign(1, 12);
    assign(2, 13);
    assign(2, 14);
    assign(3, 15);
    assign(3, 16);
    EXPECT_EQ(end_offset_for(2, 17), Answer(2, 15));
}

// Kafka: LeaderEpochFileCacheTest.shouldReturnNextAvailableEpochIfThereIsNoExactEpochForTheOneRequested
TEST_F(LeaderEpochFileCacheTest, shouldReturnNextAvailableEpochIfThereIsNoExactEpochForTheOneRequested) {
    assign(0, 10);
    assign(2, 13);
    assign(4, 17);
    EXPECT_EQ(end_offset_for(1, 0), Answer(0, 13));
    EXPECT_EQ(end_offset_for(2, 0), Answer(2, 17));
    EXPECT_EQ(end_offset_for(3, 0), Answer(2, 17));
}

// Kafka: LeaderEpochFileCacheTest.shouldNotUpdateEpochAndStartOffsetIfItDidNotChange
TEST_F(LeaderEpochFileCacheTest, shouldNotUpdateEpochAndStartOffsetIfItDidNotChange) {
    assign(2, 6);
    assign(2, 7);
    EXPECT_EQ(cache.entries(), entries({{2, 6}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldReturnInvalidOffsetIfEpochIsRequestedWhichIsNotCurrentlyTracked
TEST_F(LeaderEpochFileCacheTest, shouldReturnInvalidOffsetIfEpochIsRequestedWhichIsNotCurrentlyTracked) {
    assign(2, 100);
    EXPECT_EQ(end_offset_for(3, 100), undefined);  // newer than the latest: unknown here
}

// Kafka: LeaderEpochFileCacheTest.shouldSupportEpochsThatDoNotStartFromZero
TEST_F(LeaderEpochFileCacheTest, shouldSupportEpochsThatDoNotStartFromZero) {
    assign(2, 6);
    EXPECT_EQ(end_offset_for(2, 7), Answer(2, 7));
    EXPECT_EQ(cache.entries(), entries({{2, 6}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldPersistEpochsBetweenInstances
TEST_F(LeaderEpochFileCacheTest, shouldPersistEpochsBetweenInstances) {
    assign(2, 6);
    EXPECT_EQ(checkpointed(), entries({{2, 6}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldEnforceMonotonicallyIncreasingEpochs
TEST_F(LeaderEpochFileCacheTest, shouldEnforceMonotonicallyIncreasingEpochs) {
    assign(1, 5);
    assign(2, 6);
    // An older epoch at a later offset: the log is already inconsistent; the later epochs go.
    assign(1, 7);
    EXPECT_EQ(latest_epoch(), 1);
    EXPECT_EQ(end_offset_for(1, 8), Answer(1, 8));
    EXPECT_EQ(end_offset_for(2, 8), undefined);
    EXPECT_EQ(cache.entries(), entries({{1, 7}}));
    EXPECT_EQ(checkpointed(), entries({{1, 7}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldEnforceOffsetsIncreaseMonotonically
TEST_F(LeaderEpochFileCacheTest, shouldEnforceOffsetsIncreaseMonotonically) {
    assign(2, 6);
    assign(3, 5);  // the epoch goes forward, the offset back: the last assignment wins
    EXPECT_EQ(cache.entries(), entries({{3, 5}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldIncreaseAndTrackEpochsAsLeadersChangeManyTimes
TEST_F(LeaderEpochFileCacheTest, shouldIncreaseAndTrackEpochsAsLeadersChangeManyTimes) {
    assign(0, 0);
    assign(1, 0);
    EXPECT_EQ(latest_epoch(), 1);
    EXPECT_EQ(end_offset_for(1, 0), Answer(1, 0));
    EXPECT_EQ(end_offset_for(0, 0), Answer(0, 0));
    EXPECT_EQ(end_offset_for(1, 5), Answer(1, 5));
    EXPECT_EQ(end_offset_for(0, 5), Answer(0, 0));
    assign(2, 5);
    EXPECT_EQ(end_offset_for(2, 10), Answer(2, 10));
    EXPECT_EQ(end_offset_for(1, 10), Answer(1, 5));
    EXPECT_EQ(end_offset_for(0, 10), Answer(0, 0));
}

// Kafka: LeaderEpochFileCacheTest.shouldIncreaseAndTrackEpochsAsFollowerReceivesManyMessages
TEST_F(LeaderEpochFileCacheTest, shouldIncreaseAndTrackEpochsAsFollowerReceivesManyMessages) {
    for (std::int64_t offset = 0; offset < 3; ++offset) {
        assign(0, offset);
    }
    EXPECT_EQ(latest_epoch(), 0);
    EXPECT_EQ(end_offset_for(0, 3), Answer(0, 3));
    for (std::int64_t offset = 3; offset < 6; ++offset) {
        assign(1, offset);
    }
    EXPECT_EQ(latest_epoch(), 1);
    EXPECT_EQ(end_offset_for(1, 6), Answer(1, 6));
    for (std::int64_t offset = 6; offset < 9; ++offset) {
        assign(2, offset);
    }
    EXPECT_EQ(latest_epoch(), 2);
    EXPECT_EQ(end_offset_for(2, 9), Answer(2, 9));
    EXPECT_EQ(end_offset_for(0, 9), Answer(0, 3));
    EXPECT_EQ(end_offset_for(1, 9), Answer(1, 6));
}

// Kafka: LeaderEpochFileCacheTest.shouldDropEntriesOnEpochBoundaryWhenRemovingLatestEntries
TEST_F(LeaderEpochFileCacheTest, shouldDropEntriesOnEpochBoundaryWhenRemovingLatestEntries) {
    three_epochs();
    cache.truncate_from_end(Offset(8));
    EXPECT_EQ(cache.entries(), entries({{2, 6}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldPreserveResetOffsetOnClearEarliestIfOneExists
TEST_F(LeaderEpochFileCacheTest, shouldPreserveResetOffsetOnClearEarliestIfOneExists) {
    three_epochs();
    cache.truncate_from_start(Offset(8));
    EXPECT_EQ(cache.entries(), entries({{3, 8}, {4, 11}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldUpdateSavedOffsetWhenOffsetToClearToIsBetweenEpochs
TEST_F(LeaderEpochFileCacheTest, shouldUpdateSavedOffsetWhenOffsetToClearToIsBetweenEpochs) {
    three_epochs();
    cache.truncate_from_start(Offset(9));
    EXPECT_EQ(cache.entries(), entries({{3, 9}, {4, 11}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldNotClearAnythingIfOffsetToEarly
TEST_F(LeaderEpochFileCacheTest, shouldNotClearAnythingIfOffsetToEarly) {
    three_epochs();
    cache.truncate_from_start(Offset(1));
    EXPECT_EQ(cache.entries(), entries({{2, 6}, {3, 8}, {4, 11}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldNotClearAnythingIfOffsetToFirstOffset
TEST_F(LeaderEpochFileCacheTest, shouldNotClearAnythingIfOffsetToFirstOffset) {
    three_epochs();
    cache.truncate_from_start(Offset(6));
    EXPECT_EQ(cache.entries(), entries({{2, 6}, {3, 8}, {4, 11}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldRetainLatestEpochOnClearAllEarliest
TEST_F(LeaderEpochFileCacheTest, shouldRetainLatestEpochOnClearAllEarliest) {
    three_epochs();
    cache.truncate_from_start(Offset(11));
    EXPECT_EQ(cache.entries(), entries({{4, 11}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldUpdateOffsetBetweenEpochBoundariesOnClearEarliest
TEST_F(LeaderEpochFileCacheTest, shouldUpdateOffsetBetweenEpochBoundariesOnClearEarliest) {
    three_epochs();
    cache.truncate_from_start(Offset(9));
    EXPECT_EQ(cache.entries(), entries({{3, 9}, {4, 11}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldUpdateOffsetBetweenEpochBoundariesOnClearEarliest2
TEST_F(LeaderEpochFileCacheTest, shouldUpdateOffsetBetweenEpochBoundariesOnClearEarliest2) {
    assign(0, 0);
    assign(1, 7);
    assign(2, 10);
    cache.truncate_from_start(Offset(5));
    EXPECT_EQ(cache.entries(), entries({{0, 5}, {1, 7}, {2, 10}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldRetainLatestEpochOnClearAllEarliestAndUpdateItsOffset
TEST_F(LeaderEpochFileCacheTest, shouldRetainLatestEpochOnClearAllEarliestAndUpdateItsOffset) {
    three_epochs();
    cache.truncate_from_start(Offset(15));
    EXPECT_EQ(cache.entries(), entries({{4, 15}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldDropEntriesBetweenEpochBoundaryWhenRemovingNewest
TEST_F(LeaderEpochFileCacheTest, shouldDropEntriesBetweenEpochBoundaryWhenRemovingNewest) {
    three_epochs();
    cache.truncate_from_end(Offset(9));
    EXPECT_EQ(latest_epoch(), 3);
    EXPECT_EQ(cache.entries(), entries({{2, 6}, {3, 8}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldClearAllEntries
TEST_F(LeaderEpochFileCacheTest, shouldClearAllEntries) {
    three_epochs();
    cache.clear();
    EXPECT_TRUE(cache.entries().empty());
    EXPECT_TRUE(checkpointed().empty());
}

// Kafka: LeaderEpochFileCacheTest.shouldNotResetEpochHistoryHeadIfUndefinedPassed
TEST_F(LeaderEpochFileCacheTest, shouldNotResetEpochHistoryHeadIfUndefinedPassed) {
    three_epochs();
    cache.truncate_from_start(Offset(-1));
    EXPECT_EQ(cache.entries().size(), 3U);
}

// Kafka: LeaderEpochFileCacheTest.shouldNotResetEpochHistoryTailIfUndefinedPassed
TEST_F(LeaderEpochFileCacheTest, shouldNotResetEpochHistoryTailIfUndefinedPassed) {
    three_epochs();
    cache.truncate_from_end(Offset(-1));
    EXPECT_EQ(cache.entries().size(), 3U);
}

// Kafka: LeaderEpochFileCacheTest.shouldFetchLatestEpochOfEmptyCache
TEST_F(LeaderEpochFileCacheTest, shouldFetchLatestEpochOfEmptyCache) {
    EXPECT_EQ(latest_epoch(), std::nullopt);
}

// Kafka: LeaderEpochFileCacheTest.shouldFetchEndOffsetOfEmptyCache
TEST_F(LeaderEpochFileCacheTest, shouldFetchEndOffsetOfEmptyCache) {
    EXPECT_EQ(end_offset_for(7, 0), undefined);
}

// Kafka: LeaderEpochFileCacheTest.shouldClearEarliestOnEmptyCache
TEST_F(LeaderEpochFileCacheTest, shouldClearEarliestOnEmptyCache) {
    cache.truncate_from_start(Offset(7));
    EXPECT_TRUE(cache.entries().empty());
}

// Kafka: LeaderEpochFileCacheTest.shouldClearLatestOnEmptyCache
TEST_F(LeaderEpochFileCacheTest, shouldClearLatestOnEmptyCache) {
    cache.truncate_from_end(Offset(7));
    EXPECT_TRUE(cache.entries().empty());
}

// Kafka: LeaderEpochFileCacheTest.testGetEpochEntry
TEST_F(LeaderEpochFileCacheTest, testGetEpochEntry) {
    assign(2, 100);
    assign(3, 500);
    assign(5, 1000);
    EXPECT_EQ(cache.entries(), entries({{2, 100}, {3, 500}, {5, 1000}}));
}

// Kafka: LeaderEpochFileCacheTest.shouldWriteCheckpointOnTruncation
TEST_F(LeaderEpochFileCacheTest, shouldWriteCheckpointOnTruncation) {
    three_epochs();
    cache.truncate_from_end(Offset(11));
    cache.truncate_from_start(Offset(8));
    EXPECT_EQ(checkpointed(), entries({{3, 8}}));
}

}  // namespace
}  // namespace eosim::broker_core
