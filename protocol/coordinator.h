#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "protocol/messages.h"
#include "protocol/topics.h"

// FindCoordinator: which broker coordinates a consumer group or a transactional id. The coordinator is
// the leader of one partition of an internal topic, chosen by the key's Java hash code as Kafka does
// (GroupCoordinator.partitionFor, TransactionStateManager.partitionFor).

namespace eosim::protocol {

enum class CoordinatorType : std::int8_t { group = 0, transaction = 1 };

// The internal topic whose partition leaders coordinate keys of `type`.
[[nodiscard]] constexpr std::string_view coordinator_topic(CoordinatorType type) {
    return type == CoordinatorType::group ? consumer_offsets_topic : transaction_state_topic;
}

namespace detail {

struct DecodedUnit {
    std::uint32_t code_point = 0;  // U+FFFD for a malformed sequence
    std::size_t length = 0;        // bytes it takes
};

[[nodiscard]] constexpr bool utf8_continuation(std::uint32_t byte) {
    return (byte & 0xc0U) == 0x80U;
}

inline constexpr std::uint32_t replacement_character = 0xfffdU;

// One step of Java's UTF-8 decoding (new String(bytes, UTF_8)) at `i`: a valid sequence gives its code
// point; a malformed one gives U+FFFD and takes as many bytes as Java's decoder does (its longest valid
// prefix, at least one byte; a surrogate's encoding whole).
[[nodiscard]] constexpr DecodedUnit decode_utf8_as_java(std::string_view bytes, std::size_t i) {
    const std::size_t left = bytes.size() - i;
    const auto at = [&bytes, i, left](std::size_t k) -> std::uint32_t {
        return k < left ? static_cast<unsigned char>(bytes[i + k]) : 0U;  // 0: not a continuation
    };
    const std::uint32_t b1 = at(0);
    const DecodedUnit bad1{replacement_character, 1};
    if (b1 < 0x80U) {
        return {b1, 1};
    }
    if ((b1 & 0xe0U) == 0xc0U && (b1 & 0x1eU) != 0) {  // 2 bytes (C0 and C1 would be overlong)
        return utf8_continuation(at(1)) ? DecodedUnit{((b1 & 0x1fU) << 6U) | (at(1) & 0x3fU), 2} : bad1;
    }
    if ((b1 & 0xf0U) == 0xe0U) {  // 3 bytes
        if (!utf8_continuation(at(1)) || (b1 == 0xe0U && (at(1) & 0xe0U) == 0x80U)) {
            return bad1;
        }
        if (!utf8_continuation(at(2))) {
            return {replacement_character, std::min<std::size_t>(2, left)};
        }
        const std::uint32_t code_point = ((b1 & 0x0fU) << 12U) | ((at(1) & 0x3fU) << 6U) | (at(2) & 0x3fU);
        const bool surrogate = code_point >= 0xd800U && code_point <= 0xdfffU;
        return {surrogate ? replacement_character : code_point, 3};
    }
    if ((b1 & 0xf8U) == 0xf0U) {  // 4 bytes, up to U+10FFFF
        const std::uint32_t b2 = at(1);
        if (b1 > 0xf4U || (b1 == 0xf0U && (b2 < 0x90U || b2 > 0xbfU)) || (b1 == 0xf4U && (b2 & 0xf0U) != 0x80U) ||
            !utf8_continuation(b2)) {
            return bad1;
        }
        if (!utf8_continuation(at(2))) {
            return {replacement_character, std::min<std::size_t>(2, left)};
        }
        if (!utf8_continuation(at(3))) {
            return {replacement_character, std::min<std::size_t>(3, left)};
        }
        return {((b1 & 0x07U) << 18U) | ((b2 & 0x3fU) << 12U) | ((at(2) & 0x3fU) << 6U) | (at(3) & 0x3fU), 4};
    }
    return bad1;
}

}  // namespace detail

// Java's String.hashCode of the string Java decodes from these UTF-8 bytes: s[0]*31^(n-1) + ... + s[n-1]
// over its UTF-16 code units (a code point above U+FFFF is two surrogates), in int arithmetic (wrapping,
// done here in unsigned). Malformed bytes become U+FFFD as Java's decoder makes them.
[[nodiscard]] constexpr std::int32_t java_string_hash_code(std::string_view utf8) {
    std::uint32_t hash = 0;
    for (std::size_t i = 0; i < utf8.size();) {
        const detail::DecodedUnit unit = detail::decode_utf8_as_java(utf8, i);
        i += unit.length;
        if (unit.code_point > 0xffffU) {
            const std::uint32_t above = unit.code_point - 0x10000U;
            hash = hash * 31U + (0xd800U + (above >> 10U));
            hash = hash * 31U + (0xdc00U + (above & 0x3ffU));
        } else {
            hash = hash * 31U + unit.code_point;
        }
    }
    return static_cast<std::int32_t>(hash);  // two's complement: the same bits as Java's int
}

// Kafka's Utils.abs: the absolute value, but 0 for Integer.MIN_VALUE (whose absolute value an int cannot
// hold; Math.abs would return it negative). Not Utils.toPositive, which the partitioner uses.
[[nodiscard]] constexpr std::int32_t kafka_abs(std::int32_t value) {
    if (value == std::numeric_limits<std::int32_t>::min()) {
        return 0;
    }
    return value < 0 ? -value : value;
}

// The partition of the coordinator's internal topic that holds `key`: Utils.abs(key.hashCode) % partitions.
[[nodiscard]] constexpr std::int32_t coordinator_partition(std::string_view key, std::int32_t partitions) {
    return kafka_abs(java_string_hash_code(key)) % partitions;
}

// ---- FindCoordinator -----------------------------------------------------------------------------

// To any broker. If the key type's internal topic does not exist, the broker asks the controller to
// create it and answers COORDINATOR_NOT_AVAILABLE; the client asks again. Also COORDINATOR_NOT_AVAILABLE
// while the key's partition has no live leader.
struct FindCoordinatorRequest {
    std::string key;  // a group id or a transactional id
    CoordinatorType key_type = CoordinatorType::group;
};

struct FindCoordinatorResponse {
    ErrorCode error = ErrorCode::none;
    BrokerId coordinator = no_broker;  // the leader of the key's partition
};

}  // namespace eosim::protocol
