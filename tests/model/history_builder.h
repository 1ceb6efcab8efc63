#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/checkers.h"
#include "model/history.h"

// Builds histories for the checker tests: indices count up from 1, time is 1000 ns per index (plus whatever
// advance_time added).

namespace eosim::model::testing {

class HistoryBuilder {
public:
    // An invoke and its completion (ok carries the offset); returns the completion's index.
    std::uint64_t send(const std::string& process, const std::string& partition, const std::string& value,
                       std::optional<std::int64_t> offset, Acks acks = Acks::all, OpType outcome = OpType::ok) {
        (void)send_invoke(process, partition, value, acks);
        return send_completion(process, partition, value, offset, acks, outcome);
    }

    std::uint64_t send_invoke(const std::string& process, const std::string& partition, const std::string& value,
                              Acks acks = Acks::all) {
        Operation op = next_op(process, OpType::invoke, "send");
        op.partition = partition;
        op.value = value;
        op.acks = acks;
        return append(std::move(op));
    }

    std::uint64_t send_completion(const std::string& process, const std::string& partition, const std::string& value,
                                  std::optional<std::int64_t> offset, Acks acks = Acks::all,
                                  OpType outcome = OpType::ok) {
        Operation op = next_op(process, outcome, "send");
        op.partition = partition;
        op.value = value;
        op.acks = acks;
        op.offset = outcome == OpType::ok ? offset : std::nullopt;
        if (outcome != OpType::ok) {
            op.error = "request timed out";
        }
        return append(std::move(op));
    }

    std::uint64_t poll(const std::string& process, const std::string& partition, std::vector<Record> records) {
        Operation op = next_op(process, OpType::ok, "poll");
        op.partition = partition;
        op.records = std::move(records);
        return append(std::move(op));
    }

    std::uint64_t assign(const std::string& process, const std::string& partition, std::int64_t offset) {
        return position(process, partition, offset, "assign");
    }

    std::uint64_t seek(const std::string& process, const std::string& partition, std::int64_t offset) {
        return position(process, partition, offset, "seek");
    }

    std::uint64_t stuck(const std::string& process, const std::string& reason, OpType type = OpType::info) {
        Operation op = next_op(process, type, "stuck");
        op.reason = reason;
        return append(std::move(op));
    }

    std::uint64_t other(const std::string& process, const std::string& f) {
        return append(next_op(process, OpType::ok, f));
    }

    // A removal line: `replica`'s log start moved from `from` to `to` for `cause`.
    void removal(const std::string& partition, const std::string& replica, const std::string& cause, std::int64_t from,
                 std::int64_t to, std::int64_t high_watermark, std::int64_t limit = -1) {
        history_.removals.push_back(Removal{.time = static_cast<std::int64_t>(history_.removals.size()),
                                            .partition = partition,
                                            .replica = replica,
                                            .cause = cause,
                                            .from = from,
                                            .to = to,
                                            .high_watermark = high_watermark,
                                            .limit = limit});
    }

    void replica(const std::string& partition, const std::string& name, bool leader, std::int64_t log_start_offset,
                 std::int64_t high_watermark, std::int64_t log_end_offset, std::vector<Record> records) {
        history_.replicas.push_back(ReplicaState{.partition = partition,
                                                 .replica = name,
                                                 .leader = leader,
                                                 .log_start_offset = log_start_offset,
                                                 .high_watermark = high_watermark,
                                                 .log_end_offset = log_end_offset,
                                                 .records = std::move(records)});
    }

    // A send of `key` (value nothing: a tombstone), invoked and completed.
    std::uint64_t keyed_send(const std::string& process, const std::string& partition, const std::string& key,
                             std::optional<std::string> value, std::optional<std::int64_t> offset,
                             OpType outcome = OpType::ok) {
        Operation invoke = next_op(process, OpType::invoke, "send");
        invoke.partition = partition;
        invoke.key = key;
        invoke.value = value;
        invoke.acks = Acks::all;
        (void)append(invoke);
        if (outcome == OpType::invoke) {
            return invoke.index;  // never completes
        }
        Operation done = invoke;
        done.index = next_index_;
        done.time = time_of(next_index_);
        done.type = outcome;
        done.offset = outcome == OpType::ok ? offset : std::nullopt;
        return append(std::move(done));
    }

    // Replicas of a compacted topic: a leader and a follower holding `records`.
    void compacted_replicas(const std::string& partition, std::int64_t high_watermark, const std::vector<Record>& leader,
                            const std::vector<Record>& follower) {
        history_.replicas.push_back(ReplicaState{.partition = partition, .replica = "broker-1", .leader = true,
                                                 .compacted = true, .log_start_offset = 0,
                                                 .high_watermark = high_watermark, .log_end_offset = high_watermark,
                                                 .records = leader});
        history_.replicas.push_back(ReplicaState{.partition = partition, .replica = "broker-2", .leader = false,
                                                 .compacted = true, .log_start_offset = 0,
                                                 .high_watermark = high_watermark, .log_end_offset = high_watermark,
                                                 .records = follower});
    }

    // ---- transactions (docs/history-format.md) ----

    // Moves the clock on by `ns` for every later operation.
    void advance_time(std::int64_t ns) { time_offset_ns_ += ns; }

    // An init-txn invoke and its completion (ok: with the producer id and epoch; else with `error`).
    std::uint64_t init_txn(const std::string& process, const std::string& transactional_id, std::int64_t timeout_ms,
                           std::int64_t producer_id, std::int64_t producer_epoch, OpType outcome = OpType::ok,
                           const std::string& error = "") {
        Operation invoke = next_op(process, OpType::invoke, "init-txn");
        invoke.transactional_id = transactional_id;
        invoke.timeout_ms = timeout_ms;
        (void)append(invoke);
        Operation done = next_op(process, outcome, "init-txn");
        done.transactional_id = transactional_id;
        if (outcome == OpType::ok) {
            done.producer_id = producer_id;
            done.producer_epoch = producer_epoch;
        } else {
            done.error = error;
        }
        return append(std::move(done));
    }

    std::uint64_t begin(const std::string& process, const std::string& transactional_id, const std::string& txn) {
        Operation op = next_op(process, OpType::ok, "begin");
        op.transactional_id = transactional_id;
        op.txn = txn;
        return append(std::move(op));
    }

    // A send of transaction `txn`: invoke and completion (outcome invoke: never completed).
    std::uint64_t txn_send(const std::string& process, const std::string& txn, const std::string& partition,
                           const std::string& value, std::optional<std::int64_t> offset, OpType outcome = OpType::ok,
                           const std::string& error = "request timed out") {
        Operation invoke = next_op(process, OpType::invoke, "send");
        invoke.partition = partition;
        invoke.value = value;
        invoke.acks = Acks::all;
        invoke.txn = txn;
        invoke.transactional_id = "tid-" + process;
        const std::uint64_t invoke_index = append(invoke);
        if (outcome == OpType::invoke) {
            return invoke_index;
        }
        Operation done = invoke;
        done.index = next_index_;
        done.time = time_of(next_index_);
        done.type = outcome;
        done.offset = outcome == OpType::ok ? offset : std::nullopt;
        if (outcome != OpType::ok) {
            done.error = error;
        }
        return append(std::move(done));
    }

    // A commit or abort (`f`) of transaction `txn`: invoke and completion (outcome invoke: never completed).
    std::uint64_t end_txn(const std::string& process, const std::string& txn, const std::string& f,
                          OpType outcome = OpType::ok, const std::string& error = "") {
        Operation invoke = next_op(process, OpType::invoke, f);
        invoke.txn = txn;
        invoke.transactional_id = "tid-" + process;
        const std::uint64_t invoke_index = append(invoke);
        if (outcome == OpType::invoke) {
            return invoke_index;
        }
        Operation done = next_op(process, outcome, f);
        done.txn = txn;
        done.transactional_id = invoke.transactional_id;
        if (!error.empty()) {
            done.error = error;
        }
        return append(std::move(done));
    }

    // A poll of a read_committed consumer.
    std::uint64_t poll_committed(const std::string& process, const std::string& partition, std::vector<Record> records) {
        Operation op = next_op(process, OpType::ok, "poll");
        op.partition = partition;
        op.records = std::move(records);
        op.isolation = "read_committed";
        return append(std::move(op));
    }

    // One leader replica holding `records` (data only) and `batches`, all below `high_watermark`.
    void leader_with_batches(const std::string& partition, std::int64_t high_watermark, std::vector<Record> records,
                             std::vector<BatchHeader> batches, std::int64_t log_start_offset = 0) {
        history_.replicas.push_back(ReplicaState{.partition = partition,
                                                 .replica = "broker-1",
                                                 .leader = true,
                                                 .log_start_offset = log_start_offset,
                                                 .high_watermark = high_watermark,
                                                 .log_end_offset = high_watermark,
                                                 .records = std::move(records),
                                                 .batches = std::move(batches)});
    }

    // A consumer-group operation `f` of `process` (assigned, commit-offsets, send-offsets, group-final,
    // ctp-final, ...) with its group fields.
    std::uint64_t group_op(const std::string& process, OpType type, const std::string& f, const std::string& group,
                           const std::string& member, std::int64_t generation, std::vector<std::string> partitions,
                           std::map<std::string, std::int64_t> offsets, std::optional<std::string> txn = std::nullopt) {
        Operation op = next_op(process, type, f);
        op.group = group;
        op.member_id = member;
        op.generation = generation;
        op.partitions = std::move(partitions);
        op.offsets = std::move(offsets);
        op.txn = std::move(txn);
        return append(std::move(op));
    }

    // Any operation: `fill` sets its fields; the index and time are the builder's.
    template <typename Fill>
    std::uint64_t operation(const std::string& process, OpType type, const std::string& f, Fill fill) {
        Operation op = next_op(process, type, f);
        fill(op);
        return append(std::move(op));
    }

    [[nodiscard]] const History& history() const { return history_; }

private:
    std::uint64_t position(const std::string& process, const std::string& partition, std::int64_t offset,
                           const std::string& f) {
        Operation op = next_op(process, OpType::ok, f);
        op.partition = partition;
        op.offset = offset;
        return append(std::move(op));
    }

    Operation next_op(const std::string& process, OpType type, const std::string& f) const {
        Operation op;
        op.index = next_index_;
        op.time = time_of(next_index_);
        op.process = process;
        op.type = type;
        op.f = f;
        return op;
    }

    [[nodiscard]] std::int64_t time_of(std::uint64_t index) const {
        return static_cast<std::int64_t>(index) * 1000 + time_offset_ns_;
    }

    std::uint64_t append(Operation op) {
        history_.operations.push_back(std::move(op));
        return next_index_++;
    }

    History history_;
    std::uint64_t next_index_ = 1;
    std::int64_t time_offset_ns_ = 0;
};

// The anomalies called `name`.
inline std::vector<Anomaly> named(const std::vector<Anomaly>& anomalies, const std::string& name) {
    std::vector<Anomaly> matching;
    for (const Anomaly& anomaly : anomalies) {
        if (anomaly.name == name) {
            matching.push_back(anomaly);
        }
    }
    return matching;
}

// Names of the anomalies, for failure messages.
inline std::string names_of(const std::vector<Anomaly>& anomalies) {
    std::string names;
    for (const Anomaly& anomaly : anomalies) {
        names += anomaly.name + ": " + anomaly.description + "\n";
    }
    return names;
}

// The names of `anomalies`, in order.
inline std::vector<std::string> names(const std::vector<Anomaly>& anomalies) {
    std::vector<std::string> out;
    for (const Anomaly& anomaly : anomalies) {
        out.push_back(anomaly.name);
    }
    return out;
}

}  // namespace eosim::model::testing
