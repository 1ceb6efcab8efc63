// A controller and three brokers on the simulated network, driven by a raw client fiber: replication,
// high watermark, acks=all with min ISR, leader failover and truncation by leader epoch.

#include <gtest/gtest.h>

#include <algorithm>
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
    explicit Cluster(std::uint64_t seed, BrokerBugs bugs = {}, bool flush_every_write = false,
                     bool unclean_leader_election = false, std::int32_t min_insync_replicas = 2)
        : simulation(sim::SimulationOptions{.seed = seed, .trace_sink = std::getenv("EOSIM_TEST_TRACE") ? &std::cerr : nullptr}) {
        ControllerConfig controller_config;
        for (int i = 1; i <= 3; ++i) {
            controller_config.brokers.emplace_back(i);
        }
        controller_config.topics.push_back(TopicConfig{"t", 1, 3});
        controller_config.unclean_leader_election = unclean_leader_election;
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
            config.min_insync_replicas = min_insync_replicas;
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
    // The brokers other than `leader`, lowest id first.
    std::vector<BrokerId> followers(BrokerId of) {
        std::vector<BrokerId> out;
        for (int i = 1; i <= 3; ++i) {
            if (BrokerId(i) != of) {
                out.emplace_back(i);
            }
        }
        return out;
    }

    // Sends one record with acks=all to the current leader (as the controller knows it).
    protocol::ProducePartitionResponse produce(const std::string& value, sim::Duration timeout = 2s) {
        return produce({value}, -1, timeout);
    }
    // Sends one batch of `values` with `acks` to the current leader (as the controller knows it).
    protocol::ProducePartitionResponse produce(const std::vector<std::string>& values, std::int16_t acks,
                                               sim::Duration timeout = 2s) {
        protocol::ProduceRequest request;
        request.acks = acks;
        request.timeout = timeout;
        request.partitions.push_back(protocol::ProducePartition{.partition = topic_partition});
        for (const std::string& value : values) {
            request.partitions[0].batch.records.push_back(protocol::Record{std::nullopt, value, 0});
        }
        const BrokerId to = leader();
        if (to == protocol::no_broker) {
            return protocol::ProducePartitionResponse{.error = ErrorCode::leader_not_available};
        }
        sim::RpcClient rpc(*client, addresses.brokers.at(to), broker_port);
        auto response = rpc.call(sim::make_message(request), timeout + 1s);
        if (!response) {
            return protocol::ProducePartitionResponse{.error = ErrorCode::network_exception};
        }
        return response->as<protocol::ProduceResponse>().partitions.at(0);
    }

    // Sends `request` to the current leader and returns its answer (network errors fail the test).
    template <typename Response, typename Request>
    Response call_leader(const Request& request, sim::Duration timeout = 2s) {
        sim::RpcClient rpc(*client, addresses.brokers.at(leader()), broker_port);
        auto response = rpc.call(sim::make_message(request), timeout);
        EXPECT_TRUE(response.ok());
        return response ? response->template as<Response>() : Response{};
    }

    std::vector<std::string> values(BrokerId id, bool committed_only) {
        const Replica& r = replica(id);
        const Offset end = committed_only ? r.high_watermark : r.log.log_end_offset();
        std::vector<std::string> out;
        for (const auto& batch : r.log.read(Offset(0), end, UINT64_MAX).batches) {
            for (const auto& record : batch.records) {
                out.push_back(record.value.value_or(""));
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

// A full disk (ENOSPC) takes the leader's only log directory offline: the write that found it full answers
// KAFKA_STORAGE_ERROR, the broker halts (its page cache kept), a new leader takes over, and once room comes
// back the broker restarts and catches up. Nothing acknowledged is lost, nothing is written twice.
TEST(Cluster, ALeaderWhoseDiskIsFullHaltsAndLosesNothing) {
    Cluster cluster(4);
    std::vector<std::string> acknowledged;
    std::vector<ErrorCode> errors;
    BrokerId full = protocol::no_broker;
    bool halted = false;
    bool done = false;
    cluster.client->spawn("producer", [&] {
        sim::sleep(1s);
        full = cluster.leader();
        sim::Disk& disk = cluster.broker(full).disk();
        disk.set_capacity(disk.used_bytes() + 200);  // room for a batch or two
        for (int i = 0; i < 12; ++i) {
            const std::string value = "v" + std::to_string(i);
            const ErrorCode error = cluster.produce(value).error;
            errors.push_back(error);
            if (error == ErrorCode::none) {
                acknowledged.push_back(value);
            }
            halted = halted || !cluster.broker(full).up();
            if (error != ErrorCode::none) {
                sim::sleep(2s);  // the controller fences the halted broker and elects another leader
            }
        }
        disk.set_capacity(sim::DiskOptions{}.capacity_bytes);
        cluster.broker(full).restart();
        sim::sleep(5s);
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_TRUE(halted) << "the leader did not halt on a full disk";
    // The write that found the disk full answers KAFKA_STORAGE_ERROR, unless the halt breaks the connection
    // before the answer leaves (the same instant): then the client sees the connection go.
    const auto failed = std::find_if(errors.begin(), errors.end(), [](ErrorCode e) { return e != ErrorCode::none; });
    ASSERT_NE(failed, errors.end());
    EXPECT_TRUE(*failed == ErrorCode::kafka_storage_error || *failed == ErrorCode::network_exception)
        << protocol::error_name(*failed);
    EXPECT_GE(acknowledged.size(), 8U) << "the new leader took the rest";
    EXPECT_NE(cluster.leader(), full);
    const auto committed = cluster.values(cluster.leader(), true);
    for (const std::string& value : acknowledged) {
        EXPECT_EQ(std::count(committed.begin(), committed.end(), value), 1) << value;
    }
    for (int i = 1; i <= 3; ++i) {
        EXPECT_EQ(cluster.values(BrokerId(i), false), committed) << "broker " << i << " diverged";
    }
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

// The high watermark rules, sampled every 5 ms while records flow and a follower is paused long enough
// to leave the ISR and then catches up: on every broker the high watermark never moves back and never
// passes its log end; a follower's never passes the leader's; the leader's never passes the log end
// of any ISR member; and acks=all goes on once the ISR shrank to two.
TEST(Cluster, HighWatermarkNeverMovesBackAndNeverPassesAnInSyncReplica) {
    Cluster cluster(4);
    bool done = false;
    std::vector<std::string> violations;
    std::vector<ErrorCode> errors;
    std::size_t smallest_isr = 3;
    cluster.client->spawn("producer", [&] {
        sim::sleep(1s);
        const BrokerId paused = cluster.followers(cluster.leader()).back();
        for (int i = 0; i < 60; ++i) {
            if (i == 10) {
                cluster.broker(paused).pause(4s);
            }
            errors.push_back(cluster.produce("v" + std::to_string(i)).error);
            sim::sleep(100ms);
        }
        sim::sleep(3s);
        done = true;
    });
    cluster.client->spawn("monitor", [&] {
        std::map<int, Offset> last;
        while (!done) {
            const BrokerId leader = cluster.leader();
            for (int i = 1; i <= 3; ++i) {
                const BrokerId id(i);
                if (!cluster.broker(id).up() || !cluster.state(id).replicas().contains(topic_partition)) {
                    continue;
                }
                const Replica& replica = cluster.replica(id);
                const std::string at = " at " + std::to_string(sim::to_ns(sim::now())) + " ns on broker " + std::to_string(i);
                if (last.contains(i) && replica.high_watermark < last[i]) {
                    violations.push_back("high watermark moved back" + at);
                }
                last[i] = replica.high_watermark;
                if (replica.high_watermark > replica.log.log_end_offset()) {
                    violations.push_back("high watermark above the log end" + at);
                }
                if (replica.role == ReplicaRole::leader) {
                    smallest_isr = std::min(smallest_isr, replica.isr.size());
                    for (const BrokerId member : replica.isr) {
                        if (cluster.replica(member).log.log_end_offset() < replica.high_watermark) {
                            violations.push_back("leader's high watermark above ISR member " +
                                                 std::to_string(member.value()) + "'s log end" + at);
                        }
                    }
                } else if (leader != protocol::no_broker && id != leader &&
                           replica.high_watermark > cluster.replica(leader).high_watermark) {
                    violations.push_back("follower's high watermark above the leader's" + at);
                }
            }
            sim::sleep(5ms);
        }
    });
    cluster.run_until([&] { return done; });
    EXPECT_TRUE(violations.empty()) << violations.size() << " violations, first: " << violations.front();
    EXPECT_EQ(smallest_isr, 2U) << "the paused follower never left the ISR";
    EXPECT_EQ(std::count(errors.begin(), errors.end(), ErrorCode::none), 60);
    EXPECT_EQ(cluster.partition().isr.size(), 3U) << "the paused follower never came back";
    for (int i = 1; i <= 3; ++i) {
        EXPECT_EQ(cluster.replica(BrokerId(i)).high_watermark, Offset(60)) << "broker " << i;
    }
}

// Crash one follower (it leaves the ISR), then the leader (the other follower, in the ISR, leads),
// then that one too, and bring the first back: it is alive but was never in sync, so without unclean
// election the partition stays leaderless rather than lose what it missed.
TEST(Cluster, ControllerElectsOnlyFromTheIsr) {
    Cluster cluster(5);
    BrokerId first = protocol::no_broker;
    BrokerId second = protocol::no_broker;
    BrokerId out_of_sync = protocol::no_broker;
    BrokerId leader_after_second_crash{99};
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        first = cluster.leader();
        second = cluster.followers(first).front();
        out_of_sync = cluster.followers(first).back();
        (void)cluster.broker(out_of_sync).crash();
        sim::sleep(3s);  // fenced, out of the ISR
        EXPECT_EQ(cluster.produce("a").error, ErrorCode::none);
        (void)cluster.broker(first).crash();
        sim::sleep(3s);
        EXPECT_EQ(cluster.leader(), second);
        EXPECT_EQ(cluster.produce("b").error, ErrorCode::not_enough_replicas);  // ISR {second} < min ISR 2
        (void)cluster.broker(second).crash();
        cluster.broker(out_of_sync).restart();
        sim::sleep(3s);
        leader_after_second_crash = cluster.leader();
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(leader_after_second_crash, protocol::no_broker);
    EXPECT_EQ(cluster.partition().isr, std::vector<BrokerId>{second});
}

// A leader alone in its ISR moves the high watermark to its log end when it is elected, as Kafka's
// Partition.makeLeader does: no follower's fetch would. Here the last ISR member restarts with records
// above the high watermark it checkpointed, and nobody produces after.
TEST(Cluster, ALeaderAloneInItsIsrCommitsItsLogWhenElected) {
    Cluster cluster(6, BrokerBugs{}, false, false, 1);
    BrokerId leader = protocol::no_broker;
    Offset high_watermark_at_recovery{-1};
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        leader = cluster.leader();
        for (const BrokerId follower : cluster.followers(leader)) {
            (void)cluster.broker(follower).crash();
        }
        sim::sleep(3s);  // fenced, out of the ISR
        for (int i = 0; i < 5; ++i) {
            EXPECT_EQ(cluster.produce("v" + std::to_string(i)).error, ErrorCode::none);
        }
        (void)cluster.broker(leader).crash(sim::CrashOptions{.unsynced = sim::UnsyncedFate::keep});
        sim::sleep(1s);
        cluster.broker(leader).restart();
        sim::sleep(3s);  // recovers, is elected again
        high_watermark_at_recovery = cluster.replica(leader).high_watermark;
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(cluster.leader(), leader);
    EXPECT_EQ(cluster.partition().isr, std::vector<BrokerId>{leader});
    EXPECT_EQ(cluster.replica(leader).log.log_end_offset(), Offset(5));
    EXPECT_EQ(high_watermark_at_recovery, Offset(5));
    EXPECT_EQ(cluster.values(leader, true).size(), 5U);
}

// The same crashes with unclean election on: the out-of-sync replica leads, and what it never had is
// gone.
TEST(Cluster, UncleanElectionLetsAnOutOfSyncReplicaLeadAndLoseWrites) {
    Cluster cluster(5, BrokerBugs{}, false, true);
    BrokerId out_of_sync = protocol::no_broker;
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        const BrokerId first = cluster.leader();
        const BrokerId second = cluster.followers(first).front();
        out_of_sync = cluster.followers(first).back();
        (void)cluster.broker(out_of_sync).crash();
        sim::sleep(3s);
        EXPECT_EQ(cluster.produce("a").error, ErrorCode::none);
        (void)cluster.broker(first).crash();
        (void)cluster.broker(second).crash();
        cluster.broker(out_of_sync).restart();
        sim::sleep(3s);
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(cluster.leader(), out_of_sync);
    EXPECT_EQ(cluster.partition().isr, std::vector<BrokerId>{out_of_sync});
    const auto values = cluster.values(out_of_sync, false);
    EXPECT_EQ(std::find(values.begin(), values.end(), "a"), values.end());
}

// The controller's metadata log survives its own crash: after a restart it knows the same leaders,
// epochs and ISRs, and the cluster goes on.
TEST(Cluster, ControllerRestartKeepsItsMetadata) {
    Cluster cluster(6);
    protocol::PartitionState before;
    std::vector<ErrorCode> errors;
    bool done = false;
    cluster.client->spawn("script", [&] {
        sim::sleep(1s);
        errors.push_back(cluster.produce("a").error);
        (void)cluster.broker(cluster.followers(cluster.leader()).back()).crash();
        sim::sleep(3s);  // an ISR change, recorded in the metadata log
        before = cluster.partition();
        (void)cluster.controller->crash(sim::CrashOptions{.unsynced = sim::UnsyncedFate::lose});
        sim::sleep(500ms);
        cluster.controller->restart();
        sim::sleep(100ms);
        EXPECT_EQ(cluster.partition().leader, before.leader);
        EXPECT_EQ(cluster.partition().leader_epoch, before.leader_epoch);
        EXPECT_EQ(cluster.partition().isr, before.isr);
        sim::sleep(2s);
        errors.push_back(cluster.produce("b").error);
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(before.isr.size(), 2U);
    EXPECT_EQ(errors, (std::vector<ErrorCode>{ErrorCode::none, ErrorCode::none}));
}

// DeleteRecords moves the log start of every replica: the leader answers once the ISR has it, readers
// below it get OFFSET_OUT_OF_RANGE, ListOffsets earliest gives it, and it survives a restart.
TEST(Cluster, DeleteRecordsMovesEveryReplicasLogStart) {
    Cluster cluster(11);
    protocol::DeleteRecordsResponse too_far;
    protocol::DeleteRecordsResponse deleted;
    protocol::FetchResponse below;
    protocol::ListOffsetsResponse earliest;
    bool done = false;
    cluster.client->spawn("admin", [&] {
        sim::sleep(1s);
        for (int i = 0; i < 10; ++i) {
            ASSERT_EQ(cluster.produce("v" + std::to_string(i)).error, ErrorCode::none);
        }
        too_far = cluster.call_leader<protocol::DeleteRecordsResponse>(
            protocol::DeleteRecordsRequest{topic_partition, Offset(11), 1s});
        deleted = cluster.call_leader<protocol::DeleteRecordsResponse>(
            protocol::DeleteRecordsRequest{topic_partition, Offset(6), 1s});
        protocol::FetchRequest fetch;
        fetch.partitions.push_back(protocol::FetchPartition{.partition = topic_partition, .fetch_offset = Offset(3)});
        below = cluster.call_leader<protocol::FetchResponse>(fetch);
        earliest = cluster.call_leader<protocol::ListOffsetsResponse>(
            protocol::ListOffsetsRequest{topic_partition, protocol::earliest_timestamp});
        const BrokerId follower = cluster.followers(cluster.leader()).front();
        (void)cluster.broker(follower).crash();
        cluster.broker(follower).restart();
        sim::sleep(2s);
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(too_far.error, ErrorCode::offset_out_of_range);  // past the high watermark
    EXPECT_EQ(deleted.error, ErrorCode::none);
    EXPECT_GE(deleted.low_watermark, Offset(6));
    ASSERT_EQ(below.partitions.size(), 1U);
    EXPECT_EQ(below.partitions[0].error, ErrorCode::offset_out_of_range);
    EXPECT_EQ(below.partitions[0].log_start_offset, Offset(6));
    EXPECT_EQ(earliest.offset, Offset(6));
    for (int i = 1; i <= 3; ++i) {
        EXPECT_EQ(cluster.replica(BrokerId(i)).log.log_start_offset(), Offset(6)) << "broker " << i;
        EXPECT_EQ(cluster.replica(BrokerId(i)).log.log_end_offset(), Offset(10)) << "broker " << i;
    }
}

// KIP-207 (Kafka's PartitionTest.testMonotonicOffsetsAfterLeaderChange): a new leader whose high
// watermark is still below the log end it was elected with answers ListOffsets latest with
// OFFSET_NOT_AVAILABLE, never with an offset it cannot yet vouch for; once the ISR lets the high watermark
// reach that end, it answers it. Broker 2 gets three records broker 3 never gets (acks=1), the leader
// crashes, broker 2 leads with log end 8 and high watermark 5 until broker 3, which cannot reach it, leaves
// the ISR.
TEST(Cluster, ListOffsetsLatestWaitsForTheNewLeadersHighWatermark) {
    Cluster cluster(12);
    std::vector<std::pair<ErrorCode, std::int64_t>> answers;
    bool done = false;
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        ASSERT_EQ(cluster.leader(), BrokerId(1));
        for (int i = 0; i < 5; ++i) {
            ASSERT_EQ(cluster.produce("a" + std::to_string(i)).error, ErrorCode::none);
        }
        sim::sleep(500ms);
        sim::Network& network = cluster.simulation.network();
        network.partition(cluster.broker(BrokerId(1)).id(), cluster.broker(BrokerId(3)).id());
        network.partition(cluster.broker(BrokerId(2)).id(), cluster.broker(BrokerId(3)).id());
        ASSERT_EQ(cluster.produce({"b0", "b1", "b2"}, 1).error, ErrorCode::none);
        sim::sleep(100ms);  // broker 2 fetches them; broker 3 cannot
        ASSERT_EQ(cluster.replica(BrokerId(2)).log.log_end_offset(), Offset(8));
        (void)cluster.broker(BrokerId(1)).crash();
        sim::RpcClient rpc(*cluster.client, cluster.addresses.brokers.at(BrokerId(2)), broker_port);
        for (int i = 0; i < 800; ++i) {
            if (i == 300) {
                // Alone in the ISR, below min ISR, the new leader holds its high watermark (KAFKA-15583);
                // it moves once broker 3 is back and has caught up.
                network.heal();
            }
            auto response = rpc.call(sim::make_message(protocol::ListOffsetsRequest{topic_partition}), 1s);
            if (response) {
                const auto& listed = response->as<protocol::ListOffsetsResponse>();
                answers.emplace_back(listed.error, listed.offset.value());
            }
            sim::sleep(10ms);
        }
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(cluster.leader(), BrokerId(2));
    std::size_t not_available = 0;
    std::size_t latest = 0;
    for (const auto& [error, offset] : answers) {
        if (error == ErrorCode::none) {
            EXPECT_EQ(offset, 8) << "an offset the new leader's high watermark had not reached";
            ++latest;
        } else if (error == ErrorCode::offset_not_available) {
            EXPECT_EQ(latest, 0U) << "OFFSET_NOT_AVAILABLE after the high watermark caught up";
            ++not_available;
        } else {
            EXPECT_EQ(error, ErrorCode::not_leader_or_follower);
        }
    }
    EXPECT_GT(not_available, 0U);
    EXPECT_GT(latest, 0U);
}

// KIP-320: ListOffsets and OffsetsForLeaderEpoch carry the client's current leader epoch: an older one is
// fenced, a newer one is unknown to this leader.
TEST(Cluster, RequestsWithAnotherLeaderEpochAreRefused) {
    Cluster cluster(13);
    std::vector<ErrorCode> errors;
    bool done = false;
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        (void)cluster.broker(cluster.leader()).crash();
        sim::sleep(4s);  // a new leader, in a newer epoch
        const protocol::LeaderEpoch epoch = cluster.partition().leader_epoch;
        ASSERT_GT(epoch.value(), 0);
        for (const int delta : {0, -1, 1}) {
            const protocol::LeaderEpoch asked(epoch.value() + delta);
            errors.push_back(cluster.call_leader<protocol::ListOffsetsResponse>(
                                        protocol::ListOffsetsRequest{topic_partition, protocol::latest_timestamp, asked})
                                 .error);
            errors.push_back(cluster.call_leader<protocol::OffsetsForLeaderEpochResponse>(
                                        protocol::OffsetsForLeaderEpochRequest{topic_partition, asked, epoch})
                                 .error);
        }
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(errors, (std::vector<ErrorCode>{ErrorCode::none, ErrorCode::none, ErrorCode::fenced_leader_epoch,
                                              ErrorCode::fenced_leader_epoch, ErrorCode::unknown_leader_epoch,
                                              ErrorCode::unknown_leader_epoch}));
}

}  // namespace
}  // namespace eosim::broker_core
