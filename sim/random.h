#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "sim/assert.h"

namespace eosim::sim {

// A stream of pseudo-random numbers: xoshiro256** seeded through SplitMix64.
//
// Streams are forked by name: fork("network") derives a stream from this stream's key and the name's
// XXH64 hash, never from its current position, so a new draw in one component never shifts the draws
// of another.
class Random {
public:
    explicit Random(std::uint64_t key);

    // An independent stream named `name` under this one. Does not advance this stream.
    [[nodiscard]] Random fork(std::string_view name) const;
    [[nodiscard]] Random fork(std::uint64_t index) const;

    [[nodiscard]] std::uint64_t key() const { return key_; }

    std::uint64_t next_u64();

    // Uniform in [0, bound). bound > 0. Unbiased (Lemire's method).
    std::uint64_t below(std::uint64_t bound);
    // Uniform in [low, high], inclusive.
    std::int64_t between(std::int64_t low, std::int64_t high);
    // Uniform in [0, 1).
    double unit();
    // True with probability p.
    bool chance(double p);
    // Exponentially distributed with the given mean.
    double exponential(double mean);
    // Pareto (heavy tail) with minimum x_min and shape alpha.
    double pareto(double x_min, double alpha);

    std::chrono::nanoseconds duration_between(std::chrono::nanoseconds low, std::chrono::nanoseconds high);

    template <typename T>
    const T& pick(std::span<const T> items) {
        EOSIM_ASSERT(!items.empty());
        return items[below(items.size())];
    }
    template <typename T>
    const T& pick(const std::vector<T>& items) {
        return pick(std::span<const T>(items));
    }

    template <typename T>
    void shuffle(std::vector<T>& items) {
        for (std::size_t i = items.size(); i > 1; --i) {
            std::swap(items[i - 1], items[below(i)]);
        }
    }

private:
    std::uint64_t key_;
    std::array<std::uint64_t, 4> state_{};
};

}  // namespace eosim::sim
