// Consumer-group checkers (docs/anomalies.md): eos-output-mismatch for the consume-transform-produce loop.

#include "model/groups.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "model/observations.h"

namespace eosim::model {
namespace {

using Json = nlohmann::json;

constexpr std::size_t shown_max = 5;
constexpr std::size_t evidence_max = 100;

// XXH64 (libxxhash, header-only here): the number of outputs must not depend on std::hash, whose values
// are unspecified.
std::uint64_t hash_of(std::string_view text) {
    return XXH64(text.data(), text.size(), 0);
}

std::string_view unpadded(std::string_view value) {
    const std::size_t end = value.find_last_not_of('.');
    return end == std::string_view::npos ? std::string_view() : value.substr(0, end + 1);
}

std::string input_name(const std::string& partition, std::int64_t offset) {
    return fmt::format("{}@{}", partition, offset);
}

std::string listed(const std::vector<std::string>& items) {
    std::string text;
    for (std::size_t i = 0; i < items.size() && i < shown_max; ++i) {
        text += (i == 0 ? "" : ", ") + items[i];
    }
    if (items.size() > shown_max) {
        text += fmt::format(" and {} more", items.size() - shown_max);
    }
    return text;
}

Json capped(const std::vector<std::string>& items) {
    Json out = Json::array();
    for (std::size_t i = 0; i < items.size() && i < evidence_max; ++i) {
        out.push_back(items[i]);
    }
    return out;
}

}  // namespace

std::vector<CtpOutput> ctp_outputs(std::string_view partition, std::int64_t offset, std::string_view value) {
    const std::string_view input = unpadded(value);
    const std::int64_t count = 1 + static_cast<std::int64_t>(hash_of(input) % 3);
    std::vector<CtpOutput> outputs;
    for (std::int64_t j = 0; j < count; ++j) {
        outputs.push_back(CtpOutput{fmt::format("{}@{}#{}", partition, offset, j),
                                    fmt::format("{}@{}#{}/{}:{}", partition, offset, j, count, input)});
    }
    return outputs;
}

std::optional<CtpSource> ctp_source(std::string_view output_value) {
    const std::size_t at = output_value.rfind('@', output_value.find(':'));
    const std::size_t hash = output_value.find('#', at == std::string_view::npos ? 0 : at);
    const std::size_t slash = output_value.find('/', hash == std::string_view::npos ? 0 : hash);
    const std::size_t colon = output_value.find(':', slash == std::string_view::npos ? 0 : slash);
    if (at == std::string_view::npos || hash == std::string_view::npos || slash == std::string_view::npos ||
        colon == std::string_view::npos) {
        return std::nullopt;
    }
    try {
        return CtpSource{std::string(output_value.substr(0, at)),
                         std::stoll(std::string(output_value.substr(at + 1, hash - at - 1))),
                         std::stoll(std::string(output_value.substr(hash + 1, slash - hash - 1))),
                         std::stoll(std::string(output_value.substr(slash + 1, colon - slash - 1)))};
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// The committed output must be exactly f of the committed input: for every input partition, each record
// below the group's final committed offset processed once (all its outputs present, once each), nothing
// processed at or past it, and, in every output partition, the outputs of one input partition in input
// order. The output is what read_committed consumers read (after quiescence they read every output
// partition to its end).
std::vector<Anomaly> check_eos_output(const History& history) {
    std::vector<Anomaly> found;
    const Operation* final_line = nullptr;
    for (const Operation& op : history.operations) {
        if (op.f == "stuck") {
            return found;  // the output was not read to its end: stuck says what went wrong
        }
        if (op.f == "ctp-final" && op.type == OpType::ok && op.offsets && op.partitions) {
            final_line = &op;
        }
    }
    if (final_line == nullptr) {
        return found;
    }
    const std::set<std::string> outputs(final_line->partitions->begin(), final_line->partitions->end());
    // The committed output: every (partition, offset) a read_committed poll returned.
    std::map<std::string, std::map<std::int64_t, std::string>> output;
    for (const Operation& op : history.operations) {
        if (op.f != "poll" || op.type != OpType::ok || !op.records || op.isolation != "read_committed" ||
            !op.partition || !outputs.contains(*op.partition)) {
            continue;
        }
        for (const Record& record : *op.records) {
            const std::string value = record.value.value_or("");
            output[*op.partition].emplace(record.offset, value.substr(0, value.rfind('|')));  // the attempt's tag goes
        }
    }
    // How often each output value is in the output, and the order per output partition.
    std::map<std::string, int> seen;
    std::map<std::string, std::vector<std::string>> out_of_order;  // input partition -> descriptions
    for (const auto& [partition, records] : output) {
        std::map<std::string, std::int64_t> last_input;  // input partition -> last input offset seen
        for (const auto& [offset, value] : records) {
            ++seen[value];
            const std::optional<CtpSource> source = ctp_source(value);
            if (!source) {
                continue;
            }
            const auto [last, first] = last_input.try_emplace(source->partition, source->offset);
            if (!first && source->offset < last->second) {
                out_of_order[source->partition].push_back(
                    fmt::format("{}@{} ({} after {}@{})", partition, offset, input_name(source->partition, source->offset),
                                source->partition, last->second));
            }
            last->second = std::max(last->second, source->offset);
        }
    }
    std::set<std::string> expected_values;
    for (const auto& [input, committed_offset] : *final_line->offsets) {
        const std::int64_t committed = std::max<std::int64_t>(committed_offset, 0);
        const ReplicaState* replica = committed_replica(history, input);
        std::vector<std::string> lost;
        std::vector<std::string> duplicated;
        std::vector<std::string> beyond;
        if (replica != nullptr) {
            for (const Record& record : replica->records) {
                if (record.offset >= committed || !record.value) {
                    continue;
                }
                bool missing = false;
                bool twice = false;
                for (const CtpOutput& out : ctp_outputs(input, record.offset, *record.value)) {
                    expected_values.insert(out.value);
                    const auto count = seen.find(out.value);
                    missing = missing || count == seen.end();
                    twice = twice || (count != seen.end() && count->second > 1);
                }
                if (missing) {
                    lost.push_back(input_name(input, record.offset));
                }
                if (twice) {
                    duplicated.push_back(input_name(input, record.offset));
                }
            }
        }
        // Output of input at or past the committed offset, or that is not f of any input record.
        std::set<std::int64_t> beyond_offsets;
        for (const auto& [value, count] : seen) {
            const std::optional<CtpSource> source = ctp_source(value);
            if (source && source->partition == input && !expected_values.contains(value)) {
                beyond_offsets.insert(source->offset);
            }
        }
        for (const std::int64_t offset : beyond_offsets) {
            beyond.push_back(input_name(input, offset));
        }
        const std::vector<std::string>& disorder = out_of_order[input];
        if (lost.empty() && duplicated.empty() && beyond.empty() && disorder.empty()) {
            continue;
        }
        std::string what;
        const auto add = [&what](const std::vector<std::string>& items, const char* label) {
            if (!items.empty()) {
                what += fmt::format("{}{} {}: {}", what.empty() ? "" : "; ", items.size(), label, listed(items));
            }
        };
        add(lost, "input records below the committed offset missing from the output (lost processing)");
        add(duplicated, "input records processed more than once (duplicate processing)");
        add(beyond, "input records at or past the committed offset, or not in the input log, with committed output");
        add(disorder, "outputs out of input order");
        found.push_back(Anomaly{
            .name = "eos-output-mismatch",
            .partition = input,
            .description = fmt::format("the committed output of {} is not f of its input below the group's final "
                                       "committed offset {}: {}",
                                       input, committed, what),
            .evidence = {{"input_partition", input},
                         {"committed_offset", committed},
                         {"lost", capped(lost)},
                         {"duplicated", capped(duplicated)},
                         {"beyond_committed", capped(beyond)},
                         {"out_of_order", capped(disorder)}},
        });
    }
    return found;
}

namespace {

// A commit that took effect for certain: its group, member, generation, offsets, when it was sent and
// when it took effect (the commit-offsets completion, or its transaction's commit completion).
struct Commit {
    const Operation* op = nullptr;  // the commit-offsets or send-offsets completion
    std::string group;
    std::string member;
    std::int64_t generation = -1;
    std::int64_t sent = 0;       // the commit-offsets or send-offsets invoke
    std::int64_t took_from = 0;  // it took effect in [took_from, took_by]: the commit's invoke ...
    std::int64_t took_by = 0;    // ... and its ok completion
    std::uint64_t effective_index = 0;
};

std::vector<Commit> effective_commits(const History& history) {
    std::map<std::string, const Operation*> committed_txns;  // label -> its commit's ok completion
    std::map<std::string, std::int64_t> commit_invoked;      // label -> its first commit invoke
    std::map<std::uint64_t, std::int64_t> invoke_time;       // completion index -> its invoke's time
    std::map<std::pair<std::string, std::string>, std::int64_t> open_invokes;  // (process, f) -> time
    for (const Operation& op : history.operations) {
        if (op.f == "commit" && op.type == OpType::ok && op.txn) {
            committed_txns.emplace(*op.txn, &op);
        }
        if (op.f == "commit" && op.type == OpType::invoke && op.txn) {
            commit_invoked.emplace(*op.txn, op.time);
        }
        if (op.f == "commit-offsets" || op.f == "send-offsets") {
            const auto key = std::make_pair(op.process, op.f);
            if (op.type == OpType::invoke) {
                open_invokes[key] = op.time;
            } else if (const auto found = open_invokes.find(key); found != open_invokes.end()) {
                invoke_time[op.index] = found->second;
                open_invokes.erase(found);
            }
        }
    }
    std::vector<Commit> commits;
    for (const Operation& op : history.operations) {
        if (op.type != OpType::ok || !op.group || !op.offsets || (op.f != "commit-offsets" && op.f != "send-offsets")) {
            continue;
        }
        Commit commit{.op = &op, .group = *op.group, .member = op.member_id.value_or(""),
                      .generation = op.generation.value_or(-1), .sent = op.time, .took_from = op.time,
                      .took_by = op.time, .effective_index = op.index};
        if (const auto sent = invoke_time.find(op.index); sent != invoke_time.end()) {
            commit.sent = sent->second;
            commit.took_from = sent->second;
        }
        if (op.f == "send-offsets") {
            const auto txn = op.txn ? committed_txns.find(*op.txn) : committed_txns.end();
            if (txn == committed_txns.end()) {
                continue;  // its transaction did not commit for certain
            }
            commit.took_from = commit_invoked.contains(*op.txn) ? commit_invoked.at(*op.txn) : op.time;
            commit.took_by = txn->second->time;
            commit.effective_index = txn->second->index;
        }
        commits.push_back(commit);
    }
    std::sort(commits.begin(), commits.end(),
              [](const Commit& a, const Commit& b) { return a.effective_index < b.effective_index; });
    return commits;
}

// An assignment: who got which partitions in which generation, and when it learned it.
struct Assigned {
    const Operation* op = nullptr;
    std::string member;
    std::int64_t generation = -1;
};

std::map<std::pair<std::string, std::string>, std::vector<Assigned>> assignments_by_partition(const History& history) {
    std::map<std::pair<std::string, std::string>, std::vector<Assigned>> out;  // (group, partition) -> ...
    for (const Operation& op : history.operations) {
        if (op.f != "assigned" || op.type != OpType::ok || !op.group || !op.partitions || !op.generation) {
            continue;
        }
        for (const std::string& partition : *op.partitions) {
            out[{*op.group, partition}].push_back(Assigned{&op, op.member_id.value_or(""), *op.generation});
        }
    }
    return out;
}

}  // namespace

std::vector<Anomaly> check_split_ownership(const History& history) {
    std::vector<Anomaly> found;
    for (const auto& [where, assigned] : assignments_by_partition(history)) {
        std::map<std::int64_t, std::vector<const Assigned*>> by_generation;
        for (const Assigned& one : assigned) {
            by_generation[one.generation].push_back(&one);
        }
        for (const auto& [generation, owners] : by_generation) {
            std::set<std::string> members;
            for (const Assigned* owner : owners) {
                members.insert(owner->member);
            }
            if (members.size() < 2) {
                continue;
            }
            Json ops = Json::array();
            for (const Assigned* owner : owners) {
                ops.push_back({{"index", owner->op->index}, {"process", owner->op->process}, {"member_id", owner->member}});
            }
            found.push_back(Anomaly{
                .name = "split-ownership",
                .partition = where.second,
                .description = fmt::format("generation {} of group {} assigned {} to {} members: {}", generation,
                                           where.first, where.second, members.size(),
                                           listed(std::vector<std::string>(members.begin(), members.end()))),
                .evidence = {{"group", where.first}, {"generation", generation}, {"assigned", ops}},
            });
        }
    }
    return found;
}

std::vector<Anomaly> check_nonmonotonic_commits(const History& history) {
    // A commit B went backwards only if a commit A of a higher offset had certainly taken effect (completed)
    // before B could (B's commit was invoked): commits whose windows overlap may have taken effect in
    // either order.
    std::vector<Anomaly> found;
    std::map<std::pair<std::string, std::string>, std::vector<std::pair<const Commit*, std::int64_t>>> by_partition;
    const std::vector<Commit> commits = effective_commits(history);
    for (const Commit& commit : commits) {
        for (const auto& [partition, offset] : *commit.op->offsets) {
            by_partition[{commit.group, partition}].emplace_back(&commit, offset);
        }
    }
    for (const auto& [key, list] : by_partition) {
        for (const auto& [later, offset] : list) {
            const auto earlier = std::find_if(list.begin(), list.end(), [&](const auto& candidate) {
                return candidate.first->took_by < later->took_from && candidate.second > offset;
            });
            if (earlier == list.end()) {
                continue;
            }
            const Commit& before = *earlier->first;
            found.push_back(Anomaly{
                .name = "nonmonotonic-commit",
                .partition = key.second,
                .description = fmt::format("group {} committed {} for {} (op {}, {}, generation {}) after it had "
                                           "committed {} (op {}, {}, generation {})",
                                           key.first, offset, key.second, later->op->index, later->op->process,
                                           later->generation, earlier->second, before.op->index, before.op->process,
                                           before.generation),
                .evidence = {{"group", key.first},
                             {"offset", offset},
                             {"index", later->op->index},
                             {"previous_offset", earlier->second},
                             {"previous_index", before.op->index}},
            });
            break;  // one anomaly per group and partition
        }
    }
    return found;
}

std::vector<Anomaly> check_zombie_commits(const History& history) {
    std::vector<Anomaly> found;
    const auto assignments = assignments_by_partition(history);
    for (const Commit& commit : effective_commits(history)) {
        if (commit.generation < 0) {
            continue;  // a commit from outside the group's management: no generation to be fenced by
        }
        for (const auto& [partition, offset] : *commit.op->offsets) {
            const auto assigned = assignments.find({commit.group, partition});
            if (assigned == assignments.end()) {
                continue;
            }
            const auto newer = std::find_if(assigned->second.begin(), assigned->second.end(), [&](const Assigned& a) {
                return a.generation > commit.generation && a.member != commit.member && a.op->time < commit.sent;
            });
            if (newer == assigned->second.end()) {
                continue;
            }
            found.push_back(Anomaly{
                .name = "zombie-commit",
                .partition = partition,
                .description = fmt::format("{} (op {}, {}) committed {} for {} in generation {} of group {}, though "
                                           "generation {} had given {} to {} (op {}) before the commit was sent",
                                           commit.op->f, commit.op->index, commit.op->process, offset, partition,
                                           commit.generation, commit.group, newer->generation, partition,
                                           newer->op->process, newer->op->index),
                .evidence = {{"group", commit.group},
                             {"index", commit.op->index},
                             {"generation", commit.generation},
                             {"member_id", commit.member},
                             {"offset", offset},
                             {"newer_generation", newer->generation},
                             {"newer_assigned_index", newer->op->index}},
            });
            break;
        }
    }
    return found;
}

namespace {

// Per group: its processes (those with an "assigned"), and per partition the offsets they polled (with how
// often).
std::map<std::string, std::map<std::string, std::map<std::int64_t, int>>> group_deliveries(const History& history) {
    std::map<std::string, std::string> group_of_process;
    for (const Operation& op : history.operations) {
        if (op.f == "assigned" && op.group) {
            group_of_process.emplace(op.process, *op.group);
        }
    }
    std::map<std::string, std::map<std::string, std::map<std::int64_t, int>>> out;
    for (const Operation& op : history.operations) {
        if (op.f != "poll" || op.type != OpType::ok || !op.records || !op.partition) {
            continue;
        }
        const auto group = group_of_process.find(op.process);
        if (group == group_of_process.end()) {
            continue;
        }
        for (const Record& record : *op.records) {
            ++out[group->second][*op.partition][record.offset];
        }
    }
    return out;
}

}  // namespace

std::vector<Anomaly> check_skipped_deliveries(const History& history) {
    std::vector<Anomaly> found;
    const auto deliveries = group_deliveries(history);
    for (const Operation& op : history.operations) {
        if (op.f != "group-final" || op.type != OpType::ok || !op.group || !op.offsets) {
            continue;
        }
        const auto group = deliveries.find(*op.group);
        for (const auto& [partition, committed] : *op.offsets) {
            const ReplicaState* replica = committed_replica(history, partition);
            if (replica == nullptr) {
                continue;
            }
            std::vector<std::string> skipped;
            for (const Record& record : replica->records) {
                if (record.offset >= committed) {
                    break;
                }
                if (record.offset < replica->log_start_offset) {
                    continue;  // removed on purpose (illegal-removal checks the purpose): nobody can read it
                }
                const bool delivered = group != deliveries.end() && group->second.contains(partition) &&
                                       group->second.at(partition).contains(record.offset);
                if (!delivered) {
                    skipped.push_back(fmt::format("{}@{}", partition, record.offset));
                }
            }
            if (skipped.empty()) {
                continue;
            }
            found.push_back(Anomaly{
                .name = "skipped-delivery",
                .partition = partition,
                .description = fmt::format("{} records of {} below group {}'s final committed offset {} were never "
                                           "polled by a member: {}",
                                           skipped.size(), partition, *op.group, committed, listed(skipped)),
                .evidence = {{"group", *op.group}, {"committed_offset", committed}, {"skipped", capped(skipped)}},
            });
        }
    }
    return found;
}

std::map<std::string, std::int64_t> count_redeliveries(const History& history) {
    std::map<std::string, std::int64_t> counts;
    for (const auto& [group, partitions] : group_deliveries(history)) {
        std::int64_t extra = 0;
        for (const auto& [partition, offsets] : partitions) {
            for (const auto& [offset, times] : offsets) {
                extra += times - 1;
            }
        }
        counts[group] = extra;
    }
    return counts;
}

}  // namespace eosim::model
