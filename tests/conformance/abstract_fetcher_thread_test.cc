// Kafka's AbstractFetcherThreadTest (its truncation cases), against eosim's follower truncation:
// find_divergence (the leader's side of a fetch), truncation_offset (the follower's side) and the
// PartitionLog operations the broker's fetch loop applies (broker_core/broker_fetcher.cc, Broker::follow).
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "broker_core/leader_epoch_cache.h"
#include "broker_core/partition_log.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using protocol::LeaderEpoch;
using protocol::Offset;
using protocol::RecordBatch;

RecordBatch one_record(std::int64_t offset, std::int32_t epoch, const std::string& value) {
    RecordBatch batch;
    batch.base_offset = Offset(offset);
    batch.leader_epoch = LeaderEpoch(epoch);
    batch.records.push_back(protocol::Record{std::nullopt, value, offset});
    return batch;
}

class AbstractFetcherThreadTest : public ::testing::Test {
protected:
    sim::Simulation simulation{sim::SimulationOptions{.seed = 13}};
    sim::Disk disk{sim::DiskOptions{}, sim::Random(13)};
    PartitionLog leader{disk, "leader/topic-0", LogConfig{}};
    PartitionLog follower{disk, "follower/topic-0", LogConfig{}};
    int truncations = 0;

    void SetUp() override {
        (void)leader.recover();
        (void)follower.recover();
    }

    // Batches of one record, each (epoch, value), from `base` on.
    static void fill(PartitionLog& log, std::int64_t base,
                     const std::vector<std::pair<std::int32_t, std::string>>& batches) {
        if (base > 0) {
            log.truncate_fully_and_start_at(Offset(base));
        }
        for (const auto& [epoch, value] : batches) {
            ASSERT_TRUE(log.append(one_record(log.log_end_offset().value(), epoch, value)).ok());
        }
    }

    [[nodiscard]] LeaderEpoch last_fetched_epoch() const {
        const auto latest = follower.epochs().latest();
        return latest ? latest->epoch : protocol::no_leader_epoch;
    }

    // One round of the broker's fetch loop: truncation on a diverging epoch, a fresh start below the
    // leader's log start, else one batch copied. Whether anything changed.
    bool fetch_once() {
        const Offset fetch_offset = follower.log_end_offset();
        if (const auto diverging =
                find_divergence(leader.epochs(), leader.log_end_offset(), last_fetched_epoch(), fetch_offset)) {
            ++truncations;
            follower.truncate_to(
                truncation_offset(follower.epochs(), follower.log_start_offset(), fetch_offset, *diverging));
            return true;
        }
        if (fetch_offset < leader.log_start_offset()) {
            follower.truncate_fully_and_start_at(leader.log_start_offset());
            return true;
        }
        const ReadResult read = leader.read(fetch_offset, leader.log_end_offset(), 1);
        if (read.batches.empty()) {
            return false;
        }
        EXPECT_TRUE(follower.append(read.batches.front()).ok());
        return true;
    }

    void fetch_until_caught_up() {
        for (int round = 0; round < 100 && fetch_once(); ++round) {
        }
    }

    [[nodiscard]] static std::vector<RecordBatch> all(const PartitionLog& log) {
        return log.read(log.log_start_offset(), log.log_end_offset(), 1U << 20U).batches;
    }
};

// Kafka: AbstractFetcherThreadTest.testTruncation
TEST_F(AbstractFetcherThreadTest, testTruncation) {
    fill(follower, 0, {{0, "a"}, {2, "b"}, {4, "c"}});
    fill(leader, 0, {{1, "a"}, {3, "b"}, {5, "c"}});
    fetch_until_caught_up();
    EXPECT_EQ(all(follower), all(leader));
    EXPECT_EQ(follower.log_start_offset(), leader.log_start_offset());
    EXPECT_EQ(follower.log_end_offset(), leader.log_end_offset());
    EXPECT_EQ(follower.epochs().entries(), leader.epochs().entries());
}

// Kafka: AbstractFetcherThreadTest.testTruncationSkippedIfNoEpochChange
TEST_F(AbstractFetcherThreadTest, testTruncationSkippedIfNoEpochChange) {
    fill(leader, 0, {{1, "a"}, {3, "b"}, {5, "c"}});
    // An empty follower has no epoch to diverge by: it fetches without truncating (Kafka truncates
    // once, to 0, which is the same).
    ASSERT_TRUE(fetch_once());
    EXPECT_EQ(follower.log_end_offset(), Offset(1));
    ASSERT_TRUE(fetch_once());
    EXPECT_EQ(follower.log_end_offset(), Offset(2));
    EXPECT_EQ(truncations, 0);
}

// Kafka: AbstractFetcherThreadTest.testFollowerFetchOutOfRangeHigh
TEST_F(AbstractFetcherThreadTest, testFollowerFetchOutOfRangeHigh) {
    fill(follower, 0, {{0, "a"}, {2, "b"}, {4, "c"}});
    fill(leader, 0, {{0, "a"}, {2, "b"}, {4, "c"}});
    fetch_until_caught_up();
    EXPECT_EQ(follower.log_end_offset(), Offset(3));
    EXPECT_EQ(truncations, 0);
    // The leader's log is emptied without a truncation phase on the follower: the follower's epoch is
    // unknown to the leader now, and the follower cuts back to its log start.
    leader.truncate_to(Offset(0));
    fetch_until_caught_up();
    EXPECT_EQ(follower.log_end_offset(), Offset(0));
    EXPECT_EQ(follower.log_start_offset(), Offset(0));
}

// Kafka: AbstractFetcherThreadTest.testFollowerFetchOutOfRangeLow
TEST_F(AbstractFetcherThreadTest, testFollowerFetchOutOfRangeLow) {
    fill(follower, 0, {{0, "a"}});
    fill(leader, 2, {{4, "c"}});
    ASSERT_TRUE(fetch_once());
    EXPECT_EQ(follower.log_start_offset(), Offset(2));
    EXPECT_TRUE(all(follower).empty());
    fetch_until_caught_up();
    EXPECT_EQ(all(follower), all(leader));
    EXPECT_EQ(follower.log_start_offset(), leader.log_start_offset());
    EXPECT_EQ(follower.log_end_offset(), leader.log_end_offset());
}

// Kafka: AbstractFetcherThreadTest.testDivergingEpochs
TEST_F(AbstractFetcherThreadTest, testDivergingEpochs) {
    fill(follower, 0, {{0, "a"}, {2, "b"}, {4, "c"}});
    fill(leader, 0, {{0, "a"}, {2, "b"}, {5, "d"}});
    EXPECT_EQ(last_fetched_epoch(), LeaderEpoch(4));
    ASSERT_TRUE(fetch_once());
    EXPECT_EQ(truncations, 1);
    EXPECT_EQ(follower.log_end_offset(), Offset(2));
    EXPECT_EQ(last_fetched_epoch(), LeaderEpoch(2));
    fetch_until_caught_up();
    EXPECT_EQ(all(follower), all(leader));
    EXPECT_EQ(last_fetched_epoch(), LeaderEpoch(5));
    EXPECT_EQ(truncations, 1);
}

}  // namespace
}  // namespace eosim::broker_core
