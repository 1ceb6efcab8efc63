#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <utility>
#include <vector>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "cli/html_report.h"
#include "reports/text.h"
#include "scenarios/spec.h"
#include "scenarios/stream_apps.h"
#include "scenarios/stream_io.h"
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
    bool quiet = false;
    std::vector<std::string> inputs;  // TOPIC=FILE
    std::vector<std::string> dumps;   // TOPIC=FILE
    std::string plan_path;
    std::string report_dir;
};

// "TOPIC=FILE" -> (TOPIC, FILE).
std::pair<std::string, std::string> topic_and_file(const std::string& option, const std::string& text) {
    const std::size_t equals = text.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == text.size()) {
        throw UsageError(fmt::format("{} wants TOPIC=FILE, got '{}'", option, text));
    }
    return {text.substr(0, equals), text.substr(equals + 1)};
}

const protocol::TopicDescription& spec_topic(const scenarios::Spec& spec, const std::string& option,
                                             const std::string& topic) {
    const auto found = std::find_if(spec.topics.begin(), spec.topics.end(),
                                    [&topic](const protocol::TopicDescription& t) { return t.name == topic; });
    if (found == spec.topics.end()) {
        std::vector<std::string> names;
        for (const protocol::TopicDescription& t : spec.topics) {
            names.push_back(t.name);
        }
        throw UsageError(fmt::format("{}: scenario {} has no topic '{}' (its topics: {})", option, spec.name, topic,
                                     fmt::join(names, ", ")));
    }
    return *found;
}

// The --input files, read and checked against the scenario's stream application, merged in sending order.
std::vector<scenarios::InputRecord> read_inputs(const scenarios::Spec& spec, const std::vector<std::string>& inputs) {
    if (inputs.empty()) {
        return {};
    }
    const scenarios::StreamApp* app = scenarios::find_stream_app(spec.workload.stream_app);
    if (app == nullptr) {
        throw UsageError(fmt::format("--input: scenario {} runs no stream application", spec.name));
    }
    std::vector<std::vector<scenarios::InputRecord>> files;
    std::map<std::string, std::set<std::string>> values;  // per topic, the values sent so far
    for (const std::string& text : inputs) {
        const auto [topic, path] = topic_and_file("--input", text);
        if (std::find(app->inputs.begin(), app->inputs.end(), topic) == app->inputs.end()) {
            throw UsageError(fmt::format("--input: '{}' is not an input topic of {} (its inputs: {})", topic, app->name,
                                         fmt::join(app->inputs, ", ")));
        }
        const protocol::TopicDescription& described = spec_topic(spec, "--input", topic);
        std::ifstream in(path);
        if (!in) {
            throw UsageError(fmt::format("{}: cannot read", path));
        }
        try {
            files.push_back(scenarios::read_input(topic, in, path));
        } catch (const scenarios::InputError& error) {
            throw UsageError(error.what());
        }
        for (std::size_t line = 0; line < files.back().size(); ++line) {
            const scenarios::InputRecord& record = files.back()[line];
            if (record.partition && *record.partition >= described.partitions) {
                throw UsageError(fmt::format("{}: partition {} of '{}', which has {}", path, *record.partition, topic,
                                             described.partitions));
            }
            // The history's checkers of the input topics take every value to be unique (docs/apps.md).
            if (record.value && !values[topic].insert(*record.value).second) {
                throw UsageError(fmt::format("{}: the value '{}' is sent to '{}' twice (each value must be unique: "
                                             "begin it with an id of its own)",
                                             path, *record.value, topic));
            }
        }
    }
    if (spec.workload.producers < 1) {
        throw UsageError(fmt::format("--input: scenario {} has no producer to send it", spec.name));
    }
    return scenarios::merge_inputs(files);
}

int run_command(const RunOptions& options) {
    const scenarios::Spec spec = resolve_spec(options.scenario, options.spec_path);
    check_bug(options.bug);
    scenarios::RunOptions run_options;
    run_options.seed = options.seed;
    run_options.bug = options.bug;
    run_options.spec_path = options.spec_path;
    run_options.input = read_inputs(spec, options.inputs);
    run_options.input_files = options.inputs;
    if (!options.plan_path.empty()) {
        run_options.plan = read_plan(options.plan_path, spec, options.seed);
        run_options.plan_path = options.plan_path;
    }
    std::vector<std::unique_ptr<std::ofstream>> dump_files;
    for (const std::string& text : options.dumps) {
        const auto [topic, path] = topic_and_file("--dump", text);
        (void)spec_topic(spec, "--dump", topic);
        dump_files.push_back(std::make_unique<std::ofstream>(open_output(path)));
        run_options.dumps.emplace_back(topic, dump_files.back().get());
    }
    if (options.check_determinism) {
        const sim::DeterminismCheck check = sim::check_determinism([&](std::ostream* trace) {
            scenarios::RunOptions once = run_options;
            once.trace = trace;
            once.dumps.clear();
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
    Timed timed;
    std::string report_path;
    if (!options.report_dir.empty()) {
        ReportedRun reported = run_with_report(spec, run_options, options.report_dir, run_options.trace, run_options.history);
        timed = std::move(reported.timed);
        report_path = std::move(reported.path);
    } else {
        timed = timed_run(spec, run_options);
    }
    reports::print_run(stdout, timed, options.verbose, reports::Style::for_stream(stdout), options.quiet);
    if (!report_path.empty()) {
        fmt::print("report: {}\n", report_path);
    }
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
    run->add_option("--input", options->inputs,
                    "Feed the JSON-lines records of FILE to the stream application's input TOPIC instead of its "
                    "generator (TOPIC=FILE, repeatable; docs/apps.md)");
    run->add_option("--dump", options->dumps,
                    "Write TOPIC's committed records to FILE as JSON lines after the run (TOPIC=FILE, repeatable)");
    run->add_option("--plan", options->plan_path,
                    "Run the fault plan in FILE (JSON, as -v prints it) instead of the one the seed draws "
                    "(docs/faults.md)");
    run->add_option("--report", options->report_dir,
                    "Write the run's HTML report (a timeline of nodes, faults, messages and anomalies) into DIR");
    run->add_flag("-v,--verbose", options->verbose, "Print the parameters drawn from the seed and the fault plan");
    run->add_flag("-q,--quiet", options->quiet, "Print the status line only (and the reproduce command on failure)")
        ->excludes("--verbose");
    return Command{run, [options] { return run_command(*options); }};
}

}  // namespace eosim::cli
