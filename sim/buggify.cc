#include "sim/buggify.h"

namespace eosim::sim {

Buggify::Buggify(bool enabled, Random random, double site_probability, double fire_probability)
    : enabled_(enabled),
      sites_random_(random.fork("sites")),
      fire_random_(random.fork("fire")),
      site_probability_(site_probability),
      fire_probability_(fire_probability) {}

bool Buggify::fire(std::string_view site) {
    if (!enabled_) {
        return false;
    }
    auto found = sites_.find(site);
    if (found == sites_.end()) {
        // The decision depends on the seed and the site's name only, not on which site came first.
        Random site_random = sites_random_.fork(site);
        found = sites_.emplace(std::string(site), site_random.chance(site_probability_)).first;
    }
    if (!found->second || !fire_random_.chance(fire_probability_)) {
        return false;
    }
    ++firings_;
    return true;
}

}  // namespace eosim::sim
