#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/checkers.h"

// Consumer groups and the consume-transform-produce loop (docs/anomalies.md, docs/groups.md): the
// application's function of an input record, and the checkers of the group operations.

namespace eosim::model {

// One output record of the consume-transform-produce application.
struct CtpOutput {
    std::string key;
    std::string value;

    friend bool operator==(const CtpOutput&, const CtpOutput&) = default;
};

// f(record): the outputs of the input record at `offset` of `partition` with `value` (its padding of
// '.' dropped): 1 to 3 records, keyed so that they spread over the output partitions, each value naming
// its input ("<partition>@<offset>#<j>/<count>:<value>"). The application writes each value with
// "|<transaction label>" after it, which the checker drops.
[[nodiscard]] std::vector<CtpOutput> ctp_outputs(std::string_view partition, std::int64_t offset,
                                                 std::string_view value);

// Where an output value came from: its input partition and offset, its number j of count.
struct CtpSource {
    std::string partition;
    std::int64_t offset = 0;
    std::int64_t j = 0;
    std::int64_t count = 0;
};
[[nodiscard]] std::optional<CtpSource> ctp_source(std::string_view output_value);

// eos-output-mismatch: the "ctp-final" line (the group's final committed offsets of the input partitions,
// and the output partitions) against the input logs and the output that read_committed consumers read.
std::vector<Anomaly> check_eos_output(const History& history);

}  // namespace eosim::model
