#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/time.h"

namespace eosim::client_core {

// What a client did, as it saw it: one entry per operation step (invoke, then ok, fail or info).
// Scenarios turn these into model/ histories.
struct ClientOperation {
    enum class Type : std::uint8_t { invoke, ok, fail, info };
    sim::Time time{};
    std::string process;
    Type type = Type::invoke;
    std::string f;  // send, poll, assign, seek
    std::string partition;
    std::optional<std::string> value;
    std::optional<std::string> key;
    std::optional<std::string> acks;
    std::optional<std::int64_t> offset;
    struct PolledRecord {
        std::int64_t offset = 0;
        std::optional<std::string> value;  // nothing: a tombstone
        std::optional<std::string> key;
    };
    std::vector<PolledRecord> records;
    std::optional<std::string> error;
    std::optional<std::int32_t> attempts;  // a send's completion: the produce requests sent for it
    // Transactions (docs/history-format.md): the transaction's label, unique in the run, on its begin,
    // sends, commit or abort; the producer's identity; a poll's isolation level; an init's
    // transaction.timeout.ms.
    std::optional<std::string> txn;
    std::optional<std::string> transactional_id;
    std::optional<std::int64_t> producer_id;
    std::optional<std::int32_t> producer_epoch;
    std::optional<std::string> isolation;  // "read_committed" or "read_uncommitted"
    std::optional<std::int64_t> timeout_ms;
    // Consumer groups (docs/history-format.md): the group, the member and generation an operation ran in,
    // the partitions of an assignment or a revocation, and the offsets of a commit or a fetch of them.
    std::optional<std::string> group;
    std::optional<std::string> member_id;
    std::optional<std::int32_t> generation;
    std::vector<std::string> partitions;
    std::vector<std::pair<std::string, std::int64_t>> offsets;
};

// Collects the operations of every client of a run, in the order they happened. It is the harness's
// notebook, not simulated state: clients on any node append to it.
class HistoryRecorder {
public:
    void record(ClientOperation operation) { operations_.push_back(std::move(operation)); }
    [[nodiscard]] const std::vector<ClientOperation>& operations() const { return operations_; }

private:
    std::vector<ClientOperation> operations_;
};

}  // namespace eosim::client_core
