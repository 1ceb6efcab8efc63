#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <functional>
#include <optional>
#include <string>

#include "faults/fault_plan.h"
#include "reports/result.h"

namespace eosim::scenarios {
struct Spec;
}

namespace eosim::cli {

// Exit statuses of the eosim command.
enum ExitStatus : int {
    exit_ok = 0,        // every check held
    exit_anomaly = 1,   // an anomaly was found
    exit_usage = 2,     // bad usage or bad input (one-line reason on stderr)
    exit_internal = 3,  // an internal error of eosim
};

// Bad usage or input: main prints "eosim: <what>" and exits 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Each subcommand registers itself on the app and sets the function that runs it.
struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;
};

Command add_list(CLI::App& app);
Command add_run(CLI::App& app);
Command add_sweep(CLI::App& app);
Command add_check(CLI::App& app);
Command add_shrink(CLI::App& app);
Command add_zoo(CLI::App& app);
Command add_probes(CLI::App& app);
Command add_report(CLI::App& app);

using reports::Timed;

// Runs one seed and times it (wall time, measured outside the simulation, for the report only).
Timed timed_run(const scenarios::Spec& spec, const scenarios::RunOptions& options);

// The files a sweep's results go to, as `sweep` and `report` take them.
struct SummaryPaths {
    std::string out;    // results lines
    std::string junit;  // JUnit XML
    std::string json;   // the JSON summary
    std::string html;   // the HTML page
    std::size_t html_runs = 20;
};

// Opens FILE for writing (an empty path: a stream left closed). A command opens its outputs before it runs
// anything, so that a bad path fails at once. Throws UsageError "FILE: cannot write".
std::ofstream open_output(const std::string& path);
// Flushes an output opened by open_output and throws UsageError if any write failed (a full disk).
void close_output(std::ofstream& out, const std::string& path);

// The spec a command names: a built-in scenario, or --spec FILE. Throws UsageError.
scenarios::Spec resolve_spec(const std::string& scenario, const std::string& spec_path);
// Checks a bug switch name. Throws UsageError.
void check_bug(const std::string& bug);
// The fault plan in the JSON file `path` (as `eosim run -v` prints it), checked against the spec's nodes.
// Throws UsageError naming the file, the action and the field.
faults::FaultPlan read_plan(const std::string& path, const scenarios::Spec& spec, std::uint64_t seed);

}  // namespace eosim::cli
