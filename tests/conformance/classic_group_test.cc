// Kafka's ClassicGroupTest (group-coordinator, the classic protocol) against broker_core::GroupMetadata.
// Where Kafka throws IllegalStateException, eosim answers false and changes nothing; where it throws an
// ApiException, eosim answers that error code. Cases of static membership (group.instance.id), offset
// expiry and subscribed topics are left out: eosim has none of them (docs/kafka-differences.md).
#include <gtest/gtest.h>

#include <ostream>
#include <set>
#include <string>

#include "broker_core/group_metadata.h"
#include "protocol/errors.h"

namespace eosim::broker_core {

void PrintTo(GroupState state, std::ostream* out) {  // NOLINT(readability-identifier-naming)
    *out << to_string(state);
}

namespace {

using protocol::ErrorCode;
using State = GroupState;

const std::string member_id = "memberId";

GroupMember member(const std::string& id, std::vector<std::string> protocols = {"roundrobin"},
                   bool awaiting_join = false, std::string type = "consumer") {
    GroupMember made{.member_id = id,
                     .client_id = "clientId",
                     .rebalance_timeout_ms = 60000,
                     .session_timeout_ms = 10000,
                     .protocol_type = std::move(type),
                     .awaiting_join = awaiting_join};
    for (std::string& name : protocols) {
        made.protocols.push_back(GroupProtocol{std::move(name), ""});
    }
    return made;
}

class ClassicGroupTest : public ::testing::Test {
protected:
    // A chain of transitions that must all be allowed.
    void go(std::initializer_list<State> path) {
        for (const State state : path) {
            ASSERT_TRUE(group.transition_to(state)) << "to " << to_string(state);
        }
    }

    GroupMetadata group{"groupId"};
};

TEST_F(ClassicGroupTest, CanRebalanceWhenStable) { EXPECT_TRUE(group.can_rebalance()); }  // Empty, as in Kafka

TEST_F(ClassicGroupTest, CanRebalanceWhenCompletingRebalance) {
    go({State::preparing_rebalance, State::completing_rebalance});
    EXPECT_TRUE(group.can_rebalance());
}

TEST_F(ClassicGroupTest, CannotRebalanceWhenPreparingRebalance) {
    go({State::preparing_rebalance});
    EXPECT_FALSE(group.can_rebalance());
}

TEST_F(ClassicGroupTest, CannotRebalanceWhenDead) {
    go({State::preparing_rebalance, State::empty, State::dead});
    EXPECT_FALSE(group.can_rebalance());
}

TEST_F(ClassicGroupTest, LegalTransitions) {
    // testStableToPreparingRebalanceTransition, testStableToDeadTransition,
    // testAwaitingRebalanceToPreparingRebalanceTransition, testPreparingRebalanceToDeadTransition,
    // testPreparingRebalanceToEmptyTransition, testEmptyToDeadTransition, testAwaitingRebalanceToStableTransition,
    // testDeadToDeadIllegalTransition (Dead to Dead is allowed).
    go({State::preparing_rebalance});
    EXPECT_EQ(group.state(), State::preparing_rebalance);
    GroupMetadata to_dead{"g"};
    EXPECT_TRUE(to_dead.transition_to(State::dead));
    GroupMetadata back{"g"};
    EXPECT_TRUE(back.transition_to(State::preparing_rebalance));
    EXPECT_TRUE(back.transition_to(State::completing_rebalance));
    EXPECT_TRUE(back.transition_to(State::preparing_rebalance));
    EXPECT_TRUE(back.transition_to(State::dead));
    EXPECT_TRUE(back.transition_to(State::dead));
    EXPECT_EQ(back.state(), State::dead);
    GroupMetadata emptied{"g"};
    EXPECT_TRUE(emptied.transition_to(State::preparing_rebalance));
    EXPECT_TRUE(emptied.transition_to(State::empty));
    EXPECT_TRUE(emptied.transition_to(State::dead));
    GroupMetadata stable{"g"};
    EXPECT_TRUE(stable.transition_to(State::preparing_rebalance));
    EXPECT_TRUE(stable.transition_to(State::completing_rebalance));
    EXPECT_TRUE(stable.transition_to(State::stable));
    EXPECT_EQ(stable.state(), State::stable);
}

TEST_F(ClassicGroupTest, IllegalTransitionsChangeNothing) {
    // testEmptyToStableIllegalTransition, testEmptyToAwaitingRebalanceIllegalTransition
    EXPECT_FALSE(group.transition_to(State::stable));
    EXPECT_FALSE(group.transition_to(State::completing_rebalance));
    EXPECT_EQ(group.state(), State::empty);
    // testPreparingRebalanceToPreparingRebalanceIllegalTransition, testPreparingRebalanceToStableIllegalTransition
    go({State::preparing_rebalance});
    EXPECT_FALSE(group.transition_to(State::preparing_rebalance));
    EXPECT_FALSE(group.transition_to(State::stable));
    // testAwaitingRebalanceToAwaitingRebalanceIllegalTransition
    go({State::completing_rebalance});
    EXPECT_FALSE(group.transition_to(State::completing_rebalance));
    // testStableToStableIllegalTransition
    go({State::stable});
    EXPECT_FALSE(group.transition_to(State::stable));
    // testDeadToStableIllegalTransition, testDeadToPreparingRebalanceIllegalTransition,
    // testDeadToAwaitingRebalanceIllegalTransition
    go({State::dead});
    EXPECT_FALSE(group.transition_to(State::stable));
    EXPECT_FALSE(group.transition_to(State::preparing_rebalance));
    EXPECT_FALSE(group.transition_to(State::completing_rebalance));
    EXPECT_EQ(group.state(), State::dead);
}

TEST_F(ClassicGroupTest, SelectProtocol) {
    ASSERT_TRUE(group.add(member(member_id, {"range", "roundrobin"})));
    ASSERT_TRUE(group.add(member("member2", {"roundrobin", "range"})));
    // No majority: either (eosim: the lowest name).
    const auto tied = group.select_protocol();
    ASSERT_TRUE(tied.has_value());
    EXPECT_TRUE(*tied == "range" || *tied == "roundrobin");
    ASSERT_TRUE(group.add(member("member3", {"roundrobin", "range"})));
    EXPECT_EQ(group.select_protocol(), "roundrobin");
}

TEST_F(ClassicGroupTest, SelectProtocolRaisesIfNoMembers) { EXPECT_FALSE(group.select_protocol().has_value()); }

TEST_F(ClassicGroupTest, SelectProtocolChoosesCompatibleProtocol) {
    ASSERT_TRUE(group.add(member(member_id, {"range", "roundrobin"})));
    ASSERT_TRUE(group.add(member("member2", {"roundrobin", "foo"})));
    EXPECT_EQ(group.select_protocol(), "roundrobin");
}

TEST_F(ClassicGroupTest, SupportsProtocols) {
    EXPECT_TRUE(group.supports_protocols("consumer", {"range", "roundrobin"}));  // an empty group takes anything
    ASSERT_TRUE(group.add(member(member_id, {"range", "roundrobin"})));
    go({State::preparing_rebalance});
    EXPECT_TRUE(group.supports_protocols("consumer", {"roundrobin", "foo"}));
    EXPECT_TRUE(group.supports_protocols("consumer", {"range", "bar"}));
    EXPECT_FALSE(group.supports_protocols("consumer", {"foo", "bar"}));
    EXPECT_FALSE(group.supports_protocols("other", {"range"}));
}

TEST_F(ClassicGroupTest, InitNextGeneration) {
    go({State::preparing_rebalance});
    ASSERT_TRUE(group.add(member(member_id, {"roundrobin"}, true)));
    EXPECT_EQ(group.generation_id(), 0);
    EXPECT_FALSE(group.protocol_name().has_value());
    group.init_next_generation();
    EXPECT_EQ(group.generation_id(), 1);
    EXPECT_EQ(group.protocol_name(), "roundrobin");
    EXPECT_EQ(group.state(), State::completing_rebalance);
}

TEST_F(ClassicGroupTest, InitNextGenerationEmptyGroup) {
    EXPECT_EQ(group.state(), State::empty);
    go({State::preparing_rebalance});
    group.init_next_generation();
    EXPECT_EQ(group.generation_id(), 1);
    EXPECT_FALSE(group.protocol_name().has_value());
    EXPECT_EQ(group.state(), State::empty);
}

TEST_F(ClassicGroupTest, CompleteJoinFuture) {
    // The join future is the coordinator's; the member's flag says a JoinGroup waits.
    ASSERT_TRUE(group.add(member(member_id, {"roundrobin"}, true)));
    EXPECT_TRUE(group.has_all_members_joined());
    group.set_awaiting_join(member_id, false);
    EXPECT_EQ(group.awaiting_join_count(), 0U);
}

TEST_F(ClassicGroupTest, CannotAddPendingMemberIfStable) {
    ASSERT_TRUE(group.add(member(member_id)));
    EXPECT_FALSE(group.add_pending_member(member_id));
}

TEST_F(ClassicGroupTest, RemovalFromPendingAfterMemberIsStable) {
    ASSERT_TRUE(group.add_pending_member(member_id));
    EXPECT_FALSE(group.has_member(member_id));
    EXPECT_TRUE(group.is_pending_member(member_id));
    ASSERT_TRUE(group.add(member(member_id)));
    EXPECT_TRUE(group.has_member(member_id));
    EXPECT_FALSE(group.is_pending_member(member_id));
}

TEST_F(ClassicGroupTest, RemovalFromPendingWhenMemberIsRemoved) {
    ASSERT_TRUE(group.add_pending_member(member_id));
    group.remove(member_id);
    EXPECT_FALSE(group.has_member(member_id));
    EXPECT_FALSE(group.is_pending_member(member_id));
}

TEST_F(ClassicGroupTest, CannotAddMemberIfAlreadyPresent) {
    ASSERT_TRUE(group.add(member(member_id)));
    EXPECT_FALSE(group.add(member(member_id)));
}

TEST_F(ClassicGroupTest, PendingSyncMembers) {
    // testCannotAddPendingSyncOfUnknownMember, testCannotRemovePendingSyncOfUnknownMember,
    // testCanAddAndRemovePendingSyncMember, testRemovalFromPendingSyncWhenMemberIsRemoved
    EXPECT_FALSE(group.add_pending_sync_member(member_id));
    EXPECT_FALSE(group.remove_pending_sync_member(member_id));
    ASSERT_TRUE(group.add(member(member_id)));
    EXPECT_TRUE(group.add_pending_sync_member(member_id));
    EXPECT_EQ(group.pending_sync_members(), std::set<std::string>{member_id});
    EXPECT_TRUE(group.remove_pending_sync_member(member_id));
    EXPECT_TRUE(group.pending_sync_members().empty());
    EXPECT_TRUE(group.add_pending_sync_member(member_id));
    group.remove(member_id);
    EXPECT_TRUE(group.pending_sync_members().empty());
}

TEST_F(ClassicGroupTest, NewGenerationClearsPendingSyncMembers) {
    ASSERT_TRUE(group.add(member(member_id)));
    go({State::preparing_rebalance});
    EXPECT_TRUE(group.add_pending_sync_member(member_id));
    group.init_next_generation();
    EXPECT_TRUE(group.pending_sync_members().empty());
}

TEST_F(ClassicGroupTest, ElectNewJoinedLeader) {
    ASSERT_TRUE(group.add(member(member_id)));
    EXPECT_TRUE(group.is_leader(member_id));
    ASSERT_TRUE(group.add(member("new-leader", {"roundrobin"}, true)));
    ASSERT_TRUE(group.add(member("new-member")));
    EXPECT_TRUE(group.maybe_elect_new_joined_leader());
    EXPECT_TRUE(group.is_leader("new-leader"));
}

TEST_F(ClassicGroupTest, MaybeElectNewJoinedLeaderChooseExisting) {
    ASSERT_TRUE(group.add(member(member_id, {"roundrobin"}, true)));
    EXPECT_TRUE(group.is_leader(member_id));
    ASSERT_TRUE(group.add(member("new-member")));
    EXPECT_TRUE(group.maybe_elect_new_joined_leader());
    EXPECT_TRUE(group.is_leader(member_id));
}

TEST_F(ClassicGroupTest, ValidateOffsetCommit) {
    // A call from the admin client without any parameters passes.
    EXPECT_EQ(group.validate_offset_commit("", -1, false), ErrorCode::none);
    ASSERT_TRUE(group.add(member("member-id")));
    go({State::preparing_rebalance});
    group.init_next_generation();
    // No parameters and the group is not empty.
    EXPECT_EQ(group.validate_offset_commit("", -1, false), ErrorCode::unknown_member_id);
    // A transactional offset commit without any parameters and a non-empty group is accepted.
    EXPECT_EQ(group.validate_offset_commit("", -1, true), ErrorCode::none);
    EXPECT_EQ(group.validate_offset_commit("unknown", -1, false), ErrorCode::unknown_member_id);
    EXPECT_EQ(group.validate_offset_commit("member-id", 0, false), ErrorCode::illegal_generation);
    // The group is completing its rebalance.
    EXPECT_EQ(group.validate_offset_commit("member-id", 1, false), ErrorCode::rebalance_in_progress);
    go({State::stable});
    EXPECT_EQ(group.validate_offset_commit("member-id", 1, false), ErrorCode::none);
    group.remove("member-id");
    go({State::dead});
    EXPECT_EQ(group.validate_offset_commit("member-id", 1, false), ErrorCode::coordinator_not_available);
}

}  // namespace
}  // namespace eosim::broker_core
