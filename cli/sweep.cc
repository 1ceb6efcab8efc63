// eosim sweep: many seeds of one scenario (or all), in worker processes.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "cli/report.h"
#include "cli/sweep_pool.h"
#include "scenarios/probes.h"
#include "scenarios/spec.h"

namespace eosim::cli {

namespace {

std::vector<scenarios::Spec> sweep_specs(const SweepOptions& options) {
    std::vector<scenarios::Spec> specs;
    if (options.target == "all" && options.spec_path.empty()) {
        specs = scenarios::builtin_specs();
    } else {
        specs.push_back(resolve_spec(options.target, options.spec_path));
    }
    return specs;
}

// What a sweep's summary counts over its results.
struct Tally {
    std::map<std::string, std::pair<std::size_t, std::uint64_t>> by_anomaly;  // seeds, and the first seed
    std::map<std::string, std::size_t> weaknesses;                            // "scenario: weakness" -> seeds
    std::map<std::string, std::pair<std::int64_t, std::size_t>> counters;     // name -> total, seeds with any
    scenarios::FaultCounts faults;
    std::vector<std::pair<std::int64_t, std::string>> recoveries;  // ns from the heal, "scenario seed N"
    std::int64_t liveness_bound_ns = 0;                              // the largest bound of any run
    std::map<std::string, std::size_t> probes;                                // code probe -> seeds that hit it
    std::uint64_t events = 0;
    std::int64_t sim_ns = 0;
    std::size_t passed = 0;
};

Tally tally(const std::vector<Timed>& results) {
    Tally tally;
    for (const Timed& timed : results) {
        tally.passed += timed.result.status == scenarios::RunStatus::pass ? 1 : 0;
        tally.events += timed.result.events;
        tally.sim_ns += timed.result.sim_ns;
        for (const std::string& anomaly : timed.result.anomalies) {
            auto& entry = tally.by_anomaly[anomaly];
            if (entry.first++ == 0) {
                entry.second = timed.result.seed;
            }
        }
        tally.faults += timed.result.faults;
        if (timed.result.recovery_ns >= 0) {
            tally.recoveries.emplace_back(timed.result.recovery_ns,
                                          fmt::format("{} seed {}", timed.result.scenario, timed.result.seed));
        }
        tally.liveness_bound_ns = std::max(tally.liveness_bound_ns, timed.result.liveness_bound_ns);
        for (const auto& [name, value] : timed.result.counters) {
            auto& counter = tally.counters[name];
            counter.first += value;
            counter.second += value > 0 ? 1 : 0;
        }
        for (const std::string& weakness : timed.result.weaknesses) {
            ++tally.weaknesses[timed.result.scenario + ": " + weakness];
        }
        for (const std::string& probe : timed.result.probes) {
            ++tally.probes[probe];
        }
    }
    return tally;
}

// A scenario that demonstrates a weakness passes a sweep only if some seed showed it (DESIGN.md): how many
// did not, each reported.
std::size_t report_unshown_weaknesses(const std::vector<scenarios::Spec>& specs, const Tally& tally,
                                      std::uint64_t first, std::uint64_t last) {
    std::size_t unshown = 0;
    for (const scenarios::Spec& spec : specs) {
        const bool shown = std::any_of(
            spec.checks.weaknesses.begin(), spec.checks.weaknesses.end(),
            [&](const std::string& weakness) { return tally.weaknesses.contains(spec.name + ": " + weakness); });
        if (!spec.checks.weaknesses.empty() && !shown) {
            ++unshown;
            fmt::print("  weakness NOT observed: {} demonstrates {}, but no seed in {}..{} showed it\n", spec.name,
                       fmt::join(spec.checks.weaknesses, " or "), first, last);
        }
    }
    return unshown;
}

// The code probes the sweep reached: how many of all, and those no seed reached (with every count when
// `each`).
void report_probes(const Tally& tally, bool each) {
    std::vector<std::string_view> never;
    for (const scenarios::CodeProbe& probe : scenarios::code_probes()) {
        if (!tally.probes.contains(std::string(probe.name))) {
            never.push_back(probe.name);
        }
    }
    fmt::print("  code probes: {} of {} hit (eosim probes lists them){}{}\n",
               scenarios::code_probes().size() - never.size(), scenarios::code_probes().size(),
               never.empty() ? "" : "; never hit: ", fmt::join(never, ", "));
    if (each) {
        for (const scenarios::CodeProbe& probe : scenarios::code_probes()) {
            const auto hit = tally.probes.find(std::string(probe.name));
            fmt::print("    {:<52} {:>6} seeds\n", probe.name, hit == tally.probes.end() ? 0 : hit->second);
        }
    }
}

// Prints the summary; the exit status.
int summarize(const SweepOptions& options, const std::vector<scenarios::Spec>& specs, const Sweep& sweep,
              const std::vector<Timed>& results, std::pair<std::uint64_t, std::uint64_t> seeds, int jobs,
              double seconds) {
    const auto [first, last] = seeds;
    const Tally counts = tally(results);
    fmt::print("sweep {} seeds {}..{}{}: {} runs, {} passed, {} failed, {} errors ({} worker{})\n",
               specs.size() == 1 ? specs.front().name : "all", first, last,
               options.bug.empty() ? "" : " bug " + options.bug, results.size(), counts.passed, sweep.failed(),
               sweep.errors(), jobs, jobs == 1 ? "" : "s");
    for (const auto& [anomaly, entry] : counts.by_anomaly) {
        fmt::print("  failures by anomaly: {}: {} seeds (first: seed {})\n", anomaly, entry.first, entry.second);
    }
    for (const auto& [weakness, count] : counts.weaknesses) {
        fmt::print("  weakness observed: {} in {} seeds\n", weakness, count);
    }
    for (const auto& [name, counter] : counts.counters) {
        fmt::print("  {}: {} in {} seeds (reported, not failures)\n", name, counter.first, counter.second);
    }
    if (counts.faults.planned > 0) {
        fmt::print("  {}\n", fault_summary(counts.faults));
    }
    if (!counts.recoveries.empty()) {
        std::vector<std::pair<std::int64_t, std::string>> sorted = counts.recoveries;
        std::sort(sorted.begin(), sorted.end());
        const auto at = [&sorted](double q) {
            return static_cast<double>(sorted[static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1))].first) * 1e-9;
        };
        fmt::print("  recovery after the heal: median {:.1f} s, 99th percentile {:.1f} s, max {:.1f} s ({}); "
                   "bound {:.0f} s; {} of {} runs recovered\n",
                   at(0.5), at(0.99), static_cast<double>(sorted.back().first) * 1e-9, sorted.back().second,
                   static_cast<double>(counts.liveness_bound_ns) * 1e-9, sorted.size(), results.size());
    }
    report_probes(counts, options.show_probes);
    const std::size_t unshown =
        results.size() == sweep.total() ? report_unshown_weaknesses(specs, counts, first, last) : 0;
    fmt::print("  {:.1f} seeds/s, {:.0f} events/s, {:.0f} simulated s per wall s, {:.1f} s wall\n",
               static_cast<double>(results.size()) / seconds, static_cast<double>(counts.events) / seconds,
               static_cast<double>(counts.sim_ns) * 1e-9 / seconds, seconds);
    if (sweep.failed() > 0 || unshown > 0) {
        return exit_anomaly;
    }
    return sweep.errors() > 0 ? exit_internal : exit_ok;
}

int sweep_command(SweepOptions& options) {
    if (options.jobs < 1 || options.jobs > 256) {
        throw UsageError(fmt::format("-j {}: the number of workers must be from 1 to 256", options.jobs));
    }
    const auto seeds = parse_seed_range(options.seeds);
    check_bug(options.bug);
    const std::vector<scenarios::Spec> specs = sweep_specs(options);
    if (!options.plan_path.empty()) {
        for (const scenarios::Spec& spec : specs) {
            if (spec.swarm) {
                throw UsageError("--plan with the swarm scenario: each seed draws its own cluster, so one plan "
                                 "cannot fit them all (run one seed: eosim run swarm --seed N --plan FILE)");
            }
            options.plan = read_plan(options.plan_path, spec, seeds.first);  // the same plan for every seed
        }
    }
    // Open --out first: a sweep must not run for an hour and then find it cannot write.
    std::ofstream out;
    if (!options.out_path.empty()) {
        out.open(options.out_path);
        if (!out) {
            throw UsageError(fmt::format("{}: cannot write", options.out_path));
        }
    }
    Sweep sweep(options, specs, sweep_tasks(specs.size(), seeds.first, seeds.second));
    const int jobs = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(options.jobs), sweep.total()));
    if (jobs <= 1) {
        sweep.run_here();
    } else {
        sweep.run_in_workers(jobs);
    }
    sweep.finish();
    const double seconds = sweep.elapsed();
    std::vector<Timed>& results = sweep.results();
    std::sort(results.begin(), results.end(), [&](const Timed& a, const Timed& b) {
        return std::pair{a.result.scenario, a.result.seed} < std::pair{b.result.scenario, b.result.seed};
    });
    if (out.is_open()) {
        for (const Timed& timed : results) {
            out << result_json(timed).dump() << '\n';
        }
        out.flush();
    }
    return summarize(options, specs, sweep, results, seeds, jobs, seconds);
}

}  // namespace

Command add_sweep(CLI::App& app) {
    auto options = std::make_shared<SweepOptions>();
    CLI::App* sweep = app.add_subcommand("sweep", "Run a scenario (or all) over a range of seeds");
    sweep->add_option("scenario", options->target, "Scenario name, or all (or give --spec FILE)");
    sweep->add_option("--seeds", options->seeds, "Seed range A..B (inclusive)")->required();
    sweep->add_option("-j,--jobs", options->jobs, "Worker processes");
    sweep->add_option("--bug", options->bug, "Turn a bug switch on (see eosim list --bugs)");
    sweep->add_option("--spec", options->spec_path, "A scenario spec file (TOML) instead of a built-in one");
    sweep->add_flag("--stop-on-failure", options->stop_on_failure, "Stop at the first failing seed");
    sweep->add_option("--out", options->out_path, "Write one JSON object per seed to FILE");
    sweep->add_flag("--probes", options->show_probes, "List every code probe with the number of seeds that hit it");
    sweep->add_option("--plan", options->plan_path,
                      "Run the fault plan in FILE (JSON, as eosim run -v prints it) with every seed");
    return Command{sweep, [options] { return sweep_command(*options); }};
}

}  // namespace eosim::cli
