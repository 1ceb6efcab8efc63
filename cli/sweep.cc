// eosim sweep: many seeds of one scenario (or all), in worker processes.
#include <algorithm>
#include <cstdio>
#include <deque>
#include <fstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/html_report.h"
#include "cli/sweep_pool.h"
#include "reports/summary.h"
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
    std::deque<Task> tasks = sweep_tasks(specs.size(), seeds.first, seeds.second);
    const std::size_t range_size = tasks.size();
    if (!options.shard.empty()) {
        const auto [k, n] = parse_shard(options.shard);
        tasks = shard_tasks(tasks, k, n);
    }
    SummaryOutputs outputs(options.outputs);
    Sweep sweep(options, specs, std::move(tasks));
    const int jobs = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(options.jobs), sweep.total()));
    if (jobs <= 1) {
        sweep.run_here();
    } else {
        sweep.run_in_workers(jobs);
    }
    sweep.finish();
    const double seconds = sweep.elapsed();
    std::vector<Timed>& results = sweep.results();
    reports::sort_results(results);
    reports::SweepInfo info{.title = specs.size() == 1 ? specs.front().name : "all",
                            .first = seeds.first,
                            .last = seeds.second,
                            .bug = options.bug,
                            .shard = options.shard,
                            .workers = jobs,
                            .seconds = seconds,
                            .show_probes = options.show_probes,
                            .complete = results.size() == range_size,
                            .incomplete_why = options.shard.empty()
                                                  ? "the sweep stopped at its first failure"
                                                  : "one shard of the range (eosim report judges the merged shards)"};
    for (const scenarios::Spec& spec : specs) {
        if (!spec.checks.weaknesses.empty()) {
            info.demonstrations.emplace_back(spec.name, spec.checks.weaknesses);
        }
    }
    return outputs.finish(info, results,
                          [&](const scenarios::RunResult& result)
                              -> std::optional<std::pair<scenarios::Spec, scenarios::RunOptions>> {
                              const auto spec = std::find_if(specs.begin(), specs.end(), [&](const scenarios::Spec& s) {
                                  return s.name == result.scenario;
                              });
                              if (spec == specs.end()) {
                                  return std::nullopt;
                              }
                              return std::pair{*spec, run_options_for(options, result.seed)};
                          },
                          options.quiet);
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
    add_summary_options(*sweep, options->outputs, "Write one JSON object per seed to FILE (eosim report reads it)",
                        "Write an HTML report to FILE: the seeds, outcomes, anomalies and probes, with the timelines of "
                        "the first failing runs (run again) in FILE's -runs folder");
    sweep->add_option("--shard", options->shard,
                      "Run shard K of N of the seed range (K/N, 1 <= K <= N): every N-th seed from the K-th; "
                      "eosim report merges the shards' --out files");
    sweep->add_flag("-q,--quiet", options->quiet, "No progress, no line per failing seed; the summary's first lines");
    sweep->add_flag("--probes", options->show_probes, "List every code probe with the number of seeds that hit it");
    sweep->add_option("--plan", options->plan_path,
                      "Run the fault plan in FILE (JSON, as eosim run -v prints it) with every seed");
    return Command{sweep, [options] { return sweep_command(*options); }};
}

}  // namespace eosim::cli
