// eosim report: merges the results files of sweeps (shards, machines) into one summary, JUnit XML or JSON.
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "cli/html_report.h"
#include "reports/summary.h"
#include "scenarios/spec.h"

namespace eosim::cli {

namespace {

struct ReportOptions {
    std::vector<std::string> inputs;
    SummaryPaths outputs;
    bool quiet = false;
    bool show_probes = false;
};

int report_command(const ReportOptions& options) {
    std::vector<Timed> results;
    std::map<std::tuple<std::string, std::string, std::uint64_t>, std::string> seen;  // run -> the file it came from
    for (const std::string& path : options.inputs) {
        std::vector<Timed> read;
        try {
            read = reports::read_results(path);
        } catch (const reports::ResultsError& e) {
            throw UsageError(e.what());
        }
        for (Timed& timed : read) {
            const scenarios::RunResult& r = timed.result;
            const auto [at, inserted] = seen.emplace(std::tuple{r.scenario, r.bug, r.seed}, path);
            if (!inserted) {
                throw UsageError(fmt::format("{}: {} seed {}{} is also in {}: the shards overlap", path, r.scenario,
                                             r.seed, r.bug.empty() ? "" : " bug " + r.bug, at->second));
            }
            results.push_back(std::move(timed));
        }
    }
    if (results.empty()) {
        throw UsageError(fmt::format("{}: no results in the file{}", fmt::join(options.inputs, ", "),
                                     options.inputs.size() == 1 ? "" : "s"));
    }
    reports::sort_results(results);
    SummaryOutputs outputs(options.outputs);

    // What the sweep was, read off its results: the scenarios, the seed range, the bug switches.
    std::set<std::string> scenario_names;
    std::set<std::string> bugs;
    std::map<std::string, std::size_t> runs_of;
    reports::SweepInfo info{.first = results.front().result.seed, .last = results.front().result.seed};
    for (const Timed& timed : results) {
        scenario_names.insert(timed.result.scenario);
        bugs.insert(timed.result.bug);
        ++runs_of[timed.result.scenario];
        info.first = std::min(info.first, timed.result.seed);
        info.last = std::max(info.last, timed.result.seed);
    }
    info.title = scenario_names.size() == 1 ? *scenario_names.begin() : "all";
    info.bug = fmt::format("{}", fmt::join(bugs, ", "));
    info.show_probes = options.show_probes;
    // Complete when every scenario has every seed of the range once per bug switch.
    info.complete = std::all_of(runs_of.begin(), runs_of.end(), [&](const auto& entry) {
        return entry.second == (info.last - info.first + 1) * bugs.size();
    });
    info.incomplete_why = "the results miss seeds of the range";
    for (const std::string& name : scenario_names) {
        // A built-in scenario's weaknesses are known; a spec file's are not kept in its results.
        if (const scenarios::Spec* spec = scenarios::find_builtin(name);
            spec != nullptr && !spec->checks.weaknesses.empty()) {
            info.demonstrations.emplace_back(name, spec->checks.weaknesses);
        }
    }
    return outputs.finish(info, results, rerun_builtin, options.quiet);
}

}  // namespace

Command add_report(CLI::App& app) {
    auto options = std::make_shared<ReportOptions>();
    CLI::App* report =
        app.add_subcommand("report", "Merge the results files of sweeps (--out of each shard) into one report");
    report->add_option("results", options->inputs, "Results files (JSON lines, as sweep --out writes them)")
        ->required();
    add_summary_options(*report, options->outputs, "Write the merged results to FILE (JSON lines, sorted)",
                        "Write an HTML report to FILE: the seeds, outcomes, anomalies and probes, with the timelines of "
                        "the first failing runs of built-in scenarios (run again) in FILE's -runs folder");
    report->add_flag("--probes", options->show_probes, "List every code probe with the number of seeds that hit it");
    report->add_flag("-q,--quiet", options->quiet, "The summary's first lines only");
    return Command{report, [options] { return report_command(*options); }};
}

}  // namespace eosim::cli
