#include "broker_core/batch_codec.h"

#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "broker_core/byte_io.h"
#include "sim/crc32c.h"

namespace eosim::broker_core {

namespace {

constexpr std::int16_t transactional_flag = 1 << 4;
constexpr std::int16_t control_flag = 1 << 5;
constexpr std::size_t crc_position = 17;
constexpr std::size_t attributes_position = 21;

}  // namespace

std::vector<std::byte> encode_batch(const protocol::RecordBatch& batch) {
    ByteWriter writer;
    writer.put<std::int64_t>(batch.base_offset.value());
    writer.put<std::int32_t>(0);  // batch_length, patched below
    writer.put<std::int32_t>(batch.leader_epoch.value());
    writer.put<std::int8_t>(batch_magic);
    writer.put<std::uint32_t>(0);  // crc, patched below
    std::int16_t attributes = 0;
    if (batch.transactional) {
        attributes = static_cast<std::int16_t>(attributes | transactional_flag);
    }
    if (batch.control) {
        attributes = static_cast<std::int16_t>(attributes | control_flag);
    }
    writer.put<std::int16_t>(attributes);
    writer.put<std::int32_t>(static_cast<std::int32_t>(batch.records.size()) - 1);
    writer.put<std::int64_t>(batch.producer_id.value());
    writer.put<std::int16_t>(batch.producer_epoch.value());
    writer.put<std::int32_t>(batch.base_sequence.value());
    writer.put<std::int32_t>(static_cast<std::int32_t>(batch.records.size()));
    for (const protocol::Record& record : batch.records) {
        writer.put<std::int64_t>(record.timestamp_ms);
        if (record.key) {
            writer.put<std::int32_t>(static_cast<std::int32_t>(record.key->size()));
            writer.put_bytes(*record.key);
        } else {
            writer.put<std::int32_t>(-1);
        }
        if (record.value) {
            writer.put<std::int32_t>(static_cast<std::int32_t>(record.value->size()));
            writer.put_bytes(*record.value);
        } else {
            writer.put<std::int32_t>(-1);  // a tombstone
        }
    }
    std::vector<std::byte>& bytes = writer.bytes();
    writer.patch<std::int32_t>(8, static_cast<std::int32_t>(bytes.size() - batch_length_prefix_bytes));
    const std::uint32_t crc = sim::crc32c(std::span(bytes).subspan(attributes_position));
    writer.patch<std::uint32_t>(crc_position, crc);
    return std::move(bytes);
}

namespace {

// One record of a batch: timestamp, key and value (a length of -1: none). Nothing when it is cut short or
// a length is impossible.
std::optional<protocol::Record> decode_record(ByteReader& reader) {
    protocol::Record record;
    const auto timestamp = reader.get<std::int64_t>();
    const auto key_length = reader.get<std::int32_t>();
    if (!timestamp || !key_length || *key_length < -1) {
        return std::nullopt;
    }
    record.timestamp_ms = *timestamp;
    if (*key_length >= 0) {
        record.key = reader.get_string(*key_length);
        if (!record.key) {
            return std::nullopt;
        }
    }
    const auto value_length = reader.get<std::int32_t>();
    if (!value_length || *value_length < -1) {
        return std::nullopt;
    }
    if (*value_length >= 0) {
        record.value = reader.get_string(*value_length);
        if (!record.value) {
            return std::nullopt;
        }
    }
    return record;
}

}  // namespace

DecodedBatch decode_batch(std::span<const std::byte> bytes, bool verify_crc) {
    DecodedBatch decoded;
    if (bytes.size() < batch_header_bytes) {
        decoded.status = DecodeStatus::truncated;
        return decoded;
    }
    ByteReader header(bytes);
    const std::int64_t base_offset = *header.get<std::int64_t>();
    const std::int32_t batch_length = *header.get<std::int32_t>();
    if (batch_length < static_cast<std::int32_t>(batch_header_bytes - batch_length_prefix_bytes) || base_offset < 0) {
        decoded.status = DecodeStatus::corrupt;
        return decoded;
    }
    const std::size_t size = batch_length_prefix_bytes + static_cast<std::size_t>(batch_length);
    if (bytes.size() < size) {
        decoded.status = DecodeStatus::truncated;
        return decoded;
    }
    const std::span<const std::byte> whole = bytes.first(size);
    ByteReader reader(whole);
    (void)reader.get<std::int64_t>();
    (void)reader.get<std::int32_t>();
    const std::int32_t leader_epoch = *reader.get<std::int32_t>();
    const std::int8_t magic = *reader.get<std::int8_t>();
    const std::uint32_t crc = *reader.get<std::uint32_t>();
    if (verify_crc && (magic != batch_magic || crc != sim::crc32c(whole.subspan(attributes_position)))) {
        decoded.status = DecodeStatus::corrupt;
        return decoded;
    }
    const std::int16_t attributes = *reader.get<std::int16_t>();
    const std::int32_t last_offset_delta = *reader.get<std::int32_t>();
    protocol::RecordBatch& batch = decoded.batch;
    batch.base_offset = protocol::Offset(base_offset);
    batch.leader_epoch = protocol::LeaderEpoch(leader_epoch);
    batch.producer_id = protocol::ProducerId(*reader.get<std::int64_t>());
    batch.producer_epoch = protocol::ProducerEpoch(*reader.get<std::int16_t>());
    batch.base_sequence = protocol::Sequence(*reader.get<std::int32_t>());
    batch.transactional = (attributes & transactional_flag) != 0;
    batch.control = (attributes & control_flag) != 0;
    const std::int32_t record_count = *reader.get<std::int32_t>();
    if (record_count <= 0 || last_offset_delta != record_count - 1 ||
        static_cast<std::size_t>(record_count) > size / 16) {
        decoded.status = DecodeStatus::corrupt;
        return decoded;
    }
    batch.records.reserve(static_cast<std::size_t>(record_count));
    for (std::int32_t i = 0; i < record_count; ++i) {
        std::optional<protocol::Record> record = decode_record(reader);
        if (!record) {
            decoded.status = DecodeStatus::corrupt;
            return decoded;
        }
        batch.records.push_back(std::move(*record));
    }
    if (reader.position() != size) {
        decoded.status = DecodeStatus::corrupt;
        return decoded;
    }
    decoded.size_bytes = size;
    return decoded;
}

bool crc_covers(std::span<const std::byte> segment, std::uint64_t offset) {
    std::uint64_t position = 0;
    while (position + batch_length_prefix_bytes <= segment.size()) {
        ByteReader header(segment.subspan(position + 8, 4));
        const std::int32_t batch_length = *header.get<std::int32_t>();
        if (batch_length < static_cast<std::int32_t>(batch_header_bytes - batch_length_prefix_bytes)) {
            return false;  // not a batch: nothing here is covered
        }
        const std::uint64_t end = position + batch_length_prefix_bytes + static_cast<std::uint64_t>(batch_length);
        if (offset < end) {
            return offset >= position + crc_position && end <= segment.size();
        }
        position = end;
    }
    return false;
}

}  // namespace eosim::broker_core
