#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "model/checkers.h"
#include "model/history.h"

namespace eosim::model {

// One input record of a stream application, as the committed input log holds it.
struct StreamInputRecord {
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::int64_t timestamp = 0;  // ms: its event time
};

// What one sequential, fault-free pass of an application over its committed input gives: for each
// output topic, the values written per key in order (what the semantics fix whatever the interleaving of
// input partitions), and each store's final rows.
// An output topic named in `tables` is judged as a table: where the order of its updates per key is left
// open by the semantics (an aggregate after a repartition topic, which interleaves the upstream tasks'
// output), its final value per key must be the oracle's, after as many updates, none repeated.
struct StreamExpectation {
    std::map<std::string, std::map<std::string, std::vector<std::optional<std::string>>>> outputs;
    std::map<std::string, std::map<std::string, std::string>> stores;
    std::set<std::string> tables;
};

// The applications the oracle knows, with the topics they read and write (docs/streams.md).
struct StreamAppInfo {
    std::string_view name;
    std::vector<std::string_view> inputs;
    std::vector<std::string_view> outputs;
};
[[nodiscard]] const std::vector<StreamAppInfo>& stream_apps();
[[nodiscard]] const StreamAppInfo* find_stream_app(std::string_view name);

// The oracle (model/stream_apps.cc): application `app` run once over `inputs` (input topic -> partition ->
// records in offset order), each input partition in order, each with its own stream time. Written apart from streams_core, from the application's meaning,
// so that a defect of the engine or its DSL is not repeated here. Nothing for an unknown application.
[[nodiscard]] std::optional<StreamExpectation> run_stream_oracle(
    std::string_view app, const std::map<std::string, std::map<std::int32_t, std::vector<StreamInputRecord>>>& inputs);

// eos-output-mismatch for a stream application: its committed output, per output topic and key, must be
// the oracle's over the committed input (each input partition below the group's final committed offset,
// from the "stream-final" line); the evidence names the keys whose values were lost or duplicated.
// state-mismatch: every store, as the "stream-state" lines give it after quiescence, must hold the
// oracle's rows.
std::vector<Anomaly> check_stream_output(const History& history);
std::vector<Anomaly> check_stream_state(const History& history);

// The records of `replica` a read_committed consumer returns, in offset order: those of plain batches, and
// those of transactions whose marker is a COMMIT, below the high watermark. Nothing when the replica has
// no batch headers, or a marker without its type.
[[nodiscard]] std::optional<std::vector<const Record*>> read_committed_records(const ReplicaState& replica);

// `history` without the operations and replicas of the partitions a `stream-final` line names as the
// application's own (its `partitions`): what the checkers of value-unique logs read.
[[nodiscard]] History without_stream_partitions(const History& history);

}  // namespace eosim::model
