// Fixed seed ranges of every built-in scenario (label: scenario). The asan build runs fewer seeds.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "model/checkers.h"
#include "model/history.h"
#include "scenarios/bugs.h"
#include "scenarios/runner.h"
#include "scenarios/spec.h"

namespace eosim::scenarios {
namespace {

#if defined(EOSIM_ASAN)
constexpr std::uint64_t must_pass_seeds = 10;
constexpr std::uint64_t weakness_seeds_max = 30;
constexpr std::uint64_t bug_seeds_max = 100;
#else
constexpr std::uint64_t must_pass_seeds = 100;
constexpr std::uint64_t weakness_seeds_max = 100;
constexpr std::uint64_t bug_seeds_max = 300;
#endif

const Spec& spec(const std::string& name) {
    const Spec* found = find_builtin(name);
    EXPECT_NE(found, nullptr) << name;
    return *found;
}

std::string describe(const RunResult& result) {
    std::string text = std::string(to_string(result.status)) + " " + result.error;
    for (const AnomalyReport& report : result.reports) {
        text += "\n  " + report.name + ": " + report.description;
        if (text.size() > 2000) {
            break;
        }
    }
    return text + "\n  reproduce: " + result.reproduce;
}

// A run of `scenario` and its history, as the file --history writes reads back.
struct RecordedRun {
    RunResult result;
    model::History history;
};

RecordedRun recorded_run(const Spec& scenario, std::uint64_t seed) {
    std::ostringstream written;
    RecordedRun recorded{.result = run(scenario, RunOptions{.seed = seed, .history = &written}), .history = {}};
    std::istringstream in(written.str());
    recorded.history = model::read_history(in);
    return recorded;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& param_info) {
    std::string name = param_info.param;
    std::replace(name.begin(), name.end(), '-', '_');
    return name;
}

class MustPass : public ::testing::TestWithParam<std::string> {};

TEST_P(MustPass, FixedSeedRangePasses) {
    const Spec& scenario = spec(GetParam());
    for (std::uint64_t seed = 1; seed <= must_pass_seeds; ++seed) {
        const RunResult result = run(scenario, RunOptions{.seed = seed});
        ASSERT_EQ(result.status, RunStatus::pass) << GetParam() << " seed " << seed << ": " << describe(result);
    }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, MustPass,
                         ::testing::Values("log-acks-all", "log-power-loss-fsync", "idempotent-acks-all",
                                           "idempotent-retention", "compaction", "txn-basic", "txn-zombie",
                                           "txn-coordinator-failover", "ctp-eos", "group-rebalance",
                                           "ctp-stale-coordinator", "word-count-eos", "eos-echo-sum-eos",
                                           "eos-echo-sum-repartition-eos", "account-balance-eos",
                                           "syslog-filter-eos", "fraud-window-eos", "vip-join-eos",
                                           "fraud-window-standby-eos", "eos-echo-sum-cooperative-eos", "log-clock-disk",
                                           "txn-clock-disk", "idempotent-one-broker", "txn-one-broker", "txn-version-1", "client-crashes",
                                           "swarm"),
                         test_name);

// Seeds that once failed a must-pass scenario, each for a defect since fixed:
//  345, 1458: a latent bit flip left in the ISR until the replica was the last one in sync (now scrubbed
//             within the lag bound, other faults wait for the repair);
//  989:       a lost AlterPartition answer made the leader forget a replica the controller had added to
//             the ISR (now the high watermark waits for members in doubt);
//  2872:      a lossy crash while the controller, back from isolation, was about to expire every
//             session (a healthy cluster now means fresh heartbeats).
TEST(Regressions, LogAcksAllSeedsThatOnceFailedPass) {
    const Spec& scenario = spec("log-acks-all");
    for (const std::uint64_t seed : {345U, 989U, 1458U, 2872U}) {
        const RunResult result = run(scenario, seed);
        EXPECT_EQ(result.status, RunStatus::pass) << "seed " << seed << ": " << describe(result);
    }
}

//  idempotent-acks-all 6:   the producer sent new batches while an older one was unacknowledged, so more
//                           than 5 batches followed it and its retry no longer found it in the broker's
//                           memory (now acknowledged batches hold their window place);
//  idempotent-acks-all 232: a bit flip on a leader whose ISR change to itself alone was in flight (a
//                           healthy cluster now means no ISR change under way and followers caught up);
//  idempotent-retention 52: an emptied follower starting inside the leader's first batch (after
//                           DeleteRecords) fetched forever (now it starts at that batch);
//  log-power-loss-fsync 99: the epoch checkpoint lagged the log after a crash, so leader and followers
//                           disagreed on where an epoch ended, forever (recovery now takes epochs from
//                           the batches).
// txn-one-broker 204, 545, 570: the broker's session expired and the controller elected it again at a new
// leader epoch; before it reloaded its transaction coordinators, one of them appended a transaction's
// completion, which the broker refused for the old coordinator epoch. The transaction stayed prepared
// with nothing pending, and its producer's next EndTxn was answered PRODUCER_FENCED (spurious-fence).
// The append now takes a later leader epoch, as Kafka's does.
TEST(Regressions, TxnOneBrokerSeedsThatOnceFailedPass) {
    const Spec& scenario = spec("txn-one-broker");
    for (const std::uint64_t seed : {204U, 545U, 570U}) {
        const RunResult result = run(scenario, seed);
        EXPECT_EQ(result.status, RunStatus::pass) << "seed " << seed << ": " << describe(result);
    }
}

// A replica that fetched around a tombstone another replica's cleaner had removed keeps the key's older
// record and may later lead with it (Kafka's delete.retention.ms limit, KAFKA-4545; first seen as
// compaction seed 491). The allowance excuses it only because the witness saw that tombstone outrun the
// replica: without the allowance, the same run fails with compaction-consistency. Tombstones that go
// 100 ms after they are cleanable make it common enough to find within a few seeds.
TEST(Regressions, ATombstoneThatOutranAReplicaIsExcusedOnlyByItsCause) {
    Spec quick = spec("compaction");
    quick.cluster.delete_retention_ms = 100;
    quick.cluster.min_compaction_lag_ms = 200;
    std::optional<RunResult> allowed;
    for (std::uint64_t seed = 1; seed <= 200 && !allowed; ++seed) {
        RunResult result = run(quick, seed);
        ASSERT_EQ(result.status, RunStatus::pass) << describe(result);
        if (!result.allowed.empty()) {
            allowed = std::move(result);
        }
    }
    ASSERT_TRUE(allowed.has_value()) << "no seed of 1..200 had a tombstone outrun a replica";
    EXPECT_EQ(allowed->allowed, std::vector<std::string>{"compaction-consistency"});
    Spec strict = quick;
    strict.checks.allowed.clear();
    const RunResult failed = run(strict, allowed->seed);
    EXPECT_EQ(failed.anomalies, std::vector<std::string>{"compaction-consistency"}) << describe(failed);
    EXPECT_EQ(failed.fingerprint, allowed->fingerprint) << "the allowance changes the verdict, not the run";
}

// idempotent-retention as it was when seeds 52 and 554 failed: its first topic only (a single-topic run
// draws and runs exactly as before the second topic came).
Spec first_topic_only(Spec scenario) {
    scenario.topics.resize(1);
    return scenario;
}

TEST(Regressions, SeedsThatOnceFailedPass) {
    const std::vector<std::pair<std::string, std::uint64_t>> seeds{
        {"idempotent-acks-all", 6},     {"idempotent-acks-all", 232}, {"idempotent-retention", 52},
        {"log-power-loss-fsync", 99},   {"idempotent-retention", 554},  // DeleteRecords undone by a new leader
        {"compaction", 491},
        {"syslog-filter-eos", 930},     // a stream thread's heartbeats stopped for good once its coordinator was unknown
        {"ctp-stale-coordinator", 238}};  // spurious-fence judged an old producer's late answer by a new one
    for (const auto& [name, seed] : seeds) {
        const Spec scenario = name == "idempotent-retention" ? first_topic_only(spec(name)) : spec(name);
        const RunResult result = run(scenario, seed);
        EXPECT_EQ(result.status, RunStatus::pass) << name << " seed " << seed << ": " << describe(result);
    }
}

// idempotent-retention has two topics with their own configs: producers send to both, the consumer reads
// both, replica lines say which is compacted, records carry keys only on the compacted one (the only
// keys the checkers read), and DeleteRecords to the compacted one is refused, as Kafka refuses it.
TEST(Topics, EachTopicOfASpecKeepsItsOwnConfigThroughTheRun) {
    const Spec& scenario = spec("idempotent-retention");
    ASSERT_EQ(scenario.topics.size(), 2U);
    std::map<std::string, int> acknowledged;
    std::map<std::pair<std::string, bool>, int> polled;  // (topic, with key)
    std::map<std::string, std::set<bool>> compacted;
    int refused_by_policy = 0;
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        const auto [result, history] = recorded_run(scenario, seed);
        ASSERT_EQ(result.status, RunStatus::pass) << describe(result);
        const auto topic_of = [](const std::string& partition) { return partition.substr(0, partition.rfind('-')); };
        for (const model::Operation& op : history.operations) {
            if (op.f == "send" && op.type == model::OpType::ok) {
                ++acknowledged[topic_of(*op.partition)];
            } else if (op.f == "poll" && op.type == model::OpType::ok) {
                for (const model::Record& record : *op.records) {
                    ++polled[{topic_of(*op.partition), record.key.has_value()}];
                }
            } else if (op.f == "delete-records" && op.error == "POLICY_VIOLATION") {
                EXPECT_EQ(topic_of(*op.partition), "latest");
                ++refused_by_policy;
            }
        }
        for (const model::ReplicaState& replica : history.replicas) {
            compacted[topic_of(replica.partition)].insert(replica.compacted);
            for (const model::Record& record : replica.records) {
                EXPECT_EQ(record.key.has_value(), replica.compacted) << replica.partition;
            }
        }
    }
    EXPECT_GT(acknowledged["events"], 1000);
    EXPECT_GT(acknowledged["latest"], 1000);
    EXPECT_GT((polled[{"events", false}]), 1000);
    EXPECT_GT((polled[{"latest", true}]), 1000);
    EXPECT_EQ((polled[{"events", true}]), 0);
    EXPECT_EQ((polled[{"latest", false}]), 0);
    EXPECT_EQ(compacted["events"], std::set<bool>{false});
    EXPECT_EQ(compacted["latest"], std::set<bool>{true});
    EXPECT_GT(refused_by_policy, 0);
}

// The availability check has something to hold: in idempotent-retention the probe sends go out on a
// cluster that has been healthy (health lines) for longer than the check's grace, after the producers
// idled past producer id expiration, so some probes meet brokers that forgot them (UNKNOWN_PRODUCER_ID,
// then an epoch bump and a second attempt), and none fails.
TEST(Availability, ProbesMeetAHealthyClusterThatForgotTheProducers) {
    const Spec& scenario = spec("idempotent-retention");
    ASSERT_GT(scenario.workload.probe_idle_ms, 5000);
    int probes = 0;
    int retried_probes = 0;
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        const auto [result, history] = recorded_run(scenario, seed);
        ASSERT_EQ(result.status, RunStatus::pass) << describe(result);
        ASSERT_FALSE(history.health.empty());
        ASSERT_TRUE(history.health.back().healthy);
        const std::int64_t healthy_from = history.health.back().time;
        for (const model::Operation& op : history.operations) {
            if (op.f != "send" || !op.value || op.value->find("-probe-") == std::string::npos) {
                continue;
            }
            if (op.type == model::OpType::invoke) {
                EXPECT_GE(op.time - model::availability_grace_ns, healthy_from) << *op.value;
                ++probes;
            } else {
                EXPECT_EQ(op.type, model::OpType::ok) << *op.value;
                retried_probes += op.attempts.value_or(1) > 1 ? 1 : 0;
            }
        }
    }
    EXPECT_EQ(probes, 3 * scenario.workload.producers * scenario.workload.probe_sends);
    EXPECT_GT(retried_probes, 0);
}

// In every scenario, not only those that idle before probing, the probes go out on a cluster healthy for
// longer than the availability check's grace: the check holds every run's probes.
TEST(Availability, EveryScenariosProbesAreHeldByTheCheck) {
    for (const char* name : {"log-acks-all", "idempotent-acks-all", "compaction", "log-acks-1"}) {
        const Spec& scenario = spec(name);
        const model::History history = recorded_run(scenario, 2).history;
        ASSERT_FALSE(history.health.empty()) << name;
        ASSERT_TRUE(history.health.back().healthy) << name;
        int probes = 0;
        for (const model::Operation& op : history.operations) {
            if (op.f == "send" && op.type == model::OpType::invoke && op.value &&
                op.value->find("-probe-") != std::string::npos) {
                EXPECT_GE(op.time - model::availability_grace_ns, history.health.back().time) << name;
                ++probes;
            }
        }
        EXPECT_GE(probes, scenario.workload.producers * scenario.workload.probe_sends) << name;
    }
}

class Weakness : public ::testing::TestWithParam<std::string> {};

// Every seed of the range: the declared weakness shows in some, and no seed shows anything that is neither
// the weakness nor allowed with its cause.
TEST_P(Weakness, IsObservedWithinTheSeedRangeAndNothingElseFails) {
    const Spec& scenario = spec(GetParam());
    ASSERT_FALSE(scenario.checks.weaknesses.empty());
    std::uint64_t observed = 0;
    for (std::uint64_t seed = 1; seed <= weakness_seeds_max; ++seed) {
        const RunResult result = run(scenario, RunOptions{.seed = seed});
        ASSERT_EQ(result.status, RunStatus::pass) << GetParam() << " seed " << seed << ": " << describe(result);
        const std::vector<std::string>& seen = result.weaknesses;
        if (std::find(seen.begin(), seen.end(), scenario.checks.weaknesses.front()) != seen.end()) {
            ++observed;
        }
    }
    EXPECT_GT(observed, 0U) << GetParam() << ": no seed in 1.." << weakness_seeds_max << " showed "
                            << scenario.checks.weaknesses.front();
}

INSTANTIATE_TEST_SUITE_P(Scenarios, Weakness,
                         ::testing::Values("log-acks-1", "log-unclean-election", "log-power-loss",
                                           "txn-read-uncommitted", "ctp-at-least-once", "word-count-alos",
                                           "eos-echo-sum-alos", "eos-echo-sum-repartition-alos", "account-balance-alos",
                                           "syslog-filter-alos", "fraud-window-alos", "vip-join-alos"),
                         test_name);

// "lost-write, inconsistent-offsets" -> {"lost-write", "inconsistent-offsets"}: names match exactly.
std::vector<std::string> split_names(std::string_view list) {
    std::vector<std::string> names;
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        std::string_view name = list.substr(0, comma);
        while (!name.empty() && name.front() == ' ') {
            name.remove_prefix(1);
        }
        names.emplace_back(name);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
    return names;
}

class BugSwitchCaught : public ::testing::TestWithParam<std::string> {};

TEST_P(BugSwitchCaught, BySweepOfItsScenario) {
    const BugSwitch* bug = find_bug(GetParam());
    ASSERT_NE(bug, nullptr);
    const Spec& scenario = spec(std::string(bug->scenario));
    for (std::uint64_t seed = 1; seed <= bug_seeds_max; ++seed) {
        const RunResult result = run(scenario, RunOptions{.seed = seed, .bug = GetParam()});
        ASSERT_NE(result.status, RunStatus::error) << describe(result);
        if (result.status == RunStatus::fail) {
            // The anomaly is one of those the switch is documented to be caught by.
            const std::vector<std::string> documented = split_names(bug->caught_by);
            bool expected = false;
            for (const std::string& anomaly : result.anomalies) {
                expected = expected || std::find(documented.begin(), documented.end(), anomaly) != documented.end();
            }
            EXPECT_TRUE(expected) << GetParam() << " seed " << seed << ": " << describe(result);
            // The reproduce command's run gives the same result.
            const RunResult again = run(scenario, RunOptions{.seed = seed, .bug = GetParam()});
            EXPECT_EQ(again.fingerprint, result.fingerprint);
            EXPECT_EQ(again.anomalies, result.anomalies);
            return;
        }
    }
    ADD_FAILURE() << GetParam() << " was not caught in seeds 1.." << bug_seeds_max << " of " << bug->scenario;
}

INSTANTIATE_TEST_SUITE_P(Scenarios, BugSwitchCaught,
                         ::testing::Values("kip101-hw-truncation", "kafka-6361", "kafka-6683", "kafka-7164", "kafka-15583", "ack-before-isr", "no-crc-check", "no-dedup",
                                           "dedup-window-1", "producer-state-not-recovered", "compaction-drops-latest",
                                           "no-zombie-fencing", "lso-ignores-open-txn", "kafka-5376", "kafka-12671",
                                           "kafka-14884", "kafka-17754", "kafka-18464", "kafka-19446", "kafka-9144",
                                           "coordinator-forgets-markers", "kip447-no-generation-fence",
                                           "offset-fetch-ignores-pending", "kafka-17507", "kafka-17582",
                                           "pending-offsets-lost-on-failover", "coordinator-without-lease",
                                           "kafka-7192", "streams-partial-commit", "restore-skips-tail",
                                           "kafka-9891", "kafka-16017", "kafka-18943"),
                         test_name);

// ack-before-isr breaks an invariant the broker checks as it answers: caught at once, with no fault at
// all, while the same quiet run without the switch passes.
TEST(Invariants, AckBeforeIsrIsCaughtInTheRunWithoutAnyFault) {
    Spec quiet = spec("log-acks-all");
    quiet.faults.plan.kinds.clear();
    quiet.buggify = false;
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        const RunResult clean = run(quiet, seed);
        EXPECT_EQ(clean.status, RunStatus::pass) << describe(clean);
        const RunResult result = run(quiet, RunOptions{.seed = seed, .bug = "ack-before-isr"});
        ASSERT_EQ(result.status, RunStatus::fail) << describe(result);
        EXPECT_EQ(result.anomalies, std::vector<std::string>{"invariant-violation"});
        ASSERT_EQ(result.reports.size(), 1U);
        EXPECT_NE(result.reports[0].description.find("acks-all-after-high-watermark"), std::string::npos)
            << result.reports[0].description;
    }
}

// The checkers read the run's history in memory; the file --history writes holds the same history: checked
// from the file, it gives the same anomalies, in the same order (runs with bug switches and a weakness).
TEST(HistoryPipeline, TheWrittenHistoryChecksLikeTheInMemoryOne) {
    struct Case {
        const char* scenario;
        const char* bug;
        std::uint64_t seed;
    };
    for (const Case& c : {Case{"log-acks-all", "kip101-hw-truncation", 5}, Case{"idempotent-acks-all", "no-dedup", 1},
                          Case{"compaction", "compaction-drops-latest", 1}, Case{"log-acks-1", "", 1}}) {
        std::ostringstream written;
        const RunResult result = run(spec(c.scenario), RunOptions{.seed = c.seed, .bug = c.bug, .history = &written});
        std::istringstream in(written.str());
        const std::vector<model::Anomaly> from_file = model::check(model::read_history(in));
        ASSERT_EQ(from_file.size(), result.reports.size()) << c.scenario << " " << c.bug;
        for (std::size_t i = 0; i < from_file.size(); ++i) {
            EXPECT_EQ(from_file[i].name, result.reports[i].name) << c.scenario;
            EXPECT_EQ(from_file[i].description, result.reports[i].description) << c.scenario;
        }
        EXPECT_FALSE(result.reports.empty()) << c.scenario << " " << c.bug << ": seed " << c.seed << " shows anomalies";
    }
}

TEST(ScenarioDeterminism, EveryScenarioGivesTheSameFingerprintTwice) {
    for (const Spec& scenario : builtin_specs()) {
        const RunResult first = run(scenario, 42);
        const RunResult second = run(scenario, 42, RunOptions{});
        EXPECT_EQ(first.fingerprint, second.fingerprint) << scenario.name;
        EXPECT_EQ(first.events, second.events) << scenario.name;
        EXPECT_EQ(first.anomalies, second.anomalies) << scenario.name;
    }
}

// The release and asan builds give every scenario's seed the same fingerprint. This test runs in the asan
// build, which knows the release build's eosim (EOSIM_PEER_EOSIM): it sweeps every scenario over a few
// seeds there, writing --out, and compares each line with the same run here.
TEST(ScenarioDeterminism, SameFingerprintInReleaseAndAsanBuilds) {
#if !defined(EOSIM_PEER_EOSIM)
    GTEST_SKIP() << "no peer build configured (the asan preset compares with build/release)";
#else
    const std::string tool = EOSIM_PEER_EOSIM;
    if (!std::ifstream(tool)) {
        GTEST_SKIP() << "peer build has no " << tool << " (build the release preset first)";
    }
    const std::string out = ::testing::TempDir() + "eosim-peer-fingerprints.jsonl";
    const std::string command = tool + " sweep all --seeds 1..3 --out " + out + " > /dev/null 2>&1";
    const int status = std::system(command.c_str());
    ASSERT_TRUE(WIFEXITED(status)) << command;
    ASSERT_NE(WEXITSTATUS(status), 2) << command;
    ASSERT_NE(WEXITSTATUS(status), 3) << command;
    std::ifstream lines(out);
    std::string line;
    std::size_t compared = 0;
    while (std::getline(lines, line)) {
        const nlohmann::json peer = nlohmann::json::parse(line);
        const RunResult here =
            run(spec(peer.at("scenario").get<std::string>()), RunOptions{.seed = peer.at("seed").get<std::uint64_t>()});
        EXPECT_EQ(fmt::format("{:016x}", here.fingerprint), peer.at("fingerprint").get<std::string>()) << line;
        EXPECT_EQ(here.events, peer.at("events").get<std::uint64_t>()) << line;
        ++compared;
    }
    EXPECT_EQ(compared, 3 * builtin_specs().size());
#endif
}

}  // namespace
}  // namespace eosim::scenarios
