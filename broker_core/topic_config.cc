#include "broker_core/topic_config.h"

#include "sim/assert.h"

namespace eosim::broker_core {

LogConfig topic_log_config(const LogConfig& broker_defaults, const protocol::TopicConfigOverrides& overrides) {
    EOSIM_ASSERT_MSG(protocol::valid_configs(overrides), "a topic's configs are validated before they are recorded");
    LogConfig config = broker_defaults;
    if (overrides.cleanup_policy) {
        config.compacted = *overrides.cleanup_policy == protocol::CleanupPolicy::compact;
    }
    config.retention_ms = overrides.retention_ms.value_or(config.retention_ms);
    config.retention_bytes = overrides.retention_bytes.value_or(config.retention_bytes);
    config.delete_retention_ms = overrides.delete_retention_ms.value_or(config.delete_retention_ms);
    config.min_compaction_lag_ms = overrides.min_compaction_lag_ms.value_or(config.min_compaction_lag_ms);
    if (overrides.segment_bytes) {
        config.segment_bytes = static_cast<std::uint64_t>(*overrides.segment_bytes);
    }
    return config;
}

}  // namespace eosim::broker_core
