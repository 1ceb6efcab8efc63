#include "sim/crc32c.h"

#include <boost/crc.hpp>

namespace eosim::sim {

std::uint32_t crc32c(std::span<const std::byte> bytes) noexcept {
    boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
    crc.process_bytes(bytes.data(), bytes.size());
    return crc.checksum();
}

}  // namespace eosim::sim
