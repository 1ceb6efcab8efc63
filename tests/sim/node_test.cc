#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/simulation.h"

namespace eosim::sim {
namespace {

struct Witness {
    int* counter;
    ~Witness() { ++*counter; }
};

// A process that counts its boots on disk and keeps a few fibers asleep.
class Counting final : public NodeState {
public:
    Counting(Node& node, int& destroyed, std::vector<std::uint64_t>& boots) : destroyed_(destroyed) {
        Disk& disk = node.disk();
        (void)disk.create("boots");
        const std::uint64_t previous = disk.size("boots").value();
        boots.push_back(previous);
        const std::byte mark{1};
        (void)disk.append("boots", std::span(&mark, 1));
        (void)disk.fsync("boots");  // outside a fiber: durable at once
        for (int i = 0; i < 3; ++i) {
            node.spawn("sleeper", [this] {
                const Witness witness{&destroyed_};
                sleep(1h);
            });
        }
    }
    ~Counting() override { ++destroyed_; }

private:
    int& destroyed_;
};

TEST(Node, CrashUnwindsFibersDestroysStateAndRestartBootsFromDisk) {
    Simulation simulation(SimulationOptions{.seed = 3});
    int destroyed = 0;
    std::vector<std::uint64_t> boots;
    Node& node = simulation.add_node("n1", [&](Node& n) { return std::make_unique<Counting>(n, destroyed, boots); });
    node.start();
    EXPECT_EQ(node.fiber_count(), 3U);
    simulation.world().spawn("nemesis", [&] {
        sleep(10ms);
        (void)node.crash();
        EXPECT_FALSE(node.up());
        EXPECT_EQ(node.fiber_count(), 0U);
        EXPECT_EQ(destroyed, 4);  // three fibers' witnesses and the state
        sleep(10ms);
        node.restart();
    });
    (void)simulation.run(RunBounds{.time_limit = Time(1s)});
    EXPECT_TRUE(node.up());
    EXPECT_EQ(node.incarnation(), 2U);
    EXPECT_EQ(boots, (std::vector<std::uint64_t>{0, 1}));
}

TEST(Node, CrashFromItsOwnFiberUnwindsTheCallerToo) {
    Simulation simulation(SimulationOptions{.seed = 3});
    int destroyed = 0;
    std::vector<std::uint64_t> boots;
    Node& node = simulation.add_node("n1", [&](Node& n) { return std::make_unique<Counting>(n, destroyed, boots); });
    node.start();
    bool went_on = false;
    node.spawn("suicide", [&] {
        const Witness witness{&destroyed};
        sleep(5ms);
        (void)this_node().crash();
        went_on = true;
    });
    (void)simulation.run(RunBounds{.time_limit = Time(1s)});
    EXPECT_FALSE(went_on);
    EXPECT_FALSE(node.up());
    EXPECT_EQ(destroyed, 5);
    EXPECT_EQ(simulation.scheduler().live_fibers(), 0U);
}

TEST(Node, TimersOfACrashedNodeNeverFire) {
    Simulation simulation(SimulationOptions{.seed = 3});
    int fired = 0;
    Node& node = simulation.add_node("n1", [](Node&) { return std::make_unique<NodeState>(); });
    node.start();
    (void)node.after(10ms, [&] { ++fired; });
    simulation.world().spawn("nemesis", [&] {
        sleep(5ms);
        (void)node.crash();
        node.restart();
    });
    (void)simulation.run(RunBounds{});
    EXPECT_EQ(fired, 0);
}

TEST(Node, PausedNodeFiresLateWhileOthersProgress) {
    Simulation simulation(SimulationOptions{.seed = 3});
    Node& paused = simulation.add_node("paused", [](Node&) { return std::make_unique<NodeState>(); });
    Node& busy = simulation.add_node("busy", [](Node&) { return std::make_unique<NodeState>(); });
    paused.start();
    busy.start();
    Time woke{};
    Time timer_fired{};
    int busy_ticks_during_pause = 0;
    paused.spawn("sleeper", [&] {
        sleep(10ms);
        woke = now();
    });
    (void)paused.after(20ms, [&] { timer_fired = now(); });
    busy.spawn("ticker", [&] {
        while (now() < Time(200ms)) {
            sleep(1ms);
            if (paused.paused()) {
                ++busy_ticks_during_pause;
            }
        }
    });
    simulation.world().spawn("nemesis", [&] {
        sleep(5ms);
        paused.pause(100ms);
    });
    (void)simulation.run(RunBounds{});
    EXPECT_EQ(woke, Time(105ms));
    EXPECT_EQ(timer_fired, Time(105ms));
    EXPECT_GE(busy_ticks_during_pause, 95);
}

TEST(Node, LocalClockSkewDriftAndJump) {
    Simulation simulation(SimulationOptions{.seed = 3});
    Node& node = simulation.add_node("n1", [](Node&) { return std::make_unique<NodeState>(); });
    node.start();
    node.clock().set_drift(simulation.now(), 1000.0);  // runs 0.1% fast
    Time slept_until{};
    node.spawn("sleeper", [&] {
        sleep(1s);
        slept_until = now();
    });
    (void)simulation.run(RunBounds{});
    // A fast clock reaches one local second before one true second has passed.
    EXPECT_LT(slept_until, Time(1s));
    EXPECT_GT(slept_until, Time(998ms));
    const Time before = node.local_now();
    node.clock().jump(-5s);
    EXPECT_EQ(node.local_now(), before - 5s);
}

}  // namespace
}  // namespace eosim::sim
