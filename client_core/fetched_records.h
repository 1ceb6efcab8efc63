#pragma once

#include <optional>
#include <vector>

#include "protocol/messages.h"
#include "protocol/types.h"

// Which records of one partition's fetch answer a consumer hands to the application, and where its
// position goes: Kafka's CompletedFetch. Control batches (transaction markers) are never handed out. A
// read_committed consumer also drops the batches of aborted transactions: the answer lists each aborted
// transaction (producer, first offset); from that offset on, the producer's transactional batches are
// dropped until its ABORT marker. The position moves past every batch passed over, dropped or not.

namespace eosim::client_core {

struct FetchedRecord {
    protocol::Offset offset;
    protocol::LeaderEpoch leader_epoch;  // of its batch
    const protocol::Record* record = nullptr;  // into the answer's batches
};

struct FetchedRecords {
    std::vector<FetchedRecord> records;  // in offset order, all at or above the position
    protocol::Offset next_offset;        // the position after this answer
    // The leader epoch of the last batch read or passed over (Kafka's lastEpoch): the position's epoch,
    // which the consumer validates after a leader change. Nothing when no batch moved the position.
    std::optional<protocol::LeaderEpoch> last_epoch;
};

// The records of `answer` at or above `position` the application sees at `isolation`.
[[nodiscard]] FetchedRecords fetched_records(const protocol::FetchPartitionResponse& answer, protocol::Offset position,
                                             protocol::IsolationLevel isolation);

}  // namespace eosim::client_core
