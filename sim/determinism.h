#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace eosim::sim {

// What --check-determinism found: the fingerprints of two runs of the same seed, and where their
// traces first part when they differ.
struct DeterminismCheck {
    std::uint64_t first_fingerprint = 0;
    std::uint64_t second_fingerprint = 0;
    bool deterministic = true;
    std::uint64_t divergence_line = 0;  // 1-based line of the trace where the runs first differ
    std::string first_line;             // that line in each run ("" past the end of a trace)
    std::string second_line;
};

// Runs `run` twice; it runs one whole simulation of one seed, writes its trace to the stream it is
// given when that is not null, and returns the run's fingerprint. If the fingerprints differ, runs
// twice more with traces captured to find the first differing event.
DeterminismCheck check_determinism(const std::function<std::uint64_t(std::ostream* trace)>& run);

}  // namespace eosim::sim
