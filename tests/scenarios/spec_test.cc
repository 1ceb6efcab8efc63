#include <gtest/gtest.h>

#include "scenarios/spec.h"

namespace eosim::scenarios {
namespace {

std::string error_of(const std::string& text) {
    try {
        (void)parse_spec(text, "test.toml");
    } catch (const SpecError& error) {
        return error.what();
    }
    return "";
}

TEST(Spec, BuiltinsParseAndHaveDistinctNames) {
    std::set<std::string> names;
    for (const Spec& spec : builtin_specs()) {
        EXPECT_TRUE(names.insert(spec.name).second) << spec.name;
        EXPECT_FALSE(spec.description.empty()) << spec.name;
    }
    EXPECT_NE(find_builtin("log-acks-all"), nullptr);
    EXPECT_EQ(find_builtin("nope"), nullptr);
}

TEST(Spec, ErrorsAreOneLineWithTheirPlace) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"name = \"x\"\n[cluster\n", "test.toml:2:"},
        {"description = \"no name\"\n", "needs a name"},
        {"name = \"x\"\n[cluster]\nbrokers = 0\n", "test.toml:3:"},
        {"name = \"x\"\n[cluster]\nbrokers = \"three\"\n", "brokers must be an integer"},
        {"name = \"x\"\n[faults]\nkinds = [\"meteor\"]\n", "unknown fault kind 'meteor'"},
        {"name = \"x\"\n[checks]\nweaknesses = [\"bad-luck\"]\n", "unknown anomaly 'bad-luck'"},
        {"name = \"x\"\n[workload]\nacks = \"2\"\n", "acks must be"},
        {"name = \"x\"\n[cluster]\nbrokerz = 3\n", "unknown key 'brokerz' in [cluster]"},
        {"name = \"x\"\n[faults]\ninterval_ms = [5, 1]\n", "interval_ms must be [low, high]"},
        {"name = \"x\"\n[cluster]\nbrokers = 1\n", "replication_factor 3 is more than brokers 1"},
        {"name = \"x\"\n[cluster]\nreplication_factor = 1\n", "min_insync_replicas 2 is more than replication_factor 1"},
        {"name = \"x\"\n[workload]\nsend_interval_ms = [0, 0]\n", "send_interval_ms must start at 1"},
        {"name = \"x\"\n[workload]\nacks = \"1\"\nidempotent = true\n", "idempotent = true needs acks = \"all\""},
        {"name = \"x\"\n[checks]\nallowed = [\"duplicate when retried-send\"]\n", "duplicate cannot be allowed or a weakness with idempotent"},
        {"name = \"x\"\n[checks]\nweaknesses = [\"nonmonotonic-send\"]\n", "nonmonotonic-send cannot be allowed"},
        {"name = \"x\"\n[cluster]\nproducer_id_expiration_ms = 5000\n",
         "producer_id_expiration_ms 5000 must be more than the workload's delivery_timeout_ms 10000 plus the longest "
         "fault (3000 ms)"},
        {"name = \"x\"\n[workload]\npause_ms = [100, 200]\n", "pause_every_ms and pause_ms go together"},
        {"name = \"x\"\n[workload]\ndelete_records_every_ms = [0, 200]\n", "must be [0, 0] (never) or start at 1"},
        {"name = \"x\"\n[cluster]\nretention_ms = -2\n", "retention_ms must be an integer from -1"},
        {"name = \"x\"\n[cluster]\ncleanup_policy = \"shred\"\n", "cleanup_policy must be \"delete\" or \"compact\""},
        {"name = \"x\"\n[workload]\ntombstone_percent = 5\n", "tombstone_percent needs cleanup_policy = \"compact\""},
        {"name = \"x\"\n[workload]\nprobe_sends = 1001\n", "probe_sends must be an integer from 0"},
    };
    for (const auto& [text, expected] : cases) {
        const std::string error = error_of(text);
        EXPECT_NE(error.find(expected), std::string::npos) << "for:\n" << text << "got: " << error;
        EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    }
}

TEST(Spec, ParsesEveryField) {
    const Spec spec = parse_spec(R"(
name = "custom"
description = "a custom scenario"
[cluster]
brokers = 5
replication_factor = 3
partitions = 7
min_insync_replicas = 2
unclean_leader_election = true
flush_every_write = true
segment_bytes = 65536
[workload]
producers = 3
consumers = 2
acks = "1"
keyed = false
max_in_flight = 5
send_interval_ms = [2, 20]
[faults]
kinds = ["crash", "split"]
chaos_ms = 5000
interval_ms = [100, 200]
crash_unsynced = "tear"
[checks]
allowed = ["duplicate when retried-send", "inconsistent-offsets when acks-1"]
weaknesses = ["lost-write"]
quiesce_ms = 30000
)",
                                 "custom.toml");
    EXPECT_EQ(spec.cluster.brokers, 5);
    EXPECT_EQ(spec.cluster.partitions, 7);
    EXPECT_TRUE(spec.cluster.unclean_leader_election);
    EXPECT_EQ(spec.workload.acks, 1);
    EXPECT_FALSE(spec.workload.keyed);
    EXPECT_EQ(spec.workload.max_in_flight, 5);
    EXPECT_EQ(spec.faults.plan.kinds.size(), 2U);
    EXPECT_EQ(spec.faults.plan.crash_unsynced, sim::UnsyncedFate::tear);
    EXPECT_EQ(spec.checks.weaknesses, std::vector<std::string>{"lost-write"});
    EXPECT_EQ(spec.checks.allowed, (std::vector<Allowance>{{"duplicate", "retried-send"},
                                                          {"inconsistent-offsets", "acks-1"}}));
    EXPECT_EQ(spec.checks.quiesce_ms, 30000);
}

TEST(Spec, AnAllowanceNamesAKnownCause) {
    const auto error_of = [](const std::string& allowed) {
        try {
            (void)parse_spec("name = \"x\"\n[workload]\nidempotent = false\n[checks]\nallowed = [" + allowed + "]\n",
                             "x.toml");
        } catch (const SpecError& error) {
            return std::string(error.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(error_of("\"duplicate\"").find("must name its cause"), std::string::npos) << error_of("\"duplicate\"");
    EXPECT_NE(error_of("\"duplicate when cosmic-rays\"").find("unknown cause 'cosmic-rays'"), std::string::npos);
    EXPECT_NE(error_of("\"nonsense when acks-1\"").find("unknown anomaly 'nonsense'"), std::string::npos);
    EXPECT_EQ(error_of("\"duplicate when retried-send\""), "no error");
}

TEST(Spec, LateRequestExcusesOnlyAtTransactionVersion1) {
    const std::string allowed = "[checks]\nallowed = [\"aborted-read when late-request\"]\n";
    EXPECT_EQ(parse_spec("name = \"x\"\n[cluster]\ntransaction_version = 1\n" + allowed, "x.toml").cluster.transaction_version,
              1);
    EXPECT_EQ(parse_spec("name = \"x\"\n", "x.toml").cluster.transaction_version, 2);
    try {
        (void)parse_spec("name = \"x\"\n" + allowed, "x.toml");
        ADD_FAILURE() << "version 2's epoch bump fences a late request: no excuse there";
    } catch (const SpecError& error) {
        EXPECT_NE(std::string(error.what()).find("late-request needs transaction_version = 1"), std::string::npos)
            << error.what();
    }
    EXPECT_THROW((void)parse_spec("name = \"x\"\n[cluster]\ntransaction_version = 3\n", "x.toml"), SpecError);
}

TEST(Spec, IdempotenceFollowsAcksUnlessSet) {
    EXPECT_TRUE(parse_spec("name = \"x\"\n", "x.toml").workload.idempotent);
    EXPECT_FALSE(parse_spec("name = \"x\"\n[workload]\nacks = \"1\"\n", "x.toml").workload.idempotent);
    const Spec plain = parse_spec(
        "name = \"x\"\n[workload]\nidempotent = false\ndelivery_timeout_ms = 3000\n[cluster]\nsegment_bytes = "
        "4096\nproducer_id_expiration_ms = 2000\n[checks]\nallowed = [\"duplicate when retried-send\"]\n",
        "x.toml");
    EXPECT_FALSE(plain.workload.idempotent);
    EXPECT_EQ(plain.workload.delivery_timeout_ms, 3000);
    EXPECT_EQ(plain.cluster.segment_bytes, 4096);
    EXPECT_EQ(plain.cluster.producer_id_expiration_ms, 2000);
}

TEST(Spec, ParsesTheLifecycleKeys) {
    const Spec spec = parse_spec(R"(
name = "lifecycle"
[cluster]
retention_ms = 2000
retention_bytes = 32768
[workload]
pause_every_ms = [1000, 3000]
pause_ms = [4500, 6000]
delete_records_every_ms = [800, 2500]
)",
                                 "lifecycle.toml");
    EXPECT_EQ(spec.cluster.retention_ms, 2000);
    EXPECT_EQ(spec.cluster.retention_bytes, 32768);
    EXPECT_EQ(spec.workload.pause_every_min_ms, 1000);
    EXPECT_EQ(spec.workload.pause_max_ms, 6000);
    EXPECT_EQ(spec.workload.delete_records_every_max_ms, 2500);
    const Spec defaults = parse_spec("name = \"x\"\n", "x.toml");
    EXPECT_EQ(defaults.cluster.retention_ms, -1);
    EXPECT_EQ(defaults.workload.pause_every_max_ms, 0);
    EXPECT_FALSE(defaults.cluster.compacted);
    EXPECT_EQ(defaults.workload.probe_sends, 3);
    EXPECT_EQ(parse_spec("name = \"x\"\n[workload]\nprobe_sends = 0\n", "x.toml").workload.probe_sends, 0);
    const Spec compacted = parse_spec(
        "name = \"x\"\n[cluster]\ncleanup_policy = \"compact\"\ndelete_retention_ms = 500\nmin_compaction_lag_ms = "
        "100\n[workload]\ntombstone_percent = 10\nkeys = 1000\n",
        "x.toml");
    EXPECT_TRUE(compacted.cluster.compacted);
    EXPECT_EQ(compacted.cluster.delete_retention_ms, 500);
    EXPECT_EQ(compacted.cluster.min_compaction_lag_ms, 100);
    EXPECT_EQ(compacted.workload.tombstone_percent, 10);
    EXPECT_EQ(compacted.workload.keys, 1000);
}

// Without [[topics]], the one topic of [cluster] with no overrides: the brokers' defaults are its config.
TEST(Spec, WithoutTopicsTheClusterHasItsOneTopic) {
    const Spec defaults = parse_spec("name = \"x\"\n", "x.toml");
    ASSERT_EQ(defaults.topics.size(), 1U);
    EXPECT_EQ(defaults.topics[0],
              (protocol::TopicDescription{.name = "events", .partitions = 3, .replication_factor = 3}));
    const Spec custom = parse_spec(
        "name = \"x\"\n[cluster]\ntopic = \"orders\"\npartitions = 7\nbrokers = 5\nreplication_factor = 4\n"
        "cleanup_policy = \"compact\"\n",
        "x.toml");
    ASSERT_EQ(custom.topics.size(), 1U);
    EXPECT_EQ(custom.topics[0],
              (protocol::TopicDescription{.name = "orders", .partitions = 7, .replication_factor = 4}));
    EXPECT_TRUE(compacted(custom, custom.topics[0])) << "the cluster's cleanup policy";
    for (const Spec& spec : builtin_specs()) {
        EXPECT_FALSE(spec.topics.empty()) << spec.name;
    }
}

TEST(Spec, ParsesTopicsWithTheirOwnSettings) {
    const Spec spec = parse_spec(R"(
name = "two-topics"
[cluster]
partitions = 4
segment_bytes = 4096
retention_ms = 2000
[[topics]]
name = "events"
[[topics]]
name = "latest"
partitions = 2
replication_factor = 2
cleanup_policy = "compact"
retention_ms = -1
retention_bytes = 65536
delete_retention_ms = 6000
min_compaction_lag_ms = 3000
segment_bytes = 8192
[workload]
tombstone_percent = 5
)",
                                 "two.toml");
    ASSERT_EQ(spec.topics.size(), 2U);
    EXPECT_EQ(spec.topics[0], (protocol::TopicDescription{.name = "events", .partitions = 4, .replication_factor = 3}))
        << "unset: the cluster's partitions and replication factor, the brokers' log settings";
    const protocol::TopicDescription& latest = spec.topics[1];
    EXPECT_EQ(latest.name, "latest");
    EXPECT_EQ(latest.partitions, 2);
    EXPECT_EQ(latest.replication_factor, 2);
    EXPECT_FALSE(latest.internal);
    EXPECT_EQ(latest.configs, (protocol::TopicConfigOverrides{.cleanup_policy = protocol::CleanupPolicy::compact,
                                                              .retention_ms = -1,
                                                              .retention_bytes = 65536,
                                                              .delete_retention_ms = 6000,
                                                              .min_compaction_lag_ms = 3000,
                                                              .segment_bytes = 8192}));
    EXPECT_FALSE(compacted(spec, spec.topics[0]));
    EXPECT_TRUE(compacted(spec, latest));
    EXPECT_EQ(spec.cluster.retention_ms, 2000) << "the brokers' default stays";
    EXPECT_EQ(spec.workload.tombstone_percent, 5);
}

TEST(Spec, TopicErrorsAreOneLineWithTheirPlace) {
    const std::string base = "name = \"x\"\n";
    const std::vector<std::pair<std::string, std::string>> cases{
        {"[[topics]]\nname = \"a\"\n[[topics]]\nname = \"a\"\n", "test.toml:4:1: topics: 'a' is declared twice"},
        {"[[topics]]\nname = \"a\"\ncolor = \"red\"\n", "test.toml:4:9: unknown key 'color' in [[topics]]"},
        {"[[topics]]\nname = \"__consumer_offsets\"\n", "'__consumer_offsets' is not a topic name"},
        {"[[topics]]\nname = \"__mine\"\n", "names starting with __ are the brokers' internal topics"},
        {"[[topics]]\nname = \"a/b\"\n", "'a/b' is not a topic name"},
        {"[cluster]\ntopic = \"a b\"\n", "test.toml:3:9: topic: 'a b' is not a topic name"},
        {"[cluster]\ntopic = \"__x\"\n", "topic: '__x' is not a topic name"},
        {"[[topics]]\npartitions = 2\n", "test.toml:2:1: topics: every topic needs a name"},
        {"[[topics]]\nname = 7\n", "name must be a string"},
        {"[[topics]]\nname = \"a\"\npartitions = 0\n", "test.toml:4:14: partitions must be an integer from 1 to 64"},
        {"[[topics]]\nname = \"a\"\nreplication_factor = 4\n", "replication_factor must be an integer from 1 to 3"},
        {"[[topics]]\nname = \"a\"\nreplication_factor = 1\n",
         "topics: 'a' has replication_factor 1, below min_insync_replicas 2"},
        {"[[topics]]\nname = \"a\"\ncleanup_policy = \"shred\"\n", "cleanup_policy must be \"delete\" or \"compact\""},
        {"[[topics]]\nname = \"a\"\nretention_ms = -2\n", "retention_ms must be an integer from -1"},
        {"[[topics]]\nname = \"a\"\nsegment_bytes = 10\n", "segment_bytes must be an integer from 1024"},
        {"[[topics]]\nname = \"a\"\ndelete_retention_ms = -1\n", "delete_retention_ms must be an integer from 0"},
        {"[[topics]]\nname = \"a\"\nmin_compaction_lag_ms = \"soon\"\n", "min_compaction_lag_ms must be an integer"},
        {"[[topics]]\nname = \"a\"\nretention_bytes = 1.5\n", "retention_bytes must be an integer"},
        {"topics = 3\n", "test.toml:2:10: topics must be 1 to 16 [[topics]] tables"},
        {"topics = []\n", "topics must be 1 to 16 [[topics]] tables"},
        {"[cluster]\ntopic = \"t\"\n[[topics]]\nname = \"a\"\n",
         "test.toml:3:9: cluster: topic names the only topic of a spec without [[topics]]"},
        {"[cluster]\ncleanup_policy = \"compact\"\n[[topics]]\nname = \"a\"\ncleanup_policy = \"delete\"\n[workload]\n"
         "tombstone_percent = 5\n",
         "tombstone_percent needs cleanup_policy = \"compact\""},
    };
    for (const auto& [text, expected] : cases) {
        const std::string error = error_of(base + text);
        EXPECT_NE(error.find(expected), std::string::npos) << "for:\n" << text << "got: " << error;
        EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    }
    std::string seventeen = base;
    for (int i = 0; i < 17; ++i) {
        seventeen += "[[topics]]\nname = \"t" + std::to_string(i) + "\"\n";
    }
    EXPECT_NE(error_of(seventeen).find("topics must be 1 to 16"), std::string::npos) << error_of(seventeen);
}

}  // namespace
}  // namespace eosim::scenarios
