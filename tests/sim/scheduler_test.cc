#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/simulation.h"

namespace eosim::sim {
namespace {

TEST(Scheduler, RunsEventsInTimeThenSpawnOrder) {
    Simulation simulation(SimulationOptions{.seed = 1});
    std::vector<std::string> order;
    Node& world = simulation.world();
    world.spawn("late", [&] {
        sleep(20ms);
        order.push_back("late");
    });
    world.spawn("early", [&] {
        sleep(10ms);
        order.push_back("early");
    });
    world.spawn("tie-a", [&] {
        sleep(15ms);
        order.push_back("tie-a");
    });
    world.spawn("tie-b", [&] {
        sleep(15ms);
        order.push_back("tie-b");
    });
    const RunOutcome outcome = simulation.run(RunBounds{});
    EXPECT_EQ(outcome.status, RunStatus::idle);
    EXPECT_EQ(order, (std::vector<std::string>{"early", "tie-a", "tie-b", "late"}));
    EXPECT_EQ(simulation.now(), Time(20ms));
}

TEST(Scheduler, TimeJumpsWhenNothingIsRunnable) {
    Simulation simulation(SimulationOptions{.seed = 1});
    Time woke{};
    simulation.world().spawn("sleeper", [&] {
        sleep(std::chrono::hours(24));
        woke = now();
    });
    const RunOutcome outcome = simulation.run(RunBounds{});
    EXPECT_EQ(woke, Time(std::chrono::hours(24)));
    EXPECT_LE(outcome.events, 3U);
}

}  // namespace
}  // namespace eosim::sim
