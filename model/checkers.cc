#include "model/checkers.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <string_view>
#include <tuple>

#include "model/groups.h"
#include "model/streams.h"
#include "model/observations.h"

namespace eosim::model {
namespace {

using Json = nlohmann::json;

// Long lists are cut in descriptions (and in evidence) so one anomaly stays readable.
constexpr std::size_t description_items_max = 5;
constexpr std::size_t evidence_items_max = 100;

std::string json_quoted(Text text) {
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

Json optional_json(const std::optional<Text>& text) {
    return text ? Json(*text) : Json(nullptr);
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
    Json json = {{"invoke_index", send.invoke_index}, {"index", send.index},
                 {"process", send.process},           {"value", send.value},
                 {"acks", to_string(send.acks)},      {"offset", optional_json(send.offset)}};
    if (send.offset_read) {
        json["offset_read"] = true;  // the outcome was unknown; a consumer read it at this offset
    }
    if (send.attempts) {
        json["attempts"] = *send.attempts;
    }
    return json;
}

std::string send_text(const AckedSend& send) {
    return fmt::format("send op {} ({}, invoked at op {}) of {}", send.index, send.process, send.invoke_index,
                       json_quoted(send.value));
}

// ---- lost-write ----

Anomaly lost_write(const AckedSend& send, const CommittedLog& log) {
    const std::string acknowledged =
        send.offset ? fmt::format("acknowledged at offset {}", *send.offset) : "acknowledged without an offset";
    return Anomaly{.name = "lost-write",
                   .partition = std::string(send.partition),
                   .description = fmt::format("{} to {} with acks={} was {}, but {} does not hold it", send_text(send),
                                              send.partition, to_string(send.acks), acknowledged, log_text(log)),
                   .evidence = {{"send", send_json(send)}, {"committed_log", log_json(log)}}};
}

// ---- duplicate ----

using PartitionValue = std::pair<Text, Text>;

// The first read of a value at each offset it was read at.
std::map<std::int64_t, const Read*> first_read_at_each_offset(const std::vector<const Read*>& value_reads) {
    std::map<std::int64_t, const Read*> first_reads;
    for (const Read* read : value_reads) {
        first_reads.emplace(read->offset, read);
    }
    return first_reads;
}

Anomaly duplicate(const PartitionValue& key, const LogIndex* log, const std::vector<const Read*>& value_reads,
                  const std::vector<const AckedSend*>& value_acks) {
    const auto& [partition, value] = key;
    std::vector<std::int64_t> log_offsets;
    if (log != nullptr) {
        if (const auto offsets = log->offsets_of.find(value); offsets != log->offsets_of.end()) {
            log_offsets.assign(offsets->second.begin(), offsets->second.end());
        }
    }
    const std::map<std::int64_t, const Read*> first_reads = first_read_at_each_offset(value_reads);
    std::string description = fmt::format("value {} of {} appears at more than one offset", json_quoted(value), partition);
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
    Json ack_evidence = Json::array();
    for (const AckedSend* send : value_acks) {
        ack_evidence.push_back(send_json(*send));
    }
    if (!value_acks.empty()) {
        description += fmt::format("; acknowledged at offset{} {}", value_acks.size() > 1 ? "s" : "",
                                   join_items(value_acks, [](const AckedSend* send) {
                                       return fmt::format("{} (send op {}, {})", *send->offset, send->index,
                                                          send->process);
                                   }));
    }
    return Anomaly{.name = "duplicate",
                   .partition = std::string(partition),
                   .description = description,
                   .evidence = {{"value", value},
                                {"log_offsets", log_offsets},
                                {"reads", read_evidence},
                                {"acknowledged", ack_evidence}},
                   .causes = {}};
}

// ---- inconsistent-offsets ----

// One observer's value at one offset. Views into the history and the sends and reads the caller holds.
struct Observation {
    std::string_view observer;  // "send", "poll" or "replica"
    std::uint64_t index = 0;    // of the send or poll
    std::string_view who;       // the process, or the replica
    std::string_view value;
    bool leader_only_ack = false;  // a send acknowledged with acks=1
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

using PartitionOffset = std::pair<Text, std::int64_t>;

struct Observed {
    std::size_t partition_rank = 0;  // of the partition in name order: integers sort fast
    PartitionOffset where;
    Observation observation;
};

// Every observation, by partition and offset (sends, then polls, then replicas within one offset).
std::vector<Observed> observations_by_offset(const History& history, const std::vector<AckedSend>& sends,
                                             const std::vector<Read>& all_reads) {
    std::map<Text, std::size_t> rank;
    for (const AckedSend& send : sends) {
        rank.emplace(send.partition, 0);
    }
    for (const Read& read : all_reads) {
        rank.emplace(read.partition, 0);
    }
    for (const ReplicaState& replica : history.replicas) {
        rank.emplace(replica.partition, 0);
    }
    std::size_t next = 0;
    for (auto& [partition, value] : rank) {
        value = next++;
    }
    std::vector<Observed> observations;
    const auto add = [&](Text partition, std::int64_t offset, Observation observation) {
        observations.push_back(Observed{rank.at(partition), {partition, offset}, observation});
    };
    for (const AckedSend& send : sends) {
        if (send.offset) {
            add(send.partition, *send.offset,
                Observation{.observer = "send",
                            .index = send.index,
                            .who = send.process,
                            .value = send.value,
                            .leader_only_ack = send.acks == Acks::leader});
        }
    }
    for (const Read& read : all_reads) {
        add(read.partition, read.offset,
            Observation{.observer = "poll", .index = read.index, .who = read.process, .value = read.value});
    }
    for (const ReplicaState& replica : history.replicas) {
        for (const Record& record : replica.records) {
            if (record.offset < replica.high_watermark && record.value) {
                add(replica.partition, record.offset,
                    Observation{.observer = "replica", .index = 0, .who = replica.replica, .value = *record.value});
            }
        }
    }
    std::stable_sort(observations.begin(), observations.end(), [](const Observed& a, const Observed& b) {
        return std::pair(a.partition_rank, a.where.second) < std::pair(b.partition_rank, b.where.second);
    });
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
        return fmt::format("{} for {}", json_quoted(std::string(group.first)), join_items(group.second, observation_text));
    });
    Json observers = Json::array();
    for (const Observation& observation : observations) {
        observers.push_back(observation_json(observation));
    }
    return Anomaly{
        .name = "inconsistent-offsets",
        .partition = std::string(key.first),
        .description = fmt::format("offset {} of {} holds different values: {}", key.second, key.first, values),
        .evidence = {{"offset", key.second}, {"observers", observers}},
        .causes = std::any_of(observations.begin(), observations.end(),
                              [](const Observation& observation) { return observation.leader_only_ack; })
                      ? std::vector<std::string>{"acks-1"}
                      : std::vector<std::string>{}};
}

// ---- nonmonotonic-send ----

// Each producer's sends to each partition that carry an offset, from both lists, in invoke order.
std::map<ProcessPartition, std::vector<const AckedSend*>> sends_with_offsets_by_producer(
    const std::vector<AckedSend>& acked, const std::vector<AckedSend>& placed) {
    std::map<ProcessPartition, std::vector<const AckedSend*>> sends;
    for (const std::vector<AckedSend>* list : {&acked, &placed}) {
        for (const AckedSend& send : *list) {
            if (send.offset) {
                sends[{send.process, send.partition}].push_back(&send);
            }
        }
    }
    for (auto& [key, producer_sends] : sends) {
        std::stable_sort(producer_sends.begin(), producer_sends.end(),
                         [](const AckedSend* a, const AckedSend* b) { return a->invoke_index < b->invoke_index; });
    }
    return sends;
}

// What could excuse a reorder of two sends: a retry or an unknown outcome (a producer without idempotence
// may write a retry late), an acknowledgement by the leader alone (acks=1: a new leader may not have it).
std::vector<std::string> send_causes(const AckedSend& earlier, const AckedSend& later) {
    std::vector<std::string> causes;
    if (earlier.retried() || later.retried()) {
        causes.emplace_back("retried-send");
    }
    if (earlier.acks == Acks::leader || later.acks == Acks::leader) {
        causes.emplace_back("acks-1");
    }
    return causes;
}

Anomaly nonmonotonic_send(const AckedSend& earlier, const AckedSend& later) {
    return Anomaly{
        .name = "nonmonotonic-send",
        .partition = std::string(later.partition),
        .description = fmt::format("{} on {}: {} {} offset {}, below offset {} of the earlier-invoked {}{}",
                                   later.process, later.partition, send_text(later),
                                   later.offset_read ? "(outcome unknown) was read at" : "was acknowledged at",
                                   *later.offset, *earlier.offset, send_text(earlier),
                                   earlier.offset_read ? " (outcome unknown, read there)" : ""),
        .evidence = {{"process", later.process}, {"earlier", send_json(earlier)}, {"later", send_json(later)}},
        .causes = send_causes(earlier, later)};
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
std::vector<std::int64_t> known_offsets_before(const OffsetSet& known, OffsetSet::const_iterator from,
                                               std::int64_t to) {
    std::vector<std::int64_t> offsets;
    for (auto it = from; it != known.end() && *it < to; ++it) {
        offsets.push_back(*it);
    }
    return offsets;
}

// Known offsets a poll starting at `first_offset` skipped: after the poll's last offset, or from the seek's.
std::vector<std::int64_t> skipped_offsets(const OffsetSet& known, const Position& position,
                                          std::int64_t first_offset) {
    const auto from = position.after_poll ? std::upper_bound(known.begin(), known.end(), position.offset)
                                          : std::lower_bound(known.begin(), known.end(), position.offset);
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

// `late`: the offsets (of this poll's partition) whose records a late request may have aborted (none: null).
void check_poll_gaps(const Operation& poll, const std::optional<Position>& position, const OffsetSet& known,
                     const std::set<std::int64_t>* late, std::vector<Anomaly>& found) {
    const std::vector<Record>& records = *poll.records;
    // Every skipped record's transaction may have been aborted by a late request (transaction version 1).
    const auto with_causes = [late](Anomaly anomaly, const std::vector<std::int64_t>& skipped) {
        if (late != nullptr &&
            std::all_of(skipped.begin(), skipped.end(), [late](std::int64_t offset) { return late->contains(offset); })) {
            anomaly.causes.emplace_back("late-request");
        }
        return anomaly;
    };
    if (position) {
        const auto skipped = skipped_offsets(known, *position, records.front().offset);
        if (!skipped.empty()) {
            found.push_back(with_causes(poll_skipped(poll, *position, skipped), skipped));
        }
    }
    for (std::size_t i = 1; i < records.size(); ++i) {
        const auto skipped = known_offsets_before(
            known, std::upper_bound(known.begin(), known.end(), records[i - 1].offset), records[i].offset);
        if (!skipped.empty()) {
            found.push_back(with_causes(poll_skipped_in_poll(poll, records[i - 1], records[i], skipped), skipped));
        }
    }
}

// ---- replica-divergence ----

struct Difference {
    std::int64_t offset = 0;
    std::optional<Text> replica_value;    // nothing: the replica has no record there
    std::optional<Text> committed_value;  // nothing: the committed log has no record there
};

using OffsetValues = std::vector<std::pair<std::int64_t, Text>>;

// The first value at each offset in [from, to), by offset.
OffsetValues first_values_in(const ReplicaState& replica, std::int64_t from, std::int64_t to) {
    OffsetValues values;
    for (const Record& record : replica.records) {
        if (record.offset >= from && record.offset < to && record.value) {
            values.emplace_back(record.offset, *record.value);
        }
    }
    const auto by_offset = [](const auto& a, const auto& b) { return a.first < b.first; };
    std::stable_sort(values.begin(), values.end(), by_offset);
    values.erase(std::unique(values.begin(), values.end(), [](const auto& a, const auto& b) { return a.first == b.first; }),
                 values.end());
    return values;
}

OffsetValues first_values_in(const LogIndex& log, std::int64_t from, std::int64_t to) {
    const auto [first, last] = log.values_in(from, to);
    OffsetValues values;
    for (auto it = first; it != last; ++it) {
        if (values.empty() || values.back().first != it->first) {
            values.push_back(*it);
        }
    }
    return values;
}

std::vector<Difference> differences(const ReplicaState& replica, const LogIndex& log, std::int64_t from,
                                    std::int64_t to) {
    const OffsetValues replica_values = first_values_in(replica, from, to);
    const OffsetValues committed_values = first_values_in(log, from, to);
    std::vector<Difference> found;
    auto held = replica_values.begin();
    auto committed = committed_values.begin();
    while (held != replica_values.end() || committed != committed_values.end()) {
        const bool take_held = committed == committed_values.end() ||
                               (held != replica_values.end() && held->first <= committed->first);
        const bool take_committed = held == replica_values.end() ||
                                    (committed != committed_values.end() && committed->first <= held->first);
        Difference difference{.offset = take_held ? held->first : committed->first,
                              .replica_value = take_held ? std::optional<Text>(held->second) : std::nullopt,
                              .committed_value = take_committed ? std::optional<Text>(committed->second) : std::nullopt};
        held += take_held ? 1 : 0;
        committed += take_committed ? 1 : 0;
        const bool one_missing = !difference.replica_value || !difference.committed_value;
        if (log.log.compacted && one_missing) {
            continue;  // replicas compact on their own: only a different value at one offset counts
        }
        if (one_missing || *difference.replica_value != *difference.committed_value) {
            found.push_back(difference);
        }
    }
    return found;
}

std::string difference_text(const Difference& difference) {
    if (!difference.replica_value) {
        return fmt::format("offset {} is missing {}", difference.offset, json_quoted(*difference.committed_value));
    }
    if (!difference.committed_value) {
        return fmt::format("offset {} holds {} where the committed log has none", difference.offset,
                           json_quoted(*difference.replica_value));
    }
    return fmt::format("offset {} holds {} instead of {}", difference.offset, json_quoted(*difference.replica_value),
                       json_quoted(*difference.committed_value));
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

std::int64_t highest_log_start(const History& history, Text partition) {
    std::int64_t highest = std::numeric_limits<std::int64_t>::min();
    for (const ReplicaState& replica : history.replicas) {
        if (replica.partition == partition) {
            highest = std::max(highest, replica.log_start_offset);
        }
    }
    return highest;
}

// ---- replica-divergence: batch headers ----

Json header_json(const BatchHeader& header) {
    return Json::array({header.base_offset, header.last_offset, header.leader_epoch, header.producer_id,
                        header.producer_epoch, header.base_sequence, header.transactional, header.control});
}

// The first field that differs, in words.
std::string header_difference_text(const BatchHeader& held, const BatchHeader* committed) {
    if (committed == nullptr) {
        return fmt::format("batch [{}, {}] where no committed batch starts", held.base_offset, held.last_offset);
    }
    const auto differ = [&](const char* field, std::int64_t mine, std::int64_t theirs) {
        return fmt::format("batch at offset {}: {} {} where the committed log has {}", held.base_offset, field, mine,
                           theirs);
    };
    if (held.last_offset != committed->last_offset) {
        return differ("last offset", held.last_offset, committed->last_offset);
    }
    if (held.leader_epoch != committed->leader_epoch) {
        return differ("leader epoch", held.leader_epoch, committed->leader_epoch);
    }
    if (held.producer_id != committed->producer_id) {
        return differ("producer id", held.producer_id, committed->producer_id);
    }
    if (held.producer_epoch != committed->producer_epoch) {
        return differ("producer epoch", held.producer_epoch, committed->producer_epoch);
    }
    if (held.base_sequence != committed->base_sequence) {
        return differ("base sequence", held.base_sequence, committed->base_sequence);
    }
    return differ("flags (transactional, control)", held.transactional * 2 + held.control,
                  committed->transactional * 2 + committed->control);
}

using HeaderDifference = std::pair<const BatchHeader*, const BatchHeader*>;  // the replica's, the committed one

// The replica's batches in [from, to) whose header differs from the committed replica's batch at the same base
// offset (or, on topics that are not compacted, that start where no committed batch starts).
std::vector<HeaderDifference> header_differences(const ReplicaState& replica, const ReplicaState& committed,
                                                 std::int64_t from, std::int64_t to) {
    std::map<std::int64_t, const BatchHeader*> committed_at;
    for (const BatchHeader& header : committed.batches) {
        committed_at.emplace(header.base_offset, &header);
    }
    std::vector<HeaderDifference> found;
    for (const BatchHeader& header : replica.batches) {
        if (header.base_offset < from || header.last_offset >= to) {
            continue;
        }
        const auto match = committed_at.find(header.base_offset);
        if (match == committed_at.end() ? !committed.compacted : *match->second != header) {
            found.emplace_back(&header, match == committed_at.end() ? nullptr : match->second);
        }
    }
    return found;
}

Anomaly header_divergence(const ReplicaState& replica, const LogIndex& log, std::int64_t from, std::int64_t to,
                          const std::vector<HeaderDifference>& found) {
    Json evidence = Json::array();
    for (std::size_t i = 0; i < found.size() && i < evidence_items_max; ++i) {
        evidence.push_back({{"replica_batch", header_json(*found[i].first)},
                            {"committed_batch", found[i].second != nullptr ? header_json(*found[i].second) : Json()}});
    }
    return Anomaly{.name = "replica-divergence",
                   .partition = replica.partition,
                   .description = fmt::format(
                       "replica {} of {} holds batch headers that differ from {} at {} batch(es) in [{}, {}): {}",
                       replica.replica, replica.partition, log_text(log.log), found.size(), from, to,
                       join_items(found, [](const HeaderDifference& difference) {
                           return header_difference_text(*difference.first, difference.second);
                       })),
                   .evidence = {{"replica", replica.replica},
                                {"committed_log", log_json(log.log)},
                                {"range", {from, to}},
                                {"batch_differences", evidence},
                                {"difference_count", found.size()}}};
}

// ---- vanished-read ----

using PartitionOffsetValue = std::tuple<Text, std::int64_t, Text>;

Anomaly vanished_read(const PartitionOffsetValue& key, const std::vector<const Read*>& readers, const LogIndex& log) {
    const auto& [partition, offset, value] = key;
    const std::optional<Text> held = log.first_value_at(offset);
    Json reader_evidence = Json::array();
    for (const Read* read : readers) {
        reader_evidence.push_back({{"index", read->index}, {"process", read->process}});
    }
    Json log_evidence = log_json(log.log);
    log_evidence["value"] = optional_json(held);
    const std::string what_log_has =
        !held ? "has no record there" : fmt::format("holds {} there", json_quoted(*held));
    return Anomaly{
        .name = "vanished-read",
        .partition = std::string(partition),
        .description = fmt::format(
            "offset {} of {} was read as {} by {}, but {} {}", offset, partition, json_quoted(value),
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

// ---- lost-write without replica lines ----

// What one poll covered: from the consumer's position before it up to its last offset.
struct Covered {
    std::int64_t from = 0;
    std::int64_t last = 0;
    const Operation* poll = nullptr;
};

// By partition, the stretches of offsets consumers read through, sorted by where they start, each with the
// furthest any stretch starting at or before it reached. A consumer without an assign or seek before its
// first poll starts at offset 0 (as Jepsen's subscribers do, auto.offset.reset=earliest).
std::map<Text, std::vector<Covered>> covered_stretches(const Facts& facts) {
    std::map<Text, std::vector<Covered>> stretches;
    for (const auto& [key, timeline] : facts.timelines) {
        std::int64_t position = 0;
        for (const Operation* op : timeline) {
            if (op->f != "poll") {
                position = *op->offset;
                continue;
            }
            if (op->records->empty()) {
                continue;
            }
            const std::int64_t last = op->records->back().offset;
            stretches[key.second].push_back(Covered{.from = position, .last = last, .poll = op});
            position = last < std::numeric_limits<std::int64_t>::max() ? last + 1 : last;  // never overflows
        }
    }
    for (auto& [partition, list] : stretches) {
        std::stable_sort(list.begin(), list.end(), [](const Covered& a, const Covered& b) { return a.from < b.from; });
        for (std::size_t i = 1; i < list.size(); ++i) {
            if (list[i - 1].last > list[i].last) {
                list[i].last = list[i - 1].last;
                list[i].poll = list[i - 1].poll;
            }
        }
    }
    return stretches;
}

// A poll that read on past `offset` from a position at or below it, if any.
const Covered* read_past(const std::vector<Covered>& stretches, std::int64_t offset) {
    auto after = std::upper_bound(stretches.begin(), stretches.end(), offset,
                                  [](std::int64_t value, const Covered& stretch) { return value < stretch.from; });
    if (after == stretches.begin()) {
        return nullptr;
    }
    const Covered& furthest = *std::prev(after);
    return furthest.last > offset ? &furthest : nullptr;
}

Anomaly lost_unread_write(const AckedSend& send, const Covered& past) {
    return Anomaly{
        .name = "lost-write",
        .partition = std::string(send.partition),
        .description = fmt::format("{} to {} with acks={} was acknowledged at offset {}, but no consumer read it, "
                                   "though poll op {} ({}) read on to offset {} from offset {} or below (the history "
                                   "has no replica of {})",
                                   send_text(send), send.partition, to_string(send.acks), *send.offset,
                                   past.poll->index, past.poll->process, past.last, past.from, send.partition),
        .evidence = {{"send", send_json(send)},
                     {"read_past", {{"poll_index", past.poll->index}, {"process", past.poll->process}}}}};
}

// ---- aborted-read ----

Anomaly aborted_read(const Operation& failed, const std::vector<const Read*>& readers,
                     const std::vector<std::int64_t>& log_offsets) {
    std::string seen;
    if (!readers.empty()) {
        seen = fmt::format("read by {}", join_items(readers, [](const Read* read) {
                               return fmt::format("poll op {} ({}) at offset {}", read->index, read->process,
                                                  read->offset);
                           }));
    }
    if (!log_offsets.empty()) {
        seen += fmt::format("{}held by the committed log at offset(s) {}", seen.empty() ? "" : "; ",
                            join_offsets(log_offsets));
    }
    Json reader_evidence = Json::array();
    for (const Read* read : readers) {
        reader_evidence.push_back({{"index", read->index}, {"process", read->process}, {"offset", read->offset}});
    }
    return Anomaly{.name = "aborted-read",
                   .partition = *failed.partition,
                   .description = fmt::format("send op {} ({}) of {} to {} failed ({}), so it wrote nothing, yet it was {}",
                                              failed.index, failed.process, json_quoted(*failed.value),
                                              *failed.partition, failed.error.value_or("no error given"), seen),
                   .evidence = {{"send_index", failed.index},
                                {"process", failed.process},
                                {"value", *failed.value},
                                {"reads", reader_evidence},
                                {"log_offsets", log_offsets}}};
}

Json read_json(const Read* read) {
    return {{"index", read->index},
            {"process", read->process},
            {"offset", read->offset},
            {"isolation", read->read_committed ? "read_committed" : "read_uncommitted"}};
}

// What could excuse a read of an aborted transaction's record: only read_uncommitted readers saw it (Kafka
// documents that they see aborted records); an earlier transaction of the producer that asked for a commit ran
// at the same epoch, whose late request (an EndTxn(commit) sent twice, a COMMIT marker the coordinator sent
// again) may have committed this one ("late-request"). Transaction version 1 keeps the epoch from one transaction to the next and cannot
// fence it (KAFKA-17754); version 2's epoch bump does. A send of this transaction that is answered late is no
// excuse: the producer ends a transaction only once its sends are answered, and bumps the epoch itself after
// one whose outcome it does not know (KIP-360).
std::vector<std::string> aborted_read_causes(const TxnSend& send, bool read_committed) {
    std::vector<std::string> causes;
    if (!read_committed) {
        causes.emplace_back("read-uncommitted");
    }
    if (send.transaction->after_same_epoch_commit) {
        causes.emplace_back("late-request");
    }
    return causes;
}

Anomaly aborted_transaction_read(const TxnSend& send, const std::vector<const Read*>& readers) {
    Json reader_evidence = Json::array();
    for (const Read* read : readers) {
        reader_evidence.push_back(read_json(read));
    }
    const bool read_committed = std::any_of(readers.begin(), readers.end(), [](const Read* read) {
        return read->read_committed;
    });
    const Transaction& transaction = *send.transaction;
    const std::string why = transaction.end != nullptr
                                ? fmt::format("{} op {} {}", transaction.end->f, transaction.end->index,
                                              transaction.end->type == OpType::ok ? "completed ok" : "failed")
                                : std::string("no commit was invoked");
    const std::uint64_t send_index = send.completion != nullptr ? send.completion->index : send.invoke->index;
    return Anomaly{
        .name = "aborted-read",
        .partition = std::string(send.partition),
        .description = fmt::format(
            "send op {} ({}) of {} to {} belongs to transaction {}, aborted ({}), yet it was read by {}", send_index,
            send.invoke->process, json_quoted(send.value), send.partition, transaction.label, why,
            join_items(readers,
                       [](const Read* read) {
                           return fmt::format("poll op {} ({}, {}) at offset {}", read->index, read->process,
                                              read->read_committed ? "read_committed" : "read_uncommitted",
                                              read->offset);
                       })),
        .evidence = {{"send_index", send_index},
                     {"invoke_index", send.invoke->index},
                     {"process", send.invoke->process},
                     {"value", send.value},
                     {"txn", transaction.label},
                     {"ended_by", transaction.end != nullptr ? Json(transaction.end->index) : Json(nullptr)},
                     {"reads", reader_evidence}},
        .causes = aborted_read_causes(send, read_committed)};
}

// ---- the checkers, over facts computed once ----

using Checker = std::vector<Anomaly> (*)(const Facts&);

std::vector<Anomaly> check_lost_writes(const Facts& facts) {
    const std::map<Text, LogIndex>& logs = facts.logs;
    const KeyWrites& key_writes = facts.key_writes;
    // Reads are the evidence only for partitions without replica lines (histories recorded elsewhere).
    const bool without_replicas = std::any_of(facts.sends.begin(), facts.sends.end(),
                                              [&logs](const AckedSend& send) { return !logs.contains(send.partition); });
    std::set<PartitionValue> read_values;
    if (without_replicas) {
        for (const Read& read : facts.reads) {
            read_values.insert({read.partition, read.value});
        }
    }
    const std::map<Text, std::vector<Covered>> stretches =
        without_replicas ? covered_stretches(facts) : std::map<Text, std::vector<Covered>>{};
    std::vector<Anomaly> found;
    for (const AckedSend& send : facts.sends) {
        if (send.acks == Acks::none || !facts.counts_as_written(send)) {
            continue;  // no promise asked for, or a transaction that did not commit for certain
        }
        const auto log = logs.find(send.partition);
        if (log == logs.end()) {
            // No replica says what the log holds: an acknowledged write nobody read, though a consumer read
            // on past its offset, is lost.
            const auto read = stretches.find(send.partition);
            const Covered* past = send.offset && read != stretches.end() ? read_past(read->second, *send.offset) : nullptr;
            if (past != nullptr && !read_values.contains({send.partition, send.value})) {
                found.push_back(lost_unread_write(send, *past));
            }
            continue;
        }
        const bool removed_by_retention = send.offset && *send.offset < log->second.log.log_start_offset;
        const bool removed_by_compaction = log->second.log.compacted && send.key && send.offset &&
                                           key_writes.superseded(log->second, *send.key, *send.offset);
        if (!removed_by_retention && !removed_by_compaction && !log->second.holds_value(send.value)) {
            found.push_back(lost_write(send, log->second.log));
        }
    }
    return found;
}

std::map<PartitionValue, std::vector<const Read*>> readers_by_value(const std::vector<Read>& all_reads) {
    std::map<PartitionValue, std::vector<const Read*>> readers;
    for (const Read& read : all_reads) {
        readers[{read.partition, read.value}].push_back(&read);
    }
    return readers;
}

// A transaction aborted for certain wrote nothing a read_committed consumer may see. Its records stay in the
// log (under an abort marker), where a read_uncommitted consumer may read them: that read is the anomaly too,
// but with the cause "read-uncommitted", which a scenario may allow.
std::vector<Anomaly> check_aborted_transaction_reads(const Facts& facts,
                                                     const std::map<PartitionValue, std::vector<const Read*>>& readers) {
    std::vector<Anomaly> found;
    for (const TxnSend& send : facts.transactions.sends()) {
        if (send.transaction->outcome != TxnOutcome::aborted ||
            (send.completion != nullptr && send.completion->type == OpType::fail)) {
            continue;  // a failed send is judged as a write that did not happen, below
        }
        const auto read = readers.find({send.partition, send.value});
        if (read != readers.end()) {
            found.push_back(aborted_transaction_read(send, read->second));
        }
    }
    return found;
}

// A send that failed certainly wrote nothing: no consumer may read its value, and no log may hold it (in or
// outside a transaction: a failed transactional send never reached the log either).
std::vector<Anomaly> check_aborted_reads(const Facts& facts) {
    if (facts.failed_sends.empty() && facts.transactions.empty()) {
        return {};
    }
    const std::map<PartitionValue, std::vector<const Read*>> readers = readers_by_value(facts.reads);
    std::vector<Anomaly> found;
    for (const Operation* failed : facts.failed_sends) {
        const PartitionValue key{*failed->partition, *failed->value};
        std::vector<std::int64_t> log_offsets;
        if (const auto log = facts.logs.find(key.first); log != facts.logs.end()) {
            if (const auto held = log->second.offsets_of.find(key.second); held != log->second.offsets_of.end()) {
                log_offsets = held->second;
            }
        }
        const auto read = readers.find(key);
        if (read != readers.end() || !log_offsets.empty()) {
            found.push_back(aborted_read(*failed, read != readers.end() ? read->second : std::vector<const Read*>{},
                                         log_offsets));
        }
    }
    std::vector<Anomaly> transactional = check_aborted_transaction_reads(facts, readers);
    std::move(transactional.begin(), transactional.end(), std::back_inserter(found));
    return found;
}

// A value is duplicated when the offsets it is known at (in the committed log, read by a consumer, or
// acknowledged to its producer) are more than one.
std::vector<Anomaly> check_duplicates(const Facts& facts) {
    struct Known {
        std::vector<const Read*> reads;
        std::vector<const AckedSend*> acks;
        std::vector<std::int64_t> offsets;
        bool retried = false;  // a send carried it more than once, or with an unknown outcome
    };
    TextPairMap<Known> values;
    for (const Read& read : facts.reads) {
        Known& known = values[{read.partition, read.value}];
        known.reads.push_back(&read);
        known.offsets.push_back(read.offset);
    }
    for (const AckedSend& send : facts.sends) {
        if (send.offset && send.acks != Acks::none) {
            Known& known = values[{send.partition, send.value}];
            known.acks.push_back(&send);
            known.offsets.push_back(*send.offset);
        }
    }
    for (const auto& [partition, log] : facts.logs) {
        for (const Text value : log.values_at_several_offsets) {
            (void)values[{partition, value}];
        }
    }
    std::vector<PartitionValue> duplicated;
    for (auto& [key, known] : values) {
        if (const auto log = facts.logs.find(key.first); log != facts.logs.end()) {
            if (const auto held = log->second.offsets_of.find(key.second); held != log->second.offsets_of.end()) {
                known.offsets.insert(known.offsets.end(), held->second.begin(), held->second.end());
            }
        }
        std::sort(known.offsets.begin(), known.offsets.end());
        if (std::unique(known.offsets.begin(), known.offsets.end()) - known.offsets.begin() > 1) {
            duplicated.push_back(key);
        }
    }
    std::sort(duplicated.begin(), duplicated.end());  // the order of the report, never the hash table's
    for (const Operation& op : facts.history.operations) {
        if (op.f == "send" && op.partition && op.value && (op.attempts.value_or(1) > 1 || facts.outcome_unknown(op))) {
            if (const auto known = values.find({*op.partition, *op.value}); known != values.end()) {
                known->second.retried = true;
            }
        }
    }
    std::vector<Anomaly> found;
    for (const PartitionValue& key : duplicated) {
        const Known& known = values.at(key);
        const auto log = facts.logs.find(key.first);
        Anomaly anomaly = duplicate(key, log == facts.logs.end() ? nullptr : &log->second, known.reads, known.acks);
        if (known.retried) {
            anomaly.causes.emplace_back("retried-send");
        }
        found.push_back(std::move(anomaly));
    }
    return found;
}

std::vector<Anomaly> check_inconsistent_offsets(const Facts& facts) {
    std::vector<Anomaly> found;
    const std::vector<Observed> observed = observations_by_offset(facts.history, facts.sends, facts.reads);
    for (auto group = observed.begin(); group != observed.end();) {
        auto end = group + 1;
        bool differ = false;
        for (; end != observed.end() && end->partition_rank == group->partition_rank &&
               end->where.second == group->where.second;
             ++end) {
            differ = differ || end->observation.value != group->observation.value;
        }
        if (differ) {
            std::vector<Observation> observations;
            for (auto it = group; it != end; ++it) {
                observations.push_back(it->observation);
            }
            found.push_back(inconsistent_offset(group->where, observations));
        }
        group = end;
    }
    return found;
}

// Each producer's sends to a partition land in the order it invoked them: acknowledged offsets prove where a
// send landed, and so do reads of a send whose outcome was unknown (Jepsen's int-nonmonotonic-send).
std::vector<Anomaly> check_nonmonotonic_sends(const Facts& facts) {
    const std::vector<AckedSend> by_reads = sends_placed_by_reads(facts);
    std::vector<Anomaly> found;
    for (const auto& [key, sends] : sends_with_offsets_by_producer(facts.sends, by_reads)) {
        const AckedSend* highest = nullptr;
        for (const AckedSend* send : sends) {
            if (highest != nullptr && *send->offset < *highest->offset) {
                found.push_back(nonmonotonic_send(*highest, *send));
            } else if (highest == nullptr || *send->offset > *highest->offset) {
                highest = send;
            }
        }
    }
    return found;
}

std::vector<Anomaly> check_nonmonotonic_polls(const Facts& facts) {
    std::vector<Anomaly> found;
    for (const auto& [key, timeline] : facts.timelines) {
        walk_polls(timeline, [&found](const Operation& poll, const std::optional<Position>& position) {
            check_poll_order(poll, position, found);
        });
    }
    return found;
}

// `offsets` without those in `hidden` (null: none).
OffsetSet without(const OffsetSet& offsets, const OffsetSet* hidden) {
    if (hidden == nullptr) {
        return offsets;
    }
    OffsetSet left;
    std::set_difference(offsets.begin(), offsets.end(), hidden->begin(), hidden->end(), std::back_inserter(left));
    return left;
}

const OffsetSet* find_offsets(const std::map<Text, OffsetSet>& sets, Text partition) {
    const auto found = sets.find(partition);
    return found == sets.end() ? nullptr : &found->second;
}

// Every consumer passes over control records (transaction markers) without returning them; a read_committed
// consumer also passes over the records of transactions that did not commit (it returns no aborted record, and
// for an unknown outcome the history cannot tell).
std::vector<Anomaly> check_poll_skips(const Facts& facts) {
    const std::map<Text, OffsetSet> known = known_offsets(facts.logs, facts.reads, facts.sends);
    const HiddenOffsets hidden = hidden_offsets(facts);
    std::map<Text, std::pair<OffsetSet, OffsetSet>> visible;  // partition -> (to any consumer, to read_committed)
    for (const auto& [partition, offsets] : known) {
        OffsetSet to_all = without(offsets, find_offsets(hidden.control, partition));
        OffsetSet to_committed = without(to_all, find_offsets(hidden.invisible_to_read_committed, partition));
        visible.emplace(partition, std::pair{std::move(to_all), std::move(to_committed)});
    }
    // The records of transactions that an earlier aborted transaction's late request at the same epoch may have
    // aborted (transaction version 1): a read_committed consumer may pass over them.
    std::map<Text, std::set<std::int64_t>> late;
    for (const TxnSend& send : facts.transactions.sends()) {
        if (!send.transaction->after_same_epoch_abort) {
            continue;
        }
        if (send.completion != nullptr && send.completion->type == OpType::ok && send.completion->offset) {
            late[send.partition].insert(*send.completion->offset);
        }
        if (const auto log = facts.logs.find(send.partition); log != facts.logs.end()) {
            if (const auto held = log->second.offsets_of.find(send.value); held != log->second.offsets_of.end()) {
                late[send.partition].insert(held->second.begin(), held->second.end());
            }
        }
    }
    const OffsetSet none;
    std::vector<Anomaly> found;
    for (const auto& [key, timeline] : facts.timelines) {
        const auto here = visible.find(key.second);
        const auto late_here = late.find(key.second);
        walk_polls(timeline, [&](const Operation& poll, const std::optional<Position>& position) {
            const bool read_committed = poll.isolation == "read_committed";
            const OffsetSet& known_in_partition =
                here == visible.end() ? none : (read_committed ? here->second.second : here->second.first);
            check_poll_gaps(poll, position, known_in_partition,
                            read_committed && late_here != late.end() ? &late_here->second : nullptr, found);
        });
    }
    return found;
}

std::vector<Anomaly> check_replica_divergence(const Facts& facts) {
    const std::map<Text, LogIndex>& logs = facts.logs;
    std::vector<Anomaly> found;
    for (const ReplicaState& replica : facts.history.replicas) {
        const LogIndex& log = logs.at(replica.partition);
        const std::int64_t from = highest_log_start(facts.history, replica.partition);
        const std::int64_t to = std::min(log.log.high_watermark, replica.log_end_offset);
        const std::vector<Difference> found_here = differences(replica, log, from, to);
        if (!found_here.empty()) {
            found.push_back(replica_divergence(replica, log, from, to, found_here));
            continue;
        }
        const ReplicaState* committed = committed_replica(facts.history, replica.partition);
        if (committed != &replica && !replica.batches.empty() && !committed->batches.empty()) {
            const std::vector<HeaderDifference> headers = header_differences(replica, *committed, from, to);
            if (!headers.empty()) {
                found.push_back(header_divergence(replica, log, from, to, headers));
            }
        }
    }
    return found;
}

std::vector<Anomaly> check_vanished_reads(const Facts& facts) {
    const std::map<Text, LogIndex>& logs = facts.logs;
    const std::vector<Read>& all_reads = facts.reads;
    const KeyWrites& key_writes = facts.key_writes;
    std::map<PartitionOffsetValue, std::vector<const Read*>> vanished;
    for (const Read& read : all_reads) {
        const auto log = logs.find(read.partition);
        if (log == logs.end() || read.offset < log->second.log.log_start_offset) {
            continue;
        }
        if (log->second.log.compacted && read.key && !contains(log->second.offsets, read.offset) &&
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

std::vector<Anomaly> check_stuck(const Facts& facts) {
    std::vector<Anomaly> found;
    for (const Operation& op : facts.history.operations) {
        if (op.f == "stuck") {
            found.push_back(stuck(op));
        }
    }
    return found;
}

// An acknowledged DeleteRecords promises that the partition's records below its offset are gone for good:
// the final committed log starts at or above it (a leader elected from the ISR had moved its log start too).
std::vector<Anomaly> check_undone_deletes(const Facts& facts) {
    std::vector<Anomaly> found;
    for (const Operation& op : facts.history.operations) {
        if (op.f != "delete-records" || op.type != OpType::ok || !op.partition || !op.offset) {
            continue;
        }
        const auto log = facts.logs.find(*op.partition);
        if (log == facts.logs.end() || log->second.log.log_start_offset >= *op.offset) {
            continue;
        }
        found.push_back(Anomaly{
            .name = "undone-delete",
            .partition = *op.partition,
            .description = fmt::format("delete-records op {} ({}) of {} was acknowledged up to offset {}, but {} starts "
                                       "at {}",
                                       op.index, op.process, *op.partition, *op.offset, log_text(log->second.log),
                                       log->second.log.log_start_offset),
            .evidence = {{"index", op.index},
                         {"process", op.process},
                         {"offset", *op.offset},
                         {"committed_log", log_json(log->second.log)}}});
    }
    return found;
}

// Each key's latest record in a compacted committed log is its last acknowledged write (or later).
std::vector<Anomaly> check_latest_states(const Facts& facts) {
    const KeyWrites& key_writes = facts.key_writes;
    std::vector<Anomaly> found;
    for (const auto& [partition, log] : facts.logs) {
        if (!log.log.compacted) {
            continue;
        }
        for (const Text key : key_writes.keys(partition)) {
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
                .partition = std::string(partition),
                .description = fmt::format("key {} of {}: its last acknowledged write ({}) is at offset {}, but {} {}",
                                           json_quoted(key), partition, tombstone ? "a tombstone" : "a value",
                                           acked_offset, log_text(log.log), held),
                .evidence = {{"key", key},
                             {"acknowledged_offset", acked_offset},
                             {"tombstone", tombstone},
                             {"log_latest_offset", missing ? Json(nullptr) : Json(latest->second)},
                             {"committed_log", log_json(log.log)}}});
        }
    }
    return found;
}

Anomaly key_went_back(Text partition, const Operation& poll, const Record& record, std::int64_t acked_offset,
                      const std::pair<std::int64_t, const Operation*>& newer) {
    return Anomaly{.name = "compaction-consistency",
                   .partition = std::string(partition),
                   .description = fmt::format("poll op {} ({}) of {} read {} of key {}, acknowledged at offset {}, after "
                                              "poll op {} read the key's newer value acknowledged at offset {}",
                                              poll.index, poll.process, partition, json_quoted(*record.value),
                                              json_quoted(*record.key), acked_offset, newer.second->index, newer.first),
                   .evidence = {{"process", poll.process},
                                {"poll_index", poll.index},
                                {"key", *record.key},
                                {"value", *record.value},
                                {"acknowledged_offset", acked_offset},
                                {"newer_poll_index", newer.second->index},
                                {"newer_acknowledged_offset", newer.first}}};
}

// A consumer of a compacted partition never sees a key's older value after its newer one (between two
// seeks or assigns).
std::vector<Anomaly> check_key_order(const Facts& facts) {
    std::vector<Anomaly> found;
    if (std::none_of(facts.logs.begin(), facts.logs.end(), [](const auto& log) { return log.second.log.compacted; })) {
        return found;
    }
    std::map<std::pair<Text, Text>, std::int64_t> acked_offset_of;  // (partition, value)
    for (const AckedSend& send : facts.sends) {
        if (send.offset) {
            acked_offset_of.emplace(std::pair{send.partition, send.value}, *send.offset);
        }
    }
    for (const auto& [key, timeline] : facts.timelines) {
        const auto log = facts.logs.find(key.second);
        if (log == facts.logs.end() || !log->second.log.compacted) {
            continue;
        }
        std::map<Text, std::pair<std::int64_t, const Operation*>> newest_seen;  // key -> (acked offset, poll)
        for (const Operation* op : timeline) {
            if (op->f != "poll") {
                newest_seen.clear();
                continue;
            }
            for (const Record& record : *op->records) {
                const auto acked = record.value && record.key ? acked_offset_of.find({key.second, *record.value})
                                                              : acked_offset_of.end();
                if (acked == acked_offset_of.end()) {
                    continue;
                }
                auto& seen = newest_seen[*record.key];
                if (seen.second != nullptr && acked->second < seen.first) {
                    found.push_back(key_went_back(key.second, *op, record, acked->second, seen));
                } else if (seen.second == nullptr || acked->second > seen.first) {
                    seen = {acked->second, op};
                }
            }
        }
    }
    return found;
}

// Each key's latest state in a replica's records below `end`: its latest record's offset and value (no
// value: a tombstone, the key is deleted).
std::map<Text, std::pair<std::int64_t, std::optional<Text>>> key_states(const ReplicaState& replica, std::int64_t end) {
    std::map<Text, std::pair<std::int64_t, std::optional<Text>>> states;
    for (const Record& record : replica.records) {
        if (record.offset < end && record.key) {
            states[*record.key] = {record.offset, record.value ? std::optional<Text>(*record.value) : std::nullopt};
        }
    }
    return states;
}

Json key_state_json(const std::map<Text, std::pair<std::int64_t, std::optional<Text>>>& states, Text key) {
    const auto found = states.find(key);
    if (found == states.end()) {
        return nullptr;
    }
    return {{"offset", found->second.first},
            {"value", found->second.second ? Json(*found->second.second) : Json(nullptr)}};
}

// A caught-up replica of a compacted partition (its log reaches the committed high watermark) agrees with
// the committed log on each key's latest state below the high watermark: the same value, or deleted (a
// tombstone or no record at all; replicas clean tombstones on their own). One anomaly per replica and key.
std::vector<Anomaly> check_replica_key_states(const Facts& facts) {
    std::vector<Anomaly> found;
    for (const ReplicaState& replica : facts.history.replicas) {
        const ReplicaState* committed = committed_replica(facts.history, replica.partition);
        if (!replica.compacted || committed == nullptr || committed == &replica ||
            replica.log_end_offset < committed->high_watermark) {
            continue;
        }
        const auto mine = key_states(replica, committed->high_watermark);
        const auto theirs = key_states(*committed, committed->high_watermark);
        std::set<Text> keys;
        for (const auto* states : {&mine, &theirs}) {
            for (const auto& [key, state] : *states) {
                keys.insert(key);
            }
        }
        for (const Text key : keys) {
            const auto value_of = [key](const auto& states) {
                const auto state = states.find(key);
                return state == states.end() ? std::optional<Text>() : state->second.second;
            };
            if (value_of(mine) == value_of(theirs)) {
                continue;
            }
            found.push_back(Anomaly{
                .name = "compaction-consistency",
                .partition = replica.partition,
                .description = fmt::format("key {} of {}: replica {}, caught up, disagrees with the committed log (replica "
                                           "{}) on its latest state below the high watermark {}",
                                           json_quoted(key), replica.partition, replica.replica, committed->replica,
                                           committed->high_watermark),
                .evidence = {{"key", key},
                             {"replica", replica.replica},
                             {"replica_latest", key_state_json(mine, key)},
                             {"committed_replica", committed->replica},
                             {"committed_latest", key_state_json(theirs, key)}}});
        }
    }
    return found;
}

std::vector<Anomaly> check_compaction_consistency(const Facts& facts) {
    std::vector<Anomaly> found = check_latest_states(facts);
    std::vector<Anomaly> replicas = check_replica_key_states(facts);
    std::move(replicas.begin(), replicas.end(), std::back_inserter(found));
    std::vector<Anomaly> order = check_key_order(facts);
    std::move(order.begin(), order.end(), std::back_inserter(found));
    return found;
}


}  // namespace

nlohmann::json anomaly_json(const Anomaly& anomaly) {
    nlohmann::json json = {{"name", anomaly.name},
                           {"partition", anomaly.partition},
                           {"description", anomaly.description},
                           {"evidence", anomaly.evidence}};
    if (!anomaly.causes.empty()) {
        json["causes"] = anomaly.causes;
    }
    return json;
}

std::vector<Anomaly> check_removals_of(const Facts& facts) {
    return check_removals(facts.history);
}

std::vector<Anomaly> check_unavailable_of(const Facts& facts) {
    return check_unavailable(facts.history);
}

std::vector<Anomaly> check_zombie_writes_of(const Facts& facts) {
    return check_zombie_writes(facts.history);
}

std::vector<Anomaly> check_eos_output_of(const Facts& facts) {
    return check_eos_output(facts.history);
}

std::vector<Anomaly> check_group_commits_of(const Facts& facts) {
    std::vector<Anomaly> found = check_split_ownership(facts.history);
    for (auto* checker : {check_nonmonotonic_commits, check_zombie_commits, check_skipped_deliveries}) {
        std::vector<Anomaly> more = checker(facts.history);
        std::move(more.begin(), more.end(), std::back_inserter(found));
    }
    return found;
}

std::vector<Anomaly> check_hanging_transactions_of(const Facts& facts) {
    return check_hanging_transactions(facts.history);
}

std::vector<Anomaly> check(const History& history) {
    // A stream application's own topics (its output, repartition and changelog topics, named by the
    // `stream-final` line) hold values that repeat by design (counts, words): the checkers of value-unique
    // logs read the history without them, and the stream checkers read them whole.
    const History generic = without_stream_partitions(history);
    const Facts facts(generic);
    std::vector<Anomaly> found;
    const Checker checkers[] = {check_lost_writes,         check_duplicates,     check_inconsistent_offsets,
                                check_nonmonotonic_sends,  check_nonmonotonic_polls, check_poll_skips,
                                check_replica_divergence,  check_vanished_reads, check_aborted_reads,
                                check_undone_deletes,      check_stuck,          check_compaction_consistency,
                                check_removals_of,         check_unavailable_of, check_zombie_writes_of,
                                check_hanging_transactions_of, check_uncommitted_reads, check_torn_transactions,
                                check_spurious_fences,     check_eos_output_of,  check_group_commits_of};
    for (const Checker checker : checkers) {
        std::vector<Anomaly> more = checker(facts);
        std::move(more.begin(), more.end(), std::back_inserter(found));
    }
    for (auto* checker : {check_stream_output, check_stream_state}) {
        std::vector<Anomaly> more = checker(history);
        std::move(more.begin(), more.end(), std::back_inserter(found));
    }
    return found;
}

std::vector<Anomaly> check_lost_writes(const History& history) {
    return check_lost_writes(Facts(history));
}

std::vector<Anomaly> check_duplicates(const History& history) {
    return check_duplicates(Facts(history));
}

std::vector<Anomaly> check_inconsistent_offsets(const History& history) {
    return check_inconsistent_offsets(Facts(history));
}

std::vector<Anomaly> check_nonmonotonic_sends(const History& history) {
    return check_nonmonotonic_sends(Facts(history));
}

std::vector<Anomaly> check_nonmonotonic_polls(const History& history) {
    return check_nonmonotonic_polls(Facts(history));
}

std::vector<Anomaly> check_poll_skips(const History& history) {
    return check_poll_skips(Facts(history));
}

std::vector<Anomaly> check_replica_divergence(const History& history) {
    return check_replica_divergence(Facts(history));
}

std::vector<Anomaly> check_vanished_reads(const History& history) {
    return check_vanished_reads(Facts(history));
}

std::vector<Anomaly> check_stuck(const History& history) {
    return check_stuck(Facts(history));
}

std::vector<Anomaly> check_compaction_consistency(const History& history) {
    return check_compaction_consistency(Facts(history));
}

std::vector<Anomaly> check_aborted_reads(const History& history) {
    return check_aborted_reads(Facts(history));
}

std::vector<Anomaly> check_undone_deletes(const History& history) {
    return check_undone_deletes(Facts(history));
}

}  // namespace eosim::model
