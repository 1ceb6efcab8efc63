#pragma once

#include <string_view>
#include <vector>

namespace eosim::scenarios {

// A code probe marks a rare path of the simulated system (where it happens, the code calls sim::probe with the
// probe's name); sweeps count the seeds that reach each, so a path no seed reaches shows (`eosim probes`,
// docs/probes.md).
struct CodeProbe {
    std::string_view name;
    std::string_view where;  // the module and function
    std::string_view description;
};

// Every probe the code has, in the order `eosim probes` lists them.
const std::vector<CodeProbe>& code_probes();
const CodeProbe* find_probe(std::string_view name);

// The buggify sites of the simulated system (sim::buggify), listed the same way: a site that is switched on
// for a run (buggify on, a quarter of the sites, by the seed) fires a quarter of the times it is reached.
const std::vector<CodeProbe>& buggify_sites();

}  // namespace eosim::scenarios
