#include "client_core/group_consumer.h"

#include <algorithm>

#include "client_core/assignors.h"
#include "protocol/coordinator.h"
#include "sim/simulation.h"

namespace eosim::client_core {

using protocol::ErrorCode;
using protocol::Offset;
using protocol::TopicPartition;

namespace {

std::int32_t millis(sim::Duration duration) {
    return static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
}

std::vector<TopicPartition> difference(const std::set<TopicPartition>& from, const std::set<TopicPartition>& minus) {
    std::vector<TopicPartition> out;
    std::set_difference(from.begin(), from.end(), minus.begin(), minus.end(), std::back_inserter(out));
    return out;
}

std::string error_text(ErrorCode error) {
    return std::string(protocol::error_name(error));
}

}  // namespace

std::string_view to_string(CommitResult result) {
    switch (result) {
        case CommitResult::ok: return "ok";
        case CommitResult::failed: return "failed";
        case CommitResult::timed_out: return "timed-out";
    }
    return "unknown";
}

GroupConsumer::GroupConsumer(sim::Node& node, GroupConsumerConfig config, protocol::ClusterAddresses addresses,
                             HistoryRecorder& history, RebalanceListener listener)
    : node_(node),
      config_(std::move(config)),
      metadata_(node, addresses, config_.consumer.request_timeout),
      history_(history),
      listener_(std::move(listener)),
      consumer_(node, config_.consumer, std::move(addresses), history) {
    joined_.group_id = config_.group_id;
    std::sort(config_.topics.begin(), config_.topics.end());
    config_.topics.erase(std::unique(config_.topics.begin(), config_.topics.end()), config_.topics.end());
    node.spawn("consumer-heartbeat", [this] { heartbeat_loop(); });
}

bool GroupConsumer::coordinator_moved(ErrorCode error) {
    return error == ErrorCode::not_coordinator || error == ErrorCode::coordinator_not_available ||
           error == ErrorCode::request_timed_out || error == ErrorCode::network_exception;
}

void GroupConsumer::record(ClientOperation::Type type, const char* f, const std::vector<TopicPartition>& partitions,
                           const std::map<TopicPartition, Offset>& offsets, std::optional<std::string> error) {
    ClientOperation operation;
    operation.time = sim::now();
    operation.process = config_.consumer.client_id;
    operation.type = type;
    operation.f = f;
    operation.group = config_.group_id;
    operation.member_id = member_id_;
    operation.generation = generation_;
    for (const TopicPartition& partition : partitions) {
        operation.partitions.push_back(partition.name());
    }
    for (const auto& [partition, offset] : offsets) {
        operation.offsets.emplace_back(partition.name(), offset.value());
    }
    operation.error = std::move(error);
    history_.record(std::move(operation));
}

ConsumerGroupMetadata GroupConsumer::group_metadata() const {
    return joined_;
}

std::optional<Offset> GroupConsumer::position(const TopicPartition& partition) const {
    if (!consumer_.assigned(partition)) {
        return std::nullopt;
    }
    return consumer_.position(partition);
}

void GroupConsumer::seek(const TopicPartition& partition, Offset offset) {
    if (consumer_.assigned(partition)) {
        consumer_.seek(partition, offset);
    } else if (owned_.contains(partition)) {
        without_position_.erase(partition);
        consumer_.assign(partition, offset);
    }
}

void GroupConsumer::rewind_to_committed() {
    for (const TopicPartition& partition : owned_) {
        consumer_.unassign(partition);
        without_position_.insert(partition);
    }
}

// ---- the coordinator -------------------------------------------------------------------------------

bool GroupConsumer::ensure_coordinator(sim::Time deadline) {
    while (!coordinator_) {
        const protocol::FindCoordinatorRequest request{config_.group_id, protocol::CoordinatorType::group};
        const sim::Result<sim::Message> result = metadata_.call_any(sim::make_message(request));
        if (result && result->as<protocol::FindCoordinatorResponse>().error == ErrorCode::none) {
            coordinator_ = result->as<protocol::FindCoordinatorResponse>().coordinator;
            sim::trace("GroupCoordinatorFound")
                .detail("client", config_.consumer.client_id)
                .detail("coordinator", coordinator_->value());
            return true;
        }
        if (sim::now() >= deadline) {
            return false;
        }
        sim::sleep(config_.consumer.retry_backoff);
    }
    return true;
}

void GroupConsumer::reset_generation(bool forget_member_id, const char* why) {
    sim::trace("GroupMemberReset")
        .detail("client", config_.consumer.client_id)
        .detail("member", member_id_)
        .detail("generation", generation_)
        .detail("why", why);
    generation_ = protocol::no_generation;
    if (forget_member_id) {
        member_id_.clear();
    }
    if (!owned_.empty()) {
        lost_pending_ = true;
    }
    state_ = State::unjoined;
    rejoin_needed_ = true;
}

// ---- joining ---------------------------------------------------------------------------------------

void GroupConsumer::on_join_prepare() {
    if (prepared_) {
        return;
    }
    prepared_ = true;
    const bool eager = !cooperative();
    if (config_.auto_commit && generation_ != protocol::no_generation && !owned_.empty()) {
        (void)commit_sync();  // Kafka's onJoinPrepare commits before it gives anything up
    }
    if (eager && !owned_.empty()) {
        const std::vector<TopicPartition> revoked(owned_.begin(), owned_.end());
        record(ClientOperation::Type::ok, "revoked", revoked);
        if (listener_.on_revoked) {
            listener_.on_revoked(revoked);
        }
        for (const TopicPartition& partition : revoked) {
            consumer_.unassign(partition);
        }
        owned_.clear();
        without_position_.clear();
    }
}

std::vector<protocol::SyncGroupAssignment> GroupConsumer::assign(const std::vector<protocol::JoinGroupMember>& members) {
    std::map<std::string, Subscription> subscriptions;
    std::set<std::string> topics;
    for (const protocol::JoinGroupMember& member : members) {
        if (std::optional<Subscription> subscription = decode_subscription(member.metadata)) {
            topics.insert(subscription->topics.begin(), subscription->topics.end());
            subscriptions.emplace(member.member_id, std::move(*subscription));
        }
    }
    (void)metadata_.refresh();
    std::map<std::string, std::int32_t> partitions_per_topic;
    for (const std::string& topic : topics) {
        const std::int32_t count = metadata_.partition_count(topic);
        if (count > 0) {
            partitions_per_topic[topic] = count;
        }
    }
    const std::map<std::string, Assignment> assignments =
        config_.custom                             ? config_.custom->assign(partitions_per_topic, subscriptions)
        : config_.assignor == "cooperative-sticky" ? cooperative_sticky_assign(partitions_per_topic, subscriptions)
                                                   : range_assign(partitions_per_topic, subscriptions);
    std::vector<protocol::SyncGroupAssignment> out;
    for (const protocol::JoinGroupMember& member : members) {
        const auto found = assignments.find(member.member_id);
        out.push_back(protocol::SyncGroupAssignment{
            member.member_id, encode_assignment(found != assignments.end() ? found->second : Assignment{})});
    }
    return out;
}

bool GroupConsumer::join_group() {
    const sim::Time deadline = sim::deadline_after(config_.api_timeout);
    if (!ensure_coordinator(deadline)) {
        return false;
    }
    on_join_prepare();
    state_ = State::rebalancing;
    Subscription subscription{config_.topics, {}, generation_};
    if (cooperative()) {
        subscription.owned.assign(owned_.begin(), owned_.end());
    }
    if (config_.custom) {
        subscription.user_data = config_.custom->subscription_data();
    }
    protocol::JoinGroupRequest join;
    join.group_id = config_.group_id;
    join.client_id = config_.consumer.client_id;
    join.session_timeout_ms = millis(config_.session_timeout);
    join.rebalance_timeout_ms = millis(config_.rebalance_timeout);
    join.member_id = member_id_;
    join.protocol_type = "consumer";
    join.protocols.push_back(protocol::JoinGroupProtocol{config_.assignor, encode_subscription(subscription)});
    // Kafka waits for a JoinGroup answer up to the rebalance timeout and 5 s more.
    const sim::Duration join_timeout = config_.rebalance_timeout + std::chrono::seconds(5);
    const sim::Result<sim::Message> joined_result = metadata_.client(*coordinator_).call(sim::make_message(join), join_timeout);
    if (!joined_result) {
        coordinator_.reset();
        return false;
    }
    const auto& joined = joined_result->as<protocol::JoinGroupResponse>();
    switch (joined.error) {
        case ErrorCode::none: break;
        case ErrorCode::member_id_required: member_id_ = joined.member_id; return false;
        case ErrorCode::unknown_member_id: reset_generation(true, "JoinGroup: UNKNOWN_MEMBER_ID"); return false;
        case ErrorCode::illegal_generation: reset_generation(false, "JoinGroup: ILLEGAL_GENERATION"); return false;
        default:
            if (coordinator_moved(joined.error)) {
                coordinator_.reset();
            }
            sim::sleep(config_.consumer.retry_backoff);
            return false;
    }
    member_id_ = joined.member_id;
    generation_ = joined.generation_id;
    protocol::SyncGroupRequest sync;
    sync.group_id = config_.group_id;
    sync.generation_id = joined.generation_id;
    sync.member_id = joined.member_id;
    sync.protocol_type = joined.protocol_type;
    sync.protocol_name = joined.protocol_name;
    if (joined.leader == joined.member_id) {
        sync.assignments = assign(joined.members);
    }
    const sim::Result<sim::Message> synced_result =
        metadata_.client(*coordinator_).call(sim::make_message(sync), join_timeout);
    if (!synced_result) {
        coordinator_.reset();
        return false;
    }
    const auto& synced = synced_result->as<protocol::SyncGroupResponse>();
    switch (synced.error) {
        case ErrorCode::none: break;
        case ErrorCode::unknown_member_id: reset_generation(true, "SyncGroup: UNKNOWN_MEMBER_ID"); return false;
        case ErrorCode::illegal_generation: reset_generation(false, "SyncGroup: ILLEGAL_GENERATION"); return false;
        default:
            if (coordinator_moved(synced.error)) {
                coordinator_.reset();
            }
            return false;  // REBALANCE_IN_PROGRESS and the rest: join again
    }
    const std::optional<Assignment> assignment = decode_assignment(synced.assignment);
    std::set<TopicPartition> assigned;
    if (assignment) {
        assigned.insert(assignment->partitions.begin(), assignment->partitions.end());
    }
    if (config_.custom) {
        config_.custom->on_assignment(assignment.value_or(Assignment{}));
    }
    on_assignment(assigned);
    return true;
}

void GroupConsumer::on_assignment(const std::set<TopicPartition>& assigned) {
    // Cooperative: what the member owned and was not given back is revoked now, and it rejoins so that
    // the next rebalance can hand it to its new owner (KIP-429).
    const std::vector<TopicPartition> revoked = difference(owned_, assigned);
    const std::vector<TopicPartition> added = difference(assigned, owned_);
    if (!revoked.empty()) {
        record(ClientOperation::Type::ok, "revoked", revoked);
        if (listener_.on_revoked) {
            listener_.on_revoked(revoked);
        }
        for (const TopicPartition& partition : revoked) {
            consumer_.unassign(partition);
            without_position_.erase(partition);
        }
    }
    owned_ = assigned;
    state_ = State::stable;
    joined_ = ConsumerGroupMetadata{config_.group_id, generation_, member_id_};
    prepared_ = false;
    rejoin_needed_ = !revoked.empty() && cooperative();
    without_position_.insert(added.begin(), added.end());
    record(ClientOperation::Type::ok, "assigned", std::vector<TopicPartition>(owned_.begin(), owned_.end()));
    sim::trace("GroupAssigned")
        .detail("client", config_.consumer.client_id)
        .detail("member", member_id_)
        .detail("generation", generation_)
        .detail("partitions", owned_.size());
    next_auto_commit_ = sim::deadline_after(config_.auto_commit_interval);
    last_poll_ = sim::now();  // Kafka's heartbeat thread resets the poll timer when it starts again after a join
    if (listener_.on_assigned) {
        listener_.on_assigned(added);
    }
}

void GroupConsumer::fetch_positions() {
    if (without_position_.empty() || !ensure_coordinator(sim::deadline_after(config_.api_timeout))) {
        return;
    }
    const std::vector<TopicPartition> wanted(without_position_.begin(), without_position_.end());
    const protocol::OffsetFetchRequest request{config_.group_id, wanted, true};
    const sim::Result<sim::Message> result =
        metadata_.client(*coordinator_).call(sim::make_message(request), config_.consumer.request_timeout);
    if (!result) {
        coordinator_.reset();
        return;
    }
    const auto& response = result->as<protocol::OffsetFetchResponse>();
    if (response.error != ErrorCode::none) {
        if (coordinator_moved(response.error)) {
            coordinator_.reset();
        }
        sim::sleep(config_.consumer.retry_backoff);
        return;
    }
    std::map<TopicPartition, std::pair<Offset, protocol::LeaderEpoch>> starts;
    for (const protocol::OffsetFetchPartition& answer : response.partitions) {
        if (answer.error != ErrorCode::none || !without_position_.contains(answer.partition)) {
            continue;  // UNSTABLE_OFFSET_COMMIT: a transaction holds offsets for it; ask again next poll
        }
        committed_metadata_[answer.partition] = answer.offset >= 0 ? answer.metadata : std::string();
        // Nothing committed: auto.offset.reset=earliest (a log start past 0 is found by the reset).
        starts[answer.partition] = {Offset(std::max<std::int64_t>(answer.offset, 0)),
                                    protocol::LeaderEpoch(answer.offset >= 0 ? answer.leader_epoch : -1)};
    }
    if (!starts.empty()) {
        std::map<TopicPartition, Offset> committed;
        for (const protocol::OffsetFetchPartition& answer : response.partitions) {
            if (starts.contains(answer.partition)) {
                committed[answer.partition] = Offset(answer.offset);
            }
        }
        record(ClientOperation::Type::ok, "committed-offsets", {}, committed);
    }
    for (const auto& [partition, start] : starts) {
        without_position_.erase(partition);
        consumer_.assign(partition, start.first, start.second);
    }
    if (!without_position_.empty()) {
        sim::sleep(config_.consumer.retry_backoff);
    }
}

std::string GroupConsumer::committed_metadata(const TopicPartition& partition) const {
    const auto found = committed_metadata_.find(partition);
    return found != committed_metadata_.end() ? found->second : std::string();
}

// ---- polling and committing ------------------------------------------------------------------------

std::vector<ConsumedRecord> GroupConsumer::poll() {
    EOSIM_ASSERT_MSG(!closed_, "poll after close");
    last_poll_ = sim::now();
    if (lost_pending_) {
        lost_pending_ = false;
        const std::vector<TopicPartition> lost(owned_.begin(), owned_.end());
        record(ClientOperation::Type::ok, "lost", lost);
        if (listener_.on_lost) {
            listener_.on_lost(lost);
        }
        for (const TopicPartition& partition : lost) {
            consumer_.unassign(partition);
        }
        owned_.clear();
        without_position_.clear();
        prepared_ = false;
    }
    if (state_ != State::stable || rejoin_needed_) {
        if (!join_group()) {
            return {};
        }
    }
    fetch_positions();
    maybe_auto_commit();
    bool any = false;
    for (const TopicPartition& partition : owned_) {
        any = any || consumer_.assigned(partition);
    }
    if (!any) {
        sim::sleep(config_.consumer.fetch_max_wait);
        return {};
    }
    return consumer_.poll();
}

void GroupConsumer::maybe_auto_commit() {
    if (!config_.auto_commit || sim::now() < next_auto_commit_) {
        return;
    }
    next_auto_commit_ = sim::deadline_after(config_.auto_commit_interval);
    (void)commit_sync();
}

std::vector<protocol::OffsetCommitPartition> GroupConsumer::commit_partitions(
    const std::map<TopicPartition, Offset>& offsets) const {
    std::vector<protocol::OffsetCommitPartition> partitions;
    for (const auto& [partition, offset] : offsets) {
        protocol::OffsetCommitPartition commit{partition, offset.value()};
        if (consumer_.assigned(partition) && consumer_.position(partition) == offset) {
            commit.leader_epoch = consumer_.position_epoch(partition).value();
        }
        partitions.push_back(commit);
    }
    return partitions;
}

CommitResult GroupConsumer::commit_sync() {
    std::map<TopicPartition, Offset> positions;
    for (const TopicPartition& partition : owned_) {
        if (consumer_.assigned(partition)) {
            positions[partition] = consumer_.position(partition);
        }
    }
    return positions.empty() ? CommitResult::ok : commit_sync(positions);
}

CommitResult GroupConsumer::commit_sync(const std::map<TopicPartition, Offset>& offsets) {
    return commit_sync(commit_partitions(offsets));
}

CommitResult GroupConsumer::commit_sync(const std::vector<protocol::OffsetCommitPartition>& partitions) {
    std::map<TopicPartition, Offset> offsets;
    for (const protocol::OffsetCommitPartition& partition : partitions) {
        offsets[partition.partition] = Offset(partition.offset);
    }
    record(ClientOperation::Type::invoke, "commit-offsets", {}, offsets);
    if (state_ != State::stable) {
        record(ClientOperation::Type::fail, "commit-offsets", {}, offsets, "REBALANCE_IN_PROGRESS");
        return CommitResult::failed;
    }
    const protocol::OffsetCommitRequest request{config_.group_id, generation_, member_id_, partitions};
    const sim::Time deadline = sim::deadline_after(config_.api_timeout);
    ErrorCode error = ErrorCode::request_timed_out;
    while (sim::now() < deadline) {
        if (!ensure_coordinator(deadline)) {
            break;
        }
        const sim::Result<sim::Message> result =
            metadata_.client(*coordinator_).call(sim::make_message(request), config_.consumer.request_timeout);
        if (!result) {
            coordinator_.reset();
            error = ErrorCode::request_timed_out;
            continue;
        }
        error = ErrorCode::none;
        for (const protocol::PartitionError& answer : result->as<protocol::OffsetCommitResponse>().partitions) {
            if (answer.error != ErrorCode::none) {
                error = answer.error;
                break;
            }
        }
        if (error == ErrorCode::none) {
            record(ClientOperation::Type::ok, "commit-offsets", {}, offsets);
            return CommitResult::ok;
        }
        if (error == ErrorCode::unknown_member_id || error == ErrorCode::illegal_generation ||
            error == ErrorCode::rebalance_in_progress) {
            if (error == ErrorCode::rebalance_in_progress) {
                rejoin_needed_ = true;
            } else {
                reset_generation(error == ErrorCode::unknown_member_id, "OffsetCommit refused");
            }
            record(ClientOperation::Type::fail, "commit-offsets", {}, offsets, error_text(error));
            return CommitResult::failed;
        }
        if (coordinator_moved(error)) {
            coordinator_.reset();
        }
        sim::sleep(config_.consumer.retry_backoff);
    }
    // Sent at least once without a definite answer: it may have been applied.
    record(ClientOperation::Type::info, "commit-offsets", {}, offsets, error_text(error));
    return CommitResult::timed_out;
}

void GroupConsumer::close() {
    if (closed_) {
        return;
    }
    closed_ = true;
    if (!member_id_.empty() && coordinator_) {
        const protocol::LeaveGroupRequest request{config_.group_id, member_id_, "the consumer is closing"};
        (void)metadata_.client(*coordinator_).call(sim::make_message(request), config_.consumer.request_timeout);
    }
    state_ = State::unjoined;
}

// ---- heartbeats ------------------------------------------------------------------------------------

void GroupConsumer::heartbeat_loop() {
    last_poll_ = sim::now();
    while (!closed_) {
        sim::sleep(config_.heartbeat_interval);
        if (closed_ || state_ != State::stable) {
            continue;
        }
        if (!coordinator_) {
            // As Kafka's heartbeat thread does: look the coordinator up again, once per interval. A member
            // whose application never needs the coordinator itself (a stream thread that commits through
            // its transactions) would otherwise stop heartbeating for good and be expired from its group.
            (void)ensure_coordinator(sim::now());
            continue;
        }
        if (sim::now() - last_poll_ > node_.clock().true_duration(config_.rebalance_timeout)) {
            // max.poll.interval.ms passed without a poll: the member leaves, and its partitions are lost.
            const protocol::LeaveGroupRequest leave{config_.group_id, member_id_, "the application stopped polling"};
            (void)metadata_.client(*coordinator_).send(sim::make_message(leave));
            reset_generation(true, "poll timeout");
            continue;
        }
        if (!heartbeats_ || heartbeats_to_ != coordinator_) {
            heartbeats_ = metadata_.dedicated_client(*coordinator_);
            heartbeats_to_ = coordinator_;
        }
        const std::int32_t generation = generation_;
        const protocol::HeartbeatRequest request{config_.group_id, generation, member_id_};
        const sim::Result<sim::Message> result =
            heartbeats_->call(sim::make_message(request), config_.consumer.request_timeout);
        if (state_ != State::stable || generation != generation_) {
            continue;  // the application fiber rejoined meanwhile
        }
        if (!result) {
            coordinator_.reset();
            continue;
        }
        switch (const ErrorCode error = result->as<protocol::HeartbeatResponse>().error) {
            case ErrorCode::none: break;
            case ErrorCode::rebalance_in_progress: rejoin_needed_ = true; break;
            case ErrorCode::illegal_generation: reset_generation(false, "Heartbeat: ILLEGAL_GENERATION"); break;
            case ErrorCode::unknown_member_id: reset_generation(true, "Heartbeat: UNKNOWN_MEMBER_ID"); break;
            default:
                if (coordinator_moved(error)) {
                    coordinator_.reset();
                }
                break;
        }
    }
}

}  // namespace eosim::client_core
