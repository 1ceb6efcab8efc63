// Histories of compacted topics: compaction-consistency fires on crafted violations, and no checker fires
// for what compaction legitimately removes (superseded values, tombstones past their retention, records
// replicas removed on their own).

#include <gtest/gtest.h>

#include "model/checkers.h"
#include "tests/model/history_builder.h"

namespace eosim::model {
namespace {

using testing::HistoryBuilder;
using testing::named;
using testing::names_of;

const std::string partition = "users-0";

TEST(CompactionConsistency, FiresWhenAKeysLatestAcknowledgedValueIsDroppedAndAnOlderOneKept) {
    HistoryBuilder run;
    run.keyed_send("producer-1", partition, "alice", "a1", 0);
    run.keyed_send("producer-1", partition, "bob", "b1", 1);
    run.keyed_send("producer-1", partition, "alice", "a2", 2);
    // The cleaner kept alice's first value and dropped her latest.
    run.compacted_replicas(partition, 3, {{0, "a1", "alice"}, {1, "b1", "bob"}}, {{0, "a1", "alice"}, {1, "b1", "bob"}});
    const std::vector<Anomaly> anomalies = check(run.history());
    const std::vector<Anomaly> fired = named(anomalies, "compaction-consistency");
    ASSERT_EQ(fired.size(), 1U) << names_of(anomalies);
    EXPECT_EQ(fired[0].partition, partition);
    EXPECT_EQ(fired[0].evidence["key"], "alice");
    EXPECT_EQ(fired[0].evidence["acknowledged_offset"], 2);
    EXPECT_EQ(fired[0].evidence["log_latest_offset"], 0);
    EXPECT_NE(fired[0].description.find("the latest at offset 0"), std::string::npos) << fired[0].description;
    // The dropped value is lost as well: nothing superseded it.
    EXPECT_EQ(named(anomalies, "lost-write").size(), 1U) << names_of(anomalies);
}

TEST(CompactionConsistency, FiresWhenAKeyWhoseLatestWriteIsAValueHasNoRecordLeft) {
    HistoryBuilder run;
    run.keyed_send("producer-1", partition, "alice", "a1", 0);
    run.keyed_send("producer-1", partition, "alice", std::nullopt, 1);  // a tombstone
    run.keyed_send("producer-1", partition, "alice", "a3", 2);
    run.compacted_replicas(partition, 3, {}, {});
    const std::vector<Anomaly> fired = named(check(run.history()), "compaction-consistency");
    ASSERT_EQ(fired.size(), 1U);
    EXPECT_NE(fired[0].description.find("holds no record of it"), std::string::npos) << fired[0].description;
}

TEST(CompactionConsistency, FiresWhenAConsumerSeesAnOlderValueAfterANewerOne) {
    HistoryBuilder run;
    run.keyed_send("producer-1", partition, "alice", "a1", 0);
    run.keyed_send("producer-1", partition, "alice", "a2", 1);
    run.assign("consumer-1", partition, 0);
    // A cleaner that moved records: the newer value is read first.
    run.poll("consumer-1", partition, {{0, "a2", "alice"}, {1, "a1", "alice"}});
    run.compacted_replicas(partition, 2, {{1, "a2", "alice"}}, {{1, "a2", "alice"}});
    const std::vector<Anomaly> fired = named(check(run.history()), "compaction-consistency");
    ASSERT_EQ(fired.size(), 1U);
    EXPECT_EQ(fired[0].evidence["value"], "a1");
    EXPECT_EQ(fired[0].evidence["newer_acknowledged_offset"], 1);
}

TEST(CompactionConsistency, IsSilentForACorrectlyCompactedLog) {
    HistoryBuilder run;
    run.keyed_send("producer-1", partition, "alice", "a1", 0);
    run.keyed_send("producer-1", partition, "bob", "b1", 1);
    run.keyed_send("producer-1", partition, "alice", "a2", 2);
    run.keyed_send("producer-1", partition, "carol", "c1", 3);
    run.keyed_send("producer-1", partition, "carol", std::nullopt, 4);  // deleted ...
    run.keyed_send("producer-1", partition, "dave", "d1", 5);
    run.keyed_send("producer-1", partition, "dave", std::nullopt, 6);  // ... and its tombstone kept
    run.keyed_send("producer-1", partition, "erin", "e1", std::nullopt, OpType::info);  // unknown outcome
    run.assign("consumer-1", partition, 0);
    // The consumer read before compaction: alice's first value and carol's, both gone now.
    run.poll("consumer-1", partition, {{0, "a1", "alice"}, {1, "b1", "bob"}, {2, "a2", "alice"}, {3, "c1", "carol"}});
    run.poll("consumer-1", partition, {{4, std::nullopt, "carol"}, {5, "d1", "dave"}});
    // A second consumer read after compaction: the gaps nobody else holds are fine.
    run.assign("consumer-2", partition, 0);
    run.poll("consumer-2", partition, {{1, "b1", "bob"}, {2, "a2", "alice"}, {6, std::nullopt, "dave"}});
    // The leader dropped carol's tombstone (past delete retention); the follower has not cleaned yet.
    run.compacted_replicas(partition, 7, {{1, "b1", "bob"}, {2, "a2", "alice"}, {6, std::nullopt, "dave"}},
                           {{0, "a1", "alice"}, {1, "b1", "bob"}, {2, "a2", "alice"}, {3, "c1", "carol"},
                            {4, std::nullopt, "carol"}, {5, "d1", "dave"}, {6, std::nullopt, "dave"}});
    const std::vector<Anomaly> anomalies = check(run.history());
    EXPECT_TRUE(anomalies.empty()) << names_of(anomalies);
}

// A caught-up follower must agree with the committed log on each key's latest state: this one never got
// carol's tombstone (the leader's cleaner removed it before the follower fetched it, as in compaction seed
// 37 before the check existed), so it still holds carol's value, and would serve it if it led.
TEST(CompactionConsistency, FiresWhenACaughtUpReplicaHoldsAnotherLatestStateOfAKey) {
    HistoryBuilder run;
    run.keyed_send("producer-1", partition, "bob", "b1", 0);
    run.keyed_send("producer-1", partition, "carol", "c1", 1);
    run.keyed_send("producer-1", partition, "carol", std::nullopt, 2);
    run.keyed_send("producer-1", partition, "bob", "b2", 3);
    run.compacted_replicas(partition, 4, {{3, "b2", "bob"}}, {{1, "c1", "carol"}, {3, "b2", "bob"}});
    const std::vector<Anomaly> fired = named(check(run.history()), "compaction-consistency");
    ASSERT_EQ(fired.size(), 1U) << names_of(check(run.history()));
    EXPECT_EQ(fired[0].evidence["key"], "carol");
    EXPECT_EQ(fired[0].evidence["replica"], "broker-2");
    EXPECT_EQ(fired[0].evidence["replica_latest"]["value"], "c1");
    EXPECT_TRUE(fired[0].evidence["committed_latest"].is_null());
    EXPECT_NE(fired[0].description.find("disagrees with the committed log"), std::string::npos) << fired[0].description;
}

// A later value of the key whose outcome is unknown excuses nothing: had it landed, it would be the key's
// latest record, which the cleaner keeps. A later tombstone with an unknown outcome does excuse it.
TEST(CompactionConsistency, OnlyATombstoneWithAnUnknownOutcomeExcusesAMissingWrite) {
    HistoryBuilder run;
    run.keyed_send("producer-1", partition, "alice", "a1", 0);
    run.keyed_send("producer-1", partition, "alice", "a2", std::nullopt, OpType::info);
    run.compacted_replicas(partition, 2, {{1, "x", "xavier"}}, {{1, "x", "xavier"}});
    const std::vector<Anomaly> lost = named(check(run.history()), "lost-write");
    ASSERT_EQ(lost.size(), 1U) << names_of(check(run.history()));
    EXPECT_EQ(lost[0].evidence["send"]["value"], "a1");
    HistoryBuilder deleted;
    deleted.keyed_send("producer-1", partition, "alice", "a1", 0);
    deleted.keyed_send("producer-1", partition, "alice", std::nullopt, std::nullopt, OpType::info);
    deleted.compacted_replicas(partition, 2, {{1, "x", "xavier"}}, {{1, "x", "xavier"}});
    EXPECT_TRUE(check(deleted.history()).empty()) << names_of(check(deleted.history()));
}

TEST(CompactionConsistency, AnUncompactedTopicGetsNoExemption) {
    HistoryBuilder run;
    run.keyed_send("producer-1", partition, "alice", "a1", 0);
    run.keyed_send("producer-1", partition, "alice", "a2", 1);
    run.replica(partition, "broker-1", true, 0, 2, 2, {{1, "a2", "alice"}});
    const std::vector<Anomaly> anomalies = check(run.history());
    EXPECT_EQ(named(anomalies, "lost-write").size(), 1U) << names_of(anomalies);
    EXPECT_TRUE(named(anomalies, "compaction-consistency").empty());
}

}  // namespace
}  // namespace eosim::model
