#pragma once

#include <cstdint>
#include <map>
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
// split-ownership: two members of one generation of a group were assigned the same partition ("assigned").
std::vector<Anomaly> check_split_ownership(const History& history);
// nonmonotonic-commit: a partition's committed offset for a group went backwards: the offsets of commits
// that completed ok (commit-offsets, and send-offsets of a transaction whose commit completed ok), in the
// order they completed.
std::vector<Anomaly> check_nonmonotonic_commits(const History& history);
// zombie-commit: a commit (as above) by a member in generation g for a partition that an "assigned" of a
// later generation had already given to another member before the commit was sent.
std::vector<Anomaly> check_zombie_commits(const History& history);
// skipped-delivery: a record below a group's final committed offset ("group-final") that no member of the
// group (a process with an "assigned" of it) ever polled.
std::vector<Anomaly> check_skipped_deliveries(const History& history);
// Records the members of a group polled more than once (at least once allows it after a rebalance): the
// number of such extra deliveries, per group.
std::map<std::string, std::int64_t> count_redeliveries(const History& history);

}  // namespace eosim::model
