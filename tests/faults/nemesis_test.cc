#include <gtest/gtest.h>

#include <bit>
#include <deque>
#include <sstream>
#include <string>
#include <vector>

#include "faults/nemesis.h"
#include "sim/simulation.h"

namespace eosim::faults {
namespace {

using namespace std::chrono_literals;

// Answers the guards as told.
class FakeProbe final : public ClusterProbe {
public:
    explicit FakeProbe(bool healthy) : healthy_(healthy) {}
    [[nodiscard]] bool healthy() override { return healthy_; }
    [[nodiscard]] bool incarnation_registered(const std::string& /*broker*/) override { return true; }

private:
    bool healthy_;
};

// A process that, at each boot, notes how big its log is, then writes a few bytes it never fsyncs.
class Scribbler final : public sim::NodeState {
public:
    Scribbler(sim::Node& node, std::vector<std::uint64_t>& sizes_at_boot) {
        sim::Disk& disk = node.disk();
        if (!disk.exists("log")) {
            (void)disk.create("log");
            const std::string durable = "durable";
            (void)disk.append("log", std::as_bytes(std::span(durable.data(), durable.size())));
            (void)disk.fsync("log");  // outside a fiber: durable at once
        }
        sizes_at_boot.push_back(disk.size("log").value());
        const std::string unsynced = "unsynced";
        (void)disk.append("log", std::as_bytes(std::span(unsynced.data(), unsynced.size())));
    }
};

struct World {
    explicit World(std::ostream* trace = nullptr)
        : simulation(sim::SimulationOptions{.seed = 11, .trace_sink = trace}) {
        for (const char* name : {"controller", "broker-1", "broker-2"}) {
            auto& sizes = boots.emplace_back();
            simulation.add_node(name, [&sizes](sim::Node& n) { return std::make_unique<Scribbler>(n, sizes); })
                .start();
        }
    }

    sim::Node& node(const char* name) { return *simulation.find_node(name); }

    std::deque<std::vector<std::uint64_t>> boots;  // per node (a deque: the nodes keep references): its log's size at each boot
    sim::Simulation simulation;
};

FaultAction aimed_crash_at_leader(sim::Duration window) {
    FaultAction action;
    action.at = 100ms;
    action.kind = FaultKind::aimed_crash;
    action.targets = {"broker-1"};
    action.duration = 1s;
    action.unsynced = sim::UnsyncedFate::keep;
    action.aim_at = sim::moments::leader_elected;
    action.aim_window = window;
    return action;
}

NemesisOptions nemesis_options() {
    return NemesisOptions{.within_tolerance = true, .chaos = 10s, .servers = {"controller", "broker-1", "broker-2"}};
}

TEST(AimedFault, FiresTheMomentItsMomentComes) {
    World world;
    FakeProbe probe(true);
    Nemesis nemesis(world.simulation, probe, nemesis_options());
    const FaultPlan plan{{aimed_crash_at_leader(2s)}};
    world.simulation.world().spawn("nemesis", [&] { nemesis.run(plan); });
    world.node("broker-2").spawn("leader", [] {
        sim::sleep(700ms);
        sim::witness().announce(sim::Moment{.name = sim::moments::isr_expanded, .node = "broker-1"});  // not it
        sim::witness().announce(sim::Moment{.name = sim::moments::leader_elected, .node = "broker-2"});
    });
    world.simulation.world().spawn("observer", [&] {
        sim::sleep(700ms - 1us);
        EXPECT_TRUE(world.node("broker-2").up());
        sim::sleep(2us);
        EXPECT_FALSE(world.node("broker-2").up()) << "crashed at the moment it became leader";
        EXPECT_TRUE(world.node("broker-1").up()) << "the fallback target is spared";
        sim::sleep(1s);
        EXPECT_TRUE(world.node("broker-2").up()) << "restarted after the action's duration";
    });
    (void)world.simulation.run(sim::RunBounds{.time_limit = sim::Time(5s)});
    EXPECT_EQ(world.node("broker-2").crash_count(), 1U);
    EXPECT_EQ(world.node("broker-1").crash_count(), 0U);
}

TEST(AimedFault, WaitsItsDelayAfterTheMoment) {
    World world;
    FakeProbe probe(true);
    Nemesis nemesis(world.simulation, probe, nemesis_options());
    FaultAction action = aimed_crash_at_leader(2s);
    action.aim_delay = 40ms;
    world.simulation.world().spawn("nemesis", [&] { nemesis.run(FaultPlan{{action}}); });
    world.node("broker-2").spawn("leader", [] {
        sim::sleep(700ms);
        sim::witness().announce(sim::Moment{.name = sim::moments::leader_elected, .node = "broker-2"});
    });
    world.simulation.world().spawn("observer", [&] {
        sim::sleep(740ms - 1us);
        EXPECT_TRUE(world.node("broker-2").up());
        sim::sleep(2us);
        EXPECT_FALSE(world.node("broker-2").up()) << "crashed 40 ms after the moment";
    });
    (void)world.simulation.run(sim::RunBounds{.time_limit = sim::Time(5s)});
    EXPECT_EQ(world.node("broker-2").crash_count(), 1U);
    EXPECT_EQ(world.node("broker-1").crash_count(), 0U);
}

TEST(AimedFault, FallsBackToItsOwnTargetWhenTheMomentDoesNotCome) {
    std::ostringstream trace;
    World world(&trace);
    FakeProbe probe(true);
    Nemesis nemesis(world.simulation, probe, nemesis_options());
    const FaultPlan plan{{aimed_crash_at_leader(500ms)}};
    world.simulation.world().spawn("nemesis", [&] { nemesis.run(plan); });
    world.simulation.world().spawn("observer", [&] {
        sim::sleep(600ms - 1us);
        EXPECT_TRUE(world.node("broker-1").up());
        sim::sleep(2us);
        EXPECT_FALSE(world.node("broker-1").up()) << "crashed when the aim window closed";
    });
    (void)world.simulation.run(sim::RunBounds{.time_limit = sim::Time(5s)});
    EXPECT_NE(trace.str().find("FaultAimMissed"), std::string::npos);
    EXPECT_EQ(trace.str().find("FaultAimed\""), std::string::npos);
}

TEST(AimedFault, HitsTheNodeOrItsPeerAsDrawn) {
    const sim::Moment expanded{.name = sim::moments::isr_expanded, .node = "broker-1", .peer = "broker-2"};
    FaultAction action = aimed_crash_at_leader(1s);
    action.aim_at = sim::moments::isr_expanded;
    EXPECT_EQ(aimed_fault(action, &expanded).targets, std::vector<std::string>{"broker-1"});
    EXPECT_EQ(aimed_fault(action, &expanded).kind, FaultKind::crash);
    action.aim_at_peer = true;
    EXPECT_EQ(aimed_fault(action, &expanded).targets, std::vector<std::string>{"broker-2"});
    action.kind = FaultKind::aimed_partition;
    const FaultAction cut = aimed_fault(action, &expanded);
    EXPECT_EQ(cut.kind, FaultKind::partition);
    EXPECT_EQ(cut.targets, std::vector<std::string>{"broker-2"});
    EXPECT_EQ(cut.other_side, std::vector<std::string>{"broker-1"});
    const sim::Moment elected{.name = sim::moments::leader_elected, .node = "broker-3"};
    EXPECT_EQ(aimed_fault(action, &elected).kind, FaultKind::isolate) << "no peer: isolated";
    EXPECT_EQ(aimed_fault(action, &elected).targets, std::vector<std::string>{"broker-3"});
    action.kind = FaultKind::aimed_pause;
    EXPECT_EQ(aimed_fault(action, nullptr).kind, FaultKind::pause);
    EXPECT_EQ(aimed_fault(action, nullptr).targets, std::vector<std::string>{"broker-1"}) << "no moment: own target";
}

TEST(ControllerCrash, LosesItsUnsyncedBytesAndIsNeverDowngraded) {
    std::ostringstream trace;
    World world(&trace);
    FakeProbe probe(false);  // an unhealthy cluster: a broker's lossy crash would be downgraded
    Nemesis nemesis(world.simulation, probe, nemesis_options());
    FaultAction action;
    action.at = 100ms;
    action.kind = FaultKind::crash_controller;
    action.targets = {"controller"};
    action.duration = 200ms;
    action.unsynced = sim::UnsyncedFate::lose;
    world.simulation.world().spawn("nemesis", [&] { nemesis.run(FaultPlan{{action}}); });
    (void)world.simulation.run(sim::RunBounds{.time_limit = sim::Time(1s)});
    EXPECT_TRUE(world.node("controller").up());
    // Booted twice; the second boot found only the durable bytes.
    EXPECT_EQ(world.boots[0], (std::vector<std::uint64_t>{7, 7}));
    EXPECT_EQ(trace.str().find("FaultDowngraded"), std::string::npos);
}

// A broker's log directories: t-0 has three segments (one between two others), t-1 two. Each boot notes the
// files it finds.
class Segments final : public sim::NodeState {
public:
    Segments(sim::Node& node, std::vector<std::vector<std::string>>& files_at_boot) {
        sim::Disk& disk = node.disk();
        if (!disk.exists("t-0/00.log")) {
            for (const char* path : {"t-0/00.log", "t-0/10.log", "t-0/20.log", "t-1/00.log", "t-1/10.log"}) {
                (void)disk.create(path);
                const std::string batch = "batch";
                (void)disk.append(path, std::as_bytes(std::span(batch.data(), batch.size())));
                (void)disk.fsync(path);
            }
        }
        files_at_boot.push_back(disk.list());
    }
};

struct SegmentWorld {
    explicit SegmentWorld(std::ostream* trace) : simulation(sim::SimulationOptions{.seed = 5, .trace_sink = trace}) {
        simulation.add_node("broker-1", [this](sim::Node& n) { return std::make_unique<Segments>(n, boots); }).start();
    }
    std::vector<std::vector<std::string>> boots;
    sim::Simulation simulation;
};

// A fault of `kind` on broker-1 at 100 ms, for 300 ms.
FaultAction on_broker_1(FaultKind kind) {
    FaultAction action;
    action.at = 100ms;
    action.kind = kind;
    action.targets = {"broker-1"};
    action.duration = 300ms;
    return action;
}

TEST(LoseSegment, CrashesTheBrokerWhoseDiskComesBackWithoutASegmentBetweenTwoOthers) {
    std::ostringstream trace;
    SegmentWorld world(&trace);
    FakeProbe probe(true);
    Nemesis nemesis(world.simulation, probe, NemesisOptions{.chaos = 10s, .servers = {"broker-1"}});
    world.simulation.world().spawn("nemesis", [&] { nemesis.run(FaultPlan{{on_broker_1(FaultKind::lose_segment)}}); });
    (void)world.simulation.run(sim::RunBounds{.time_limit = sim::Time(1s)});
    ASSERT_EQ(world.boots.size(), 2U);  // crashed, restarted after the duration
    EXPECT_EQ(world.boots[1], (std::vector<std::string>{"t-0/00.log", "t-0/20.log", "t-1/00.log", "t-1/10.log"}));
    EXPECT_NE(trace.str().find("SegmentLost"), std::string::npos);
}

TEST(LoseSegment, WaitsForAHealthyClusterAndOtherwiseIsSkipped) {
    std::ostringstream trace;
    SegmentWorld world(&trace);
    FakeProbe probe(false);
    Nemesis nemesis(world.simulation, probe, NemesisOptions{.chaos = 10s, .servers = {"broker-1"}});
    world.simulation.world().spawn("nemesis", [&] { nemesis.run(FaultPlan{{on_broker_1(FaultKind::lose_segment)}}); });
    (void)world.simulation.run(sim::RunBounds{.time_limit = sim::Time(5s)});
    ASSERT_EQ(world.boots.size(), 1U);  // never crashed
    EXPECT_NE(trace.str().find("losing a segment now could exceed the fault tolerance"), std::string::npos);
}

TEST(LoseSegment, TakesOnlySegmentsTheRunnerCallsLosable) {
    std::ostringstream trace;
    SegmentWorld world(&trace);
    FakeProbe probe(true);
    NemesisOptions options{.chaos = 10s, .servers = {"broker-1"}};
    options.losable = [](const std::string& path) { return path.starts_with("t-1/"); };  // t-0: compacted, say
    Nemesis nemesis(world.simulation, probe, options);
    world.simulation.world().spawn("nemesis", [&] { nemesis.run(FaultPlan{{on_broker_1(FaultKind::lose_segment)}}); });
    (void)world.simulation.run(sim::RunBounds{.time_limit = sim::Time(1s)});
    ASSERT_EQ(world.boots.size(), 1U);
    EXPECT_NE(trace.str().find("no sealed segment between two others"), std::string::npos);
}

// A broker with a segment and a checkpoint; each boot notes the checkpoint's bytes and the segment's.
class Checkpointed final : public sim::NodeState {
public:
    Checkpointed(sim::Node& node, std::vector<std::string>& checkpoint_at_boot, std::vector<std::string>& segment_at_boot) {
        sim::Disk& disk = node.disk();
        if (!disk.exists("t-0/00.log")) {
            for (const char* path : {"t-0/00.log", "t-0/checkpoint"}) {
                (void)disk.create(path);
                const std::string text = "0123456789";
                (void)disk.append(path, std::as_bytes(std::span(text.data(), text.size())));
                (void)disk.fsync(path);
            }
        }
        const std::vector<std::byte> bytes = disk.read_all("t-0/checkpoint").value();
        checkpoint_at_boot.emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        const std::vector<std::byte> segment = disk.read_all("t-0/00.log").value();
        segment_at_boot.emplace_back(reinterpret_cast<const char*>(segment.data()), segment.size());
    }
};

TEST(CorruptFile, CrashesTheBrokerAndFlipsABitInAFileThatIsNoSegmentBeforeItRestarts) {
    for (const bool filtered : {false, true}) {
        std::ostringstream trace;
        std::vector<std::string> boots;
        std::vector<std::string> segments;
        sim::Simulation simulation(sim::SimulationOptions{.seed = 5, .trace_sink = &trace});
        simulation
            .add_node("broker-1",
                      [&](sim::Node& n) { return std::make_unique<Checkpointed>(n, boots, segments); })
            .start();
        FakeProbe probe(true);
        NemesisOptions options{.chaos = 10s, .servers = {"broker-1"}};
        std::size_t offered = 0;
        if (filtered) {
            // Only a flip in the last byte is one the broker would see.
            options.damage_detected = [&offered](const std::string& path, std::span<const std::byte> before,
                                                 std::span<const std::byte> after) {
                EXPECT_EQ(path, "t-0/checkpoint");
                ++offered;
                return before.back() != after.back();
            };
        }
        Nemesis nemesis(simulation, probe, options);
        simulation.world().spawn("nemesis", [&] { nemesis.run(FaultPlan{{on_broker_1(FaultKind::corrupt_file)}}); });
        (void)simulation.run(sim::RunBounds{.time_limit = sim::Time(1s)});
        ASSERT_EQ(boots.size(), 2U);  // crashed, restarted after the duration
        EXPECT_EQ(boots[0], "0123456789");
        ASSERT_EQ(boots[1].size(), 10U);
        int differing = 0;
        for (std::size_t i = 0; i < 10; ++i) {
            differing += std::popcount(static_cast<unsigned>(static_cast<unsigned char>(boots[0][i] ^ boots[1][i])));
        }
        EXPECT_EQ(differing, 1);
        if (filtered) {
            EXPECT_NE(boots[0].back(), boots[1].back());
            EXPECT_GE(offered, 1U);
        }
        EXPECT_EQ(segments, (std::vector<std::string>{"0123456789", "0123456789"})) << "no segment is touched";
        EXPECT_NE(trace.str().find("DiskCorrupted"), std::string::npos);
    }
}

}  // namespace
}  // namespace eosim::faults

// ---- Clocks, disks, link shapes, slow nodes ------------------------------------------------------

namespace eosim::faults {
namespace {

// A world, a healthy cluster and a nemesis that carries out one action until `until`.
struct Faulted {
    explicit Faulted(std::ostream* trace = nullptr) : world(trace), nemesis(world.simulation, probe, nemesis_options()) {}
    void run(const FaultAction& action, sim::Duration until) {
        world.simulation.world().spawn("nemesis", [this, action] { nemesis.run(FaultPlan{{action}}); });
        (void)world.simulation.run(sim::RunBounds{.time_limit = sim::Time(until)});
    }
    // Appends `read()` to `into` at each of `times` (from the start of the run), in a fiber of the world.
    template <typename T, typename Read>
    void sample_at(std::vector<T>& into, std::vector<sim::Duration> times, Read read) {
        world.simulation.world().spawn("observer", [&into, times = std::move(times), read] {
            for (const sim::Duration at : times) {
                sim::sleep(sim::Time(at) - sim::now());
                into.push_back(read());
            }
        });
    }

    World world;
    FakeProbe probe{true};
    Nemesis nemesis;
};

FaultAction action_on(FaultKind kind, const char* target, sim::Duration at, sim::Duration duration) {
    FaultAction action;
    action.at = at;
    action.kind = kind;
    action.targets = {target};
    action.duration = duration;
    return action;
}

TEST(ClockFault, AJumpStepsTheClockAndStepsItBackAfterItsDuration) {
    Faulted faulted;
    World& world = faulted.world;
    FaultAction jump = action_on(FaultKind::clock_jump, "broker-1", 100ms, 300ms);
    jump.clock_step = -5s;
    std::vector<sim::Duration> skews;  // broker-1's clock less true time at 50, 200 and 500 ms
    faulted.sample_at(skews, {50ms, 200ms, 500ms},
                      [&] { return world.node("broker-1").clock().local_time(sim::now()) - sim::now(); });
    faulted.run(jump, 1s);
    EXPECT_EQ(skews, (std::vector<sim::Duration>{0ms, -5s, 0ms}));
    ASSERT_EQ(faulted.nemesis.clock_changes().size(), 2U);
    EXPECT_EQ(faulted.nemesis.clock_changes()[0].node, "broker-1");
    EXPECT_EQ(faulted.nemesis.clock_changes()[0].offset, -5s);
    EXPECT_EQ(faulted.nemesis.clock_changes()[1].offset, 0ms);
}

TEST(ClockFault, DriftRunsTheClockFastForItsDurationAndTheSkewStays) {
    Faulted faulted;
    World& world = faulted.world;
    FaultAction drift = action_on(FaultKind::clock_drift, "controller", 0ms, 1s);
    drift.drift_ppm = 100'000;  // 10% fast
    faulted.run(drift, 2s);
    const sim::LocalClock& clock = world.node("controller").clock();
    EXPECT_EQ(clock.drift_ppm(), 0.0) << "the drift ended";
    EXPECT_EQ(clock.local_time(world.simulation.now()) - world.simulation.now(), 100ms) << "10% of 1 s stays";
    ASSERT_EQ(faulted.nemesis.clock_changes().size(), 2U);
    EXPECT_EQ(faulted.nemesis.clock_changes()[0].drift_ppm, 100'000);
    EXPECT_EQ(faulted.nemesis.clock_changes()[1].offset, 100ms);
}

TEST(DiskFault, ASlowDiskStallsEveryFsyncForItsDuration) {
    Faulted faulted;
    World& world = faulted.world;
    FaultAction slow = action_on(FaultKind::slow_disk, "broker-2", 100ms, 500ms);
    slow.extra_latency = 200ms;
    std::vector<sim::Duration> took;
    world.node("broker-2").spawn("syncer", [&] {
        for (const sim::Duration at : {50ms, 200ms, 700ms}) {
            sim::sleep(sim::Time(at) - sim::now());
            const sim::Time before = sim::now();
            (void)world.node("broker-2").disk().fsync("log");
            took.push_back(sim::now() - before);
        }
    });
    faulted.run(slow, 2s);
    ASSERT_EQ(took.size(), 3U);
    EXPECT_LT(took[0], 10ms);
    EXPECT_GE(took[1], 200ms);
    EXPECT_LT(took[2], 10ms);
}

TEST(DiskFault, AFullDiskFailsWritesAndItsOwnerRestartsOnceRoomComesBack) {
    std::ostringstream trace;
    Faulted faulted(&trace);
    World& world = faulted.world;
    FaultAction full = action_on(FaultKind::disk_full, "broker-1", 100ms, 400ms);
    full.free_bytes = 10;
    sim::Node& broker = world.node("broker-1");
    bool told = false;
    broker.disk().on_full([&told] { told = true; });
    std::vector<bool> written;
    world.simulation.world().spawn("writer", [&] {
        for (const sim::Duration at : {50ms, 200ms, 300ms}) {
            sim::sleep(sim::Time(at) - sim::now());
            const std::string bytes(8, 'x');
            written.push_back(broker.disk().append("log", std::as_bytes(std::span(bytes.data(), bytes.size()))).ok());
        }
        (void)broker.crash(sim::CrashOptions{sim::UnsyncedFate::keep});  // as a broker halts on the failure
    });
    faulted.run(full, 1s);
    EXPECT_EQ(written, (std::vector<bool>{true, true, false})) << "10 bytes of room: one 8-byte write fits";
    EXPECT_TRUE(told) << "the owner's failure channel heard of it";
    EXPECT_TRUE(broker.up()) << "restarted once room came back";
    EXPECT_EQ(broker.disk().options().capacity_bytes, sim::DiskOptions{}.capacity_bytes);
    EXPECT_NE(trace.str().find("DiskRoom"), std::string::npos);
}

TEST(LinkFault, AFlappingLinkGoesDownAndUpUntilItsEnd) {
    Faulted faulted;
    World& world = faulted.world;
    FaultAction flap = action_on(FaultKind::flap, "broker-1", 100ms, 1s);
    flap.other_side = {"broker-2"};
    flap.period = 100ms;
    std::vector<bool> cut;
    const sim::NodeId one = world.node("broker-1").id();
    const sim::NodeId two = world.node("broker-2").id();
    faulted.sample_at(cut, {50ms, 150ms, 250ms, 350ms, 1200ms}, [&] {
        return world.simulation.network().blocked(one, two) && world.simulation.network().blocked(two, one);
    });
    faulted.run(flap, 2s);
    EXPECT_EQ(cut, (std::vector<bool>{false, true, false, true, false}));
}

TEST(NodeFault, ASlowNodeStallsAgainAndAgainForItsDuration) {
    std::ostringstream trace;
    Faulted faulted(&trace);
    FaultAction slow = action_on(FaultKind::slow_node, "broker-2", 0ms, 1s);
    slow.extra_latency = 50ms;
    slow.period = 150ms;
    faulted.run(slow, 3s);
    std::size_t pauses = 0;
    for (std::size_t at = trace.str().find("NodePause"); at != std::string::npos;
         at = trace.str().find("NodePause", at + 1)) {
        ++pauses;
    }
    EXPECT_EQ(pauses, 5U) << "a 50 ms stall every 200 ms within 1 s";
}

TEST(ClockFault, TheHealStepsClocksBackAndTheLateEndDoesNotStepThemAgain) {
    Faulted faulted;
    World& world = faulted.world;
    FaultAction jump = action_on(FaultKind::clock_jump, "broker-2", 100ms, 10s);  // outlasts the chaos phase
    jump.clock_step = 7s;
    std::vector<sim::Duration> skews;
    world.simulation.world().spawn("healer", [&] {
        sim::sleep(1s);
        skews.push_back(world.node("broker-2").clock().local_time(sim::now()) - sim::now());
        faulted.nemesis.heal();
        skews.push_back(world.node("broker-2").clock().local_time(sim::now()) - sim::now());
        sim::sleep(11s);  // past the fault's own end
        skews.push_back(world.node("broker-2").clock().local_time(sim::now()) - sim::now());
    });
    faulted.run(jump, 13s);
    EXPECT_EQ(skews, (std::vector<sim::Duration>{7s, 0s, 0s}));
    EXPECT_EQ(faulted.nemesis.clock_changes().size(), 2U) << "the step and the heal's step back, no third";
}

TEST(Quiet, WaitsForTheEndOfASlowLink) {
    Faulted faulted;
    FaultAction slow = action_on(FaultKind::slow_link, "broker-1", 100ms, 500ms);
    slow.other_side = {"broker-2"};
    slow.extra_latency = 300ms;
    std::vector<bool> quiet;
    faulted.sample_at(quiet, {50ms, 300ms, 700ms}, [&] { return faulted.nemesis.quiet(); });
    faulted.run(slow, 1s);
    EXPECT_EQ(quiet, (std::vector<bool>{true, false, true}));
}

TEST(DiskFault, TheEndOfAFullDiskLeavesACrashedBrokerToItsOwnRestart) {
    Faulted faulted;
    World& world = faulted.world;
    FaultAction full = action_on(FaultKind::disk_full, "broker-1", 100ms, 200ms);
    FaultAction crash = action_on(FaultKind::crash, "broker-1", 150ms, 600ms);
    crash.unsynced = sim::UnsyncedFate::keep;
    world.simulation.world().spawn("nemesis-2", [&] { faulted.nemesis.run(FaultPlan{{crash}}); });
    std::vector<bool> up;
    faulted.sample_at(up, {400ms, 800ms}, [&] { return world.node("broker-1").up(); });
    faulted.run(full, 1s);
    EXPECT_EQ(up, (std::vector<bool>{false, true})) << "down until the crash's own restart at 750 ms";
}

}  // namespace
}  // namespace eosim::faults
