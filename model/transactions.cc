// Transaction checkers (docs/anomalies.md). zombie-write and hanging-transaction read the final logs alone
// (replica lines with batch headers; histories without them give these nothing to read); uncommitted-read,
// torn-transaction and spurious-fence read the transactional producers' and consumers' operations.

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "model/checkers.h"
#include "model/observations.h"

namespace eosim::model {
namespace {

// The batches of `replica` below its high watermark, in log order.
std::vector<const BatchHeader*> committed_batches(const ReplicaState& replica) {
    std::vector<const BatchHeader*> batches;
    for (const BatchHeader& batch : replica.batches) {
        if (batch.last_offset < replica.high_watermark) {
            batches.push_back(&batch);
        }
    }
    return batches;
}

nlohmann::json batch_json(const BatchHeader& batch) {
    return {{"base_offset", batch.base_offset},       {"last_offset", batch.last_offset},
            {"producer_id", batch.producer_id},       {"producer_epoch", batch.producer_epoch},
            {"transactional", batch.transactional},   {"control", batch.control}};
}

std::string batch_text(const BatchHeader& batch) {
    return fmt::format("{} batch {}..{} of producer {} epoch {}", batch.control ? "control" : "data",
                       batch.base_offset, batch.last_offset, batch.producer_id, batch.producer_epoch);
}

}  // namespace

// A partition takes a transactional producer's batches only from its newest epoch on: once a batch or
// marker of epoch e is in the log, a batch of an older epoch is a write of a fenced instance (a zombie). On
// the committed replica of each partition, every transactional batch (data or marker) of a producer id is
// at an epoch at least that of every earlier one. Plain idempotent batches are left out: a broker that
// forgot an idle producer takes its old epoch again (Kafka does too).
std::vector<Anomaly> check_zombie_writes(const History& history) {
    std::vector<Anomaly> found;
    for (const ReplicaState& replica : history.replicas) {
        if (committed_replica(history, replica.partition) != &replica) {
            continue;
        }
        std::map<std::int64_t, const BatchHeader*> newest;  // producer id -> its batch of the highest epoch so far
        for (const BatchHeader* batch : committed_batches(replica)) {
            if (batch->producer_id < 0 || !batch->transactional) {
                continue;  // an idempotent producer's state may expire, and its old epoch then be taken again
            }
            const auto [entry, first] = newest.try_emplace(batch->producer_id, batch);
            if (first) {
                continue;
            }
            if (batch->producer_epoch < entry->second->producer_epoch) {
                found.push_back(Anomaly{
                    .name = "zombie-write",
                    .partition = replica.partition,
                    .description = fmt::format("{} on {} ({}) comes after {}: a fenced epoch wrote after the fence",
                                               batch_text(*batch), replica.partition, replica.replica,
                                               batch_text(*entry->second)),
                    .evidence = {{"replica", replica.replica},
                                 {"batch", batch_json(*batch)},
                                 {"fenced_by", batch_json(*entry->second)}},
                });
            } else {
                entry->second = batch;
            }
        }
    }
    return found;
}

// After healing and quiescence every transaction has ended: on the committed replica of each partition,
// every transactional data batch is followed by a marker (a control batch) of its producer. A batch with
// none holds the last stable offset below the high watermark for good, and read_committed readers stop
// there. A run that never quiesced (stuck) is judged too, against the liveness bound: a transaction still
// open at the end that has been open, on a healthy cluster, for longer than the transaction timeout plus
// `hanging_slack_ns` should have been aborted by its coordinator.
namespace {

constexpr std::int64_t hanging_slack_ns = 5'000'000'000;

struct StuckClock {
    std::int64_t end = 0;            // when the run gave up
    std::int64_t healthy_since = 0;  // since when the cluster was healed (and stayed so) to the end
    std::int64_t timeout_ns = 0;     // the longest transaction timeout any producer asked for
};

std::optional<StuckClock> stuck_clock(const History& history) {
    const auto stuck = std::find_if(history.operations.begin(), history.operations.end(),
                                    [](const Operation& op) { return op.f == "stuck"; });
    if (stuck == history.operations.end()) {
        return std::nullopt;
    }
    StuckClock clock{.end = stuck->time};
    if (stuck->timeout_ms) {
        clock.healthy_since = stuck->time - *stuck->timeout_ms * 1'000'000;  // healed a liveness bound before
    } else if (!history.health.empty() && history.health.back().healthy) {
        clock.healthy_since = history.health.back().time;
    } else {
        clock.healthy_since = std::numeric_limits<std::int64_t>::max();  // not known to have healed
    }
    for (const Operation& op : history.operations) {
        if (op.f == "init-txn" && op.timeout_ms) {
            clock.timeout_ns = std::max(clock.timeout_ns, *op.timeout_ms * 1'000'000);
        }
    }
    return clock;
}

// When the earliest send of a record in `batch` was invoked, if a send op wrote one of its values.
std::optional<std::int64_t> first_send_time(const History& history, const ReplicaState& replica,
                                            const BatchHeader& batch) {
    std::set<std::string> values;
    for (const Record& record : replica.records) {
        if (record.offset >= batch.base_offset && record.offset <= batch.last_offset && record.value) {
            values.insert(*record.value);
        }
    }
    for (const Operation& op : history.operations) {
        if (op.f == "send" && op.type == OpType::invoke && op.value && values.contains(*op.value)) {
            return op.time;
        }
    }
    return std::nullopt;
}

}  // namespace

std::vector<Anomaly> check_hanging_transactions(const History& history) {
    std::vector<Anomaly> found;
    const std::optional<StuckClock> stuck = stuck_clock(history);
    if (stuck && stuck->timeout_ns == 0) {
        return found;  // no transaction timeout is known: a stuck run's open transactions prove nothing more
    }
    for (const ReplicaState& replica : history.replicas) {
        if (committed_replica(history, replica.partition) != &replica) {
            continue;
        }
        std::map<std::int64_t, const BatchHeader*> open;  // producer id -> first batch of its open transaction
        for (const BatchHeader* batch : committed_batches(replica)) {
            if (batch->control) {
                open.erase(batch->producer_id);
            } else if (batch->transactional) {
                open.try_emplace(batch->producer_id, batch);
            }
        }
        for (const auto& [producer, first] : open) {
            std::string bound;
            nlohmann::json open_for = nullptr;
            if (stuck) {
                // Open on a healthy cluster since the later of its first send and the last heal.
                const std::optional<std::int64_t> sent = first_send_time(history, replica, *first);
                if (!sent) {
                    continue;
                }
                const std::int64_t since = std::max(*sent, stuck->healthy_since);
                if (since > stuck->end || stuck->end - since < stuck->timeout_ns + hanging_slack_ns) {
                    continue;  // it may still end by its timeout
                }
                open_for = stuck->end - since;
                bound = fmt::format(" and was open on a healthy cluster for {:.1f} s when the run gave up (the "
                                    "transaction timeout is {} ms)",
                                    static_cast<double>(stuck->end - since) / 1e9, stuck->timeout_ns / 1'000'000);
            }
            found.push_back(Anomaly{
                .name = "hanging-transaction",
                .partition = replica.partition,
                .description = fmt::format("the transaction of producer {} on {} ({}) that began with {} has no "
                                           "marker below the high watermark {} after healing{}",
                                           producer, replica.partition, replica.replica, batch_text(*first),
                                           replica.high_watermark, bound),
                .evidence = {{"replica", replica.replica},
                             {"producer_id", producer},
                             {"first_batch", batch_json(*first)},
                             {"high_watermark", replica.high_watermark},
                             {"open_healthy_ns", open_for}},
            });
        }
    }
    return found;
}

// ---- uncommitted-read, torn-transaction, spurious-fence ----

namespace {

using Json = nlohmann::json;

std::string quoted(Text text) {
    return Json(text).dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The offset a transactional send's record is at: where it was acknowledged, else where the committed log holds
// its value.
std::optional<std::int64_t> record_offset(const Facts& facts, const TxnSend& send) {
    if (send.completion != nullptr && send.completion->type == OpType::ok && send.completion->offset) {
        return *send.completion->offset;
    }
    if (const auto log = facts.logs.find(send.partition); log != facts.logs.end()) {
        if (const auto held = log->second.offsets_of.find(send.value); held != log->second.offsets_of.end()) {
            return held->second.front();
        }
    }
    return std::nullopt;
}

// A transaction an earlier one's late request at the same epoch may have ended, in part or whole (transaction
// version 1; KAFKA-17754): committed early (`commit`), or torn by either end.
std::vector<std::string> late_request_causes(const Transaction& transaction, bool commit) {
    const bool late = commit ? transaction.after_same_epoch_commit
                             : transaction.after_same_epoch_commit || transaction.after_same_epoch_abort;
    return late ? std::vector<std::string>{"late-request"} : std::vector<std::string>{};
}

Anomaly uncommitted_read(const Transaction& transaction, const std::vector<const Read*>& reads,
                         const Operation& poll) {
    constexpr std::size_t described_max = 5;  // the evidence has them all
    Json records = Json::array();
    std::string offsets;
    for (const Read* read : reads) {
        records.push_back({{"offset", read->offset}, {"value", read->value}});
        if (records.size() <= described_max) {
            offsets += fmt::format("{}{} at offset {}", offsets.empty() ? "" : ", ", quoted(read->value), read->offset);
        }
    }
    if (reads.size() > described_max) {
        offsets += fmt::format(" and {} more", reads.size() - described_max);
    }
    const Operation* commit = transaction.commit_invoke;
    const std::string when = commit == nullptr ? "was never invoked"
                                               : fmt::format("was invoked only later, at op {}", commit->index);
    return Anomaly{
        .name = "uncommitted-read",
        .partition = *poll.partition,
        .description = fmt::format("read_committed poll op {} ({}) of {} returned {} of transaction {} ({}), whose "
                                   "commit {}",
                                   poll.index, poll.process, *poll.partition, offsets, transaction.label,
                                   transaction.process, when),
        .evidence = {{"poll_index", poll.index},
                     {"process", poll.process},
                     {"poll_time", poll.time},
                     {"txn", transaction.label},
                     {"producer", transaction.process},
                     {"records", records},
                     {"commit_invoke_index", commit == nullptr ? Json(nullptr) : Json(commit->index)},
                     {"commit_invoke_time", commit == nullptr ? Json(nullptr) : Json(commit->time)},
                     {"outcome", to_string(transaction.outcome)}},
        // A late EndTxn(commit) or COMMIT marker of an earlier transaction at the same epoch may have committed
        // this one early.
        .causes = late_request_causes(transaction, true)};
}

const Operation& operation_at(const History& history, std::uint64_t index) {
    const auto found = std::lower_bound(history.operations.begin(), history.operations.end(), index,
                                        [](const Operation& op, std::uint64_t wanted) { return op.index < wanted; });
    return *found;
}

}  // namespace

// A read_committed consumer returns a transaction's records only once the transaction committed, and the
// coordinator commits only after the producer asked it to: a record returned before its transaction's commit
// was invoked was uncommitted. A definitely aborted transaction's record is aborted-read's to report.
std::vector<Anomaly> check_uncommitted_reads(const Facts& facts) {
    std::map<std::pair<std::uint64_t, Text>, std::vector<const Read*>> early;  // (poll index, txn) -> its reads
    for (const Read& read : facts.reads) {
        const TxnSend* send = read.read_committed ? facts.transactions.send_of(read.partition, read.value) : nullptr;
        if (send == nullptr || send->transaction->outcome == TxnOutcome::aborted) {
            continue;
        }
        const Operation* commit = send->transaction->commit_invoke;
        if (commit == nullptr || commit->index > read.index) {
            early[{read.index, send->transaction->label}].push_back(&read);
        }
    }
    std::vector<Anomaly> found;
    for (const auto& [key, reads] : early) {
        const Transaction& transaction = facts.transactions.by_label().at(key.second);
        found.push_back(uncommitted_read(transaction, reads, operation_at(facts.history, key.first)));
    }
    return found;
}

namespace {

// What one read_committed poll read through on its partition: from the consumer's position before it to its
// last offset.
struct Stretch {
    std::int64_t from = 0;
    std::int64_t last = 0;
    const Operation* poll = nullptr;
};

// The stretches of each read_committed consumer timeline. Before its first assign or seek a timeline's
// position is unknown: its first poll counts from its own first offset.
std::map<ProcessPartition, std::vector<Stretch>> read_committed_stretches(const Facts& facts) {
    std::map<ProcessPartition, std::vector<Stretch>> stretches;
    for (const auto& [key, timeline] : facts.timelines) {
        std::optional<std::int64_t> position;
        for (const Operation* op : timeline) {
            if (op->f != "poll") {
                position = *op->offset;
                continue;
            }
            if (op->records->empty()) {
                continue;
            }
            const std::int64_t last = op->records->back().offset;
            if (op->isolation == "read_committed") {
                stretches[key].push_back(Stretch{
                    .from = std::min(position.value_or(op->records->front().offset), op->records->front().offset),
                    .last = last,
                    .poll = op});
            }
            position = last < std::numeric_limits<std::int64_t>::max() ? last + 1 : last;
        }
    }
    return stretches;
}

// A stretch that read on past `offset` from at or below it.
const Stretch* read_past(const std::vector<Stretch>& stretches, std::int64_t offset) {
    for (const Stretch& stretch : stretches) {
        if (stretch.from <= offset && stretch.last > offset) {
            return &stretch;
        }
    }
    return nullptr;
}

Json record_json(const TxnSend& send, std::int64_t offset) {
    return {{"partition", send.partition},
            {"offset", offset},
            {"value", send.value},
            {"send_index", send.completion != nullptr ? send.completion->index : send.invoke->index}};
}

std::string record_text(const TxnSend& send, std::int64_t offset) {
    return fmt::format("{} at offset {} of {}", quoted(send.value), offset, send.partition);
}

std::int64_t log_offset_of(const Facts& facts, const TxnSend& send) {
    return facts.logs.at(send.partition).offsets_of.at(send.value).front();
}

// (a): a committed transaction's record in one partition's committed log, and an acknowledged send of it missing
// from another partition's committed log (not below its log start: illegal-removal proves that start).
std::optional<Anomaly> torn_in_logs(const Facts& facts, const Transaction& transaction,
                                    const std::vector<const TxnSend*>& sends) {
    const TxnSend* visible = nullptr;
    for (const TxnSend* send : sends) {
        const auto log = facts.logs.find(send->partition);
        if (visible == nullptr && log != facts.logs.end() && log->second.holds_value(send->value)) {
            visible = send;
        }
    }
    for (const TxnSend* send : sends) {
        const auto log = facts.logs.find(send->partition);
        const bool acknowledged = send->completion != nullptr && send->completion->type == OpType::ok;
        if (visible == nullptr || !acknowledged || send->partition == visible->partition || log == facts.logs.end() ||
            log->second.holds_value(send->value) ||
            (send->completion->offset && *send->completion->offset < log->second.log.log_start_offset)) {
            continue;
        }
        const std::int64_t visible_offset = log_offset_of(facts, *visible);
        return Anomaly{
            .name = "torn-transaction",
            .partition = std::string(send->partition),
            .description = fmt::format(
                "committed transaction {} ({}) is torn: the committed log holds {}, but not its acknowledged send op "
                "{} of {} to {} (committed log of replica {}, offsets [{}, {}))",
                transaction.label, transaction.process, record_text(*visible, visible_offset),
                send->completion->index, quoted(send->value), send->partition, log->second.log.replica,
                log->second.log.log_start_offset, log->second.log.high_watermark),
            .evidence = {{"txn", transaction.label},
                         {"process", transaction.process},
                         {"visible", record_json(*visible, visible_offset)},
                         {"missing", {{"partition", send->partition},
                                      {"value", send->value},
                                      {"send_index", send->completion->index},
                                      {"offset", send->completion->offset ? Json(*send->completion->offset)
                                                                          : Json(nullptr)}}},
                         {"committed_log", {{"replica", log->second.log.replica},
                                            {"log_start_offset", log->second.log.log_start_offset},
                                            {"high_watermark", log->second.log.high_watermark}}}},
            .causes = late_request_causes(transaction, false)};
    }
    return std::nullopt;
}

}  // namespace

namespace {

// What read_committed consumers returned of transactions: (txn label, process) -> partitions, and each
// (process, partition, value) returned.
struct CommittedReads {
    std::map<std::pair<Text, Text>, std::map<Text, const Read*>> partitions_of;  // the first read on each
    std::set<std::tuple<Text, Text, Text>> returned;
};

CommittedReads committed_reads(const Facts& facts) {
    CommittedReads reads;
    for (const Read& read : facts.reads) {
        const TxnSend* send = read.read_committed ? facts.transactions.send_of(read.partition, read.value) : nullptr;
        if (send != nullptr) {
            reads.partitions_of[{send->transaction->label, read.process}].try_emplace(read.partition, &read);
            reads.returned.emplace(read.process, read.partition, read.value);
        }
    }
    return reads;
}

Anomaly torn_read(const Transaction& transaction, const Read& read, const TxnSend& skipped, std::int64_t offset,
                  const Stretch& past) {
    return Anomaly{
        .name = "torn-transaction",
        .partition = std::string(skipped.partition),
        .description = fmt::format(
            "transaction {} ({}) is torn for read_committed consumer {}: poll op {} returned {} at offset {} of {}, "
            "but poll op {} read {} from offset {} on to offset {} without returning the transaction's {}",
            transaction.label, transaction.process, read.process, read.index, quoted(read.value), read.offset,
            read.partition, past.poll->index, skipped.partition, past.from, past.last, record_text(skipped, offset)),
        .evidence = {{"txn", transaction.label},
                     {"process", transaction.process},
                     {"consumer", read.process},
                     {"read", {{"poll_index", read.index},
                               {"partition", read.partition},
                               {"offset", read.offset},
                               {"value", read.value}}},
                     {"skipped", record_json(skipped, offset)},
                     {"read_past", {{"poll_index", past.poll->index}, {"from", past.from}, {"last_offset", past.last}}}},
        .causes = late_request_causes(transaction, false)};
}

// (b): a read_committed consumer returned a record of the transaction on one partition and read past its record
// on another partition without returning it.
std::optional<Anomaly> torn_in_reads(const Facts& facts, const Transaction& transaction,
                                     const std::vector<const TxnSend*>& sends, const CommittedReads& reads,
                                     const std::map<ProcessPartition, std::vector<Stretch>>& stretches) {
    for (auto it = reads.partitions_of.lower_bound({transaction.label, Text()});
         it != reads.partitions_of.end() && it->first.first == transaction.label; ++it) {
        const Text consumer = it->first.second;
        const std::map<Text, const Read*>& partitions = it->second;
        for (const TxnSend* send : sends) {
            const std::optional<std::int64_t> offset = record_offset(facts, *send);
            const auto other = std::find_if(partitions.begin(), partitions.end(),
                                            [send](const auto& entry) { return entry.first != send->partition; });
            const auto consumed = stretches.find({consumer, send->partition});
            if (!offset || other == partitions.end() || consumed == stretches.end() ||
                reads.returned.contains({consumer, send->partition, send->value})) {
                continue;
            }
            if (const Stretch* past = read_past(consumed->second, *offset); past != nullptr) {
                return torn_read(transaction, *other->second, *send, *offset, *past);
            }
        }
    }
    return std::nullopt;
}

}  // namespace

// A transaction is atomic: once committed, all of its records are in the log, and a read_committed consumer that
// returns one of them returns the others it reads past. One anomaly per transaction.
std::vector<Anomaly> check_torn_transactions(const Facts& facts) {
    std::map<Text, std::vector<const TxnSend*>> sends_of;
    for (const TxnSend& send : facts.transactions.sends()) {
        sends_of[send.transaction->label].push_back(&send);
    }
    const CommittedReads reads = committed_reads(facts);
    const std::map<ProcessPartition, std::vector<Stretch>> stretches = read_committed_stretches(facts);
    std::vector<Anomaly> found;
    for (const auto& [label, sends] : sends_of) {
        const Transaction& transaction = facts.transactions.by_label().at(label);
        std::optional<Anomaly> torn;
        if (transaction.outcome == TxnOutcome::committed) {
            torn = torn_in_logs(facts, transaction, sends);
        }
        if (!torn && transaction.outcome != TxnOutcome::aborted) {
            torn = torn_in_reads(facts, transaction, sends, reads, stretches);  // aborted: aborted-read's business
        }
        if (torn) {
            found.push_back(std::move(*torn));
        }
    }
    return found;
}

namespace {

// A completion of one process that said it was fenced, with the init-txn and the begin of the producer
// instance it belonged to. An operation carries its transaction's label, so a late answer to a send of an
// earlier transaction is judged by that transaction, even when the process has started a new producer since
// (the same process name, a new init-txn) and opened another.
struct Fenced {
    const Operation* fence = nullptr;
    const Operation* init = nullptr;   // the init-txn invoke of its producer instance, before its transaction
    const Operation* begin = nullptr;  // the begin of its transaction (else the process's last one)
};

// Per process, in history order, the first fence of each of its transactions (and of no transaction).
std::map<Text, std::vector<Fenced>> fenced_processes(const History& history) {
    struct Process {
        const Operation* init = nullptr;
        const Operation* begin = nullptr;
        std::map<std::string, std::pair<const Operation*, const Operation*>> begun;  // txn -> {begin, init}
        std::set<std::string> fenced;                                               // txns with a fence
        std::vector<Fenced> fences;
    };
    std::map<Text, Process> processes;
    for (const Operation& op : history.operations) {
        Process& process = processes[op.process];
        if (op.f == "init-txn" && op.type == OpType::invoke) {
            process.init = &op;
        } else if (op.f == "begin" && op.type == OpType::ok) {
            process.begin = &op;
            if (op.txn) {
                process.begun[*op.txn] = {&op, process.init};
            }
        }
        if (op.type == OpType::invoke || !fenced_error(op.error)) {
            continue;
        }
        Fenced fence{.fence = &op, .init = process.init, .begin = process.begin};
        if (op.txn) {
            if (const auto begun = process.begun.find(*op.txn); begun != process.begun.end()) {
                fence.begin = begun->second.first;
                fence.init = begun->second.second;
            }
        }
        if (process.fenced.insert(fence.begin != nullptr ? fence.begin->txn.value_or("") : "").second) {
            process.fences.push_back(fence);
        }
    }
    std::map<Text, std::vector<Fenced>> fenced;
    for (auto& [name, process] : processes) {
        if (!process.fences.empty()) {
            fenced.emplace(name, std::move(process.fences));
        }
    }
    return fenced;
}

std::optional<Text> transactional_id_of(const Fenced& process) {
    for (const Operation* op : {process.init, process.fence, process.begin}) {
        if (op != nullptr && op->transactional_id) {
            return *op->transactional_id;
        }
    }
    return std::nullopt;
}

// Another instance's init-txn of `id` that may have fenced `process`: invoked before the fence, and not known
// to have ended before the process's own init-txn was invoked (an init that ended info may still reach the
// coordinator later).
using CompletionOf = std::map<std::uint64_t, const Operation*>;  // invoke index -> its completion

CompletionOf init_completions(const Facts& facts) {
    CompletionOf completion_of;
    for (const auto& [completion, invoke] : facts.invoke_of) {
        const Operation& done = operation_at(facts.history, completion);
        if (done.f == "init-txn") {
            completion_of.emplace(invoke, &done);
        }
    }
    return completion_of;
}

const Operation* other_init(const Facts& facts, const CompletionOf& completion_of, const Fenced& process, Text id) {
    const std::uint64_t own_init = process.init != nullptr ? process.init->index : 0;
    for (const Operation& op : facts.history.operations) {
        if (op.index >= process.fence->index) {
            break;
        }
        if (op.f != "init-txn" || op.type != OpType::invoke ||
            op.transactional_id != std::optional<std::string>(std::string(id))) {
            continue;
        }
        if (op.process == process.fence->process) {
            if (op.index > own_init) {
                return &op;  // a new producer instance of the same process, started after the fenced one
            }
            continue;
        }
        const auto done = completion_of.find(op.index);
        const bool ended_before = done != completion_of.end() && done->second->index < own_init &&
                                  done->second->type != OpType::info;
        if (!ended_before) {
            return &op;
        }
    }
    return nullptr;
}

// How long the transaction had been open, at its longest, by the brokers' clocks when a fault stepped or skewed
// some (the history's clock lines; a broker without lines reads true time). A coordinator records the
// transaction's start by its wall clock at some moment after the begin, and times it out by its wall clock
// at a moment after that, as Kafka's does; the start may have been written by the coordinator before it (a
// failover), and a clock may step back or forth between the two. So the longest is, over pairs of moments
// m1 <= m2 from the begin to the fence, the latest reading of any broker's clock at m2 less the earliest at
// m1. Only brokers coordinate: the clocks of nodes no replica line names (the controller, clients) do not
// count, unless the history has no replica lines at all. 0 when no broker's clock moved.
std::int64_t longest_open_by_a_clock(const History& history, const Operation& begin, const Operation& fence) {
    std::set<std::string_view> brokers;
    for (const ReplicaState& replica : history.replicas) {
        brokers.insert(replica.replica);
    }
    std::set<std::string_view> nodes;
    for (const ClockChange& change : history.clocks) {
        if (brokers.empty() || brokers.contains(change.node)) {
            nodes.insert(change.node);
        }
    }
    if (nodes.empty()) {
        return 0;
    }
    std::set<std::int64_t> moments{begin.time, fence.time};
    for (const ClockChange& change : history.clocks) {
        if (nodes.contains(change.node) && change.time > begin.time && change.time <= fence.time) {
            moments.insert(change.time - 1);  // just before it stepped or re-anchored
            moments.insert(change.time);      // just after
        }
    }
    std::int64_t longest = 0;
    std::int64_t earliest = std::numeric_limits<std::int64_t>::max();  // the earliest reading at a moment so far
    for (const std::int64_t moment : moments) {  // in time order
        std::int64_t low = moment;  // a broker without clock lines reads true time
        std::int64_t high = moment;
        for (const std::string_view node : nodes) {
            const std::int64_t reading = local_time(history, node, moment);
            low = std::min(low, reading);
            high = std::max(high, reading);
        }
        earliest = std::min(earliest, low);
        longest = std::max(longest, high - earliest);
    }
    return longest;
}

Anomaly spurious_fence(const Fenced& process, Text id, std::optional<std::int64_t> timeout_ms) {
    const Operation& fence = *process.fence;
    const Operation* begin = process.begin;
    const std::string open =
        begin == nullptr ? "no transaction open"
                         : fmt::format("transaction {} open since begin op {}, {:.3f} s before (timeout {} ms)",
                                       begin->txn.value_or("?"), begin->index,
                                       static_cast<double>(fence.time - begin->time) / 1e9, timeout_ms.value_or(0));
    return Anomaly{
        .name = "spurious-fence",
        .partition = fence.partition.value_or(""),
        .description = fmt::format("{} (transactional id {}) was fenced at {} op {} ({}) with {} and no other "
                                   "instance's init-txn since its own{}",
                                   fence.process, quoted(id), fence.f, fence.index, *fence.error, open,
                                   process.init != nullptr ? fmt::format(" (op {})", process.init->index) : ""),
        .evidence = {{"process", fence.process},
                     {"transactional_id", id},
                     {"fence", {{"index", fence.index},
                                {"f", fence.f},
                                {"type", to_string(fence.type)},
                                {"error", *fence.error},
                                {"time", fence.time}}},
                     {"init_index", process.init != nullptr ? Json(process.init->index) : Json(nullptr)},
                     {"open_transaction", begin == nullptr ? Json(nullptr)
                                                           : Json{{"txn", begin->txn.value_or("")},
                                                                  {"begin_index", begin->index},
                                                                  {"begin_time", begin->time}}},
                     {"timeout_ms", timeout_ms ? Json(*timeout_ms) : Json(nullptr)}}};
}

}  // namespace

// A transactional producer is fenced only by another instance with its transactional id (an InitProducerId bumps
// the epoch) or by the coordinator aborting its transaction on timeout. A fence with neither is spurious. One
// anomaly per fenced process.
std::vector<Anomaly> check_spurious_fences(const Facts& facts) {
    std::vector<std::pair<std::uint64_t, Anomaly>> found;  // by the fence's index
    const std::map<Text, std::vector<Fenced>> fenced = fenced_processes(facts.history);
    const CompletionOf completion_of = fenced.empty() ? CompletionOf{} : init_completions(facts);
    for (const auto& [name, fences] : fenced) {
        for (const Fenced& process : fences) {
            const std::optional<Text> id = transactional_id_of(process);
            if (!id || other_init(facts, completion_of, process, *id) != nullptr) {
                continue;
            }
            const std::optional<std::int64_t> timeout_ms =
                process.init != nullptr ? process.init->timeout_ms : std::optional<std::int64_t>();
            if (process.begin != nullptr) {
                const std::int64_t open_ns = process.fence->time - process.begin->time;
                if (!timeout_ms || open_ns >= *timeout_ms * 1'000'000 ||
                    longest_open_by_a_clock(facts.history, *process.begin, *process.fence) >= *timeout_ms * 1'000'000) {
                    continue;  // the coordinator may have aborted it on timeout (or the timeout is not known)
                }
            }
            found.emplace_back(process.fence->index, spurious_fence(process, *id, timeout_ms));
            break;  // one per process
        }
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Anomaly> anomalies;
    for (auto& [index, anomaly] : found) {
        anomalies.push_back(std::move(anomaly));
    }
    return anomalies;
}

std::vector<Anomaly> check_uncommitted_reads(const History& history) {
    return check_uncommitted_reads(Facts(history));
}

std::vector<Anomaly> check_torn_transactions(const History& history) {
    return check_torn_transactions(Facts(history));
}

std::vector<Anomaly> check_spurious_fences(const History& history) {
    return check_spurious_fences(Facts(history));
}

}  // namespace eosim::model
