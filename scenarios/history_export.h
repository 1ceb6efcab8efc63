#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "broker_core/broker.h"
#include "client_core/history.h"
#include "model/history.h"

// Turns what a run's clients recorded and what its replicas hold into a model::History, in memory: the
// checkers read it as it is, and it becomes JSON (docs/history-format.md) only when a file is asked for.

namespace eosim::scenarios {

struct ExportOptions {
    // The partitions whose records carry their keys: those of compacted topics, the only ones whose
    // records' keys the checkers read (docs/history-format.md).
    std::set<std::string, std::less<>> keyed_partitions;

    // The partitions whose replicas' records carry their timestamps: a stream application's input, whose
    // event times its oracle reads.
    std::set<std::string, std::less<>> timestamped_partitions;

    [[nodiscard]] bool keys_in_records(std::string_view partition) const {
        return keyed_partitions.contains(partition);
    }
    [[nodiscard]] bool timestamps_in_records(std::string_view partition) const {
        return timestamped_partitions.contains(partition);
    }
};

// The `index`-th operation of the history.
[[nodiscard]] model::Operation model_operation(const client_core::ClientOperation& operation, std::uint64_t index,
                                               const ExportOptions& options);

// One replica of one partition as its log holds it, read without a CRC check (what a corrupt replica
// holds must show). Its high watermark is capped at what the records reach.
[[nodiscard]] model::ReplicaState replica_state(const broker_core::Replica& replica, std::string replica_name,
                                                bool leader, const ExportOptions& options);

}  // namespace eosim::scenarios
