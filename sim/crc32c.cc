#include "sim/crc32c.h"

#include <cstring>

#include <boost/crc.hpp>

namespace eosim::sim {
namespace {

#if defined(__x86_64__) && defined(__GNUC__)
// The crc32 instruction implements CRC-32C's polynomial (reflected, as Kafka's checksum is); the initial
// value and the final complement are the caller's.
__attribute__((target("sse4.2"))) std::uint32_t crc32c_hardware(std::span<const std::byte> bytes) noexcept {
    std::uint64_t crc = 0xFFFFFFFFU;
    const std::byte* data = bytes.data();
    std::size_t left = bytes.size();
    for (; left >= 8; left -= 8, data += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, data, sizeof word);
        crc = __builtin_ia32_crc32di(crc, word);
    }
    auto crc32 = static_cast<std::uint32_t>(crc);
    for (; left > 0; --left, ++data) {
        crc32 = __builtin_ia32_crc32qi(crc32, static_cast<unsigned char>(*data));
    }
    return crc32 ^ 0xFFFFFFFFU;
}

bool hardware_available() noexcept {
    static const bool available = __builtin_cpu_supports("sse4.2") != 0;
    return available;
}
#endif

}  // namespace

std::uint32_t crc32c_portable(std::span<const std::byte> bytes) noexcept {
    boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
    crc.process_bytes(bytes.data(), bytes.size());
    return crc.checksum();
}

std::uint32_t crc32c(std::span<const std::byte> bytes) noexcept {
#if defined(__x86_64__) && defined(__GNUC__)
    if (hardware_available()) {
        return crc32c_hardware(bytes);
    }
#endif
    return crc32c_portable(bytes);
}

}  // namespace eosim::sim
