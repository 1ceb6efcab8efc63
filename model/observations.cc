#include "model/observations.h"

namespace eosim::model {
namespace {

bool fields_match(const std::optional<std::string>& a, const std::optional<std::string>& b) {
    return !a || !b || *a == *b;
}

bool completes(const Operation& invoke, const Operation& completion) {
    return invoke.f == completion.f && fields_match(invoke.partition, completion.partition) &&
           fields_match(invoke.value, completion.value);
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
        index.values_at[record.offset].push_back(record.value);
        index.offsets_of[record.value].insert(record.offset);
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
                                  .offset = op.offset});
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
            all_reads.push_back(Read{.index = op.index,
                                     .process = op.process,
                                     .partition = *op.partition,
                                     .offset = record.offset,
                                     .value = record.value});
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
        for (const auto& [offset, values] : log.values_at) {
            offsets[partition].insert(offset);
        }
    }
    for (const Read& read : all_reads) {
        offsets[read.partition].insert(read.offset);
    }
    return offsets;
}

}  // namespace eosim::model
