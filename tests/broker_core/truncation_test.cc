// Follower truncation by leader epoch (KIP-101, KIP-279) on two replicas' logs, step by step as the
// broker runs it: the leader answers a follower's fetch with a diverging epoch, the follower truncates,
// then copies the leader's batches. KIP-101's two scenarios are replayed both ways: truncating by the
// high watermark (the old rule, the kip101-hw-truncation switch) loses or forks committed records;
// truncating by leader epoch does not.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "broker_core/leader_epoch_cache.h"
#include "broker_core/partition_log.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using protocol::LeaderEpoch;
using protocol::Offset;
using protocol::RecordBatch;

RecordBatch batch_of(std::int64_t base_offset, std::int32_t epoch, const std::string& value) {
    RecordBatch batch;
    batch.base_offset = Offset(base_offset);
    batch.leader_epoch = LeaderEpoch(epoch);
    batch.records.push_back(protocol::Record{std::nullopt, value, base_offset});
    return batch;
}

// One broker's replica: its own disk and log, and its high watermark.
struct TestReplica {
    explicit TestReplica(std::uint64_t seed) : disk(sim::DiskOptions{}, sim::Random(seed)) { restart(); }

    void append(std::int32_t epoch, const std::string& value) {
        ASSERT_TRUE(log->append(batch_of(log->log_end_offset().value(), epoch, value)).ok());
    }

    // A restart: the log is rebuilt from disk (everything here was flushed).
    void restart() {
        if (log) {
            ASSERT_TRUE(log->flush().ok());
        }
        log.emplace(disk, "t-0", LogConfig{});
        (void)log->recover();
    }

    [[nodiscard]] std::vector<std::string> values() const {
        std::vector<std::string> out;
        for (const RecordBatch& batch : log->read(log->log_start_offset(), log->log_end_offset(), UINT64_MAX).batches) {
            for (const protocol::Record& record : batch.records) {
                out.push_back(record.value.value_or(""));
            }
        }
        return out;
    }

    sim::Disk disk;
    std::optional<PartitionLog> log;
    Offset high_watermark{0};
};

// The follower fetches from the leader until a fetch brings nothing, as Broker::follow does: a diverging
// epoch in the answer makes it truncate; otherwise it appends the leader's batches.
void catch_up(TestReplica& follower, const TestReplica& leader) {
    for (int round = 0; round < 100; ++round) {
        const auto latest = follower.log->epochs().latest();
        const LeaderEpoch last_fetched = latest ? latest->epoch : protocol::no_leader_epoch;
        if (const auto diverging = find_divergence(leader.log->epochs(), leader.log->log_end_offset(), last_fetched,
                                                   follower.log->log_end_offset())) {
            follower.log->truncate_to(truncation_offset(follower.log->epochs(), follower.log->log_start_offset(),
                                                       follower.log->log_end_offset(), *diverging));
            continue;
        }
        const auto batches =
            leader.log->read(follower.log->log_end_offset(), leader.log->log_end_offset(), UINT64_MAX).batches;
        if (batches.empty()) {
            break;  // caught up, with nothing diverging
        }
        for (const RecordBatch& batch : batches) {
            ASSERT_TRUE(follower.log->append(batch).ok());
        }
    }
    ASSERT_EQ(follower.log->log_end_offset(), leader.log->log_end_offset());
}

class Truncation : public ::testing::Test {
protected:
    sim::Simulation simulation{sim::SimulationOptions{.seed = 7}};
};

// KIP-101 scenario 1. A leads epoch 0 and holds m1, m2; B fetched both, and A's high watermark moved
// to 2, but B had not yet learned it (its high watermark is 1) when it restarted. Then A dies and B
// leads: m2 was committed and must survive.
TEST_F(Truncation, Kip101Scenario1ARestartedFollowerKeepsWhatTheLeaderCommitted) {
    TestReplica a(1);
    TestReplica b(2);
    a.append(0, "m1");
    a.append(0, "m2");
    catch_up(b, a);
    a.high_watermark = Offset(2);
    b.high_watermark = Offset(1);
    b.restart();
    // Leader epoch: B asks the leader where its epoch 0 ends (2) before it truncates anything.
    const auto diverging = find_divergence(a.log->epochs(), a.log->log_end_offset(), LeaderEpoch(0), b.log->log_end_offset());
    EXPECT_FALSE(diverging.has_value());
    // A dies; B leads epoch 1 with everything A committed.
    b.append(1, "m3");
    EXPECT_EQ(b.values(), (std::vector<std::string>{"m1", "m2", "m3"}));
}

TEST_F(Truncation, Kip101Scenario1TruncatingToTheHighWatermarkLosesACommittedRecord) {
    TestReplica a(1);
    TestReplica b(2);
    a.append(0, "m1");
    a.append(0, "m2");
    catch_up(b, a);
    a.high_watermark = Offset(2);
    b.high_watermark = Offset(1);
    b.restart();
    b.log->truncate_to(b.high_watermark);  // the old rule (KAFKA-1211)
    b.append(1, "m3");                    // A dies before B fetched m2 again; B leads
    EXPECT_EQ(b.values(), (std::vector<std::string>{"m1", "m3"}));  // m2, committed, is gone
}

// KIP-101 scenario 2. A leads epoch 0: m1, m2, high watermark 2. B has only m1 (high watermark 1). Both
// lose power; B comes back first and leads epoch 1, writing m3 at offset 1. A then follows B.
TEST_F(Truncation, Kip101Scenario2TheReturningReplicaTruncatesWhereTheEpochsDiverge) {
    TestReplica a(1);
    TestReplica b(2);
    a.append(0, "m1");
    catch_up(b, a);
    a.append(0, "m2");
    a.high_watermark = Offset(2);
    b.high_watermark = Offset(1);
    b.restart();
    b.append(1, "m3");
    a.restart();
    // A's fetch at offset 2 with epoch 0: B says its epoch 0 ended at 1.
    const auto diverging = find_divergence(b.log->epochs(), b.log->log_end_offset(), LeaderEpoch(0), a.log->log_end_offset());
    ASSERT_TRUE(diverging.has_value());
    EXPECT_EQ(*diverging, (EpochEndOffset{LeaderEpoch(0), Offset(1)}));
    EXPECT_EQ(truncation_offset(a.log->epochs(), a.log->log_start_offset(), a.log->log_end_offset(), *diverging), Offset(1));
    catch_up(a, b);
    EXPECT_EQ(a.values(), b.values());
    EXPECT_EQ(a.values(), (std::vector<std::string>{"m1", "m3"}));
}

TEST_F(Truncation, Kip101Scenario2TruncatingToTheHighWatermarkLeavesTheReplicasForked) {
    TestReplica a(1);
    TestReplica b(2);
    a.append(0, "m1");
    catch_up(b, a);
    a.append(0, "m2");
    a.high_watermark = Offset(2);
    b.high_watermark = Offset(1);
    b.restart();
    b.log->truncate_to(b.high_watermark);
    b.append(1, "m3");
    a.restart();
    a.log->truncate_to(a.high_watermark);  // nothing to cut: A's high watermark is its end
    // Without epochs A fetches from offset 2 and finds nothing to fix: offset 1 differs for good.
    EXPECT_EQ(a.log->log_end_offset(), b.log->log_end_offset());
    EXPECT_EQ(a.values(), (std::vector<std::string>{"m1", "m2"}));
    EXPECT_EQ(b.values(), (std::vector<std::string>{"m1", "m3"}));
}

// A follower whose log went through epochs the leader never had truncates to the last epoch both
// share, however many epochs it is ahead by.
TEST_F(Truncation, AFollowerAheadByEpochsTheLeaderNeverSawTruncatesToTheCommonEpoch) {
    TestReplica leader(1);
    TestReplica follower(2);
    leader.append(0, "a0");
    leader.append(0, "a1");
    catch_up(follower, leader);
    follower.append(2, "x2");  // it led epochs 2 and 3 alone, while cut off
    follower.append(3, "x3");
    follower.append(3, "x4");
    leader.append(4, "b2");  // the leader's own epoch 4 starts at offset 2
    catch_up(follower, leader);
    EXPECT_EQ(follower.values(), leader.values());
    EXPECT_EQ(follower.log->epochs().entries(), leader.log->epochs().entries());
}

// A follower with nothing in common with the leader (its only epoch is unknown to the leader)
// truncates to its log start and copies everything.
TEST_F(Truncation, AFollowerWithNoCommonEpochStartsOver) {
    TestReplica leader(1);
    TestReplica follower(2);
    follower.append(1, "x0");
    leader.append(2, "a0");
    leader.append(2, "a1");
    const auto diverging =
        find_divergence(leader.log->epochs(), leader.log->log_end_offset(), LeaderEpoch(1), follower.log->log_end_offset());
    ASSERT_TRUE(diverging.has_value());
    EXPECT_EQ(truncation_offset(follower.log->epochs(), follower.log->log_start_offset(), follower.log->log_end_offset(),
                                *diverging),
              Offset(0));
    catch_up(follower, leader);
    EXPECT_EQ(follower.values(), (std::vector<std::string>{"a0", "a1"}));
}

// A follower that is merely behind never truncates.
TEST_F(Truncation, ALaggingFollowerIsNotTruncated) {
    TestReplica leader(1);
    TestReplica follower(2);
    leader.append(0, "a0");
    catch_up(follower, leader);
    leader.append(0, "a1");
    leader.append(1, "a2");
    EXPECT_FALSE(find_divergence(leader.log->epochs(), leader.log->log_end_offset(), LeaderEpoch(0),
                                 follower.log->log_end_offset())
                     .has_value());
}

}  // namespace
}  // namespace eosim::broker_core
