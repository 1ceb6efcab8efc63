#include "model/streams.h"

#include <algorithm>
#include <set>
#include <sstream>

#include <fmt/format.h>

namespace eosim::model {

namespace {

// "lines-3" -> ("lines", 3).
std::pair<std::string, std::int32_t> split_partition(std::string_view name) {
    const std::size_t dash = name.rfind('-');
    if (dash == std::string_view::npos) {
        return {std::string(name), -1};
    }
    std::int32_t partition = -1;
    try {
        partition = std::stoi(std::string(name.substr(dash + 1)));
    } catch (const std::exception&) {
        return {std::string(name), -1};
    }
    return {std::string(name.substr(0, dash)), partition};
}

std::string show(const std::vector<std::optional<std::string>>& values, std::size_t shown_max = 6) {
    std::string text;
    for (std::size_t i = 0; i < values.size() && i < shown_max; ++i) {
        text += (i == 0 ? "" : ",") + values[i].value_or("null");
    }
    if (values.size() > shown_max) {
        text += fmt::format(",... ({} in all)", values.size());
    }
    return "[" + text + "]";
}

// How an actual sequence departs from the expected one: values it repeats (duplicate processing) and
// values it lacks (lost processing), counted as multisets.
std::pair<std::vector<std::string>, std::vector<std::string>> differences(const std::vector<std::optional<std::string>>& expected,
                                                                           const std::vector<std::optional<std::string>>& actual) {
    std::map<std::string, int> balance;
    for (const auto& value : expected) {
        ++balance[value.value_or("null")];
    }
    for (const auto& value : actual) {
        --balance[value.value_or("null")];
    }
    std::vector<std::string> extra;
    std::vector<std::string> missing;
    for (const auto& [value, count] : balance) {
        for (int i = 0; i < -count; ++i) {
            extra.push_back(value);
        }
        for (int i = 0; i < count; ++i) {
            missing.push_back(value);
        }
    }
    return {extra, missing};
}

// A table's updates of one key: as many as the oracle's, none repeated, ending at the oracle's value (the
// order in between is left open).
bool same_table(const std::vector<std::optional<std::string>>& expected, const std::vector<std::optional<std::string>>& actual) {
    if (expected.size() != actual.size() || (!expected.empty() && expected.back() != actual.back())) {
        return false;
    }
    const std::set<std::optional<std::string>> distinct(actual.begin(), actual.end());
    return distinct.size() == actual.size();
}

const char* table_kind(const std::vector<std::optional<std::string>>& expected, const std::vector<std::optional<std::string>>& actual) {
    const std::set<std::optional<std::string>> distinct(actual.begin(), actual.end());
    if (actual.size() > expected.size() || distinct.size() < actual.size()) {
        return "duplicate processing";
    }
    if (actual.size() < expected.size()) {
        return "lost processing";
    }
    return "wrong values";
}

// The rows where `actual` departs from `expected`: "key: actual (<whose> expected)".
std::vector<std::string> row_differences(const std::map<std::string, std::string>& expected,
                                         const std::map<std::string, std::string>& actual, std::string_view whose) {
    std::vector<std::string> wrong;
    if (expected == actual) {
        return wrong;
    }
    std::set<std::string> keys;
    for (const auto& [key, value] : expected) {
        keys.insert(key);
    }
    for (const auto& [key, value] : actual) {
        keys.insert(key);
    }
    for (const std::string& key : keys) {
        const auto want = expected.find(key);
        const auto have = actual.find(key);
        const std::string want_text = want != expected.end() ? want->second : "(none)";
        const std::string have_text = have != actual.end() ? have->second : "(none)";
        if (want_text != have_text) {
            wrong.push_back(fmt::format("{}: {} ({} {})", key, have_text, whose, want_text));
        }
    }
    return wrong;
}

}  // namespace

std::optional<std::vector<const Record*>> read_committed_records(const ReplicaState& replica) {
    if (replica.batches.empty() && !replica.records.empty()) {
        return std::nullopt;
    }
    std::set<std::int64_t> visible;
    std::map<std::int64_t, std::vector<std::pair<std::int64_t, std::int64_t>>> open;  // producer -> its ranges
    for (const BatchHeader& batch : replica.batches) {
        if (batch.control) {
            if (!batch.marker) {
                return std::nullopt;
            }
            if (*batch.marker == "commit") {
                for (const auto& [first, last] : open[batch.producer_id]) {
                    for (std::int64_t offset = first; offset <= last; ++offset) {
                        visible.insert(offset);
                    }
                }
            }
            open.erase(batch.producer_id);
        } else if (batch.transactional) {
            open[batch.producer_id].emplace_back(batch.base_offset, batch.last_offset);
        } else {
            for (std::int64_t offset = batch.base_offset; offset <= batch.last_offset; ++offset) {
                visible.insert(offset);
            }
        }
    }
    std::vector<const Record*> records;
    for (const Record& record : replica.records) {
        if (record.offset < replica.high_watermark && visible.contains(record.offset)) {
            records.push_back(&record);
        }
    }
    return records;
}

namespace {

// Applies `records` to `rows` in order: the last value per key, a tombstone deleting it (keyless ones are skipped).
void fold_into(std::map<std::string, std::string>& rows, const std::vector<const Record*>& records) {
    for (const Record* record : records) {
        if (!record->key) {
            continue;
        }
        if (record->value) {
            rows[*record->key] = *record->value;
        } else {
            rows.erase(*record->key);
        }
    }
}

// Every partition of `topic` (`<topic>-<n>`) folded from its committed replica: the last committed value per
// key, a tombstone deleting it. Nothing when the history holds no replica of it or cannot tell commits.
std::optional<std::map<std::string, std::string>> fold_changelog(const History& history, const std::string& topic) {
    std::set<std::string> partitions;
    for (const ReplicaState& replica : history.replicas) {
        if (split_partition(replica.partition).first == topic) {
            partitions.insert(replica.partition);
        }
    }
    if (partitions.empty()) {
        return std::nullopt;
    }
    std::map<std::string, std::string> rows;
    for (const std::string& partition : partitions) {
        const ReplicaState* replica = committed_replica(history, partition);
        if (replica == nullptr) {
            return std::nullopt;
        }
        const std::optional<std::vector<const Record*>> records = read_committed_records(*replica);
        if (!records) {
            return std::nullopt;
        }
        fold_into(rows, *records);
    }
    return rows;
}

// One changelog partition's committed records below `below`, folded; none when the history lacks the
// partition's bytes, or when committed records lie at or past `below` (a reader not caught up: what it
// loaded from its own files may be ahead of where it reads, so only the whole fold judges it).
std::optional<std::map<std::string, std::string>> fold_caught_up(const History& history, const std::string& partition,
                                                                  std::int64_t below) {
    const ReplicaState* replica = committed_replica(history, partition);
    if (replica == nullptr) {
        return std::nullopt;
    }
    const std::optional<std::vector<const Record*>> records = read_committed_records(*replica);
    if (!records || (!records->empty() && records->back()->offset >= below)) {
        return std::nullopt;
    }
    std::map<std::string, std::string> rows;
    fold_into(rows, *records);
    return rows;
}

const Operation* final_line(const History& history) {
    const Operation* found = nullptr;
    for (const Operation& op : history.operations) {
        if (op.f == "stuck") {
            return nullptr;  // not quiescent: stuck says what went wrong
        }
        if (op.f == "stream-final" && op.type == OpType::ok && op.value && op.offsets) {
            found = &op;
        }
    }
    return found;
}

std::optional<StreamExpectation> expectation(const History& history, const Operation& final) {
    const StreamAppInfo* app = find_stream_app(*final.value);
    if (app == nullptr) {
        return std::nullopt;
    }
    std::map<std::string, std::map<std::int32_t, std::vector<StreamInputRecord>>> inputs;
    for (const auto& [name, committed] : *final.offsets) {
        const auto [topic, partition] = split_partition(name);
        if (std::find(app->inputs.begin(), app->inputs.end(), topic) == app->inputs.end()) {
            continue;  // a repartition topic: internal, not input
        }
        std::vector<StreamInputRecord>& records = inputs[topic][partition];
        if (const ReplicaState* replica = committed_replica(history, name)) {
            for (const Record& record : replica->records) {
                if (record.offset < committed) {
                    records.push_back(StreamInputRecord{record.key, record.value, record.timestamp.value_or(0)});
                }
            }
        }
    }
    return run_stream_oracle(app->name, inputs);
}

// The run's `stream-final` line and the oracle's expectation for it (none: nothing to judge).
std::optional<std::pair<const Operation*, StreamExpectation>> judge(const History& history) {
    const Operation* final = final_line(history);
    if (final == nullptr) {
        return std::nullopt;
    }
    std::optional<StreamExpectation> expected = expectation(history, *final);
    if (!expected) {
        return std::nullopt;
    }
    return std::make_pair(final, std::move(*expected));
}

}  // namespace

std::vector<Anomaly> check_stream_output(const History& history) {
    std::vector<Anomaly> found;
    const auto judged = judge(history);
    if (!judged) {
        return found;
    }
    const auto& [final, expected] = *judged;
    // The committed output: every (partition, offset) a read_committed poll returned, per topic and key.
    std::map<std::string, std::map<std::int64_t, Record>> read;  // partition -> offset -> record
    for (const Operation& op : history.operations) {
        if (op.f != "poll" || op.type != OpType::ok || !op.records || op.isolation != "read_committed" || !op.partition) {
            continue;
        }
        if (!expected.outputs.contains(split_partition(*op.partition).first)) {
            continue;
        }
        for (const Record& record : *op.records) {
            read[*op.partition].emplace(record.offset, record);
        }
    }
    std::map<std::string, std::map<std::string, std::vector<std::optional<std::string>>>> actual;
    for (const auto& [partition, records] : read) {
        for (const auto& [offset, record] : records) {
            actual[split_partition(partition).first][record.key.value_or("")].push_back(record.value);
        }
    }
    for (const auto& [topic, keys] : expected.outputs) {
        std::set<std::string> all_keys;
        for (const auto& [key, values] : keys) {
            all_keys.insert(key);
        }
        for (const auto& [key, values] : actual[topic]) {
            all_keys.insert(key);
        }
        for (const std::string& key : all_keys) {
            static const std::vector<std::optional<std::string>> empty;
            const auto want = keys.find(key);
            const auto& expected_values = want != keys.end() ? want->second : empty;
            const auto& actual_values = actual[topic][key];
            const bool table = expected.tables.contains(topic);
            if (table ? same_table(expected_values, actual_values) : expected_values == actual_values) {
                continue;
            }
            const auto [extra, missing] = differences(expected_values, actual_values);
            const char* kind = table ? table_kind(expected_values, actual_values)
                               : !extra.empty() && missing.empty() ? "duplicate processing"
                               : extra.empty() && !missing.empty() ? "lost processing"
                               : extra.empty() && missing.empty()  ? "out of order"
                                                                   : "wrong values";
            found.push_back(Anomaly{
                .name = "eos-output-mismatch",
                .partition = topic,
                .description = fmt::format("the committed output of {} for key {} is {}, the oracle's over the committed "
                                           "input is {} ({})",
                                           topic, key, show(actual_values), show(expected_values), kind),
                .evidence = {{"app", *final->value},
                             {"topic", topic},
                             {"key", key},
                             {"kind", kind},
                             {"extra", extra},
                             {"missing", missing}},
                .causes = {}});
        }
    }
    return found;
}

History without_stream_partitions(const History& history) {
    std::set<std::string> own;
    for (const Operation& op : history.operations) {
        if (op.f == "stream-final" && op.partitions) {
            own.insert(op.partitions->begin(), op.partitions->end());
        }
    }
    if (own.empty()) {
        return history;
    }
    History generic;
    for (const Operation& op : history.operations) {
        if (!op.partition || !own.contains(*op.partition)) {
            generic.operations.push_back(op);
        }
    }
    for (const ReplicaState& replica : history.replicas) {
        if (!own.contains(replica.partition)) {
            generic.replicas.push_back(replica);
        }
    }
    for (const Removal& removal : history.removals) {
        if (!own.contains(removal.partition)) {
            generic.removals.push_back(removal);
        }
    }
    generic.health = history.health;
    generic.clocks = history.clocks;
    return generic;
}

std::vector<Anomaly> check_stream_state(const History& history) {
    std::vector<Anomaly> found;
    const auto judged = judge(history);
    if (!judged) {
        return found;
    }
    const auto& [final, expected] = *judged;
    std::map<std::string, std::map<std::string, std::string>> stores;
    for (const Operation& op : history.operations) {
        if (op.f != "stream-state" || op.type != OpType::ok || !op.partition || !op.records) {
            continue;
        }
        auto& rows = stores[*op.partition];
        for (const Record& record : *op.records) {
            if (record.key && record.value) {
                rows[*record.key] = *record.value;
            }
        }
    }
    for (const auto& [store, rows] : expected.stores) {
        const auto& actual = stores[store];
        if (const std::vector<std::string> wrong = row_differences(rows, actual, "oracle"); !wrong.empty()) {
            found.push_back(Anomaly{
                .name = "state-mismatch",
                .partition = store,
                .description = fmt::format("store {} of {} differs from the oracle's in {} rows: {}", store,
                                           *final->value, wrong.size(), wrong.front()),
                .evidence = {{"app", *final->value}, {"store", store}, {"rows", wrong}},
                .causes = {}});
        }
        // The store is its changelog folded: every committed change, in log order.
        const std::string changelog = *final->value + "-" + store + "-changelog";
        const std::optional<std::map<std::string, std::string>> folded = fold_changelog(history, changelog);
        if (!folded) {
            continue;
        }
        if (const std::vector<std::string> wrong = row_differences(*folded, actual, "changelog"); !wrong.empty()) {
            found.push_back(Anomaly{
                .name = "state-mismatch",
                .partition = store,
                .description = fmt::format("store {} of {} differs from the fold of its committed changelog {} in {} "
                                           "rows: {}",
                                           store, *final->value, changelog, wrong.size(), wrong.front()),
                .evidence = {{"app", *final->value}, {"store", store}, {"changelog", changelog}, {"rows", wrong}},
                .causes = {}});
        }
    }
    // Every standby store that has read its changelog partition to the end is that partition folded.
    for (const Operation& op : history.operations) {
        if (op.f != "stream-standby" || op.type != OpType::ok || !op.partition || !op.records || !op.offsets ||
            op.offsets->size() != 1) {
            continue;
        }
        const auto& [changelog, position] = *op.offsets->begin();
        const std::optional<std::map<std::string, std::string>> folded = fold_caught_up(history, changelog, position);
        if (!folded) {
            continue;
        }
        std::map<std::string, std::string> actual;
        for (const Record& record : *op.records) {
            if (record.key && record.value) {
                actual[*record.key] = *record.value;
            }
        }
        if (const std::vector<std::string> wrong = row_differences(*folded, actual, "changelog"); !wrong.empty()) {
            const std::string task = op.value.value_or("?");
            found.push_back(Anomaly{
                .name = "state-mismatch",
                .partition = *op.partition,
                .description = fmt::format("standby store {} of task {} in {} differs from the fold of its committed "
                                           "changelog {} (read to offset {}) in {} rows: {}",
                                           *op.partition, task, op.process, changelog, position, wrong.size(),
                                           wrong.front()),
                .evidence = {{"app", *final->value},
                             {"store", *op.partition},
                             {"task", task},
                             {"thread", op.process},
                             {"changelog", changelog},
                             {"position", position},
                             {"rows", wrong}},
                .causes = {}});
        }
    }
    return found;
}

}  // namespace eosim::model
