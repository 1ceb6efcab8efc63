#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/history.h"

// A stream application's data in and out as JSON lines (docs/apps.md): `eosim run … --input TOPIC=FILE`
// feeds records to an input topic instead of the generator; `--dump TOPIC=FILE` writes a topic's
// committed records at the end of the run.

namespace eosim::scenarios {

class InputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// One record of an --input file: {"key": …, "value": …, "timestamp": …, "partition": …}, every field
// but "value" optional ("value" may be null: a tombstone, which needs a key).
struct InputRecord {
    std::string topic;
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::optional<std::int64_t> timestamp_ms;
    std::optional<std::int32_t> partition;
};

// The records of one file for `topic`, in its order. A malformed line throws InputError naming `source`,
// the line and what is wrong with it.
[[nodiscard]] std::vector<InputRecord> read_input(const std::string& topic, std::istream& in, const std::string& source);

// The records of every file in the order one producer sends them: each file's in its own order, and of
// the files' next records the one with the lowest timestamp first (a record without one counts as its
// file's previous record's, or 0), the earlier file on a tie.
[[nodiscard]] std::vector<InputRecord> merge_inputs(const std::vector<std::vector<InputRecord>>& files);

// Every committed record of `topic` (each partition's committed replica: records of committed
// transactions and plain batches, below the high watermark), partition by partition in offset order, as
// JSON lines {"partition", "offset", "key", "value", "timestamp"}.
void write_dump(const model::History& history, const std::string& topic, std::int32_t partitions, std::ostream& out);

}  // namespace eosim::scenarios
