#include "broker_core/group_coordinator.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "broker_core/offsets_log.h"
#include "protocol/coordinator.h"
#include "protocol/topics.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::ErrorCode;
using State = GroupState;

namespace {

// The broker's wall clock (Kafka's time.milliseconds()) for group records and offset commit times: clock faults
// step and skew it.
std::int64_t now_ms() {
    return sim::to_ns(sim::local_now()) / 1'000'000;
}

sim::Duration millis(std::int32_t ms) {
    return std::chrono::milliseconds(ms);
}

std::vector<GroupProtocol> protocols_of(const protocol::JoinGroupRequest& request) {
    std::vector<GroupProtocol> protocols;
    for (const protocol::JoinGroupProtocol& offered : request.protocols) {
        protocols.push_back(GroupProtocol{offered.name, offered.metadata});
    }
    return protocols;
}

std::set<std::string> protocol_names(const protocol::JoinGroupRequest& request) {
    std::set<std::string> names;
    for (const protocol::JoinGroupProtocol& offered : request.protocols) {
        names.insert(offered.name);
    }
    return names;
}

// Kafka's mapping of a failed append of group metadata (GroupMetadataManager.storeGroup).
ErrorCode store_group_error(ErrorCode error) {
    switch (error) {
        case ErrorCode::request_timed_out: return ErrorCode::rebalance_in_progress;
        case ErrorCode::none:
        case ErrorCode::not_coordinator: return error;
        default: return ErrorCode::coordinator_not_available;
    }
}

// The same error for every partition of a commit.
std::vector<protocol::PartitionError> errors_for(const std::vector<protocol::OffsetCommitPartition>& partitions,
                                                 ErrorCode error) {
    std::vector<protocol::PartitionError> errors;
    for (const protocol::OffsetCommitPartition& commit : partitions) {
        errors.push_back(protocol::PartitionError{commit.partition, error});
    }
    return errors;
}

}  // namespace

GroupCoordinator::GroupCoordinator(sim::Node& node, GroupCoordinatorConfig config, GroupLogAccess access)
    : node_(node), config_(config), access_(std::move(access)) {
    node.spawn("group-expiry", [this] { expiry_loop(); });
}

std::optional<sim::Message> GroupCoordinator::handle(const sim::Message& request) {
    if (request.is<protocol::JoinGroupRequest>()) {
        return sim::make_message(join_group(request.as<protocol::JoinGroupRequest>()));
    }
    if (request.is<protocol::SyncGroupRequest>()) {
        return sim::make_message(sync_group(request.as<protocol::SyncGroupRequest>()));
    }
    if (request.is<protocol::HeartbeatRequest>()) {
        return sim::make_message(heartbeat(request.as<protocol::HeartbeatRequest>()));
    }
    if (request.is<protocol::LeaveGroupRequest>()) {
        return sim::make_message(leave_group(request.as<protocol::LeaveGroupRequest>()));
    }
    if (request.is<protocol::OffsetCommitRequest>()) {
        return sim::make_message(commit_offsets(request.as<protocol::OffsetCommitRequest>()));
    }
    if (request.is<protocol::OffsetFetchRequest>()) {
        return sim::make_message(fetch_offsets(request.as<protocol::OffsetFetchRequest>()));
    }
    if (request.is<protocol::TxnOffsetCommitRequest>()) {
        return sim::make_message(txn_commit_offsets(request.as<protocol::TxnOffsetCommitRequest>()));
    }
    return std::nullopt;
}

const GroupMetadata* GroupCoordinator::find(const std::string& group_id) const {
    for (const auto& [index, partition] : partitions_) {
        const auto found = partition.groups.find(group_id);
        if (found != partition.groups.end()) {
            return &found->second.metadata;
        }
    }
    return nullptr;
}

std::optional<OffsetAndMetadata> GroupCoordinator::committed(const std::string& group_id,
                                                             const protocol::TopicPartition& partition) const {
    const std::int32_t count = access_.partition_count();
    if (count <= 0) {
        return std::nullopt;
    }
    const auto found = partitions_.find(protocol::coordinator_partition(group_id, count));
    if (found == partitions_.end() || found->second.loading) {
        return std::nullopt;
    }
    return found->second.offsets.committed(group_id, partition);
}

bool GroupCoordinator::idle() const {
    return std::none_of(partitions_.begin(), partitions_.end(),
                        [](const auto& entry) { return entry.second.loading; });
}

// ---- where a group lives ---------------------------------------------------------------------------

ErrorCode GroupCoordinator::place_error(const std::string& group_id, Place& place) const {
    const std::int32_t count = access_.partition_count();
    if (count <= 0) {
        return ErrorCode::not_coordinator;
    }
    const std::int32_t index = protocol::coordinator_partition(group_id, count);
    const auto found = partitions_.find(index);
    if (found == partitions_.end()) {
        return ErrorCode::not_coordinator;
    }
    if (found->second.loading) {
        return ErrorCode::coordinator_load_in_progress;
    }
    if (access_.in_touch && !access_.in_touch()) {
        // Out of touch with the controller, the broker may be a deposed leader with a stale cache: an
        // OffsetFetch answered from it would send a consumer back to offsets committed past since.
        return ErrorCode::not_coordinator;
    }
    place = Place{index, found->second.generation, found->second.coordinator_epoch};
    return ErrorCode::none;
}

bool GroupCoordinator::current(const Place& place) const {
    const auto found = partitions_.find(place.partition);
    return found != partitions_.end() && found->second.generation == place.generation && !found->second.loading;
}

GroupCoordinator::Partition* GroupCoordinator::partition(const Place& place) {
    return current(place) ? &partitions_.at(place.partition) : nullptr;
}

GroupCoordinator::Group* GroupCoordinator::lookup(const Place& place, const std::string& group_id) {
    Partition* found = partition(place);
    if (found == nullptr) {
        return nullptr;
    }
    const auto group = found->groups.find(group_id);
    return group == found->groups.end() ? nullptr : &group->second;
}

GroupCoordinator::Group& GroupCoordinator::create_group(const Place& place, const std::string& group_id) {
    return partitions_.at(place.partition).groups.emplace(group_id, Group(group_id)).first->second;
}

// ---- waiting requests ------------------------------------------------------------------------------

std::uint64_t GroupCoordinator::wait_join(Group& group, const std::string& member_id) {
    const auto previous = group.joins.by_member.find(member_id);
    if (previous != group.joins.by_member.end()) {
        // A second JoinGroup of the member replaces the first (whose client gave up on it).
        protocol::JoinGroupResponse replaced;
        replaced.error = ErrorCode::rebalance_in_progress;
        replaced.member_id = member_id;
        group.joins.answers.insert_or_assign(previous->second, replaced);
    }
    const std::uint64_t ticket = next_ticket_++;
    group.joins.by_member[member_id] = ticket;
    group.metadata.set_awaiting_join(member_id, true);
    changed_.notify_all();
    return ticket;
}

std::uint64_t GroupCoordinator::wait_sync(Group& group, const std::string& member_id) {
    const auto previous = group.syncs.by_member.find(member_id);
    if (previous != group.syncs.by_member.end()) {
        group.syncs.answers.insert_or_assign(previous->second,
                                             protocol::SyncGroupResponse{.error = ErrorCode::rebalance_in_progress});
    }
    const std::uint64_t ticket = next_ticket_++;
    group.syncs.by_member[member_id] = ticket;
    if (GroupMember* member = group.metadata.member(member_id)) {
        member->awaiting_sync = true;
    }
    changed_.notify_all();
    return ticket;
}

void GroupCoordinator::answer_join(Group& group, const std::string& member_id, protocol::JoinGroupResponse response) {
    const auto waiting = group.joins.by_member.find(member_id);
    if (waiting == group.joins.by_member.end()) {
        return;
    }
    group.joins.answers.insert_or_assign(waiting->second, std::move(response));
    group.joins.by_member.erase(waiting);
    group.metadata.set_awaiting_join(member_id, false);
    changed_.notify_all();
}

void GroupCoordinator::answer_sync(Group& group, const std::string& member_id, protocol::SyncGroupResponse response) {
    const auto waiting = group.syncs.by_member.find(member_id);
    if (waiting == group.syncs.by_member.end()) {
        return;
    }
    group.syncs.answers.insert_or_assign(waiting->second, std::move(response));
    group.syncs.by_member.erase(waiting);
    if (GroupMember* member = group.metadata.member(member_id)) {
        member->awaiting_sync = false;
    }
    changed_.notify_all();
}

template <typename Response>
Response GroupCoordinator::await_answer(const Place& place, const std::string& group_id, std::uint64_t ticket,
                                        Waiters<Response> Group::*waiters) {
    Response answer;
    (void)changed_.wait_until(sim::Time::max(), [&] {
        Group* group = lookup(place, group_id);
        if (group == nullptr) {
            answer.error = ErrorCode::not_coordinator;
            return true;
        }
        auto& answers = (group->*waiters).answers;
        const auto found = answers.find(ticket);
        if (found == answers.end()) {
            return false;
        }
        answer = std::move(found->second);
        answers.erase(found);
        return true;
    });
    return answer;
}

protocol::JoinGroupResponse GroupCoordinator::join_answer(const Group& group, const std::string& member_id) const {
    const GroupMetadata& metadata = group.metadata;
    protocol::JoinGroupResponse response;
    response.generation_id = metadata.generation_id();
    response.protocol_type = metadata.protocol_type();
    response.protocol_name = metadata.protocol_name();
    response.leader = metadata.leader_id().value_or("");
    response.member_id = member_id;
    if (metadata.is_leader(member_id)) {
        for (const auto& [id, member] : metadata.members()) {
            const std::string* subscription =
                metadata.protocol_name() ? member.metadata(*metadata.protocol_name()) : nullptr;
            response.members.push_back(protocol::JoinGroupMember{id, subscription != nullptr ? *subscription : ""});
        }
    }
    return response;
}

// ---- JoinGroup -------------------------------------------------------------------------------------

protocol::JoinGroupResponse GroupCoordinator::join_group(const protocol::JoinGroupRequest& request) {
    if (sim::buggify("slow-join-group")) {
        sim::sleep(std::chrono::milliseconds(node_.random().below(300)));  // the others may have joined already
    }
    protocol::JoinGroupResponse refused;
    refused.member_id = request.member_id;
    Place place;
    refused.error = place_error(request.group_id, place);
    if (refused.error != ErrorCode::none) {
        return refused;
    }
    if (request.session_timeout_ms < config_.min_session_timeout_ms ||
        request.session_timeout_ms > config_.max_session_timeout_ms) {
        refused.error = ErrorCode::invalid_session_timeout;
        return refused;
    }
    Group* found = lookup(place, request.group_id);
    if (found == nullptr) {
        if (!request.member_id.empty()) {
            refused.error = ErrorCode::unknown_member_id;
            return refused;
        }
        found = &create_group(place, request.group_id);
    }
    Group& group = *found;
    if (group.metadata.is(State::dead)) {
        refused.error = ErrorCode::coordinator_not_available;
        return refused;
    }
    if (!group.metadata.supports_protocols(request.protocol_type, protocol_names(request))) {
        refused.error = ErrorCode::inconsistent_group_protocol;
        return refused;
    }
    return request.member_id.empty() ? join_new_member(place, group, request)
                                     : join_known_member(place, group, request);
}

protocol::JoinGroupResponse GroupCoordinator::join_new_member(const Place& place, Group& group,
                                                              const protocol::JoinGroupRequest& request) {
    protocol::JoinGroupResponse response;
    if (group.metadata.members().size() + group.metadata.pending_member_count() + 1 > config_.max_size) {
        response.error = ErrorCode::group_max_size_reached;
        return response;
    }
    (void)place;
    // KIP-394: the member gets its id and must join again with it (counted against group.max.size
    // meanwhile, as Kafka counts pending members).
    const std::string prefix = request.client_id.empty() ? "member" : request.client_id;
    response.member_id = fmt::format("{}-{:016x}", prefix, node_.random().next_u64());
    const bool added = group.metadata.add_pending_member(response.member_id);
    EOSIM_ASSERT(added);
    group.session_deadlines[response.member_id] = sim::deadline_after(millis(request.session_timeout_ms));
    response.error = ErrorCode::member_id_required;
    sim::trace("GroupMemberIdGiven").detail("group", request.group_id).detail("member", response.member_id);
    return response;
}

protocol::JoinGroupResponse GroupCoordinator::join_known_member(const Place& place, Group& group,
                                                                const protocol::JoinGroupRequest& request) {
    const std::string& id = request.member_id;
    const std::string group_id = request.group_id;
    protocol::JoinGroupResponse refused;
    refused.member_id = id;
    GroupMetadata& metadata = group.metadata;
    const auto update = [&](GroupMember& member) {
        member.protocols = protocols_of(request);
        member.session_timeout_ms = request.session_timeout_ms;
        member.rebalance_timeout_ms = request.rebalance_timeout_ms;
    };
    if (metadata.is_pending_member(id)) {
        GroupMember member;
        member.member_id = id;
        member.client_id = request.client_id;
        member.protocol_type = request.protocol_type;
        update(member);
        const bool added = metadata.add(std::move(member));
        EOSIM_ASSERT(added);
        refresh_session(group, id);
        const std::uint64_t ticket = wait_join(group, id);
        if (metadata.is(State::preparing_rebalance)) {
            maybe_complete_join(place, group, false);
        } else {
            maybe_prepare_rebalance(place, group, "a new member joined");
        }
        return await_answer(place, group_id, ticket, &Group::joins);
    }
    GroupMember* member = metadata.member(id);
    if (member == nullptr) {
        refused.error = ErrorCode::unknown_member_id;
        return refused;
    }
    refresh_session(group, id);
    const bool same_protocols = member->protocols == protocols_of(request);
    switch (metadata.state()) {
        case State::preparing_rebalance: {
            update(*member);
            const std::uint64_t ticket = wait_join(group, id);
            maybe_complete_join(place, group, false);
            return await_answer(place, group_id, ticket, &Group::joins);
        }
        case State::completing_rebalance:
        case State::stable: {
            const bool rebalance =
                !same_protocols || (metadata.is(State::stable) && metadata.is_leader(id));
            if (!rebalance) {
                return join_answer(group, id);  // the member lost the answer: it gets it again
            }
            update(*member);
            const std::uint64_t ticket = wait_join(group, id);
            maybe_prepare_rebalance(place, group, metadata.is_leader(id) ? "the leader rejoined" : "new protocols");
            return await_answer(place, group_id, ticket, &Group::joins);
        }
        case State::empty:
        case State::dead: break;
    }
    refused.error = ErrorCode::unknown_member_id;
    return refused;
}

// ---- rebalances ------------------------------------------------------------------------------------

void GroupCoordinator::maybe_prepare_rebalance(const Place& place, Group& group, const char* reason) {
    GroupMetadata& metadata = group.metadata;
    if (!metadata.can_rebalance()) {
        return;
    }
    if (metadata.is(State::completing_rebalance)) {
        // Kafka's resetAndPropagateAssignmentError: the members waiting for their assignment rejoin.
        for (const auto& [id, member] : metadata.members()) {
            answer_sync(group, id, protocol::SyncGroupResponse{.error = ErrorCode::rebalance_in_progress});
        }
    }
    for (const auto& [id, member] : metadata.members()) {
        if (GroupMember* changed = metadata.member(id)) {
            changed->assignment.clear();
        }
    }
    const bool moved = metadata.transition_to(State::preparing_rebalance);
    EOSIM_ASSERT(moved);
    group.rebalance_deadline = sim::deadline_after(millis(metadata.rebalance_timeout_ms()));
    sim::trace("GroupRebalancePrepared")
        .detail("group", metadata.group_id())
        .detail("generation", metadata.generation_id())
        .detail("reason", reason);
    maybe_complete_join(place, group, false);
}

void GroupCoordinator::maybe_complete_join(const Place& place, Group& group, bool force) {
    GroupMetadata& metadata = group.metadata;
    if (!metadata.is(State::preparing_rebalance) || (!force && !metadata.has_all_members_joined())) {
        return;
    }
    // Kafka's onCompleteJoin: the members that did not rejoin in time are gone.
    std::vector<std::string> missing;
    for (const auto& [id, member] : metadata.members()) {
        if (!member.awaiting_join) {
            missing.push_back(id);
        }
    }
    for (const std::string& id : missing) {
        metadata.remove(id);
        group.session_deadlines.erase(id);
        answer_sync(group, id, protocol::SyncGroupResponse{.error = ErrorCode::unknown_member_id});
    }
    (void)metadata.maybe_elect_new_joined_leader();
    metadata.init_next_generation();
    sim::trace("GroupJoinCompleted")
        .detail("group", metadata.group_id())
        .detail("generation", metadata.generation_id())
        .detail("members", metadata.members().size())
        .detail("removed", missing.size())
        .detail("protocol", metadata.protocol_name().value_or(""));
    if (metadata.is(State::empty)) {
        store_group_in_background(place, metadata.group_id());
        return;
    }
    for (const auto& [id, member] : metadata.members()) {
        answer_join(group, id, join_answer(group, id));
        refresh_session(group, id);
        (void)metadata.add_pending_sync_member(id);
    }
    group.sync_deadline = sim::deadline_after(millis(metadata.rebalance_timeout_ms()));
}

void GroupCoordinator::remove_member_and_update_group(const Place& place, Group& group, const std::string& member_id,
                                                      const char* reason) {
    protocol::JoinGroupResponse gone;
    gone.error = ErrorCode::unknown_member_id;
    gone.member_id = member_id;
    answer_join(group, member_id, gone);
    answer_sync(group, member_id, protocol::SyncGroupResponse{.error = ErrorCode::unknown_member_id});
    group.metadata.remove(member_id);
    group.session_deadlines.erase(member_id);
    sim::trace("GroupMemberRemoved")
        .detail("group", group.metadata.group_id())
        .detail("member", member_id)
        .detail("reason", reason);
    switch (group.metadata.state()) {
        case State::stable:
        case State::completing_rebalance: maybe_prepare_rebalance(place, group, reason); break;
        case State::preparing_rebalance: maybe_complete_join(place, group, false); break;
        case State::empty:
        case State::dead: break;
    }
}

void GroupCoordinator::refresh_session(Group& group, const std::string& member_id) {
    if (const GroupMember* member = group.metadata.member(member_id)) {
        group.session_deadlines[member_id] = sim::deadline_after(millis(member->session_timeout_ms));
    }
}

ErrorCode GroupCoordinator::store_group(const Place& place, const GroupMetadata& metadata) {
    protocol::RecordBatch batch;
    batch.records.push_back(group_metadata_record(metadata, now_ms()));
    return store_group_error(access_.append(place.partition, place.coordinator_epoch, std::move(batch), {}).error);
}

void GroupCoordinator::store_group_in_background(const Place& place, const std::string& group_id) {
    const Group* group = lookup(place, group_id);
    if (group == nullptr) {
        return;
    }
    node_.spawn("group-store", [this, place, metadata = group->metadata] { (void)store_group(place, metadata); });
}

// ---- SyncGroup, Heartbeat, LeaveGroup ----------------------------------------------------------------

protocol::SyncGroupResponse GroupCoordinator::sync_group(const protocol::SyncGroupRequest& request) {
    if (sim::buggify("slow-sync-group")) {
        sim::sleep(std::chrono::milliseconds(node_.random().below(300)));  // a new rebalance may begin meanwhile
    }
    protocol::SyncGroupResponse response;
    Place place;
    response.error = place_error(request.group_id, place);
    if (response.error != ErrorCode::none) {
        return response;
    }
    Group* group = lookup(place, request.group_id);
    if (group == nullptr || !group->metadata.has_member(request.member_id)) {
        response.error = ErrorCode::unknown_member_id;
        return response;
    }
    GroupMetadata& metadata = group->metadata;
    if (request.generation_id != metadata.generation_id()) {
        response.error = ErrorCode::illegal_generation;
        return response;
    }
    if ((request.protocol_type && request.protocol_type != metadata.protocol_type()) ||
        (request.protocol_name && request.protocol_name != metadata.protocol_name())) {
        response.error = ErrorCode::inconsistent_group_protocol;
        return response;
    }
    switch (metadata.state()) {
        case State::empty:
        case State::dead: response.error = ErrorCode::unknown_member_id; return response;
        case State::preparing_rebalance: response.error = ErrorCode::rebalance_in_progress; return response;
        case State::stable:
            (void)metadata.remove_pending_sync_member(request.member_id);
            refresh_session(*group, request.member_id);
            response.protocol_type = metadata.protocol_type();
            response.protocol_name = metadata.protocol_name();
            response.assignment = metadata.member(request.member_id)->assignment;
            return response;
        case State::completing_rebalance: break;
    }
    (void)metadata.remove_pending_sync_member(request.member_id);
    refresh_session(*group, request.member_id);
    const std::uint64_t ticket = wait_sync(*group, request.member_id);
    if (metadata.is_leader(request.member_id)) {
        // The leader's assignment is logged with the group, then handed to every member.
        GroupMetadata assigned = metadata;
        for (const auto& [id, member] : metadata.members()) {
            const auto given = std::find_if(request.assignments.begin(), request.assignments.end(),
                                            [&id](const protocol::SyncGroupAssignment& a) { return a.member_id == id; });
            assigned.member(id)->assignment = given != request.assignments.end() ? given->assignment : "";
        }
        const std::int32_t generation = metadata.generation_id();
        const ErrorCode stored = store_group(place, assigned);
        group = lookup(place, request.group_id);
        if (group != nullptr && group->metadata.is(State::completing_rebalance) &&
            group->metadata.generation_id() == generation) {
            GroupMetadata& now = group->metadata;
            if (stored == ErrorCode::none) {
                std::vector<std::string> ids;
                for (const auto& [id, member] : now.members()) {
                    ids.push_back(id);
                }
                for (const std::string& id : ids) {
                    const GroupMember* logged = assigned.member(id);
                    now.member(id)->assignment = logged != nullptr ? logged->assignment : "";
                    answer_sync(*group, id,
                                protocol::SyncGroupResponse{.protocol_type = now.protocol_type(),
                                                            .protocol_name = now.protocol_name(),
                                                            .assignment = now.member(id)->assignment});
                }
                const bool moved = now.transition_to(State::stable);
                EOSIM_ASSERT(moved);
                sim::trace("GroupStable").detail("group", now.group_id()).detail("generation", now.generation_id());
            } else {
                for (const auto& [id, member] : now.members()) {
                    answer_sync(*group, id, protocol::SyncGroupResponse{.error = stored});
                }
                maybe_prepare_rebalance(place, *group, "the assignment was not stored");
            }
        }
    }
    return await_answer(place, request.group_id, ticket, &Group::syncs);
}

protocol::HeartbeatResponse GroupCoordinator::heartbeat(const protocol::HeartbeatRequest& request) {
    protocol::HeartbeatResponse response;
    Place place;
    response.error = place_error(request.group_id, place);
    if (response.error != ErrorCode::none) {
        return response;
    }
    Group* group = lookup(place, request.group_id);
    if (group == nullptr || !group->metadata.has_member(request.member_id) || group->metadata.is(State::empty) ||
        group->metadata.is(State::dead)) {
        response.error = ErrorCode::unknown_member_id;
        return response;
    }
    if (request.generation_id != group->metadata.generation_id()) {
        response.error = ErrorCode::illegal_generation;
        return response;
    }
    refresh_session(*group, request.member_id);
    if (group->metadata.is(State::preparing_rebalance)) {
        response.error = ErrorCode::rebalance_in_progress;
    }
    return response;
}

protocol::LeaveGroupResponse GroupCoordinator::leave_group(const protocol::LeaveGroupRequest& request) {
    protocol::LeaveGroupResponse response;
    Place place;
    response.error = place_error(request.group_id, place);
    if (response.error != ErrorCode::none) {
        return response;
    }
    Group* group = lookup(place, request.group_id);
    if (group == nullptr || group->metadata.is(State::dead)) {
        response.error = ErrorCode::unknown_member_id;
        return response;
    }
    if (group->metadata.is_pending_member(request.member_id)) {
        group->metadata.remove_pending_member(request.member_id);
        group->session_deadlines.erase(request.member_id);
        maybe_complete_join(place, *group, false);
        return response;
    }
    if (!group->metadata.has_member(request.member_id)) {
        response.error = ErrorCode::unknown_member_id;
        return response;
    }
    remove_member_and_update_group(place, *group, request.member_id, "it left");
    return response;
}

// ---- offsets ---------------------------------------------------------------------------------------

GroupAppendResult GroupCoordinator::append_offsets(const Place& place, const std::string& group_id,
                                                   const std::vector<protocol::OffsetCommitPartition>& partitions,
                                                   protocol::ProducerId producer_id,
                                                   protocol::ProducerEpoch producer_epoch,
                                                   const std::string& transactional_id) {
    protocol::RecordBatch batch;
    batch.producer_id = producer_id;
    batch.producer_epoch = producer_epoch;
    batch.transactional = producer_id != protocol::no_producer_id;
    const std::int64_t now = now_ms();
    for (const protocol::OffsetCommitPartition& commit : partitions) {
        const OffsetAndMetadata value{commit.offset, commit.leader_epoch, commit.metadata, now, -1};
        batch.records.push_back(offset_commit_record(group_id, commit.partition, value, now));
    }
    Partition* holder = partition(place);
    EOSIM_ASSERT(holder != nullptr);
    for (const protocol::OffsetCommitPartition& commit : partitions) {
        ++holder->in_flight[{group_id, commit.partition}];
    }
    const GroupAppendResult result =
        access_.append(place.partition, place.coordinator_epoch, std::move(batch), transactional_id);
    if (Partition* still = partition(place)) {
        for (const protocol::OffsetCommitPartition& commit : partitions) {
            const auto key = std::make_pair(group_id, commit.partition);
            if (--still->in_flight[key] == 0) {
                still->in_flight.erase(key);
            }
        }
    }
    return result;
}

protocol::OffsetCommitResponse GroupCoordinator::commit_offsets(const protocol::OffsetCommitRequest& request) {
    protocol::OffsetCommitResponse response;
    const auto answer_all = [&](ErrorCode error) {
        response.partitions = errors_for(request.partitions, error);
        return response;
    };
    Place place;
    if (const ErrorCode error = place_error(request.group_id, place); error != ErrorCode::none) {
        return answer_all(error);
    }
    Group* group = lookup(place, request.group_id);
    if (group == nullptr) {
        if (request.generation_id >= 0 || !request.member_id.empty()) {
            return answer_all(ErrorCode::illegal_generation);  // a group this coordinator does not know
        }
        group = &create_group(place, request.group_id);
    }
    if (const ErrorCode error =
            group->metadata.validate_offset_commit(request.member_id, request.generation_id, false);
        error != ErrorCode::none) {
        return answer_all(error);
    }
    if (group->metadata.has_member(request.member_id)) {
        refresh_session(*group, request.member_id);
    }
    const GroupAppendResult appended =
        append_offsets(place, request.group_id, request.partitions, protocol::no_producer_id, protocol::no_producer_epoch);
    ErrorCode error = appended.error;
    Partition* holder = partition(place);
    if (error == ErrorCode::none && holder == nullptr) {
        error = ErrorCode::not_coordinator;
    }
    if (error == ErrorCode::none) {
        const std::int64_t now = now_ms();
        std::int64_t record = appended.base_offset.value();
        for (const protocol::OffsetCommitPartition& commit : request.partitions) {
            holder->offsets.commit(request.group_id, commit.partition,
                                   OffsetAndMetadata{commit.offset, commit.leader_epoch, commit.metadata, now, record++});
        }
    }
    return answer_all(error);
}

protocol::TxnOffsetCommitResponse GroupCoordinator::txn_commit_offsets(const protocol::TxnOffsetCommitRequest& request) {
    protocol::TxnOffsetCommitResponse response;
    const auto answer_all = [&](ErrorCode error) {
        response.partitions = errors_for(request.partitions, error);
        return response;
    };
    if (sim::buggify("slow-txn-offset-commit")) {
        // Stuck in the request queue: it may come after its transaction timed out and was aborted.
        sim::sleep(std::chrono::milliseconds(node_.random().below(5000)));
    }
    Place place;
    if (const ErrorCode error = place_error(request.group_id, place); error != ErrorCode::none) {
        return answer_all(error);
    }
    Group* group = lookup(place, request.group_id);
    if (group == nullptr) {
        group = &create_group(place, request.group_id);
    }
    // KIP-447: the producer's consumer must still be the member, in the generation, that owns the partitions.
    const ErrorCode fenced =
        config_.kip447_no_generation_fence
            ? (group->metadata.is(State::dead) ? ErrorCode::coordinator_not_available : ErrorCode::none)
            : group->metadata.validate_offset_commit(request.member_id, request.generation_id, true);
    if (fenced != ErrorCode::none) {
        sim::probe("txn-offset-commit-fenced-by-generation");
        sim::trace("TxnOffsetCommitFenced")
            .detail("group", request.group_id)
            .detail("member", request.member_id)
            .detail("generation", request.generation_id)
            .detail("error", protocol::error_name(fenced));
        return answer_all(fenced);
    }
    const GroupAppendResult appended =
        append_offsets(place, request.group_id, request.partitions, request.producer_id, request.producer_epoch,
                       request.transactional_id);
    ErrorCode error = appended.error;
    Partition* holder = partition(place);
    if (error == ErrorCode::none && holder == nullptr) {
        error = ErrorCode::not_coordinator;
    }
    if (error == ErrorCode::none) {
        const std::int64_t now = now_ms();
        std::int64_t record = appended.base_offset.value();
        const auto marker = holder->markers.find(request.producer_id);
        // The transaction's marker was applied while this append waited to be replicated: settle at once.
        const bool settled = marker != holder->markers.end() && marker->second.first > appended.base_offset;
        for (const protocol::OffsetCommitPartition& commit : request.partitions) {
            OffsetAndMetadata value{commit.offset, commit.leader_epoch, commit.metadata, now, record++};
            if (!settled) {
                holder->offsets.commit_pending(request.group_id, request.producer_id, commit.partition, std::move(value));
            } else if (marker->second.second) {
                const auto existing = holder->offsets.committed(request.group_id, commit.partition);
                if (!existing || existing->record_offset < value.record_offset) {
                    holder->offsets.commit(request.group_id, commit.partition, std::move(value));
                }
            }
        }
    }
    return answer_all(error);
}

protocol::OffsetFetchResponse GroupCoordinator::fetch_offsets(const protocol::OffsetFetchRequest& request) {
    if (sim::buggify("slow-offset-fetch")) {
        sim::sleep(std::chrono::milliseconds(node_.random().below(300)));  // a transaction may end meanwhile
    }
    protocol::OffsetFetchResponse response;
    Place place;
    response.error = place_error(request.group_id, place);
    if (response.error != ErrorCode::none) {
        return response;
    }
    const Partition& holder = partitions_.at(place.partition);
    std::vector<protocol::TopicPartition> wanted = request.partitions;
    if (wanted.empty()) {
        if (const auto* all = holder.offsets.committed(request.group_id)) {
            for (const auto& [partition, offset] : *all) {
                wanted.push_back(partition);
            }
        }
    }
    for (const protocol::TopicPartition& partition : wanted) {
        protocol::OffsetFetchPartition answer{.partition = partition};
        const bool unstable = holder.offsets.has_pending(request.group_id, partition) ||
                              holder.in_flight.contains({request.group_id, partition});
        if (request.require_stable && unstable && !config_.offset_fetch_ignores_pending) {
            sim::probe("offset-fetch-waits-for-pending-transaction");
            answer.error = ErrorCode::unstable_offset_commit;
        } else if (const auto committed = holder.offsets.committed(request.group_id, partition)) {
            answer.offset = committed->offset;
            answer.leader_epoch = committed->leader_epoch;
            answer.metadata = committed->metadata;
        }
        response.partitions.push_back(std::move(answer));
    }
    return response;
}

void GroupCoordinator::on_transaction_marker(std::int32_t index, protocol::ProducerId producer_id, bool committed,
                                             protocol::Offset marker_offset) {
    const auto found = partitions_.find(index);
    if (found == partitions_.end() || found->second.loading) {
        return;  // a load reads the marker from the log
    }
    Partition& holder = found->second;
    const auto [newest, added] = holder.markers.try_emplace(producer_id, marker_offset, committed);
    if (!added && newest->second.first < marker_offset) {
        newest->second = {marker_offset, committed};
    }
    holder.offsets.end_transaction(producer_id, committed);
    sim::trace("GroupTxnOffsetsCompleted")
        .detail("partition", index)
        .detail("producer_id", producer_id)
        .detail("committed", committed);
}

// ---- loading, expiry -------------------------------------------------------------------------------

void GroupCoordinator::on_election(std::int32_t partition, std::int32_t coordinator_epoch) {
    Partition& loaded = partitions_[partition];
    loaded = Partition{.coordinator_epoch = coordinator_epoch, .generation = next_generation_++};
    const std::uint64_t generation = loaded.generation;
    sim::trace("GroupCoordinatorElected").detail("partition", partition).detail("coordinator_epoch", coordinator_epoch);
    changed_.notify_all();
    node_.spawn("group-load", [this, partition, generation] { load(partition, generation); });
}

void GroupCoordinator::on_resignation(std::int32_t partition) {
    if (partitions_.erase(partition) > 0) {
        sim::trace("GroupCoordinatorResigned").detail("partition", partition);
        changed_.notify_all();
    }
}

void GroupCoordinator::load(std::int32_t partition, std::uint64_t generation) {
    if (sim::buggify("slow-group-load")) {
        sim::sleep(std::chrono::milliseconds(node_.random().below(500)));
    }
    auto found = partitions_.find(partition);
    if (found == partitions_.end() || found->second.generation != generation) {
        return;
    }
    const std::optional<std::vector<protocol::RecordBatch>> batches =
        access_.read(partition, found->second.coordinator_epoch);
    found = partitions_.find(partition);
    if (!batches || found == partitions_.end() || found->second.generation != generation) {
        return;
    }
    LoadedGroups loaded = load_groups(*batches);
    Partition& holder = found->second;
    for (auto& [id, metadata] : loaded.groups) {
        Group group(id);
        group.metadata = std::move(metadata);
        for (const auto& [member_id, member] : group.metadata.members()) {
            group.session_deadlines[member_id] = sim::deadline_after(millis(member.session_timeout_ms));
        }
        holder.groups.emplace(id, std::move(group));
    }
    holder.offsets = std::move(loaded.offsets);
    if (holder.offsets.any_pending()) {
        sim::probe("group-coordinator-loads-pending-offsets");
    }
    if (config_.pending_offsets_lost_on_failover) {
        holder.offsets.drop_pending();
    }
    holder.loading = false;
    sim::trace("GroupCoordinatorLoaded")
        .detail("partition", partition)
        .detail("groups", holder.groups.size())
        .detail("records", loaded.records)
        .detail("refused", loaded.refused);
    changed_.notify_all();
}

void GroupCoordinator::expiry_loop() {
    while (true) {
        sim::sleep(config_.expiry_check_interval);
        // Session and rebalance deadlines are timers, as Kafka's purgatory (a monotonic clock): no clock step
        // moves them; drift does (deadline_after counts on the node's clock).
        const sim::Time now = sim::now();
        std::vector<std::pair<Place, std::string>> groups;
        for (const auto& [index, holder] : partitions_) {
            if (holder.loading) {
                continue;
            }
            for (const auto& [id, group] : holder.groups) {
                groups.emplace_back(Place{index, holder.generation, holder.coordinator_epoch}, id);
            }
        }
        for (const auto& [place, id] : groups) {
            if (Group* group = lookup(place, id)) {
                expire(place, *group, now);
            }
        }
    }
}

void GroupCoordinator::expire(const Place& place, Group& group, sim::Time now) {
    GroupMetadata& metadata = group.metadata;
    std::vector<std::string> expired;
    for (const auto& [id, deadline] : group.session_deadlines) {
        if (deadline > now) {
            continue;
        }
        const GroupMember* member = metadata.member(id);
        // A member whose JoinGroup or SyncGroup waits is alive (Kafka's shouldKeepAlive).
        if (member == nullptr || !(member->awaiting_join || member->awaiting_sync)) {
            expired.push_back(id);
        }
    }
    for (const std::string& id : expired) {
        if (metadata.is_pending_member(id)) {
            metadata.remove_pending_member(id);
            group.session_deadlines.erase(id);
            sim::trace("GroupPendingMemberExpired").detail("group", metadata.group_id()).detail("member", id);
            maybe_complete_join(place, group, false);
        } else if (metadata.has_member(id)) {
            sim::probe("group-member-session-expired");
            remove_member_and_update_group(place, group, id, "its session expired");
        } else {
            group.session_deadlines.erase(id);
        }
    }
    if (metadata.is(State::preparing_rebalance) && group.rebalance_deadline <= now) {
        maybe_complete_join(place, group, true);
    }
    if ((metadata.is(State::completing_rebalance) || metadata.is(State::stable)) &&
        !metadata.pending_sync_members().empty() && group.sync_deadline <= now) {
        // Kafka's pending-sync expiry: members that never sent their SyncGroup are removed.
        const std::set<std::string> missing = metadata.pending_sync_members();
        for (const std::string& id : missing) {
            if (metadata.has_member(id)) {
                remove_member_and_update_group(place, group, id, "it did not sync in time");
            }
        }
    }
}

}  // namespace eosim::broker_core
