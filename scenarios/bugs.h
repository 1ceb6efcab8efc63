#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "broker_core/cluster_config.h"
#include "streams_core/stream_thread.h"

namespace eosim::scenarios {

// A bug switch re-creates a real defect so that the harness can prove it catches it.
struct BugSwitch {
    std::string_view name;
    std::string_view origin;  // the Kafka issue it re-creates, or the contract it breaks
    std::string_view caught_by;  // the anomalies that must catch it
    std::string_view scenario;   // the scenario whose sweep catches it
    std::string_view description;
};

const std::vector<BugSwitch>& bug_switches();
const BugSwitch* find_bug(std::string_view name);
// Turns the named switch on; false for an unknown name ("" turns nothing on).
bool apply_bug(std::string_view name, broker_core::BrokerBugs& bugs);
// The stream threads' part of the named switch (nothing on for the others).
[[nodiscard]] streams_core::StreamsConfig::Bugs stream_bugs(std::string_view name);

}  // namespace eosim::scenarios
