#pragma once

#include "broker_core/partition_log.h"
#include "protocol/topics.h"

namespace eosim::broker_core {

// A replica's log config, as Kafka builds a LogConfig: the broker's defaults (its log.* configs) with
// the topic's overrides on top. What a topic does not override stays the broker's default; settings that
// are not topic configs (flush_every_write, producer state, the bug switches) are always the broker's.
[[nodiscard]] LogConfig topic_log_config(const LogConfig& broker_defaults,
                                         const protocol::TopicConfigOverrides& overrides);

}  // namespace eosim::broker_core
