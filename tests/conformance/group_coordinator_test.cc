// Kafka's GroupCoordinatorTest (kafka.coordinator.group, the classic protocol of Kafka 3), replayed on
// eosim's group coordinator: each test below is the Kafka test of the same name, with a dynamic member
// joining in two steps (MEMBER_ID_REQUIRED, then the join with its id, KIP-394) as Kafka 3's helper does,
// and Kafka's mock timer replaced by simulated time. Cases on static members, the initial rebalance
// delay, offset expiry, group deletion and listing are not replayed (eosim has none of them:
// docs/kafka-differences.md).

#include <gtest/gtest.h>

#include "protocol/coordinator.h"
#include "tests/broker_core/coordinator_harness.h"

namespace eosim::broker_core {
namespace {

using namespace std::chrono_literals;
using protocol::ErrorCode;
using test_harness::CoordinatorHarness;

constexpr std::int32_t default_session_ms = 500;    // Kafka's DefaultSessionTimeout
constexpr std::int32_t default_rebalance_ms = 500;  // and DefaultRebalanceTimeout
const protocol::TopicPartition tp{"topic", 0};

// A group id whose offsets partition (of 2) is `partition`.
std::string group_on(std::int32_t partition) {
    for (int i = 0;; ++i) {
        const std::string id = "group-" + std::to_string(i);
        if (protocol::coordinator_partition(id, 2) == partition) {
            return id;
        }
    }
}

GroupCoordinatorConfig kafka_test_config() {
    GroupCoordinatorConfig config;
    config.min_session_timeout_ms = 10;            // GroupMinSessionTimeout
    config.max_session_timeout_ms = 10 * 60 * 1000;  // GroupMaxSessionTimeout
    config.max_size = 4;                           // GroupMaxSize
    return config;
}

struct GroupCoordinatorTest : ::testing::Test {
    CoordinatorHarness harness{kafka_test_config(), 2, {0}};
    const std::string group_id = group_on(0);
    const std::string other_group_id = group_on(1);  // coordinated elsewhere

    protocol::JoinGroupRequest join_request(const std::string& group, const std::string& member,
                                            const std::string& type = "consumer",
                                            std::vector<protocol::JoinGroupProtocol> protocols = {{"range", "m"}},
                                            std::int32_t session_ms = default_session_ms,
                                            std::int32_t rebalance_ms = default_rebalance_ms) const {
        return protocol::JoinGroupRequest{.group_id = group,
                                          .client_id = "client",
                                          .session_timeout_ms = session_ms,
                                          .rebalance_timeout_ms = rebalance_ms,
                                          .member_id = member,
                                          .protocol_type = type,
                                          .protocols = std::move(protocols)};
    }

    // Kafka's dynamicJoinGroup: a new member's first JoinGroup gets its id, the second joins with it.
    protocol::JoinGroupResponse join(protocol::JoinGroupRequest request) {
        auto answer = harness.call<protocol::JoinGroupResponse>(request);
        EXPECT_TRUE(answer.has_value());
        if (answer && answer->error == ErrorCode::member_id_required) {
            request.member_id = answer->member_id;
            answer = harness.call<protocol::JoinGroupResponse>(request);
        }
        return answer.value_or(protocol::JoinGroupResponse{.error = ErrorCode::request_timed_out});
    }
    protocol::JoinGroupResponse join(const std::string& group = "") {
        return join(join_request(group.empty() ? group_id : group, ""));
    }

    protocol::SyncGroupResponse sync(const std::string& group, std::int32_t generation, const std::string& member,
                                     std::vector<protocol::SyncGroupAssignment> assignments = {}) {
        return harness
            .call<protocol::SyncGroupResponse>(
                protocol::SyncGroupRequest{group, generation, member, std::nullopt, std::nullopt, std::move(assignments)})
            .value_or(protocol::SyncGroupResponse{.error = ErrorCode::request_timed_out});
    }

    ErrorCode heartbeat(const std::string& group, const std::string& member, std::int32_t generation) {
        const auto answer = harness.call<protocol::HeartbeatResponse>(protocol::HeartbeatRequest{group, generation, member});
        return answer ? answer->error : ErrorCode::request_timed_out;
    }

    ErrorCode commit(const std::string& member, std::int32_t generation, std::int64_t offset = 0) {
        const auto answer = harness.call<protocol::OffsetCommitResponse>(
            protocol::OffsetCommitRequest{group_id, generation, member, {protocol::OffsetCommitPartition{tp, offset}}});
        return answer ? answer->partitions.at(0).error : ErrorCode::request_timed_out;
    }

    ErrorCode leave(const std::string& group, const std::string& member) {
        const auto answer = harness.call<protocol::LeaveGroupResponse>(protocol::LeaveGroupRequest{group, member, ""});
        return answer ? answer->error : ErrorCode::request_timed_out;
    }

    // One member joined and synced: Kafka's usual start.
    protocol::JoinGroupResponse stable_member() {
        const protocol::JoinGroupResponse joined = join();
        EXPECT_EQ(joined.error, ErrorCode::none);
        EXPECT_EQ(sync(group_id, joined.generation_id, joined.member_id, {{joined.member_id, ""}}).error,
                  ErrorCode::none);
        return joined;
    }
};

TEST_F(GroupCoordinatorTest, testJoinGroupWrongCoordinator) {
    EXPECT_EQ(join(other_group_id).error, ErrorCode::not_coordinator);
}

TEST_F(GroupCoordinatorTest, testJoinGroupSessionTimeoutTooSmall) {
    EXPECT_EQ(join(join_request(group_id, "", "consumer", {{"range", "m"}}, 10 - 1)).error,
              ErrorCode::invalid_session_timeout);
}

TEST_F(GroupCoordinatorTest, testJoinGroupSessionTimeoutTooLarge) {
    EXPECT_EQ(join(join_request(group_id, "", "consumer", {{"range", "m"}}, 10 * 60 * 1000 + 1)).error,
              ErrorCode::invalid_session_timeout);
}

TEST_F(GroupCoordinatorTest, testJoinGroupUnknownConsumerNewGroup) {
    EXPECT_EQ(join(join_request(group_id, "memberId")).error, ErrorCode::unknown_member_id);
}

TEST_F(GroupCoordinatorTest, testValidJoinGroup) {
    EXPECT_EQ(join().error, ErrorCode::none);
}

TEST_F(GroupCoordinatorTest, testJoinGroupInconsistentProtocolType) {
    EXPECT_EQ(join().error, ErrorCode::none);
    EXPECT_EQ(join(join_request(group_id, "", "connect")).error, ErrorCode::inconsistent_group_protocol);
}

TEST_F(GroupCoordinatorTest, testJoinGroupWithEmptyProtocolType) {
    EXPECT_EQ(join(join_request(group_id, "", "")).error, ErrorCode::inconsistent_group_protocol);
}

TEST_F(GroupCoordinatorTest, testJoinGroupWithEmptyGroupProtocol) {
    EXPECT_EQ(join(join_request(group_id, "", "consumer", {})).error, ErrorCode::inconsistent_group_protocol);
}

TEST_F(GroupCoordinatorTest, testJoinGroupInconsistentGroupProtocol) {
    EXPECT_EQ(join(join_request(group_id, "", "consumer", {{"range", "m"}})).error, ErrorCode::none);
    EXPECT_EQ(join(join_request(group_id, "", "consumer", {{"roundrobin", "m"}})).error,
              ErrorCode::inconsistent_group_protocol);
}

TEST_F(GroupCoordinatorTest, testJoinGroupUnknownConsumerExistingGroup) {
    EXPECT_EQ(join().error, ErrorCode::none);
    EXPECT_EQ(join(join_request(group_id, "memberId")).error, ErrorCode::unknown_member_id);
}

TEST_F(GroupCoordinatorTest, testJoinGroupShouldReceiveErrorIfGroupOverMaxSize) {
    // GroupMaxSize (4) members join at once; the fifth new member is refused.
    std::vector<std::shared_ptr<std::optional<protocol::JoinGroupResponse>>> joins;
    for (int i = 0; i < 4; ++i) {
        const auto first = harness.call<protocol::JoinGroupResponse>(join_request(group_id, ""));
        ASSERT_EQ(first->error, ErrorCode::member_id_required);
        joins.push_back(harness.send<protocol::JoinGroupResponse>(join_request(group_id, first->member_id)));
    }
    harness.run_for(10ms);
    const auto fifth = harness.call<protocol::JoinGroupResponse>(join_request(group_id, ""));
    EXPECT_EQ(fifth->error, ErrorCode::group_max_size_reached);
    ASSERT_TRUE(harness.run_until([&] { return std::all_of(joins.begin(), joins.end(), [](const auto& j) { return j->has_value(); }); }, 2s));
    for (const auto& joined : joins) {
        EXPECT_EQ((*joined)->error, ErrorCode::none);
    }
}

TEST_F(GroupCoordinatorTest, testHeartbeatWrongCoordinator) {
    EXPECT_EQ(heartbeat(other_group_id, "memberId", -1), ErrorCode::not_coordinator);
}

TEST_F(GroupCoordinatorTest, testHeartbeatUnknownGroup) {
    EXPECT_EQ(heartbeat(group_id, "memberId", -1), ErrorCode::unknown_member_id);
}

TEST_F(GroupCoordinatorTest, testHeartbeatUnknownConsumerExistingGroup) {
    (void)stable_member();
    EXPECT_EQ(heartbeat(group_id, "memberId", 1), ErrorCode::unknown_member_id);
}

TEST_F(GroupCoordinatorTest, testHeartbeatIllegalGeneration) {
    const protocol::JoinGroupResponse joined = stable_member();
    EXPECT_EQ(heartbeat(group_id, joined.member_id, 2), ErrorCode::illegal_generation);
}

TEST_F(GroupCoordinatorTest, testValidHeartbeat) {
    const protocol::JoinGroupResponse joined = stable_member();
    EXPECT_EQ(heartbeat(group_id, joined.member_id, 1), ErrorCode::none);
}

TEST_F(GroupCoordinatorTest, testSessionTimeout) {
    const protocol::JoinGroupResponse joined = stable_member();
    harness.run_for(std::chrono::milliseconds(default_session_ms + 100));
    EXPECT_EQ(heartbeat(group_id, joined.member_id, 1), ErrorCode::unknown_member_id);
}

TEST_F(GroupCoordinatorTest, testHeartbeatMaintainsSession) {
    const protocol::JoinGroupResponse joined =
        join(join_request(group_id, "", "consumer", {{"range", "m"}}, 1000, 1000));
    ASSERT_EQ(sync(group_id, joined.generation_id, joined.member_id, {{joined.member_id, ""}}).error, ErrorCode::none);
    harness.run_for(500ms);
    EXPECT_EQ(heartbeat(group_id, joined.member_id, 1), ErrorCode::none);
    harness.run_for(600ms);
    EXPECT_EQ(heartbeat(group_id, joined.member_id, 1), ErrorCode::none);
}

TEST_F(GroupCoordinatorTest, testCommitMaintainsSession) {
    const protocol::JoinGroupResponse joined =
        join(join_request(group_id, "", "consumer", {{"range", "m"}}, 1000, 1000));
    ASSERT_EQ(sync(group_id, joined.generation_id, joined.member_id, {{joined.member_id, ""}}).error, ErrorCode::none);
    harness.run_for(500ms);
    EXPECT_EQ(commit(joined.member_id, joined.generation_id), ErrorCode::none);
    harness.run_for(600ms);
    EXPECT_EQ(heartbeat(group_id, joined.member_id, 1), ErrorCode::none);
}

TEST_F(GroupCoordinatorTest, testSessionTimeoutDuringRebalance) {
    const protocol::JoinGroupResponse first = join(join_request(group_id, "", "consumer", {{"range", "m"}}, 1000, 2000));
    ASSERT_EQ(first.leader, first.member_id);
    ASSERT_EQ(sync(group_id, first.generation_id, first.member_id, {{first.member_id, ""}}).error, ErrorCode::none);
    // A new member's join starts a rebalance.
    const auto id = harness.call<protocol::JoinGroupResponse>(join_request(group_id, ""))->member_id;
    const auto other = harness.send<protocol::JoinGroupResponse>(join_request(group_id, id));
    harness.run_for(500ms);
    EXPECT_EQ(heartbeat(group_id, first.member_id, first.generation_id), ErrorCode::rebalance_in_progress);
    // Letting the session expire makes the member fall out of the group...
    harness.run_for(1100ms);
    EXPECT_EQ(heartbeat(group_id, first.member_id, first.generation_id), ErrorCode::unknown_member_id);
    // ...and the rebalance completes with only the new member.
    ASSERT_TRUE(harness.run_until([&] { return other->has_value(); }, 1s));
    EXPECT_EQ((*other)->error, ErrorCode::none);
}

TEST_F(GroupCoordinatorTest, testRebalanceCompletesBeforeMemberJoins) {
    const protocol::JoinGroupResponse first = join(join_request(group_id, "", "consumer", {{"range", "m"}}, 1000, 1200));
    ASSERT_EQ(sync(group_id, first.generation_id, first.member_id, {{first.member_id, ""}}).error, ErrorCode::none);
    const auto id = harness.call<protocol::JoinGroupResponse>(
                               join_request(group_id, "", "consumer", {{"range", "m"}}, 1000, 1200))->member_id;
    const auto other =
        harness.send<protocol::JoinGroupResponse>(join_request(group_id, id, "consumer", {{"range", "m"}}, 1000, 1200));
    // Heartbeats keep the first member alive while the rebalance runs...
    harness.run_for(500ms);
    EXPECT_EQ(heartbeat(group_id, first.member_id, first.generation_id), ErrorCode::rebalance_in_progress);
    harness.run_for(500ms);
    EXPECT_EQ(heartbeat(group_id, first.member_id, first.generation_id), ErrorCode::rebalance_in_progress);
    // ...and the rebalance timeout kicks it out, the join completing with the new member only.
    ASSERT_TRUE(harness.run_until([&] { return other->has_value(); }, 1s));
    EXPECT_EQ((*other)->error, ErrorCode::none);
    EXPECT_EQ(heartbeat(group_id, first.member_id, first.generation_id), ErrorCode::unknown_member_id);
}

TEST_F(GroupCoordinatorTest, testSyncGroupEmptyAssignment) {
    const protocol::JoinGroupResponse joined = join();
    const protocol::SyncGroupResponse synced = sync(group_id, joined.generation_id, joined.member_id, {});
    EXPECT_EQ(synced.error, ErrorCode::none);
    EXPECT_TRUE(synced.assignment.empty());
    EXPECT_EQ(heartbeat(group_id, joined.member_id, 1), ErrorCode::none);
}

TEST_F(GroupCoordinatorTest, testSyncGroupNotCoordinator) {
    EXPECT_EQ(sync(other_group_id, 1, "memberId").error, ErrorCode::not_coordinator);
}

TEST_F(GroupCoordinatorTest, testSyncGroupFromUnknownGroup) {
    EXPECT_EQ(sync(group_id, 1, "memberId").error, ErrorCode::unknown_member_id);
}

TEST_F(GroupCoordinatorTest, testSyncGroupFromUnknownMember) {
    const protocol::JoinGroupResponse joined = stable_member();
    EXPECT_EQ(sync(group_id, joined.generation_id, "unknownMemberId").error, ErrorCode::unknown_member_id);
}

TEST_F(GroupCoordinatorTest, testSyncGroupFromIllegalGeneration) {
    const protocol::JoinGroupResponse joined = join();
    // With a generation other than the join's: ILLEGAL_GENERATION.
    EXPECT_EQ(sync(group_id, joined.generation_id + 1, joined.member_id, {{joined.member_id, ""}}).error,
              ErrorCode::illegal_generation);
}

TEST_F(GroupCoordinatorTest, testJoinGroupFromUnchangedFollowerDoesNotRebalance) {
    // Two members in generation 1 (the second join waits for the first to rejoin).
    const protocol::JoinGroupResponse first = join();
    ASSERT_EQ(sync(group_id, first.generation_id, first.member_id, {{first.member_id, ""}}).error, ErrorCode::none);
    const auto id = harness.call<protocol::JoinGroupResponse>(join_request(group_id, ""))->member_id;
    const auto second = harness.send<protocol::JoinGroupResponse>(join_request(group_id, id));
    const auto first_again = harness.call<protocol::JoinGroupResponse>(join_request(group_id, first.member_id));
    ASSERT_TRUE(harness.run_until([&] { return second->has_value(); }, 1s));
    const std::int32_t generation = first_again->generation_id;
    const auto follower_sync = harness.send<protocol::SyncGroupResponse>(
        protocol::SyncGroupRequest{group_id, generation, id, std::nullopt, std::nullopt, {}});
    EXPECT_EQ(sync(group_id, generation, first.member_id, {{first.member_id, "a"}, {id, "b"}}).error, ErrorCode::none);
    ASSERT_TRUE(harness.run_until([&] { return follower_sync->has_value(); }, 1s));
    // The follower rejoins with the same protocols: it gets the generation back, no rebalance.
    const auto again = harness.call<protocol::JoinGroupResponse>(join_request(group_id, id));
    EXPECT_EQ(again->error, ErrorCode::none);
    EXPECT_EQ(again->generation_id, generation);
    EXPECT_TRUE(harness.coordinator().find(group_id)->is(GroupState::stable));
}

TEST_F(GroupCoordinatorTest, testLeaveGroupWrongCoordinator) {
    EXPECT_EQ(leave(other_group_id, "memberId"), ErrorCode::not_coordinator);
}

TEST_F(GroupCoordinatorTest, testLeaveGroupUnknownGroup) {
    EXPECT_EQ(leave(group_id, "memberId"), ErrorCode::unknown_member_id);
}

TEST_F(GroupCoordinatorTest, testLeaveGroupUnknownConsumerExistingGroup) {
    (void)stable_member();
    EXPECT_EQ(leave(group_id, "otherMemberId"), ErrorCode::unknown_member_id);
}

TEST_F(GroupCoordinatorTest, testValidLeaveGroup) {
    const protocol::JoinGroupResponse joined = stable_member();
    EXPECT_EQ(leave(group_id, joined.member_id), ErrorCode::none);
    EXPECT_TRUE(harness.coordinator().find(group_id)->is(GroupState::empty));
}

TEST_F(GroupCoordinatorTest, testCommitOffsetFromUnknownGroup) {
    EXPECT_EQ(commit("memberId", 1), ErrorCode::illegal_generation);
}

TEST_F(GroupCoordinatorTest, testCommitOffsetWithDefaultGeneration) {
    EXPECT_EQ(commit("", protocol::no_generation), ErrorCode::none);
}

TEST_F(GroupCoordinatorTest, testCommitOffsetInCompletingRebalance) {
    const protocol::JoinGroupResponse joined = join();
    EXPECT_EQ(commit(joined.member_id, joined.generation_id), ErrorCode::rebalance_in_progress);
}

TEST_F(GroupCoordinatorTest, testFetchOffsetForUnknownPartition) {
    const auto answer =
        harness.call<protocol::OffsetFetchResponse>(protocol::OffsetFetchRequest{group_id, {tp}, false});
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->error, ErrorCode::none);
    EXPECT_EQ(answer->partitions.at(0).offset, -1);
}

TEST_F(GroupCoordinatorTest, testFetchOffsetNotCoordinatorForGroup) {
    const auto answer =
        harness.call<protocol::OffsetFetchResponse>(protocol::OffsetFetchRequest{other_group_id, {tp}, false});
    EXPECT_EQ(answer->error, ErrorCode::not_coordinator);
}

}  // namespace
}  // namespace eosim::broker_core
