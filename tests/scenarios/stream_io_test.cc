// --input and --dump (scenarios/stream_io.h): the JSON-lines format with its errors, the sending order of
// several files, and hand-checked inputs run through fraud-window, vip-join and account-balance with no
// fault, whose dumped output is exactly what the applications' meaning gives (late attempts dropped
// after the grace period; a click joined with the user's row of its time).

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "scenarios/runner.h"
#include "scenarios/spec.h"
#include "scenarios/stream_io.h"

namespace eosim::scenarios {
namespace {

std::vector<InputRecord> read(const std::string& topic, const std::string& text) {
    std::istringstream in(text);
    return read_input(topic, in, "input.jsonl");
}

std::string error_of(const std::string& text) {
    try {
        (void)read("t", text);
    } catch (const InputError& error) {
        return error.what();
    }
    return "";
}

TEST(StreamInput, ReadsEveryFieldAndSkipsBlankLines) {
    const std::vector<InputRecord> records = read(
        "t", "{\"key\":\"k\",\"value\":\"v\",\"timestamp\":5,\"partition\":2}\n\n{\"value\":\"w\"}\n{\"key\":\"k\",\"value\":null}\n");
    ASSERT_EQ(records.size(), 3U);
    EXPECT_EQ(records[0].key, "k");
    EXPECT_EQ(records[0].value, "v");
    EXPECT_EQ(records[0].timestamp_ms, 5);
    EXPECT_EQ(records[0].partition, 2);
    EXPECT_EQ(records[1].key, std::nullopt);
    EXPECT_EQ(records[1].timestamp_ms, std::nullopt);
    EXPECT_EQ(records[2].value, std::nullopt);
    EXPECT_EQ(records[2].topic, "t");
}

TEST(StreamInput, EachMalformedLineNamesTheFileLineAndReason) {
    EXPECT_EQ(error_of("{\"value\":\"v\"}\n{\"key\":\"k\"}"), "input.jsonl:2: missing \"value\" (null for a tombstone)");
    EXPECT_EQ(error_of("{\"value\":null}"), "input.jsonl:1: a tombstone (\"value\": null) needs a \"key\"");
    EXPECT_EQ(error_of("{\"value\":\"v\",\"timestamp\":-1}"),
              "input.jsonl:1: \"timestamp\" must be an integer of milliseconds, at least 0");
    EXPECT_EQ(error_of("{\"value\":\"v\",\"partition\":\"0\"}"), "input.jsonl:1: \"partition\" must be an integer, at least 0");
    EXPECT_EQ(error_of("{\"value\":\"v\",\"offset\":3}"),
              "input.jsonl:1: unknown field \"offset\" (known: key, value, timestamp, partition)");
    EXPECT_EQ(error_of("[1]"), "input.jsonl:1: a record must be a JSON object");
    EXPECT_EQ(error_of("{\"value\":7}"), "input.jsonl:1: \"value\" must be a string or null");
    EXPECT_EQ(error_of("{oops").rfind("input.jsonl:1: not JSON: ", 0), 0U);
}

TEST(StreamInput, TheReproduceCommandNamesTheInputFiles) {
    EXPECT_EQ(reproduce_command("fraud-window-eos", 7, "", ""), "./eosim run fraud-window-eos --seed 7");
    EXPECT_EQ(reproduce_command("vip-join-eos", 3, "kafka-9891", "", {"clickstream=c.jsonl", "users=u.jsonl"}),
              "./eosim run vip-join-eos --seed 3 --bug kafka-9891 --input clickstream=c.jsonl --input users=u.jsonl");
}

TEST(StreamInput, FilesMergeByTheirNextRecordsTimestampEachInItsOwnOrder) {
    const std::vector<InputRecord> users = read("users", "{\"value\":\"u1\",\"timestamp\":10}\n{\"value\":\"u2\",\"timestamp\":30}\n");
    // A late click keeps its place in its file: it goes after the click before it.
    const std::vector<InputRecord> clicks = read(
        "clicks", "{\"value\":\"c1\",\"timestamp\":10}\n{\"value\":\"c2\",\"timestamp\":40}\n{\"value\":\"c3\",\"timestamp\":5}\n"
                  "{\"value\":\"c4\"}\n");
    std::vector<std::string> order;
    for (const InputRecord& record : merge_inputs({users, clicks})) {
        order.push_back(*record.value);
    }
    EXPECT_EQ(order, (std::vector<std::string>{"u1", "c1", "u2", "c2", "c3", "c4"}));
}

// The scenario with no fault at all: no broker, network or instance fault, no buggify.
Spec quiet(const std::string& name) {
    Spec spec = *find_builtin(name);
    spec.faults.plan.kinds.clear();
    spec.faults.plan.aim_at.clear();
    spec.buggify = false;
    spec.workload.instance_faults_every_min_ms = 0;
    spec.workload.instance_faults_every_max_ms = 0;
    spec.workload.instance_fault_min_ms = 0;
    spec.workload.instance_fault_max_ms = 0;
    return spec;
}

// Runs `scenario` quietly with `inputs` (topic -> JSON lines) and returns the dump of `topic`.
std::string run_with(const std::string& scenario, const std::vector<std::pair<std::string, std::string>>& inputs,
                     const std::string& topic) {
    std::vector<std::vector<InputRecord>> files;
    for (const auto& [input_topic, text] : inputs) {
        files.push_back(read(input_topic, text));
    }
    std::ostringstream dump;
    RunOptions options{.seed = 7};
    options.input = merge_inputs(files);
    options.dumps.emplace_back(topic, &dump);
    const RunResult result = run(quiet(scenario), options);
    EXPECT_EQ(result.status, RunStatus::pass) << scenario << ": " << result.error;
    return dump.str();
}

TEST(StreamInputOutput, FraudWindowCountsAttemptsPerWindowAndDropsTheLateOne) {
    // card-1: four attempts in [0, 5000) make it a fraud, the fifth raises the count; at 12000 stream time
    // closes that window (its end 5000 <= 12000 - 2000), so the attempt at 4000 that follows is dropped.
    const std::string dump = run_with(
        "fraud-window-eos",
        {{"authorization_attempts",
          "{\"key\":\"card-1\",\"value\":\"a1 m\",\"timestamp\":1000}\n"
          "{\"key\":\"card-1\",\"value\":\"a2 m\",\"timestamp\":1500}\n"
          "{\"key\":\"card-1\",\"value\":\"a3 m\",\"timestamp\":2000}\n"
          "{\"key\":\"card-1\",\"value\":\"a4 m\",\"timestamp\":2500}\n"
          "{\"key\":\"card-1\",\"value\":\"a5 m\",\"timestamp\":3000}\n"
          "{\"key\":\"card-1\",\"value\":\"a6 m\",\"timestamp\":12000}\n"
          "{\"key\":\"card-1\",\"value\":\"a7 late\",\"timestamp\":4000}\n"
          "{\"key\":\"card-1\",\"value\":\"a8 m\",\"timestamp\":10500}\n"}},
        "possible_fraud");
    // card-1's partition is the producer's hash of its key; the windowed key hashes to the same one here.
    EXPECT_EQ(dump,
              "{\"partition\":1,\"offset\":0,\"key\":\"card-1@0\",\"value\":\"4\",\"timestamp\":2500}\n"
              "{\"partition\":1,\"offset\":1,\"key\":\"card-1@0\",\"value\":\"5\",\"timestamp\":3000}\n");
}

TEST(StreamInputOutput, VipJoinJoinsEachClickWithItsUsersRowOfThatTime) {
    const std::string dump = run_with(
        "vip-join-eos",
        {{"users",
          "{\"key\":\"alice\",\"value\":\"r1 level=Gold\",\"timestamp\":100}\n"
          "{\"key\":\"bob\",\"value\":\"r2 level=Platinum\",\"timestamp\":100}\n"
          "{\"key\":\"alice\",\"value\":\"r3 level=Platinum\",\"timestamp\":300}\n"
          "{\"key\":\"bob\",\"value\":\"r4 level=Silver\",\"timestamp\":500}\n"},
         {"clickstream",
          "{\"key\":\"alice\",\"value\":\"c1 page=/a\",\"timestamp\":200}\n"
          "{\"key\":\"bob\",\"value\":\"c2 page=/b\",\"timestamp\":200}\n"
          "{\"key\":\"alice\",\"value\":\"c3 page=/c\",\"timestamp\":400}\n"
          "{\"key\":\"carol\",\"value\":\"c4 page=/d\",\"timestamp\":400}\n"
          "{\"key\":\"bob\",\"value\":\"c5 page=/e\",\"timestamp\":600}\n"}},
        "vip_actions");
    // alice was Gold at 200 and Platinum at 400; bob Platinum at 200 and Silver at 600; carol has no row.
    std::vector<std::string> lines;
    std::istringstream in(dump);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line.substr(line.find("\"key\"")));
    }
    std::sort(lines.begin(), lines.end());
    EXPECT_EQ(lines, (std::vector<std::string>{
                         "\"key\":\"alice\",\"value\":\"c3 page=/c | r3 level=Platinum\",\"timestamp\":400}",
                         "\"key\":\"bob\",\"value\":\"c2 page=/b | r2 level=Platinum\",\"timestamp\":200}"}));
}

TEST(StreamInputOutput, AccountBalanceWritesEachBalanceAndTheTableFoldsToTheLast) {
    const std::string dump = run_with("account-balance-eos",
                                      {{"transactions",
                                        "{\"key\":\"acct-1\",\"value\":\"t1 100\"}\n"
                                        "{\"key\":\"acct-1\",\"value\":\"t2 -30\"}\n"
                                        "{\"key\":\"acct-2\",\"value\":\"t3 5\"}\n"
                                        "{\"key\":\"acct-1\",\"value\":\"t4 7\"}\n"}},
                                      "balances");
    std::vector<std::string> values;
    std::istringstream in(dump);
    for (std::string line; std::getline(in, line);) {
        const std::size_t key = line.find("\"key\"");
        const std::size_t end = line.find(",\"timestamp\"");
        values.push_back(line.substr(key, end - key));
    }
    std::sort(values.begin(), values.end());
    EXPECT_EQ(values, (std::vector<std::string>{"\"key\":\"acct-1\",\"value\":\"100\"", "\"key\":\"acct-1\",\"value\":\"70\"",
                                                "\"key\":\"acct-1\",\"value\":\"77\"", "\"key\":\"acct-2\",\"value\":\"5\""}));
    // acct-1's balances in the order written: its partition's offsets.
    EXPECT_LT(dump.find("\"value\":\"100\""), dump.find("\"value\":\"70\""));
    EXPECT_LT(dump.find("\"value\":\"70\""), dump.find("\"value\":\"77\""));
}

}  // namespace
}  // namespace eosim::scenarios
