// The stream-application checkers (model/streams.h) on crafted histories of word-count: the oracle's
// counts, eos-output-mismatch for lost, duplicated and wrong output per key, and state-mismatch for a
// store that differs from the oracle's final rows. Each fires on a violating history and stays silent on
// a clean one.

#include <gtest/gtest.h>

#include "model/streams.h"
#include "tests/model/history_builder.h"

namespace eosim::model {
namespace {

using testing::HistoryBuilder;

std::vector<std::string> names(const std::vector<Anomaly>& anomalies) {
    std::vector<std::string> out;
    for (const Anomaly& anomaly : anomalies) {
        out.push_back(anomaly.name);
    }
    return out;
}

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

TEST(StreamOutputMismatch, SilentWithoutAFinalLine) {
    HistoryBuilder builder;
    builder.poll_committed("rc-consumer-1", "word-counts-0", {count(0, "a", 7)});
    EXPECT_TRUE(check_stream_output(builder.history()).empty());
    EXPECT_TRUE(check_stream_state(builder.history()).empty());
}

}  // namespace
}  // namespace eosim::model
