#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "scenarios/runner.h"

namespace eosim::cli {

// The wall-clock time a run took (measured outside the simulation, for the report only).
struct Timed {
    scenarios::RunResult result;
    double wall_ms = 0;
    double finished_s = 0;  // in a sweep: when it finished, in wall seconds from the sweep's start
};

Timed timed_run(const scenarios::Spec& spec, const scenarios::RunOptions& options);
// One JSON object (a line of --out): scenario, seed, bug, status, anomalies, weaknesses, fingerprint,
// events, sim_ns, wall_ms, reproduce.
nlohmann::json result_json(const Timed& timed);
Timed result_from_json(const nlohmann::json& json);
// "faults: 33 planned, 30 applied (2 deferred, 1 downgraded), 3 dropped"
std::string fault_summary(const scenarios::FaultCounts& faults);
// The human summary of one run (what `eosim run` prints).
void print_run(std::FILE* out, const Timed& timed, bool verbose);

}  // namespace eosim::cli
