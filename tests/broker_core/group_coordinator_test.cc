// The group coordinator on a cluster, driven by a raw client: the classic protocol (member ids, joins
// held until the rebalance completes, syncs, heartbeats, session expiry, leaving), offset commits checked
// against member and generation, transactional offset commits pending until their marker (KIP-98,
// KIP-447), OffsetFetch with require_stable, and a coordinator failover that reloads all of it.

#include <gtest/gtest.h>

#include "tests/broker_core/txn_cluster.h"

namespace eosim::broker_core {
namespace {

using namespace test_cluster;

const std::string group_id = "g";

struct GroupClient {
    TxnCluster& cluster;
    std::int32_t session_timeout_ms = 10'000;

    BrokerId coordinator() { return cluster.coordinator(group_id, protocol::CoordinatorType::group); }

    template <typename Response, typename Request>
    std::optional<Response> call(const Request& request, sim::Duration timeout = 5s) {
        return cluster.call<Response>(coordinator(), request, timeout);
    }

    protocol::JoinGroupRequest join_request(const std::string& member_id, const std::string& subscription) {
        protocol::JoinGroupRequest request;
        request.group_id = group_id;
        request.client_id = "c";
        request.session_timeout_ms = session_timeout_ms;
        request.rebalance_timeout_ms = 2000;
        request.member_id = member_id;
        request.protocol_type = "consumer";
        request.protocols.push_back(protocol::JoinGroupProtocol{"range", subscription});
        return request;
    }

    // JoinGroup as a new member: MEMBER_ID_REQUIRED with the id, then the join with it (retried while the
    // coordinator loads).
    protocol::JoinGroupResponse join(const std::string& member_id = "", const std::string& subscription = "s") {
        protocol::JoinGroupResponse last;
        std::string id = member_id;
        for (int attempt = 0; attempt < 50; ++attempt) {
            const auto answer = call<protocol::JoinGroupResponse>(join_request(id, subscription));
            if (!answer) {
                continue;
            }
            last = *answer;
            if (last.error == ErrorCode::member_id_required) {
                id = last.member_id;
                continue;
            }
            if (last.error != ErrorCode::coordinator_load_in_progress && last.error != ErrorCode::not_coordinator) {
                return last;
            }
            sim::sleep(100ms);
        }
        return last;
    }

    protocol::SyncGroupResponse sync(const protocol::JoinGroupResponse& joined,
                                     std::vector<protocol::SyncGroupAssignment> assignments = {}) {
        protocol::SyncGroupRequest request;
        request.group_id = group_id;
        request.generation_id = joined.generation_id;
        request.member_id = joined.member_id;
        request.protocol_type = joined.protocol_type;
        request.protocol_name = joined.protocol_name;
        request.assignments = std::move(assignments);
        const auto answer = call<protocol::SyncGroupResponse>(request);
        return answer ? *answer : protocol::SyncGroupResponse{.error = ErrorCode::network_exception};
    }

    ErrorCode heartbeat(const protocol::JoinGroupResponse& joined) {
        const auto answer = call<protocol::HeartbeatResponse>(
            protocol::HeartbeatRequest{group_id, joined.generation_id, joined.member_id});
        return answer ? answer->error : ErrorCode::network_exception;
    }

    ErrorCode commit(const protocol::JoinGroupResponse& joined, const TopicPartition& partition, std::int64_t offset) {
        const auto answer = call<protocol::OffsetCommitResponse>(protocol::OffsetCommitRequest{
            group_id, joined.generation_id, joined.member_id, {protocol::OffsetCommitPartition{partition, offset}}});
        return answer ? answer->partitions.at(0).error : ErrorCode::network_exception;
    }

    protocol::OffsetFetchPartition fetch(const TopicPartition& partition, bool require_stable) {
        for (int attempt = 0; attempt < 50; ++attempt) {
            const auto answer = call<protocol::OffsetFetchResponse>(
                protocol::OffsetFetchRequest{group_id, {partition}, require_stable});
            if (answer && answer->error == ErrorCode::none) {
                return answer->partitions.at(0);
            }
            sim::sleep(100ms);
        }
        return protocol::OffsetFetchPartition{.error = ErrorCode::network_exception};
    }

    ErrorCode txn_commit(protocol::ProducerId pid, ProducerEpoch epoch, const protocol::JoinGroupResponse& joined,
                         const TopicPartition& partition, std::int64_t offset) {
        const auto answer = call<protocol::TxnOffsetCommitResponse>(
            protocol::TxnOffsetCommitRequest{txn_id, group_id, pid, epoch, joined.generation_id, joined.member_id,
                                             {protocol::OffsetCommitPartition{partition, offset}}});
        return answer ? answer->partitions.at(0).error : ErrorCode::network_exception;
    }

    ErrorCode add_offsets(protocol::ProducerId pid, ProducerEpoch epoch) {
        ErrorCode error = ErrorCode::network_exception;
        for (int attempt = 0; attempt < 50; ++attempt) {
            const auto answer = cluster.call<protocol::AddOffsetsToTxnResponse>(
                cluster.coordinator(), protocol::AddOffsetsToTxnRequest{txn_id, pid, epoch, group_id});
            error = answer ? answer->error : ErrorCode::network_exception;
            if (error != ErrorCode::concurrent_transactions && error != ErrorCode::network_exception) {
                return error;
            }
            sim::sleep(20ms);
        }
        return error;
    }

    // One member joined and synced alone: generation 1, leader of itself.
    protocol::JoinGroupResponse stable_member() {
        const protocol::JoinGroupResponse joined = join();
        EXPECT_EQ(joined.error, ErrorCode::none);
        EXPECT_EQ(sync(joined, {{joined.member_id, "all"}}).assignment, "all");
        return joined;
    }
};

TEST(GroupCoordinator, AMemberJoinsSyncsAndHeartbeats) {
    TxnCluster cluster(11);
    GroupClient client{cluster};
    bool done = false;
    protocol::JoinGroupResponse first_try;
    protocol::JoinGroupResponse joined;
    protocol::SyncGroupResponse synced;
    ErrorCode beat = ErrorCode::unknown_server_error;
    ErrorCode stale = ErrorCode::none;
    ErrorCode stranger = ErrorCode::none;
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        for (int attempt = 0; attempt < 50; ++attempt) {
            const auto answer = client.call<protocol::JoinGroupResponse>(client.join_request("", "topics"));
            if (answer && answer->error != ErrorCode::coordinator_load_in_progress) {
                first_try = *answer;
                break;
            }
            sim::sleep(100ms);
        }
        joined = client.join(first_try.member_id, "topics");
        synced = client.sync(joined, {{joined.member_id, "t-0,t-1"}});
        beat = client.heartbeat(joined);
        stale = client.heartbeat(protocol::JoinGroupResponse{.generation_id = 7, .member_id = joined.member_id});
        stranger = client.heartbeat(protocol::JoinGroupResponse{.generation_id = 1, .member_id = "nobody"});
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(first_try.error, ErrorCode::member_id_required) << "KIP-394: a new member first gets its id";
    EXPECT_EQ(first_try.member_id.substr(0, 2), "c-");
    EXPECT_EQ(joined.error, ErrorCode::none);
    EXPECT_EQ(joined.member_id, first_try.member_id);
    EXPECT_EQ(joined.generation_id, 1);
    EXPECT_EQ(joined.leader, joined.member_id);
    EXPECT_EQ(joined.protocol_name, "range");
    ASSERT_EQ(joined.members.size(), 1U) << "the leader gets every member's subscription";
    EXPECT_EQ(joined.members[0].metadata, "topics");
    EXPECT_EQ(synced.error, ErrorCode::none);
    EXPECT_EQ(synced.assignment, "t-0,t-1");
    EXPECT_EQ(beat, ErrorCode::none);
    EXPECT_EQ(stale, ErrorCode::illegal_generation);
    EXPECT_EQ(stranger, ErrorCode::unknown_member_id);
}

// A second member's join starts a rebalance: the first learns it from its heartbeat, rejoins, and the join
// is answered once both joined; only the leader gets the members.
TEST(GroupCoordinator, ASecondMemberRebalancesTheGroup) {
    TxnCluster cluster(12);
    GroupClient client{cluster};
    bool done = false;
    bool second_done = false;
    ErrorCode told = ErrorCode::none;
    protocol::JoinGroupResponse first_again;
    protocol::JoinGroupResponse second;
    protocol::SyncGroupResponse first_synced;
    protocol::SyncGroupResponse second_synced;
    cluster.client->spawn("first", [&] {
        sim::sleep(1s);
        const protocol::JoinGroupResponse first = client.stable_member();
        cluster.client->spawn("second", [&] {
            second = client.join();
            second_synced = client.sync(second);
            second_done = true;
        });
        for (int i = 0; i < 20 && told != ErrorCode::rebalance_in_progress; ++i) {
            sim::sleep(100ms);
            told = client.heartbeat(first);
        }
        first_again = client.join(first.member_id);
        std::vector<protocol::SyncGroupAssignment> assignments;
        for (const protocol::JoinGroupMember& member : first_again.members) {
            assignments.push_back({member.member_id, member.member_id == first.member_id ? "t-0" : "t-1"});
        }
        first_synced = client.sync(first_again, assignments);
        while (!second_done) {
            sim::sleep(50ms);
        }
        done = true;
    });
    cluster.run_until([&] { return done && second_done; });
    EXPECT_EQ(told, ErrorCode::rebalance_in_progress);
    EXPECT_EQ(first_again.error, ErrorCode::none);
    EXPECT_EQ(first_again.generation_id, 2);
    EXPECT_EQ(second.generation_id, 2);
    EXPECT_EQ(first_again.leader, first_again.member_id) << "the leader stays the leader";
    EXPECT_EQ(first_again.members.size(), 2U);
    EXPECT_TRUE(second.members.empty());
    EXPECT_EQ(first_synced.assignment, "t-0");
    EXPECT_EQ(second_synced.error, ErrorCode::none);
    EXPECT_EQ(second_synced.assignment, "t-1") << "a follower's sync waits for the leader's assignment";
}

// A member that stops heartbeating is removed after its session timeout; the group rebalances to Empty, and
// its commits are refused from then on.
TEST(GroupCoordinator, ASilentMemberExpiresAndItsCommitsAreRefused) {
    TxnCluster cluster(13);
    GroupClient client{cluster, 1000};
    bool done = false;
    ErrorCode before = ErrorCode::unknown_server_error;
    ErrorCode after = ErrorCode::none;
    ErrorCode outsider = ErrorCode::unknown_server_error;
    protocol::OffsetFetchPartition fetched;
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        const protocol::JoinGroupResponse joined = client.stable_member();
        before = client.commit(joined, t0, 5);
        sim::sleep(2s);  // past the 1 s session
        after = client.commit(joined, t0, 9);
        outsider = client.commit(protocol::JoinGroupResponse{.generation_id = -1}, t1, 3);
        fetched = client.fetch(t0, false);
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(before, ErrorCode::none);
    EXPECT_EQ(after, ErrorCode::unknown_member_id);
    EXPECT_EQ(outsider, ErrorCode::none) << "an Empty group takes commits from outside the group";
    EXPECT_EQ(fetched.offset, 5);
    const TopicPartition offsets{"__consumer_offsets", protocol::coordinator_partition(group_id, 3)};
    const GroupMetadata* group = cluster.state(cluster.leader(offsets)).group_coordinator().find(group_id);
    ASSERT_NE(group, nullptr);
    EXPECT_TRUE(group->is(GroupState::empty));
    EXPECT_EQ(group->generation_id(), 2);
}

// KIP-98 and KIP-447: offsets committed in a transaction are pending (require_stable answers
// UNSTABLE_OFFSET_COMMIT) until the COMMIT marker applies them; an aborted transaction's offsets go; a
// commit of a stale generation is fenced.
struct TxnOffsets {
    ErrorCode stale = ErrorCode::unknown_server_error;
    ErrorCode committed = ErrorCode::unknown_server_error;
    protocol::OffsetFetchPartition unstable;
    protocol::OffsetFetchPartition while_pending;
    protocol::OffsetFetchPartition after_commit;
    protocol::OffsetFetchPartition after_abort;
};

TxnOffsets transactional_offsets(BrokerBugs bugs) {
    TxnCluster cluster(14, bugs);
    GroupClient client{cluster};
    TxnOffsets seen;
    bool done = false;
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        const protocol::JoinGroupResponse joined = client.stable_member();
        const auto init = cluster.init();
        EXPECT_EQ(client.add_offsets(init.producer_id, init.producer_epoch), ErrorCode::none);
        seen.stale = client.txn_commit(init.producer_id, init.producer_epoch,
                                       protocol::JoinGroupResponse{.generation_id = 0, .member_id = joined.member_id},
                                       t0, 1);
        seen.committed = client.txn_commit(init.producer_id, init.producer_epoch, joined, t0, 10);
        seen.unstable = client.fetch(t0, true);
        seen.while_pending = client.fetch(t0, false);
        const auto ended = cluster.end(init.producer_id, init.producer_epoch, true);
        EXPECT_EQ(ended.error, ErrorCode::none);
        sim::sleep(1s);
        seen.after_commit = client.fetch(t0, true);
        const ProducerEpoch next = ended.producer_epoch;
        EXPECT_EQ(client.add_offsets(init.producer_id, next), ErrorCode::none);
        EXPECT_EQ(client.txn_commit(init.producer_id, next, joined, t0, 20), ErrorCode::none);
        EXPECT_EQ(cluster.end(init.producer_id, next, false).error, ErrorCode::none);
        sim::sleep(1s);
        seen.after_abort = client.fetch(t0, true);
        done = true;
    });
    cluster.run_until([&] { return done; });
    return seen;
}

TEST(GroupCoordinator, TransactionalOffsetsArePendingUntilTheMarker) {
    const TxnOffsets seen = transactional_offsets({});
    EXPECT_EQ(seen.stale, ErrorCode::illegal_generation) << "KIP-447 fences a stale generation";
    EXPECT_EQ(seen.committed, ErrorCode::none);
    EXPECT_EQ(seen.unstable.error, ErrorCode::unstable_offset_commit);
    EXPECT_EQ(seen.while_pending.error, ErrorCode::none);
    EXPECT_EQ(seen.while_pending.offset, -1) << "pending offsets are not visible";
    EXPECT_EQ(seen.after_commit.error, ErrorCode::none);
    EXPECT_EQ(seen.after_commit.offset, 10);
    EXPECT_EQ(seen.after_abort.offset, 10) << "an aborted transaction's offsets are dropped";
}

// KIP-890 part 1 for offsets (KAFKA-15449): the coordinator asks the transaction coordinator before it
// appends a transaction's first TxnOffsetCommit. One whose transaction does not hold the group (no
// AddOffsetsToTxn, or one that ended: timed out and aborted) is refused; appended, it would stay pending
// until the producer's next COMMIT applied offsets whose transaction never committed them.
TEST(GroupCoordinator, ATxnOffsetCommitOutsideItsTransactionIsRefused) {
    TxnCluster cluster(16);
    GroupClient client{cluster};
    ErrorCode unverified = ErrorCode::unknown_server_error;
    ErrorCode verified = ErrorCode::unknown_server_error;
    protocol::OffsetFetchPartition after_next_commit;
    bool done = false;
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        const protocol::JoinGroupResponse joined = client.stable_member();
        const auto init = cluster.init();
        EXPECT_EQ(cluster.add(init.producer_id, init.producer_epoch, {t0}), ErrorCode::none);
        unverified = client.txn_commit(init.producer_id, init.producer_epoch, joined, t0, 7);
        const auto ended = cluster.end(init.producer_id, init.producer_epoch, true);
        EXPECT_EQ(ended.error, ErrorCode::none);
        sim::sleep(1s);
        // The next transaction sends offsets as it should: its COMMIT must not apply the refused ones.
        const ProducerEpoch next = ended.producer_epoch;
        EXPECT_EQ(client.add_offsets(init.producer_id, next), ErrorCode::none);
        verified = client.txn_commit(init.producer_id, next, joined, t1, 3);
        EXPECT_EQ(cluster.end(init.producer_id, next, true).error, ErrorCode::none);
        sim::sleep(1s);
        after_next_commit = client.fetch(t0, true);
        done = true;
    });
    cluster.run_until([&] { return done; });
    EXPECT_EQ(unverified, ErrorCode::transaction_abortable);
    EXPECT_EQ(verified, ErrorCode::none);
    EXPECT_EQ(after_next_commit.offset, -1) << "offsets no transaction held were applied";
}

TEST(GroupCoordinator, BugSwitchesOfTransactionalOffsets) {
    EXPECT_EQ(transactional_offsets(BrokerBugs{.kip447_no_generation_fence = true}).stale, ErrorCode::none);
    EXPECT_EQ(transactional_offsets(BrokerBugs{.offset_fetch_ignores_pending = true}).unstable.error,
              ErrorCode::none);
}

// A new coordinator loads the groups, the committed offsets and the pending transactional ones; the
// marker that arrives afterwards applies them.
std::pair<protocol::OffsetFetchPartition, protocol::OffsetFetchPartition> failover(BrokerBugs bugs) {
    TxnCluster cluster(15, bugs);
    GroupClient client{cluster};
    bool done = false;
    protocol::OffsetFetchPartition loaded_pending;
    protocol::OffsetFetchPartition after_commit;
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        const protocol::JoinGroupResponse joined = client.stable_member();
        EXPECT_EQ(client.commit(joined, t1, 4), ErrorCode::none);
        const auto init = cluster.init();
        EXPECT_EQ(client.add_offsets(init.producer_id, init.producer_epoch), ErrorCode::none);
        EXPECT_EQ(client.txn_commit(init.producer_id, init.producer_epoch, joined, t0, 10), ErrorCode::none);
        const BrokerId old = client.coordinator();
        (void)cluster.brokers[static_cast<std::size_t>(old.value() - 1)]->crash(
            sim::CrashOptions{.unsynced = sim::UnsyncedFate::keep});
        sim::sleep(3s);
        loaded_pending = client.fetch(t0, true);
        EXPECT_NE(client.coordinator(), old);
        EXPECT_EQ(client.fetch(t1, true).offset, 4);
        EXPECT_EQ(client.heartbeat(joined), ErrorCode::none) << "the loaded group is Stable with its member";
        EXPECT_EQ(cluster.end(init.producer_id, init.producer_epoch, true).error, ErrorCode::none);
        sim::sleep(2s);
        after_commit = client.fetch(t0, true);
        done = true;
    });
    cluster.run_until([&] { return done; });
    return {loaded_pending, after_commit};
}

TEST(GroupCoordinator, ANewCoordinatorLoadsPendingOffsets) {
    const auto [loaded_pending, after_commit] = failover({});
    EXPECT_EQ(loaded_pending.error, ErrorCode::unstable_offset_commit);
    EXPECT_EQ(after_commit.offset, 10);
}

TEST(GroupCoordinator, PendingOffsetsLostOnFailoverBugSwitch) {
    const auto [loaded_pending, after_commit] = failover(BrokerBugs{.pending_offsets_lost_on_failover = true});
    EXPECT_EQ(loaded_pending.error, ErrorCode::none);
    EXPECT_EQ(after_commit.offset, -1) << "the committed transaction's offsets are gone";
}

// A coordinator cut off from the controller (clients still reach it) is fenced and replaced; the new one
// takes a commit. The old broker never heard, but once its controller lease ran out it stops answering:
// an OffsetFetch there gets NOT_COORDINATOR, not the offset the new coordinator has committed past.
// Kafka's brokers hold no such lease (KIP-343's stale broker): the bug switch brings back its answer.
struct CutOff {
    BrokerId old_coordinator = protocol::no_broker;
    BrokerId new_coordinator = protocol::no_broker;
    ErrorCode recommitted = ErrorCode::unknown_server_error;
    protocol::OffsetFetchResponse at_old;
    protocol::OffsetFetchPartition at_new;
};

CutOff cut_off_coordinator(BrokerBugs bugs) {
    TxnCluster cluster(15, bugs);
    GroupClient client{cluster};
    CutOff seen;
    bool done = false;
    const TopicPartition offsets{"__consumer_offsets", protocol::coordinator_partition(group_id, 3)};
    cluster.client->spawn("client", [&] {
        sim::sleep(1s);
        const protocol::JoinGroupResponse joined = client.stable_member();
        EXPECT_EQ(client.commit(joined, t0, 5), ErrorCode::none);
        seen.old_coordinator = cluster.leader(offsets);
        sim::Network& network = cluster.simulation.network();
        const sim::NodeId old_node = cluster.addresses.brokers.at(seen.old_coordinator);
        network.partition(cluster.controller->id(), old_node);
        sim::sleep(4s);  // fenced after the controller's 1.5 s session; a new leader loads the group
        seen.new_coordinator = cluster.leader(offsets);
        const auto committed = cluster.call<protocol::OffsetCommitResponse>(
            seen.new_coordinator, protocol::OffsetCommitRequest{group_id, joined.generation_id, joined.member_id,
                                                                {protocol::OffsetCommitPartition{t0, 9}}});
        seen.recommitted = committed ? committed->partitions.at(0).error : ErrorCode::network_exception;
        const auto at_old = cluster.call<protocol::OffsetFetchResponse>(
            seen.old_coordinator, protocol::OffsetFetchRequest{group_id, {t0}, true});
        seen.at_old = at_old ? *at_old : protocol::OffsetFetchResponse{.error = ErrorCode::network_exception};
        const auto at_new = cluster.call<protocol::OffsetFetchResponse>(
            seen.new_coordinator, protocol::OffsetFetchRequest{group_id, {t0}, true});
        seen.at_new = at_new ? at_new->partitions.at(0) : protocol::OffsetFetchPartition{};
        network.unblock(cluster.controller->id(), old_node);
        network.unblock(old_node, cluster.controller->id());
        done = true;
    });
    cluster.run_until([&] { return done; });
    return seen;
}

TEST(GroupCoordinator, ACoordinatorCutOffFromTheControllerStopsAnswering) {
    const CutOff seen = cut_off_coordinator({});
    ASSERT_NE(seen.new_coordinator, seen.old_coordinator);
    EXPECT_EQ(seen.recommitted, ErrorCode::none);
    EXPECT_EQ(seen.at_new.offset, 9);
    EXPECT_EQ(seen.at_old.error, ErrorCode::not_coordinator);
}

TEST(GroupCoordinator, CoordinatorWithoutLeaseBugSwitch) {
    const CutOff seen = cut_off_coordinator(BrokerBugs{.coordinator_without_lease = true});
    ASSERT_NE(seen.new_coordinator, seen.old_coordinator);
    EXPECT_EQ(seen.at_new.offset, 9);
    ASSERT_EQ(seen.at_old.error, ErrorCode::none);
    EXPECT_EQ(seen.at_old.partitions.at(0).offset, 5) << "the deposed coordinator answers from its stale cache";
}

}  // namespace
}  // namespace eosim::broker_core
