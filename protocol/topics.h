#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/errors.h"

// Topics as the metadata describes them: a name, partitions, a replication factor, whether the brokers
// own it (internal), and the configs it overrides (Kafka's topic configs; whatever is not overridden is
// the broker's default). Brokers and the controller agree on these through the metadata; clients
// create topics with CreateTopics.

namespace eosim::protocol {

// Kafka's internal topics (Topic.GROUP_METADATA_TOPIC_NAME, Topic.TRANSACTION_STATE_TOPIC_NAME): the
// brokers create them on the first FindCoordinator that needs them.
inline constexpr std::string_view consumer_offsets_topic = "__consumer_offsets";
inline constexpr std::string_view transaction_state_topic = "__transaction_state";

// Kafka's Topic.isInternal.
[[nodiscard]] constexpr bool is_internal_topic(std::string_view name) {
    return name == consumer_offsets_topic || name == transaction_state_topic;
}

// cleanup.policy: delete (retention removes old segments) or compact (the cleaner keeps each key's
// latest record; retention does not apply). Kafka's "compact,delete" is not simulated.
enum class CleanupPolicy : std::uint8_t { delete_old_segments, compact };

[[nodiscard]] constexpr std::string_view to_string(CleanupPolicy policy) {
    return policy == CleanupPolicy::compact ? "compact" : "delete";
}

// The topic configs a topic may override, each unset unless overridden (Kafka's names in comments).
struct TopicConfigOverrides {
    std::optional<CleanupPolicy> cleanup_policy;        // cleanup.policy
    std::optional<std::int64_t> retention_ms;           // retention.ms, -1: no limit
    std::optional<std::int64_t> retention_bytes;        // retention.bytes, -1: no limit
    std::optional<std::int64_t> delete_retention_ms;    // delete.retention.ms
    std::optional<std::int64_t> min_compaction_lag_ms;  // min.compaction.lag.ms
    std::optional<std::int64_t> segment_bytes;          // segment.bytes

    bool operator==(const TopicConfigOverrides&) const = default;
};

struct TopicDescription {
    std::string name;
    std::int32_t partitions = 1;
    std::int32_t replication_factor = 3;
    bool internal = false;  // created and owned by the brokers (is_internal_topic)
    TopicConfigOverrides configs;

    bool operator==(const TopicDescription&) const = default;
};

// The valid range of each integer config (eosim's floor for segment.bytes is 1024, Kafka's is larger).
struct ConfigRange {
    std::int64_t low = 0;
    std::int64_t high = 0;
};

inline constexpr std::int64_t week_ms = 7LL * 24 * 3600 * 1000;

namespace detail {

struct IntegerConfig {
    std::string_view name;
    std::optional<std::int64_t> TopicConfigOverrides::*field;
    ConfigRange range;
};

inline constexpr IntegerConfig integer_configs[] = {
    {"retention.ms", &TopicConfigOverrides::retention_ms, {-1, week_ms}},
    {"retention.bytes", &TopicConfigOverrides::retention_bytes, {-1, 1LL << 40}},
    {"delete.retention.ms", &TopicConfigOverrides::delete_retention_ms, {0, week_ms}},
    {"min.compaction.lag.ms", &TopicConfigOverrides::min_compaction_lag_ms, {0, week_ms}},
    {"segment.bytes", &TopicConfigOverrides::segment_bytes, {1024, 1LL << 30}},
};

}  // namespace detail

// The overrides as Kafka's config entries, in a fixed order: {"cleanup.policy", "compact"}, ...
[[nodiscard]] inline std::vector<std::pair<std::string, std::string>> config_entries(
    const TopicConfigOverrides& configs) {
    std::vector<std::pair<std::string, std::string>> entries;
    if (configs.cleanup_policy) {
        entries.emplace_back("cleanup.policy", std::string(to_string(*configs.cleanup_policy)));
    }
    for (const detail::IntegerConfig& config : detail::integer_configs) {
        if (const std::optional<std::int64_t>& value = configs.*config.field) {
            entries.emplace_back(std::string(config.name), std::to_string(*value));
        }
    }
    return entries;
}

// Sets the config `name` to `value` (Kafka's spelling); false for an unknown name or a value that is not
// valid for it (INVALID_CONFIG), which leaves `configs` as it was.
[[nodiscard]] inline bool set_config(TopicConfigOverrides& configs, std::string_view name, std::string_view value) {
    if (name == "cleanup.policy") {
        if (value != "delete" && value != "compact") {
            return false;
        }
        configs.cleanup_policy = value == "compact" ? CleanupPolicy::compact : CleanupPolicy::delete_old_segments;
        return true;
    }
    for (const detail::IntegerConfig& config : detail::integer_configs) {
        if (config.name != name) {
            continue;
        }
        std::int64_t number = 0;
        const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
        if (error != std::errc{} || end != value.data() + value.size() || number < config.range.low ||
            number > config.range.high) {
            return false;
        }
        configs.*config.field = number;
        return true;
    }
    return false;
}

// Whether every override is in its valid range (what set_config would accept).
[[nodiscard]] inline bool valid_configs(const TopicConfigOverrides& configs) {
    for (const detail::IntegerConfig& config : detail::integer_configs) {
        const std::optional<std::int64_t>& value = configs.*config.field;
        if (value && (*value < config.range.low || *value > config.range.high)) {
            return false;
        }
    }
    return true;
}

// Kafka's Topic.validate: 1 to 249 characters of [a-zA-Z0-9._-], and not "." or "..".
[[nodiscard]] constexpr bool valid_topic_name(std::string_view name) {
    if (name.empty() || name.size() > 249 || name == "." || name == "..") {
        return false;
    }
    for (const char c : name) {
        const bool legal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                           c == '_' || c == '-';
        if (!legal) {
            return false;
        }
    }
    return true;
}

// ---- CreateTopics --------------------------------------------------------------------------------

// An admin client asks any broker, which forwards the request to the controller (KIP-590); the controller
// assigns replicas, records the topics durably, and answers each topic on its own. A topic's `internal`
// flag is not the client's to set: the controller marks the internal topics by name.
struct CreateTopicsRequest {
    std::vector<TopicDescription> topics;
};

struct CreatableTopicResult {
    std::string name;
    ErrorCode error = ErrorCode::none;
    bool operator==(const CreatableTopicResult&) const = default;
};

struct CreateTopicsResponse {
    std::vector<CreatableTopicResult> topics;  // one per requested topic, in the request's order
};

}  // namespace eosim::protocol
