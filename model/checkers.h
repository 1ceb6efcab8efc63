#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/history.h"

// Checkers: each reads a History and reports the anomalies it proves. The names and the exact rules are
// documented in docs/anomalies.md. Every checker is deterministic: the same history gives the same anomalies
// in the same order.

namespace eosim::model {

struct Anomaly {
    std::string name;         // lost-write, duplicate, ... (docs/anomalies.md)
    std::string partition;    // empty when the anomaly is not about one partition (stuck)
    std::string description;  // one line naming the operations, processes, partition and offsets
    nlohmann::json evidence;  // the same facts as data
    // What in this history could explain the anomaly where the semantics permit it, for allowances that
    // name their cause (docs/scenarios.md): "retried-send" (a send involved was retried, or its outcome
    // was unknown), "read-uncommitted" (an aborted transaction's record read by a read_uncommitted
    // consumer). Empty: nothing in the history excuses it.
    std::vector<std::string> causes;

    friend bool operator==(const Anomaly&, const Anomaly&) = default;
};

// {"name", "partition", "description", "evidence"} (and "causes" when there are any).
nlohmann::json anomaly_json(const Anomaly& anomaly);

// Every checker below, in this order. A checker finds nothing where the history holds nothing for it:
// checker_families says which had something to check.
std::vector<Anomaly> check(const History& history);

// A family of checkers and what the history gives it (what `eosim check` reports): log (sends and polls),
// committed logs (replica lines), batch headers, transactions, groups, applications (consume-transform-produce
// and stream applications), removals, health.
struct CheckerFamily {
    std::string name;
    std::vector<std::string> anomalies;  // what its checkers report
    std::string found;                   // what the history gives them, e.g. "1200 sends, 80 polls"; "" for nothing
};
std::vector<CheckerFamily> checker_families(const History& history);

std::vector<Anomaly> check_lost_writes(const History& history);
std::vector<Anomaly> check_duplicates(const History& history);
std::vector<Anomaly> check_inconsistent_offsets(const History& history);
std::vector<Anomaly> check_nonmonotonic_sends(const History& history);
std::vector<Anomaly> check_nonmonotonic_polls(const History& history);
std::vector<Anomaly> check_poll_skips(const History& history);
std::vector<Anomaly> check_replica_divergence(const History& history);
std::vector<Anomaly> check_vanished_reads(const History& history);
std::vector<Anomaly> check_aborted_reads(const History& history);
std::vector<Anomaly> check_undone_deletes(const History& history);
std::vector<Anomaly> check_stuck(const History& history);
std::vector<Anomaly> check_compaction_consistency(const History& history);
// illegal-removal (model/removals.cc): every removal line was allowed, and every replica's log start is
// reached by its allowed removals.
std::vector<Anomaly> check_removals(const History& history);
// unavailable (model/availability.cc): no send fails, or ends with an unknown outcome, while the cluster was
// healthy from `availability_grace_ns` before its invoke until its end (by the history's health lines).
inline constexpr std::int64_t availability_grace_ns = 1'000'000'000;
std::vector<Anomaly> check_unavailable(const History& history);
// zombie-write and hanging-transaction (model/transactions.cc), from the committed replicas' batch headers.
std::vector<Anomaly> check_zombie_writes(const History& history);
std::vector<Anomaly> check_hanging_transactions(const History& history);
// uncommitted-read, torn-transaction and spurious-fence (model/transactions.cc), from the transactional
// producers' and read_committed consumers' operations (and the committed logs).
std::vector<Anomaly> check_uncommitted_reads(const History& history);
std::vector<Anomaly> check_torn_transactions(const History& history);
std::vector<Anomaly> check_spurious_fences(const History& history);

}  // namespace eosim::model
