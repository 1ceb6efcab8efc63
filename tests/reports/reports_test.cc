// reports/: the result line round trip, results files and their errors, the tally's judgement of weakness
// scenarios, and JUnit XML escaping.
#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "reports/junit.h"
#include "reports/result.h"
#include "reports/summary.h"
#include "reports/text.h"

namespace eosim::reports {
namespace {

Timed failed_run(std::uint64_t seed) {
    Timed timed;
    scenarios::RunResult& r = timed.result;
    r.scenario = "log-acks-all";
    r.seed = seed;
    r.status = scenarios::RunStatus::fail;
    r.anomalies = {"lost-write"};
    r.weaknesses = {};
    r.allowed = {"duplicate"};
    r.reports = {{.name = "lost-write", .partition = "events-0", .description = "offset 3 acknowledged, then gone"},
                 {.name = "duplicate", .partition = "events-1", .description = "allowed, not evidence"}};
    r.fingerprint = 0x00ab'cdef'0123'4567;
    r.events = 1234;
    r.sim_ns = 5'000'000'000;
    r.reproduce = "./eosim run log-acks-all --seed " + std::to_string(seed);
    r.faults = {.planned = 4, .deferred = 1, .downgraded = 0, .dropped = 1};
    r.probes = {"unclean-leader-election"};
    r.params = {{"brokers", "3"}};
    timed.wall_ms = 12;
    return timed;
}

Timed passed_run(const std::string& scenario, std::uint64_t seed, std::vector<std::string> weaknesses = {}) {
    Timed timed;
    timed.result.scenario = scenario;
    timed.result.seed = seed;
    timed.result.weaknesses = std::move(weaknesses);
    timed.result.reproduce = "./eosim run " + scenario + " --seed " + std::to_string(seed);
    return timed;
}

TEST(ResultLine, RoundTripsAndKeepsOnlyTheFailingAnomaliesEvidence) {
    const Timed original = failed_run(7);
    const nlohmann::json line = result_json(original);
    ASSERT_EQ(line.at("evidence").size(), 1u);
    EXPECT_EQ(line.at("evidence")[0].at("description"), "offset 3 acknowledged, then gone");
    const Timed back = result_from_json(line);
    EXPECT_EQ(back.result.fingerprint, original.result.fingerprint);
    EXPECT_EQ(back.result.status, scenarios::RunStatus::fail);
    EXPECT_EQ(back.result.anomalies, original.result.anomalies);
    EXPECT_EQ(back.result.allowed, original.result.allowed);
    ASSERT_EQ(back.result.reports.size(), 1u);
    EXPECT_EQ(back.result.reports[0].partition, "events-0");
    EXPECT_EQ(back.result.faults.dropped, 1);
    EXPECT_EQ(back.result.params, original.result.params);
    EXPECT_EQ(result_json(back), line);
}

TEST(ResultLine, KeepsAtMostTwentyPiecesOfEvidence) {
    Timed timed = failed_run(1);
    for (int i = 0; i < 30; ++i) {
        timed.result.reports.push_back({.name = "lost-write", .partition = "events-0", .description = "more"});
    }
    EXPECT_EQ(result_json(timed).at("evidence").size(), evidence_kept);
}

TEST(ResultLine, AMalformedLineSaysWhatIsWrong) {
    nlohmann::json line = result_json(failed_run(1));
    line["status"] = "maybe";
    EXPECT_THROW(result_from_json(line), ResultsError);
    line = result_json(failed_run(1));
    line["fingerprint"] = "xyz";
    EXPECT_THROW(result_from_json(line), ResultsError);
    line = result_json(failed_run(1));
    line.erase("seed");
    try {
        result_from_json(line);
        FAIL() << "a line without a seed was read";
    } catch (const ResultsError& e) {
        EXPECT_EQ(std::string(e.what()), "key 'seed' not found");
    }
    EXPECT_THROW(result_from_json(nlohmann::json::array()), ResultsError);
}

TEST(ResultsFile, AnErrorNamesTheFileAndLine) {
    const std::string path = ::testing::TempDir() + "results_test.jsonl";
    {
        std::ofstream out(path);
        out << result_json(failed_run(1)).dump() << "\n\n" << R"({"scenario": 3})" << "\n";
    }
    try {
        read_results(path);
        FAIL() << "a bad line was read";
    } catch (const ResultsError& e) {
        EXPECT_EQ(std::string(e.what()).rfind(path + ":3: ", 0), 0u) << e.what();
    }
    {
        std::ofstream out(path);
        out << result_json(failed_run(2)).dump() << "\n" << result_json(failed_run(1)).dump() << "\n";
    }
    std::vector<Timed> results = read_results(path);
    ASSERT_EQ(results.size(), 2u);
    sort_results(results);
    EXPECT_EQ(results[0].result.seed, 1u);
    std::remove(path.c_str());
}

TEST(Tally, AWeaknessScenarioFailsOnlyWhenEverySeedRanAndNoneShowedIt) {
    SweepInfo info{.title = "log-acks-1", .first = 1, .last = 2,
                   .demonstrations = {{"log-acks-1", {"lost-write"}}}};
    const std::vector<Timed> unshown{passed_run("log-acks-1", 1), passed_run("log-acks-1", 2)};
    EXPECT_EQ(tally(info, unshown).exit_status(), 1);
    ASSERT_EQ(tally(info, unshown).unshown.size(), 1u);
    const std::vector<Timed> shown{passed_run("log-acks-1", 1), passed_run("log-acks-1", 2, {"lost-write"})};
    EXPECT_EQ(tally(info, shown).exit_status(), 0);
    info.complete = false;  // one shard: the other shards may show it
    EXPECT_EQ(tally(info, unshown).exit_status(), 0);
}

TEST(Tally, CountsFailuresAndErrorsAndNamesTheFirstFailingSeed) {
    Timed error = passed_run("log-acks-all", 9);
    error.result.status = scenarios::RunStatus::error;
    const std::vector<Timed> results{failed_run(3), failed_run(5), error};
    const Tally counts = tally(SweepInfo{.title = "log-acks-all", .first = 1, .last = 9}, results);
    EXPECT_EQ(counts.failed, 2u);
    EXPECT_EQ(counts.errors, 1u);
    EXPECT_EQ(counts.exit_status(), 1);
    ASSERT_TRUE(counts.by_anomaly.contains("lost-write"));
    EXPECT_EQ(counts.by_anomaly.at("lost-write").first, 2u);
    EXPECT_EQ(counts.by_anomaly.at("lost-write").second->result.seed, 3u);
    const std::vector<Timed> only_error{error};
    EXPECT_EQ(tally(SweepInfo{}, only_error).exit_status(), 3);
    const nlohmann::json json = sweep_json(SweepInfo{.title = "log-acks-all", .first = 1, .last = 9}, results, counts);
    EXPECT_EQ(json.at("failures_by_anomaly").at("lost-write").at("first").at("seed"), 3);
    EXPECT_EQ(json.at("not_passed").size(), 3u);
}

TEST(JUnit, EscapesWhatXmlForbids) {
    Timed timed = failed_run(1);
    timed.result.reports[0].description = "a <b> & \"c\" 'd' \x01 end";
    std::ostringstream out;
    write_junit(out, SweepInfo{.title = "log-acks-all", .first = 1, .last = 1}, {timed});
    const std::string xml = out.str();
    EXPECT_NE(xml.find("a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; ? end"), std::string::npos) << xml;
    EXPECT_NE(xml.find("reproduce: ./eosim run log-acks-all --seed 1"), std::string::npos);
    EXPECT_NE(xml.find(R"(<testsuite name="log-acks-all" tests="1" failures="1" errors="0")"), std::string::npos);
}

TEST(Style, NoColourOffATerminal) {
    std::FILE* file = std::tmpfile();
    ASSERT_NE(file, nullptr);
    const Style style = Style::for_stream(file);
    EXPECT_FALSE(style.colour);
    EXPECT_EQ(style.bad("fail"), "fail");
    EXPECT_EQ(Style{.colour = true}.bad("fail"), "\x1b[1;31mfail\x1b[0m");
    std::fclose(file);
}

}  // namespace
}  // namespace eosim::reports
