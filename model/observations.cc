#include "model/observations.h"

namespace eosim::model {
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

// Completion index -> invoke index: each completion takes the earliest pending invoke of its process with the
// same f (and the same partition and value where both have one), so pipelined sends pair up correctly.
std::map<std::uint64_t, std::uint64_t> invoke_of_completion(const History& history) {
    std::map<std::string, std::vector<const Operation*>> pending_by_process;
    std::map<std::uint64_t, std::uint64_t> invoke_of;
    for (const Operation& op : history.operations) {
        std::vector<const Operation*>& pending = pending_by_process[op.process];
        if (op.type == OpType::invoke) {
            pending.push_back(&op);
            continue;
        }
        for (auto it = pending.begin(); it != pending.end(); ++it) {
            if (completes(**it, op)) {
                invoke_of[op.index] = (*it)->index;
                pending.erase(it);
                break;
            }
        }
    }
    return invoke_of;
}

LogIndex index_log(CommittedLog log) {
    LogIndex index;
    for (const Record& record : log.records) {
        index.offsets.insert(record.offset);
        if (record.key) {
            std::int64_t& latest = index.latest_offset_of_key.try_emplace(*record.key, record.offset).first->second;
            latest = std::max(latest, record.offset);
        }
        if (record.value) {
            index.values_at[record.offset].push_back(*record.value);
            index.offsets_of[*record.value].insert(record.offset);
        }
    }
    index.log = std::move(log);
    return index;
}

}  // namespace

std::vector<AckedSend> acked_sends(const History& history) {
    const std::map<std::uint64_t, std::uint64_t> invoke_of = invoke_of_completion(history);
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
                                  .key = op.key});
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
                                     .key = record.key});
        }
    }
    return all_reads;
}

bool LogIndex::holds(std::int64_t offset, const std::string& value) const {
    const auto values = values_at.find(offset);
    if (values == values_at.end()) {
        return false;
    }
    for (const std::string& held : values->second) {
        if (held == value) {
            return true;
        }
    }
    return false;
}

const std::string* LogIndex::first_value_at(std::int64_t offset) const {
    const auto values = values_at.find(offset);
    return values == values_at.end() ? nullptr : &values->second.front();
}

std::map<std::string, LogIndex> committed_logs(const History& history) {
    std::set<std::string> partitions;
    for (const ReplicaState& replica : history.replicas) {
        partitions.insert(replica.partition);
    }
    std::map<std::string, LogIndex> logs;
    for (const std::string& partition : partitions) {
        logs.emplace(partition, index_log(*committed_log(history, partition)));
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

std::map<std::string, std::set<std::int64_t>> known_offsets(const std::map<std::string, LogIndex>& logs,
                                                            const std::vector<Read>& all_reads) {
    std::map<std::string, std::set<std::int64_t>> offsets;
    for (const auto& [partition, log] : logs) {
        offsets[partition].insert(log.offsets.begin(), log.offsets.end());
    }
    for (const Read& read : all_reads) {
        const auto log = logs.find(read.partition);
        if (log != logs.end() && log->second.log.compacted) {
            continue;  // compaction may since have removed what was read: only the log says what exists
        }
        offsets[read.partition].insert(read.offset);
    }
    return offsets;
}

KeyWrites::KeyWrites(const History& history) {
    std::map<std::uint64_t, const Operation*> pending;  // invokes of keyed sends without a completion yet
    for (const Operation& op : history.operations) {
        if (op.f != "send" || !op.partition || !op.key) {
            continue;
        }
        Writes& writes = writes_[{*op.partition, *op.key}];
        if (op.type == OpType::ok && op.offset) {
            writes.acknowledged[*op.offset] = !op.value;
        } else if (op.type == OpType::info || (op.type == OpType::ok && !op.offset)) {
            writes.unknown = true;
            writes.unknown_tombstone = writes.unknown_tombstone || !op.value;
        } else if (op.type == OpType::invoke) {
            pending[op.index] = &op;
        }
    }
    // Invokes that never completed have an unknown outcome too.
    for (const auto& [completion, invoke] : invoke_of_completion(history)) {
        pending.erase(invoke);
    }
    for (const auto& [index, op] : pending) {
        Writes& writes = writes_[{*op->partition, *op->key}];
        writes.unknown = true;
        writes.unknown_tombstone = writes.unknown_tombstone || !op->value;
    }
}

bool KeyWrites::superseded(const LogIndex& log, const std::string& key, std::int64_t offset) const {
    const auto latest = log.latest_offset_of_key.find(key);
    if (latest != log.latest_offset_of_key.end() && latest->second > offset) {
        return true;
    }
    const auto writes = writes_.find({log.log.partition, key});
    if (writes == writes_.end()) {
        return false;
    }
    return writes->second.unknown || writes->second.acknowledged.upper_bound(offset) != writes->second.acknowledged.end();
}

std::optional<std::pair<std::int64_t, bool>> KeyWrites::latest_acknowledged(const std::string& partition,
                                                                            const std::string& key) const {
    const auto writes = writes_.find({partition, key});
    if (writes == writes_.end() || writes->second.acknowledged.empty()) {
        return std::nullopt;
    }
    const auto& [offset, tombstone] = *writes->second.acknowledged.rbegin();
    return std::pair{offset, tombstone};
}

bool KeyWrites::unknown_tombstone(const std::string& partition, const std::string& key) const {
    const auto writes = writes_.find({partition, key});
    return writes != writes_.end() && writes->second.unknown_tombstone;
}

std::vector<std::string> KeyWrites::keys(const std::string& partition) const {
    std::vector<std::string> keys;
    for (const auto& [where, writes] : writes_) {
        if (where.first == partition && !writes.acknowledged.empty()) {
            keys.push_back(where.second);
        }
    }
    return keys;
}

}  // namespace eosim::model
