#include "model/observations.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace eosim::model {

std::size_t TextHash::operator()(Text text) const noexcept {
    return static_cast<std::size_t>(XXH3_64bits(text.data(), text.size()));
}

namespace {

bool fields_match(const std::optional<std::string>& a, const std::optional<std::string>& b) {
    return !a || !b || *a == *b;
}

bool completes(const Operation& invoke, const Operation& completion) {
    if (invoke.f != completion.f || !fields_match(invoke.partition, completion.partition)) {
        return false;
    }
    if (invoke.f == "send") {
        // A send always has a value or is a tombstone (no value): they only pair with their own kind.
        return invoke.value == completion.value && fields_match(invoke.key, completion.key);
    }
    return fields_match(invoke.value, completion.value);
}

std::optional<Text> view(const std::optional<std::string>& text) {
    return text ? std::optional<Text>(*text) : std::nullopt;
}

// The header of the committed log (its records are indexed apart).
CommittedLog header_of(const ReplicaState& replica) {
    return CommittedLog{.partition = replica.partition,
                        .replica = replica.replica,
                        .compacted = replica.compacted,
                        .log_start_offset = replica.log_start_offset,
                        .high_watermark = replica.high_watermark,
                        .records = {}};
}

void index_values(LogIndex& index) {
    std::stable_sort(index.values.begin(), index.values.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [offset, value] : index.values) {
        std::vector<std::int64_t>& offsets = index.offsets_of[value];
        if (!offsets.empty() && offsets.back() == offset) {
            continue;
        }
        offsets.push_back(offset);
        if (offsets.size() == 2) {
            index.values_at_several_offsets.push_back(value);
        }
    }
}

LogIndex index_log(const ReplicaState& replica) {
    LogIndex index;
    index.log = header_of(replica);
    for (const Record& record : replica.records) {
        if (record.offset < replica.log_start_offset || record.offset >= replica.high_watermark) {
            continue;
        }
        index.offsets.push_back(record.offset);
        if (record.key) {
            std::int64_t& latest = index.latest_offset_of_key.try_emplace(*record.key, record.offset).first->second;
            latest = std::max(latest, record.offset);
        }
        if (record.value) {
            index.values.emplace_back(record.offset, *record.value);
        }
    }
    std::sort(index.offsets.begin(), index.offsets.end());
    index.offsets.erase(std::unique(index.offsets.begin(), index.offsets.end()), index.offsets.end());
    index_values(index);
    return index;
}

}  // namespace

bool contains(const OffsetSet& offsets, std::int64_t offset) {
    return std::binary_search(offsets.begin(), offsets.end(), offset);
}

InvokeOf invoke_of_completion(const History& history) {
    std::map<Text, std::vector<const Operation*>> pending_by_process;
    InvokeOf invoke_of;
    for (const Operation& op : history.operations) {
        std::vector<const Operation*>& pending = pending_by_process[op.process];
        if (op.type == OpType::invoke) {
            pending.push_back(&op);
            continue;
        }
        for (auto it = pending.begin(); it != pending.end(); ++it) {
            if (completes(**it, op)) {
                invoke_of.emplace_hint(invoke_of.end(), op.index, (*it)->index);
                pending.erase(it);
                break;
            }
        }
    }
    return invoke_of;
}

std::vector<AckedSend> acked_sends(const History& history) {
    return acked_sends(history, invoke_of_completion(history));
}

std::vector<AckedSend> acked_sends(const History& history, const InvokeOf& invoke_of) {
    std::vector<AckedSend> sends;
    for (const Operation& op : history.operations) {
        if (op.type != OpType::ok || op.f != "send" || !op.partition || !op.value || !op.acks) {
            continue;
        }
        const auto invoke = invoke_of.find(op.index);
        sends.push_back(AckedSend{.invoke_index = invoke == invoke_of.end() ? op.index : invoke->second,
                                  .index = op.index,
                                  .process = op.process,
                                  .partition = *op.partition,
                                  .value = *op.value,
                                  .acks = *op.acks,
                                  .offset = op.offset,
                                  .key = view(op.key),
                                  .attempts = op.attempts,
                                  .txn = view(op.txn)});
    }
    return sends;
}

std::vector<Read> reads(const History& history) {
    std::vector<Read> all_reads;
    for (const Operation& op : history.operations) {
        if (op.type != OpType::ok || op.f != "poll" || !op.partition || !op.records) {
            continue;
        }
        for (const Record& record : *op.records) {
            if (!record.value) {
                continue;
            }
            all_reads.push_back(Read{.index = op.index,
                                     .process = op.process,
                                     .partition = *op.partition,
                                     .offset = record.offset,
                                     .value = *record.value,
                                     .key = view(record.key),
                                     .read_committed = op.isolation == "read_committed"});
        }
    }
    return all_reads;
}

std::pair<const std::pair<std::int64_t, Text>*, const std::pair<std::int64_t, Text>*> LogIndex::values_in(
    std::int64_t from, std::int64_t to) const {
    const auto by_offset = [](const std::pair<std::int64_t, Text>& entry, std::int64_t offset) {
        return entry.first < offset;
    };
    const auto first = std::lower_bound(values.begin(), values.end(), from, by_offset);
    const auto last = std::lower_bound(first, values.end(), std::max(from, to), by_offset);
    return {values.data() + (first - values.begin()), values.data() + (last - values.begin())};
}

bool LogIndex::holds(std::int64_t offset, Text value) const {
    const auto found = offsets_of.find(value);
    return found != offsets_of.end() && std::binary_search(found->second.begin(), found->second.end(), offset);
}

std::optional<Text> LogIndex::first_value_at(std::int64_t offset) const {
    const auto found = std::lower_bound(values.begin(), values.end(), offset,
                                        [](const std::pair<std::int64_t, Text>& entry, std::int64_t value) {
                                            return entry.first < value;
                                        });
    return found == values.end() || found->first != offset ? std::nullopt : std::optional<Text>(found->second);
}

std::map<Text, LogIndex> committed_logs(const History& history) {
    std::set<Text> partitions;
    for (const ReplicaState& replica : history.replicas) {
        partitions.insert(replica.partition);
    }
    std::map<Text, LogIndex> logs;
    for (const Text partition : partitions) {
        logs.emplace(partition, index_log(*committed_replica(history, partition)));
    }
    return logs;
}

std::map<ProcessPartition, std::vector<const Operation*>> consumer_timelines(const History& history) {
    std::map<ProcessPartition, std::vector<const Operation*>> timelines;
    for (const Operation& op : history.operations) {
        const bool positions = op.f == "poll" || op.f == "assign" || op.f == "seek";
        if (op.type != OpType::ok || !positions || !op.partition) {
            continue;
        }
        if (op.f == "poll" ? !op.records.has_value() : !op.offset.has_value()) {
            continue;
        }
        timelines[{op.process, *op.partition}].push_back(&op);
    }
    return timelines;
}

std::map<Text, OffsetSet> known_offsets(const std::map<Text, LogIndex>& logs, const std::vector<Read>& all_reads,
                                        const std::vector<AckedSend>& sends) {
    std::map<Text, OffsetSet> offsets;
    for (const auto& [partition, log] : logs) {
        offsets[partition] = log.offsets;
    }
    const auto compacted = [&logs](Text partition) {
        const auto log = logs.find(partition);
        return log != logs.end() && log->second.log.compacted;
    };
    for (const Read& read : all_reads) {
        if (!compacted(read.partition)) {  // compaction may since have removed what was read
            offsets[read.partition].push_back(read.offset);
        }
    }
    for (const AckedSend& send : sends) {
        if (send.offset && send.acks != Acks::none && !compacted(send.partition)) {
            offsets[send.partition].push_back(*send.offset);
        }
    }
    for (auto& [partition, known] : offsets) {
        std::sort(known.begin(), known.end());
        known.erase(std::unique(known.begin(), known.end()), known.end());
    }
    return offsets;
}

KeyWrites::KeyWrites(const History& history, const InvokeOf& invoke_of) {
    std::set<Text> compacted;  // only compacted partitions' key writes matter
    for (const ReplicaState& replica : history.replicas) {
        if (replica.compacted) {
            compacted.insert(replica.partition);
        }
    }
    std::map<std::uint64_t, const Operation*> pending;  // invokes of keyed sends without a completion yet
    for (const Operation& op : history.operations) {
        if (op.f != "send" || !op.partition || !op.key || !compacted.contains(*op.partition)) {
            continue;
        }
        Writes& writes = writes_[{*op.partition, *op.key}];
        if (op.type == OpType::ok && op.offset) {
            writes.acknowledged[*op.offset] = !op.value;
        } else if (op.type == OpType::info || (op.type == OpType::ok && !op.offset)) {
            writes.unknown_tombstone = writes.unknown_tombstone || !op.value;
        } else if (op.type == OpType::invoke) {
            pending.emplace_hint(pending.end(), op.index, &op);
        }
    }
    // Invokes that never completed have an unknown outcome too.
    for (const auto& [completion, invoke] : invoke_of) {
        pending.erase(invoke);
    }
    for (const auto& [index, op] : pending) {
        Writes& writes = writes_[{*op->partition, *op->key}];
        writes.unknown_tombstone = writes.unknown_tombstone || !op->value;
    }
}

bool KeyWrites::superseded(const LogIndex& log, Text key, std::int64_t offset) const {
    const auto latest = log.latest_offset_of_key.find(key);
    if (latest != log.latest_offset_of_key.end() && latest->second > offset) {
        return true;
    }
    const auto writes = writes_.find({log.log.partition, key});
    if (writes == writes_.end()) {
        return false;
    }
    // A later write of the key with an unknown outcome excuses it only if that write was a tombstone: a
    // value that landed would be the key's latest record, which the cleaner never removes.
    return writes->second.unknown_tombstone ||
           writes->second.acknowledged.upper_bound(offset) != writes->second.acknowledged.end();
}

std::optional<std::pair<std::int64_t, bool>> KeyWrites::latest_acknowledged(Text partition, Text key) const {
    const auto writes = writes_.find({partition, key});
    if (writes == writes_.end() || writes->second.acknowledged.empty()) {
        return std::nullopt;
    }
    const auto& [offset, tombstone] = *writes->second.acknowledged.rbegin();
    return std::pair{offset, tombstone};
}

bool KeyWrites::unknown_tombstone(Text partition, Text key) const {
    const auto writes = writes_.find({partition, key});
    return writes != writes_.end() && writes->second.unknown_tombstone;
}

std::vector<Text> KeyWrites::keys(Text partition) const {
    std::vector<Text> keys;
    for (auto it = writes_.lower_bound({partition, Text()}); it != writes_.end() && it->first.first == partition; ++it) {
        if (!it->second.acknowledged.empty()) {
            keys.push_back(it->first.second);
        }
    }
    return keys;
}

Facts::Facts(const History& checked)
    : history(checked),
      invoke_of(invoke_of_completion(checked)),
      sends(acked_sends(checked, invoke_of)),
      reads(model::reads(checked)),
      logs(committed_logs(checked)),
      key_writes(checked, invoke_of),
      timelines(consumer_timelines(checked)),
      transactions(checked, invoke_of) {
    for (const auto& [completion, invoke] : invoke_of) {
        completed_invokes.insert(invoke);
    }
    for (const Operation& op : checked.operations) {
        if (op.type == OpType::fail && op.f == "send" && op.partition && op.value) {
            failed_sends.push_back(&op);
        }
    }
}

std::vector<AckedSend> sends_placed_by_reads(const Facts& facts) {
    std::map<std::uint64_t, const Operation*> unknown;  // by invoke index
    for (const Operation& op : facts.history.operations) {
        if (op.f != "send" || !op.partition || !op.value || !op.acks) {
            continue;
        }
        if (facts.outcome_unknown(op) || (op.type == OpType::ok && !op.offset)) {
            const auto invoke = facts.invoke_of.find(op.index);
            unknown.emplace(invoke == facts.invoke_of.end() ? op.index : invoke->second, &op);
        }
    }
    // The lowest offset each of their values was read at or is held at in the committed log.
    TextPairMap<std::int64_t> lowest;
    for (const auto& [invoke_index, op] : unknown) {
        lowest.emplace(std::pair<Text, Text>{*op->partition, *op->value}, std::numeric_limits<std::int64_t>::max());
    }
    const auto note = [&lowest](Text partition, Text value, std::int64_t offset) {
        if (const auto found = lowest.find({partition, value}); found != lowest.end()) {
            found->second = std::min(found->second, offset);
        }
    };
    for (const Read& read : facts.reads) {
        note(read.partition, read.value, read.offset);
    }
    for (const auto& [partition, log] : facts.logs) {
        for (const auto& [offset, value] : log.values) {
            note(partition, value, offset);
        }
    }
    std::vector<AckedSend> placed;
    for (const auto& [invoke_index, op] : unknown) {
        const std::int64_t offset = lowest.at({*op->partition, *op->value});
        if (offset == std::numeric_limits<std::int64_t>::max()) {
            continue;  // nobody saw it
        }
        placed.push_back(AckedSend{.invoke_index = invoke_index,
                                   .index = op->index,
                                   .process = op->process,
                                   .partition = *op->partition,
                                   .value = *op->value,
                                   .acks = *op->acks,
                                   .offset = offset,
                                   .key = view(op->key),
                                   .offset_read = true,
                                   .attempts = op->attempts,
                                   .txn = view(op->txn)});
    }
    return placed;
}

bool fenced_error(const std::optional<std::string>& error) {
    if (!error) {
        return false;
    }
    std::string lower = *error;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower.find("producer_fenced") != std::string::npos ||
           lower.find("invalid_producer_epoch") != std::string::npos;
}

std::string_view to_string(TxnOutcome outcome) {
    switch (outcome) {
        case TxnOutcome::committed: return "committed";
        case TxnOutcome::aborted: return "aborted";
        case TxnOutcome::unknown: return "unknown";
    }
    return "unknown";
}

namespace {

// The completions that decide a transaction's outcome.
struct TxnEnds {
    const Operation* commit_ok = nullptr;
    const Operation* commit_fail = nullptr;
    const Operation* commit_info = nullptr;
    const Operation* abort_ok = nullptr;
};

void decide_outcome(Transaction& transaction, const TxnEnds& ends) {
    if (ends.commit_ok != nullptr) {
        transaction.outcome = TxnOutcome::committed;
        transaction.end = ends.commit_ok;
    } else if (ends.abort_ok != nullptr || ends.commit_fail != nullptr) {
        transaction.outcome = TxnOutcome::aborted;
        transaction.end = ends.abort_ok != nullptr ? ends.abort_ok : ends.commit_fail;
    } else if (transaction.commit_invoke == nullptr) {
        transaction.outcome = TxnOutcome::aborted;  // only EndTxn(commit) commits, and nobody asked for it
    } else {
        transaction.outcome = TxnOutcome::unknown;
        transaction.end = ends.commit_info;
    }
}

void note_end(const Operation& op, TxnEnds& ends) {
    const auto first = [&op](const Operation*& slot) { slot = slot == nullptr ? &op : slot; };
    if (op.f == "commit" && op.type == OpType::ok) {
        first(ends.commit_ok);
    } else if (op.f == "commit" && op.type == OpType::fail) {
        first(ends.commit_fail);
    } else if (op.f == "commit" && op.type == OpType::info) {
        first(ends.commit_info);
    } else if (op.f == "abort" && op.type == OpType::ok) {
        first(ends.abort_ok);
    }
}

}  // namespace

Transactions::Transactions(const History& history, const InvokeOf& invoke_of) {
    std::map<Text, TxnEnds> ends;
    std::map<Text, const Operation*> first_op;  // label -> its first op
    for (const Operation& op : history.operations) {
        if (!op.txn) {
            continue;
        }
        Transaction& transaction = by_label_.try_emplace(*op.txn, Transaction{.label = *op.txn, .process = op.process})
                                       .first->second;
        first_op.try_emplace(*op.txn, &op);
        if (!transaction.transactional_id && op.transactional_id) {
            transaction.transactional_id = *op.transactional_id;
        }
        if (op.f == "begin" && op.type == OpType::ok && transaction.begin == nullptr) {
            transaction.begin = &op;
        } else if (op.f == "commit" && op.type == OpType::invoke && transaction.commit_invoke == nullptr) {
            transaction.commit_invoke = &op;
        } else if (op.f == "send" && op.partition && op.value) {
            add_send(op, transaction, invoke_of);
        }
        if ((op.f == "commit" || op.f == "abort") && op.type == OpType::invoke && transaction.end_invoke == nullptr) {
            transaction.end_invoke = &op;
        }
        if (!transaction.producer_id && op.producer_id && op.producer_epoch) {
            transaction.producer_id = op.producer_id;
            transaction.producer_epoch = op.producer_epoch;
        }
        note_end(op, ends[*op.txn]);
    }
    // Transactions by transactional id, producer id and epoch.
    std::map<std::pair<Text, std::pair<std::int64_t, std::int64_t>>, std::vector<Transaction*>> by_identity;
    for (auto& [label, transaction] : by_label_) {
        decide_outcome(transaction, ends[label]);
        if (transaction.transactional_id && transaction.producer_id) {
            by_identity[{*transaction.transactional_id, {*transaction.producer_id, *transaction.producer_epoch}}]
                .push_back(&transaction);
        }
    }
    for (auto& [identity, transactions] : by_identity) {
        for (Transaction* later : transactions) {
            const Operation* began = later->begin != nullptr ? later->begin : first_op[later->label];
            for (const Transaction* earlier : transactions) {
                if (earlier == later || earlier->end_invoke == nullptr || began == nullptr ||
                    earlier->end_invoke->index >= began->index) {
                    continue;
                }
                later->after_same_epoch_commit = later->after_same_epoch_commit || earlier->commit_invoke != nullptr;
                later->after_same_epoch_abort = later->after_same_epoch_abort || earlier->end_invoke->f == "abort" ||
                                                earlier->outcome != TxnOutcome::committed;
            }
        }
    }
}

void Transactions::add_send(const Operation& op, const Transaction& transaction, const InvokeOf& invoke_of) {
    const std::pair<Text, Text> key{*op.partition, *op.value};
    const auto known = send_index_.find(key);
    if (op.type != OpType::invoke && known != send_index_.end()) {
        TxnSend& send = sends_[known->second];
        const auto invoke = invoke_of.find(op.index);
        if (send.completion == nullptr && invoke != invoke_of.end() && invoke->second == send.invoke->index) {
            send.completion = &op;
        }
        return;
    }
    if (known != send_index_.end()) {
        return;  // values are unique: a second invoke of one value is a retry the checkers need not tell apart
    }
    send_index_.emplace(key, sends_.size());
    sends_.push_back(TxnSend{.transaction = &transaction,
                             .partition = *op.partition,
                             .value = *op.value,
                             .invoke = &op,
                             .completion = op.type == OpType::invoke ? nullptr : &op});
}

const TxnSend* Transactions::send_of(Text partition, Text value) const {
    const auto found = send_index_.find({partition, value});
    return found == send_index_.end() ? nullptr : &sends_[found->second];
}

TxnOutcome Transactions::outcome(Text label) const {
    const auto found = by_label_.find(label);
    return found == by_label_.end() ? TxnOutcome::aborted : found->second.outcome;
}

namespace {

// A marker batch holds one record; the bound keeps a corrupt header from filling memory.
constexpr std::int64_t control_batch_records_max = 1000;

void add_range(OffsetSet& offsets, std::int64_t from, std::int64_t last) {
    const std::int64_t to = last - from < control_batch_records_max ? last : from + control_batch_records_max - 1;
    for (std::int64_t offset = from; offset <= to; ++offset) {
        offsets.push_back(offset);
    }
}

void sort_unique(std::map<Text, OffsetSet>& sets) {
    for (auto& [partition, offsets] : sets) {
        std::sort(offsets.begin(), offsets.end());
        offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());
    }
}

}  // namespace

HiddenOffsets hidden_offsets(const Facts& facts) {
    HiddenOffsets hidden;
    for (const auto& [partition, log] : facts.logs) {
        for (const BatchHeader& batch : committed_replica(facts.history, partition)->batches) {
            if (batch.control && batch.last_offset < log.log.high_watermark && batch.base_offset <= batch.last_offset) {
                add_range(hidden.control[partition], batch.base_offset, batch.last_offset);
            }
        }
    }
    const auto uncommitted = [&facts](Text partition, Text value) {
        const TxnSend* send = facts.transactions.send_of(partition, value);
        return send != nullptr && send->transaction->outcome != TxnOutcome::committed;
    };
    for (const TxnSend& send : facts.transactions.sends()) {
        if (send.transaction->outcome == TxnOutcome::committed) {
            continue;
        }
        OffsetSet& offsets = hidden.invisible_to_read_committed[send.partition];
        if (send.completion != nullptr && send.completion->type == OpType::ok && send.completion->offset) {
            offsets.push_back(*send.completion->offset);
        }
        if (const auto log = facts.logs.find(send.partition); log != facts.logs.end()) {
            if (const auto held = log->second.offsets_of.find(send.value); held != log->second.offsets_of.end()) {
                offsets.insert(offsets.end(), held->second.begin(), held->second.end());
            }
        }
    }
    for (const Read& read : facts.reads) {
        if (uncommitted(read.partition, read.value)) {
            hidden.invisible_to_read_committed[read.partition].push_back(read.offset);
        }
    }
    sort_unique(hidden.control);
    sort_unique(hidden.invisible_to_read_committed);
    return hidden;
}

}  // namespace eosim::model
