#include "scenarios/spec.h"

#include "scenarios/stream_apps.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace eosim::scenarios {

namespace {

const std::set<std::string, std::less<>>& anomaly_names() {
    static const std::set<std::string, std::less<>> names{"lost-write",
                                                          "duplicate",
                                                          "inconsistent-offsets",
                                                          "nonmonotonic-send",
                                                          "poll-skip",
                                                          "nonmonotonic-poll",
                                                          "replica-divergence",
                                                          "vanished-read",
                                                          "stuck",
                                                          "compaction-consistency",
                                                          "aborted-read",
                                                          "undone-delete",
                                                          "invariant-violation",
                                                          "zombie-write",
                                                          "hanging-transaction",
                                                          "uncommitted-read",
                                                          "torn-transaction",
                                                          "spurious-fence",
                                                          "eos-output-mismatch",
                                                          "state-mismatch",
                                                          "split-ownership",
                                                          "nonmonotonic-commit",
                                                          "zombie-commit",
                                                          "skipped-delivery"};
    return names;
}

constexpr const char* topic_name_rule =
    "1 to 249 of a-z A-Z 0-9 . _ -, not . or ..; names starting with __ are the brokers' internal topics";

std::string where(const std::string& source, const toml::source_region& region) {
    return fmt::format("{}:{}:{}", source, region.begin.line, region.begin.column);
}

class Reader {
public:
    Reader(const toml::table& root, const std::string& source) : root_(root), source_(source) {}

    const toml::table* table(std::string_view name) {
        const toml::node* node = root_.get(name);
        if (node == nullptr) {
            return nullptr;
        }
        if (!node->is_table()) {
            throw SpecError(fmt::format("{}: [{}] must be a table", where(source_, node->source()), name));
        }
        return node->as_table();
    }

    template <typename T>
    void integer(const toml::table* table, std::string_view key, T& out, std::int64_t low, std::int64_t high) {
        const toml::node* node = table != nullptr ? table->get(key) : nullptr;
        if (node == nullptr) {
            return;
        }
        const auto value = node->value<std::int64_t>();
        if (!node->is_integer() || !value || *value < low || *value > high) {
            throw SpecError(
                fmt::format("{}: {} must be an integer from {} to {}", where(source_, node->source()), key, low, high));
        }
        out = static_cast<T>(*value);
    }

    // The value of `key` if the table has it (checked as integer() does).
    std::optional<std::int64_t> optional_integer(const toml::table* table, std::string_view key, std::int64_t low,
                                                 std::int64_t high) {
        std::optional<std::int64_t> value;
        if (table != nullptr && table->get(key) != nullptr) {
            std::int64_t read = 0;
            integer(table, key, read, low, high);
            value = read;
        }
        return value;
    }

    // cleanup_policy: "delete" or "compact", if the table has it.
    std::optional<protocol::CleanupPolicy> policy(const toml::table* table) {
        std::string name;
        string(table, "cleanup_policy", name);
        if (name.empty() && (table == nullptr || table->get("cleanup_policy") == nullptr)) {
            return std::nullopt;
        }
        if (name != "delete" && name != "compact") {
            throw SpecError(fmt::format("{}: cleanup_policy must be \"delete\" or \"compact\"",
                                        where(source_, table->get("cleanup_policy")->source())));
        }
        return name == "compact" ? protocol::CleanupPolicy::compact : protocol::CleanupPolicy::delete_old_segments;
    }

    void boolean(const toml::table* table, std::string_view key, bool& out) {
        const toml::node* node = table != nullptr ? table->get(key) : nullptr;
        if (node == nullptr) {
            return;
        }
        if (!node->is_boolean()) {
            throw SpecError(fmt::format("{}: {} must be true or false", where(source_, node->source()), key));
        }
        out = *node->value<bool>();
    }

    void string(const toml::table* table, std::string_view key, std::string& out) {
        const toml::node* node = table != nullptr ? table->get(key) : nullptr;
        if (node == nullptr) {
            return;
        }
        if (!node->is_string()) {
            throw SpecError(fmt::format("{}: {} must be a string", where(source_, node->source()), key));
        }
        out = *node->value<std::string>();
    }

    std::vector<std::string> strings(const toml::table* table, std::string_view key) {
        std::vector<std::string> out;
        const toml::node* node = table != nullptr ? table->get(key) : nullptr;
        if (node == nullptr) {
            return out;
        }
        const toml::array* array = node->as_array();
        if (array == nullptr) {
            throw SpecError(fmt::format("{}: {} must be an array of strings", where(source_, node->source()), key));
        }
        for (const toml::node& item : *array) {
            if (!item.is_string()) {
                throw SpecError(fmt::format("{}: {} must be an array of strings", where(source_, item.source()), key));
            }
            out.push_back(*item.value<std::string>());
        }
        return out;
    }

    void milliseconds_range(const toml::table* table, std::string_view key, sim::Duration& low, sim::Duration& high) {
        const toml::node* node = table != nullptr ? table->get(key) : nullptr;
        if (node == nullptr) {
            return;
        }
        const toml::array* array = node->as_array();
        if (array == nullptr || array->size() != 2 || !(*array)[0].is_integer() || !(*array)[1].is_integer() ||
            *(*array)[0].value<std::int64_t>() < 0 ||
            *(*array)[0].value<std::int64_t>() > *(*array)[1].value<std::int64_t>()) {
            throw SpecError(fmt::format("{}: {} must be [low, high] in milliseconds, 0 <= low <= high",
                                        where(source_, node->source()), key));
        }
        low = std::chrono::milliseconds(*(*array)[0].value<std::int64_t>());
        high = std::chrono::milliseconds(*(*array)[1].value<std::int64_t>());
    }

    sim::UnsyncedFate fate(const toml::table* table, std::string_view key, sim::UnsyncedFate fallback) {
        std::string name;
        string(table, key, name);
        if (name.empty()) {
            return fallback;
        }
        sim::UnsyncedFate fate{};
        if (sim::parse_unsynced_fate(name, fate)) {
            return fate;
        }
        throw SpecError(fmt::format("{}: {} must be one of lose, keep, tear, random",
                                    where(source_, table->get(key)->source()), key));
    }

    void check_anomalies(const toml::table* table, std::string_view key, const std::vector<std::string>& names) {
        for (const std::string& name : names) {
            if (!anomaly_names().contains(name)) {
                throw SpecError(
                    fmt::format("{}: {}: unknown anomaly '{}'", where(source_, table->get(key)->source()), key, name));
            }
        }
    }

    void known_keys(const toml::table* table, std::string_view table_name,
                    std::initializer_list<std::string_view> keys) {
        if (table == nullptr) {
            return;
        }
        for (const auto& [key, node] : *table) {
            if (std::find(keys.begin(), keys.end(), key.str()) == keys.end()) {
                throw SpecError(
                    fmt::format("{}: unknown key '{}' in [{}]", where(source_, node.source()), key.str(), table_name));
            }
        }
    }

private:
    const toml::table& root_;
    const std::string& source_;
};

// [cluster]; where its table is (or the source), for errors about it.
std::string parse_cluster(Reader& reader, const std::string& source, ClusterSpec& c) {
    const toml::table* cluster = reader.table("cluster");
    reader.known_keys(
        cluster, "cluster",
        {"brokers", "replication_factor", "partitions", "min_insync_replicas", "unclean_leader_election",
         "flush_every_write", "writeback_interval_ms", "segment_bytes", "producer_id_expiration_ms", "retention_ms",
         "retention_bytes", "cleanup_policy", "delete_retention_ms", "min_compaction_lag_ms", "topic",
         "replica_fetch_max_bytes", "transaction_version"});
    reader.integer(cluster, "brokers", c.brokers, 1, 9);
    reader.integer(cluster, "replication_factor", c.replication_factor, 1, c.brokers);
    reader.integer(cluster, "partitions", c.partitions, 1, 64);
    reader.integer(cluster, "min_insync_replicas", c.min_insync_replicas, 1, c.replication_factor);
    reader.boolean(cluster, "unclean_leader_election", c.unclean_leader_election);
    reader.boolean(cluster, "flush_every_write", c.flush_every_write);
    reader.integer(cluster, "writeback_interval_ms", c.writeback_interval_ms, 0, 3'600'000);
    reader.integer(cluster, "segment_bytes", c.segment_bytes, 1024, 1LL << 30);
    reader.integer(cluster, "producer_id_expiration_ms", c.producer_id_expiration_ms, 1000, 7LL * 24 * 3600 * 1000);
    reader.integer(cluster, "retention_ms", c.retention_ms, -1, 7LL * 24 * 3600 * 1000);
    reader.integer(cluster, "retention_bytes", c.retention_bytes, -1, 1LL << 40);
    c.compacted = reader.policy(cluster) == protocol::CleanupPolicy::compact;
    reader.integer(cluster, "delete_retention_ms", c.delete_retention_ms, 0, 7LL * 24 * 3600 * 1000);
    reader.integer(cluster, "min_compaction_lag_ms", c.min_compaction_lag_ms, 0, 7LL * 24 * 3600 * 1000);
    reader.string(cluster, "topic", c.topic);
    if (!protocol::valid_topic_name(c.topic) || c.topic.starts_with("__")) {
        throw SpecError(fmt::format("{}: topic: '{}' is not a topic name: {}",
                                    where(source, cluster->get("topic")->source()), c.topic, topic_name_rule));
    }
    reader.integer(cluster, "replica_fetch_max_bytes", c.replica_fetch_max_bytes, 1024, 1LL << 30);
    reader.integer(cluster, "transaction_version", c.transaction_version, 1, 2);
    // Each key's bounds above hold only when it is written; the defaults must agree as well.
    const std::string cluster_where = cluster != nullptr ? where(source, cluster->source()) : source;
    if (c.replication_factor > c.brokers) {
        throw SpecError(fmt::format("{}: cluster: replication_factor {} is more than brokers {}", cluster_where,
                                    c.replication_factor, c.brokers));
    }
    if (c.min_insync_replicas > c.replication_factor) {
        throw SpecError(fmt::format("{}: cluster: min_insync_replicas {} is more than replication_factor {}",
                                    cluster_where, c.min_insync_replicas, c.replication_factor));
    }
    return cluster_where;
}

// One [[topics]] table: its name and settings, unset ones from [cluster] (partitions, replication factor)
// or left to the brokers' defaults (the log settings).
protocol::TopicDescription parse_topic(Reader& reader, const toml::table& table, const std::string& source,
                                       const ClusterSpec& c) {
    reader.known_keys(&table, "[topics]",
                      {"name", "partitions", "replication_factor", "cleanup_policy", "retention_ms", "retention_bytes",
                       "delete_retention_ms", "min_compaction_lag_ms", "segment_bytes"});
    const std::string place = where(source, table.source());
    protocol::TopicDescription topic{
        .name = "", .partitions = c.partitions, .replication_factor = c.replication_factor};
    reader.string(&table, "name", topic.name);
    if (topic.name.empty()) {
        throw SpecError(fmt::format("{}: topics: every topic needs a name", place));
    }
    if (!protocol::valid_topic_name(topic.name) || topic.name.starts_with("__")) {
        throw SpecError(fmt::format("{}: topics: '{}' is not a topic name: {}",
                                    where(source, table.get("name")->source()), topic.name, topic_name_rule));
    }
    reader.integer(&table, "partitions", topic.partitions, 1, 64);
    reader.integer(&table, "replication_factor", topic.replication_factor, 1, c.brokers);
    if (topic.replication_factor < c.min_insync_replicas) {
        throw SpecError(fmt::format("{}: topics: '{}' has replication_factor {}, below min_insync_replicas {}", place,
                                    topic.name, topic.replication_factor, c.min_insync_replicas));
    }
    protocol::TopicConfigOverrides& configs = topic.configs;
    configs.cleanup_policy = reader.policy(&table);
    configs.retention_ms = reader.optional_integer(&table, "retention_ms", -1, protocol::week_ms);
    configs.retention_bytes = reader.optional_integer(&table, "retention_bytes", -1, 1LL << 40);
    configs.delete_retention_ms = reader.optional_integer(&table, "delete_retention_ms", 0, protocol::week_ms);
    configs.min_compaction_lag_ms = reader.optional_integer(&table, "min_compaction_lag_ms", 0, protocol::week_ms);
    configs.segment_bytes = reader.optional_integer(&table, "segment_bytes", 1024, 1LL << 30);
    return topic;
}

// [[topics]], or the one topic of [cluster].
std::vector<protocol::TopicDescription> parse_topics(Reader& reader, const toml::table& root, const std::string& source,
                                                     const ClusterSpec& c) {
    const toml::node* node = root.get("topics");
    if (node == nullptr) {
        return {protocol::TopicDescription{.name = c.topic, .partitions = c.partitions,
                                           .replication_factor = c.replication_factor}};
    }
    const toml::array* array = node->as_array();
    if (array == nullptr || !array->is_array_of_tables() || array->empty() || array->size() > 16) {
        throw SpecError(fmt::format("{}: topics must be 1 to 16 [[topics]] tables", where(source, node->source())));
    }
    if (const toml::table* cluster = reader.table("cluster"); cluster != nullptr && cluster->get("topic") != nullptr) {
        throw SpecError(fmt::format("{}: cluster: topic names the only topic of a spec without [[topics]]; name each "
                                    "topic in its [[topics]] table",
                                    where(source, cluster->get("topic")->source())));
    }
    std::vector<protocol::TopicDescription> topics;
    for (const toml::node& item : *array) {
        protocol::TopicDescription topic = parse_topic(reader, *item.as_table(), source, c);
        if (std::any_of(topics.begin(), topics.end(),
                        [&topic](const auto& other) { return other.name == topic.name; })) {
            throw SpecError(
                fmt::format("{}: topics: '{}' is declared twice", where(source, item.source()), topic.name));
        }
        topics.push_back(std::move(topic));
    }
    return topics;
}

void parse_transactional_workload(Reader& reader, const std::string& source, const toml::table* workload,
                                  WorkloadSpec& w) {
    reader.integer(workload, "transactional_producers", w.transactional_producers, 0, 16);
    reader.integer(workload, "read_committed_consumers", w.read_committed_consumers, 0, 16);
    reader.integer(workload, "txn_abort_percent", w.txn_abort_percent, 0, 100);
    reader.integer(workload, "txn_timeout_ms", w.txn_timeout_ms, 100, 900'000);
    reader.integer(workload, "txn_stall_percent", w.txn_stall_percent, 0, 100);
    reader.integer(workload, "txn_instances", w.txn_instances, 1, 2);
    if (workload != nullptr && workload->get("txn_sends") != nullptr) {
        const toml::array* sends = workload->get("txn_sends")->as_array();
        const auto bound = [sends](std::size_t i) {
            return sends != nullptr && sends->size() == 2 ? (*sends)[i].value<std::int64_t>() : std::nullopt;
        };
        if (!bound(0) || !bound(1) || *bound(0) < 1 || *bound(1) < *bound(0) || *bound(1) > 1000) {
            throw SpecError(fmt::format("{}: txn_sends must be [low, high] with 1 <= low <= high <= 1000",
                                        where(source, workload->get("txn_sends")->source())));
        }
        w.txn_sends_min = static_cast<std::int32_t>(*bound(0));
        w.txn_sends_max = static_cast<std::int32_t>(*bound(1));
    }
    if (w.txn_stall_percent > 0 && w.txn_stall_max_ms == 0) {
        throw SpecError(fmt::format("{}: txn_stall_percent needs txn_stall_ms",
                                    where(source, workload->get("txn_stall_percent")->source())));
    }
}

void parse_workload(Reader& reader, const std::string& source, bool compacted, WorkloadSpec& w) {
    const toml::table* workload = reader.table("workload");
    reader.known_keys(
        workload, "workload",
        {"producers", "consumers", "acks", "idempotent", "keyed", "max_in_flight", "send_interval_ms", "value_bytes",
         "delivery_timeout_ms", "pause_every_ms", "pause_ms", "delete_records_every_ms", "tombstone_percent", "keys",
         "probe_sends", "probe_idle_ms", "transactional_producers", "read_committed_consumers", "txn_sends",
         "txn_abort_percent", "txn_timeout_ms", "txn_stall_percent", "txn_stall_ms", "txn_instances", "txn_topics",
         "group_members", "group_assignor", "group_session_timeout_ms", "group_rebalance_timeout_ms",
         "group_heartbeat_ms", "group_leave_percent", "group_topics", "ctp_instances", "ctp_input", "ctp_output", "ctp_exactly_once",
         "ctp_abort_percent", "ctp_max_records", "stream_app", "stream_instances", "stream_threads", "stream_partitions",
         "stream_commit_interval_ms", "stream_guarantee", "stream_standby_replicas", "stream_checkpoint_delta", "stream_rebalance",
         "instance_faults_every_ms", "instance_fault_ms", "instance_corrupt_state", "client_faults"});
    reader.integer(workload, "producers", w.producers, 0, 16);
    reader.integer(workload, "consumers", w.consumers, 0, 16);
    std::string acks = "all";
    reader.string(workload, "acks", acks);
    if (acks != "all" && acks != "1" && acks != "0") {
        throw SpecError(
            fmt::format("{}: acks must be \"all\", \"1\" or \"0\"", where(source, workload->get("acks")->source())));
    }
    w.acks = acks == "all" ? std::int16_t{-1} : static_cast<std::int16_t>(std::stoi(acks));
    w.idempotent = w.acks == -1;  // Kafka's default: idempotence on, unless acks says otherwise
    reader.boolean(workload, "idempotent", w.idempotent);
    if (w.idempotent && w.acks != -1) {
        throw SpecError(fmt::format("{}: idempotent = true needs acks = \"all\"",
                                    where(source, workload->get("idempotent")->source())));
    }
    reader.boolean(workload, "keyed", w.keyed);
    reader.integer(workload, "max_in_flight", w.max_in_flight, 1, 5);
    sim::Duration send_low{std::chrono::milliseconds(w.send_interval_min_ms)};
    sim::Duration send_high{std::chrono::milliseconds(w.send_interval_max_ms)};
    reader.milliseconds_range(workload, "send_interval_ms", send_low, send_high);
    if (send_low < std::chrono::milliseconds(1) && workload != nullptr &&
        workload->get("send_interval_ms") != nullptr) {
        throw SpecError(fmt::format("{}: send_interval_ms must start at 1 or more",
                                    where(source, workload->get("send_interval_ms")->source())));
    }
    w.send_interval_min_ms = std::chrono::duration_cast<std::chrono::milliseconds>(send_low).count();
    w.send_interval_max_ms = std::chrono::duration_cast<std::chrono::milliseconds>(send_high).count();
    reader.integer(workload, "value_bytes", w.value_bytes, 8, 4096);
    reader.integer(workload, "delivery_timeout_ms", w.delivery_timeout_ms, 100, 3'600'000);
    const auto ms_range = [&](std::string_view key, std::int64_t& low_ms, std::int64_t& high_ms) {
        sim::Duration low{std::chrono::milliseconds(low_ms)};
        sim::Duration high{std::chrono::milliseconds(high_ms)};
        reader.milliseconds_range(workload, key, low, high);
        low_ms = std::chrono::duration_cast<std::chrono::milliseconds>(low).count();
        high_ms = std::chrono::duration_cast<std::chrono::milliseconds>(high).count();
        if (low_ms == 0 && high_ms > 0) {
            throw SpecError(fmt::format("{}: {} must be [0, 0] (never) or start at 1 or more",
                                        where(source, workload->get(key)->source()), key));
        }
    };
    reader.integer(workload, "tombstone_percent", w.tombstone_percent, 0, 100);
    reader.integer(workload, "keys", w.keys, 1, 1'000'000);
    reader.integer(workload, "probe_sends", w.probe_sends, 0, 1000);
    reader.integer(workload, "probe_idle_ms", w.probe_idle_ms, 0, 600'000);
    if (w.tombstone_percent > 0 && (!compacted || !w.keyed)) {
        throw SpecError(fmt::format("{}: tombstone_percent needs cleanup_policy = \"compact\" (of some topic) and "
                                    "keyed = true",
                                    where(source, workload->get("tombstone_percent")->source())));
    }
    ms_range("pause_every_ms", w.pause_every_min_ms, w.pause_every_max_ms);
    ms_range("pause_ms", w.pause_min_ms, w.pause_max_ms);
    ms_range("delete_records_every_ms", w.delete_records_every_min_ms, w.delete_records_every_max_ms);
    if ((w.pause_every_max_ms == 0) != (w.pause_max_ms == 0)) {
        throw SpecError(fmt::format("{}: workload: pause_every_ms and pause_ms go together",
                                    workload != nullptr ? where(source, workload->source()) : source));
    }
    ms_range("txn_stall_ms", w.txn_stall_min_ms, w.txn_stall_max_ms);
    parse_transactional_workload(reader, source, workload, w);
    reader.integer(workload, "group_members", w.group_members, 0, 16);
    reader.string(workload, "group_assignor", w.group_assignor);
    if (w.group_assignor != "range" && w.group_assignor != "cooperative-sticky") {
        throw SpecError(fmt::format("{}: group_assignor must be \"range\" or \"cooperative-sticky\"",
                                    where(source, workload->get("group_assignor")->source())));
    }
    reader.integer(workload, "group_session_timeout_ms", w.group_session_timeout_ms, 100, 300'000);
    reader.integer(workload, "group_rebalance_timeout_ms", w.group_rebalance_timeout_ms, 100, 300'000);
    reader.integer(workload, "group_heartbeat_ms", w.group_heartbeat_ms, 10, 60'000);
    reader.integer(workload, "group_leave_percent", w.group_leave_percent, 0, 100);
    w.txn_topics = reader.strings(workload, "txn_topics");
    w.group_topics = reader.strings(workload, "group_topics");
    reader.integer(workload, "ctp_instances", w.ctp_instances, 0, 16);
    reader.string(workload, "ctp_input", w.ctp_input);
    reader.string(workload, "ctp_output", w.ctp_output);
    reader.boolean(workload, "ctp_exactly_once", w.ctp_exactly_once);
    reader.integer(workload, "ctp_abort_percent", w.ctp_abort_percent, 0, 100);
    reader.integer(workload, "ctp_max_records", w.ctp_max_records, 1, 10'000);
    reader.string(workload, "stream_app", w.stream_app);
    reader.integer(workload, "stream_instances", w.stream_instances, 0, 16);
    reader.integer(workload, "stream_threads", w.stream_threads, 1, 8);
    reader.integer(workload, "stream_partitions", w.stream_partitions, 1, 64);
    reader.integer(workload, "stream_commit_interval_ms", w.stream_commit_interval_ms, 1, 60'000);
    reader.integer(workload, "stream_standby_replicas", w.stream_standby_replicas, 0, 8);
    reader.integer(workload, "stream_checkpoint_delta", w.stream_checkpoint_delta, 1, 1'000'000'000);
    std::string guarantee = "exactly_once_v2";
    reader.string(workload, "stream_guarantee", guarantee);
    if (guarantee != "exactly_once_v2" && guarantee != "at_least_once") {
        throw SpecError(fmt::format("{}: stream_guarantee must be exactly_once_v2 or at_least_once",
                                    where(source, workload->get("stream_guarantee")->source())));
    }
    w.stream_exactly_once = guarantee == "exactly_once_v2";
    std::string rebalance = "eager";
    reader.string(workload, "stream_rebalance", rebalance);
    if (rebalance != "eager" && rebalance != "cooperative") {
        throw SpecError(fmt::format("{}: stream_rebalance must be eager or cooperative",
                                    where(source, workload->get("stream_rebalance")->source())));
    }
    w.stream_cooperative = rebalance == "cooperative";
    ms_range("instance_faults_every_ms", w.instance_faults_every_min_ms, w.instance_faults_every_max_ms);
    ms_range("instance_fault_ms", w.instance_fault_min_ms, w.instance_fault_max_ms);
    reader.boolean(workload, "instance_corrupt_state", w.instance_corrupt_state);
    reader.boolean(workload, "client_faults", w.client_faults);
    if (w.client_faults && w.instance_faults_every_max_ms == 0) {
        throw SpecError(fmt::format("{}: workload: client_faults needs instance_faults_every_ms (how often a fault comes)",
                                    where(source, workload->source())));
    }
    if (w.client_faults && !w.stream_app.empty()) {
        // A stream application's producers draw their input from their index and count: a restarted one
        // would send the same input again, which the application's oracle cannot tell from a duplicate.
        throw SpecError(fmt::format("{}: workload: client_faults does not go with a stream_app",
                                    where(source, workload->source())));
    }
    if ((w.instance_faults_every_max_ms == 0) != (w.instance_fault_max_ms == 0)) {
        throw SpecError(fmt::format("{}: workload: instance_faults_every_ms and instance_fault_ms go together",
                                    workload != nullptr ? where(source, workload->source()) : source));
    }
}

void parse_faults(Reader& reader, const std::string& source, FaultSpec& spec_faults) {
    const toml::table* faults = reader.table("faults");
    reader.known_keys(faults, "faults",
                      {"kinds", "chaos_ms", "interval_ms", "duration_ms", "crash_unsynced", "power_loss_unsynced",
                       "within_tolerance", "aim_at", "aim_window_ms", "aim_delay_ms", "directory_ops_need_sync"});
    faults::FaultPlanOptions& plan = spec_faults.plan;
    for (const std::string& name : reader.strings(faults, "kinds")) {
        faults::FaultKind kind{};
        if (!faults::parse_fault_kind(name, kind)) {
            throw SpecError(fmt::format("{}: kinds: unknown fault kind '{}' (see eosim list --faults)",
                                        where(source, faults->get("kinds")->source()), name));
        }
        if (faults::on_instance(kind)) {
            throw SpecError(fmt::format("{}: kinds: '{}' is drawn from the workload's instance_faults_every_ms, not "
                                        "from [faults]",
                                        where(source, faults->get("kinds")->source()), name));
        }
        plan.kinds.push_back(kind);
    }
    std::int64_t chaos_ms = 10'000;
    reader.integer(faults, "chaos_ms", chaos_ms, 0, 3'600'000);
    plan.chaos = std::chrono::milliseconds(chaos_ms);
    reader.milliseconds_range(faults, "interval_ms", plan.interval_min, plan.interval_max);
    if (plan.interval_min <= sim::Duration::zero()) {
        throw SpecError(
            fmt::format("{}: interval_ms must start above 0", where(source, faults->get("interval_ms")->source())));
    }
    reader.milliseconds_range(faults, "duration_ms", plan.duration_min, plan.duration_max);
    plan.crash_unsynced = reader.fate(faults, "crash_unsynced", plan.crash_unsynced);
    plan.power_loss_unsynced = reader.fate(faults, "power_loss_unsynced", plan.power_loss_unsynced);
    reader.boolean(faults, "within_tolerance", spec_faults.within_tolerance);
    reader.boolean(faults, "directory_ops_need_sync", spec_faults.directory_ops_need_sync);
    for (const std::string& name : reader.strings(faults, "aim_at")) {
        std::string_view moment;
        if (!faults::parse_aim_moment(name, moment)) {
            throw SpecError(fmt::format("{}: aim_at: unknown moment '{}' (see eosim list --faults)",
                                        where(source, faults->get("aim_at")->source()), name));
        }
        plan.aim_at.push_back(moment);
    }
    std::int64_t aim_window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(plan.aim_window).count();
    reader.integer(faults, "aim_window_ms", aim_window_ms, 1, 3'600'000);
    plan.aim_window = std::chrono::milliseconds(aim_window_ms);
    reader.milliseconds_range(faults, "aim_delay_ms", plan.aim_delay_min, plan.aim_delay_max);
}

// A producer's state must outlive its retries, or a retry of a written batch finds no state and is
// written again; a fault (a pause, a partition) can hold a retry sent just in time for its duration.
void check_producer_expiration(const Spec& spec, const std::string& cluster_where) {
    const ClusterSpec& c = spec.cluster;
    const WorkloadSpec& w = spec.workload;
    const std::int64_t longest_fault_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(spec.faults.plan.duration_max).count();
    if (w.idempotent && w.producers > 0 && c.producer_id_expiration_ms <= w.delivery_timeout_ms + longest_fault_ms) {
        throw SpecError(
            fmt::format("{}: cluster: producer_id_expiration_ms {} must be more than the workload's "
                        "delivery_timeout_ms {} plus the longest fault ({} ms)",
                        cluster_where, c.producer_id_expiration_ms, w.delivery_timeout_ms, longest_fault_ms));
    }
}

// "ANOMALY when CAUSE" -> {anomaly, cause}; anything else is a spec error naming what is wrong.
std::vector<Allowance> parse_allowances(Reader& reader, const toml::table* checks, const std::string& source) {
    std::vector<Allowance> allowances;
    for (const std::string& text : reader.strings(checks, "allowed")) {
        const std::string place = checks != nullptr ? where(source, checks->get("allowed")->source()) : source;
        const std::size_t when = text.find(" when ");
        if (when == std::string::npos) {
            throw SpecError(fmt::format("{}: allowed: '{}' must name its cause, as \"ANOMALY when CAUSE\" (causes: {})",
                                        place, text, fmt::join(allowance_causes(), ", ")));
        }
        Allowance allowance{text.substr(0, when), text.substr(when + 6)};
        const auto& causes = allowance_causes();
        if (std::find(causes.begin(), causes.end(), allowance.cause) == causes.end()) {
            throw SpecError(fmt::format("{}: allowed: unknown cause '{}' (causes: {})", place, allowance.cause,
                                        fmt::join(causes, ", ")));
        }
        allowances.push_back(std::move(allowance));
    }
    std::vector<std::string> names;
    for (const Allowance& allowance : allowances) {
        names.push_back(allowance.anomaly);
    }
    reader.check_anomalies(checks, "allowed", names);
    return allowances;
}

void parse_checks(Reader& reader, const std::string& source, bool idempotent, CheckSpec& spec_checks) {
    const toml::table* checks = reader.table("checks");
    reader.known_keys(checks, "checks", {"allowed", "weaknesses", "quiesce_ms"});
    spec_checks.allowed = parse_allowances(reader, checks, source);
    spec_checks.weaknesses = reader.strings(checks, "weaknesses");
    reader.check_anomalies(checks, "weaknesses", spec_checks.weaknesses);
    reader.integer(checks, "quiesce_ms", spec_checks.quiesce_ms, 1000, 3'600'000);
    if (idempotent) {
        // An idempotent producer writes each record once and in order: never an excuse.
        std::vector<std::string> names = spec_checks.weaknesses;
        for (const Allowance& allowance : spec_checks.allowed) {
            names.push_back(allowance.anomaly);
        }
        for (const std::string& name : names) {
            if (name == "duplicate" || name == "nonmonotonic-send") {
                throw SpecError(fmt::format("{}: checks: {} cannot be allowed or a weakness with idempotent producers",
                                            checks != nullptr ? where(source, checks->source()) : source, name));
            }
        }
    }
}

}  // namespace

const std::vector<std::string>& allowance_causes() {
    static const std::vector<std::string> causes{"retried-send", "acks-1", "power-loss", "unclean-election",
                                                 "tombstone-outran-replica", "read-uncommitted", "late-request"};
    return causes;
}

bool compacted(const Spec& spec, const protocol::TopicDescription& topic) {
    if (topic.configs.cleanup_policy) {
        return *topic.configs.cleanup_policy == protocol::CleanupPolicy::compact;
    }
    return spec.cluster.compacted;
}

namespace {

// The stream application's topics join the spec's (a topic the spec already declares is kept as declared).
void add_stream_app_topics(const std::string& source, Spec& spec) {
    const WorkloadSpec& workload = spec.workload;
    const StreamApp* app = find_stream_app(workload.stream_app);
    if (app == nullptr) {
        std::string known;
        for (const StreamApp& candidate : stream_apps()) {
            known += (known.empty() ? "" : ", ") + std::string(candidate.name);
        }
        throw SpecError(fmt::format("{}: workload: unknown stream_app '{}' (known: {})", source, workload.stream_app, known));
    }
    if (workload.stream_instances < 1) {
        throw SpecError(fmt::format("{}: workload: stream_app needs stream_instances >= 1", source));
    }
    if (workload.read_committed_consumers < 1 || workload.ctp_instances > 0) {
        throw SpecError(fmt::format("{}: workload: stream_app needs read_committed_consumers >= 1 (they read the "
                                    "output the checks compare) and no ctp_instances",
                                    source));
    }
    for (protocol::TopicDescription& topic :
         stream_app_topics(*app, workload.stream_partitions, spec.cluster.replication_factor)) {
        if (std::none_of(spec.topics.begin(), spec.topics.end(),
                         [&topic](const protocol::TopicDescription& t) { return t.name == topic.name; })) {
            spec.topics.push_back(std::move(topic));
        }
    }
}

}  // namespace

Spec parse_spec(std::string_view text, const std::string& source) {
    toml::table root;
    try {
        root = toml::parse(text, source);
    } catch (const toml::parse_error& error) {
        throw SpecError(fmt::format("{}:{}:{}: {}", source, error.source().begin.line, error.source().begin.column,
                                    error.description()));
    }
    Reader reader(root, source);
    Spec spec;
    spec.source = source;
    reader.string(&root, "name", spec.name);
    reader.string(&root, "description", spec.description);
    reader.boolean(&root, "buggify", spec.buggify);
    if (spec.name.empty()) {
        throw SpecError(fmt::format("{}: the spec needs a name", source));
    }
    reader.known_keys(&root, "top level",
                      {"name", "description", "buggify", "cluster", "topics", "workload", "faults", "checks"});

    const std::string cluster_where = parse_cluster(reader, source, spec.cluster);
    spec.topics = parse_topics(reader, root, source, spec.cluster);
    const bool any_compacted = std::any_of(spec.topics.begin(), spec.topics.end(),
                                           [&spec](const protocol::TopicDescription& t) { return compacted(spec, t); });
    parse_workload(reader, source, any_compacted, spec.workload);
    if (spec.workload.ctp_instances > 0) {
        for (const std::string* topic : {&spec.workload.ctp_input, &spec.workload.ctp_output}) {
            if (std::none_of(spec.topics.begin(), spec.topics.end(),
                             [topic](const protocol::TopicDescription& t) { return t.name == *topic; })) {
                throw SpecError(fmt::format("{}: workload: ctp topic '{}' is not a topic of the spec", source, *topic));
            }
        }
        if (spec.workload.ctp_input == spec.workload.ctp_output) {
            throw SpecError(fmt::format("{}: workload: ctp_input and ctp_output must differ", source));
        }
        if (spec.workload.read_committed_consumers < 1) {
            throw SpecError(fmt::format("{}: workload: ctp_instances needs read_committed_consumers >= 1 (they read "
                                        "the output the checks compare)",
                                        source));
        }
    }
    if (!spec.workload.stream_app.empty()) {
        add_stream_app_topics(source, spec);
    }
    using Named = std::pair<std::string_view, const std::vector<std::string>*>;
    for (const auto& [key, names] :
         {Named{"txn_topics", &spec.workload.txn_topics}, Named{"group_topics", &spec.workload.group_topics}}) {
        for (const std::string& name : *names) {
            if (std::none_of(spec.topics.begin(), spec.topics.end(),
                             [&name](const protocol::TopicDescription& t) { return t.name == name; })) {
                throw SpecError(fmt::format("{}: workload: {}: '{}' is not a topic of the spec", source, key, name));
            }
        }
    }
    parse_faults(reader, source, spec.faults);
    check_producer_expiration(spec, cluster_where);
    parse_checks(reader, source, spec.workload.idempotent, spec.checks);
    // Version 2 fences a late request with the epoch bump: there it is never an excuse.
    if (spec.cluster.transaction_version != 1 &&
        std::any_of(spec.checks.allowed.begin(), spec.checks.allowed.end(),
                    [](const Allowance& allowance) { return allowance.cause == "late-request"; })) {
        throw SpecError(fmt::format("{}: checks: the cause late-request needs transaction_version = 1 (version 2's epoch "
                                    "bump fences a late request)",
                                    source));
    }
    return spec;
}

Spec load_spec_file(const std::string& path) {
    std::ifstream file(path);
    if (!file) {
        throw SpecError(fmt::format("{}: cannot read the spec file", path));
    }
    std::ostringstream text;
    text << file.rdbuf();
    return parse_spec(text.str(), path);
}

}  // namespace eosim::scenarios
