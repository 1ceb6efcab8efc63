#include "scenarios/stream_io.h"

#include <algorithm>
#include <istream>
#include <limits>
#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "model/streams.h"

namespace eosim::scenarios {

namespace {

using Json = nlohmann::json;

InputRecord parse_line(const std::string& topic, const std::string& line, const std::string& where) {
    Json object;
    try {
        object = Json::parse(line);
    } catch (const Json::parse_error& error) {
        throw InputError(fmt::format("{}: not JSON: {}", where, error.what()));
    }
    if (!object.is_object()) {
        throw InputError(fmt::format("{}: a record must be a JSON object", where));
    }
    for (const auto& [name, field] : object.items()) {
        if (name != "key" && name != "value" && name != "timestamp" && name != "partition") {
            throw InputError(fmt::format("{}: unknown field \"{}\" (known: key, value, timestamp, partition)", where, name));
        }
    }
    InputRecord record{.topic = topic, .key = std::nullopt, .value = std::nullopt, .timestamp_ms = std::nullopt,
                       .partition = std::nullopt};
    if (!object.contains("value")) {
        throw InputError(fmt::format("{}: missing \"value\" (null for a tombstone)", where));
    }
    if (!object["value"].is_null()) {
        if (!object["value"].is_string()) {
            throw InputError(fmt::format("{}: \"value\" must be a string or null", where));
        }
        record.value = object["value"].get<std::string>();
    }
    if (object.contains("key") && !object["key"].is_null()) {
        if (!object["key"].is_string()) {
            throw InputError(fmt::format("{}: \"key\" must be a string or null", where));
        }
        record.key = object["key"].get<std::string>();
    }
    if (!record.value && !record.key) {
        throw InputError(fmt::format("{}: a tombstone (\"value\": null) needs a \"key\"", where));
    }
    if (object.contains("timestamp")) {
        if (!object["timestamp"].is_number_integer() || object["timestamp"].get<std::int64_t>() < 0) {
            throw InputError(fmt::format("{}: \"timestamp\" must be an integer of milliseconds, at least 0", where));
        }
        record.timestamp_ms = object["timestamp"].get<std::int64_t>();
    }
    if (object.contains("partition")) {
        if (!object["partition"].is_number_integer() || object["partition"].get<std::int64_t>() < 0 ||
            object["partition"].get<std::int64_t>() > std::numeric_limits<std::int32_t>::max()) {
            throw InputError(fmt::format("{}: \"partition\" must be an integer, at least 0", where));
        }
        record.partition = static_cast<std::int32_t>(object["partition"].get<std::int64_t>());
    }
    return record;
}

}  // namespace

std::vector<InputRecord> read_input(const std::string& topic, std::istream& in, const std::string& source) {
    std::vector<InputRecord> records;
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;  // a blank line
        }
        records.push_back(parse_line(topic, line, fmt::format("{}:{}", source, number)));
    }
    return records;
}

std::vector<InputRecord> merge_inputs(const std::vector<std::vector<InputRecord>>& files) {
    // Each file in its own order; across files, the next record of the lowest timestamp first.
    std::vector<std::size_t> next(files.size(), 0);
    std::vector<std::int64_t> order(files.size(), 0);  // the ordering timestamp of each file's next record
    std::vector<InputRecord> merged;
    while (true) {
        std::optional<std::size_t> best;
        for (std::size_t f = 0; f < files.size(); ++f) {
            if (next[f] == files[f].size()) {
                continue;
            }
            const std::int64_t at = files[f][next[f]].timestamp_ms.value_or(order[f]);
            if (!best || at < files[*best][next[*best]].timestamp_ms.value_or(order[*best])) {
                best = f;
            }
        }
        if (!best) {
            return merged;
        }
        const InputRecord& record = files[*best][next[*best]++];
        order[*best] = record.timestamp_ms.value_or(order[*best]);
        merged.push_back(record);
    }
}

void write_dump(const model::History& history, const std::string& topic, std::int32_t partitions, std::ostream& out) {
    for (std::int32_t p = 0; p < partitions; ++p) {
        const std::string name = fmt::format("{}-{}", topic, p);
        const model::ReplicaState* replica = model::committed_replica(history, name);
        if (replica == nullptr) {
            continue;
        }
        const std::optional<std::vector<const model::Record*>> records = model::read_committed_records(*replica);
        if (!records) {
            continue;
        }
        for (const model::Record* record : *records) {
            nlohmann::ordered_json line{{"partition", p}, {"offset", record->offset}};
            line["key"] = record->key ? nlohmann::ordered_json(*record->key) : nlohmann::ordered_json(nullptr);
            line["value"] = record->value ? nlohmann::ordered_json(*record->value) : nlohmann::ordered_json(nullptr);
            if (record->timestamp) {
                line["timestamp"] = *record->timestamp;
            }
            out << line.dump() << '\n';
        }
    }
}

}  // namespace eosim::scenarios
