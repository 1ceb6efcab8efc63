// A sweep's outputs from the command line (sweep and report: --out, --junit, --json, --html), and the HTML
// reports: a run recorded for its timeline (run --report DIR), a sweep's page with the timelines of its first
// failing runs.
#pragma once

#include <cstddef>
#include <fstream>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "reports/summary.h"

namespace eosim::cli {

// "log-acks-all-seed6-no-crc-check.html": a run's report's file name.
std::string report_file_name(const scenarios::RunResult& result);

// Runs `spec` recording its trace, history and messages, and writes its report to DIR/report_file_name().
// `trace` and `history`, when set, get a copy of what was recorded (run --trace, --history).
struct ReportedRun {
    Timed timed;
    std::string path;
};
ReportedRun run_with_report(const scenarios::Spec& spec, scenarios::RunOptions options, const std::string& dir,
                            std::ostream* trace = nullptr, std::ostream* history = nullptr);

// How to run a result again: its spec and run options, or nullopt when it cannot be (a spec file or an
// input no longer at hand).
using Rerun = std::function<std::optional<std::pair<scenarios::Spec, scenarios::RunOptions>>(const scenarios::RunResult&)>;
// The built-in scenario a result names, with its seed and bug; nullopt for a spec file, a plan or inputs.
std::optional<std::pair<scenarios::Spec, scenarios::RunOptions>> rerun_builtin(const scenarios::RunResult& result);

// The sweep's page at `path`, and the reports of its first `most` runs that did not pass, run again (runs are
// deterministic) into "<path without .html>-runs/", linked from the page. Notes on stderr what it could not
// run again, and any run whose fingerprint differs from its result's (results of another build).
void write_sweep_report(const std::string& path, const reports::SweepInfo& info, const std::vector<Timed>& results,
                        const reports::Tally& counts, std::size_t most, const Rerun& rerun);

// Adds --out, --junit, --json, --html and --html-runs to `command`; `out_what` says what --out writes and
// `html_what` what --html does.
void add_summary_options(CLI::App& command, SummaryPaths& paths, const std::string& out_what,
                         const std::string& html_what);

// Opens every output at once (a bad path fails before anything runs); finish() writes them all and prints
// the text summary.
class SummaryOutputs {
public:
    explicit SummaryOutputs(const SummaryPaths& paths);
    // `results` sorted (reports::sort_results). Returns the exit status (reports::Tally::exit_status).
    int finish(const reports::SweepInfo& info, const std::vector<Timed>& results, const Rerun& rerun, bool quiet);

private:
    SummaryPaths paths_;
    std::ofstream out_;
    std::ofstream junit_;
    std::ofstream json_;
};

}  // namespace eosim::cli
