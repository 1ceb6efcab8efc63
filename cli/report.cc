// eosim report: merges the results files of sweeps (shards, machines) into one summary, JUnit XML or JSON.
#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "cli/html_report.h"
#include "reports/junit.h"
#include "reports/summary.h"
#include "reports/text.h"
#include "scenarios/spec.h"

namespace eosim::cli {

namespace {

struct ReportOptions {
    std::vector<std::string> inputs;
    std::string out_path;
    std::string junit_path;
    std::string json_path;
    std::string html_path;
    std::size_t html_runs = 20;
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
    std::stable_sort(results.begin(), results.end(), [](const Timed& a, const Timed& b) {
        return std::tuple{a.result.scenario, a.result.seed, a.result.bug} <
               std::tuple{b.result.scenario, b.result.seed, b.result.bug};
    });
    std::ofstream out = open_output(options.out_path);
    std::ofstream junit = open_output(options.junit_path);
    std::ofstream json = open_output(options.json_path);
    if (!options.html_path.empty()) {
        open_output(options.html_path);  // fails now if it cannot be written
    }

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
    const reports::Tally counts = reports::tally(info, results);
    if (out.is_open()) {
        for (const Timed& timed : results) {
            out << reports::result_line(timed) << '\n';
        }
    }
    if (junit.is_open()) {
        reports::write_junit(junit, info, results);
    }
    if (json.is_open()) {
        json << reports::json_text(reports::sweep_json(info, results, counts), 2) << '\n';
    }
    close_output(out, options.out_path);
    close_output(junit, options.junit_path);
    close_output(json, options.json_path);
    if (!options.html_path.empty()) {
        write_sweep_report(options.html_path, info, results, counts, options.html_runs, rerun_builtin);
    }
    reports::print_sweep(stdout, info, results, counts, reports::Style::for_stream(stdout), options.quiet);
    return counts.exit_status();
}

}  // namespace

Command add_report(CLI::App& app) {
    auto options = std::make_shared<ReportOptions>();
    CLI::App* report =
        app.add_subcommand("report", "Merge the results files of sweeps (--out of each shard) into one report");
    report->add_option("results", options->inputs, "Results files (JSON lines, as sweep --out writes them)")
        ->required();
    report->add_option("--out", options->out_path, "Write the merged results to FILE (JSON lines, sorted)");
    report->add_option("--junit", options->junit_path, "Write JUnit XML to FILE: a test case per seed");
    report->add_option("--json", options->json_path, "Write the summary to FILE as JSON");
    report->add_option("--html", options->html_path,
                       "Write an HTML report to FILE: the seeds, outcomes, anomalies and probes, with the timelines of "
                       "the first failing runs of built-in scenarios (run again) in FILE's -runs folder");
    report->add_option("--html-runs", options->html_runs, "How many failing runs get a timeline with --html (default 20)");
    report->add_flag("--probes", options->show_probes, "List every code probe with the number of seeds that hit it");
    report->add_flag("-q,--quiet", options->quiet, "The summary's first lines only");
    return Command{report, [options] { return report_command(*options); }};
}

}  // namespace eosim::cli
