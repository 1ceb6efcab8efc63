// A controller and three brokers on the simulated network, driven by a raw client fiber: replication,
// high watermark, acks=all with min ISR, leader failover and truncation by leader epoch.

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "broker_core/broker.h"
#include "broker_core/controller.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using namespace std::chrono_literals;
using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::Offset;

const protocol::TopicPartition topic_partition{"t", 0};

struct Cluster {
    explicit Cluster(std::uint64_t seed, BrokerBugs bugs = {}, bool flush_every_write = false)
        : simulation(sim::SimulationOptions{.seed = seed, .trace_sink = std::getenv("EOSIM_TEST_TRACE") ? &std::cerr : nullptr}) {
        ControllerConfig controller_config;
        for (int i = 1; i <= 3; ++i) {
            controller_config.brokers.emplace_back(i);
        }
        controller_config.topics.push_back(TopicConfig{"t", 1, 3});
        controller = &simulation.add_node("controller", [controller_config](sim::Node& node) {
            return std::make_unique<Controller>(node, controller_config);
        });
        addresses.controller = controller->id();
        for (int i = 1; i <= 3; ++i) {
            addresses.brokers[BrokerId(i)] = sim::NodeId(static_cast<std::uint32_t>(i + 1));
        }
        for (int i = 1; i <= 3; ++i) {
            BrokerConfig config;
            config.id = BrokerId(i);
            config.addresses = addresses;
            config.bugs = bugs;
            config.log.flush_every_write = flush_every_write;
            brokers.push_back(&simulation.add_node("broker-" + std::to_string(i), [config](sim::Node& node) {
                return std::make_unique<Broker>(node, config);
            }));
        }
        client = &simulation.add_node("client", [](sim::Node&) { return std::make_unique<sim::NodeState>(); });
        controller->start();
        for (sim::Node* broker : brokers) {
            broker->start();
        }
        client->start();
    }

    sim::Node& broker(BrokerId id) { return *brokers[static_cast<std::size_t>(id.value() - 1)]; }
    Broker& state(BrokerId id) { return broker(id).state<Broker>(); }
    const Replica& replica(BrokerId id) { return *state(id).replicas().at(topic_partition); }
    const protocol::PartitionState& partition() { return controller->state<Controller>().partitions().at(topic_partition); }
    BrokerId leader() { return partition().leader; }

    // Sends one record with acks=all to the current leader (as the controller knows it).
    protocol::ProduceResponse produce(const std::string& value, sim::Duration timeout = 2s) {
        protocol::ProduceRequest request;
        request.partition = topic_partition;
        request.acks = -1;
        request.timeout = timeout;
        request.batch.records.push_back(protocol::Record{std::nullopt, value, 0});
        const BrokerId to = leader();
        if (to == protocol::no_broker) {
            return protocol::ProduceResponse{ErrorCode::leader_not_available};
        }
        sim::RpcClient rpc(*client, addresses.brokers.at(to), broker_port);
        auto response = rpc.call(sim::make_message(request), timeout + 1s);
        if (!response) {
            return protocol::ProduceResponse{ErrorCode::network_exception};
        }
        return response->as<protocol::ProduceResponse>();
    }

    std::vector<std::string> values(BrokerId id, bool committed_only) {
        const Replica& r = replica(id);
        const Offset end = committed_only ? r.high_watermark : r.log.log_end_offset();
        std::vector<std::string> out;
        for (const auto& batch : r.log.read(Offset(0), end, UINT64_MAX).batches) {
            for (const auto& record : batch.records) {
                out.push_back(record.value);
            }
        }
        return out;
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

TEST(Cluster, ReplicatesAndAcknowledgesWithAllInSync) {
    Cluster cluster(1);
    std::vector<ErrorCode> errors;
    bool done = false;
    cluster.client->spawn("producer", [&] {
        sim::sleep(1s);  // let the brokers register and learn their roles
        for (int i = 0; i < 20; ++i) {
            errors.push_back(cluster.produce("v" + std::to_string(i)).error);
        }
        sim::sleep(1s);
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(errors, std::vector<ErrorCode>(20, ErrorCode::none));
    const auto expected = cluster.values(BrokerId(1), true);
    EXPECT_EQ(expected.size(), 20U);
    for (int i = 1; i <= 3; ++i) {
        EXPECT_EQ(cluster.values(BrokerId(i), false), expected) << "broker " << i;
        EXPECT_EQ(cluster.replica(BrokerId(i)).high_watermark, Offset(20)) << "broker " << i;
    }
    EXPECT_EQ(cluster.partition().isr.size(), 3U);
}

TEST(Cluster, LeaderCrashElectsAnInSyncReplicaAndLosesNoAcknowledgedWrite) {
    Cluster cluster(2);
    std::vector<std::string> acknowledged;
    BrokerId first_leader = protocol::no_broker;
    bool done = false;
    cluster.client->spawn("producer", [&] {
        sim::sleep(1s);
        first_leader = cluster.leader();
        for (int i = 0; i < 10; ++i) {
            if (cluster.produce("a" + std::to_string(i)).error == ErrorCode::none) {
                acknowledged.push_back("a" + std::to_string(i));
            }
        }
        (void)cluster.broker(first_leader).crash(sim::CrashOptions{.unsynced = sim::UnsyncedFate::lose});
        sim::sleep(3s);  // session timeout, election
        for (int i = 0; i < 10; ++i) {
            if (cluster.produce("b" + std::to_string(i)).error == ErrorCode::none) {
                acknowledged.push_back("b" + std::to_string(i));
            }
        }
        cluster.broker(first_leader).restart();
        sim::sleep(5s);  // it recovers, truncates by epoch, catches up, rejoins the ISR
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_NE(cluster.leader(), first_leader);
    EXPECT_EQ(acknowledged.size(), 20U);
    const auto committed = cluster.values(cluster.leader(), true);
    for (const std::string& value : acknowledged) {
        EXPECT_NE(std::find(committed.begin(), committed.end(), value), committed.end()) << value << " was lost";
    }
    for (int i = 1; i <= 3; ++i) {
        EXPECT_EQ(cluster.values(BrokerId(i), false), committed) << "broker " << i << " diverged";
    }
    EXPECT_EQ(cluster.partition().isr.size(), 3U);
}

TEST(Cluster, AcksAllFailsWithNotEnoughReplicasBelowMinIsr) {
    Cluster cluster(3);
    ErrorCode error = ErrorCode::none;
    bool done = false;
    cluster.client->spawn("producer", [&] {
        sim::sleep(1s);
        const BrokerId leader = cluster.leader();
        for (int i = 1; i <= 3; ++i) {
            if (BrokerId(i) != leader) {
                (void)cluster.broker(BrokerId(i)).crash();
            }
        }
        sim::sleep(3s);  // the controller shrinks the ISR to the leader alone
        error = cluster.produce("x").error;
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(error, ErrorCode::not_enough_replicas);
    EXPECT_EQ(cluster.partition().isr.size(), 1U);
}

}  // namespace
}  // namespace eosim::broker_core
