#pragma once

// What the streams_core tests share: the word-count topology and a readable form of a topic's records.

#include <sstream>
#include <string>
#include <vector>

#include "streams_core/dsl.h"
#include "streams_core/test_driver.h"

namespace eosim::streams_core::testing {

// Lines split into words, regrouped by word (a repartition topic), counted in store "counts", each new
// count written to "word-counts".
inline Topology word_count_topology(const std::string& application_id) {
    StreamsBuilder builder(application_id);
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

// Each record as "key=value" ("null" for none), in the order written.
inline std::vector<std::string> rows(const std::vector<TopologyTestDriver::Output>& outputs) {
    std::vector<std::string> out;
    for (const auto& output : outputs) {
        out.push_back(output.record.key.value_or("null") + "=" + output.record.value.value_or("null"));
    }
    return out;
}

}  // namespace eosim::streams_core::testing
