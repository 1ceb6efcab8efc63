// A sweep's results summed up (what every summary format shows), and its JSON summary (`--json`).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/result.h"

namespace eosim::reports {

// What a sweep was, besides its results.
struct SweepInfo {
    std::string title;  // the scenario, or "all"
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::string bug;
    std::string shard;       // "K/N" when the sweep ran one shard of the range; "" otherwise
    int workers = 0;         // 0: merged from results files
    double seconds = 0;      // wall time of the sweep; 0 when unknown (merged)
    bool show_probes = false;
    // Every run of the range is in the results (not one shard, not stopped early): only then can a sweep
    // say that a weakness showed in no seed.
    bool complete = true;
    std::string incomplete_why;  // when not complete: why, for the summary ("one shard of the range")
    // The scenarios that demonstrate weaknesses: name, and the weaknesses (a sweep of one fails if no seed
    // showed any of them).
    std::vector<std::pair<std::string, std::vector<std::string>>> demonstrations;
};

// What a summary counts over the results.
struct Tally {
    std::size_t runs = 0;
    std::size_t passed = 0;
    std::size_t failed = 0;
    std::size_t errors = 0;
    std::map<std::string, std::pair<std::size_t, const Timed*>> by_anomaly;  // seeds, and the first failing run
    std::map<std::string, std::size_t> weaknesses;                          // "scenario: weakness" -> seeds
    std::map<std::string, std::pair<std::int64_t, std::size_t>> counters;   // name -> total, seeds with any
    scenarios::FaultCounts faults;
    std::vector<std::pair<std::int64_t, std::string>> recoveries;  // ns from the heal, "scenario seed N" (sorted)
    std::int64_t liveness_bound_ns = 0;                              // the largest bound of any run
    std::map<std::string, std::size_t> probes;                      // code probe -> seeds that hit it
    std::vector<std::string> probes_never_hit;                       // of scenarios::code_probes(), in order
    // The weakness scenarios none of whose seeds showed a weakness: scenario, "w1 or w2".
    std::vector<std::pair<std::string, std::string>> unshown;
    std::uint64_t events = 0;
    std::int64_t sim_ns = 0;

    // 0 every seed passed; 1 a seed failed or a weakness showed in no seed; 3 a seed ended in error.
    [[nodiscard]] int exit_status() const { return failed > 0 || !unshown.empty() ? 1 : (errors > 0 ? 3 : 0); }
};

// The results must stay alive while the tally is used (by_anomaly points into them).
Tally tally(const SweepInfo& info, const std::vector<Timed>& results);

// The machine-readable summary (`--json FILE`, docs/reports.md).
nlohmann::json sweep_json(const SweepInfo& info, const std::vector<Timed>& results, const Tally& counts);

}  // namespace eosim::reports
