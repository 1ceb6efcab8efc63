#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/simulation.h"

namespace eosim::sim {
namespace {

SimulationOptions options(std::uint64_t seed = 1) { return SimulationOptions{.seed = seed}; }

TEST(Scheduler, RunsEventsInTimeThenSpawnOrder) {
    Simulation simulation(options());
    std::vector<std::string> order;
    Node& world = simulation.world();
    for (const auto& [name, delay] : std::vector<std::pair<std::string, Duration>>{
             {"late", 20ms}, {"early", 10ms}, {"tie-a", 15ms}, {"tie-b", 15ms}}) {
        world.spawn(name, [&order, name, delay] {
            sleep(delay);
            order.push_back(name);
        });
    }
    const RunOutcome outcome = simulation.run(RunBounds{});
    EXPECT_EQ(outcome.status, RunStatus::idle);
    EXPECT_EQ(order, (std::vector<std::string>{"early", "tie-a", "tie-b", "late"}));
    EXPECT_EQ(simulation.now(), Time(20ms));
}

TEST(Scheduler, TimeJumpsWhenNothingIsRunnable) {
    Simulation simulation(options());
    Time woke{};
    simulation.world().spawn("sleeper", [&] {
        sleep(std::chrono::hours(24));
        woke = now();
    });
    const RunOutcome outcome = simulation.run(RunBounds{});
    EXPECT_EQ(woke, Time(std::chrono::hours(24)));
    EXPECT_LE(outcome.events, 3U);
}

TEST(Scheduler, PromiseWakesWaiterAndTimeoutFires) {
    Simulation simulation(options());
    Promise<int> promise;
    Result<int> got = errc::node_down;
    Result<int> timed_out = 0;
    const Future<int> future = promise.future();
    simulation.world().spawn("waiter", [&] { got = await(future, 1s); });
    simulation.world().spawn("impatient", [&] { timed_out = await(future, 5ms); });
    simulation.world().spawn("setter", [&] {
        sleep(10ms);
        promise.set_value(42);
    });
    (void)simulation.run(RunBounds{});
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got.value(), 42);
    EXPECT_EQ(timed_out.error(), errc::timeout);
}

TEST(Scheduler, DestroyedPromiseBreaksItsFuture) {
    Simulation simulation(options());
    auto promise = std::make_unique<Promise<int>>();
    const Future<int> future = promise->future();
    Result<int> got = 0;
    simulation.world().spawn("waiter", [&] { got = await(future); });
    simulation.world().spawn("dropper", [&] {
        sleep(1ms);
        promise.reset();
    });
    (void)simulation.run(RunBounds{});
    EXPECT_EQ(got.error(), errc::broken_promise);
}

TEST(Scheduler, ChannelIsFifoAndTimesOut) {
    Simulation simulation(options());
    Channel<int> channel;
    std::vector<int> received;
    std::error_code last_error;
    simulation.world().spawn("receiver", [&] {
        while (true) {
            Result<int> item = receive(channel, 50ms);
            if (!item) {
                last_error = item.error();
                return;
            }
            received.push_back(item.value());
        }
    });
    simulation.world().spawn("sender", [&] {
        for (int i = 0; i < 5; ++i) {
            channel.push(i);
            sleep(1ms);
        }
    });
    (void)simulation.run(RunBounds{});
    EXPECT_EQ(received, (std::vector<int>{0, 1, 2, 3, 4}));
    EXPECT_EQ(last_error, errc::timeout);
}

TEST(Scheduler, ClosedChannelDrainsThenReportsClose) {
    Simulation simulation(options());
    Channel<int> channel;
    channel.push(1);
    channel.close();
    channel.push(2);  // dropped
    std::vector<Result<int>> results;
    simulation.world().spawn("receiver", [&] {
        results.push_back(channel.receive());
        results.push_back(channel.receive());
    });
    (void)simulation.run(RunBounds{});
    ASSERT_EQ(results.size(), 2U);
    EXPECT_EQ(results[0].value(), 1);
    EXPECT_EQ(results[1].error(), errc::channel_closed);
}

TEST(Scheduler, CallbacksRunAtTheirTimeAndCanBeCancelled) {
    Simulation simulation(options());
    std::vector<int> fired;
    Scheduler& scheduler = simulation.scheduler();
    (void)scheduler.call_at(Time(3ms), nullptr, [&] { fired.push_back(3); });
    const TimerId cancelled = scheduler.call_at(Time(2ms), nullptr, [&] { fired.push_back(2); });
    (void)scheduler.call_at(Time(1ms), nullptr, [&] { fired.push_back(1); });
    scheduler.cancel(cancelled);
    (void)simulation.run(RunBounds{});
    EXPECT_EQ(fired, (std::vector<int>{1, 3}));
}

TEST(Scheduler, TimeBoundEndsAsLivenessFailureNotHang) {
    Simulation simulation(options());
    simulation.world().spawn("forever", [] {
        while (true) {
            sleep(1ms);
        }
    });
    const RunOutcome outcome = simulation.run(RunBounds{.time_limit = Time(1s)});
    EXPECT_EQ(outcome.status, RunStatus::time_bound);
    EXPECT_TRUE(outcome.liveness_failure());
    EXPECT_EQ(simulation.now(), Time(1s));
}

TEST(Scheduler, EventBoundEndsAsLivenessFailure) {
    Simulation simulation(options());
    simulation.world().spawn("spinner", [] {
        while (true) {
            yield();  // never advances time: only the event bound can stop it
        }
    });
    const RunOutcome outcome = simulation.run(RunBounds{.max_events = 1000});
    EXPECT_EQ(outcome.status, RunStatus::event_bound);
    EXPECT_EQ(outcome.events, 1000U);
    EXPECT_EQ(simulation.now(), time_zero);
}

TEST(Scheduler, DonePredicateStopsTheRun) {
    Simulation simulation(options());
    int ticks = 0;
    simulation.world().spawn("ticker", [&] {
        while (true) {
            sleep(1ms);
            ++ticks;
        }
    });
    const RunOutcome outcome = simulation.run(RunBounds{.time_limit = Time(1s)}, [&] { return ticks == 10; });
    EXPECT_EQ(outcome.status, RunStatus::done);
    EXPECT_EQ(ticks, 10);
    EXPECT_EQ(simulation.now(), Time(10ms));
}

TEST(Scheduler, FailedAssertionInFiberPropagatesOutOfRun) {
    Simulation simulation(options());
    simulation.world().spawn("asserter", [] {
        sleep(5ms);
        EOSIM_ASSERT_MSG(1 + 1 == 3, "arithmetic");
    });
    EXPECT_THROW((void)simulation.run(RunBounds{}), AssertionFailure);
    EXPECT_EQ(simulation.now(), Time(5ms));
}

TEST(Scheduler, KillUnwindsTheFiberStack) {
    Simulation simulation(options());
    int destroyed = 0;
    struct Witness {
        int* counter;
        ~Witness() { ++*counter; }
    };
    const FiberRef victim = simulation.world().spawn("victim", [&] {
        const Witness outer{&destroyed};
        {
            const Witness inner{&destroyed};
            sleep(1h);
        }
        ADD_FAILURE() << "a killed fiber must not go on";
    });
    simulation.world().spawn("killer", [&] {
        sleep(1ms);
        simulation.scheduler().kill(victim);
    });
    (void)simulation.run(RunBounds{});
    EXPECT_EQ(destroyed, 2);
    EXPECT_FALSE(simulation.scheduler().alive(victim));
    EXPECT_EQ(simulation.scheduler().live_fibers(), 0U);
}

TEST(Scheduler, FiberNeverStartedIsKilledCleanly) {
    Simulation simulation(options());
    bool ran = false;
    const FiberRef fiber = simulation.world().spawn("never", [&] { ran = true; });
    simulation.scheduler().kill(fiber);
    (void)simulation.run(RunBounds{});
    EXPECT_FALSE(ran);
}

TEST(Scheduler, DestroyingTheSimulationUnwindsSuspendedFibers) {
    int destroyed = 0;
    struct Witness {
        int* counter;
        ~Witness() { ++*counter; }
    };
    {
        Simulation simulation(options());
        for (int i = 0; i < 10; ++i) {
            simulation.world().spawn("sleeper", [&] {
                const Witness witness{&destroyed};
                sleep(1h);
            });
        }
        (void)simulation.run(RunBounds{.time_limit = Time(1s)});
    }
    EXPECT_EQ(destroyed, 10);
}

TEST(Scheduler, ManyFibersReuseStacks) {
    Simulation simulation(options());
    int finished = 0;
    simulation.world().spawn("spawner", [&] {
        for (int i = 0; i < 10'000; ++i) {
            spawn("short", [&] { ++finished; });
            if (i % 100 == 0) {
                sleep(1us);
            }
        }
    });
    (void)simulation.run(RunBounds{});
    EXPECT_EQ(finished, 10'000);
}

}  // namespace
}  // namespace eosim::sim

namespace eosim::sim {
namespace {

TEST(Scheduler, LostTimeoutsDoNotPileUpInTheQueue) {
    Simulation simulation(SimulationOptions{.seed = 1});
    Channel<int> channel;
    std::size_t pending_max = 0;
    int received = 0;
    simulation.world().spawn("receiver", [&] {
        // Each receive sets a one-hour timeout that loses the race to the next item.
        while (received < 100'000) {
            if (receive(channel, 1h)) {
                ++received;
            }
            pending_max = std::max(pending_max, simulation.scheduler().pending_events());
        }
    });
    simulation.world().spawn("sender", [&] {
        for (int i = 0; i < 100'000; ++i) {
            channel.push(i);
            sleep(1us);
        }
    });
    const RunOutcome outcome = simulation.run(RunBounds{}, [&] { return received == 100'000; });
    EXPECT_EQ(outcome.status, RunStatus::done);
    EXPECT_LT(pending_max, 10'000U);
}

}  // namespace
}  // namespace eosim::sim
