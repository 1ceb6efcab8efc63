#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "scenarios/runner.h"
#include "scenarios/spec.h"
#include "scenarios/swarm.h"

namespace eosim::scenarios {
namespace {

TEST(Swarm, TheSeedAloneDecidesTheDraw) {
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
        const SwarmDraw first = draw_swarm(seed);
        const SwarmDraw again = draw_swarm(seed);
        EXPECT_EQ(first.toml, again.toml) << seed;
        EXPECT_EQ(first.knobs, again.knobs) << seed;
    }
    EXPECT_NE(draw_swarm(1).toml, draw_swarm(2).toml);
}

TEST(Swarm, EveryDrawIsAValidMustPassSpecAndTheDrawsVary) {
    std::set<std::string> bases;
    std::set<std::int32_t> brokers;
    std::set<bool> buggify;
    int client_faults_added = 0;
    int groups_added = 0;
    int transactions_added = 0;
    int version_1 = 0;
    int beside_application = 0;
    for (std::uint64_t seed = 1; seed <= 300; ++seed) {
        const SwarmDraw draw = draw_swarm(seed);
        Spec spec;
        ASSERT_NO_THROW(spec = swarm_spec(draw, seed)) << "seed " << seed << ":\n" << draw.toml;
        EXPECT_EQ(spec.name, "swarm");
        EXPECT_TRUE(spec.checks.weaknesses.empty()) << seed;
        EXPECT_GE(spec.cluster.brokers, 1) << seed;
        EXPECT_LE(spec.cluster.brokers, 5) << seed;
        if (spec.cluster.brokers == 1) {
            // One copy: flushed on every write, crashes keep the page cache, nothing takes durable bytes.
            EXPECT_TRUE(spec.cluster.flush_every_write) << seed;
            EXPECT_EQ(spec.faults.plan.crash_unsynced, sim::UnsyncedFate::keep) << seed;
            for (const faults::FaultKind kind : spec.faults.plan.kinds) {
                EXPECT_TRUE(kind != faults::FaultKind::corrupt && kind != faults::FaultKind::lose_segment &&
                            kind != faults::FaultKind::power_loss && kind != faults::FaultKind::crash_rack &&
                            kind != faults::FaultKind::corrupt_file && kind != faults::FaultKind::crash_several)
                    << seed << ": " << faults::to_string(kind);
            }
        } else {
            EXPECT_GE(spec.cluster.min_insync_replicas, 2) << seed << ": every drawn cluster of two or more keeps min ISR 2";
        }
        if (spec.workload.client_faults && draw.base != "client-crashes") {
            ++client_faults_added;
            EXPECT_TRUE(spec.workload.stream_app.empty()) << seed;
            EXPECT_GT(spec.workload.instance_faults_every_max_ms, 0) << seed;
        }
        // Several workloads at once: a group or transactional writers beside the base's, never beside an
        // application that owns its topics, and an allowance for their read_uncommitted readers.
        const Spec& base = *find_builtin(draw.base);
        const bool group_added = spec.workload.group_members > 0 && base.workload.group_members == 0;
        const bool transactions = spec.workload.transactional_producers > 0 && base.workload.transactional_producers == 0;
        groups_added += group_added ? 1 : 0;
        transactions_added += transactions ? 1 : 0;
        if ((group_added || transactions) && (spec.workload.ctp_instances > 0 || !spec.workload.stream_app.empty())) {
            // Beside an application, on a topic of their own.
            ++beside_application;
            EXPECT_EQ(spec.workload.txn_topics, std::vector<std::string>{"side"}) << seed;
            EXPECT_TRUE(!group_added || spec.workload.group_topics == std::vector<std::string>{"side"}) << seed;
        }
        if (transactions) {
            EXPECT_GE(spec.workload.read_committed_consumers, 1) << seed;
        }
        if (transactions && spec.workload.ctp_instances == 0 && spec.workload.stream_app.empty()) {
            // Beside producers: past their delivery timeout (an application's keeps its own timeout).
            EXPECT_GE(spec.workload.txn_timeout_ms, spec.workload.delivery_timeout_ms + 2000) << seed;
        }
        if (spec.workload.transactional_producers > 0 && (spec.workload.consumers > 0 || spec.workload.group_members > 0)) {
            EXPECT_NE(std::find(spec.checks.allowed.begin(), spec.checks.allowed.end(),
                                Allowance{"aborted-read", "read-uncommitted"}),
                      spec.checks.allowed.end())
                << seed << ": a read_uncommitted reader of transactional writers";
        }
        // Transaction version 1 only with transactional writers and no application, and with the excuses of
        // its late requests.
        if (spec.cluster.transaction_version == 1) {
            ++version_1;
            EXPECT_GT(spec.workload.transactional_producers, 0) << seed;
            EXPECT_EQ(spec.workload.ctp_instances, 0) << seed;
            EXPECT_TRUE(spec.workload.stream_app.empty()) << seed;
            EXPECT_NE(std::find(spec.checks.allowed.begin(), spec.checks.allowed.end(),
                                Allowance{"torn-transaction", "late-request"}),
                      spec.checks.allowed.end())
                << seed;
        }
        EXPECT_EQ(draw.knobs.front().first, "base");
        bases.insert(draw.base);
        brokers.insert(spec.cluster.brokers);
        buggify.insert(spec.buggify);
    }
    EXPECT_GE(bases.size(), 15U) << "most must-pass scenarios are drawn";
    EXPECT_EQ(brokers, (std::set<std::int32_t>{1, 2, 3, 4, 5}));
    EXPECT_EQ(buggify.size(), 2U);
    EXPECT_GT(client_faults_added, 0) << "swarm adds client crashes to other bases now and then";
    EXPECT_GT(groups_added, 10) << "swarm adds a consumer group beside other workloads";
    EXPECT_GT(transactions_added, 5) << "swarm adds transactional writers beside producers";
    EXPECT_GT(version_1, 3) << "swarm draws transaction version 1 now and then";
    EXPECT_GT(beside_application, 5) << "swarm adds workloads beside applications too";
}

TEST(Swarm, ARunRecordsItsKnobsAndReplaysFromTheSeed) {
    const Spec& swarm = *find_builtin("swarm");
    ASSERT_TRUE(swarm.swarm);
    const RunResult first = run(swarm, 7);
    const RunResult again = run(swarm, 7);
    EXPECT_EQ(first.status, RunStatus::pass) << first.error;
    EXPECT_EQ(first.fingerprint, again.fingerprint);
    EXPECT_EQ(first.scenario, "swarm");
    EXPECT_EQ(first.reproduce, "./eosim run swarm --seed 7");
    EXPECT_EQ(first.drawn_spec, draw_swarm(7).toml);
    std::size_t knobs = 0;
    for (const auto& [name, value] : first.params) {
        knobs += name.starts_with("swarm.") ? 1U : 0U;
    }
    EXPECT_EQ(knobs, draw_swarm(7).knobs.size());
    // The drawn spec, run as a spec file (eosim run --spec), is the same run (its fingerprint differs only by
    // the knobs' Param lines).
    const RunResult as_file = run(parse_spec(first.drawn_spec, "drawn"), 7);
    EXPECT_EQ(as_file.status, first.status);
    EXPECT_EQ(as_file.events, first.events);
    EXPECT_EQ(as_file.sim_ns, first.sim_ns);
}

}  // namespace
}  // namespace eosim::scenarios
