// reports/: the result line round trip, results files and their errors, the tally's judgement of weakness
// scenarios, and JUnit XML escaping.
#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "reports/html.h"
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
    timed.result.reports[0].description = "a <b> & \"c\" 'd' \x01 \xff caf\xc3\xa9 end";
    std::ostringstream out;
    write_junit(out, SweepInfo{.title = "log-acks-all", .first = 1, .last = 1}, {timed});
    const std::string xml = out.str();
    EXPECT_NE(xml.find("a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; ? ? caf\xc3\xa9 end"), std::string::npos) << xml;
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

namespace eosim::reports {
namespace {

// A crafted run: broker-2 crashes at 2 s and restarts at 3 s, broker-1's messages to broker-2 are cut from 1 s
// to 4 s, producer-1's send (ops 0 and 1) is acknowledged at 1.5 s, and the lost-write evidence names op 1.
TEST(RunTimeline, PlacesCrashesPartitionsOperationsAndAnomaliesWhereTheRunHadThem) {
    Timed timed = failed_run(9);
    timed.result.sim_ns = 6'000'000'000;
    timed.result.reports = {{.name = "lost-write", .partition = "events-0", .description = "send op 1 (producer-1) was lost"},
                            {.name = "lost-write", .partition = "events-1", .description = "nothing to point at"}};
    const std::string trace =
        R"({"t":0,"node":"world","event":"NodeStart","target":"broker-1","incarnation":1})" "\n"
        R"({"t":0,"node":"world","event":"NodeStart","target":"broker-2","incarnation":1})" "\n"
        R"({"t":0,"node":"world","event":"NodeStart","target":"producer-1","incarnation":1})" "\n"
        R"({"t":1000000000,"node":"world","event":"FaultStart","fault":"{\"at_ms\":1000,\"duration_ms\":3000,\"kind\":\"partition-one-way\",\"targets\":[\"broker-1\"],\"other_side\":[\"broker-2\"]}"})" "\n"
        R"({"t":1000000000,"node":"world","event":"NetworkBlock","from":"broker-1","to":"broker-2"})" "\n"
        R"({"t":2000000000,"node":"world","event":"NodeCrash","target":"broker-2","unsynced":"lose"})" "\n"
        R"({"t":2500000000,"node":"broker-1","event":"BecomeLeader","partition":"events-0","leader_epoch":1,"isr":"1"})" "\n"
        R"({"t":3000000000,"node":"world","event":"NodeStart","target":"broker-2","incarnation":2})" "\n"
        R"({"t":4000000000,"node":"world","event":"NetworkUnblock","from":"broker-1","to":"broker-2"})" "\n"
        "not json\n";
    const std::string history =
        R"({"kind":"op","index":0,"time":1200000000,"process":"producer-1","type":"invoke","f":"send","partition":"events-0","value":"a","acks":"all"})" "\n"
        R"({"kind":"op","index":1,"time":1500000000,"process":"producer-1","type":"ok","f":"send","partition":"events-0","value":"a","acks":"all","offset":0})" "\n";
    scenarios::MessageLog messages;
    messages.messages.push_back({.sent_ns = 10, .arrival_ns = 20, .from = "producer-1", .to = "broker-1",
                                 .kind = "ProduceRequest", .fate = sim::MessageFate::sent});
    const nlohmann::json page = run_timeline(timed, RunRecording{.trace = trace, .history = history, .messages = &messages});
    const std::vector<std::string> lanes = page.at("lanes");
    ASSERT_EQ(lanes, (std::vector<std::string>{"faults", "broker-1", "broker-2", "producer-1", "checks"}));
    const auto lane = [&](const std::string& name) {
        return static_cast<std::size_t>(std::find(lanes.begin(), lanes.end(), name) - lanes.begin());
    };
    const auto find_span = [&](const std::string& kind, const std::string& on) {
        for (const nlohmann::json& span : page.at("spans")) {
            if (span.at("kind") == kind && span.at("lane") == lane(on)) {
                return span;
            }
        }
        return nlohmann::json();
    };
    const nlohmann::json down = find_span("down", "broker-2");
    ASSERT_FALSE(down.is_null());
    EXPECT_EQ(down.at("start"), 2'000'000'000);
    EXPECT_EQ(down.at("end"), 3'000'000'000);
    const nlohmann::json cut = find_span("partition", "broker-1");
    ASSERT_FALSE(cut.is_null());
    EXPECT_EQ(cut.at("start"), 1'000'000'000);
    EXPECT_EQ(cut.at("end"), 4'000'000'000);
    const nlohmann::json planned = find_span("partition-one-way", "faults");
    ASSERT_FALSE(planned.is_null());
    EXPECT_EQ(planned.at("end"), 4'000'000'000);
    ASSERT_EQ(page.at("ops").size(), 1u);
    EXPECT_EQ(page.at("ops")[0][1], 1'200'000'000);  // from the invoke
    EXPECT_EQ(page.at("ops")[0][2], 1'500'000'000);  // to the completion
    ASSERT_EQ(page.at("anomalies").size(), 2u);
    EXPECT_EQ(page.at("anomalies")[0].at("t"), 1'500'000'000);  // op 1
    EXPECT_EQ(page.at("anomalies")[0].at("lane"), lane("producer-1"));
    EXPECT_EQ(page.at("anomalies")[0].at("status"), "fail");
    EXPECT_EQ(page.at("anomalies")[1].at("t"), 6'000'000'000);  // no op named: the final check, at the end
    EXPECT_EQ(page.at("anomalies")[1].at("lane"), lane("checks"));
    ASSERT_EQ(page.at("markers").size(), 2u);  // broker-1 leads; broker-2 restarts
    ASSERT_EQ(page.at("messages").at("items").size(), 1u);
    EXPECT_EQ(page.at("messages").at("items")[0][2], lane("producer-1"));
    EXPECT_EQ(page.at("messages").at("kinds")[0], "ProduceRequest");
}

TEST(RunPage, NoStringInTheDataClosesTheScript) {
    Timed timed = failed_run(1);
    timed.result.reports[0].description = "<!--<script></script><script>alert(1)</script> & @EOSIM_TITLE@";
    timed.result.scenario = "@EOSIM_DATA@";  // a placeholder in the title is text, not a place for the data
    std::ostringstream out;
    write_run_html(out, timed, RunRecording{});
    const std::string page = out.str();
    EXPECT_EQ(page.find("<!--<script>"), std::string::npos);
    EXPECT_EQ(page.find("<script>alert"), std::string::npos);
    EXPECT_NE(page.find(R"(\u003c!--\u003cscript\u003e\u003c/script\u003e\u003cscript\u003ealert(1))"), std::string::npos);
    EXPECT_NE(page.find("<title>eosim: @EOSIM_DATA@ seed 1"), std::string::npos);
    // The data sits in its script element, whole: one opening and one closing tag for it.
    const auto data_at = page.find(R"(<script id="eosim-data" type="application/json">)");
    ASSERT_NE(data_at, std::string::npos);
    const auto data_end = page.find("</script>", data_at);
    const auto parsed = nlohmann::json::parse(page.substr(data_at + 48, data_end - data_at - 48));
    EXPECT_EQ(parsed.at("anomalies")[0].at("description"), timed.result.reports[0].description);
}

}  // namespace
}  // namespace eosim::reports
