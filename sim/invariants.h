#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "sim/assert.h"

// Invariants of the simulated system, checked during the run where they must hold, as a real
// implementation's assertions are. A broken one ends the run at once as a failure of its seed, reported
// as the anomaly `invariant-violation` with the invariant's name (docs/anomalies.md).

namespace eosim::sim {

class InvariantViolation : public AssertionFailure {
public:
    InvariantViolation(std::string name, const std::string& detail);

    [[nodiscard]] const std::string& name() const { return name_; }

private:
    std::string name_;
};

[[noreturn]] void invariant_failed(std::string_view name, const std::string& detail);

// What the harness saw across nodes, for invariants no single node can check: who claimed what (one
// leader per partition and epoch) and the highest value anyone reached (the newest metadata any broker
// applied). Harness state, not simulated state: it survives crashes and never steers a run.
class Witness {
public:
    // `owner` claims `what` (for example "leader of t-0 in epoch 3"); another owner's claim of the same
    // thing breaks the invariant `invariant`. The same owner may claim it again.
    void claim(std::string_view invariant, const std::string& what, const std::string& owner);
    // Records that `value` of `what` was reached; returns the highest so far.
    std::int64_t raise(const std::string& what, std::int64_t value);
    [[nodiscard]] std::int64_t highest(const std::string& what) const;
    // Counts one more `what` (a power loss, an unclean election); how many so far (0 for none).
    void tally(const std::string& what) { ++tallies_[what]; }
    [[nodiscard]] std::int64_t tallied(const std::string& what) const {
        const auto found = tallies_.find(what);
        return found != tallies_.end() ? found->second : 0;
    }

private:
    std::map<std::string, std::string, std::less<>> claims_;
    std::map<std::string, std::int64_t, std::less<>> highest_;
    std::map<std::string, std::int64_t, std::less<>> tallies_;
};

}  // namespace eosim::sim

// Checks an invariant; `detail` (a std::string expression) is evaluated only when it is broken.
#define EOSIM_INVARIANT(condition, name, detail)                  \
    do {                                                          \
        if (!(condition)) [[unlikely]] {                          \
            ::eosim::sim::invariant_failed((name), (detail));     \
        }                                                         \
    } while (false)
