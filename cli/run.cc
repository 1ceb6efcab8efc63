#include <cstdint>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/report.h"
#include "scenarios/spec.h"
#include "sim/determinism.h"

namespace eosim::cli {

namespace {
struct RunOptions {
    std::string scenario;
    std::string spec_path;
    std::uint64_t seed = 0;
    std::string bug;
    std::string trace_path;
    std::string history_path;
    bool check_determinism = false;
    bool verbose = false;
};

std::ofstream open_output(const std::string& path) {
    std::ofstream out(path);
    if (!out) {
        throw UsageError(fmt::format("{}: cannot write", path));
    }
    return out;
}

int run_command(const RunOptions& options) {
    const scenarios::Spec spec = resolve_spec(options.scenario, options.spec_path);
    check_bug(options.bug);
    scenarios::RunOptions run_options;
    run_options.seed = options.seed;
    run_options.bug = options.bug;
    run_options.spec_path = options.spec_path;
    if (options.check_determinism) {
        const sim::DeterminismCheck check = sim::check_determinism([&](std::ostream* trace) {
            scenarios::RunOptions once = run_options;
            once.trace = trace;
            return scenarios::run(spec, once).fingerprint;
        });
        if (!check.deterministic) {
            fmt::print("{} seed {}: NOT deterministic: fingerprints {:016x} and {:016x}\n", spec.name, options.seed,
                       check.first_fingerprint, check.second_fingerprint);
            if (check.divergence_line > 0) {
                fmt::print("first difference at trace line {}:\n  {}\n  {}\n", check.divergence_line, check.first_line,
                           check.second_line);
            }
            return exit_internal;
        }
        fmt::print("{} seed {}: deterministic (fingerprint {:016x}, twice)\n", spec.name, options.seed,
                   check.first_fingerprint);
    }
    std::ofstream trace;
    std::ofstream history;
    if (!options.trace_path.empty()) {
        trace = open_output(options.trace_path);
        run_options.trace = &trace;
    }
    if (!options.history_path.empty()) {
        history = open_output(options.history_path);
        run_options.history = &history;
    }
    const Timed timed = timed_run(spec, run_options);
    print_run(stdout, timed, options.verbose);
    switch (timed.result.status) {
        case scenarios::RunStatus::pass: return exit_ok;
        case scenarios::RunStatus::fail: return exit_anomaly;
        case scenarios::RunStatus::error: return exit_internal;
    }
    return exit_internal;
}
}  // namespace

Command add_run(CLI::App& app) {
    auto options = std::make_shared<RunOptions>();
    CLI::App* run = app.add_subcommand("run", "Run one scenario with one seed");
    run->add_option("scenario", options->scenario, "Scenario name (see eosim list)");
    run->add_option("--spec", options->spec_path, "A scenario spec file (TOML) instead of a built-in one");
    run->add_option("--seed", options->seed, "The seed that drives the whole run")->required();
    run->add_option("--bug", options->bug, "Turn a bug switch on (see eosim list --bugs)");
    run->add_option("--trace", options->trace_path, "Write every trace event to FILE as JSON lines");
    run->add_option("--history", options->history_path, "Write the run's history to FILE (docs/history-format.md)");
    run->add_flag("--check-determinism", options->check_determinism, "Run twice and compare fingerprints first");
    run->add_flag("-v,--verbose", options->verbose, "Print the parameters drawn from the seed and the fault plan");
    return Command{run, [options] { return run_command(*options); }};
}

}  // namespace eosim::cli
