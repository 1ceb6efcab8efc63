// The group consumer against a real three-broker cluster (broker_core): members join and split the
// partitions, a new member starts from the offsets the old owner committed, a paused member is expired and
// finds its partitions lost and its commits refused, and auto-commit commits what was polled.

#include <gtest/gtest.h>

#include "client_core/group_consumer.h"
#include "tests/broker_core/txn_cluster.h"

namespace eosim::client_core {
namespace {

using namespace std::chrono_literals;
using broker_core::test_cluster::t0;
using broker_core::test_cluster::t1;
using broker_core::test_cluster::TxnCluster;
using protocol::ErrorCode;
using protocol::Offset;
using protocol::TopicPartition;

// A consumer on a node of its own, with the callbacks it saw.
struct Member {
    sim::Node* node = nullptr;
    std::unique_ptr<GroupConsumer> consumer;
    std::vector<std::string> events;  // "assigned:t-0,t-1", "revoked:...", "lost:..."
    std::map<TopicPartition, std::vector<Offset>> read;
};

std::string names(const std::vector<TopicPartition>& partitions) {
    std::string out;
    for (const TopicPartition& partition : partitions) {
        out += (out.empty() ? "" : ",") + partition.name();
    }
    return out;
}

struct GroupTest {
    explicit GroupTest(std::uint64_t seed) : cluster(seed) {}

    Member& add_member(const std::string& name, bool auto_commit = false) {
        Member& member = *members.emplace_back(std::make_unique<Member>());
        member.node = &cluster.simulation.add_node(name, [](sim::Node&) { return std::make_unique<sim::NodeState>(); });
        member.node->start();
        GroupConsumerConfig config;
        config.group_id = "g";
        config.topics = {"t"};
        config.session_timeout = 1s;
        config.rebalance_timeout = 3s;
        config.heartbeat_interval = 100ms;
        config.auto_commit = auto_commit;
        config.auto_commit_interval = 200ms;
        config.consumer.client_id = name;
        RebalanceListener listener;
        listener.on_assigned = [&member](const auto& p) { member.events.push_back("assigned:" + names(p)); };
        listener.on_revoked = [&member](const auto& p) { member.events.push_back("revoked:" + names(p)); };
        listener.on_lost = [&member](const auto& p) { member.events.push_back("lost:" + names(p)); };
        member.consumer = std::make_unique<GroupConsumer>(*member.node, config, cluster.addresses, history, listener);
        return member;
    }

    // Polls for `duration`, keeping what it read.
    static void poll_for(Member& member, sim::Duration duration) {
        const sim::Time until = sim::now() + duration;
        while (sim::now() < until) {
            for (const ConsumedRecord& record : member.consumer->poll()) {
                member.read[record.partition].push_back(record.offset);
            }
        }
    }

    void produce(const TopicPartition& partition, int count) {
        for (int i = 0; i < count; ++i) {
            protocol::ProduceRequest request;
            protocol::RecordBatch batch;
            batch.records.push_back(protocol::Record{std::nullopt, "v" + std::to_string(i), 0});
            request.partitions.push_back(protocol::ProducePartition{partition, batch});
            for (int attempt = 0; attempt < 20; ++attempt) {
                const auto answer = cluster.call<protocol::ProduceResponse>(cluster.leader(partition), request);
                if (answer && answer->partitions.at(0).error == ErrorCode::none) {
                    break;
                }
                sim::sleep(100ms);
            }
        }
    }

    TxnCluster cluster;
    HistoryRecorder history;
    std::vector<std::unique_ptr<Member>> members;
};

TEST(GroupConsumer, MembersSplitThePartitionsAndANewOwnerStartsAtTheCommittedOffset) {
    GroupTest test(21);
    Member& a = test.add_member("a");
    Member& b = test.add_member("b");
    bool a_done = false;
    bool b_done = false;
    CommitResult committed = CommitResult::failed;
    test.cluster.client->spawn("producer", [&] {
        sim::sleep(1s);
        test.produce(t0, 10);
        test.produce(t1, 10);
    });
    a.node->spawn("app", [&] {
        sim::sleep(2s);
        GroupTest::poll_for(a, 3s);
        committed = a.consumer->commit_sync({{t0, Offset(4)}, {t1, Offset(6)}});
        GroupTest::poll_for(a, 4s);
        a_done = true;
    });
    b.node->spawn("app", [&] {
        sim::sleep(6s);
        GroupTest::poll_for(b, 4s);
        b_done = true;
    });
    test.cluster.run_until([&] { return a_done && b_done; });
    EXPECT_EQ(committed, CommitResult::ok);
    ASSERT_GE(a.events.size(), 3U);
    EXPECT_EQ(a.events[0], "assigned:t-0,t-1") << "alone, a gets both partitions";
    EXPECT_EQ(a.events[1], "revoked:t-0,t-1") << "eager: everything is revoked before the rejoin";
    ASSERT_EQ(b.events.size(), 1U);
    const bool b_has_t0 = b.events[0] == "assigned:t-0";
    EXPECT_TRUE(b_has_t0 || b.events[0] == "assigned:t-1") << b.events[0];
    EXPECT_EQ(a.events[2], b_has_t0 ? "assigned:t-1" : "assigned:t-0");
    const TopicPartition& taken = b_has_t0 ? t0 : t1;
    ASSERT_FALSE(b.read[taken].empty());
    EXPECT_EQ(b.read[taken].front(), Offset(b_has_t0 ? 4 : 6)) << "the new owner starts at the committed offset";
    EXPECT_EQ(b.read[taken].back(), Offset(9));
    EXPECT_EQ(a.consumer->group_metadata().generation_id, b.consumer->group_metadata().generation_id);
}

TEST(GroupConsumer, APausedMemberIsExpiredAndItsPartitionsAreLost) {
    GroupTest test(22);
    Member& a = test.add_member("a");
    Member& b = test.add_member("b");
    bool done = false;
    CommitResult zombie_commit = CommitResult::ok;
    std::int32_t generation_before = -1;
    test.cluster.client->spawn("producer", [&] {
        sim::sleep(1s);
        test.produce(t0, 5);
        test.produce(t1, 5);
    });
    a.node->spawn("app", [&] { GroupTest::poll_for(a, 15s); });
    b.node->spawn("app", [&] {
        sim::sleep(1s);
        GroupTest::poll_for(b, 4s);
        generation_before = b.consumer->group_metadata().generation_id;
        b.node->pause(3s);  // past the 1 s session: the coordinator removes b
        zombie_commit = b.consumer->commit_sync({{*b.consumer->assignment().begin(), Offset(1)}});
        GroupTest::poll_for(b, 4s);
        done = true;
    });
    test.cluster.run_until([&] { return done; });
    EXPECT_EQ(zombie_commit, CommitResult::failed) << "a zombie's commit is refused";
    EXPECT_NE(std::find_if(b.events.begin(), b.events.end(),
                           [](const std::string& e) { return e.starts_with("lost:"); }),
              b.events.end())
        << "the expired member's partitions are lost, not revoked";
    EXPECT_GT(b.consumer->group_metadata().generation_id, generation_before) << "it rejoined";
    EXPECT_TRUE(b.consumer->stable());
}

TEST(GroupConsumer, AutoCommitCommitsWhatWasPolled) {
    GroupTest test(23);
    Member& a = test.add_member("a", true);
    bool done = false;
    protocol::OffsetFetchResponse fetched;
    test.cluster.client->spawn("producer", [&] {
        sim::sleep(1s);
        test.produce(t0, 7);
        sim::sleep(4s);
        fetched = *test.cluster.call<protocol::OffsetFetchResponse>(
            test.cluster.coordinator("g", protocol::CoordinatorType::group),
            protocol::OffsetFetchRequest{"g", {t0}, true});
        done = true;
    });
    a.node->spawn("app", [&] { GroupTest::poll_for(a, 10s); });
    test.cluster.run_until([&] { return done; });
    ASSERT_EQ(fetched.partitions.size(), 1U);
    EXPECT_EQ(fetched.partitions[0].offset, 7);
    const auto commits = std::count_if(test.history.operations().begin(), test.history.operations().end(),
                                       [](const ClientOperation& op) {
                                           return op.f == "commit-offsets" && op.type == ClientOperation::Type::ok;
                                       });
    EXPECT_GE(commits, 1);
}

}  // namespace
}  // namespace eosim::client_core
