#include "sim/random.h"

#include <bit>
#include <cmath>

#include "sim/hash.h"

namespace eosim::sim {

namespace {

__extension__ using uint128 = unsigned __int128;

std::uint64_t splitmix_next(std::uint64_t& x) {
    x += 0x9e3779b97f4a7c15ULL;
    return mix64(x);
}

}  // namespace

Random::Random(std::uint64_t key) : key_(key) {
    std::uint64_t x = key;
    for (auto& word : state_) {
        word = splitmix_next(x);
    }
}

Random Random::fork(std::string_view name) const { return Random(hash_string(name, key_)); }

Random Random::fork(std::uint64_t index) const { return Random(hash_combine(key_, index)); }

std::uint64_t Random::next_u64() {
    const std::uint64_t result = std::rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = std::rotl(state_[3], 45);
    return result;
}

std::uint64_t Random::below(std::uint64_t bound) {
    EOSIM_ASSERT(bound > 0);
    uint128 product = static_cast<uint128>(next_u64()) * bound;
    auto low = static_cast<std::uint64_t>(product);
    if (low < bound) {
        const std::uint64_t threshold = (0 - bound) % bound;
        while (low < threshold) {
            product = static_cast<uint128>(next_u64()) * bound;
            low = static_cast<std::uint64_t>(product);
        }
    }
    return static_cast<std::uint64_t>(product >> 64);
}

std::int64_t Random::between(std::int64_t low, std::int64_t high) {
    EOSIM_ASSERT(low <= high);
    const auto span = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
    if (span == UINT64_MAX) {
        return static_cast<std::int64_t>(next_u64());
    }
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + below(span + 1));
}

double Random::unit() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

bool Random::chance(double p) {
    if (p <= 0.0) {
        return false;
    }
    if (p >= 1.0) {
        return true;
    }
    return unit() < p;
}

double Random::exponential(double mean) {
    EOSIM_ASSERT(mean >= 0.0);
    return -mean * std::log1p(-unit());
}

double Random::pareto(double x_min, double alpha) {
    EOSIM_ASSERT(x_min > 0.0 && alpha > 0.0);
    return x_min / std::pow(1.0 - unit(), 1.0 / alpha);
}

std::chrono::nanoseconds Random::duration_between(std::chrono::nanoseconds low, std::chrono::nanoseconds high) {
    return std::chrono::nanoseconds(between(low.count(), high.count()));
}

}  // namespace eosim::sim
