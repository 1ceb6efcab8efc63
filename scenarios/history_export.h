#pragma once

#include <cstdint>
#include <string>

#include "broker_core/broker.h"
#include "client_core/history.h"
#include "model/history.h"

// Turns what a run's clients recorded and what its replicas hold into a model::History, in memory: the
// checkers read it as it is, and it becomes JSON (docs/history-format.md) only when a file is asked for.

namespace eosim::scenarios {

struct ExportOptions {
    bool keys_in_records = false;  // compacted topics: records carry their keys
};

// The `index`-th operation of the history.
[[nodiscard]] model::Operation model_operation(const client_core::ClientOperation& operation, std::uint64_t index,
                                               const ExportOptions& options);

// One replica of one partition as its log holds it, read without a CRC check (what a corrupt replica
// holds must show). Its high watermark is capped at what the records reach.
[[nodiscard]] model::ReplicaState replica_state(const broker_core::Replica& replica, std::string replica_name,
                                                bool leader, const ExportOptions& options);

}  // namespace eosim::scenarios
