#pragma once

#include <cstdint>
#include <span>

namespace eosim::sim {

// CRC-32C (Castagnoli), the checksum of Kafka's record batches; Boost.CRC computes it.
std::uint32_t crc32c(std::span<const std::byte> bytes) noexcept;

}  // namespace eosim::sim
