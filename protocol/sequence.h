#pragma once

#include <cstdint>

#include "protocol/types.h"

namespace eosim::protocol {

// Producer sequence numbers are non-negative int32 values that wrap from 2^31-1 back to 0, as Kafka's
// (DefaultRecordBatch.incrementSequence and decrementSequence; ProducerAppendInfo accepts 0 after
// 2^31-1). The arithmetic is done in 64 bits, so it never overflows.
inline constexpr std::int32_t max_sequence = 0x7fffffff;

namespace detail {
inline constexpr std::int64_t sequence_modulus = std::int64_t{max_sequence} + 1;
}  // namespace detail

// `sequence` moved `delta` places forward (delta >= 0), wrapping past max_sequence to 0.
[[nodiscard]] constexpr Sequence increment_sequence(Sequence sequence, std::int64_t delta) {
    return Sequence(static_cast<std::int32_t>((std::int64_t{sequence.value()} + delta) % detail::sequence_modulus));
}

// `sequence` moved `delta` places back (delta >= 0), wrapping below 0 to max_sequence.
[[nodiscard]] constexpr Sequence decrement_sequence(Sequence sequence, std::int64_t delta) {
    const std::int64_t moved = (std::int64_t{sequence.value()} - delta) % detail::sequence_modulus;
    return Sequence(static_cast<std::int32_t>(moved < 0 ? moved + detail::sequence_modulus : moved));
}

// The last sequence of a batch of `records` records starting at `base` (records >= 1).
[[nodiscard]] constexpr Sequence last_sequence(Sequence base, std::int64_t records) {
    return increment_sequence(base, records - 1);
}

// Whether `next` directly follows `last`: last + 1, or 0 after max_sequence.
[[nodiscard]] constexpr bool in_sequence(Sequence last, Sequence next) {
    return std::int64_t{next.value()} == std::int64_t{last.value()} + 1 ||
           (next.value() == 0 && last.value() == max_sequence);
}

}  // namespace eosim::protocol
