#include "sim/invariants.h"

#include <fmt/format.h>

#include <limits>

namespace eosim::sim {

InvariantViolation::InvariantViolation(std::string name, const std::string& detail)
    : AssertionFailure(fmt::format("invariant {} broken: {}", name, detail)), name_(std::move(name)) {}

void invariant_failed(std::string_view name, const std::string& detail) {
    throw InvariantViolation(std::string(name), detail);
}

void Witness::claim(std::string_view invariant, const std::string& what, const std::string& owner) {
    const auto [claimed, inserted] = claims_.try_emplace(what, owner);
    EOSIM_INVARIANT(inserted || claimed->second == owner, invariant,
                    fmt::format("{} claimed {}, already claimed by {}", owner, what, claimed->second));
}

std::int64_t Witness::raise(const std::string& what, std::int64_t value) {
    auto [found, inserted] = highest_.try_emplace(what, value);
    if (!inserted && found->second < value) {
        found->second = value;
    }
    return found->second;
}

std::int64_t Witness::highest(const std::string& what) const {
    const auto found = highest_.find(what);
    return found != highest_.end() ? found->second : std::numeric_limits<std::int64_t>::min();
}

void Witness::announce(const Moment& moment) {
    EOSIM_ASSERT(!moment.name.empty());
    EOSIM_ASSERT(!moment.node.empty());
    // A copy: a listener may stop listening as it hears.
    std::vector<MomentListener> listeners;
    listeners.reserve(listeners_.size());
    for (const auto& [id, listener] : listeners_) {
        listeners.push_back(listener);
    }
    for (const MomentListener& listener : listeners) {
        listener(moment);
    }
}

std::uint64_t Witness::listen(MomentListener listener) {
    EOSIM_ASSERT(listener);
    const std::uint64_t id = next_listener_++;
    listeners_.emplace(id, std::move(listener));
    return id;
}

void Witness::unlisten(std::uint64_t id) {
    EOSIM_ASSERT(listeners_.erase(id) == 1);
}

}  // namespace eosim::sim
