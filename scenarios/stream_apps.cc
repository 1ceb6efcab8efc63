#include "scenarios/stream_apps.h"

#include <set>
#include <sstream>

#include <fmt/format.h>

#include "streams_core/dsl.h"

namespace eosim::scenarios {

using streams_core::Record;
using streams_core::StreamsBuilder;
using streams_core::Topology;

namespace {

// word-count: lines split at whitespace, counted per word (the count of each word written on every
// change).
Topology word_count() {
    StreamsBuilder builder("word-count");
    builder.stream({"lines"})
        .flat_map([](const Record& record) {
            std::vector<Record> words;
            std::istringstream in(record.value.value_or(""));
            for (std::string word; in >> word;) {
                words.push_back(Record{word, word, record.timestamp_ms});
            }
            return words;
        })
        .group_by_key()
        .count("counts")
        .to_stream()
        .to("word-counts");
    return builder.topology();
}

StreamInput word_count_line(sim::Random& random, int index, std::uint64_t n) {
    static const char* const words[] = {"the", "cat", "sat", "on", "a",    "mat",  "and", "dog", "ran",  "to",
                                        "it",  "was", "in",  "my", "hat", "fish", "red", "big", "blue", "sun"};
    // Each line begins with its own id, a word of its own: the history needs every value unique.
    const std::string id = fmt::format("p{}-{}", index, n);
    std::string line = id + ":";
    const std::uint64_t count = 1 + random.below(6);
    for (std::uint64_t i = 0; i < count; ++i) {
        line += " " + std::string(words[random.below(std::size(words))]);
    }
    return StreamInput{id, line};
}

}  // namespace

const std::vector<StreamApp>& stream_apps() {
    static const std::vector<StreamApp> apps{
        {"word-count", {"lines"}, {"word-counts"}, word_count, word_count_line},
    };
    return apps;
}

const StreamApp* find_stream_app(std::string_view name) {
    for (const StreamApp& app : stream_apps()) {
        if (app.name == name) {
            return &app;
        }
    }
    return nullptr;
}

std::vector<protocol::TopicDescription> stream_app_topics(const StreamApp& app, std::int32_t partitions,
                                                          std::int32_t replication_factor) {
    std::vector<protocol::TopicDescription> topics;
    std::set<std::string> named;
    const auto add = [&](const std::string& name, bool compacted) {
        if (!named.insert(name).second) {
            return;
        }
        protocol::TopicDescription topic{.name = name, .partitions = partitions, .replication_factor = replication_factor};
        if (compacted) {
            topic.configs.cleanup_policy = protocol::CleanupPolicy::compact;
        }
        topics.push_back(std::move(topic));
    };
    for (const std::string& input : app.inputs) {
        add(input, false);
    }
    for (const std::string& output : app.outputs) {
        add(output, false);
    }
    const Topology topology = app.topology();
    for (const std::string& topic : topology.source_topics()) {
        add(topic, false);  // a repartition topic: written and read by the application
    }
    for (const auto& [name, store] : topology.stores()) {
        if (store.logged) {
            add(streams_core::changelog_topic(std::string(app.name), name), true);
        }
    }
    return topics;
}

}  // namespace eosim::scenarios
