#pragma once

// Helpers shared by the files that implement Broker (internal: include from broker_*.cc only).

#include <algorithm>
#include <string>
#include <vector>

#include "broker_core/checkpoint_file.h"
#include "protocol/messages.h"
#include "sim/simulation.h"

namespace eosim::broker_core::detail {

// Where a broker checkpoints its replicas' high watermarks (Kafka's replication-offset-checkpoint).
inline constexpr const char* hw_checkpoint_path = high_watermark_checkpoint_name;

inline bool contains(const std::vector<protocol::BrokerId>& ids, protocol::BrokerId id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// "1,2,3", for traces.
inline std::string join(const std::vector<protocol::BrokerId>& ids) {
    std::string text;
    for (const protocol::BrokerId id : ids) {
        text += (text.empty() ? "" : ",") + std::to_string(id.value());
    }
    return text;
}

// The node's wall clock in milliseconds (retention, producer expiration, log append time): Kafka's
// time.milliseconds(), which clock faults step and skew (docs/faults.md).
inline std::int64_t now_ms() {
    return sim::to_ns(sim::local_now()) / 1'000'000;
}

}  // namespace eosim::broker_core::detail
