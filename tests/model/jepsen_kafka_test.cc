// Jepsen's Kafka checker cases (jepsen.tests.kafka-test, jepsen-io/jepsen), the non-transactional ones,
// translated into eosim histories: a Jepsen key is a partition, a Jepsen op that sends several values is one
// send operation per value (invoked and completed together), and a poll of several keys is one poll operation
// per partition. Each test names the Jepsen test it mirrors; where eosim's verdict differs on purpose, the test
// says why (docs/anomalies.md, "Jepsen's checker"). The semantics are Jepsen's; the code is eosim's own.

#include <gtest/gtest.h>

#include "model/checkers.h"
#include "tests/model/history_builder.h"

namespace eosim::model {
namespace {

using testing::HistoryBuilder;
using testing::names;
using testing::named;
using testing::names_of;

// Jepsen's (o index process type f value) ops send a batch of values in one op: here, one send per value,
// all invoked first, then all completed with `type` (offsets given for ok ones).
void send_batch(HistoryBuilder& run, const std::string& process, const std::string& partition,
                const std::vector<std::pair<std::string, std::optional<std::int64_t>>>& values, OpType type) {
    for (const auto& [value, offset] : values) {
        (void)run.send_invoke(process, partition, value);
    }
    for (const auto& [value, offset] : values) {
        (void)run.send_completion(process, partition, value, offset, Acks::all, type);
    }
}

// Jepsen: version-orders-test, "a real-world example": two acknowledged sends at offset 537 of key 11.
TEST(JepsenKafka, VersionOrdersRealWorldExample) {
    HistoryBuilder run;
    run.send("379", "11", "641", 537);
    run.send("363", "11", "645", 537);
    const std::vector<Anomaly> found = check(run.history());
    ASSERT_EQ(names(found), std::vector<std::string>{"inconsistent-offsets"}) << names_of(found);
    EXPECT_EQ(found[0].evidence["offset"], 537);
}

// Jepsen: inconsistent-offsets-test, "info conflicts" (first half): an info send cannot conflict with an ok one,
// since it may not have committed. (eosim's info completions carry no offset at all.) The second half relies on
// one op sending to two keys atomically, which eosim's non-transactional sends are not: not translated.
TEST(JepsenKafka, InconsistentOffsetsInfoConflicts) {
    HistoryBuilder run;
    send_batch(run, "0", "x", {{"1", std::nullopt}}, OpType::info);
    send_batch(run, "0", "y", {{"1", std::nullopt}}, OpType::info);
    run.send("1", "x", "2", 0);
    EXPECT_TRUE(check(run.history()).empty()) << names_of(check(run.history()));
}

// Jepsen: g1a-test. A failed send's value read by a consumer: eosim names it aborted-read (Jepsen: G1a).
TEST(JepsenKafka, G1a) {
    HistoryBuilder run;
    send_batch(run, "0", "x", {{"2", std::nullopt}}, OpType::fail);
    send_batch(run, "0", "y", {{"3", std::nullopt}}, OpType::fail);
    run.poll("1", "x", {{0, "2"}});
    const std::vector<Anomaly> found = check(run.history());
    ASSERT_EQ(names(found), std::vector<std::string>{"aborted-read"}) << names_of(found);
    EXPECT_EQ(found[0].partition, "x");
    EXPECT_EQ(found[0].evidence["value"], "2");
    EXPECT_EQ(found[0].evidence["reads"][0]["offset"], 0);
}

// Jepsen: lost-write-test, "consistent". a at 0, b at 1 and d at 3 acknowledged; a poll reads c at 2, so a and b
// should have been read: both are lost (the history has no replica lines: reads are the evidence).
TEST(JepsenKafka, LostWriteConsistent) {
    HistoryBuilder run;
    send_batch(run, "0", "x", {{"a", 0}}, OpType::ok);
    send_batch(run, "0", "x", {{"b", 1}, {"d", 3}}, OpType::ok);
    send_batch(run, "1", "x", {{"c", std::nullopt}}, OpType::info);
    run.poll("0", "x", {{2, "c"}});
    const std::vector<Anomaly> found = check(run.history());
    const std::vector<Anomaly> lost = named(found, "lost-write");
    ASSERT_EQ(lost.size(), 2U) << names_of(found);
    EXPECT_EQ(lost[0].evidence["send"]["value"], "a");
    EXPECT_EQ(lost[1].evidence["send"]["value"], "b");
    EXPECT_EQ(found.size(), 2U) << names_of(found);
}

// Jepsen: lost-write-test, "inconsistent". a and b both acknowledged at 0, c at 2; a poll reads b at 0 and c
// at 2: a is lost. (Jepsen's test looks only at lost-write; offset 0's two values are also inconsistent-offsets.)
TEST(JepsenKafka, LostWriteInconsistent) {
    HistoryBuilder run;
    send_batch(run, "0", "x", {{"a", 0}}, OpType::ok);
    send_batch(run, "0", "x", {{"b", 0}, {"c", 2}}, OpType::ok);
    run.poll("0", "x", {{0, "b"}, {2, "c"}});
    const std::vector<Anomaly> found = check(run.history());
    const std::vector<Anomaly> lost = named(found, "lost-write");
    ASSERT_EQ(lost.size(), 1U) << names_of(found);
    EXPECT_EQ(lost[0].evidence["send"]["value"], "a");
    EXPECT_EQ(named(found, "inconsistent-offsets").size(), 1U) << names_of(found);
}

// Jepsen: poll-skip-test. Process 0 polls 1-2, then 4, then 7; offset 3 was read by process 1 and offset 6
// acknowledged to process 2: two poll-skips. (f, acknowledged at 6 and read past by process 0 but never read, is
// also a lost-write, as in Jepsen's own analysis of this history.) The "with intermediate subscribe" variants
// assign a consumer away from a key; eosim's assign names one partition and offset, so they are not translated.
TEST(JepsenKafka, PollSkip) {
    HistoryBuilder run;
    run.poll("0", "x", {{1, "a"}, {2, "b"}});
    run.poll("1", "x", {{3, "c"}});
    run.poll("0", "x", {{4, "d"}});
    send_batch(run, "2", "x", {{"f", 6}}, OpType::ok);
    run.poll("0", "x", {{7, "g"}});
    send_batch(run, "3", "x", {{"a", std::nullopt}, {"b", std::nullopt}, {"c", std::nullopt}, {"d", std::nullopt},
                               {"g", std::nullopt}},
               OpType::info);
    const std::vector<Anomaly> found = check(run.history());
    const std::vector<Anomaly> skips = named(found, "poll-skip");
    ASSERT_EQ(skips.size(), 2U) << names_of(found);
    EXPECT_EQ(skips[0].evidence["skipped_offsets"], nlohmann::json::array({3}));
    EXPECT_EQ(skips[1].evidence["skipped_offsets"], nlohmann::json::array({6}));
    EXPECT_EQ(named(found, "lost-write").size(), 1U) << names_of(found);
    EXPECT_EQ(found.size(), 3U) << names_of(found);
}

// Jepsen: nonmonotonic-poll-test, "together": process 0 polls 1 2 3, then 2 3 4.
TEST(JepsenKafka, NonmonotonicPoll) {
    HistoryBuilder run;
    send_batch(run, "0", "x", {{"a", std::nullopt}, {"b", std::nullopt}, {"c", std::nullopt}, {"d", std::nullopt}},
               OpType::ok);
    run.poll("0", "x", {{1, "a"}, {2, "b"}, {3, "c"}});
    run.poll("0", "x", {{2, "b"}, {3, "c"}, {4, "d"}});
    const std::vector<Anomaly> found = check(run.history());
    ASSERT_EQ(names(found), std::vector<std::string>{"nonmonotonic-poll"}) << names_of(found);
}

// Jepsen: nonmonotonic-send-test: process 0 sends c, d at 3, 4, then a, b at 1, 2. Jepsen reports the pair of
// ops once; eosim reports each later send that landed below an earlier one (a and b).
TEST(JepsenKafka, NonmonotonicSend) {
    HistoryBuilder run;
    send_batch(run, "0", "x", {{"c", 3}, {"d", 4}}, OpType::ok);
    send_batch(run, "0", "x", {{"a", 1}, {"b", 2}}, OpType::ok);
    const std::vector<Anomaly> found = check(run.history());
    ASSERT_EQ(names(found), (std::vector<std::string>{"nonmonotonic-send", "nonmonotonic-send"})) << names_of(found);
    EXPECT_EQ(found[0].evidence["later"]["value"], "a");
    EXPECT_EQ(found[0].evidence["earlier"]["value"], "d");
}

// Jepsen: int-poll-skip-test. A poll reads 1 then 4 while offset 2 is known (read by another poll): a skip in
// the poll; then the same process polls 1, then 4: a skip between polls. (eosim's timeline of one process is
// continuous, so going back from 4 to 1 is also a nonmonotonic-poll, as Jepsen's nonmonotonic-poll would say.)
TEST(JepsenKafka, InternalPollSkip) {
    HistoryBuilder run;
    send_batch(run, "1", "x", {{"a", std::nullopt}, {"b", std::nullopt}, {"d", std::nullopt}}, OpType::info);
    run.poll("0", "x", {{1, "a"}, {4, "d"}});
    run.poll("0", "x", {{1, "a"}});
    run.poll("0", "x", {{4, "d"}});
    run.poll("2", "x", {{2, "b"}});
    const std::vector<Anomaly> found = check(run.history());
    EXPECT_EQ(named(found, "poll-skip").size(), 2U) << names_of(found);
    EXPECT_EQ(named(found, "nonmonotonic-poll").size(), 1U) << names_of(found);
    EXPECT_EQ(found.size(), 3U) << names_of(found);
}

// Jepsen: int-nonmonotonic-poll-test: a poll reads 3 then 1; a later poll reads 2, 3, then another 3 again.
TEST(JepsenKafka, InternalNonmonotonicPoll) {
    HistoryBuilder run;
    send_batch(run, "0", "x", {{"a", std::nullopt}, {"b", std::nullopt}, {"c", std::nullopt}}, OpType::info);
    run.poll("0", "x", {{3, "c"}, {1, "a"}});
    run.poll("0", "x", {{2, "b"}, {3, "c"}});
    run.poll("0", "x", {{3, "c"}});
    const std::vector<Anomaly> found = check(run.history());
    ASSERT_EQ(names(found), (std::vector<std::string>{"nonmonotonic-poll", "nonmonotonic-poll"})) << names_of(found);
}

// Jepsen: int-nonmonotonic-send-test. On x the acknowledged offsets are out of order (c at 3, then a at 1); on
// y the sends of d and b had unknown outcomes, but a poll read b at 2 and d at 4: the reads prove the reorder.
TEST(JepsenKafka, InternalNonmonotonicSend) {
    HistoryBuilder run;
    send_batch(run, "0", "x", {{"c", 3}, {"a", 1}}, OpType::ok);
    send_batch(run, "0", "y", {{"d", std::nullopt}, {"b", std::nullopt}}, OpType::info);
    send_batch(run, "1", "y", {{"c", std::nullopt}}, OpType::info);
    run.poll("0", "y", {{2, "b"}, {3, "c"}, {4, "d"}});
    const std::vector<Anomaly> found = check(run.history());
    ASSERT_EQ(names(found), (std::vector<std::string>{"nonmonotonic-send", "nonmonotonic-send"})) << names_of(found);
    EXPECT_EQ(found[0].partition, "x");
    EXPECT_EQ(found[1].partition, "y");
    EXPECT_EQ(found[1].evidence["later"]["value"], "b");
    EXPECT_EQ(found[1].evidence["later"]["offset_read"], true);
    EXPECT_EQ(found[1].causes, std::vector<std::string>{"retried-send"}) << "an unknown outcome excuses it";
}

// Jepsen: duplicate-test, "basic": a acknowledged at 1 and read at 3.
TEST(JepsenKafka, DuplicateBasic) {
    HistoryBuilder run;
    send_batch(run, "0", "x", {{"a", 1}}, OpType::ok);
    send_batch(run, "1", "x", {{"b", std::nullopt}}, OpType::info);
    run.poll("2", "x", {{2, "b"}, {3, "a"}});
    const std::vector<Anomaly> found = check(run.history());
    const std::vector<Anomaly> duplicates = named(found, "duplicate");
    ASSERT_EQ(duplicates.size(), 1U) << names_of(found);
    EXPECT_EQ(duplicates[0].evidence["value"], "a");
    EXPECT_TRUE(duplicates[0].causes.empty()) << "a was sent once, and acknowledged";
}

// Jepsen: duplicate-test, "hash-insensitive": ten values each acknowledged at 0 and read at 1: all ten are
// duplicates, and offsets 0 and 1 each hold ten values.
TEST(JepsenKafka, DuplicateHashInsensitive) {
    HistoryBuilder run;
    for (int value = 0; value < 10; ++value) {
        send_batch(run, "0", "x", {{std::to_string(value), 0}}, OpType::ok);
        run.poll("1", "x", {{1, std::to_string(value)}});
    }
    const std::vector<Anomaly> found = check(run.history());
    EXPECT_EQ(named(found, "duplicate").size(), 10U) << names_of(found);
    const std::vector<Anomaly> inconsistent = named(found, "inconsistent-offsets");
    ASSERT_EQ(inconsistent.size(), 2U) << names_of(found);
    EXPECT_EQ(inconsistent[0].evidence["offset"], 0);
    EXPECT_EQ(inconsistent[1].evidence["offset"], 1);
}

}  // namespace
}  // namespace eosim::model
