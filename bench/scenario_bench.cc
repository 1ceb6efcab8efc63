// Whole scenario runs: one seed of a built-in scenario per iteration, seeds 1, 2, 3, ... so an
// iteration is a real run with its faults. Reports simulated events per wall second (items_per_second)
// and simulated seconds per wall second (sim_s_per_s).

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "scenarios/runner.h"
#include "scenarios/spec.h"

namespace {

void run_scenario(benchmark::State& state, const std::string& name) {
    const eosim::scenarios::Spec* spec = eosim::scenarios::find_builtin(name);
    if (spec == nullptr) {
        state.SkipWithError(("no scenario " + name).c_str());
        return;
    }
    std::uint64_t seed = 0;
    std::int64_t events = 0;
    double simulated_seconds = 0;
    for (auto _ : state) {
        const eosim::scenarios::RunResult result = eosim::scenarios::run(*spec, ++seed);
        if (result.status == eosim::scenarios::RunStatus::error) {
            state.SkipWithError(result.error.c_str());
            return;
        }
        events += static_cast<std::int64_t>(result.events);
        simulated_seconds += static_cast<double>(result.sim_ns) / 1e9;
    }
    state.SetItemsProcessed(events);
    state.counters["sim_s_per_s"] = benchmark::Counter(simulated_seconds, benchmark::Counter::kIsRate);
    state.counters["seeds_per_s"] = benchmark::Counter(static_cast<double>(seed), benchmark::Counter::kIsRate);
}

void BM_ScenarioLogAcksAll(benchmark::State& state) { run_scenario(state, "log-acks-all"); }
BENCHMARK(BM_ScenarioLogAcksAll)->Unit(benchmark::kMillisecond);

void BM_ScenarioLogPowerLoss(benchmark::State& state) { run_scenario(state, "log-power-loss"); }
BENCHMARK(BM_ScenarioLogPowerLoss)->Unit(benchmark::kMillisecond);

}  // namespace
