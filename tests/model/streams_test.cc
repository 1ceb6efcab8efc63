// The stream-application checkers (model/streams.h) on crafted histories: the oracles of the built-in
// applications, eos-output-mismatch for lost, duplicated and wrong output per key (and per table), and
// state-mismatch for a store that differs from the oracle's final rows or from its committed changelog
// folded. Each fires on a violating history and stays silent on
// a clean one.

#include <gtest/gtest.h>

#include "model/streams.h"
#include "tests/model/history_builder.h"

namespace eosim::model {
namespace {

using testing::HistoryBuilder;
using testing::names;

Record line(std::int64_t offset, const std::string& text) {
    return Record{.offset = offset, .value = text, .key = std::to_string(offset)};
}

Record count(std::int64_t offset, const std::string& word, int n) {
    return Record{.offset = offset, .value = std::to_string(n), .key = word};
}

// lines-0 holds "a b" and "a"; lines-1 holds "b c". The group committed `committed` of lines-0 and all of
// lines-1. `output` is what a read_committed reader found on word-counts-0; `store` the counts store.
HistoryBuilder word_count_history(std::int64_t committed, std::vector<Record> output,
                                  std::vector<Record> store) {
    HistoryBuilder builder;
    builder.replica("lines-0", "broker-1", true, 0, 2, 2, {line(0, "a b"), line(1, "a")});
    builder.replica("lines-1", "broker-1", true, 0, 1, 1, {line(0, "b c")});
    builder.poll_committed("rc-consumer-1", "word-counts-0", std::move(output));
    builder.operation("runner", OpType::ok, "stream-final", [&](Operation& op) {
        op.group = "wc";
        op.value = "word-count";
        op.offsets = std::map<std::string, std::int64_t>{{"lines-0", committed}, {"lines-1", 1}};
    });
    builder.operation("runner", OpType::ok, "stream-state", [&](Operation& op) {
        op.partition = "counts";
        op.records = std::move(store);
    });
    return builder;
}

std::vector<Record> store_rows(const std::map<std::string, int>& rows) {
    std::vector<Record> out;
    for (const auto& [word, n] : rows) {
        out.push_back(Record{.offset = 0, .value = std::to_string(n), .key = word});
    }
    return out;
}

TEST(StreamOracle, WordCountCountsEachWordInOrder) {
    std::map<std::string, std::map<std::int32_t, std::vector<StreamInputRecord>>> inputs;
    inputs["lines"][0] = {{"0", "a b"}, {"1", "a"}};
    inputs["lines"][1] = {{"0", "b  c"}};
    const auto expected = run_stream_oracle("word-count", inputs);
    ASSERT_TRUE(expected.has_value());
    const auto& out = expected->outputs.at("word-counts");
    EXPECT_EQ(out.at("a"), (std::vector<std::optional<std::string>>{"1", "2"}));
    EXPECT_EQ(out.at("b"), (std::vector<std::optional<std::string>>{"1", "2"}));
    EXPECT_EQ(out.at("c"), (std::vector<std::optional<std::string>>{"1"}));
    EXPECT_EQ(expected->stores.at("counts"), (std::map<std::string, std::string>{{"a", "2"}, {"b", "2"}, {"c", "1"}}));
    EXPECT_FALSE(run_stream_oracle("no-such-app", inputs).has_value());
}

TEST(StreamOutputMismatch, SilentWhenEachKeysOutputIsTheOraclesInAnyInterleaving) {
    // The keys interleave differently from the oracle's pass; only each key's own order counts.
    const auto history = word_count_history(
        2, {count(0, "b", 1), count(1, "a", 1), count(2, "c", 1), count(3, "b", 2), count(4, "a", 2)},
        store_rows({{"a", 2}, {"b", 2}, {"c", 1}}));
    EXPECT_TRUE(check_stream_output(history.history()).empty());
    EXPECT_TRUE(check_stream_state(history.history()).empty());
}

TEST(StreamOutputMismatch, FiresForDuplicatedLostAndUncommittedProcessing) {
    const std::vector<Record> store = store_rows({{"a", 2}, {"b", 2}, {"c", 1}});
    const auto twice = check_stream_output(
        word_count_history(2, {count(0, "a", 1), count(1, "b", 1), count(2, "a", 1), count(3, "a", 2),
                               count(4, "b", 2), count(5, "c", 1)},
                           store)
            .history());
    ASSERT_EQ(names(twice), std::vector<std::string>{"eos-output-mismatch"});
    EXPECT_EQ(twice[0].evidence["key"], "a");
    EXPECT_EQ(twice[0].evidence["kind"], "duplicate processing");
    EXPECT_EQ(twice[0].evidence["extra"], nlohmann::json({"1"}));
    const auto lost = check_stream_output(
        word_count_history(2, {count(0, "a", 1), count(1, "b", 1), count(2, "b", 2), count(3, "c", 1)}, store).history());
    ASSERT_EQ(names(lost), std::vector<std::string>{"eos-output-mismatch"});
    EXPECT_EQ(lost[0].evidence["kind"], "lost processing");
    EXPECT_EQ(lost[0].evidence["missing"], nlohmann::json({"2"}));
    // The group committed only the first line of lines-0: "a" of the second line is beyond it.
    const auto beyond = check_stream_output(
        word_count_history(1, {count(0, "a", 1), count(1, "b", 1), count(2, "a", 2), count(3, "b", 2),
                               count(4, "c", 1)},
                           store)
            .history());
    ASSERT_EQ(names(beyond), std::vector<std::string>{"eos-output-mismatch"});
    EXPECT_EQ(beyond[0].evidence["key"], "a");
}

TEST(StateMismatch, FiresForAStoreThatDiffersFromTheOracle) {
    const std::vector<Record> output = {count(0, "a", 1), count(1, "b", 1), count(2, "a", 2), count(3, "b", 2),
                                        count(4, "c", 1)};
    EXPECT_TRUE(check_stream_state(word_count_history(2, output, store_rows({{"a", 2}, {"b", 2}, {"c", 1}})).history()).empty());
    const auto wrong = check_stream_state(word_count_history(2, output, store_rows({{"a", 3}, {"b", 2}})).history());
    ASSERT_EQ(names(wrong), std::vector<std::string>{"state-mismatch"});
    EXPECT_EQ(wrong[0].evidence["rows"], nlohmann::json({"a: 3 (oracle 2)", "c: (none) (oracle 1)"}));
}

TEST(StreamOracle, FraudWindowCountsPerCardAndWindowAndDropsAttemptsPastTheGrace) {
    // Windows of 5 s with a grace of 2 s: stream time is the partition's newest attempt time, so once it
    // reached 11999, the window [0, 5000) is closed (5000 <= 11999 - 2000) and [5000, 10000) is open.
    std::map<std::string, std::map<std::int32_t, std::vector<StreamInputRecord>>> inputs;
    auto& p0 = inputs["authorization_attempts"][0];
    for (int i = 0; i < 4; ++i) {
        p0.push_back({"card-1", "p0-" + std::to_string(i) + " m", 1000 + i});
    }
    p0.push_back({"card-1", "p0-4 m", 11999});
    p0.push_back({"card-1", "p0-5 m", 4999});  // late: dropped
    p0.push_back({"card-1", "p0-6 m", 9999});  // within the grace of its window
    p0.push_back({"card-1", "p0-7 m", 5000});
    inputs["authorization_attempts"][1] = {{"card-2", "p1-0 m", 2000}};  // another task: its own stream time
    const auto expected = run_stream_oracle("fraud-window", inputs);
    ASSERT_TRUE(expected.has_value());
    EXPECT_EQ(expected->outputs.at("possible_fraud"),
              (std::map<std::string, std::vector<std::optional<std::string>>>{{"card-1@0", {"4"}}}));
    EXPECT_EQ(expected->stores.at("attempts"), (std::map<std::string, std::string>{{"card-1@0", "4"},
                                                                                    {"card-1@10000", "1"},
                                                                                    {"card-1@5000", "2"},
                                                                                    {"card-2@0", "1"}}));
}

TEST(StreamOracle, EchoSumAccountBalanceAndSyslogFilter) {
    std::map<std::string, std::map<std::int32_t, std::vector<StreamInputRecord>>> data;
    data["data"][0] = {{"k1", "p0-0 7"}, {"k1", "p0-1 3"}, {"k2", "p0-2 6"}};
    const auto echo = run_stream_oracle("eos-echo-sum", data);
    ASSERT_TRUE(echo.has_value());
    EXPECT_EQ(echo->outputs.at("echo").at("k1"), (std::vector<std::optional<std::string>>{"p0-0 7", "p0-1 3"}));
    EXPECT_EQ(echo->outputs.at("sums").at("k1"),
              (std::vector<std::optional<std::string>>{"count=1 sum=7 min=7 max=7", "count=2 sum=10 min=3 max=7"}));
    EXPECT_TRUE(echo->tables.empty());
    const auto repartitioned = run_stream_oracle("eos-echo-sum-repartition", data);
    ASSERT_TRUE(repartitioned.has_value());
    EXPECT_EQ(repartitioned->stores.at("stats"), (std::map<std::string, std::string>{
                                                     {"g2", "count=1 sum=6 min=6 max=6"},
                                                     {"g3", "count=2 sum=10 min=3 max=7"}}));
    EXPECT_EQ(repartitioned->tables, std::set<std::string>{"sums"});

    std::map<std::string, std::map<std::int32_t, std::vector<StreamInputRecord>>> amounts;
    amounts["transactions"][0] = {{"acct-1", "p0-0 100"}, {"acct-1", "p0-1 -30"}, {"acct-2", "p0-2 5"}};
    const auto balances = run_stream_oracle("account-balance", amounts);
    ASSERT_TRUE(balances.has_value());
    EXPECT_EQ(balances->outputs.at("balances").at("acct-1"), (std::vector<std::optional<std::string>>{"100", "70"}));
    EXPECT_EQ(balances->stores.at("balances"), (std::map<std::string, std::string>{{"acct-1", "70"}, {"acct-2", "5"}}));

    std::map<std::string, std::map<std::int32_t, std::vector<StreamInputRecord>>> syslog;
    syslog["syslog"][0] = {{"host-1", "p0-0 host-1 sshd[1]: Invalid user admin from 10.0.0.1"},
                           {"host-1", "p0-1 host-1 sshd[2]: Accepted publickey for root"}};
    const auto filtered = run_stream_oracle("syslog-filter", syslog);
    ASSERT_TRUE(filtered.has_value());
    EXPECT_EQ(filtered->outputs.at("invalid-users"),
              (std::map<std::string, std::vector<std::optional<std::string>>>{
                  {"host-1", {"p0-0 host-1 sshd[1]: Invalid user admin from 10.0.0.1"}}}));
}

TEST(StreamOracle, VipJoinMergesEachTasksPartitionsByTimestampAndKeepsPlatinumClicks) {
    std::map<std::string, std::map<std::int32_t, std::vector<StreamInputRecord>>> inputs;
    inputs["users"][0] = {{"u1", "p0-0 level=Gold", 0}, {"u2", "p0-1 level=Platinum", 1}, {"u1", "p0-5 level=Platinum", 5}};
    // The click at 3 comes before u1 turned Platinum at 5; the one at 6 after; u3 has no row.
    inputs["clickstream"][0] = {{"u1", "p0-3 page=/a", 3}, {"u2", "p0-4 page=/b", 4}, {"u1", "p0-6 page=/c", 6},
                                {"u3", "p0-7 page=/d", 7}};
    inputs["clickstream"][1] = {{"u1", "p0-2 page=/e", 2}};  // another task: no users row there
    const auto expected = run_stream_oracle("vip-join", inputs);
    ASSERT_TRUE(expected.has_value());
    EXPECT_EQ(expected->outputs.at("vip_actions"),
              (std::map<std::string, std::vector<std::optional<std::string>>>{
                  {"u1", {"p0-6 page=/c | p0-5 level=Platinum"}}, {"u2", {"p0-4 page=/b | p0-1 level=Platinum"}}}));
    EXPECT_EQ(expected->stores.at("users"),
              (std::map<std::string, std::string>{{"u1", "p0-5 level=Platinum"}, {"u2", "p0-1 level=Platinum"}}));
}

TEST(StreamOracle, RecordsWithoutAKeyOrValueGoWhereTheApplicationsOperationsSendThem) {
    // echo copies every record (a keyless one under no key, a tombstone as null); the sums skip both.
    std::map<std::string, std::map<std::int32_t, std::vector<StreamInputRecord>>> data;
    data["data"][0] = {{std::nullopt, "p0-0 7"}, {"k1", std::nullopt}, {"k1", "p0-2 3"}};
    const auto echo = run_stream_oracle("eos-echo-sum", data);
    ASSERT_TRUE(echo.has_value());
    EXPECT_EQ(echo->outputs.at("echo").at(""), (std::vector<std::optional<std::string>>{"p0-0 7"}));
    EXPECT_EQ(echo->outputs.at("echo").at("k1"), (std::vector<std::optional<std::string>>{std::nullopt, "p0-2 3"}));
    EXPECT_EQ(echo->stores.at("stats"), (std::map<std::string, std::string>{{"k1", "count=1 sum=3 min=3 max=3"}}));
    // word-count splits a keyless line as any other.
    std::map<std::string, std::map<std::int32_t, std::vector<StreamInputRecord>>> lines;
    lines["lines"][0] = {{std::nullopt, "a b"}, {"x", std::nullopt}};
    const auto counts = run_stream_oracle("word-count", lines);
    ASSERT_TRUE(counts.has_value());
    EXPECT_EQ(counts->stores.at("counts"), (std::map<std::string, std::string>{{"a", "1"}, {"b", "1"}}));
}

TEST(StreamOracle, VipJoinTakesTheClickFirstOnATimestampTie) {
    // The stream threads break a tie by topic name: clickstream before users.
    std::map<std::string, std::map<std::int32_t, std::vector<StreamInputRecord>>> inputs;
    inputs["users"][0] = {{"u1", "r1 level=Platinum", 100}};
    inputs["clickstream"][0] = {{"u1", "c1 page=/a", 100}, {"u1", "c2 page=/b", 101}};
    const auto expected = run_stream_oracle("vip-join", inputs);
    ASSERT_TRUE(expected.has_value());
    EXPECT_EQ(expected->outputs.at("vip_actions"),
              (std::map<std::string, std::vector<std::optional<std::string>>>{{"u1", {"c2 page=/b | r1 level=Platinum"}}}));
}

// eos-echo-sum-repartition over data-0 = (k1, 7), (k1, 3), (k2, 6): `sums` is judged as a table.
HistoryBuilder repartition_history(std::vector<Record> sums) {
    HistoryBuilder builder;
    builder.replica("data-0", "broker-1", true, 0, 3, 3,
                    {Record{.offset = 0, .value = "p0-0 7", .key = "k1"}, Record{.offset = 1, .value = "p0-1 3", .key = "k1"},
                     Record{.offset = 2, .value = "p0-2 6", .key = "k2"}});
    builder.poll_committed("rc-consumer-1", "echo-0",
                           {Record{.offset = 0, .value = "p0-0 7", .key = "k1"}, Record{.offset = 1, .value = "p0-1 3", .key = "k1"},
                            Record{.offset = 2, .value = "p0-2 6", .key = "k2"}});
    builder.poll_committed("rc-consumer-1", "sums-0", std::move(sums));
    builder.operation("runner", OpType::ok, "stream-final", [&](Operation& op) {
        op.group = "eos-echo-sum-repartition";
        op.value = "eos-echo-sum-repartition";
        op.offsets = std::map<std::string, std::int64_t>{{"data-0", 3}};
    });
    return builder;
}

Record sums(std::int64_t offset, const std::string& key, const std::string& value) {
    return Record{.offset = offset, .value = value, .key = key};
}

TEST(StreamOutputMismatch, ATableIsJudgedByItsFinalValueItsUpdatesAndNoRepeat) {
    // g3 saw 3 before 7: another interleaving of the repartition topic, which the semantics leave open.
    const auto other_order = repartition_history({sums(0, "g3", "count=1 sum=3 min=3 max=3"),
                                                  sums(1, "g2", "count=1 sum=6 min=6 max=6"),
                                                  sums(2, "g3", "count=2 sum=10 min=3 max=7")});
    EXPECT_TRUE(check_stream_output(other_order.history()).empty());
    const auto repeated = check_stream_output(repartition_history({sums(0, "g3", "count=1 sum=3 min=3 max=3"),
                                                                   sums(1, "g3", "count=1 sum=3 min=3 max=3"),
                                                                   sums(2, "g2", "count=1 sum=6 min=6 max=6"),
                                                                   sums(3, "g3", "count=2 sum=10 min=3 max=7")})
                                                  .history());
    ASSERT_EQ(names(repeated), std::vector<std::string>{"eos-output-mismatch"});
    EXPECT_EQ(repeated[0].evidence["kind"], "duplicate processing");
    const auto wrong_end = check_stream_output(repartition_history({sums(0, "g3", "count=1 sum=3 min=3 max=3"),
                                                                    sums(1, "g2", "count=1 sum=6 min=6 max=6"),
                                                                    sums(2, "g3", "count=2 sum=6 min=3 max=3")})
                                                   .history());
    ASSERT_EQ(names(wrong_end), std::vector<std::string>{"eos-output-mismatch"});
    EXPECT_EQ(wrong_end[0].evidence["kind"], "wrong values");
}

// word-count's counts changelog, partition 0: a committed transaction (a=1, b=1), an aborted one (a=2)
// and an open one (c=1) of a second producer, and a plain write of b=2 after them.
History with_changelog(std::vector<Record> store) {
    const std::vector<Record> output = {count(0, "a", 1), count(1, "b", 1), count(2, "a", 2), count(3, "b", 2),
                                        count(4, "c", 1)};
    History history = word_count_history(2, output, std::move(store)).history();
    history.replicas.push_back(ReplicaState{.partition = "word-count-counts-changelog-0",
                                            .replica = "broker-1",
                                            .leader = true,
                                            .log_start_offset = 0,
                                            .high_watermark = 7,
                                            .log_end_offset = 7,
                                            .records = {count(0, "a", 1), count(1, "b", 1), count(3, "a", 7),
                                                        count(5, "c", 1), count(6, "c", 9)}});
    history.replicas.back().batches = {
        BatchHeader{.base_offset = 0, .last_offset = 1, .producer_id = 1, .transactional = true},
        BatchHeader{.base_offset = 2, .last_offset = 2, .producer_id = 1, .transactional = true, .control = true,
                    .marker = "commit"},
        BatchHeader{.base_offset = 3, .last_offset = 3, .producer_id = 1, .transactional = true},
        BatchHeader{.base_offset = 4, .last_offset = 4, .producer_id = 1, .transactional = true, .control = true,
                    .marker = "abort"},
        BatchHeader{.base_offset = 5, .last_offset = 5, .producer_id = 2, .transactional = true},
        BatchHeader{.base_offset = 6, .last_offset = 6, .producer_id = 3}};
    return history;
}

TEST(StateMismatch, FiresForAStoreThatIsNotItsCommittedChangelogFolded) {
    // Committed: a=1, b=1, then c=9 (plain); a=7 was aborted and c=1 is still open. The oracle wants a=2,
    // b=2, c=1, so the store that matches the oracle differs from the fold...
    const auto unfolded = check_stream_state(with_changelog(store_rows({{"a", 2}, {"b", 2}, {"c", 1}})));
    ASSERT_EQ(names(unfolded), std::vector<std::string>{"state-mismatch"});
    EXPECT_EQ(unfolded[0].evidence["changelog"], "word-count-counts-changelog");
    EXPECT_EQ(unfolded[0].evidence["rows"], nlohmann::json({"a: 2 (changelog 1)", "b: 2 (changelog 1)", "c: 1 (changelog 9)"}));
    // ... and a store equal to the fold differs from the oracle only.
    const auto folded = check_stream_state(with_changelog(store_rows({{"a", 1}, {"b", 1}, {"c", 9}})));
    ASSERT_EQ(names(folded), std::vector<std::string>{"state-mismatch"});
    EXPECT_FALSE(folded[0].evidence.contains("changelog"));
}

// The anomalies about standby stores (those whose evidence names a task).
std::vector<Anomaly> standby_anomalies(const std::vector<Anomaly>& all) {
    std::vector<Anomaly> out;
    for (const Anomaly& anomaly : all) {
        if (anomaly.evidence.contains("task")) {
            out.push_back(anomaly);
        }
    }
    return out;
}

History with_standby(std::int64_t position, const std::map<std::string, int>& rows) {
    History history = with_changelog(store_rows({{"a", 1}, {"b", 1}, {"c", 9}}));
    Operation standby{.index = history.operations.back().index + 1,
                      .process = "word-count-2-1",
                      .type = OpType::ok,
                      .f = "stream-standby",
                      .partition = "counts",
                      .value = "0_0",
                      .records = store_rows(rows)};
    standby.offsets = std::map<std::string, std::int64_t>{{"word-count-counts-changelog-0", position}};
    history.operations.push_back(std::move(standby));
    return history;
}

TEST(StateMismatch, FiresForAStandbyThatIsNotItsCommittedChangelogFolded) {
    // Read to the end: the standby must hold a=1, b=1, c=9 (not the aborted a=7, not the open c=1).
    EXPECT_TRUE(standby_anomalies(check_stream_state(with_standby(7, {{"a", 1}, {"b", 1}, {"c", 9}}))).empty());
    const auto aborted = standby_anomalies(check_stream_state(with_standby(7, {{"a", 7}, {"b", 1}, {"c", 9}})));
    ASSERT_EQ(names(aborted), std::vector<std::string>{"state-mismatch"});
    EXPECT_EQ(aborted[0].evidence["task"], "0_0");
    EXPECT_EQ(aborted[0].evidence["thread"], "word-count-2-1");
    EXPECT_EQ(aborted[0].evidence["position"], 7);
    EXPECT_EQ(aborted[0].evidence["rows"], nlohmann::json({"a: 7 (changelog 1)"}));
    const auto lost = standby_anomalies(check_stream_state(with_standby(7, {{"a", 1}, {"c", 9}})));
    ASSERT_EQ(names(lost), std::vector<std::string>{"state-mismatch"});
    EXPECT_EQ(lost[0].evidence["rows"], nlohmann::json({"b: (none) (changelog 1)"}));
    // Not caught up (the plain c=9 at offset 6 is unread): what it loaded from its own files may be ahead of
    // where it reads, so it is not judged.
    EXPECT_TRUE(standby_anomalies(check_stream_state(with_standby(6, {{"a", 7}}))).empty());
}

TEST(StreamOutputMismatch, SilentWithoutAFinalLine) {
    HistoryBuilder builder;
    builder.poll_committed("rc-consumer-1", "word-counts-0", {count(0, "a", 7)});
    EXPECT_TRUE(check_stream_output(builder.history()).empty());
    EXPECT_TRUE(check_stream_state(builder.history()).empty());
}

}  // namespace
}  // namespace eosim::model
