#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace eosim::protocol {

// Kafka's murmur2 (Utils.murmur2: MurmurHash2, 32 bits, seed 0x9747b28c, little-endian 4-byte blocks),
// which its default partitioner applies to a record's serialized key. Written from the algorithm in
// unsigned arithmetic (Java's int overflow wraps the same way); returns the bits as Java's int.
[[nodiscard]] constexpr std::int32_t murmur2(std::span<const std::byte> data) {
    constexpr std::uint32_t seed = 0x9747b28cU;
    constexpr std::uint32_t m = 0x5bd1e995U;
    constexpr unsigned r = 24;
    const std::size_t length = data.size();
    std::uint32_t h = seed ^ static_cast<std::uint32_t>(length);
    const auto byte_at = [&data](std::size_t i) { return static_cast<std::uint32_t>(data[i]); };
    const std::size_t blocks = length / 4;
    for (std::size_t i = 0; i < blocks; ++i) {
        std::uint32_t k =
            byte_at(4 * i) | (byte_at(4 * i + 1) << 8U) | (byte_at(4 * i + 2) << 16U) | (byte_at(4 * i + 3) << 24U);
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const std::size_t tail = blocks * 4;
    switch (length % 4) {
        case 3:
            h ^= byte_at(tail + 2) << 16U;
            [[fallthrough]];
        case 2:
            h ^= byte_at(tail + 1) << 8U;
            [[fallthrough]];
        case 1:
            h ^= byte_at(tail);
            h *= m;
            break;
        default:
            break;
    }
    h ^= h >> 13U;
    h *= m;
    h ^= h >> 15U;
    return static_cast<std::int32_t>(h);  // two's complement: the same bits as Java's int
}

[[nodiscard]] inline std::int32_t murmur2(std::string_view bytes) {
    return murmur2(std::as_bytes(std::span(bytes.data(), bytes.size())));
}

// Kafka's Utils.toPositive: the sign bit cleared (not the absolute value).
[[nodiscard]] constexpr std::int32_t to_positive(std::int32_t value) {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(value) & 0x7fffffffU);
}

// The partition Kafka's default partitioner gives a keyed record: toPositive(murmur2(key)) % partitions.
[[nodiscard]] inline std::int32_t kafka_partition(std::string_view key_bytes, std::int32_t partitions) {
    return to_positive(murmur2(key_bytes)) % partitions;
}

}  // namespace eosim::protocol
