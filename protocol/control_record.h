#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <boost/endian/conversion.hpp>

#include "protocol/types.h"

// Transaction markers: the control batches a transaction coordinator has written to every partition of a
// transaction when it ends (WriteTxnMarkers), as Kafka lays them out. A marker is a control batch (the
// batch's control flag) of the producer whose transaction it ends, holding one control record:
//   key   = version (int16, 0), type (int16: 0 ABORT, 1 COMMIT)         (Kafka's ControlRecordType)
//   value = version (int16, 0), coordinator epoch (int32)                (Kafka's EndTransactionMarker)
// all big-endian. docs/transactions.md.

namespace eosim::protocol {

enum class ControlType : std::int16_t { abort = 0, commit = 1 };

[[nodiscard]] constexpr std::string_view to_string(ControlType type) {
    return type == ControlType::commit ? "COMMIT" : "ABORT";
}

struct TransactionMarker {
    ControlType type = ControlType::abort;
    std::int32_t coordinator_epoch = 0;

    bool operator==(const TransactionMarker&) const = default;
};

namespace detail {

template <typename Int>
void put_big_endian(std::string& bytes, Int value) {
    const Int big = boost::endian::native_to_big(value);
    std::array<char, sizeof(Int)> raw{};
    std::memcpy(raw.data(), &big, sizeof(Int));
    bytes.append(raw.data(), raw.size());
}

template <typename Int>
[[nodiscard]] Int get_big_endian(std::string_view bytes, std::size_t at) {
    Int big{};
    std::memcpy(&big, bytes.data() + at, sizeof(Int));
    return boost::endian::big_to_native(big);
}

}  // namespace detail

// The control record of `marker`, stamped `timestamp_ms`.
[[nodiscard]] inline Record marker_record(const TransactionMarker& marker, std::int64_t timestamp_ms) {
    std::string key;
    detail::put_big_endian<std::int16_t>(key, 0);
    detail::put_big_endian<std::int16_t>(key, static_cast<std::int16_t>(marker.type));
    std::string value;
    detail::put_big_endian<std::int16_t>(value, 0);
    detail::put_big_endian<std::int32_t>(value, marker.coordinator_epoch);
    return Record{.key = std::move(key), .value = std::move(value), .timestamp_ms = timestamp_ms};
}

// The marker batch that ends the transaction of (producer_id, producer_epoch); the leader assigns its
// offset. Markers carry no sequence.
[[nodiscard]] inline RecordBatch marker_batch(ProducerId producer_id, ProducerEpoch producer_epoch,
                                              const TransactionMarker& marker, std::int64_t timestamp_ms) {
    RecordBatch batch;
    batch.producer_id = producer_id;
    batch.producer_epoch = producer_epoch;
    batch.transactional = true;
    batch.control = true;
    batch.records.push_back(marker_record(marker, timestamp_ms));
    return batch;
}

// The control type a control record's key names, or nothing when the key is too short, its version is
// negative, or the type is unknown (Kafka parses such a record as UNKNOWN and skips it).
[[nodiscard]] inline std::optional<ControlType> control_type_of(const Record& record) {
    if (!record.key || record.key->size() < 4 || detail::get_big_endian<std::int16_t>(*record.key, 0) < 0) {
        return std::nullopt;
    }
    const auto type = detail::get_big_endian<std::int16_t>(*record.key, 2);
    if (type != static_cast<std::int16_t>(ControlType::abort) && type != static_cast<std::int16_t>(ControlType::commit)) {
        return std::nullopt;
    }
    return static_cast<ControlType>(type);
}

// The marker a batch holds: nothing unless it is a control batch whose first record is a well-formed
// COMMIT or ABORT record (a value of at least 6 bytes; a newer version's extra bytes are ignored, as
// Kafka does).
[[nodiscard]] inline std::optional<TransactionMarker> marker_of(const RecordBatch& batch) {
    if (!batch.control || batch.records.empty()) {
        return std::nullopt;
    }
    const Record& record = batch.records.front();
    const std::optional<ControlType> type = control_type_of(record);
    if (!type || !record.value || record.value->size() < 6 ||
        detail::get_big_endian<std::int16_t>(*record.value, 0) < 0) {
        return std::nullopt;
    }
    return TransactionMarker{*type, detail::get_big_endian<std::int32_t>(*record.value, 2)};
}

}  // namespace eosim::protocol
