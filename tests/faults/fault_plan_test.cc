#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "faults/fault_plan.h"
#include "sim/invariants.h"

namespace eosim::faults {
namespace {

const std::vector<std::string> brokers{"broker-1", "broker-2", "broker-3"};

FaultPlanOptions aimed_options() {
    FaultPlanOptions options;
    options.kinds = {FaultKind::aimed_crash, FaultKind::aimed_pause, FaultKind::aimed_partition, FaultKind::crash};
    options.chaos = std::chrono::seconds(60);
    return options;
}

TEST(FaultPlan, AimedKindsAreDrawnFromTheSeedAlone) {
    const FaultPlanOptions options = aimed_options();
    const FaultPlan first = draw_fault_plan(sim::Random(7).fork("fault-plan"), options, brokers, "controller");
    const FaultPlan again = draw_fault_plan(sim::Random(7).fork("fault-plan"), options, brokers, "controller");
    const FaultPlan other = draw_fault_plan(sim::Random(8).fork("fault-plan"), options, brokers, "controller");
    EXPECT_EQ(to_json(first), to_json(again));
    EXPECT_NE(to_json(first), to_json(other));
    std::set<std::string_view> moments;
    std::set<bool> peers;
    std::size_t aimed_actions = 0;
    for (const FaultAction& action : first.actions) {
        if (!aimed(action.kind)) {
            EXPECT_TRUE(action.aim_at.empty());
            continue;
        }
        ++aimed_actions;
        moments.insert(action.aim_at);
        peers.insert(action.aim_at_peer);
        EXPECT_EQ(action.aim_window, options.aim_window);
        ASSERT_EQ(action.targets.size(), 1U);  // the fallback target: one broker
        EXPECT_NE(std::find(brokers.begin(), brokers.end(), action.targets.front()), brokers.end());
        EXPECT_EQ(to_json(action).at("aim_at").get<std::string>(), std::string(action.aim_at));
    }
    EXPECT_GT(aimed_actions, 10U);
    EXPECT_EQ(moments.size(), aim_moments().size()) << "every moment is drawn when aim_at is empty";
    EXPECT_EQ(peers.size(), 2U);
}

TEST(FaultPlan, AimAtRestrictsTheMoments) {
    FaultPlanOptions options = aimed_options();
    options.aim_at = {sim::moments::isr_expanded};
    const FaultPlan plan = draw_fault_plan(sim::Random(3).fork("fault-plan"), options, brokers, "controller");
    for (const FaultAction& action : plan.actions) {
        if (aimed(action.kind)) {
            EXPECT_EQ(action.aim_at, sim::moments::isr_expanded);
        }
    }
}

TEST(FaultPlan, AddingAimedKindsLeavesOtherSpecsPlansAlone) {
    // A plan without aimed kinds draws nothing for aiming: the same seed gives the same plan it gave.
    FaultPlanOptions options;
    options.kinds = {FaultKind::crash, FaultKind::partition};
    FaultPlanOptions with_moments = options;
    with_moments.aim_at = {sim::moments::recovery};
    EXPECT_EQ(to_json(draw_fault_plan(sim::Random(5), options, brokers, "controller")),
              to_json(draw_fault_plan(sim::Random(5), with_moments, brokers, "controller")));
}

TEST(FaultPlan, TheControllerCrashCarriesTheCrashFate) {
    FaultPlanOptions options;
    options.kinds = {FaultKind::crash_controller};
    options.crash_unsynced = sim::UnsyncedFate::lose;
    const FaultPlan plan = draw_fault_plan(sim::Random(1), options, brokers, "controller");
    ASSERT_FALSE(plan.actions.empty());
    for (const FaultAction& action : plan.actions) {
        EXPECT_EQ(action.targets, std::vector<std::string>{"controller"});
        EXPECT_EQ(action.unsynced, sim::UnsyncedFate::lose);
        EXPECT_EQ(to_json(action).at("unsynced"), "lose");
    }
}

TEST(FaultPlan, EveryMomentAndKindHasANameThatParses) {
    for (const MomentInfo& info : aim_moments()) {
        std::string_view parsed;
        ASSERT_TRUE(parse_aim_moment(std::string(info.name), parsed));
        EXPECT_EQ(parsed, info.name);
    }
    std::string_view unknown;
    EXPECT_FALSE(parse_aim_moment("nope", unknown));
    for (const FaultKindInfo& info : fault_kinds()) {
        FaultKind kind{};
        ASSERT_TRUE(parse_fault_kind(info.name, kind));
        EXPECT_EQ(kind, info.kind);
    }
}

// --plan replays a plan as -v printed it: read back, it is the same plan to the nanosecond.
TEST(FaultPlan, APlanReadsBackAsItWasWritten) {
    FaultPlanOptions options;
    for (const FaultKindInfo& info : fault_kinds()) {
        if (!on_instance(info.kind)) {
            options.kinds.push_back(info.kind);
        }
    }
    options.chaos = std::chrono::seconds(120);
    const FaultPlan drawn = merge(
        draw_fault_plan(sim::Random(11).fork("fault-plan"), options, brokers, "controller"),
        draw_instance_faults(sim::Random(11).fork("instance-faults"),
                             InstanceFaultOptions{.chaos = std::chrono::seconds(120),
                                                  .every_min = std::chrono::milliseconds(300),
                                                  .every_max = std::chrono::milliseconds(900),
                                                  .length_min = std::chrono::milliseconds(100),
                                                  .length_max = std::chrono::milliseconds(2000),
                                                  .corrupt_state = true},
                             {"app-1", "app-2"}));
    std::set<FaultKind> kinds;
    for (const FaultAction& action : drawn.actions) {
        kinds.insert(action.kind);
    }
    EXPECT_EQ(kinds.size(), fault_kinds().size()) << "every kind is in the plan";
    const nlohmann::json written = to_json(drawn);
    const FaultPlan read = plan_from_json(nlohmann::json::parse(written.dump()));
    ASSERT_EQ(read.actions.size(), drawn.actions.size());
    for (std::size_t i = 0; i < read.actions.size(); ++i) {
        EXPECT_EQ(read.actions[i].at, drawn.actions[i].at) << i;
        EXPECT_EQ(read.actions[i].duration, drawn.actions[i].duration) << i;
        EXPECT_EQ(read.actions[i].extra_latency, drawn.actions[i].extra_latency) << i;
        EXPECT_EQ(read.actions[i].aim_delay, drawn.actions[i].aim_delay) << i;
        EXPECT_EQ(read.actions[i].aim_at, drawn.actions[i].aim_at) << i;
        EXPECT_EQ(read.actions[i].corrupt_state, drawn.actions[i].corrupt_state) << i;
        EXPECT_EQ(read.actions[i].clock_step, drawn.actions[i].clock_step) << i;
        EXPECT_EQ(read.actions[i].drift_ppm, drawn.actions[i].drift_ppm) << i;
        EXPECT_EQ(read.actions[i].free_bytes, drawn.actions[i].free_bytes) << i;
        EXPECT_EQ(read.actions[i].bytes_per_second, drawn.actions[i].bytes_per_second) << i;
        if (read.actions[i].kind == FaultKind::narrow_link) {
            EXPECT_GE(read.actions[i].bytes_per_second, 1024U) << i;
            EXPECT_LE(read.actions[i].bytes_per_second, 1024U * 1024U) << i;
        }
        EXPECT_EQ(read.actions[i].period, drawn.actions[i].period) << i;
        EXPECT_EQ(read.actions[i].targets, drawn.actions[i].targets) << i;
        EXPECT_EQ(read.actions[i].other_side, drawn.actions[i].other_side) << i;
    }
    EXPECT_EQ(to_json(read), written);
    for (std::size_t i = 1; i < read.actions.size(); ++i) {
        EXPECT_LE(read.actions[i - 1].at, read.actions[i].at) << "a merged plan is in time order";
    }
}

TEST(FaultPlan, InstanceFaultsAreWholeMillisecondsWithinTheChaosPhase) {
    const InstanceFaultOptions options{.chaos = std::chrono::seconds(10),
                                       .every_min = std::chrono::milliseconds(200),
                                       .every_max = std::chrono::milliseconds(400),
                                       .length_min = std::chrono::milliseconds(50),
                                       .length_max = std::chrono::milliseconds(60)};
    const FaultPlan plan = draw_instance_faults(sim::Random(5), options, {"a", "b"});
    EXPECT_GE(plan.actions.size(), 25U);
    std::set<FaultKind> kinds;
    for (const FaultAction& action : plan.actions) {
        EXPECT_LT(action.at, options.chaos);
        EXPECT_EQ(action.at.count() % 1'000'000, 0);
        EXPECT_GE(action.duration, options.length_min);
        EXPECT_LE(action.duration, options.length_max);
        EXPECT_FALSE(action.corrupt_state);
        kinds.insert(action.kind);
    }
    EXPECT_EQ(kinds, (std::set<FaultKind>{FaultKind::crash_instance, FaultKind::pause_instance}));
    EXPECT_TRUE(draw_instance_faults(sim::Random(5), options, {}).actions.empty());
}

TEST(FaultPlan, AHandWrittenPlanTakesDefaults) {
    const FaultPlan plan = plan_from_json(nlohmann::json::parse(
        R"({"actions":[{"at_ms":100,"kind":"crash","targets":["broker-1"]},
                       {"at_ms":200,"kind":"aimed-crash","targets":"broker-2","aim_at":"txn-prepared"},
                       {"at_ms":300.5,"kind":"latency-spike","extra_latency_ms":50}]})"));
    ASSERT_EQ(plan.actions.size(), 3U);
    EXPECT_EQ(plan.actions[0].duration, std::chrono::milliseconds(1000));
    EXPECT_EQ(plan.actions[0].unsynced, sim::UnsyncedFate::keep);
    EXPECT_EQ(plan.actions[1].targets, std::vector<std::string>{"broker-2"});
    EXPECT_EQ(plan.actions[1].aim_window, std::chrono::milliseconds(2000));
    EXPECT_EQ(plan.actions[2].at, std::chrono::microseconds(300'500));
}

TEST(FaultPlan, ABadPlanNamesTheActionAndTheField) {
    const auto error_of = [](const char* text) {
        try {
            (void)plan_from_json(nlohmann::json::parse(text));
        } catch (const PlanError& error) {
            return std::string(error.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(error_of(R"([])"), "a fault plan is an object with an array \"actions\"");
    EXPECT_EQ(error_of(R"({"actions":[],"x":1})"), "'x' is not a field of a fault plan (only \"actions\")");
    EXPECT_EQ(error_of(R"({"actions":[1]})"), "action 1: is not an object");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"targets":["broker-1"]}]})"), "action 1 kind: is missing");
    EXPECT_EQ(error_of(R"({"actions":[{"kind":"crash","targets":["broker-1"]}]})"), "action 1 at_ms: is missing");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":-1,"kind":"crash","targets":["broker-1"]}]})"),
              "action 1 at_ms: must be a number of milliseconds from 0 to 86400000");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"crash","targets":["broker-1"],"colour":"red"}]})"),
              "action 1 colour: is not a field of a fault action");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"partition","targets":["broker-1"]}]})"),
              "action 1 other_side: partition needs the far side's node");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"crash","targets":["broker-1","broker-2"]}]})"),
              "action 1 targets: crash takes 1 node");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"isolate","targets":["broker-1"],"other_side":["broker-2"]}]})"),
              "action 1 other_side: isolate has no far side");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"crash-several","targets":["broker-1","broker-2","broker-3"]}]})"),
              "no error");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"aimed-pause","targets":["broker-1"]}]})"),
              "action 1 aim_at: is missing (an aimed kind waits for a moment: see eosim list --faults)");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"narrow-link","targets":["broker-1"],"other_side":["broker-2"]}]})"),
              "action 1 bytes_per_second: is missing");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"slow-link","targets":["broker-1"],"other_side":["broker-2"],)"
                       R"("extra_latency_ms":5,"bytes_per_second":100}]})"),
              "action 1 bytes_per_second: slow-link takes no bytes_per_second");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"crash","targets":["broker-1"],"unsynced":"maybe"}]})"),
              "action 1 unsynced: 'maybe' is not keep, lose, tear or random");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"pause","targets":["broker-1"],"corrupt_state":true}]})"),
              "action 1 corrupt_state: only a crash-instance corrupts an instance's state");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"crash","targets":["broker-1"],"aim_at":"recovery"}]})"),
              "action 1 aim_at: crash is not an aimed kind");
    // The kinds of clocks, disks, link shapes and racks, and their own fields.
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"clock-jump","targets":["broker-1"],"clock_step_ms":-2500.5}]})"),
              "no error");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"clock-jump","targets":["broker-1"]}]})"),
              "action 1 clock_step_ms: is missing");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"clock-drift","targets":["broker-1"],"drift_ppm":1.5}]})"),
              "action 1 drift_ppm: must be a whole number from -500000 to 500000");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"crash","targets":["broker-1"],"drift_ppm":100}]})"),
              "action 1 drift_ppm: crash takes no drift_ppm");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"disk-full","targets":["broker-1"],"free_bytes":-1}]})"),
              "action 1 free_bytes: must be a whole number from 0 to 1099511627776");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"flap","targets":["broker-1"],"period_ms":0,)"
                       R"("other_side":["broker-2"]}]})"),
              "action 1 period_ms: must be more than 0");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"slow-link","targets":["broker-1"],"extra_latency_ms":5}]})"),
              "action 1 other_side: slow-link needs the far side's node");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"slow-disk","targets":["broker-1"]}]})"),
              "action 1 extra_latency_ms: is missing");
    EXPECT_EQ(error_of(R"({"actions":[{"at_ms":1,"kind":"crash-rack","targets":["broker-1","broker-3"]}]})"),
              "no error");
}

TEST(FaultPlan, ARackIsTheBrokersSpreadRoundRobinOverTheRacks) {
    FaultPlanOptions options;
    options.kinds = {FaultKind::crash_rack};
    options.chaos = std::chrono::seconds(30);
    const std::vector<std::string> five{"broker-1", "broker-2", "broker-3", "broker-4", "broker-5"};
    std::set<std::vector<std::string>> racks;
    for (const FaultAction& action : draw_fault_plan(sim::Random(3).fork("fault-plan"), options, five, "controller").actions) {
        racks.insert(action.targets);
    }
    EXPECT_EQ(racks, (std::set<std::vector<std::string>>{{"broker-1", "broker-3", "broker-5"}, {"broker-2", "broker-4"}}));
}

}  // namespace
}  // namespace eosim::faults
