#pragma once

#include <cstdint>
#include <span>

namespace eosim::sim {

// CRC-32C (Castagnoli), the checksum of Kafka's record batches. On x86-64 CPUs with SSE 4.2 the CPU's
// crc32 instruction computes it; elsewhere Boost.CRC does. Both give the same value for the same bytes.
std::uint32_t crc32c(std::span<const std::byte> bytes) noexcept;

// Boost.CRC's table-driven computation, whatever the CPU (tests compare the two).
std::uint32_t crc32c_portable(std::span<const std::byte> bytes) noexcept;

}  // namespace eosim::sim
