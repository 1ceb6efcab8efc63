#pragma once

#include <cstdint>

#include "protocol/messages.h"
#include "sim/network.h"
#include "sim/rpc.h"

namespace eosim::protocol {

// About what a message takes on Kafka's wire, for the network's bandwidth limits: the record batches
// produce requests and fetch responses carry (a batch header and each record's key, value and framing),
// and a small fixed size for everything else. An estimate, not an encoding: only the relative sizes of a
// fetch of 1 MiB and a heartbeat matter to a saturated link.
inline constexpr std::uint64_t message_header_bytes = 64;
inline constexpr std::uint64_t batch_header_bytes = 61;  // Kafka's v2 record batch header
inline constexpr std::uint64_t record_overhead_bytes = 16;

inline std::uint64_t wire_bytes(const RecordBatch& batch) {
    std::uint64_t bytes = batch_header_bytes;
    for (const Record& record : batch.records) {
        bytes += record_overhead_bytes + (record.key ? record.key->size() : 0) + (record.value ? record.value->size() : 0);
    }
    return bytes;
}

inline std::uint64_t wire_bytes(const sim::Message& message) {
    if (message.is<sim::RpcEnvelope>()) {
        return 8 + wire_bytes(message.as<sim::RpcEnvelope>().body);
    }
    std::uint64_t bytes = message_header_bytes;
    if (message.is<ProduceRequest>()) {
        for (const ProducePartition& partition : message.as<ProduceRequest>().partitions) {
            bytes += 16 + wire_bytes(partition.batch);
        }
    } else if (message.is<FetchResponse>()) {
        for (const FetchPartitionResponse& partition : message.as<FetchResponse>().partitions) {
            bytes += 48;
            for (const RecordBatch& batch : partition.batches) {
                bytes += wire_bytes(batch);
            }
        }
    }
    return bytes;
}

}  // namespace eosim::protocol
