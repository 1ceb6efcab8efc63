#include "broker_core/group_metadata.h"

#include <algorithm>
#include <array>

namespace eosim::broker_core {

namespace {

using State = GroupState;
using protocol::ErrorCode;

constexpr std::array<State, 5> states{State::empty, State::preparing_rebalance, State::completing_rebalance,
                                      State::stable, State::dead};

constexpr std::array<State, 1> from_preparing{State::preparing_rebalance};
constexpr std::array<State, 3> to_preparing{State::stable, State::completing_rebalance, State::empty};
constexpr std::array<State, 1> to_stable{State::completing_rebalance};
constexpr std::array<State, 5> to_dead{State::stable, State::preparing_rebalance, State::completing_rebalance,
                                       State::empty, State::dead};

}  // namespace

std::string_view to_string(GroupState state) {
    switch (state) {
        case State::empty: return "Empty";
        case State::preparing_rebalance: return "PreparingRebalance";
        case State::completing_rebalance: return "CompletingRebalance";
        case State::stable: return "Stable";
        case State::dead: return "Dead";
    }
    return "?";
}

std::span<const GroupState> all_group_states() { return states; }

std::span<const GroupState> valid_previous_states(GroupState state) {
    switch (state) {
        case State::empty:
        case State::completing_rebalance: return from_preparing;
        case State::preparing_rebalance: return to_preparing;
        case State::stable: return to_stable;
        case State::dead: return to_dead;
    }
    return {};
}

bool is_valid_transition(GroupState from, GroupState to) {
    const std::span<const GroupState> previous = valid_previous_states(to);
    return std::find(previous.begin(), previous.end(), from) != previous.end();
}

const std::string* GroupMember::metadata(std::string_view protocol) const {
    for (const GroupProtocol& candidate : protocols) {
        if (candidate.name == protocol) {
            return &candidate.metadata;
        }
    }
    return nullptr;
}

GroupMetadata::GroupMetadata(std::string group_id, GroupState state) : group_id_(std::move(group_id)), state_(state) {}

void GroupMetadata::restore(std::int32_t generation_id, std::string protocol_type,
                            std::optional<std::string> protocol_name) {
    generation_id_ = generation_id;
    protocol_type_ = std::move(protocol_type);
    protocol_name_ = std::move(protocol_name);
}

bool GroupMetadata::set_leader(const std::string& member_id) {
    if (!members_.contains(member_id)) {
        return false;
    }
    leader_id_ = member_id;
    return true;
}

bool GroupMetadata::transition_to(GroupState state) {
    if (!is_valid_transition(state_, state)) {
        return false;
    }
    state_ = state;
    return true;
}

bool GroupMetadata::can_rebalance() const { return is_valid_transition(state_, State::preparing_rebalance); }

bool GroupMetadata::add(GroupMember member) {
    if (members_.contains(member.member_id)) {
        return false;
    }
    if (members_.empty()) {
        protocol_type_ = member.protocol_type;
    }
    if (!leader_id_) {
        leader_id_ = member.member_id;
    }
    pending_members_.erase(member.member_id);
    const std::string id = member.member_id;
    members_.emplace(id, std::move(member));
    return true;
}

void GroupMetadata::remove(const std::string& member_id) {
    members_.erase(member_id);
    pending_members_.erase(member_id);
    pending_sync_members_.erase(member_id);
    if (is_leader(member_id)) {
        leader_id_ = members_.empty() ? std::nullopt : std::optional(members_.begin()->first);
    }
}

GroupMember* GroupMetadata::member(const std::string& member_id) {
    const auto found = members_.find(member_id);
    return found == members_.end() ? nullptr : &found->second;
}

bool GroupMetadata::add_pending_member(const std::string& member_id) {
    if (members_.contains(member_id)) {
        return false;
    }
    pending_members_.insert(member_id);
    return true;
}

bool GroupMetadata::add_pending_sync_member(const std::string& member_id) {
    if (!members_.contains(member_id)) {
        return false;
    }
    pending_sync_members_.insert(member_id);
    return true;
}

bool GroupMetadata::remove_pending_sync_member(const std::string& member_id) {
    if (!members_.contains(member_id)) {
        return false;
    }
    pending_sync_members_.erase(member_id);
    return true;
}

void GroupMetadata::set_awaiting_join(const std::string& member_id, bool awaiting) {
    if (GroupMember* found = member(member_id)) {
        found->awaiting_join = awaiting;
    }
}

std::size_t GroupMetadata::awaiting_join_count() const {
    return static_cast<std::size_t>(std::count_if(members_.begin(), members_.end(),
                                                  [](const auto& entry) { return entry.second.awaiting_join; }));
}

bool GroupMetadata::has_all_members_joined() const {
    return awaiting_join_count() == members_.size() && pending_members_.empty();
}

bool GroupMetadata::maybe_elect_new_joined_leader() {
    if (!leader_id_) {
        return false;
    }
    const auto leader = members_.find(*leader_id_);
    if (leader != members_.end() && leader->second.awaiting_join) {
        return true;
    }
    for (const auto& [id, candidate] : members_) {
        if (candidate.awaiting_join) {
            leader_id_ = id;
            return true;
        }
    }
    return false;
}

std::optional<std::string> GroupMetadata::select_protocol() const {
    if (members_.empty()) {
        return std::nullopt;
    }
    // The protocols every member supports.
    std::set<std::string> candidates;
    for (const GroupProtocol& protocol : members_.begin()->second.protocols) {
        const bool everyone = std::all_of(members_.begin(), members_.end(), [&protocol](const auto& entry) {
            return entry.second.metadata(protocol.name) != nullptr;
        });
        if (everyone) {
            candidates.insert(protocol.name);
        }
    }
    // Each member votes for the candidate it prefers most.
    std::map<std::string, int> votes;
    for (const auto& [id, voter] : members_) {
        for (const GroupProtocol& protocol : voter.protocols) {
            if (candidates.contains(protocol.name)) {
                ++votes[protocol.name];
                break;
            }
        }
    }
    std::optional<std::string> chosen;
    int most = 0;
    for (const auto& [name, count] : votes) {  // in name order: a tie goes to the lowest name
        if (count > most) {
            most = count;
            chosen = name;
        }
    }
    return chosen;
}

bool GroupMetadata::supports_protocols(std::string_view type, const std::set<std::string>& protocols) const {
    if (is(State::empty)) {
        return !type.empty() && !protocols.empty();
    }
    if (!protocol_type_ || *protocol_type_ != type) {
        return false;
    }
    return std::any_of(protocols.begin(), protocols.end(), [this](const std::string& name) {
        return std::all_of(members_.begin(), members_.end(),
                           [&name](const auto& entry) { return entry.second.metadata(name) != nullptr; });
    });
}

std::int32_t GroupMetadata::rebalance_timeout_ms() const {
    std::int32_t longest = 0;
    for (const auto& [id, candidate] : members_) {
        longest = std::max(longest, candidate.rebalance_timeout_ms);
    }
    return longest;
}

void GroupMetadata::init_next_generation() {
    ++generation_id_;
    if (!members_.empty()) {
        protocol_name_ = select_protocol();
        (void)transition_to(State::completing_rebalance);
    } else {
        protocol_name_.reset();
        (void)transition_to(State::empty);
    }
    pending_sync_members_.clear();
}

ErrorCode GroupMetadata::validate_offset_commit(const std::string& member_id, std::int32_t generation_id,
                                                bool transactional) const {
    if (is(State::dead)) {
        return ErrorCode::coordinator_not_available;
    }
    if (generation_id >= 0 || !member_id.empty()) {
        if (!members_.contains(member_id)) {
            return ErrorCode::unknown_member_id;
        }
        if (generation_id != generation_id_) {
            return ErrorCode::illegal_generation;
        }
    } else if (!transactional && !is(State::empty)) {
        return ErrorCode::unknown_member_id;  // only an empty group takes commits from outside it
    }
    if (!transactional && is(State::completing_rebalance)) {
        return ErrorCode::rebalance_in_progress;
    }
    return ErrorCode::none;
}

}  // namespace eosim::broker_core
