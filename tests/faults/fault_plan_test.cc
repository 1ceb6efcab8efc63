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

}  // namespace
}  // namespace eosim::faults
