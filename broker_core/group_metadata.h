#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/errors.h"

// The group coordinator's state of one consumer group under the classic protocol (Kafka's ClassicGroup
// and ClassicGroupMember): its states and their transitions, its members, the generation, the
// protocol the members agree on, and the checks an offset commit must pass. The coordinator drives it
// (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, timeouts); nothing here waits or reads a clock.
// docs/groups.md describes the rules. Static membership (group.instance.id, KIP-345) is left out.

namespace eosim::broker_core {

// Kafka's ClassicGroupState.
enum class GroupState : std::int8_t {
    empty,                 // no members; offsets may still be committed (and expire)
    preparing_rebalance,   // members are (re)joining; JoinGroup answers wait for all of them
    completing_rebalance,  // every member joined; the leader's SyncGroup with the assignment is awaited
    stable,                // the assignment is handed out; members heartbeat
    dead,                  // the group is gone (its coordinator moved, or it was deleted)
};

// Kafka's name of the state ("Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead").
std::string_view to_string(GroupState state);
std::span<const GroupState> all_group_states();
// Kafka's ClassicGroupState.validPreviousStates.
std::span<const GroupState> valid_previous_states(GroupState state);
[[nodiscard]] bool is_valid_transition(GroupState from, GroupState to);

// A protocol a member supports, in its order of preference: an assignor's name and its metadata (for the
// consumer protocol, the subscription).
struct GroupProtocol {
    std::string name;
    std::string metadata;

    bool operator==(const GroupProtocol&) const = default;
};

// Kafka's ClassicGroupMember, without the futures: the coordinator keeps the waiting requests and reads
// `awaiting_join` and `awaiting_sync`.
struct GroupMember {
    std::string member_id;
    std::string client_id;
    std::int32_t rebalance_timeout_ms = 0;
    std::int32_t session_timeout_ms = 0;
    std::string protocol_type;
    std::vector<GroupProtocol> protocols;
    std::string assignment;      // what the leader's SyncGroup gave it in this generation
    bool awaiting_join = false;  // a JoinGroup of this member waits for the rebalance to complete
    bool awaiting_sync = false;  // a SyncGroup of this member waits for the leader's assignment

    // The metadata of `protocol` in this member's list, if it supports it.
    [[nodiscard]] const std::string* metadata(std::string_view protocol) const;
};

class GroupMetadata {
public:
    explicit GroupMetadata(std::string group_id, GroupState state = GroupState::empty);

    [[nodiscard]] const std::string& group_id() const { return group_id_; }
    [[nodiscard]] GroupState state() const { return state_; }
    [[nodiscard]] bool is(GroupState state) const { return state_ == state; }
    [[nodiscard]] std::int32_t generation_id() const { return generation_id_; }
    [[nodiscard]] const std::optional<std::string>& protocol_type() const { return protocol_type_; }
    [[nodiscard]] const std::optional<std::string>& protocol_name() const { return protocol_name_; }
    [[nodiscard]] const std::optional<std::string>& leader_id() const { return leader_id_; }
    [[nodiscard]] const std::map<std::string, GroupMember>& members() const { return members_; }

    // Loading from the offsets log: the generation, protocol type and protocol its record holds (the
    // members are added, and the leader set, after).
    void restore(std::int32_t generation_id, std::string protocol_type, std::optional<std::string> protocol_name);
    // False (and no change) if `member_id` is not a member.
    [[nodiscard]] bool set_leader(const std::string& member_id);

    // False (and no change) when `state` may not follow the current state. Kafka throws.
    [[nodiscard]] bool transition_to(GroupState state);
    // Whether a rebalance may start (the current state may go to PreparingRebalance).
    [[nodiscard]] bool can_rebalance() const;

    // Adds a member (false, and no change, if its id is already a member). The first member becomes the
    // leader and sets the group's protocol type. A pending member with that id stops being pending.
    [[nodiscard]] bool add(GroupMember member);
    // Removes a member, its pending and pending-sync entries; if it led, the first member (in id order)
    // leads.
    void remove(const std::string& member_id);
    [[nodiscard]] bool has_member(const std::string& member_id) const { return members_.contains(member_id); }
    [[nodiscard]] GroupMember* member(const std::string& member_id);
    [[nodiscard]] bool is_leader(const std::string& member_id) const { return leader_id_ == member_id; }

    // KIP-394: a member id handed out by a JoinGroup that answered MEMBER_ID_REQUIRED, not yet joined.
    // False if it is already a member.
    [[nodiscard]] bool add_pending_member(const std::string& member_id);
    [[nodiscard]] bool is_pending_member(const std::string& member_id) const {
        return pending_members_.contains(member_id);
    }
    void remove_pending_member(const std::string& member_id) { pending_members_.erase(member_id); }
    [[nodiscard]] std::size_t pending_member_count() const { return pending_members_.size(); }

    // Members whose SyncGroup is still expected in this generation (false for a non-member).
    [[nodiscard]] bool add_pending_sync_member(const std::string& member_id);
    [[nodiscard]] bool remove_pending_sync_member(const std::string& member_id);
    [[nodiscard]] const std::set<std::string>& pending_sync_members() const { return pending_sync_members_; }

    void set_awaiting_join(const std::string& member_id, bool awaiting);
    [[nodiscard]] std::size_t awaiting_join_count() const;
    // Every member has rejoined and no member id handed out is still to join.
    [[nodiscard]] bool has_all_members_joined() const;
    // If the leader has not rejoined, the first member that did becomes the leader. False if none did.
    [[nodiscard]] bool maybe_elect_new_joined_leader();

    // The protocol every member supports that most members prefer (ties: the lowest name). Nothing when
    // the group has no members or no common protocol.
    [[nodiscard]] std::optional<std::string> select_protocol() const;
    // Whether a member of `type` with `protocols` may join: the type matches, and (with members) one of
    // the protocols is supported by every member.
    [[nodiscard]] bool supports_protocols(std::string_view type, const std::set<std::string>& protocols) const;
    // The largest rebalance timeout of the members (how long a rebalance waits for rejoins).
    [[nodiscard]] std::int32_t rebalance_timeout_ms() const;

    // Ends the join phase: the generation goes up; with members the protocol is chosen and the group is
    // CompletingRebalance, without it is Empty. Pending syncs are cleared.
    void init_next_generation();

    // Kafka's validateOffsetCommit: NONE if the commit may go on. Dead: COORDINATOR_NOT_AVAILABLE. A commit
    // with a member id or a generation (>= 0) must come from a member (UNKNOWN_MEMBER_ID) of the group's
    // generation (ILLEGAL_GENERATION); one with neither (an admin tool, a consumer without group
    // management, a producer that sends no group metadata) is taken if it is transactional or the group
    // is Empty (else UNKNOWN_MEMBER_ID). A plain commit while CompletingRebalance: REBALANCE_IN_PROGRESS
    // (the member has the new generation but not yet its assignment).
    [[nodiscard]] protocol::ErrorCode validate_offset_commit(const std::string& member_id, std::int32_t generation_id,
                                                             bool transactional) const;

private:
    std::string group_id_;
    GroupState state_;
    std::int32_t generation_id_ = 0;
    std::optional<std::string> protocol_type_;
    std::optional<std::string> protocol_name_;
    std::optional<std::string> leader_id_;
    std::map<std::string, GroupMember> members_;  // by member id: iteration is in id order
    std::set<std::string> pending_members_;
    std::set<std::string> pending_sync_members_;
};

}  // namespace eosim::broker_core
