#pragma once

#include <map>
#include <string>
#include <string_view>

#include "sim/random.h"

namespace eosim::sim {

// Buggify points push production code into its rare paths (an early timeout, a short read, an extra
// delay). When buggify is on for a run, each site is switched on with site_probability, decided by
// the seed and the site's name alone; a site that is on fires with fire_probability each time.
class Buggify {
public:
    Buggify(bool enabled, Random random, double site_probability = 0.25, double fire_probability = 0.25);

    // Whether the site fires now. `site` is the site's stable name ("slow-produce-answer"), never a file
    // and line: an edit elsewhere in a file must not change which sites a seed switches on.
    bool fire(std::string_view site);

    [[nodiscard]] bool enabled() const { return enabled_; }
    // From now on no site fires: the run's liveness phase holds the cluster to its fault-free behaviour,
    // as FoundationDB's simulator turns buggify off before it checks for a quiet database.
    void disable() { enabled_ = false; }
    [[nodiscard]] std::uint64_t firings() const { return firings_; }
    // Sites reached in this run: name -> switched on.
    [[nodiscard]] const std::map<std::string, bool, std::less<>>& sites() const { return sites_; }

private:
    bool enabled_;
    Random sites_random_;
    Random fire_random_;
    double site_probability_;
    double fire_probability_;
    std::uint64_t firings_ = 0;
    std::map<std::string, bool, std::less<>> sites_;
};

}  // namespace eosim::sim
