#include "cli/html_report.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "reports/html.h"
#include "reports/junit.h"
#include "reports/text.h"
#include "scenarios/spec.h"

namespace eosim::cli {

std::string report_file_name(const scenarios::RunResult& result) {
    // Safe in a path and a link: a spec file's name may hold any character.
    std::string name = fmt::format("{}-seed{}{}", result.scenario, result.seed, result.bug.empty() ? "" : "-" + result.bug);
    for (char& c : name) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                           c == '_' || c == '.';
        if (!plain) {
            c = '_';
        }
    }
    return name + ".html";
}

namespace {

void make_directory(const std::string& dir) {
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    if (error || !std::filesystem::is_directory(dir)) {
        throw UsageError(fmt::format("{}: cannot make the directory ({})", dir, error ? error.message() : "not a directory"));
    }
}

}  // namespace

ReportedRun run_with_report(const scenarios::Spec& spec, scenarios::RunOptions options, const std::string& dir,
                            std::ostream* trace, std::ostream* history) {
    make_directory(dir);
    std::ostringstream recorded_trace;
    std::ostringstream recorded_history;
    scenarios::MessageLog messages;
    options.trace = &recorded_trace;
    options.history = &recorded_history;
    options.messages = &messages;
    ReportedRun reported{timed_run(spec, options), ""};
    const std::string trace_text = recorded_trace.str();
    const std::string history_text = recorded_history.str();
    if (trace != nullptr) {
        *trace << trace_text;
    }
    if (history != nullptr) {
        *history << history_text;
    }
    reported.path = (std::filesystem::path(dir) / report_file_name(reported.timed.result)).string();
    std::ofstream out = open_output(reported.path);
    reports::write_run_html(out, reported.timed,
                            reports::RunRecording{.trace = trace_text, .history = history_text, .messages = &messages});
    close_output(out, reported.path);
    return reported;
}

std::optional<std::pair<scenarios::Spec, scenarios::RunOptions>> rerun_builtin(const scenarios::RunResult& result) {
    const scenarios::Spec* spec = scenarios::find_builtin(result.scenario);
    const std::string& command = result.reproduce;
    if (spec == nullptr || command.find(" --spec ") != std::string::npos || command.find(" --plan ") != std::string::npos ||
        command.find(" --input ") != std::string::npos) {
        return std::nullopt;
    }
    scenarios::RunOptions options;
    options.seed = result.seed;
    options.bug = result.bug;
    return std::pair{*spec, options};
}

void write_sweep_report(const std::string& path, const reports::SweepInfo& info, const std::vector<Timed>& results,
                        const reports::Tally& counts, std::size_t most, const Rerun& rerun) {
    std::ofstream out = open_output(path);  // first: a bad path fails before any run
    const std::filesystem::path page(path);
    const std::string runs_dir_name = page.stem().string() + "-runs";
    const std::filesystem::path runs_dir = page.parent_path() / runs_dir_name;
    reports::RunLinks links;
    std::size_t done = 0;
    std::size_t not_rerun = 0;
    for (const Timed& timed : results) {
        const scenarios::RunResult& r = timed.result;
        if (r.status == scenarios::RunStatus::pass || done >= most) {
            continue;
        }
        const auto again = rerun(r);
        if (!again) {
            ++not_rerun;
            continue;
        }
        const ReportedRun reported = run_with_report(again->first, again->second, runs_dir.string());
        if (reported.timed.result.fingerprint != r.fingerprint) {
            fmt::print(stderr, "eosim: {} seed {}: fingerprint {:016x} now, {:016x} in the results (another build?); "
                               "its report shows this build's run\n",
                       r.scenario, r.seed, reported.timed.result.fingerprint, r.fingerprint);
        }
        links[{r.scenario, r.seed, r.bug}] = runs_dir_name + "/" + report_file_name(r);
        ++done;
    }
    if (not_rerun > 0) {
        fmt::print(stderr, "eosim: {} failing runs from spec files, plans or inputs have no timeline in {} "
                           "(run their reproduce commands with --report DIR)\n", not_rerun, path);
    }
    reports::write_sweep_html(out, info, results, counts, links);
    close_output(out, path);
}

void add_summary_options(CLI::App& command, SummaryPaths& paths, const std::string& out_what,
                         const std::string& html_what) {
    command.add_option("--out", paths.out, out_what);
    command.add_option("--junit", paths.junit, "Write JUnit XML to FILE: a test case per seed");
    command.add_option("--json", paths.json, "Write the summary to FILE as JSON");
    command.add_option("--html", paths.html, html_what);
    command.add_option("--html-runs", paths.html_runs, "How many failing runs get a timeline with --html")
        ->capture_default_str();
}

SummaryOutputs::SummaryOutputs(const SummaryPaths& paths)
    : paths_(paths), out_(open_output(paths.out)), junit_(open_output(paths.junit)), json_(open_output(paths.json)) {
    if (!paths.html.empty()) {
        open_output(paths.html);  // fails now if it cannot be written
    }
}

int SummaryOutputs::finish(const reports::SweepInfo& info, const std::vector<Timed>& results, const Rerun& rerun,
                           bool quiet) {
    const reports::Tally counts = reports::tally(info, results);
    if (out_.is_open()) {
        for (const Timed& timed : results) {
            out_ << reports::result_line(timed) << '\n';
        }
    }
    if (junit_.is_open()) {
        reports::write_junit(junit_, info, results);
    }
    if (json_.is_open()) {
        json_ << reports::json_text(reports::sweep_json(info, results, counts), 2) << '\n';
    }
    close_output(out_, paths_.out);
    close_output(junit_, paths_.junit);
    close_output(json_, paths_.json);
    if (!paths_.html.empty()) {
        write_sweep_report(paths_.html, info, results, counts, paths_.html_runs, rerun);
    }
    reports::print_sweep(stdout, info, results, counts, reports::Style::for_stream(stdout), quiet);
    return counts.exit_status();
}

}  // namespace eosim::cli
