// Topics: per-topic configs over the broker's defaults, topics in the controller's metadata log (and
// across its restart), CreateTopics forwarded by a broker to the controller, and the internal topics a
// FindCoordinator creates.

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>

#include "broker_core/broker.h"
#include "broker_core/controller.h"
#include "broker_core/topic_config.h"
#include "protocol/coordinator.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using namespace std::chrono_literals;
using protocol::BrokerId;
using protocol::CleanupPolicy;
using protocol::ErrorCode;
using protocol::Offset;
using protocol::TopicConfigOverrides;
using protocol::TopicDescription;
using protocol::TopicPartition;

// ---- The config overlay --------------------------------------------------------------------------

LogConfig broker_defaults() {
    LogConfig config;
    config.segment_bytes = 8192;
    config.flush_every_write = true;
    config.retention_ms = 2000;
    config.retention_bytes = 32768;
    config.compacted = false;
    config.delete_retention_ms = 6000;
    config.min_compaction_lag_ms = 100;
    return config;
}

TEST(TopicConfigOverlay, WhatATopicDoesNotOverrideIsTheBrokersDefault) {
    const LogConfig defaults = broker_defaults();
    const LogConfig config = topic_log_config(defaults, TopicConfigOverrides{});
    EXPECT_EQ(config.segment_bytes, defaults.segment_bytes);
    EXPECT_EQ(config.retention_ms, defaults.retention_ms);
    EXPECT_EQ(config.retention_bytes, defaults.retention_bytes);
    EXPECT_EQ(config.compacted, defaults.compacted);
    EXPECT_EQ(config.delete_retention_ms, defaults.delete_retention_ms);
    EXPECT_EQ(config.min_compaction_lag_ms, defaults.min_compaction_lag_ms);
}

TEST(TopicConfigOverlay, EachOverrideReplacesItsDefaultAndNothingElse) {
    const LogConfig defaults = broker_defaults();
    const TopicConfigOverrides overrides{.cleanup_policy = CleanupPolicy::compact,
                                         .retention_ms = -1,
                                         .retention_bytes = 1 << 20,
                                         .delete_retention_ms = 0,
                                         .min_compaction_lag_ms = 3000,
                                         .segment_bytes = 4096};
    const LogConfig config = topic_log_config(defaults, overrides);
    EXPECT_TRUE(config.compacted);
    EXPECT_EQ(config.retention_ms, -1);
    EXPECT_EQ(config.retention_bytes, 1 << 20);
    EXPECT_EQ(config.delete_retention_ms, 0);
    EXPECT_EQ(config.min_compaction_lag_ms, 3000);
    EXPECT_EQ(config.segment_bytes, 4096U);
    EXPECT_TRUE(config.flush_every_write) << "not a topic config: always the broker's";

    // One override alone leaves every other default.
    const LogConfig only_policy =
        topic_log_config(defaults, TopicConfigOverrides{.cleanup_policy = CleanupPolicy::delete_old_segments});
    EXPECT_FALSE(only_policy.compacted);
    EXPECT_EQ(only_policy.retention_ms, defaults.retention_ms);
    EXPECT_EQ(only_policy.segment_bytes, defaults.segment_bytes);
    LogConfig compacted_defaults = defaults;
    compacted_defaults.compacted = true;
    EXPECT_FALSE(
        topic_log_config(compacted_defaults, TopicConfigOverrides{.cleanup_policy = CleanupPolicy::delete_old_segments})
            .compacted)
        << "a topic's delete policy overrides a compacting broker default";
    EXPECT_TRUE(topic_log_config(compacted_defaults, TopicConfigOverrides{}).compacted);
}

TEST(TopicConfigs, EntriesUseKafkasNamesAndReadBack) {
    const TopicConfigOverrides overrides{.cleanup_policy = CleanupPolicy::compact,
                                         .retention_ms = 2000,
                                         .min_compaction_lag_ms = 0,
                                         .segment_bytes = 4096};
    const auto entries = protocol::config_entries(overrides);
    const std::vector<std::pair<std::string, std::string>> expected{{"cleanup.policy", "compact"},
                                                                    {"retention.ms", "2000"},
                                                                    {"min.compaction.lag.ms", "0"},
                                                                    {"segment.bytes", "4096"}};
    EXPECT_EQ(entries, expected);
    TopicConfigOverrides read;
    for (const auto& [name, value] : entries) {
        EXPECT_TRUE(protocol::set_config(read, name, value)) << name;
    }
    EXPECT_EQ(read, overrides);
    EXPECT_TRUE(protocol::config_entries(TopicConfigOverrides{}).empty());
}

TEST(TopicConfigs, UnknownNamesAndBadValuesAreRefusedAndChangeNothing) {
    TopicConfigOverrides configs;
    for (const auto& [name, value] :
         std::vector<std::pair<std::string, std::string>>{{"cleanup.policy", "shred"},
                                                          {"cleanup.policy", "compact,delete"},
                                                          {"retention.ms", "-2"},
                                                          {"retention.ms", "12abc"},
                                                          {"retention.ms", ""},
                                                          {"retention.bytes", "-5"},
                                                          {"delete.retention.ms", "-1"},
                                                          {"min.compaction.lag.ms", "-1"},
                                                          {"segment.bytes", "100"},
                                                          {"segment.bytes", "99999999999999"},
                                                          {"max.message.bytes", "1000"}}) {
        EXPECT_FALSE(protocol::set_config(configs, name, value)) << name << "=" << value;
    }
    EXPECT_EQ(configs, TopicConfigOverrides{});
    EXPECT_TRUE(protocol::valid_configs(TopicConfigOverrides{.retention_ms = -1}));
    EXPECT_FALSE(protocol::valid_configs(TopicConfigOverrides{.retention_ms = -2}));
    EXPECT_FALSE(protocol::valid_configs(TopicConfigOverrides{.segment_bytes = 0}));
}

TEST(TopicNames, FollowKafkasTopicValidate) {
    for (const std::string_view name : {"events", "a", "A-b_c.d", "__consumer_offsets", "x1"}) {
        EXPECT_TRUE(protocol::valid_topic_name(name)) << name;
    }
    EXPECT_TRUE(protocol::valid_topic_name(std::string(249, 'x')));
    EXPECT_FALSE(protocol::valid_topic_name(std::string(250, 'x')));
    for (const std::string_view name : {"", ".", "..", "a/b", "a b", "caf\xc3\xa9", "t:1"}) {
        EXPECT_FALSE(protocol::valid_topic_name(name)) << name;
    }
    EXPECT_TRUE(protocol::is_internal_topic("__consumer_offsets"));
    EXPECT_TRUE(protocol::is_internal_topic("__transaction_state"));
    EXPECT_FALSE(protocol::is_internal_topic("__other"));
}

// ---- A cluster ------------------------------------------------------------------------------------

struct ClusterOptions {
    int brokers = 3;
    std::vector<TopicConfig> topics;
    LogConfig log;
    std::int32_t offsets_topic_replication_factor = 3;
    // Runs on the controller's node before it first starts (to put bytes on its disk).
    std::function<void(sim::Node&)> before_controller_start;
};

struct TopicCluster {
    explicit TopicCluster(std::uint64_t seed, ClusterOptions options)
        : simulation(sim::SimulationOptions{.seed = seed,
                                            .trace_sink = std::getenv("EOSIM_TEST_TRACE") ? &std::cerr : nullptr}) {
        ControllerConfig controller_config;
        for (int i = 1; i <= options.brokers; ++i) {
            controller_config.brokers.emplace_back(i);
        }
        controller_config.topics = options.topics;
        controller = &simulation.add_node("controller", [controller_config](sim::Node& node) {
            return std::make_unique<Controller>(node, controller_config);
        });
        addresses.controller = controller->id();
        for (int i = 1; i <= options.brokers; ++i) {
            addresses.brokers[BrokerId(i)] = sim::NodeId(static_cast<std::uint32_t>(i + 1));
        }
        for (int i = 1; i <= options.brokers; ++i) {
            BrokerConfig config;
            config.id = BrokerId(i);
            config.addresses = addresses;
            config.log = options.log;
            config.offsets_topic_replication_factor = options.offsets_topic_replication_factor;
            brokers.push_back(&simulation.add_node("broker-" + std::to_string(i), [config](sim::Node& node) {
                return std::make_unique<Broker>(node, config);
            }));
        }
        client = &simulation.add_node("client", [](sim::Node&) { return std::make_unique<sim::NodeState>(); });
        if (options.before_controller_start) {
            options.before_controller_start(*controller);
        }
        controller->start();
        for (sim::Node* broker : brokers) {
            broker->start();
        }
        client->start();
    }

    sim::Node& broker(BrokerId id) { return *brokers[static_cast<std::size_t>(id.value() - 1)]; }
    Broker& state(BrokerId id) { return broker(id).state<Broker>(); }
    Controller& controller_state() { return controller->state<Controller>(); }
    const Replica* replica(BrokerId id, const TopicPartition& partition) {
        const auto& replicas = state(id).replicas();
        const auto found = replicas.find(partition);
        return found != replicas.end() ? found->second.get() : nullptr;
    }

    // Sends `request` to broker `to` from the client node (in a fiber); a network failure fails the test.
    template <typename Response, typename Request>
    Response call(BrokerId to, const Request& request, sim::Duration timeout = 3s) {
        sim::RpcClient rpc(*client, addresses.brokers.at(to), broker_port);
        auto response = rpc.call(sim::make_message(request), timeout);
        EXPECT_TRUE(response.ok());
        return response ? response->template as<Response>() : Response{};
    }

    protocol::CreateTopicsResponse create(BrokerId via, std::vector<TopicDescription> topics) {
        return call<protocol::CreateTopicsResponse>(via, protocol::CreateTopicsRequest{std::move(topics)});
    }

    void run_until(const std::function<bool()>& done, sim::Duration limit = 60s) {
        const auto outcome = simulation.run(sim::RunBounds{.time_limit = simulation.now() + limit}, done);
        ASSERT_EQ(outcome.status, sim::RunStatus::done) << "gave up at " << sim::to_ns(outcome.end_time);
    }

    sim::Simulation simulation;
    ClusterAddresses addresses;
    sim::Node* controller = nullptr;
    std::vector<sim::Node*> brokers;
    sim::Node* client = nullptr;
};

TopicDescription topic(std::string name, std::int32_t partitions, std::int32_t replication_factor,
                       TopicConfigOverrides configs = {}) {
    return TopicDescription{.name = std::move(name),
                            .partitions = partitions,
                            .replication_factor = replication_factor,
                            .internal = false,
                            .configs = configs};
}

const TopicConfigOverrides compacted_configs{
    .cleanup_policy = CleanupPolicy::compact, .delete_retention_ms = 500, .segment_bytes = 4096};

// ---- Topics in the metadata ----------------------------------------------------------------------

TEST(Topics, EachReplicaGetsItsTopicsConfigOverTheBrokersDefaults) {
    TopicCluster cluster(1, ClusterOptions{.topics = {topic("plain", 2, 3), topic("latest", 1, 2, compacted_configs)},
                                           .log = broker_defaults()});
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        done = true;
    });
    cluster.run_until([&] { return done; });
    for (int i = 1; i <= 3; ++i) {
        const BrokerId id(i);
        for (const std::int32_t p : {0, 1}) {
            const Replica* plain = cluster.replica(id, TopicPartition{"plain", p});
            ASSERT_NE(plain, nullptr) << "broker " << i;
            EXPECT_FALSE(plain->log.config().compacted);
            EXPECT_EQ(plain->log.config().retention_ms, 2000);
            EXPECT_EQ(plain->log.config().segment_bytes, 8192U);
        }
        const auto& metadata_topics = cluster.state(id).metadata().topics;
        ASSERT_EQ(metadata_topics.size(), 2U);
        EXPECT_EQ(metadata_topics[0].name, "latest");
        EXPECT_EQ(metadata_topics[0].configs, compacted_configs);
    }
    int latest_replicas = 0;
    for (int i = 1; i <= 3; ++i) {
        if (const Replica* latest = cluster.replica(BrokerId(i), TopicPartition{"latest", 0})) {
            ++latest_replicas;
            EXPECT_TRUE(latest->log.config().compacted);
            EXPECT_EQ(latest->log.config().delete_retention_ms, 500);
            EXPECT_EQ(latest->log.config().segment_bytes, 4096U);
            EXPECT_EQ(latest->log.config().retention_ms, 2000) << "not overridden: the broker's";
        }
    }
    EXPECT_EQ(latest_replicas, 2) << "replication factor 2";
}

// The topics and their configs are records of the metadata log: a controller that loses everything
// unsynced knows them after its restart, and a broker restarted afterwards rebuilds its replicas with
// the same configs.
TEST(Topics, AControllerRestartRecoversTopicsAndTheirConfigs) {
    TopicCluster cluster(2, ClusterOptions{.topics = {topic("plain", 1, 3), topic("latest", 2, 3, compacted_configs)}});
    std::map<std::string, TopicDescription> before;
    std::map<TopicPartition, protocol::PartitionState> partitions_before;
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        ASSERT_EQ(cluster.create(BrokerId(2), {topic("made", 3, 2, TopicConfigOverrides{.retention_ms = 100})})
                      .topics.front()
                      .error,
                  ErrorCode::none);
        before = cluster.controller_state().topics();
        partitions_before = cluster.controller_state().partitions();
        (void)cluster.controller->crash(sim::CrashOptions{.unsynced = sim::UnsyncedFate::lose});
        sim::sleep(300ms);
        cluster.controller->restart();
        sim::sleep(100ms);
        EXPECT_EQ(cluster.controller_state().topics(), before);
        EXPECT_EQ(cluster.controller_state().partitions(), partitions_before);
        (void)cluster.broker(BrokerId(1)).crash();
        cluster.broker(BrokerId(1)).restart();
        sim::sleep(2s);
        done = true;
    });
    cluster.run_until([&] { return done; });
    ASSERT_EQ(before.size(), 3U);
    EXPECT_EQ(before.at("made").configs.retention_ms, 100);
    EXPECT_TRUE(before.at("latest").configs.cleanup_policy == CleanupPolicy::compact);
    const Replica* latest = cluster.replica(BrokerId(1), TopicPartition{"latest", 1});
    ASSERT_NE(latest, nullptr);
    EXPECT_TRUE(latest->log.config().compacted);
    EXPECT_EQ(cluster.state(BrokerId(1)).metadata().topics.size(), 3U);
}

// A metadata log whose last topic lost some of its partition records (a crash kept a prefix of what was
// never durable, so never published): the topic is dropped, and the bootstrap topics are created. A topic
// record starts its topic afresh.
TEST(Topics, ATopicWhosePartitionRecordsDidNotAllSurviveIsDropped) {
    const auto write_partial_log = [](sim::Node& controller) {
        // "lost" ends incomplete; "again" was left incomplete once, then created anew with 1 partition.
        const std::string text =
            "T again 0 3 3\nP again 0 1 0 0 1,2,3 1,2,3\nP again 1 2 0 0 2,3,1 2,3,1\n"
            "T again 0 1 3 segment.bytes=2048\nP again 0 2 0 0 2,3,1 2,3,1\n"
            "T lost 0 3 3\nP lost 0 1 0 0 1,2,3 1,2,3\n";
        sim::Disk& disk = controller.disk();
        (void)disk.create("metadata/cluster_metadata");
        (void)disk.append("metadata/cluster_metadata", std::as_bytes(std::span(text.data(), text.size())));
        disk.writeback();
    };
    TopicCluster cluster(3,
                         ClusterOptions{.topics = {topic("kept", 1, 3)}, .before_controller_start = write_partial_log});
    EXPECT_FALSE(cluster.controller_state().topics().contains("lost"));
    EXPECT_FALSE(cluster.controller_state().partitions().contains(TopicPartition{"lost", 0}));
    EXPECT_TRUE(cluster.controller_state().topics().contains("kept"));
    EXPECT_TRUE(cluster.controller_state().partitions().contains(TopicPartition{"kept", 0}));
    const TopicDescription& again = cluster.controller_state().topics().at("again");
    EXPECT_EQ(again.partitions, 1);
    EXPECT_EQ(again.configs.segment_bytes, 2048);
    EXPECT_EQ(cluster.controller_state().partitions().at(TopicPartition{"again", 0}).leader, BrokerId(2));
    EXPECT_FALSE(cluster.controller_state().partitions().contains(TopicPartition{"again", 1}))
        << "a partition of the earlier, incomplete creation";
}

// Kafka applies retention only to topics with cleanup.policy=delete, and refuses DeleteRecords on the
// others with POLICY_VIOLATION.
TEST(Topics, CompactedTopicsKeepTheirSegmentsFromRetentionAndRefuseDeleteRecords) {
    LogConfig defaults = broker_defaults();
    defaults.segment_bytes = 1024;
    defaults.retention_ms = 0;  // every segment is old enough at once
    TopicCluster cluster(
        4, ClusterOptions{
               .topics = {topic("plain", 1, 3), topic("latest", 1, 3, {.cleanup_policy = CleanupPolicy::compact})},
               .log = defaults});
    protocol::DeleteRecordsResponse plain_deleted;
    protocol::DeleteRecordsResponse latest_deleted;
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        for (const std::string name : {"plain", "latest"}) {
            const TopicPartition partition{name, 0};
            const BrokerId leader = cluster.controller_state().partitions().at(partition).leader;
            for (int i = 0; i < 40; ++i) {
                protocol::ProduceRequest request;
                request.partitions.push_back(protocol::ProducePartition{.partition = partition});
                request.partitions[0].batch.records.push_back(
                    protocol::Record{"k" + std::to_string(i % 4), std::string(60, 'v'), 0});
                ASSERT_EQ(cluster.call<protocol::ProduceResponse>(leader, request).partitions.at(0).error, ErrorCode::none);
            }
        }
        sim::sleep(2s);  // retention passes run every 500 ms
        const std::vector<std::pair<std::string, protocol::DeleteRecordsResponse*>> deletes{
            {"plain", &plain_deleted}, {"latest", &latest_deleted}};
        for (const auto& [name, response] : deletes) {
            const TopicPartition partition{name, 0};
            const BrokerId leader = cluster.controller_state().partitions().at(partition).leader;
            *response = cluster.call<protocol::DeleteRecordsResponse>(
                leader, protocol::DeleteRecordsRequest{partition, protocol::delete_to_high_watermark, 1s});
        }
        done = true;
    });
    cluster.run_until([&] { return done; });
    for (int i = 1; i <= 3; ++i) {
        EXPECT_GT(cluster.replica(BrokerId(i), TopicPartition{"plain", 0})->log.log_start_offset(), Offset(0));
        EXPECT_EQ(cluster.replica(BrokerId(i), TopicPartition{"latest", 0})->log.log_start_offset(), Offset(0));
    }
    EXPECT_EQ(plain_deleted.error, ErrorCode::none);
    EXPECT_EQ(latest_deleted.error, ErrorCode::policy_violation);
}

// ---- CreateTopics --------------------------------------------------------------------------------

TEST(CreateTopics, AnyBrokerForwardsItAndEveryBrokerLearnsTheTopic) {
    TopicCluster cluster(5, ClusterOptions{.topics = {topic("events", 1, 3)}});
    protocol::CreateTopicsResponse response;
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        response = cluster.create(BrokerId(3), {topic("orders", 4, 2, TopicConfigOverrides{.segment_bytes = 2048})});
        sim::sleep(1s);  // heartbeats carry the new metadata
        const TopicPartition partition{"orders", 3};
        const BrokerId leader = cluster.controller_state().partitions().at(partition).leader;
        protocol::ProduceRequest request;
        request.partitions.push_back(protocol::ProducePartition{.partition = partition});
        request.partitions[0].batch.records.push_back(protocol::Record{std::nullopt, "v", 0});
        const protocol::ProduceResponse produced = cluster.call<protocol::ProduceResponse>(leader, request);
        ASSERT_EQ(produced.partitions.size(), 1U);
        EXPECT_EQ(produced.partitions[0].error, ErrorCode::none);
        done = true;
    });
    cluster.run_until([&] { return done; });
    ASSERT_EQ(response.topics.size(), 1U);
    EXPECT_EQ(response.topics[0], (protocol::CreatableTopicResult{"orders", ErrorCode::none}));
    // Round-robin over the live brokers, as at bootstrap: partition p's replicas start at broker p+1.
    const std::vector<std::vector<BrokerId>> expected{
        {BrokerId(1), BrokerId(2)}, {BrokerId(2), BrokerId(3)}, {BrokerId(3), BrokerId(1)}, {BrokerId(1), BrokerId(2)}};
    for (std::int32_t p = 0; p < 4; ++p) {
        const protocol::PartitionState& state = cluster.controller_state().partitions().at(TopicPartition{"orders", p});
        EXPECT_EQ(state.replicas, expected[static_cast<std::size_t>(p)]) << p;
        EXPECT_EQ(state.isr, state.replicas);
        EXPECT_EQ(state.leader, state.replicas.front());
        for (const BrokerId replica : state.replicas) {
            const Replica* held = cluster.replica(replica, state.partition);
            ASSERT_NE(held, nullptr) << state.partition.name() << " on broker " << replica.value();
            EXPECT_EQ(held->log.config().segment_bytes, 2048U);
        }
    }
    for (int i = 1; i <= 3; ++i) {
        EXPECT_EQ(cluster.state(BrokerId(i)).metadata().topics.size(), 2U) << "broker " << i;
    }
    EXPECT_FALSE(cluster.controller_state().topics().at("orders").internal);
}

TEST(CreateTopics, EachTopicGetsItsOwnError) {
    TopicCluster cluster(6, ClusterOptions{.topics = {topic("events", 1, 3)}});
    protocol::CreateTopicsResponse response;
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        response = cluster.create(
            BrokerId(1), {topic("events", 1, 3), topic("ok", 2, 3), topic("no-partitions", 0, 3),
                          topic("too-replicated", 1, 4), topic("no-replicas", 1, 0),
                          topic("bad-config", 1, 3, TopicConfigOverrides{.retention_ms = -7}), topic("bad/name", 1, 3),
                          topic("twice", 1, 3), topic("twice", 1, 3), topic("too-many-partitions", 1001, 1)});
        done = true;
    });
    cluster.run_until([&] { return done; });
    const std::vector<protocol::CreatableTopicResult> expected{
        {"events", ErrorCode::topic_already_exists},
        {"ok", ErrorCode::none},
        {"no-partitions", ErrorCode::invalid_partitions},
        {"too-replicated", ErrorCode::invalid_replication_factor},
        {"no-replicas", ErrorCode::invalid_replication_factor},
        {"bad-config", ErrorCode::invalid_config},
        {"bad/name", ErrorCode::invalid_topic_exception},
        {"twice", ErrorCode::invalid_request},
        {"twice", ErrorCode::invalid_request},
        {"too-many-partitions", ErrorCode::invalid_partitions}};
    EXPECT_EQ(response.topics, expected);
    std::vector<std::string> names;
    for (const auto& [name, description] : cluster.controller_state().topics()) {
        names.push_back(name);
    }
    EXPECT_EQ(names, (std::vector<std::string>{"events", "ok"}));
}

// The replication factor is checked against the live brokers (Kafka's controller: "only N broker(s) are
// registered"); replicas are placed on live brokers only.
TEST(CreateTopics, AReplicationFactorAboveTheLiveBrokersIsRefused) {
    TopicCluster cluster(7, ClusterOptions{.topics = {topic("events", 1, 3)}});
    protocol::CreateTopicsResponse three;
    protocol::CreateTopicsResponse two;
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        (void)cluster.broker(BrokerId(2)).crash();
        sim::sleep(3s);  // its session expires: fenced
        three = cluster.create(BrokerId(1), {topic("three", 1, 3)});
        two = cluster.create(BrokerId(1), {topic("two", 3, 2)});
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(three.topics.front().error, ErrorCode::invalid_replication_factor);
    EXPECT_EQ(two.topics.front().error, ErrorCode::none);
    for (std::int32_t p = 0; p < 3; ++p) {
        const auto& replicas = cluster.controller_state().partitions().at(TopicPartition{"two", p}).replicas;
        EXPECT_EQ(std::count(replicas.begin(), replicas.end(), BrokerId(2)), 0) << p;
    }
}

// The controller answers once the topic is durable: a crash right after the answer, losing every
// unsynced byte, keeps it.
TEST(CreateTopics, TheAnswerComesOnceTheTopicIsDurable) {
    TopicCluster cluster(8, ClusterOptions{.topics = {topic("events", 1, 3)}});
    protocol::CreateTopicsResponse response;
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        response = cluster.create(BrokerId(2), {topic("durable", 2, 3)});
        (void)cluster.controller->crash(sim::CrashOptions{.unsynced = sim::UnsyncedFate::lose});
        cluster.controller->restart();
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(response.topics.front().error, ErrorCode::none);
    EXPECT_TRUE(cluster.controller_state().topics().contains("durable"));
    EXPECT_TRUE(cluster.controller_state().partitions().contains(TopicPartition{"durable", 1}));
}

// Without a controller to forward to, each topic is answered REQUEST_TIMED_OUT (its fate unknown).
TEST(CreateTopics, AnUnreachableControllerTimesTheRequestOut) {
    TopicCluster cluster(9, ClusterOptions{.topics = {topic("events", 1, 3)}});
    protocol::CreateTopicsResponse response;
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        (void)cluster.controller->crash();
        response = cluster.create(BrokerId(1), {topic("a", 1, 3), topic("b", 1, 3)});
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(response.topics, (std::vector<protocol::CreatableTopicResult>{{"a", ErrorCode::request_timed_out},
                                                                            {"b", ErrorCode::request_timed_out}}));
}

// ---- FindCoordinator -----------------------------------------------------------------------------

// Java's String.hashCode, as printed by Java 17 for these strings (the malformed byte sequences decoded
// with new String(bytes, UTF_8), which puts U+FFFD where Java's decoder does).
static_assert(protocol::java_string_hash_code("hello") == 99162322, "usable at compile time");

TEST(JavaStringHashCode, MatchesJava) {
    const std::vector<std::pair<std::string, std::int32_t>> vectors{
        {"hello", 99162322},
        {"", 0},
        {"polygenelubricants", std::numeric_limits<std::int32_t>::min()},
        {"GydZG_", std::numeric_limits<std::int32_t>::min()},
        {"DESIGNING WORKHOUSES", std::numeric_limits<std::int32_t>::min()},
        {"Aa", 2112},
        {"BB", 2112},
        {"abc", 96354},
        {"test", 3556498},
        {"my-group", -1906497762},
        {"transactional-id-1", 1051133891},
        {"zzzzzzzzzz", -1580979136},
        {"group-17", 506311732},
        {"\xc3\xa9", 233},              // é, U+00E9
        {"\xe2\x82\xac", 8364},         // €, U+20AC
        {"\xf0\x9d\x84\x9e", 1772394},  // U+1D11E: two UTF-16 code units (surrogates)
        {"\xf0\x9f\x98\x80", 1772899},  // U+1F600
        {"k\xc3\xa9y", 110171},
        {"\xff"
         "a",
         2031620},  // an invalid byte: U+FFFD
        {"\xe2\x82"
         "a",
         2031620},                         // a truncated sequence: one U+FFFD
        {"\xed\xa0\x80", 65533},           // an encoded surrogate: one U+FFFD for all three bytes
        {"\xc0\xaf", 2097056},             // an overlong form: two U+FFFD
        {"\xf0\x80\x80\x80", 2017367872},  // overlong: four U+FFFD
        {"\xe0\x80\x80", 65074269},        // overlong: three U+FFFD
        {"\xf0\x9f"
         "a",
         2031620},            // truncated 4-byte: U+FFFD, then 'a'
        {"\xed\xa0", 65533},  // truncated at the end: one U+FFFD
        {"a\xe2", 68540},
        {"\xf5\x80\x80\x80", 2017367872},  // above U+10FFFF: four U+FFFD
        {"\xe2"
         "ab",
         62980318},
        {"\xc3", 65533},
    };
    for (const auto& [text, expected] : vectors) {
        EXPECT_EQ(protocol::java_string_hash_code(text), expected) << text;
    }
}

TEST(KafkaAbs, IsZeroForIntegerMinValue) {
    EXPECT_EQ(protocol::kafka_abs(std::numeric_limits<std::int32_t>::min()), 0);
    EXPECT_EQ(protocol::kafka_abs(std::numeric_limits<std::int32_t>::max()), std::numeric_limits<std::int32_t>::max());
    EXPECT_EQ(protocol::kafka_abs(-1906497762), 1906497762);
    EXPECT_EQ(protocol::kafka_abs(0), 0);
    EXPECT_EQ(protocol::kafka_abs(7), 7);
    // Utils.abs(key.hashCode) % partitions, with Java's values.
    EXPECT_EQ(protocol::coordinator_partition("polygenelubricants", 50), 0);
    EXPECT_EQ(protocol::coordinator_partition("hello", 50), 22);
    EXPECT_EQ(protocol::coordinator_partition("hello", 3), 1);
    EXPECT_EQ(protocol::coordinator_partition("my-group", 50), 12);
    EXPECT_EQ(protocol::coordinator_partition("transactional-id-1", 50), 41);
    EXPECT_EQ(protocol::coordinator_partition("transactional-id-1", 3), 2);
    EXPECT_EQ(protocol::coordinator_partition("zzzzzzzzzz", 50), 36);
}

// Asks broker `via` until it names a coordinator (or `limit` passes); the first answer and the last.
struct Lookup {
    protocol::FindCoordinatorResponse first;
    protocol::FindCoordinatorResponse last;
    int attempts = 0;
};

Lookup find_coordinator(TopicCluster& cluster, BrokerId via, protocol::FindCoordinatorRequest request,
                        sim::Duration limit = 5s) {
    Lookup lookup;
    const sim::Time give_up = sim::now() + limit;
    while (true) {
        lookup.last = cluster.call<protocol::FindCoordinatorResponse>(via, request);
        if (++lookup.attempts == 1) {
            lookup.first = lookup.last;
        }
        if (lookup.last.error == ErrorCode::none || sim::now() >= give_up) {
            return lookup;
        }
        sim::sleep(100ms);
    }
}

TEST(FindCoordinator, TheFirstLookupCreatesTheInternalTopicAndTheKeysPartitionLeaderCoordinates) {
    TopicCluster cluster(10, ClusterOptions{.topics = {topic("events", 1, 3)}});
    Lookup group;
    Lookup transaction;
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        group = find_coordinator(cluster, BrokerId(2), {"my-group", protocol::CoordinatorType::group});
        EXPECT_FALSE(cluster.controller_state().topics().contains("__transaction_state"));
        transaction =
            find_coordinator(cluster, BrokerId(3), {"transactional-id-1", protocol::CoordinatorType::transaction});
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(group.first.error, ErrorCode::coordinator_not_available) << "the topic did not exist yet";
    EXPECT_GT(group.attempts, 1);
    ASSERT_EQ(group.last.error, ErrorCode::none);
    const auto& partitions = cluster.controller_state().partitions();
    // abs("my-group".hashCode()) % 3 == 0; abs("transactional-id-1".hashCode()) % 3 == 2
    EXPECT_EQ(group.last.coordinator, partitions.at(TopicPartition{"__consumer_offsets", 0}).leader);
    EXPECT_EQ(transaction.first.error, ErrorCode::coordinator_not_available);
    ASSERT_EQ(transaction.last.error, ErrorCode::none);
    EXPECT_EQ(transaction.last.coordinator, partitions.at(TopicPartition{"__transaction_state", 2}).leader);
    for (const std::string name : {"__consumer_offsets", "__transaction_state"}) {
        const TopicDescription& internal = cluster.controller_state().topics().at(name);
        EXPECT_TRUE(internal.internal) << name;
        EXPECT_EQ(internal.partitions, 3) << name;
        EXPECT_EQ(internal.replication_factor, 3) << name;
        EXPECT_TRUE(internal.configs.cleanup_policy == CleanupPolicy::compact) << name;
        for (int i = 1; i <= 3; ++i) {
            const Replica* replica = cluster.replica(BrokerId(i), TopicPartition{name, 1});
            ASSERT_NE(replica, nullptr) << name << " on broker " << i;
            EXPECT_TRUE(replica->log.config().compacted);
        }
    }
}

// As Kafka: with fewer live brokers than offsets.topic.replication.factor the controller refuses the
// topic (INVALID_REPLICATION_FACTOR) and lookups stay COORDINATOR_NOT_AVAILABLE; never a topic with
// fewer replicas. Once the broker is back, the next lookup creates it.
TEST(FindCoordinator, FewerLiveBrokersThanTheReplicationFactorLeaveNoCoordinator) {
    TopicCluster cluster(11, ClusterOptions{.topics = {topic("events", 1, 3)}});
    Lookup while_down;
    Lookup after;
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        (void)cluster.broker(BrokerId(3)).crash();
        sim::sleep(3s);  // fenced
        while_down = find_coordinator(cluster, BrokerId(1), {"g", protocol::CoordinatorType::group}, 3s);
        EXPECT_FALSE(cluster.controller_state().topics().contains("__consumer_offsets"));
        cluster.broker(BrokerId(3)).restart();
        sim::sleep(1s);
        after = find_coordinator(cluster, BrokerId(1), {"g", protocol::CoordinatorType::group});
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(while_down.last.error, ErrorCode::coordinator_not_available);
    EXPECT_GT(while_down.attempts, 10);
    EXPECT_EQ(after.last.error, ErrorCode::none);
    EXPECT_EQ(cluster.controller_state().topics().at("__consumer_offsets").replication_factor, 3);
}

// A partition without a live leader has no coordinator.
TEST(FindCoordinator, AKeyWhosePartitionHasNoLiveLeaderHasNoCoordinator) {
    TopicCluster cluster(12, ClusterOptions{.topics = {topic("events", 1, 3)}, .offsets_topic_replication_factor = 1});
    Lookup before;
    Lookup without_leader;
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        before = find_coordinator(cluster, BrokerId(1), {"hello", protocol::CoordinatorType::group});
        ASSERT_EQ(before.last.error, ErrorCode::none);
        // "hello" is in partition 1, whose only replica is broker 2.
        (void)cluster.broker(before.last.coordinator).crash();
        sim::sleep(3s);  // fenced: the partition is left without a leader
        const BrokerId via = before.last.coordinator == BrokerId(1) ? BrokerId(2) : BrokerId(1);
        without_leader = find_coordinator(cluster, via, {"hello", protocol::CoordinatorType::group}, 1s);
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(before.last.coordinator, BrokerId(2));
    EXPECT_EQ(without_leader.last.error, ErrorCode::coordinator_not_available);
    EXPECT_EQ(cluster.controller_state().partitions().at(TopicPartition{"__consumer_offsets", 1}).leader,
              protocol::no_broker);
}

}  // namespace
}  // namespace eosim::broker_core
