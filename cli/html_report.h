// HTML reports from the command line: a run recorded for its timeline (run --report DIR), and a sweep's
// page with the timelines of its first failing runs (sweep --html, report --html).
#pragma once

#include <cstddef>
#include <functional>
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

}  // namespace eosim::cli
