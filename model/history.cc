#include "model/history.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <istream>
#include <limits>
#include <ostream>

namespace eosim::model {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// Keeps a message on one line whatever a parser or a value put into it.
std::string one_line(std::string text) {
    for (char& c : text) {
        if (c == '\n' || c == '\r') {
            c = ' ';
        }
    }
    return text;
}

// The fields of one JSON line, read with checks; every problem throws HistoryError naming the line.
class LineFields {
public:
    LineFields(std::size_t line_number, const Json& object) : line_number_(line_number), object_(object) {}

    [[noreturn]] void fail(const std::string& problem) const { throw HistoryError(line_number_, problem); }

    [[nodiscard]] bool has(const char* name) const { return object_.contains(name); }
    [[nodiscard]] bool is_null(const char* name) const { return has(name) && object_.at(name).is_null(); }

    [[nodiscard]] std::string required_string(const char* name) const {
        require(name);
        return *optional_string(name);
    }

    [[nodiscard]] std::optional<std::string> optional_string(const char* name) const {
        if (!has(name)) {
            return std::nullopt;
        }
        const Json& field = object_.at(name);
        if (!field.is_string()) {
            fail(fmt::format("\"{}\" must be a string", name));
        }
        return field.get<std::string>();
    }

    [[nodiscard]] std::int64_t required_int(const char* name) const {
        require(name);
        return *optional_int(name);
    }

    [[nodiscard]] std::optional<std::int64_t> optional_int(const char* name) const {
        if (!has(name)) {
            return std::nullopt;
        }
        return to_int(object_.at(name), fmt::format("\"{}\"", name));
    }

    [[nodiscard]] std::uint64_t required_unsigned(const char* name) const {
        require(name);
        const Json& field = object_.at(name);
        if (!field.is_number_unsigned()) {
            fail(fmt::format("\"{}\" must be a non-negative integer", name));
        }
        return field.get<std::uint64_t>();
    }

    [[nodiscard]] bool required_bool(const char* name) const {
        require(name);
        const Json& field = object_.at(name);
        if (!field.is_boolean()) {
            fail(fmt::format("\"{}\" must be true or false", name));
        }
        return field.get<bool>();
    }

    [[nodiscard]] std::vector<Record> required_records(const char* name) const {
        require(name);
        return *optional_records(name);
    }

    [[nodiscard]] std::optional<std::vector<Record>> optional_records(const char* name) const {
        if (!has(name)) {
            return std::nullopt;
        }
        const Json& field = object_.at(name);
        if (!field.is_array()) {
            fail(fmt::format("\"{}\" must be an array of [offset, value], [offset, value, key] or [offset, value, key, "
                             "timestamp] arrays",
                             name));
        }
        std::vector<Record> records;
        records.reserve(field.size());
        for (std::size_t i = 0; i < field.size(); ++i) {
            records.push_back(to_record(field[i], fmt::format("\"{}\"[{}]", name, i)));
        }
        return records;
    }

    [[nodiscard]] std::optional<std::vector<std::string>> optional_strings(const char* name) const {
        if (!has(name)) {
            return std::nullopt;
        }
        const Json& field = object_.at(name);
        if (!field.is_array() || !std::all_of(field.begin(), field.end(), [](const Json& e) { return e.is_string(); })) {
            fail(fmt::format("\"{}\" must be an array of strings", name));
        }
        return field.get<std::vector<std::string>>();
    }

    [[nodiscard]] std::optional<std::map<std::string, std::int64_t>> optional_offsets(const char* name) const {
        if (!has(name)) {
            return std::nullopt;
        }
        const Json& field = object_.at(name);
        if (!field.is_object()) {
            fail(fmt::format("\"{}\" must be an object of partition: offset", name));
        }
        std::map<std::string, std::int64_t> offsets;
        for (const auto& [partition, offset] : field.items()) {
            offsets[partition] = to_int(offset, fmt::format("\"{}\".\"{}\"", name, partition));
        }
        return offsets;
    }

    [[nodiscard]] std::vector<BatchHeader> optional_batches(const char* name) const {
        std::vector<BatchHeader> batches;
        if (!has(name)) {
            return batches;
        }
        const Json& field = object_.at(name);
        if (!field.is_array()) {
            fail(fmt::format("\"{}\" must be an array of batch headers", name));
        }
        for (std::size_t i = 0; i < field.size(); ++i) {
            batches.push_back(to_batch(field[i], fmt::format("\"{}\"[{}]", name, i)));
        }
        return batches;
    }

    void require(const char* name) const {
        if (!has(name)) {
            fail(fmt::format("missing \"{}\"", name));
        }
    }

private:
    [[nodiscard]] std::int64_t to_int(const Json& field, const std::string& what) const {
        if (!field.is_number_integer()) {
            fail(fmt::format("{} must be an integer", what));
        }
        if (field.is_number_unsigned() &&
            field.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            fail(fmt::format("{} is out of the range of a 64-bit signed integer", what));
        }
        return field.get<std::int64_t>();
    }

    // [base_offset, last_offset, leader_epoch, producer_id, producer_epoch, base_sequence, transactional, control]
    [[nodiscard]] BatchHeader to_batch(const Json& item, const std::string& what) const {
        if (!item.is_array() || (item.size() != 8 && item.size() != 9) || !item[6].is_boolean() ||
            !item[7].is_boolean() ||
            (item.size() == 9 && !(item[8].is_string() && (item[8] == "commit" || item[8] == "abort")))) {
            fail(fmt::format("{} must be [base_offset, last_offset, leader_epoch, producer_id, producer_epoch, "
                             "base_sequence, transactional, control] or those and \"commit\" or \"abort\"",
                             what));
        }
        const auto narrow = [&](const Json& field, const char* part) {
            const std::int64_t value = to_int(field, what + " " + part);
            if (value < std::numeric_limits<std::int32_t>::min() || value > std::numeric_limits<std::int32_t>::max()) {
                fail(fmt::format("{} {} is out of the range of a 32-bit integer", what, part));
            }
            return static_cast<std::int32_t>(value);
        };
        return BatchHeader{.base_offset = to_int(item[0], what + " base_offset"),
                           .last_offset = to_int(item[1], what + " last_offset"),
                           .leader_epoch = narrow(item[2], "leader_epoch"),
                           .producer_id = to_int(item[3], what + " producer_id"),
                           .producer_epoch = narrow(item[4], "producer_epoch"),
                           .base_sequence = narrow(item[5], "base_sequence"),
                           .transactional = item[6].get<bool>(),
                           .control = item[7].get<bool>(),
                           .marker = item.size() == 9 ? std::optional(item[8].get<std::string>()) : std::nullopt};
    }

    [[nodiscard]] Record to_record(const Json& pair, const std::string& what) const {
        if (!pair.is_array() || pair.size() < 2 || pair.size() > 4 || !(pair[1].is_string() || pair[1].is_null()) ||
            (pair.size() == 3 && !pair[2].is_string()) || (pair.size() == 4 && !(pair[2].is_string() || pair[2].is_null()))) {
            fail(fmt::format("{} must be [offset, value], [offset, value, key] or [offset, value, key, timestamp] "
                             "(integer, string or null, string (or null with a timestamp), integer)",
                             what));
        }
        Record record{.offset = to_int(pair[0], what + " offset"), .value = std::nullopt, .key = std::nullopt};
        if (pair[1].is_string()) {
            record.value = pair[1].get<std::string>();
        }
        if (pair.size() >= 3 && pair[2].is_string()) {
            record.key = pair[2].get<std::string>();
        }
        if (pair.size() == 4) {
            record.timestamp = to_int(pair[3], what + " timestamp");
        }
        return record;
    }

    std::size_t line_number_;
    const Json& object_;
};

OpType parse_op_type(const LineFields& fields) {
    const std::string text = fields.required_string("type");
    for (const OpType type : {OpType::invoke, OpType::ok, OpType::fail, OpType::info}) {
        if (text == to_string(type)) {
            return type;
        }
    }
    fields.fail("\"type\" must be one of invoke, ok, fail, info");
}

std::optional<Acks> parse_acks(const LineFields& fields) {
    const std::optional<std::string> text = fields.optional_string("acks");
    if (!text) {
        return std::nullopt;
    }
    for (const Acks acks : {Acks::all, Acks::leader, Acks::none}) {
        if (*text == to_string(acks)) {
            return acks;
        }
    }
    fields.fail("\"acks\" must be one of \"all\", \"1\", \"0\"");
}

// The fields the checkers rely on for each function (docs/history-format.md, "Required fields").
void require_fields_of_function(const LineFields& fields, const Operation& op) {
    if (op.f == "send") {
        fields.require("partition");
        fields.require("value");
        fields.require("acks");
        if (!op.value && !op.key) {
            fields.fail("a tombstone (\"value\": null) needs a \"key\"");
        }
    }
    // The transaction checkers tell transactions apart by label and producer instances by transactional id.
    // (A `commit` or `abort` without `txn` is not a transaction's: a consumer's offset commit may be called so.)
    if (op.f == "begin") {
        fields.require("txn");
    }
    if (op.f == "init-txn") {
        fields.require("transactional_id");
    }
    if (op.type != OpType::ok) {
        return;
    }
    if (op.f == "poll") {
        fields.require("partition");
        fields.require("records");
    }
    if (op.f == "assign" || op.f == "seek") {
        fields.require("partition");
        fields.require("offset");
    }
}

Operation parse_operation(const LineFields& fields) {
    Operation op;
    op.index = fields.required_unsigned("index");
    op.time = fields.required_int("time");
    op.process = fields.required_string("process");
    op.type = parse_op_type(fields);
    op.f = fields.required_string("f");
    op.partition = fields.optional_string("partition");
    op.value = op.f == "send" && fields.is_null("value") ? std::nullopt : fields.optional_string("value");
    op.key = fields.optional_string("key");
    op.acks = parse_acks(fields);
    op.offset = fields.optional_int("offset");
    op.records = fields.optional_records("records");
    op.reason = fields.optional_string("reason");
    op.error = fields.optional_string("error");
    op.attempts = fields.optional_int("attempts");
    if (op.attempts && *op.attempts < 1) {
        fields.fail("\"attempts\" must be at least 1");
    }
    op.txn = fields.optional_string("txn");
    op.transactional_id = fields.optional_string("transactional_id");
    op.producer_id = fields.optional_int("producer_id");
    op.producer_epoch = fields.optional_int("producer_epoch");
    op.isolation = fields.optional_string("isolation");
    if (op.isolation && *op.isolation != "read_committed" && *op.isolation != "read_uncommitted") {
        fields.fail("\"isolation\" must be \"read_committed\" or \"read_uncommitted\"");
    }
    op.timeout_ms = fields.optional_int("timeout_ms");
    op.group = fields.optional_string("group");
    op.member_id = fields.optional_string("member_id");
    op.generation = fields.optional_int("generation");
    op.partitions = fields.optional_strings("partitions");
    op.offsets = fields.optional_offsets("offsets");
    require_fields_of_function(fields, op);
    return op;
}

ReplicaState parse_replica(const LineFields& fields) {
    ReplicaState replica;
    replica.partition = fields.required_string("partition");
    replica.replica = fields.required_string("replica");
    replica.leader = fields.required_bool("leader");
    replica.compacted = fields.has("compacted") && fields.required_bool("compacted");
    replica.log_start_offset = fields.required_int("log_start_offset");
    replica.high_watermark = fields.required_int("high_watermark");
    replica.log_end_offset = fields.required_int("log_end_offset");
    replica.records = fields.required_records("records");
    replica.batches = fields.optional_batches("batches");
    return replica;
}

Removal parse_removal(const LineFields& fields) {
    Removal removal;
    removal.time = fields.required_int("time");
    removal.partition = fields.required_string("partition");
    removal.replica = fields.required_string("replica");
    removal.cause = fields.required_string("cause");
    removal.from = fields.required_int("from");
    removal.to = fields.required_int("to");
    removal.high_watermark = fields.required_int("high_watermark");
    removal.limit = fields.optional_int("limit").value_or(-1);
    removal.key = fields.optional_string("key");
    removal.timestamp_ms = fields.optional_int("timestamp_ms").value_or(-1);
    removal.removed_at_ms = fields.optional_int("removed_at_ms").value_or(-1);
    removal.delete_retention_ms = fields.optional_int("delete_retention_ms").value_or(-1);
    removal.latest = fields.has("latest") && fields.required_bool("latest");
    if (removal.to < removal.from) {
        fields.fail("\"to\" must not be below \"from\"");
    }
    return removal;
}

// nlohmann's message without its prefix ("[json.exception...] parse error at line 1, column 5: ").
std::string parse_reason(const Json::parse_error& error) {
    const std::string message = error.what();
    const std::size_t column = message.find("column ");
    const std::size_t reason = column == std::string::npos ? std::string::npos : message.find(": ", column);
    return reason == std::string::npos ? message : message.substr(reason + 2);
}

// The JSON value of one line, or HistoryError for malformed JSON.
Json parse_line(std::size_t line_number, const std::string& line) {
    try {
        Json object = Json::parse(line);
        if (!object.is_object()) {
            throw HistoryError(line_number, "a line must be a JSON object");
        }
        return object;
    } catch (const Json::parse_error& error) {
        throw HistoryError(line_number, fmt::format("malformed JSON at byte {}: {}", error.byte, parse_reason(error)));
    }
}

bool is_blank(const std::string& line) {
    return line.find_first_not_of(" \t\r") == std::string::npos;
}

void add_line(History& history, std::size_t line_number, const std::string& line, bool first) {
    const Json object = parse_line(line_number, line);
    const LineFields fields(line_number, object);
    const std::string kind = fields.required_string("kind");
    if (kind == "meta") {
        if (!first) {
            fields.fail("the meta line must be the history's first line");
        }
        const std::int64_t format = fields.required_int("format");
        if (format < 1 || format > history_format) {
            fields.fail(fmt::format("\"format\" {} is not one this eosim reads (1 to {}); a newer eosim wrote it?", format,
                                    history_format));
        }
        return;
    }
    if (kind == "op") {
        Operation op = parse_operation(fields);
        if (!history.operations.empty() && op.index <= history.operations.back().index) {
            fields.fail(fmt::format("\"index\" {} is not greater than the previous operation's index {}", op.index,
                                    history.operations.back().index));
        }
        history.operations.push_back(std::move(op));
        return;
    }
    if (kind == "replica") {
        history.replicas.push_back(parse_replica(fields));
        return;
    }
    if (kind == "removal") {
        history.removals.push_back(parse_removal(fields));
        return;
    }
    if (kind == "health") {
        HealthChange change{.time = fields.required_int("time"), .healthy = fields.required_bool("healthy")};
        if (!history.health.empty() && change.time < history.health.back().time) {
            fields.fail(fmt::format("\"time\" {} is before the previous health line's {}", change.time,
                                    history.health.back().time));
        }
        history.health.push_back(change);
        return;
    }
    if (kind == "clock") {
        ClockChange change{.time = fields.required_int("time"),
                           .node = fields.required_string("node"),
                           .offset_ns = fields.required_int("offset_ns"),
                           .drift_ppm = fields.optional_int("drift_ppm").value_or(0)};
        if (!history.clocks.empty() && change.time < history.clocks.back().time) {
            fields.fail(fmt::format("\"time\" {} is before the previous clock line's {}", change.time,
                                    history.clocks.back().time));
        }
        history.clocks.push_back(std::move(change));
        return;
    }
    fields.fail("\"kind\" must be one of meta, op, replica, removal, health, clock");
}

OrderedJson records_json(const std::vector<Record>& records) {
    OrderedJson array = OrderedJson::array();
    for (const Record& record : records) {
        OrderedJson item = OrderedJson::array({record.offset});
        item.push_back(record.value ? OrderedJson(*record.value) : OrderedJson(nullptr));
        if (record.key || record.timestamp) {
            item.push_back(record.key ? OrderedJson(*record.key) : OrderedJson(nullptr));
        }
        if (record.timestamp) {
            item.push_back(*record.timestamp);
        }
        array.push_back(std::move(item));
    }
    return array;
}

OrderedJson operation_json(const Operation& op) {
    OrderedJson line = {{"kind", "op"},          {"index", op.index},          {"time", op.time},
                        {"process", op.process}, {"type", to_string(op.type)}, {"f", op.f}};
    const auto put = [&line](const char* name, const auto& field) {
        if (field) {
            line[name] = *field;
        }
    };
    put("partition", op.partition);
    put("value", op.value);
    if (op.f == "send" && !op.value) {
        line["value"] = nullptr;  // a tombstone
    }
    put("key", op.key);
    if (op.acks) {
        line["acks"] = to_string(*op.acks);
    }
    put("offset", op.offset);
    if (op.records) {
        line["records"] = records_json(*op.records);
    }
    put("reason", op.reason);
    put("error", op.error);
    put("attempts", op.attempts);
    put("txn", op.txn);
    put("transactional_id", op.transactional_id);
    put("producer_id", op.producer_id);
    put("producer_epoch", op.producer_epoch);
    put("isolation", op.isolation);
    put("timeout_ms", op.timeout_ms);
    put("group", op.group);
    put("member_id", op.member_id);
    put("generation", op.generation);
    put("partitions", op.partitions);
    if (op.offsets) {
        line["offsets"] = OrderedJson(*op.offsets);
    }
    return line;
}

OrderedJson replica_json(const ReplicaState& replica) {
    OrderedJson line = {{"kind", "replica"},
                        {"partition", replica.partition},
                        {"replica", replica.replica},
                        {"leader", replica.leader}};
    if (replica.compacted) {
        line["compacted"] = true;
    }
    line["log_start_offset"] = replica.log_start_offset;
    line["high_watermark"] = replica.high_watermark;
    line["log_end_offset"] = replica.log_end_offset;
    line["records"] = records_json(replica.records);
    if (!replica.batches.empty()) {
        OrderedJson batches = OrderedJson::array();
        for (const BatchHeader& batch : replica.batches) {
            OrderedJson item = OrderedJson::array({batch.base_offset, batch.last_offset, batch.leader_epoch,
                                                   batch.producer_id, batch.producer_epoch, batch.base_sequence,
                                                   batch.transactional, batch.control});
            if (batch.marker) {
                item.push_back(*batch.marker);
            }
            batches.push_back(std::move(item));
        }
        line["batches"] = std::move(batches);
    }
    return line;
}

OrderedJson removal_json(const Removal& removal) {
    OrderedJson line = {{"kind", "removal"},           {"time", removal.time},
                        {"partition", removal.partition}, {"replica", removal.replica},
                        {"cause", removal.cause},         {"from", removal.from},
                        {"to", removal.to},               {"high_watermark", removal.high_watermark}};
    if (removal.limit >= 0) {
        line["limit"] = removal.limit;
    }
    if (removal.cause == "cleaner") {
        if (removal.key) {
            line["key"] = *removal.key;
        }
        line["timestamp_ms"] = removal.timestamp_ms;
        line["removed_at_ms"] = removal.removed_at_ms;
        line["delete_retention_ms"] = removal.delete_retention_ms;
        line["latest"] = removal.latest;
    }
    return line;
}

void write_line(std::ostream& output, const OrderedJson& line) {
    output << line.dump(-1, ' ', false, OrderedJson::error_handler_t::replace) << '\n';
}

}  // namespace

std::string_view to_string(OpType type) {
    switch (type) {
        case OpType::invoke:
            return "invoke";
        case OpType::ok:
            return "ok";
        case OpType::fail:
            return "fail";
        case OpType::info:
            return "info";
    }
    return "unknown";
}

std::string_view to_string(Acks acks) {
    switch (acks) {
        case Acks::all:
            return "all";
        case Acks::leader:
            return "1";
        case Acks::none:
            return "0";
    }
    return "unknown";
}

HistoryError::HistoryError(std::size_t line_number, const std::string& problem)
    : std::runtime_error(one_line(fmt::format("line {}: {}", line_number, problem))), line_number_(line_number) {}

History read_history(std::istream& input) {
    History history;
    std::string line;
    std::size_t line_number = 0;
    bool first = true;
    while (std::getline(input, line)) {
        ++line_number;
        if (!is_blank(line)) {
            add_line(history, line_number, line, first);
            first = false;
        }
    }
    return history;
}

void write_history(std::ostream& output, const History& history) {
    write_line(output, OrderedJson{{"kind", "meta"}, {"format", history_format}});
    for (const Operation& op : history.operations) {
        write_line(output, operation_json(op));
    }
    for (const ReplicaState& replica : history.replicas) {
        write_line(output, replica_json(replica));
    }
    for (const Removal& removal : history.removals) {
        write_line(output, removal_json(removal));
    }
    for (const HealthChange& change : history.health) {
        write_line(output, OrderedJson{{"kind", "health"}, {"time", change.time}, {"healthy", change.healthy}});
    }
    for (const ClockChange& change : history.clocks) {
        write_line(output, OrderedJson{{"kind", "clock"},
                                       {"time", change.time},
                                       {"node", change.node},
                                       {"offset_ns", change.offset_ns},
                                       {"drift_ppm", change.drift_ppm}});
    }
}

std::int64_t local_time(const History& history, std::string_view node, std::int64_t time) {
    const ClockChange* last = nullptr;
    for (const ClockChange& change : history.clocks) {
        if (change.time > time) {
            break;
        }
        if (change.node == node) {
            last = &change;
        }
    }
    if (last == nullptr) {
        return time;
    }
    const auto drifted = static_cast<double>(time - last->time) * static_cast<double>(last->drift_ppm) * 1e-6;
    return time + last->offset_ns + static_cast<std::int64_t>(drifted);
}

// The replica whose records are the committed log: the first leader, else the first with the highest watermark.
const ReplicaState* committed_replica(const History& history, std::string_view partition) {
    const ReplicaState* best = nullptr;
    for (const ReplicaState& replica : history.replicas) {
        if (replica.partition != partition) {
            continue;
        }
        if (replica.leader) {
            return &replica;
        }
        if (best == nullptr || replica.high_watermark > best->high_watermark) {
            best = &replica;
        }
    }
    return best;
}

std::optional<CommittedLog> committed_log(const History& history, std::string_view partition) {
    const ReplicaState* replica = committed_replica(history, partition);
    if (replica == nullptr) {
        return std::nullopt;
    }
    CommittedLog log{.partition = replica->partition,
                     .replica = replica->replica,
                     .compacted = replica->compacted,
                     .log_start_offset = replica->log_start_offset,
                     .high_watermark = replica->high_watermark,
                     .records = {}};
    for (const Record& record : replica->records) {
        if (record.offset >= replica->log_start_offset && record.offset < replica->high_watermark) {
            log.records.push_back(record);
        }
    }
    return log;
}

}  // namespace eosim::model
