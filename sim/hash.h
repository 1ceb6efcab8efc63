#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace eosim::sim {

// Fixed, specified hashes. Nothing in a decision ever uses std::hash (its values are unspecified).

// XXH64 (xxHash, libxxhash) of bytes with a seed.
std::uint64_t hash_bytes(std::span<const std::byte> bytes, std::uint64_t seed = 0) noexcept;
std::uint64_t hash_string(std::string_view text, std::uint64_t seed = 0) noexcept;

// SplitMix64's finaliser: a bijective 64-bit mixer.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

// Combines a value into a running hash (order-sensitive).
constexpr std::uint64_t hash_combine(std::uint64_t running, std::uint64_t value) noexcept {
    return mix64(running ^ (value + 0x9e3779b97f4a7c15ULL + (running << 6) + (running >> 2)));
}

}  // namespace eosim::sim
