#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/topics.h"
#include "sim/random.h"
#include "streams_core/topology.h"

namespace eosim::scenarios {

// One input record a generator made: to `topic` (empty: the application's first input), stamped
// `timestamp_ms` (none: the producer's clock). A barrier is sent once every earlier send of its producer
// completed, and the producer's next send waits until it completed: what was sent before it is written
// before it, and what comes after, after it.
struct StreamInput {
    std::optional<std::string> key;
    std::string value;
    std::string topic;
    std::optional<std::int64_t> timestamp_ms;
    bool barrier = false;
};

// A built-in stream application (docs/streams.md): its topology, the topics it reads and writes, and the
// generator of its input records. Its name is its application id, so its internal topics are
// `<name>-<store>-changelog` and `<name>-...-repartition`.
struct StreamApp {
    std::string_view name;
    std::string_view description;
    std::vector<std::string> inputs;
    std::vector<std::string> outputs;
    std::function<streams_core::Topology()> topology;
    // The `n`th input record of producer `index`, drawn from its random stream.
    std::function<StreamInput(sim::Random& random, int index, std::uint64_t n)> generate;
};

[[nodiscard]] const std::vector<StreamApp>& stream_apps();
[[nodiscard]] const StreamApp* find_stream_app(std::string_view name);

// Every topic the application needs, each with `partitions` partitions and `replication_factor`: its
// input and output topics, and its changelogs (compacted) and repartition topics.
[[nodiscard]] std::vector<protocol::TopicDescription> stream_app_topics(const StreamApp& app, std::int32_t partitions,
                                                                        std::int32_t replication_factor);

}  // namespace eosim::scenarios
