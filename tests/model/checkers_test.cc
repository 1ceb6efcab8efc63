// Crafted violating histories: each checker must fire, naming the partition and the operations and offsets
// that prove the anomaly.

#include <gtest/gtest.h>

#include <limits>

#include "model/checkers.h"
#include "tests/model/history_builder.h"

namespace eosim::model {
namespace {

using nlohmann::json;
using testing::HistoryBuilder;
using testing::named;
using testing::names_of;

const std::string partition = "orders-0";

bool mentions(const Anomaly& anomaly, const std::string& text) {
    return anomaly.description.find(text) != std::string::npos;
}

// A leader and a follower with the same records.
void add_replicas(HistoryBuilder& run, const std::vector<Record>& log, std::int64_t log_start_offset = 0) {
    const std::int64_t end = log.empty() ? log_start_offset : log.back().offset + 1;
    run.replica(partition, "broker-1", true, log_start_offset, end, end, log);
    run.replica(partition, "broker-2", false, log_start_offset, end, end, log);
}

// Only `name` fires, exactly `count` times, and check() reports the same.
std::vector<Anomaly> only(const History& history, const std::string& name, std::size_t count = 1) {
    const std::vector<Anomaly> anomalies = check(history);
    EXPECT_EQ(named(anomalies, name).size(), anomalies.size()) << names_of(anomalies);
    EXPECT_EQ(anomalies.size(), count) << names_of(anomalies);
    for (const Anomaly& anomaly : anomalies) {
        EXPECT_EQ(anomaly.description.find('\n'), std::string::npos) << anomaly.description;
    }
    return anomalies;
}

// ---- lost-write ----

TEST(LostWrite, FiresForAnAcknowledgedAcksAllSendMissingFromTheLog) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 0);
    const std::uint64_t invoke = run.send_invoke("producer-1", partition, "p1-1");
    const std::uint64_t ok = run.send_completion("producer-1", partition, "p1-1", 1);
    add_replicas(run, {{0, "p1-0"}});  // the leader truncated offset 1 away
    const std::vector<Anomaly> lost = check_lost_writes(run.history());
    ASSERT_EQ(lost.size(), 1U) << names_of(lost);
    EXPECT_EQ(lost[0].name, "lost-write");
    EXPECT_EQ(lost[0].partition, partition);
    EXPECT_EQ(lost[0].evidence["send"]["index"], ok);
    EXPECT_EQ(lost[0].evidence["send"]["invoke_index"], invoke);
    EXPECT_EQ(lost[0].evidence["send"]["offset"], 1);
    EXPECT_EQ(lost[0].evidence["send"]["value"], "p1-1");
    EXPECT_EQ(lost[0].evidence["committed_log"]["replica"], "broker-1");
    EXPECT_EQ(lost[0].evidence["committed_log"]["high_watermark"], 1);
    EXPECT_TRUE(mentions(lost[0], "send op 4 (producer-1, invoked at op 3)")) << lost[0].description;
    EXPECT_TRUE(mentions(lost[0], "offset 1")) << lost[0].description;
    EXPECT_TRUE(mentions(lost[0], partition)) << lost[0].description;
    (void)only(run.history(), "lost-write");
}

TEST(LostWrite, FiresForAnAcksOneSendALeaderLost) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 0, Acks::leader);
    run.send("producer-1", partition, "p1-1", 1, Acks::leader);  // acknowledged by a leader that then lost it
    add_replicas(run, {{0, "p1-0"}});
    const std::vector<Anomaly> lost = check_lost_writes(run.history());
    ASSERT_EQ(lost.size(), 1U) << names_of(lost);
    EXPECT_EQ(lost[0].evidence["send"]["acks"], "1");
    EXPECT_TRUE(mentions(lost[0], "acks=1")) << lost[0].description;
}

TEST(LostWrite, FiresForAValueAboveTheHighWatermarkOnly) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 0);
    run.replica(partition, "broker-1", true, 0, 0, 1, {{0, "p1-0"}});  // on disk but never committed
    const std::vector<Anomaly> lost = check_lost_writes(run.history());
    ASSERT_EQ(lost.size(), 1U);
    EXPECT_EQ(lost[0].evidence["send"]["offset"], 0);
}

TEST(LostWrite, RetentionDoesNotExcuseAWriteAtOrAboveTheLogStart) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 0);
    run.send("producer-1", partition, "p1-1", 1);
    run.send("producer-1", partition, "p1-2", 2);
    add_replicas(run, {{2, "p1-2"}}, 1);  // log start 1: offset 0 was removed by retention, offset 1 was lost
    const std::vector<Anomaly> lost = check_lost_writes(run.history());
    ASSERT_EQ(lost.size(), 1U) << names_of(lost);
    EXPECT_EQ(lost[0].evidence["send"]["value"], "p1-1");
    EXPECT_EQ(lost[0].evidence["committed_log"]["log_start_offset"], 1);
}

TEST(LostWrite, AValueInTheLogAtAnotherOffsetIsNotLost) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 5);  // acknowledged at 5, stored at 0
    add_replicas(run, {{0, "p1-0"}});
    EXPECT_TRUE(check_lost_writes(run.history()).empty());
}

// ---- duplicate ----

TEST(Duplicate, FiresForAValueAtTwoOffsetsOfTheCommittedLog) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 0);
    run.send("producer-1", partition, "p1-1", 1);
    add_replicas(run, {{0, "p1-0"}, {1, "p1-1"}, {2, "p1-0"}});  // a retried send appended again
    const std::vector<Anomaly> duplicates = check_duplicates(run.history());
    ASSERT_EQ(duplicates.size(), 1U) << names_of(duplicates);
    EXPECT_EQ(duplicates[0].name, "duplicate");
    EXPECT_EQ(duplicates[0].partition, partition);
    EXPECT_EQ(duplicates[0].evidence["value"], "p1-0");
    EXPECT_EQ(duplicates[0].evidence["log_offsets"], json::array({0, 2}));
    EXPECT_TRUE(mentions(duplicates[0], "offsets 0, 2")) << duplicates[0].description;
    (void)only(run.history(), "duplicate");
}

TEST(Duplicate, FiresForAValueConsumersReadAtTwoOffsets) {
    HistoryBuilder run;
    const std::uint64_t first = run.poll("consumer-1", partition, {{0, "p1-0"}});
    const std::uint64_t second = run.poll("consumer-2", partition, {{1, "p1-0"}});
    run.poll("consumer-2", partition, {{2, "p1-1"}});
    const std::vector<Anomaly> duplicates = check_duplicates(run.history());
    ASSERT_EQ(duplicates.size(), 1U) << names_of(duplicates);
    EXPECT_EQ(duplicates[0].partition, partition);
    EXPECT_EQ(duplicates[0].evidence["reads"],
              json::array({{{"offset", 0}, {"index", first}, {"process", "consumer-1"}},
                           {{"offset", 1}, {"index", second}, {"process", "consumer-2"}}}));
    EXPECT_TRUE(mentions(duplicates[0], "0 (poll op 1, consumer-1), 1 (poll op 2, consumer-2)"))
        << duplicates[0].description;
}

TEST(Duplicate, ReadingOneOffsetTwiceIsNotADuplicate) {
    HistoryBuilder run;
    run.poll("consumer-1", partition, {{0, "p1-0"}});
    run.poll("consumer-2", partition, {{0, "p1-0"}});
    EXPECT_TRUE(check_duplicates(run.history()).empty());
}

// ---- inconsistent-offsets ----

TEST(InconsistentOffsets, FiresWhenAnAcknowledgedOffsetHoldsAnotherValue) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 0);
    const std::uint64_t ok = run.send("producer-2", partition, "p2-0", 0);  // two acks for offset 0
    add_replicas(run, {{0, "p1-0"}, {1, "p2-0"}});
    const std::vector<Anomaly> inconsistent = check_inconsistent_offsets(run.history());
    ASSERT_EQ(inconsistent.size(), 1U) << names_of(inconsistent);
    EXPECT_EQ(inconsistent[0].name, "inconsistent-offsets");
    EXPECT_EQ(inconsistent[0].partition, partition);
    EXPECT_EQ(inconsistent[0].evidence["offset"], 0);
    const json& observers = inconsistent[0].evidence["observers"];
    ASSERT_EQ(observers.size(), 4U) << observers.dump();
    EXPECT_EQ(observers[1], (json{{"observer", "send"}, {"index", ok}, {"process", "producer-2"}, {"value", "p2-0"}}));
    EXPECT_EQ(observers[2], (json{{"observer", "replica"}, {"replica", "broker-1"}, {"value", "p1-0"}}));
    EXPECT_TRUE(mentions(inconsistent[0], "offset 0 of orders-0")) << inconsistent[0].description;
    EXPECT_TRUE(mentions(inconsistent[0], "\"p2-0\" for send op 4 (producer-2)")) << inconsistent[0].description;
    // p2-0 was acknowledged at offset 0 but is held at offset 1: a duplicate too, as Jepsen's checker says.
    const std::vector<Anomaly> all = check(run.history());
    ASSERT_EQ(all.size(), 2U) << names_of(all);
    EXPECT_EQ(named(all, "inconsistent-offsets").size(), 1U);
    ASSERT_EQ(named(all, "duplicate").size(), 1U);
    EXPECT_EQ(named(all, "duplicate")[0].evidence["acknowledged"][0]["offset"], 0);
}

TEST(InconsistentOffsets, FiresWhenReplicasDisagreeBelowTheirHighWatermarks) {
    HistoryBuilder run;
    run.replica(partition, "broker-1", true, 0, 2, 2, {{0, "a"}, {1, "b"}});
    run.replica(partition, "broker-2", false, 0, 2, 2, {{0, "a"}, {1, "c"}});
    const std::vector<Anomaly> inconsistent = check_inconsistent_offsets(run.history());
    ASSERT_EQ(inconsistent.size(), 1U) << names_of(inconsistent);
    EXPECT_EQ(inconsistent[0].evidence["offset"], 1);
    EXPECT_TRUE(mentions(inconsistent[0], "\"b\" for replica broker-1, \"c\" for replica broker-2"))
        << inconsistent[0].description;
}

TEST(InconsistentOffsets, FiresWhenAPollDisagreesWithTheAcknowledgement) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 7);
    const std::uint64_t poll = run.poll("consumer-1", partition, {{7, "p2-0"}});
    const std::vector<Anomaly> inconsistent = check_inconsistent_offsets(run.history());
    ASSERT_EQ(inconsistent.size(), 1U) << names_of(inconsistent);
    EXPECT_EQ(inconsistent[0].evidence["offset"], 7);
    EXPECT_EQ(inconsistent[0].evidence["observers"][1]["index"], poll);
    EXPECT_EQ(inconsistent[0].evidence["observers"][1]["observer"], "poll");
}

// ---- nonmonotonic-send ----

TEST(NonmonotonicSend, FiresWhenALaterSendLandsAtALowerOffset) {
    HistoryBuilder run;
    const std::uint64_t earlier = run.send("producer-1", partition, "p1-0", 5);
    const std::uint64_t later = run.send("producer-1", partition, "p1-1", 3);
    run.send("producer-2", partition, "p2-0", 4);  // another producer's order is its own
    const std::vector<Anomaly> nonmonotonic = check_nonmonotonic_sends(run.history());
    ASSERT_EQ(nonmonotonic.size(), 1U) << names_of(nonmonotonic);
    EXPECT_EQ(nonmonotonic[0].name, "nonmonotonic-send");
    EXPECT_EQ(nonmonotonic[0].partition, partition);
    EXPECT_EQ(nonmonotonic[0].evidence["process"], "producer-1");
    EXPECT_EQ(nonmonotonic[0].evidence["earlier"]["index"], earlier);
    EXPECT_EQ(nonmonotonic[0].evidence["earlier"]["offset"], 5);
    EXPECT_EQ(nonmonotonic[0].evidence["later"]["index"], later);
    EXPECT_EQ(nonmonotonic[0].evidence["later"]["offset"], 3);
    EXPECT_TRUE(mentions(nonmonotonic[0], "acknowledged at offset 3, below offset 5")) << nonmonotonic[0].description;
}

TEST(NonmonotonicSend, OrdersByInvokeNotByCompletion) {
    HistoryBuilder run;
    const std::uint64_t first_invoke = run.send_invoke("producer-1", partition, "p1-0");
    const std::uint64_t second_invoke = run.send_invoke("producer-1", partition, "p1-1");
    run.send_completion("producer-1", partition, "p1-1", 3);
    run.send_completion("producer-1", partition, "p1-0", 5);  // invoked first, landed later
    const std::vector<Anomaly> nonmonotonic = check_nonmonotonic_sends(run.history());
    ASSERT_EQ(nonmonotonic.size(), 1U) << names_of(nonmonotonic);
    EXPECT_EQ(nonmonotonic[0].evidence["earlier"]["invoke_index"], first_invoke);
    EXPECT_EQ(nonmonotonic[0].evidence["later"]["invoke_index"], second_invoke);
    EXPECT_EQ(nonmonotonic[0].evidence["later"]["value"], "p1-1");
}

TEST(NonmonotonicSend, EachPartitionIsItsOwnOrder) {
    HistoryBuilder run;
    run.send("producer-1", "orders-0", "p1-0", 5);
    run.send("producer-1", "orders-1", "p1-1", 3);
    EXPECT_TRUE(check_nonmonotonic_sends(run.history()).empty());
}

// ---- nonmonotonic-poll ----

TEST(NonmonotonicPoll, FiresWhenOffsetsGoBackWithinOnePoll) {
    HistoryBuilder run;
    const std::uint64_t poll = run.poll("consumer-1", partition, {{0, "a"}, {2, "c"}, {1, "b"}});
    const std::vector<Anomaly> nonmonotonic = check_nonmonotonic_polls(run.history());
    ASSERT_EQ(nonmonotonic.size(), 1U) << names_of(nonmonotonic);
    EXPECT_EQ(nonmonotonic[0].name, "nonmonotonic-poll");
    EXPECT_EQ(nonmonotonic[0].partition, partition);
    EXPECT_EQ(nonmonotonic[0].evidence["poll_index"], poll);
    EXPECT_EQ(nonmonotonic[0].evidence["previous_offset"], 2);
    EXPECT_EQ(nonmonotonic[0].evidence["offset"], 1);
    EXPECT_TRUE(mentions(nonmonotonic[0], "read offset 1 after offset 2")) << nonmonotonic[0].description;
}

TEST(NonmonotonicPoll, FiresWhenAPollStartsAtOrBeforeThePreviousPollsEnd) {
    HistoryBuilder run;
    const std::uint64_t first = run.poll("consumer-1", partition, {{0, "a"}, {1, "b"}});
    const std::uint64_t second = run.poll("consumer-1", partition, {{1, "b"}, {2, "c"}});
    add_replicas(run, {{0, "a"}, {1, "b"}, {2, "c"}});
    const std::vector<Anomaly> nonmonotonic = only(run.history(), "nonmonotonic-poll");
    ASSERT_EQ(nonmonotonic.size(), 1U);
    EXPECT_EQ(nonmonotonic[0].evidence["poll_index"], second);
    EXPECT_EQ(nonmonotonic[0].evidence["first_offset"], 1);
    EXPECT_EQ(nonmonotonic[0].evidence["previous"], (json{{"f", "poll"}, {"index", first}, {"last_offset", 1}}));
    EXPECT_TRUE(mentions(nonmonotonic[0], "started at offset 1, not after offset 1 read by poll op 1"))
        << nonmonotonic[0].description;
}

TEST(NonmonotonicPoll, FiresWhenAPollStartsBelowTheSeekOffset) {
    HistoryBuilder run;
    run.poll("consumer-1", partition, {{0, "a"}});
    const std::uint64_t seek = run.seek("consumer-1", partition, 5);
    run.poll("consumer-1", partition, {{3, "d"}});
    const std::vector<Anomaly> nonmonotonic = check_nonmonotonic_polls(run.history());
    ASSERT_EQ(nonmonotonic.size(), 1U) << names_of(nonmonotonic);
    EXPECT_EQ(nonmonotonic[0].evidence["previous"], (json{{"f", "seek"}, {"index", seek}, {"offset", 5}}));
    EXPECT_TRUE(mentions(nonmonotonic[0], "below the seek op 2 to offset 5")) << nonmonotonic[0].description;
}

TEST(NonmonotonicPoll, EmptyPollsAndOtherConsumersDoNotResetTheExpectation) {
    HistoryBuilder run;
    run.poll("consumer-1", partition, {{4, "e"}});
    run.poll("consumer-1", partition, {});
    run.seek("consumer-2", partition, 0);
    run.seek("consumer-1", "orders-1", 0);
    run.poll("consumer-1", partition, {{2, "c"}});
    EXPECT_EQ(check_nonmonotonic_polls(run.history()).size(), 1U);
}

TEST(NonmonotonicPoll, OffsetsAtTheEndOfTheRangeDoNotOverflow) {
    constexpr std::int64_t last = std::numeric_limits<std::int64_t>::max();
    HistoryBuilder run;
    run.poll("consumer-1", partition, {{last - 1, "a"}, {last, "b"}});
    run.poll("consumer-1", partition, {{last, "b"}});
    run.seek("consumer-1", partition, last);
    run.poll("consumer-1", partition, {{last, "b"}});
    const std::vector<Anomaly> anomalies = check(run.history());
    ASSERT_EQ(anomalies.size(), 1U) << names_of(anomalies);
    EXPECT_EQ(anomalies[0].name, "nonmonotonic-poll");
    EXPECT_EQ(anomalies[0].evidence["previous"]["last_offset"], last);
}

// ---- poll-skip ----

TEST(PollSkip, FiresWhenTheNextPollSkipsOffsetsInTheLog) {
    HistoryBuilder run;
    const std::uint64_t first = run.poll("consumer-1", partition, {{0, "a"}, {1, "b"}});
    const std::uint64_t second = run.poll("consumer-1", partition, {{4, "e"}});
    add_replicas(run, {{0, "a"}, {1, "b"}, {2, "c"}, {4, "e"}});  // offset 3 does not exist
    const std::vector<Anomaly> skips = only(run.history(), "poll-skip");
    ASSERT_EQ(skips.size(), 1U);
    EXPECT_EQ(skips[0].name, "poll-skip");
    EXPECT_EQ(skips[0].partition, partition);
    EXPECT_EQ(skips[0].evidence["poll_index"], second);
    EXPECT_EQ(skips[0].evidence["first_offset"], 4);
    EXPECT_EQ(skips[0].evidence["previous"], (json{{"f", "poll"}, {"index", first}, {"last_offset", 1}}));
    EXPECT_EQ(skips[0].evidence["skipped_offsets"], json::array({2}));
    EXPECT_TRUE(mentions(skips[0], "poll op 2 (consumer-1) of orders-0 started at offset 4")) << skips[0].description;
    EXPECT_TRUE(mentions(skips[0], "skipping existing offsets 2")) << skips[0].description;
}

TEST(PollSkip, FiresWhenAPollAfterASeekSkipsTheSeekOffset) {
    HistoryBuilder run;
    const std::uint64_t seek = run.seek("consumer-1", partition, 1);
    run.poll("consumer-1", partition, {{3, "d"}});
    add_replicas(run, {{0, "a"}, {1, "b"}, {2, "c"}, {3, "d"}});
    const std::vector<Anomaly> skips = check_poll_skips(run.history());
    ASSERT_EQ(skips.size(), 1U) << names_of(skips);
    EXPECT_EQ(skips[0].evidence["previous"], (json{{"f", "seek"}, {"index", seek}, {"offset", 1}}));
    EXPECT_EQ(skips[0].evidence["skipped_offsets"], json::array({1, 2}));
    EXPECT_EQ(skips[0].evidence["skipped_count"], 2);
}

TEST(PollSkip, FiresForAnOffsetOnlyAnotherConsumerRead) {
    HistoryBuilder run;
    run.poll("consumer-2", partition, {{1, "b"}});  // a record that later vanished from the log
    run.poll("consumer-1", partition, {{0, "a"}});
    run.poll("consumer-1", partition, {{2, "c"}});
    const std::vector<Anomaly> skips = check_poll_skips(run.history());
    ASSERT_EQ(skips.size(), 1U) << names_of(skips);
    EXPECT_EQ(skips[0].evidence["process"], "consumer-1");
    EXPECT_EQ(skips[0].evidence["skipped_offsets"], json::array({1}));
}

TEST(PollSkip, FiresForAGapWithinOnePoll) {
    HistoryBuilder run;
    const std::uint64_t poll = run.poll("consumer-1", partition, {{0, "a"}, {2, "c"}});
    add_replicas(run, {{0, "a"}, {1, "b"}, {2, "c"}});
    const std::vector<Anomaly> skips = only(run.history(), "poll-skip");
    ASSERT_EQ(skips.size(), 1U);
    EXPECT_EQ(skips[0].evidence["poll_index"], poll);
    EXPECT_EQ(skips[0].evidence["previous_offset"], 0);
    EXPECT_EQ(skips[0].evidence["offset"], 2);
    EXPECT_EQ(skips[0].evidence["skipped_offsets"], json::array({1}));
}

// ---- replica-divergence ----

TEST(ReplicaDivergence, FiresForADifferentRecordBelowTheHighWatermark) {
    HistoryBuilder run;
    run.replica(partition, "broker-1", true, 0, 3, 3, {{0, "a"}, {1, "b"}, {2, "c"}});
    run.replica(partition, "broker-2", false, 0, 3, 3, {{0, "a"}, {1, "x"}, {2, "c"}});
    run.replica(partition, "broker-3", false, 0, 2, 2, {{0, "a"}, {1, "b"}});
    const std::vector<Anomaly> divergent = check_replica_divergence(run.history());
    ASSERT_EQ(divergent.size(), 1U) << names_of(divergent);
    EXPECT_EQ(divergent[0].name, "replica-divergence");
    EXPECT_EQ(divergent[0].partition, partition);
    EXPECT_EQ(divergent[0].evidence["replica"], "broker-2");
    EXPECT_EQ(divergent[0].evidence["committed_log"]["replica"], "broker-1");
    EXPECT_EQ(divergent[0].evidence["range"], json::array({0, 3}));
    EXPECT_EQ(divergent[0].evidence["differences"],
              json::array({{{"offset", 1}, {"replica_value", "x"}, {"committed_value", "b"}}}));
    EXPECT_TRUE(mentions(divergent[0], "replica broker-2 of orders-0")) << divergent[0].description;
    EXPECT_TRUE(mentions(divergent[0], "offset 1 holds \"x\" instead of \"b\"")) << divergent[0].description;
}

// Same records, but a follower kept a batch with another leader epoch (a corrupted header recovery kept).
TEST(ReplicaDivergence, FiresForABatchHeaderThatDiffers) {
    HistoryBuilder run;
    add_replicas(run, {{0, "a"}, {1, "b"}, {2, "c"}});
    History history = run.history();
    const BatchHeader first{.base_offset = 0, .last_offset = 1, .leader_epoch = 1};
    const BatchHeader second{.base_offset = 2, .last_offset = 2, .leader_epoch = 2, .producer_id = 7};
    history.replicas[0].batches = {first, second};
    BatchHeader wrong = second;
    wrong.producer_id = 8;
    history.replicas[1].batches = {first, wrong};
    const std::vector<Anomaly> found = check(history);
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].name, "replica-divergence");
    EXPECT_EQ(found[0].evidence["replica"], "broker-2");
    EXPECT_EQ(found[0].evidence["batch_differences"][0]["replica_batch"][3], 8);
    EXPECT_TRUE(mentions(found[0], "batch at offset 2: producer id 8 where the committed log has 7")) << found[0].description;
    history.replicas[1].batches = {first, second};
    EXPECT_TRUE(check(history).empty()) << names_of(check(history));
    history.replicas[1].batches = {};  // a history without headers: nothing to compare
    EXPECT_TRUE(check(history).empty()) << names_of(check(history));
}

TEST(ReplicaDivergence, FiresForAMissingRecordTheReplicaShouldHave) {
    HistoryBuilder run;
    run.replica(partition, "broker-1", true, 0, 3, 3, {{0, "a"}, {1, "b"}, {2, "c"}});
    run.replica(partition, "broker-2", false, 0, 3, 3, {{0, "a"}, {2, "c"}});  // claims offset 1, lacks it
    const std::vector<Anomaly> divergent = check_replica_divergence(run.history());
    ASSERT_EQ(divergent.size(), 1U) << names_of(divergent);
    EXPECT_EQ(divergent[0].evidence["differences"],
              json::array({{{"offset", 1}, {"replica_value", nullptr}, {"committed_value", "b"}}}));
    EXPECT_TRUE(mentions(divergent[0], "offset 1 is missing \"b\"")) << divergent[0].description;
}

TEST(ReplicaDivergence, ComparesOnlyAboveEveryLogStart) {
    HistoryBuilder run;
    run.replica(partition, "broker-1", true, 0, 3, 3, {{0, "a"}, {1, "b"}, {2, "c"}});
    run.replica(partition, "broker-2", false, 1, 3, 3, {{1, "b"}, {2, "z"}});
    const std::vector<Anomaly> divergent = check_replica_divergence(run.history());
    ASSERT_EQ(divergent.size(), 1U) << names_of(divergent);
    EXPECT_EQ(divergent[0].evidence["range"], json::array({1, 3}));
    EXPECT_EQ(divergent[0].evidence["difference_count"], 1);
    EXPECT_EQ(divergent[0].evidence["differences"][0]["offset"], 2);
}

// ---- vanished-read ----

TEST(VanishedRead, FiresForARecordReadThenTruncated) {
    HistoryBuilder run;
    run.poll("consumer-1", partition, {{0, "a"}});
    const std::uint64_t poll = run.poll("consumer-1", partition, {{1, "b"}});
    add_replicas(run, {{0, "a"}});
    const std::vector<Anomaly> vanished = only(run.history(), "vanished-read");
    ASSERT_EQ(vanished.size(), 1U);
    EXPECT_EQ(vanished[0].partition, partition);
    EXPECT_EQ(vanished[0].evidence["offset"], 1);
    EXPECT_EQ(vanished[0].evidence["value"], "b");
    EXPECT_EQ(vanished[0].evidence["reads"], json::array({{{"index", poll}, {"process", "consumer-1"}}}));
    EXPECT_EQ(vanished[0].evidence["committed_log"]["value"], nullptr);
    EXPECT_TRUE(mentions(vanished[0], "offset 1 of orders-0 was read as \"b\" by poll op 2 (consumer-1)"))
        << vanished[0].description;
    EXPECT_TRUE(mentions(vanished[0], "has no record there")) << vanished[0].description;
}

TEST(VanishedRead, FiresForARecordReplacedByAnother) {
    HistoryBuilder run;
    run.poll("consumer-1", partition, {{0, "a"}, {1, "b"}});
    run.poll("consumer-2", partition, {{1, "b"}});
    add_replicas(run, {{0, "a"}, {1, "y"}});
    const std::vector<Anomaly> vanished = check_vanished_reads(run.history());
    ASSERT_EQ(vanished.size(), 1U) << names_of(vanished);
    EXPECT_EQ(vanished[0].evidence["reads"].size(), 2U);
    EXPECT_EQ(vanished[0].evidence["committed_log"]["value"], "y");
    EXPECT_TRUE(mentions(vanished[0], "holds \"y\" there")) << vanished[0].description;
}

// ---- stuck ----

TEST(Stuck, FiresForAStuckOperation) {
    HistoryBuilder run;
    const std::uint64_t stuck = run.stuck("runner", "workload did not finish within 60 s after healing");
    const std::vector<Anomaly> anomalies = only(run.history(), "stuck");
    ASSERT_EQ(anomalies.size(), 1U);
    EXPECT_EQ(anomalies[0].partition, "");
    EXPECT_EQ(anomalies[0].evidence["index"], stuck);
    EXPECT_EQ(anomalies[0].evidence["process"], "runner");
    EXPECT_EQ(anomalies[0].evidence["reason"], "workload did not finish within 60 s after healing");
    EXPECT_EQ(anomalies[0].description, "op 1 (runner, info) stuck: workload did not finish within 60 s after healing");
}

TEST(Stuck, FiresWhateverTheOperationType) {
    HistoryBuilder run;
    run.stuck("runner", "a", OpType::invoke);
    run.stuck("runner", "b", OpType::ok);
    run.stuck("runner", "c", OpType::fail);
    EXPECT_EQ(check_stuck(run.history()).size(), 3U);
}

// ---- check() ----

TEST(Check, RunsEveryCheckerInTheDocumentedOrder) {
    HistoryBuilder run;
    run.stuck("runner", "timeout");
    run.send("producer-1", partition, "p1-0", 1);
    run.send("producer-1", partition, "p1-1", 0);
    run.poll("consumer-1", partition, {{0, "x"}, {3, "x"}});
    run.poll("consumer-1", partition, {{2, "w"}});
    run.replica(partition, "broker-1", true, 0, 4, 4, {{0, "p1-1"}, {1, "y"}, {2, "y"}, {3, "z"}});
    run.replica(partition, "broker-2", false, 0, 0, 4, {{0, "p1-1"}, {1, "y"}, {2, "y"}, {3, "q"}});
    std::vector<std::string> names;
    for (const Anomaly& anomaly : check(run.history())) {
        if (names.empty() || names.back() != anomaly.name) {
            names.push_back(anomaly.name);
        }
    }
    EXPECT_EQ(names, (std::vector<std::string>{"lost-write", "duplicate", "inconsistent-offsets", "nonmonotonic-send",
                                               "nonmonotonic-poll", "poll-skip", "replica-divergence", "vanished-read",
                                               "stuck"}));
}

TEST(Check, GivesTheSameAnomaliesEveryTime) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 1);
    run.send("producer-1", partition, "p1-1", 0);
    run.poll("consumer-1", partition, {{0, "x"}, {3, "x"}});
    add_replicas(run, {{0, "p1-1"}, {1, "p1-0"}});
    const std::vector<Anomaly> first = check(run.history());
    EXPECT_FALSE(first.empty());
    EXPECT_EQ(check(run.history()), first);
}

TEST(Check, AnomalyJsonHasEveryField) {
    HistoryBuilder run;
    run.stuck("runner", "timeout");
    const json anomaly = anomaly_json(check(run.history()).at(0));
    EXPECT_EQ(anomaly["name"], "stuck");
    EXPECT_EQ(anomaly["partition"], "");
    EXPECT_EQ(anomaly["description"], "op 1 (runner, info) stuck: timeout");
    EXPECT_EQ(anomaly["evidence"]["index"], 1);
}

// ---- aborted-read ----

TEST(AbortedRead, FiresWhenTheCommittedLogHoldsAFailedSend) {
    HistoryBuilder run;
    const std::uint64_t failed = run.send("producer-1", partition, "p1-0", std::nullopt, Acks::all, OpType::fail);
    add_replicas(run, {{0, "p1-0"}});
    const std::vector<Anomaly> found = only(run.history(), "aborted-read");
    EXPECT_EQ(found[0].evidence["send_index"], failed);
    EXPECT_EQ(found[0].evidence["log_offsets"], json::array({0}));
    EXPECT_TRUE(mentions(found[0], "held by the committed log at offset(s) 0")) << found[0].description;
}

// ---- lost-write without replica lines ----

TEST(LostWrite, WithoutReplicasFiresWhenAConsumerReadPastAnUnreadAcknowledgedWrite) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 0);
    run.send("producer-1", partition, "p1-1", 1);
    run.assign("consumer-1", partition, 0);
    const std::uint64_t poll = run.poll("consumer-1", partition, {{0, "p1-0"}, {2, "p2-0"}});
    const std::vector<Anomaly> lost = named(check(run.history()), "lost-write");
    ASSERT_EQ(lost.size(), 1U) << names_of(check(run.history()));
    EXPECT_EQ(lost[0].evidence["send"]["value"], "p1-1");
    EXPECT_EQ(lost[0].evidence["read_past"]["poll_index"], poll);
    EXPECT_TRUE(mentions(lost[0], "no consumer read it")) << lost[0].description;
}

// ---- poll-skip and duplicate: an acknowledged offset is evidence ----

TEST(PollSkip, AnAcknowledgedOffsetIsKnownToExist) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 5);
    run.assign("consumer-1", partition, 4);
    run.poll("consumer-1", partition, {{4, "x"}});
    run.poll("consumer-1", partition, {{6, "y"}});
    const std::vector<Anomaly> skips = named(check(run.history()), "poll-skip");
    ASSERT_EQ(skips.size(), 1U) << names_of(check(run.history()));
    EXPECT_EQ(skips[0].evidence["skipped_offsets"], json::array({5}));
}

TEST(Duplicate, ARetriedSendNamesItsCause) {
    HistoryBuilder run;
    (void)run.send_invoke("producer-1", partition, "p1-0");
    (void)run.send_completion("producer-1", partition, "p1-0", 1);  // after two attempts: the first landed at 0
    History history = run.history();
    history.operations.back().attempts = 2;
    history.replicas.push_back(ReplicaState{.partition = partition, .replica = "broker-1", .leader = true,
                                            .log_start_offset = 0, .high_watermark = 2, .log_end_offset = 2,
                                            .records = {{0, "p1-0"}, {1, "p1-0"}}});
    const std::vector<Anomaly> found = check(history);
    ASSERT_EQ(names_of(found).empty(), false);
    const std::vector<Anomaly> duplicates = named(found, "duplicate");
    ASSERT_EQ(duplicates.size(), 1U) << names_of(found);
    EXPECT_EQ(duplicates[0].causes, std::vector<std::string>{"retried-send"});
    EXPECT_EQ(anomaly_json(duplicates[0])["causes"], json::array({"retried-send"}));
}

// ---- undone-delete ----

TEST(UndoneDelete, FiresWhenTheLogStartsBelowAnAcknowledgedDeleteRecords) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 0);
    run.send("producer-1", partition, "p1-1", 1);
    run.send("producer-1", partition, "p1-2", 2);
    History history = run.history();
    Operation done;
    done.index = 100;
    done.process = "admin";
    done.type = OpType::ok;
    done.f = "delete-records";
    done.partition = partition;
    done.offset = 2;
    history.operations.push_back(done);
    history.replicas.push_back(ReplicaState{.partition = partition, .replica = "broker-1", .leader = true,
                                            .log_start_offset = 1, .high_watermark = 3, .log_end_offset = 3,
                                            .records = {{1, "p1-1"}, {2, "p1-2"}}});
    history.removals.push_back(Removal{.partition = partition, .replica = "broker-1", .cause = "retention", .from = 0,
                                       .to = 2, .high_watermark = 3});
    const std::vector<Anomaly> found = check(history);
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].name, "undone-delete");
    EXPECT_EQ(found[0].evidence["offset"], 2);
    EXPECT_TRUE(mentions(found[0], "starts at 1")) << found[0].description;
    history.replicas.back().log_start_offset = 2;  // the promise kept: silent
    history.replicas.back().records = {{2, "p1-2"}};
    EXPECT_TRUE(check(history).empty()) << names_of(check(history));
    history.operations.back().type = OpType::info;  // not acknowledged: nothing promised
    history.replicas.back().log_start_offset = 0;
    history.replicas.back().records = {{0, "p1-0"}, {1, "p1-1"}, {2, "p1-2"}};
    EXPECT_TRUE(check_undone_deletes(history).empty());
}

}  // namespace
// ---- illegal-removal ----

// Three records, all committed; broker-1 leads, broker-2 follows; both start at `start`.
HistoryBuilder removal_run(std::int64_t start) {
    HistoryBuilder run;
    run.send("producer-1", partition, "p1-0", 0);
    run.send("producer-1", partition, "p1-1", 1);
    run.send("producer-1", partition, "p1-2", 2);
    std::vector<Record> records;
    for (std::int64_t offset = start; offset < 3; ++offset) {
        records.push_back({offset, "p1-" + std::to_string(offset)});
    }
    run.replica(partition, "broker-1", true, start, 3, 3, records);
    run.replica(partition, "broker-2", false, start, 3, 3, records);
    return run;
}

TEST(IllegalRemoval, StaysSilentForAllowedRemovalsThatExplainEveryLogStart) {
    HistoryBuilder run = removal_run(2);
    run.removal(partition, "broker-1", "delete-records", 0, 1, 2, 1);
    run.removal(partition, "broker-1", "retention", 1, 2, 3);
    run.removal(partition, "broker-2", "follow-leader", 0, 2, 3, 2);
    EXPECT_TRUE(check(run.history()).empty()) << names_of(check(run.history()));
    EXPECT_TRUE(check_removals(removal_run(0).history()).empty()) << "nothing removed, nothing to explain";
}

// Each removal that breaks a rule, alone (broker-2 follows what broker-1 removed, allowed).
TEST(IllegalRemoval, FiresForEachRemovalPastWhatItsCauseAllows) {
    struct Case {
        std::string cause;
        std::int64_t high_watermark;
        std::int64_t limit;
        std::string expected;
    };
    const std::vector<Case> cases{
        {"retention", 1, -1, "past the high watermark 1"},
        {"delete-records", 3, 1, "past the offset 1 DeleteRecords asked for"},
        {"delete-records", 1, 2, "above the high watermark 1"},
        {"follow-leader", 3, 1, "past the leader's log start 1"},
        {"follow-leader", 1, 2, "past its own high watermark 1"},
        {"compaction", 3, -1, "an unknown cause"},
    };
    for (const Case& c : cases) {
        HistoryBuilder run = removal_run(2);
        run.removal(partition, "broker-1", c.cause, 0, 2, c.high_watermark, c.limit);
        run.removal(partition, "broker-2", "follow-leader", 0, 2, 3, 2);
        const std::vector<Anomaly> found = named(check(run.history()), "illegal-removal");
        ASSERT_FALSE(found.empty()) << c.cause;
        EXPECT_TRUE(mentions(found[0], c.expected)) << found[0].description;
        EXPECT_EQ(found[0].evidence["removal"]["cause"], c.cause);
    }
}

TEST(IllegalRemoval, FiresForAFollowerAheadOfEveryRemovalOfTheLeaders) {
    HistoryBuilder run = removal_run(2);
    run.removal(partition, "broker-1", "retention", 0, 1, 3);
    run.removal(partition, "broker-2", "fetch-out-of-range", 0, 2, 2, 2);  // no leader removal reached 2
    const std::vector<Anomaly> found = named(check_removals(run.history()), "illegal-removal");
    ASSERT_FALSE(found.empty());
    EXPECT_TRUE(mentions(found[0], "no retention or DeleteRecords of the partition had reached it"))
        << found[0].description;
}

// The cleaner may remove a tombstone that a later record superseded at once, and its key's latest
// tombstone only once delete.retention.ms passed since it was written; never at or above the high watermark.
// A cleaner removal explains no log start.
TEST(IllegalRemoval, ChecksTheCleanersTombstonesAgainstDeleteRetention) {
    const auto cleaned = [](bool latest, std::int64_t removed_at_ms, std::int64_t high_watermark) {
        HistoryBuilder run = removal_run(0);
        Removal removal{.partition = partition, .replica = "broker-1", .cause = "cleaner", .from = 1, .to = 2,
                        .high_watermark = high_watermark, .key = "k1", .timestamp_ms = 1000,
                        .removed_at_ms = removed_at_ms, .delete_retention_ms = 500, .latest = latest};
        History history = run.history();
        history.removals.push_back(removal);
        return check_removals(history);
    };
    EXPECT_TRUE(cleaned(false, 1001, 3).empty()) << "superseded: at once";
    EXPECT_TRUE(cleaned(true, 1500, 3).empty()) << "its latest, after delete retention";
    const std::vector<Anomaly> early = cleaned(true, 1499, 3);
    ASSERT_EQ(early.size(), 1U);
    EXPECT_TRUE(mentions(early[0], "499 ms after it was written, within delete.retention.ms 500")) << early[0].description;
    EXPECT_EQ(early[0].evidence["removal"]["key"], "k1");
    const std::vector<Anomaly> uncommitted = cleaned(false, 2000, 1);
    ASSERT_EQ(uncommitted.size(), 1U);
    EXPECT_TRUE(mentions(uncommitted[0], "at or above the high watermark 1")) << uncommitted[0].description;

    HistoryBuilder run = removal_run(2);
    run.removal(partition, "broker-2", "follow-leader", 0, 2, 3, 2);
    run.removal(partition, "broker-1", "delete-records", 0, 2, 3, 2);
    History history = run.history();
    history.replicas[0].log_start_offset = 3;  // no record of broker-1 below 3 may go by cleaning
    history.removals.push_back(Removal{.partition = partition, .replica = "broker-1", .cause = "cleaner", .from = 2,
                                       .to = 3, .high_watermark = 3, .key = "k", .latest = false});
    EXPECT_EQ(named(check_removals(history), "illegal-removal").size(), 1U) << "the cleaner explains no log start";
}

// A log start no allowed removal explains: the records below it went without a recorded cause (the
// checkers that exempt what is below a log start would trust it blindly).
TEST(IllegalRemoval, FiresForALogStartNoAllowedRemovalReaches) {
    HistoryBuilder run = removal_run(2);
    run.removal(partition, "broker-1", "retention", 0, 2, 3);
    run.removal(partition, "broker-2", "retention", 0, 1, 3);
    const std::vector<Anomaly> found = check(run.history());
    ASSERT_EQ(found.size(), 1U) << names_of(found);
    EXPECT_EQ(found[0].name, "illegal-removal");
    EXPECT_EQ(found[0].evidence["replica"], "broker-2");
    EXPECT_EQ(found[0].evidence["explained_to"], 1);
    EXPECT_TRUE(mentions(found[0], "starts at 2")) << found[0].description;
}

}  // namespace eosim::model
