// The eosim scheduler against a bare baseline: the same pattern of fibers sleeping random short times
// and waking in time order, once through eosim (Simulation, sim::sleep) and once with bare
// Boost.Context fibers and a binary heap. The ratio of their items_per_second is the runtime's overhead.

#include <cstdint>
#include <queue>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/context/fiber.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>

#include "sim/simulation.h"

namespace {

constexpr int fiber_count = 100;
constexpr std::int64_t events_per_iteration = 10'000;
constexpr std::int64_t sleep_ns_max = 1'000'000;

void BM_SchedulerWakeups(benchmark::State& state) {
    using namespace eosim::sim;
    Simulation simulation(SimulationOptions{.seed = 42});
    for (int i = 0; i < fiber_count; ++i) {
        simulation.world().spawn("sleeper", [i] {
            Random random = Simulation::current().random().fork(static_cast<std::uint64_t>(i));
            while (true) {
                sleep(Duration(1 + static_cast<std::int64_t>(random.below(sleep_ns_max))));
            }
        });
    }
    std::uint64_t bound = 0;
    for (auto _ : state) {
        bound += events_per_iteration;
        const RunOutcome outcome = simulation.run(RunBounds{.max_events = bound});
        benchmark::DoNotOptimize(outcome.events);
    }
    state.SetItemsProcessed(state.iterations() * events_per_iteration);
}
BENCHMARK(BM_SchedulerWakeups);

// ---- Baseline: no eosim code ---------------------------------------------------------------------

struct BareFiber {
    boost::context::fiber context;
    boost::context::fiber caller;
    std::uint64_t random_state = 0;
};

struct BareWake {
    std::int64_t time_ns;
    std::uint64_t sequence;
    int fiber;
    bool operator>(const BareWake& other) const {
        return time_ns != other.time_ns ? time_ns > other.time_ns : sequence > other.sequence;
    }
};

struct BareWorld {
    std::vector<BareFiber> fibers;
    std::priority_queue<BareWake, std::vector<BareWake>, std::greater<>> heap;
    std::int64_t now_ns = 0;
    std::uint64_t sequence = 0;
};

std::uint64_t splitmix(std::uint64_t& x) {
    x += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = x;
    z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31U);
}

void BM_BareFiberHeapBaseline(benchmark::State& state) {
    BareWorld world;
    world.fibers.resize(fiber_count);
    for (int i = 0; i < fiber_count; ++i) {
        BareFiber& fiber = world.fibers[static_cast<std::size_t>(i)];
        fiber.random_state = static_cast<std::uint64_t>(i);
        fiber.context = boost::context::fiber(
            std::allocator_arg, boost::context::protected_fixedsize_stack(256 * 1024),
            [&world, &fiber, i](boost::context::fiber&& caller) {
                fiber.caller = std::move(caller);
                while (true) {
                    const auto sleep_ns = 1 + static_cast<std::int64_t>(splitmix(fiber.random_state) %
                                                                        static_cast<std::uint64_t>(sleep_ns_max));
                    world.heap.push(BareWake{world.now_ns + sleep_ns, world.sequence++, i});
                    fiber.caller = std::move(fiber.caller).resume();
                }
                return std::move(fiber.caller);
            });
        world.heap.push(BareWake{0, world.sequence++, i});
    }
    for (auto _ : state) {
        for (std::int64_t n = 0; n < events_per_iteration; ++n) {
            const BareWake wake = world.heap.top();
            world.heap.pop();
            world.now_ns = wake.time_ns;
            BareFiber& fiber = world.fibers[static_cast<std::size_t>(wake.fiber)];
            fiber.context = std::move(fiber.context).resume();
        }
        benchmark::DoNotOptimize(world.now_ns);
    }
    state.SetItemsProcessed(state.iterations() * events_per_iteration);
    // The fibers loop forever; unwinding them here is Boost.Context's business (forced unwind).
}
BENCHMARK(BM_BareFiberHeapBaseline);

}  // namespace

BENCHMARK_MAIN();
