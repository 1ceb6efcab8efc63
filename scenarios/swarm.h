#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "scenarios/spec.h"

namespace eosim::scenarios {

// Swarm testing (docs/swarm.md): each seed draws a scenario of its own from the built-in must-pass ones: the
// cluster's shape, the workload's knobs, the fault mix and its rates, buggify on or off.
struct SwarmDraw {
    std::string base;  // the built-in scenario it starts from
    std::string toml;  // the drawn spec, as a spec file (eosim run --spec takes it)
    std::vector<std::pair<std::string, std::string>> knobs;  // every drawn parameter, in draw order
};

// The swarm scenario's draw for `seed`: the seed alone decides it (its own random stream "swarm").
SwarmDraw draw_swarm(std::uint64_t seed);
// The drawn scenario, parsed, named "swarm".
Spec swarm_spec(const SwarmDraw& draw, std::uint64_t seed);

}  // namespace eosim::scenarios
