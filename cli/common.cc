#include <chrono>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "scenarios/bugs.h"
#include "scenarios/runner.h"
#include "scenarios/spec.h"

namespace eosim::cli {

std::ofstream open_output(const std::string& path) {
    std::ofstream out;
    if (!path.empty()) {
        out.open(path);
        if (!out) {
            throw UsageError(fmt::format("{}: cannot write", path));
        }
    }
    return out;
}

void close_output(std::ofstream& out, const std::string& path) {
    if (out.is_open()) {
        out.flush();
        if (!out) {
            throw UsageError(fmt::format("{}: cannot write (is the disk full?)", path));
        }
        out.close();
    }
}

Timed timed_run(const scenarios::Spec& spec, const scenarios::RunOptions& options) {
    const auto start = std::chrono::steady_clock::now();  // the report's wall time: never read by the simulation
    Timed timed{scenarios::run(spec, options), 0};
    timed.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return timed;
}

scenarios::Spec resolve_spec(const std::string& scenario, const std::string& spec_path) {
    if (!scenario.empty() && !spec_path.empty()) {
        throw UsageError(fmt::format("give a scenario name ('{}') or --spec FILE, not both", scenario));
    }
    if (!spec_path.empty()) {
        try {
            return scenarios::load_spec_file(spec_path);
        } catch (const scenarios::SpecError& error) {
            throw UsageError(error.what());
        }
    }
    if (scenario.empty()) {
        throw UsageError("name a scenario (see eosim list) or give --spec FILE");
    }
    const scenarios::Spec* spec = scenarios::find_builtin(scenario);
    if (spec == nullptr) {
        throw UsageError(fmt::format("unknown scenario '{}' (see eosim list)", scenario));
    }
    return *spec;
}

void check_bug(const std::string& bug) {
    if (!bug.empty() && scenarios::find_bug(bug) == nullptr) {
        throw UsageError(fmt::format("unknown bug switch '{}' (see eosim list --bugs)", bug));
    }
}

faults::FaultPlan read_plan(const std::string& path, const scenarios::Spec& spec, std::uint64_t seed) {
    std::ifstream in(path);
    if (!in) {
        throw UsageError(fmt::format("{}: cannot read", path));
    }
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json json;
    try {
        json = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::parse_error& error) {
        // nlohmann's message begins with its own tag in brackets: the reader wants the position and reason.
        std::string what = error.what();
        if (const std::size_t tag = what.find("] "); what.starts_with("[") && tag != std::string::npos) {
            what.erase(0, tag + 2);
        }
        throw UsageError(fmt::format("{}: not a JSON fault plan: {}", path, what));
    }
    faults::FaultPlan plan;
    try {
        plan = faults::plan_from_json(json);
    } catch (const faults::PlanError& error) {
        throw UsageError(fmt::format("{}: {}", path, error.what()));
    }
    if (const std::string problem = scenarios::check_plan(spec, plan, seed); !problem.empty()) {
        throw UsageError(fmt::format("{}: {}", path, problem));
    }
    return plan;
}

}  // namespace eosim::cli
