#include "model/checkers.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <string_view>
#include <tuple>

#include "model/observations.h"

namespace eosim::model {
namespace {

using Json = nlohmann::json;

// Long lists are cut in descriptions (and in evidence) so one anomaly stays readable.
constexpr std::size_t description_items_max = 5;
constexpr std::size_t evidence_items_max = 100;

std::string quoted(const std::string& text) {
    return Json(text).dump(-1, ' ', false, Json::error_handler_t::replace);
}

template <typename Items, typename Format>
std::string join_items(const Items& items, Format format) {
    std::string text;
    std::size_t shown = 0;
    for (const auto& item : items) {
        if (shown == description_items_max) {
            return text + fmt::format(" and {} more", items.size() - shown);
        }
        text += (shown == 0 ? "" : ", ") + format(item);
        ++shown;
    }
    return text;
}

std::string join_offsets(const std::vector<std::int64_t>& offsets) {
    return join_items(offsets, [](std::int64_t offset) { return std::to_string(offset); });
}

Json optional_json(const std::optional<std::int64_t>& number) {
    return number ? Json(*number) : Json(nullptr);
}

Json optional_json(const std::string* text) {
    return text != nullptr ? Json(*text) : Json(nullptr);
}

Json log_json(const CommittedLog& log) {
    return {
        {"replica", log.replica}, {"log_start_offset", log.log_start_offset}, {"high_watermark", log.high_watermark}};
}

std::string log_text(const CommittedLog& log) {
    return fmt::format("the committed log (replica {}, offsets [{}, {}))", log.replica, log.log_start_offset,
                       log.high_watermark);
}

Json send_json(const AckedSend& send) {
    return {{"invoke_index", send.invoke_index}, {"index", send.index},
            {"process", send.process},           {"value", send.value},
            {"acks", to_string(send.acks)},      {"offset", optional_json(send.offset)}};
}

std::string send_text(const AckedSend& send) {
    return fmt::format("send op {} ({}, invoked at op {}) of {}", send.index, send.process, send.invoke_index,
                       quoted(send.value));
}

// ---- lost-write ----

Anomaly lost_write(const AckedSend& send, const CommittedLog& log) {
    const std::string acknowledged =
        send.offset ? fmt::format("acknowledged at offset {}", *send.offset) : "acknowledged without an offset";
    return Anomaly{.name = "lost-write",
                   .partition = send.partition,
                   .description = fmt::format("{} to {} with acks={} was {}, but {} does not hold it", send_text(send),
                                              send.partition, to_string(send.acks), acknowledged, log_text(log)),
                   .evidence = {{"send", send_json(send)}, {"committed_log", log_json(log)}}};
}

// ---- duplicate ----

using PartitionValue = std::pair<std::string, std::string>;

// The first read of a value at each offset it was read at.
std::map<std::int64_t, const Read*> first_read_at_each_offset(const std::vector<const Read*>& value_reads) {
    std::map<std::int64_t, const Read*> first_reads;
    for (const Read* read : value_reads) {
        first_reads.emplace(read->offset, read);
    }
    return first_reads;
}

Anomaly duplicate(const PartitionValue& key, const LogIndex* log, const std::vector<const Read*>& value_reads) {
    const auto& [partition, value] = key;
    std::vector<std::int64_t> log_offsets;
    if (log != nullptr) {
        if (const auto offsets = log->offsets_of.find(value); offsets != log->offsets_of.end()) {
            log_offsets.assign(offsets->second.begin(), offsets->second.end());
        }
    }
    const std::map<std::int64_t, const Read*> first_reads = first_read_at_each_offset(value_reads);
    std::string description = fmt::format("value {} of {} appears at more than one offset", quoted(value), partition);
    if (!log_offsets.empty()) {
        description += fmt::format(": offsets {} of {}", join_offsets(log_offsets), log_text(log->log));
    }
    Json read_evidence = Json::array();
    for (const auto& [offset, read] : first_reads) {
        read_evidence.push_back({{"offset", offset}, {"index", read->index}, {"process", read->process}});
    }
    if (!first_reads.empty()) {
        description += fmt::format("; read at offsets {}", join_items(first_reads, [](const auto& entry) {
                                       return fmt::format("{} (poll op {}, {})", entry.first, entry.second->index,
                                                          entry.second->process);
                                   }));
    }
    return Anomaly{.name = "duplicate",
                   .partition = partition,
                   .description = description,
                   .evidence = {{"value", value}, {"log_offsets", log_offsets}, {"reads", read_evidence}}};
}

// ---- inconsistent-offsets ----

// One observer's value at one offset. Views into the history and the sends and reads the caller holds.
struct Observation {
    std::string_view observer;  // "send", "poll" or "replica"
    std::uint64_t index = 0;    // of the send or poll
    std::string_view who;       // the process, or the replica
    std::string_view value;
};

Json observation_json(const Observation& observation) {
    if (observation.observer == "replica") {
        return {{"observer", observation.observer}, {"replica", observation.who}, {"value", observation.value}};
    }
    return {{"observer", observation.observer},
            {"index", observation.index},
            {"process", observation.who},
            {"value", observation.value}};
}

std::string observation_text(const Observation* observation) {
    if (observation->observer == "replica") {
        return fmt::format("replica {}", observation->who);
    }
    return fmt::format("{} op {} ({})", observation->observer, observation->index, observation->who);
}

using PartitionOffset = std::pair<std::string, std::int64_t>;

std::map<PartitionOffset, std::vector<Observation>> observations_by_offset(const History& history,
                                                                           const std::vector<AckedSend>& sends,
                                                                           const std::vector<Read>& all_reads) {
    std::map<PartitionOffset, std::vector<Observation>> observations;
    for (const AckedSend& send : sends) {
        if (send.offset) {
            observations[{send.partition, *send.offset}].push_back(
                Observation{.observer = "send", .index = send.index, .who = send.process, .value = send.value});
        }
    }
    for (const Read& read : all_reads) {
        observations[{read.partition, read.offset}].push_back(
            Observation{.observer = "poll", .index = read.index, .who = read.process, .value = read.value});
    }
    for (const ReplicaState& replica : history.replicas) {
        for (const Record& record : replica.records) {
            if (record.offset < replica.high_watermark && record.value) {
                observations[{replica.partition, record.offset}].push_back(
                    Observation{.observer = "replica", .index = 0, .who = replica.replica, .value = *record.value});
            }
        }
    }
    return observations;
}

// Observations grouped by value, values in order of first appearance.
std::vector<std::pair<std::string_view, std::vector<const Observation*>>> group_by_value(
    const std::vector<Observation>& observations) {
    std::vector<std::pair<std::string_view, std::vector<const Observation*>>> groups;
    for (const Observation& observation : observations) {
        auto group = std::find_if(groups.begin(), groups.end(),
                                  [&observation](const auto& entry) { return entry.first == observation.value; });
        if (group == groups.end()) {
            group = groups.insert(groups.end(), {observation.value, {}});
        }
        group->second.push_back(&observation);
    }
    return groups;
}

Anomaly inconsistent_offset(const PartitionOffset& key, const std::vector<Observation>& observations) {
    const auto groups = group_by_value(observations);
    const std::string values = join_items(groups, [](const auto& group) {
        return fmt::format("{} for {}", quoted(std::string(group.first)), join_items(group.second, observation_text));
    });
    Json observers = Json::array();
    for (const Observation& observation : observations) {
        observers.push_back(observation_json(observation));
    }
    return Anomaly{
        .name = "inconsistent-offsets",
        .partition = key.first,
        .description = fmt::format("offset {} of {} holds different values: {}", key.second, key.first, values),
        .evidence = {{"offset", key.second}, {"observers", observers}}};
}

bool values_differ(const std::vector<Observation>& observations) {
    return std::any_of(observations.begin(), observations.end(), [&observations](const Observation& observation) {
        return observation.value != observations.front().value;
    });
}

// ---- nonmonotonic-send ----

std::map<ProcessPartition, std::vector<AckedSend>> sends_with_offsets_by_producer(const History& history) {
    std::map<ProcessPartition, std::vector<AckedSend>> sends;
    for (AckedSend& send : acked_sends(history)) {
        if (send.offset) {
            sends[{send.process, send.partition}].push_back(std::move(send));
        }
    }
    for (auto& [key, producer_sends] : sends) {
        std::stable_sort(producer_sends.begin(), producer_sends.end(),
                         [](const AckedSend& a, const AckedSend& b) { return a.invoke_index < b.invoke_index; });
    }
    return sends;
}

Anomaly nonmonotonic_send(const AckedSend& earlier, const AckedSend& later) {
    return Anomaly{
        .name = "nonmonotonic-send",
        .partition = later.partition,
        .description = fmt::format("{} on {}: {} was acknowledged at offset {}, below offset {} of the "
                                   "earlier-invoked {}",
                                   later.process, later.partition, send_text(later), *later.offset, *earlier.offset,
                                   send_text(earlier)),
        .evidence = {{"process", later.process}, {"earlier", send_json(earlier)}, {"later", send_json(later)}}};
}

// ---- consumer positions (nonmonotonic-poll, poll-skip) ----

// Where a consumer's next poll should start: after the last offset of a poll, or at the offset of an assign or
// seek. (No `+ 1` anywhere, so no offset can overflow.)
struct Position {
    const Operation* set_by = nullptr;
    std::int64_t offset = 0;  // the poll's last offset, or the assign's or seek's offset
    bool after_poll = false;
};

Position position_after(const Operation& op) {
    if (op.f == "poll") {
        return Position{.set_by = &op, .offset = op.records->back().offset, .after_poll = true};
    }
    return Position{.set_by = &op, .offset = *op.offset, .after_poll = false};
}

// Whether a poll starting at `first_offset` went back over offsets.
bool starts_before(const Position& position, std::int64_t first_offset) {
    return position.after_poll ? first_offset <= position.offset : first_offset < position.offset;
}

Json position_json(const Position& position) {
    if (position.after_poll) {
        return {{"f", "poll"}, {"index", position.set_by->index}, {"last_offset", position.offset}};
    }
    return {{"f", position.set_by->f}, {"index", position.set_by->index}, {"offset", position.offset}};
}

std::string position_text(const Position& position) {
    if (position.after_poll) {
        return fmt::format("offset {} read by poll op {}", position.offset, position.set_by->index);
    }
    return fmt::format("{} op {} to offset {}", position.set_by->f, position.set_by->index, position.offset);
}

// Calls on_poll(poll, position before it) for each non-empty poll of the timeline; position is empty before
// the first poll, assign or seek.
template <typename OnPoll>
void walk_polls(const std::vector<const Operation*>& timeline, OnPoll on_poll) {
    std::optional<Position> position;
    for (const Operation* op : timeline) {
        if (op->f == "poll" && op->records->empty()) {
            continue;
        }
        if (op->f == "poll") {
            on_poll(*op, position);
        }
        position = position_after(*op);
    }
}

Anomaly poll_went_back_in_poll(const Operation& poll, const Record& previous, const Record& record) {
    return Anomaly{
        .name = "nonmonotonic-poll",
        .partition = *poll.partition,
        .description = fmt::format("poll op {} ({}) of {} read offset {} after offset {} in the same poll", poll.index,
                                   poll.process, *poll.partition, record.offset, previous.offset),
        .evidence = {{"process", poll.process},
                     {"poll_index", poll.index},
                     {"previous_offset", previous.offset},
                     {"offset", record.offset}}};
}

Anomaly poll_went_back(const Operation& poll, const Position& position) {
    const std::int64_t first_offset = poll.records->front().offset;
    return Anomaly{.name = "nonmonotonic-poll",
                   .partition = *poll.partition,
                   .description = fmt::format("poll op {} ({}) of {} started at offset {}, {} {}", poll.index,
                                              poll.process, *poll.partition, first_offset,
                                              position.after_poll ? "not after" : "below the", position_text(position)),
                   .evidence = {{"process", poll.process},
                                {"poll_index", poll.index},
                                {"first_offset", first_offset},
                                {"previous", position_json(position)}}};
}

void check_poll_order(const Operation& poll, const std::optional<Position>& position, std::vector<Anomaly>& found) {
    const std::vector<Record>& records = *poll.records;
    if (position && starts_before(*position, records.front().offset)) {
        found.push_back(poll_went_back(poll, *position));
    }
    for (std::size_t i = 1; i < records.size(); ++i) {
        if (records[i].offset <= records[i - 1].offset) {
            found.push_back(poll_went_back_in_poll(poll, records[i - 1], records[i]));
        }
    }
}

// Known offsets from `from` (an iterator into `known`) up to, not including, `to`.
std::vector<std::int64_t> known_offsets_before(const std::set<std::int64_t>& known,
                                               std::set<std::int64_t>::const_iterator from, std::int64_t to) {
    std::vector<std::int64_t> offsets;
    for (auto it = from; it != known.end() && *it < to; ++it) {
        offsets.push_back(*it);
    }
    return offsets;
}

// Known offsets a poll starting at `first_offset` skipped: after the poll's last offset, or from the seek's.
std::vector<std::int64_t> skipped_offsets(const std::set<std::int64_t>& known, const Position& position,
                                          std::int64_t first_offset) {
    const auto from = position.after_poll ? known.upper_bound(position.offset) : known.lower_bound(position.offset);
    return known_offsets_before(known, from, first_offset);
}

Json skipped_json(const std::vector<std::int64_t>& skipped) {
    const auto shown = static_cast<std::ptrdiff_t>(std::min(skipped.size(), evidence_items_max));
    return {{"skipped_offsets", std::vector<std::int64_t>(skipped.begin(), skipped.begin() + shown)},
            {"skipped_count", skipped.size()}};
}

Anomaly poll_skipped(const Operation& poll, const Position& position, const std::vector<std::int64_t>& skipped) {
    const std::int64_t first_offset = poll.records->front().offset;
    Json evidence = {{"process", poll.process},
                     {"poll_index", poll.index},
                     {"first_offset", first_offset},
                     {"previous", position_json(position)}};
    evidence.update(skipped_json(skipped));
    return Anomaly{.name = "poll-skip",
                   .partition = *poll.partition,
                   .description = fmt::format("poll op {} ({}) of {} started at offset {} after {}, skipping existing "
                                              "offsets {}",
                                              poll.index, poll.process, *poll.partition, first_offset,
                                              position_text(position), join_offsets(skipped)),
                   .evidence = evidence};
}

Anomaly poll_skipped_in_poll(const Operation& poll, const Record& previous, const Record& record,
                             const std::vector<std::int64_t>& skipped) {
    Json evidence = {{"process", poll.process},
                     {"poll_index", poll.index},
                     {"previous_offset", previous.offset},
                     {"offset", record.offset}};
    evidence.update(skipped_json(skipped));
    return Anomaly{.name = "poll-skip",
                   .partition = *poll.partition,
                   .description = fmt::format("poll op {} ({}) of {} read offset {} right after offset {}, skipping "
                                              "existing offsets {}",
                                              poll.index, poll.process, *poll.partition, record.offset, previous.offset,
                                              join_offsets(skipped)),
                   .evidence = evidence};
}

void check_poll_gaps(const Operation& poll, const std::optional<Position>& position,
                     const std::set<std::int64_t>& known, std::vector<Anomaly>& found) {
    const std::vector<Record>& records = *poll.records;
    if (position) {
        const auto skipped = skipped_offsets(known, *position, records.front().offset);
        if (!skipped.empty()) {
            found.push_back(poll_skipped(poll, *position, skipped));
        }
    }
    for (std::size_t i = 1; i < records.size(); ++i) {
        const auto skipped = known_offsets_before(known, known.upper_bound(records[i - 1].offset), records[i].offset);
        if (!skipped.empty()) {
            found.push_back(poll_skipped_in_poll(poll, records[i - 1], records[i], skipped));
        }
    }
}

// ---- replica-divergence ----

struct Difference {
    std::int64_t offset = 0;
    const std::string* replica_value = nullptr;    // null: the replica has no record there
    const std::string* committed_value = nullptr;  // null: the committed log has no record there
};

std::map<std::int64_t, const std::string*> first_values_in(const ReplicaState& replica, std::int64_t from,
                                                           std::int64_t to) {
    std::map<std::int64_t, const std::string*> values;
    for (const Record& record : replica.records) {
        if (record.offset >= from && record.offset < to && record.value) {
            values.emplace(record.offset, &*record.value);
        }
    }
    return values;
}

std::vector<Difference> differences(const ReplicaState& replica, const LogIndex& log, std::int64_t from,
                                    std::int64_t to) {
    const auto replica_values = first_values_in(replica, from, to);
    std::set<std::int64_t> offsets;
    for (const auto& [offset, value] : replica_values) {
        offsets.insert(offset);
    }
    for (auto it = log.values_at.lower_bound(from); it != log.values_at.end() && it->first < to; ++it) {
        offsets.insert(it->first);
    }
    std::vector<Difference> found;
    for (const std::int64_t offset : offsets) {
        const auto held = replica_values.find(offset);
        const std::string* replica_value = held == replica_values.end() ? nullptr : held->second;
        const std::string* committed_value = log.first_value_at(offset);
        if (log.log.compacted && (replica_value == nullptr || committed_value == nullptr)) {
            continue;  // replicas compact on their own: only a different value at one offset counts
        }
        if (replica_value == nullptr || committed_value == nullptr || *replica_value != *committed_value) {
            found.push_back(
                Difference{.offset = offset, .replica_value = replica_value, .committed_value = committed_value});
        }
    }
    return found;
}

std::string difference_text(const Difference& difference) {
    if (difference.replica_value == nullptr) {
        return fmt::format("offset {} is missing {}", difference.offset, quoted(*difference.committed_value));
    }
    if (difference.committed_value == nullptr) {
        return fmt::format("offset {} holds {} where the committed log has none", difference.offset,
                           quoted(*difference.replica_value));
    }
    return fmt::format("offset {} holds {} instead of {}", difference.offset, quoted(*difference.replica_value),
                       quoted(*difference.committed_value));
}

Anomaly replica_divergence(const ReplicaState& replica, const LogIndex& log, std::int64_t from, std::int64_t to,
                           const std::vector<Difference>& found) {
    Json difference_evidence = Json::array();
    for (std::size_t i = 0; i < found.size() && i < evidence_items_max; ++i) {
        difference_evidence.push_back({{"offset", found[i].offset},
                                       {"replica_value", optional_json(found[i].replica_value)},
                                       {"committed_value", optional_json(found[i].committed_value)}});
    }
    return Anomaly{.name = "replica-divergence",
                   .partition = replica.partition,
                   .description = fmt::format("replica {} of {} differs from {} at {} offset(s) in [{}, {}): {}",
                                              replica.replica, replica.partition, log_text(log.log), found.size(), from,
                                              to, join_items(found, difference_text)),
                   .evidence = {{"replica", replica.replica},
                                {"committed_log", log_json(log.log)},
                                {"range", {from, to}},
                                {"differences", difference_evidence},
                                {"difference_count", found.size()}}};
}

std::int64_t highest_log_start(const History& history, const std::string& partition) {
    std::int64_t highest = std::numeric_limits<std::int64_t>::min();
    for (const ReplicaState& replica : history.replicas) {
        if (replica.partition == partition) {
            highest = std::max(highest, replica.log_start_offset);
        }
    }
    return highest;
}

// ---- vanished-read ----

using PartitionOffsetValue = std::tuple<std::string, std::int64_t, std::string>;

Anomaly vanished_read(const PartitionOffsetValue& key, const std::vector<const Read*>& readers, const LogIndex& log) {
    const auto& [partition, offset, value] = key;
    const std::string* held = log.first_value_at(offset);
    Json reader_evidence = Json::array();
    for (const Read* read : readers) {
        reader_evidence.push_back({{"index", read->index}, {"process", read->process}});
    }
    Json log_evidence = log_json(log.log);
    log_evidence["value"] = optional_json(held);
    const std::string what_log_has =
        held == nullptr ? "has no record there" : fmt::format("holds {} there", quoted(*held));
    return Anomaly{
        .name = "vanished-read",
        .partition = partition,
        .description = fmt::format(
            "offset {} of {} was read as {} by {}, but {} {}", offset, partition, quoted(value),
            join_items(readers,
                       [](const Read* read) { return fmt::format("poll op {} ({})", read->index, read->process); }),
            log_text(log.log), what_log_has),
        .evidence = {
            {"offset", offset}, {"value", value}, {"reads", reader_evidence}, {"committed_log", log_evidence}}};
}

// ---- stuck ----

Anomaly stuck(const Operation& op) {
    const std::string reason = op.reason.value_or(op.error.value_or("no reason given"));
    return Anomaly{
        .name = "stuck",
        .partition = op.partition.value_or(""),
        .description = fmt::format("op {} ({}, {}) stuck: {}", op.index, op.process, to_string(op.type), reason),
        .evidence = {{"index", op.index}, {"process", op.process}, {"type", to_string(op.type)}, {"reason", reason}}};
}

}  // namespace

nlohmann::json anomaly_json(const Anomaly& anomaly) {
    return {{"name", anomaly.name},
            {"partition", anomaly.partition},
            {"description", anomaly.description},
            {"evidence", anomaly.evidence}};
}

std::vector<Anomaly> check(const History& history) {
    std::vector<Anomaly> found;
    for (const auto checker :
         {check_lost_writes, check_duplicates, check_inconsistent_offsets, check_nonmonotonic_sends,
          check_nonmonotonic_polls, check_poll_skips, check_replica_divergence, check_vanished_reads, check_stuck,
          check_compaction_consistency}) {
        std::vector<Anomaly> more = checker(history);
        std::move(more.begin(), more.end(), std::back_inserter(found));
    }
    return found;
}

std::vector<Anomaly> check_lost_writes(const History& history) {
    const std::map<std::string, LogIndex> logs = committed_logs(history);
    const KeyWrites key_writes(history);
    std::vector<Anomaly> found;
    for (const AckedSend& send : acked_sends(history)) {
        const auto log = logs.find(send.partition);
        if (send.acks == Acks::none || log == logs.end()) {
            continue;
        }
        const bool removed_by_retention = send.offset && *send.offset < log->second.log.log_start_offset;
        const bool removed_by_compaction = log->second.log.compacted && send.key && send.offset &&
                                           key_writes.superseded(log->second, *send.key, *send.offset);
        if (!removed_by_retention && !removed_by_compaction && !log->second.offsets_of.contains(send.value)) {
            found.push_back(lost_write(send, log->second.log));
        }
    }
    return found;
}

std::vector<Anomaly> check_duplicates(const History& history) {
    const std::map<std::string, LogIndex> logs = committed_logs(history);
    const std::vector<Read> all_reads = reads(history);
    std::map<PartitionValue, std::vector<const Read*>> reads_of_value;
    for (const Read& read : all_reads) {
        reads_of_value[{read.partition, read.value}].push_back(&read);
    }
    std::set<PartitionValue> duplicated;
    for (const auto& [partition, log] : logs) {
        for (const auto& [value, offsets] : log.offsets_of) {
            if (offsets.size() > 1) {
                duplicated.insert({partition, value});
            }
        }
    }
    for (const auto& [key, value_reads] : reads_of_value) {
        if (first_read_at_each_offset(value_reads).size() > 1) {
            duplicated.insert(key);
        }
    }
    std::vector<Anomaly> found;
    for (const PartitionValue& key : duplicated) {
        const auto log = logs.find(key.first);
        found.push_back(duplicate(key, log == logs.end() ? nullptr : &log->second, reads_of_value[key]));
    }
    return found;
}

std::vector<Anomaly> check_inconsistent_offsets(const History& history) {
    std::vector<Anomaly> found;
    const std::vector<AckedSend> sends = acked_sends(history);
    const std::vector<Read> all_reads = reads(history);
    for (const auto& [key, observations] : observations_by_offset(history, sends, all_reads)) {
        if (values_differ(observations)) {
            found.push_back(inconsistent_offset(key, observations));
        }
    }
    return found;
}

std::vector<Anomaly> check_nonmonotonic_sends(const History& history) {
    std::vector<Anomaly> found;
    for (const auto& [key, sends] : sends_with_offsets_by_producer(history)) {
        const AckedSend* highest = nullptr;
        for (const AckedSend& send : sends) {
            if (highest != nullptr && *send.offset < *highest->offset) {
                found.push_back(nonmonotonic_send(*highest, send));
            } else if (highest == nullptr || *send.offset > *highest->offset) {
                highest = &send;
            }
        }
    }
    return found;
}

std::vector<Anomaly> check_nonmonotonic_polls(const History& history) {
    std::vector<Anomaly> found;
    for (const auto& [key, timeline] : consumer_timelines(history)) {
        walk_polls(timeline, [&found](const Operation& poll, const std::optional<Position>& position) {
            check_poll_order(poll, position, found);
        });
    }
    return found;
}

std::vector<Anomaly> check_poll_skips(const History& history) {
    const std::map<std::string, std::set<std::int64_t>> known = known_offsets(committed_logs(history), reads(history));
    const std::set<std::int64_t> none;
    std::vector<Anomaly> found;
    for (const auto& [key, timeline] : consumer_timelines(history)) {
        const auto known_here = known.find(key.second);
        const std::set<std::int64_t>& known_in_partition = known_here == known.end() ? none : known_here->second;
        walk_polls(timeline, [&](const Operation& poll, const std::optional<Position>& position) {
            check_poll_gaps(poll, position, known_in_partition, found);
        });
    }
    return found;
}

std::vector<Anomaly> check_replica_divergence(const History& history) {
    const std::map<std::string, LogIndex> logs = committed_logs(history);
    std::vector<Anomaly> found;
    for (const ReplicaState& replica : history.replicas) {
        const LogIndex& log = logs.at(replica.partition);
        const std::int64_t from = highest_log_start(history, replica.partition);
        const std::int64_t to = std::min(log.log.high_watermark, replica.log_end_offset);
        const std::vector<Difference> found_here = differences(replica, log, from, to);
        if (!found_here.empty()) {
            found.push_back(replica_divergence(replica, log, from, to, found_here));
        }
    }
    return found;
}

std::vector<Anomaly> check_vanished_reads(const History& history) {
    const std::map<std::string, LogIndex> logs = committed_logs(history);
    const std::vector<Read> all_reads = reads(history);
    const KeyWrites key_writes(history);
    std::map<PartitionOffsetValue, std::vector<const Read*>> vanished;
    for (const Read& read : all_reads) {
        const auto log = logs.find(read.partition);
        if (log == logs.end() || read.offset < log->second.log.log_start_offset) {
            continue;
        }
        if (log->second.log.compacted && read.key && !log->second.offsets.contains(read.offset) &&
            key_writes.superseded(log->second, *read.key, read.offset)) {
            continue;  // compacted away after a later write of its key
        }
        if (!log->second.holds(read.offset, read.value)) {
            vanished[{read.partition, read.offset, read.value}].push_back(&read);
        }
    }
    std::vector<Anomaly> found;
    found.reserve(vanished.size());
    for (const auto& [key, readers] : vanished) {
        found.push_back(vanished_read(key, readers, logs.at(std::get<0>(key))));
    }
    return found;
}

std::vector<Anomaly> check_stuck(const History& history) {
    std::vector<Anomaly> found;
    for (const Operation& op : history.operations) {
        if (op.f == "stuck") {
            found.push_back(stuck(op));
        }
    }
    return found;
}

std::vector<Anomaly> check_compaction_consistency(const History& history) {
    const std::map<std::string, LogIndex> logs = committed_logs(history);
    const KeyWrites key_writes(history);
    std::vector<Anomaly> found;
    // Each key's latest record in the log is its last acknowledged write (or later).
    for (const auto& [partition, log] : logs) {
        if (!log.log.compacted) {
            continue;
        }
        for (const std::string& key : key_writes.keys(partition)) {
            const auto [acked_offset, tombstone] = *key_writes.latest_acknowledged(partition, key);
            if (acked_offset < log.log.log_start_offset || acked_offset >= log.log.high_watermark) {
                continue;  // removed by retention, or beyond the committed log (lost-write's business)
            }
            const auto latest = log.latest_offset_of_key.find(key);
            const bool missing = latest == log.latest_offset_of_key.end();
            if (missing && (tombstone || key_writes.unknown_tombstone(partition, key))) {
                continue;  // a tombstone and what it deleted may both be gone
            }
            if (!missing && latest->second >= acked_offset) {
                continue;
            }
            const std::string held = missing ? "holds no record of it"
                                             : fmt::format("holds only older records of it, the latest at offset {}",
                                                           latest->second);
            found.push_back(Anomaly{
                .name = "compaction-consistency",
                .partition = partition,
                .description = fmt::format("key {} of {}: its last acknowledged write ({}) is at offset {}, but {} {}",
                                           quoted(key), partition, tombstone ? "a tombstone" : "a value", acked_offset,
                                           log_text(log.log), held),
                .evidence = {{"key", key},
                             {"acknowledged_offset", acked_offset},
                             {"tombstone", tombstone},
                             {"log_latest_offset", missing ? Json(nullptr) : Json(latest->second)},
                             {"committed_log", log_json(log.log)}}});
        }
    }
    // A consumer never sees a key's older value after its newer one (between two seeks or assigns).
    std::map<std::pair<std::string, std::string>, std::int64_t> acked_offset_of;  // (partition, value)
    for (const AckedSend& send : acked_sends(history)) {
        if (send.offset) {
            acked_offset_of.emplace(std::pair{send.partition, send.value}, *send.offset);
        }
    }
    for (const auto& [key, timeline] : consumer_timelines(history)) {
        const auto log = logs.find(key.second);
        if (log == logs.end() || !log->second.log.compacted) {
            continue;
        }
        std::map<std::string, std::pair<std::int64_t, const Operation*>> newest_seen;  // key -> (acked offset, poll)
        for (const Operation* op : timeline) {
            if (op->f != "poll") {
                newest_seen.clear();
                continue;
            }
            for (const Record& record : *op->records) {
                if (!record.value || !record.key) {
                    continue;
                }
                const auto acked = acked_offset_of.find({key.second, *record.value});
                if (acked == acked_offset_of.end()) {
                    continue;
                }
                auto& seen = newest_seen[*record.key];
                if (seen.second != nullptr && acked->second < seen.first) {
                    found.push_back(Anomaly{
                        .name = "compaction-consistency",
                        .partition = key.second,
                        .description = fmt::format(
                            "poll op {} ({}) of {} read {} of key {}, acknowledged at offset {}, after poll op {} read "
                            "the key's newer value acknowledged at offset {}",
                            op->index, op->process, key.second, quoted(*record.value), quoted(*record.key), acked->second,
                            seen.second->index, seen.first),
                        .evidence = {{"process", op->process},
                                     {"poll_index", op->index},
                                     {"key", *record.key},
                                     {"value", *record.value},
                                     {"acknowledged_offset", acked->second},
                                     {"newer_poll_index", seen.second->index},
                                     {"newer_acknowledged_offset", seen.first}}});
                } else if (seen.second == nullptr || acked->second > seen.first) {
                    seen = {acked->second, op};
                }
            }
        }
    }
    return found;
}

}  // namespace eosim::model
