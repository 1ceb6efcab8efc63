#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace eosim::streams_core {

// A record as a processor sees it: key and value as bytes (no serdes: the applications read and write
// strings), and its timestamp, which drives stream time, windows and punctuation.
struct Record {
    std::optional<std::string> key;
    std::optional<std::string> value;  // none: a tombstone (a table's delete)
    std::int64_t timestamp_ms = 0;

    bool operator==(const Record&) const = default;
};

// Where a record came from: the input partition and offset of the record a task is processing.
struct RecordOrigin {
    std::string topic;
    std::int32_t partition = -1;
    std::int64_t offset = -1;
};

// A task: one sub-topology over one partition number of its source topics (Kafka's TaskId).
struct TaskId {
    std::int32_t subtopology = 0;
    std::int32_t partition = 0;

    auto operator<=>(const TaskId&) const = default;
};

}  // namespace eosim::streams_core
