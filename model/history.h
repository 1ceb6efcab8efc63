#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

// The history of a run: what clients did and saw, and the final state of every replica. Read and written
// as JSON lines; the format is documented in docs/history-format.md.

namespace eosim::model {

// Jepsen's operation types: an `invoke`, then its completion. `info` means the outcome is unknown.
enum class OpType : std::uint8_t { invoke, ok, fail, info };

std::string_view to_string(OpType type);

// The producer's acks setting of a send: "all", "1" (leader only) or "0" (none).
enum class Acks : std::uint8_t { all, leader, none };

std::string_view to_string(Acks acks);  // "all", "1", "0"

// One record as a consumer or a replica holds it. On a compacted topic a null value is a tombstone (a
// delete of its key); a record's key is given where the writer knows it.
struct Record {
    std::int64_t offset = 0;
    std::optional<std::string> value;  // nothing: a tombstone
    std::optional<std::string> key;
    // The record's timestamp (ms), where the history carries it: the records of a stream application's
    // input partitions, whose event times its windows and joins read.
    std::optional<std::int64_t> timestamp;

    friend bool operator==(const Record&, const Record&) = default;
};

// One line of kind "op". Which optional fields are set depends on `f` and `type` (docs/history-format.md).
struct Operation {
    std::uint64_t index = 0;  // strictly increasing over the history
    std::int64_t time = 0;    // simulated nanoseconds
    std::string process;
    OpType type = OpType::invoke;
    std::string f;  // send, poll, assign, seek, stuck; other values are kept and ignored by the checkers
    std::optional<std::string> partition;
    std::optional<std::string> value;  // a send without one (JSON null) writes a tombstone
    std::optional<std::string> key;
    std::optional<Acks> acks;
    std::optional<std::int64_t> offset;
    std::optional<std::vector<Record>> records;
    std::optional<std::string> reason;
    std::optional<std::string> error;
    std::optional<std::int64_t> attempts;  // a send's completion: how many requests carried it (>1: retried)
    // Transactions: the label of the transaction a begin, send, commit or abort belongs to (unique in the
    // history); the transactional producer's id, producer id and epoch; a poll's isolation level
    // ("read_committed" or "read_uncommitted"; absent: read_uncommitted); an init-txn's
    // transaction.timeout.ms.
    std::optional<std::string> txn;
    std::optional<std::string> transactional_id;
    std::optional<std::int64_t> producer_id;
    std::optional<std::int64_t> producer_epoch;
    std::optional<std::string> isolation;
    std::optional<std::int64_t> timeout_ms;
    // Consumer groups (docs/history-format.md): the group, member and generation an operation ran in; the
    // partitions of an assignment, revocation or loss; the offsets of a commit (partition -> next offset).
    std::optional<std::string> group;
    std::optional<std::string> member_id;
    std::optional<std::int64_t> generation;
    std::optional<std::vector<std::string>> partitions;
    std::optional<std::map<std::string, std::int64_t>> offsets;

    friend bool operator==(const Operation&, const Operation&) = default;
};

// A record batch's header as a replica holds it. eosim's replica lines carry them, so that a header a
// replica got wrong (an epoch, a producer's identity) cannot pass unseen; histories recorded elsewhere
// need not.
struct BatchHeader {
    std::int64_t base_offset = 0;
    std::int64_t last_offset = 0;
    std::int32_t leader_epoch = 0;
    std::int64_t producer_id = -1;
    std::int32_t producer_epoch = -1;
    std::int32_t base_sequence = -1;
    bool transactional = false;
    bool control = false;
    // A control batch's marker, when the history names it: "commit" or "abort".
    std::optional<std::string> marker;

    friend bool operator==(const BatchHeader&, const BatchHeader&) = default;
};

// One line of kind "replica": one replica of one partition as read after the run healed and quiesced.
struct ReplicaState {
    std::string partition;
    std::string replica;
    bool leader = false;
    bool compacted = false;  // the partition's topic is compacted: superseded records may be gone
    std::int64_t log_start_offset = 0;
    std::int64_t high_watermark = 0;
    std::int64_t log_end_offset = 0;
    std::vector<Record> records;
    std::vector<BatchHeader> batches;  // in log order; empty when the history does not record them

    friend bool operator==(const ReplicaState&, const ReplicaState&) = default;
};

// One line of kind "removal": during the run a replica's log start moved from `from` to `to`, so its records
// in [from, to) are gone on purpose, as the broker reported it (ground truth; docs/history-format.md).
struct Removal {
    std::int64_t time = 0;  // simulated nanoseconds
    std::string partition;
    std::string replica;
    // retention, delete-records, follow-leader (a follower took its leader's log start), fetch-out-of-range
    // (a follower behind its leader's log start emptied its log and started it there), cleaner.
    std::string cause;
    std::int64_t from = 0;
    std::int64_t to = 0;
    std::int64_t high_watermark = 0;  // the replica's when it moved
    // delete-records: the offset asked for; follow-leader and fetch-out-of-range: the leader's log start.
    std::int64_t limit = -1;
    // cleaner (a compacted log's cleaner removed the tombstone at `from`; `to` is from + 1, the log start
    // did not move): its key, its timestamp, when it was removed (the broker's clock), the topic's
    // delete.retention.ms, and whether it was its key's latest record then.
    std::optional<std::string> key;
    std::int64_t timestamp_ms = -1;
    std::int64_t removed_at_ms = -1;
    std::int64_t delete_retention_ms = -1;
    bool latest = false;

    friend bool operator==(const Removal&, const Removal&) = default;
};

// One line of kind "health": from `time` on, the cluster was healthy (no fault under way, every broker up
// and in touch, every partition led with its full ISR and followers caught up) or not, as the runner saw
// it. Lines alternate; before the first the cluster counts as unhealthy. Histories recorded outside the
// simulator have none, and the availability check (`unavailable`) then has nothing to go on.
struct HealthChange {
    std::int64_t time = 0;  // simulated nanoseconds
    bool healthy = false;

    friend bool operator==(const HealthChange&, const HealthChange&) = default;
};

// One line of kind "clock": from `time` (true time) on, the clock of node `node` read true time plus
// `offset_ns` plus `drift_ppm` parts per million of the time since `time` (a clock fault stepped it or set
// its drift, docs/faults.md). Before a node's first line its clock reads true time.
struct ClockChange {
    std::int64_t time = 0;  // simulated nanoseconds, true time
    std::string node;
    std::int64_t offset_ns = 0;
    std::int64_t drift_ppm = 0;

    friend bool operator==(const ClockChange&, const ClockChange&) = default;
};

struct History {
    std::vector<Operation> operations;  // in the order they happened
    std::vector<ReplicaState> replicas;
    std::vector<Removal> removals;  // in the order they happened
    std::vector<HealthChange> health;  // in time order
    std::vector<ClockChange> clocks;   // in time order

    friend bool operator==(const History&, const History&) = default;
};

// What the clock of `node` read at true time `time`, by the history's clock lines (none: `time`).
[[nodiscard]] std::int64_t local_time(const History& history, std::string_view node, std::int64_t time);

// A malformed history. what() is one line: `line N: what is wrong`.
class HistoryError : public std::runtime_error {
public:
    HistoryError(std::size_t line_number, const std::string& problem);

    [[nodiscard]] std::size_t line_number() const { return line_number_; }

private:
    std::size_t line_number_;
};

// The version of the history format (docs/history-format.md). write_history writes it first, as
// {"kind":"meta","format":1}; read_history refuses a newer one, and takes a history without the line (as
// eosim wrote before it had one) as version 1.
inline constexpr std::int64_t history_format = 1;

// Reads a whole history. Blank lines are skipped; unknown fields are ignored. Throws HistoryError.
History read_history(std::istream& input);

// Writes `history` in the same format: the meta line (the format's version), then operations, in order, then
// replicas, then removals, then health changes, then clock changes. read_history gives it back.
void write_history(std::ostream& output, const History& history);

// The committed log of a partition: the records of its leader replica (the first with "leader":true; if none,
// the first replica with the highest high watermark) at offsets in [log_start_offset, high_watermark).
struct CommittedLog {
    std::string partition;
    std::string replica;  // the replica the records come from
    bool compacted = false;
    std::int64_t log_start_offset = 0;
    std::int64_t high_watermark = 0;
    std::vector<Record> records;  // in the replica's order

    friend bool operator==(const CommittedLog&, const CommittedLog&) = default;
};

// Nothing when the history holds no replica of `partition`.
std::optional<CommittedLog> committed_log(const History& history, std::string_view partition);

// The replica whose records are the committed log of `partition` (null: none).
const ReplicaState* committed_replica(const History& history, std::string_view partition);

}  // namespace eosim::model
