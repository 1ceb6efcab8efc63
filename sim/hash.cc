#include "sim/hash.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace eosim::sim {

std::uint64_t hash_bytes(std::span<const std::byte> bytes, std::uint64_t seed) noexcept {
    return XXH64(bytes.data(), bytes.size(), seed);
}

std::uint64_t hash_string(std::string_view text, std::uint64_t seed) noexcept {
    return XXH64(text.data(), text.size(), seed);
}

}  // namespace eosim::sim
