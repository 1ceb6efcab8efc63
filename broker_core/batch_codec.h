#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/types.h"

namespace eosim::broker_core {

// The on-disk form of a record batch (fixed-width little-endian fields; Kafka's v2 layout without
// varints). See docs/log-format.md.
//
//   0 base_offset i64 | 8 batch_length i32 (bytes after this field) | 12 leader_epoch i32 | 16 magic i8
//  17 crc u32 (CRC-32C of every byte from attributes to the end) | 21 attributes i16 | 23 last_offset_delta i32
//  27 producer_id i64 | 35 producer_epoch i16 | 37 base_sequence i32 | 41 record_count i32
//  45 records: timestamp i64, key_length i32 (-1: no key), key, value_length i32 (-1: a tombstone), value
inline constexpr std::size_t batch_header_bytes = 45;
inline constexpr std::size_t batch_length_prefix_bytes = 12;  // base_offset and batch_length
inline constexpr std::int8_t batch_magic = 2;

std::vector<std::byte> encode_batch(const protocol::RecordBatch& batch);

enum class DecodeStatus : std::uint8_t {
    ok,
    truncated,  // fewer bytes than the batch claims: a torn tail
    corrupt,    // the CRC does not match, or a length or field is impossible
};

struct DecodedBatch {
    DecodeStatus status = DecodeStatus::ok;
    protocol::RecordBatch batch;
    std::size_t size_bytes = 0;  // of the encoded batch, when ok
};

// Decodes the batch at the start of `bytes`. With verify_crc false, a CRC mismatch goes unnoticed
// (the no-crc-check bug switch); lengths are still checked, so decoding never reads out of bounds.
DecodedBatch decode_batch(std::span<const std::byte> bytes, bool verify_crc = true);

// Whether a flipped bit at `offset` of a segment file is in bytes a batch's CRC covers (the crc field and
// everything after it). Kafka's CRC, like this one, leaves the base offset, the batch length, the leader
// epoch and the magic byte out: a flip there can go unseen (docs/faults.md).
[[nodiscard]] bool crc_covers(std::span<const std::byte> segment, std::uint64_t offset);

}  // namespace eosim::broker_core
