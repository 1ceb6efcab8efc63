#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/named_type.h"

namespace eosim::protocol {

using Offset = NamedType<std::int64_t, struct OffsetTag>;
using LeaderEpoch = NamedType<std::int32_t, struct LeaderEpochTag>;
using BrokerId = NamedType<std::int32_t, struct BrokerIdTag>;
using ProducerId = NamedType<std::int64_t, struct ProducerIdTag>;
using ProducerEpoch = NamedType<std::int16_t, struct ProducerEpochTag>;
using Sequence = NamedType<std::int32_t, struct SequenceTag>;

constexpr ProducerId no_producer_id{-1};
constexpr ProducerEpoch no_producer_epoch{-1};
constexpr Sequence no_sequence{-1};
constexpr LeaderEpoch no_leader_epoch{-1};

struct TopicPartition {
    std::string topic;
    std::int32_t partition = 0;

    auto operator<=>(const TopicPartition&) const = default;
    [[nodiscard]] std::string name() const { return topic + "-" + std::to_string(partition); }
};

// A record; on a compacted topic a record without a value is a tombstone, the delete of its key.
struct Record {
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::int64_t timestamp_ms = 0;

    bool operator==(const Record&) const = default;
};

// A record batch as Kafka has it: records that share a base offset, a leader epoch, and a producer's
// identity and sequence. Offsets are assigned by the leader; followers copy them.
struct RecordBatch {
    Offset base_offset{0};
    LeaderEpoch leader_epoch{0};
    ProducerId producer_id = no_producer_id;
    ProducerEpoch producer_epoch = no_producer_epoch;
    Sequence base_sequence = no_sequence;
    bool transactional = false;
    bool control = false;
    std::vector<Record> records;

    [[nodiscard]] Offset last_offset() const {
        return Offset(base_offset.value() + static_cast<std::int64_t>(records.size()) - 1);
    }
    [[nodiscard]] Offset next_offset() const {
        return Offset(base_offset.value() + static_cast<std::int64_t>(records.size()));
    }
    // The newest record's timestamp (0 for none): retention and producer expiry go by it.
    [[nodiscard]] std::int64_t max_timestamp_ms() const {
        std::int64_t newest = 0;
        for (const Record& record : records) {
            newest = newest < record.timestamp_ms ? record.timestamp_ms : newest;
        }
        return newest;
    }
    bool operator==(const RecordBatch&) const = default;
};

}  // namespace eosim::protocol
