// One run's result as the reports see it: the run, its wall time, and the JSON line a sweep writes for it.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenarios/runner.h"

namespace eosim::reports {

// A run's result and the wall-clock time it took (measured outside the simulation, for the report only).
struct Timed {
    scenarios::RunResult result;
    double wall_ms = 0;
    double finished_s = 0;  // in a sweep: when it finished, in wall seconds from the sweep's start
};

// A results file that cannot be read: "FILE:LINE: reason" (the CLI exits 2 with it).
class ResultsError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The evidence a result line keeps: at most this many reports of the anomalies that failed the run.
inline constexpr std::size_t evidence_kept = 20;

// One JSON object (a line of `sweep --out`): scenario, seed, bug, status, anomalies, weaknesses, allowed,
// fingerprint, events, sim_ns, wall_ms, reproduce, evidence, faults, probes, params (docs/reports.md).
nlohmann::json result_json(const Timed& timed);
// result_json as one line of text; bytes that are not UTF-8 (an error message quoting a damaged value) become
// U+FFFD rather than fail the sweep.
std::string result_line(const Timed& timed);
// Any JSON as text, the same way (indent -1: one line).
std::string json_text(const nlohmann::json& json, int indent = -1);
// The inverse of result_json. Throws ResultsError (without a place) when a field is missing or mistyped.
Timed result_from_json(const nlohmann::json& json);
// Every line of a results file (`sweep --out`), in file order. Throws ResultsError "FILE:LINE: reason".
std::vector<Timed> read_results(const std::string& path);
// Sorted by scenario, then seed, then bug switch (the order of every report).
void sort_results(std::vector<Timed>& results);
// Whether the run failed with the anomaly `report` names (not a weakness or an allowed one).
bool failing(const scenarios::RunResult& result, const scenarios::AnomalyReport& report);

// "faults: 33 planned, 30 applied (2 deferred, 1 downgraded), 3 dropped"
std::string fault_summary(const scenarios::FaultCounts& faults);

}  // namespace eosim::reports
