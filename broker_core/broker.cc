#include "broker_core/broker.h"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>

#include "broker_core/invariants.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::Offset;
using protocol::TopicPartition;

namespace {

constexpr const char* hw_checkpoint_path = "replication-offset-checkpoint";

bool contains(const std::vector<BrokerId>& ids, BrokerId id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

std::string join(const std::vector<BrokerId>& ids) {
    std::string text;
    for (const BrokerId id : ids) {
        text += (text.empty() ? "" : ",") + std::to_string(id.value());
    }
    return text;
}

}  // namespace

namespace {

BrokerConfig with_bugs_applied(BrokerConfig config) {
    if (config.bugs.no_dedup) {
        config.log.producer_state.dedup = false;
    }
    if (config.bugs.dedup_window_1) {
        config.log.producer_state.batches_kept = 1;
    }
    if (config.bugs.producer_state_not_recovered) {
        config.log.recover_producer_state = false;
    }
    if (config.bugs.compaction_drops_latest) {
        config.log.cleaner_drops_latest = true;
    }
    return config;
}

std::int64_t now_ms() { return sim::to_ns(sim::now()) / 1'000'000; }

}  // namespace

Broker::Broker(sim::Node& node, BrokerConfig config)
    : node_(node), config_(with_bugs_applied(std::move(config))), server_(node, broker_port, [this](const sim::Message& m) {
          return handle(m);
      }) {
    recovered_hw_ = read_hw_checkpoint();
    controller_ = std::make_unique<sim::RpcClient>(node, config_.addresses.controller, controller_port);
    node.spawn("broker-heartbeat", [this] { heartbeat_loop(); });
    node.spawn("broker-isr", [this] { isr_loop(); });
    node.spawn("broker-hw-checkpoint", [this] { hw_checkpoint_loop(); });
    node.spawn("broker-producer-expiration", [this] { producer_expiration_loop(); });
    node.spawn("broker-retention", [this] { retention_loop(); });
}

Replica* Broker::find(const TopicPartition& partition) {
    const auto found = replicas_.find(partition);
    return found != replicas_.end() ? found->second.get() : nullptr;
}

// ---- Metadata and roles --------------------------------------------------------------------------

void Broker::heartbeat_loop() {
    while (true) {
        const protocol::BrokerHeartbeatRequest request{config_.id, node_.incarnation(), metadata_.version};
        sim::Result<sim::Message> response = controller_->call(sim::make_message(request), config_.request_timeout);
        if (response) {
            const auto& heartbeat = response->as<protocol::BrokerHeartbeatResponse>();
            if (heartbeat.metadata) {
                apply_metadata(*heartbeat.metadata);
            }
        }
        sim::sleep(config_.heartbeat_interval);
    }
}

Replica& Broker::replica_for(const protocol::PartitionState& state) {
    if (Replica* existing = find(state.partition)) {
        return *existing;
    }
    auto replica = std::make_unique<Replica>(node_.disk(), state.partition, config_.log);
    const RecoveryReport report = replica->log.recover(verify_crc());
    const auto hw = recovered_hw_.find(state.partition.name());
    const std::int64_t checkpointed = hw != recovered_hw_.end() ? hw->second : 0;
    replica->high_watermark = Offset(std::min(checkpointed, replica->log.log_end_offset().value()));
    sim::trace("ReplicaRecovered")
        .detail("partition", state.partition.name())
        .detail("batches", report.batches)
        .detail("truncated_bytes", report.truncated_bytes)
        .detail("corrupt", report.corrupt)
        .detail("log_end_offset", replica->log.log_end_offset())
        .detail("high_watermark", replica->high_watermark)
        .detail("producers", replica->log.producer_state().producers().size());
    (void)replica->log.producer_state().expire(now_ms());
    if (config_.bugs.kip101_hw_truncation) {
        // KAFKA-1211: on restart a follower cut its log back to its high watermark.
        replica->log.truncate_to(replica->high_watermark);
    }
    Replica& created = *replica;
    replicas_.emplace(state.partition, std::move(replica));
    return created;
}

void Broker::apply_metadata(const protocol::MetadataSnapshot& metadata) {
    if (metadata.version <= metadata_.version) {
        return;
    }
    metadata_ = metadata;
    (void)sim::witness().raise(invariants::metadata_applied, metadata.version);
    for (const protocol::PartitionState& state : metadata.partitions) {
        if (!contains(state.replicas, config_.id)) {
            continue;
        }
        Replica& replica = replica_for(state);
        if (replica.halted) {
            continue;
        }
        if (state.leader == config_.id) {
            if (replica.role != ReplicaRole::leader || state.leader_epoch > replica.leader_epoch) {
                become_leader(replica, state);
            } else if (state.partition_epoch > replica.partition_epoch) {
                invariants::leadership(replica, config_.id, state);
                replica.isr = state.isr;
                replica.partition_epoch = state.partition_epoch;
                replica.isr_in_doubt.clear();
                maybe_advance_high_watermark(replica);
            }
        } else if (replica.role != ReplicaRole::follower || state.leader_epoch > replica.leader_epoch ||
                   state.leader != replica.leader) {
            become_follower(replica, state);
        } else {
            replica.isr = state.isr;
            replica.partition_epoch = state.partition_epoch;
        }
    }
}

void Broker::become_leader(Replica& replica, const protocol::PartitionState& state) {
    invariants::leadership(replica, config_.id, state);
    replica.role = ReplicaRole::leader;
    replica.shown_high_watermark = Offset(-1);
    replica.leader = config_.id;
    replica.leader_epoch = state.leader_epoch;
    replica.partition_epoch = state.partition_epoch;
    replica.replicas = state.replicas;
    replica.isr = state.isr;
    ++replica.generation;
    replica.alter_in_flight = false;
    replica.proposed_isr.clear();
    replica.isr_in_doubt.clear();
    replica.followers.clear();
    const sim::Time now = sim::now();
    for (const BrokerId broker : state.replicas) {
        if (broker != config_.id) {
            replica.followers[broker] = Replica::FollowerState{Offset(-1), now, Offset(0), now};
        }
    }
    sim::trace("BecomeLeader")
        .detail("partition", state.partition.name())
        .detail("leader_epoch", state.leader_epoch)
        .detail("log_end_offset", replica.log.log_end_offset())
        .detail("high_watermark", replica.high_watermark)
        .detail("isr", join(state.isr));
    replica.changed.notify_all();
    replica.log.epochs().assign(state.leader_epoch, replica.log.log_end_offset());
}

void Broker::become_follower(Replica& replica, const protocol::PartitionState& state) {
    invariants::epoch_not_behind(replica, state);
    replica.role = ReplicaRole::follower;
    replica.leader = state.leader;
    replica.leader_epoch = state.leader_epoch;
    replica.partition_epoch = state.partition_epoch;
    replica.replicas = state.replicas;
    replica.isr = state.isr;
    ++replica.generation;
    replica.alter_in_flight = false;
    replica.proposed_isr.clear();
    replica.isr_in_doubt.clear();
    replica.followers.clear();
    sim::trace("BecomeFollower")
        .detail("partition", state.partition.name())
        .detail("leader", state.leader)
        .detail("leader_epoch", state.leader_epoch)
        .detail("log_end_offset", replica.log.log_end_offset());
    if (config_.bugs.kip101_hw_truncation) {
        replica.log.truncate_to(replica.high_watermark);  // KAFKA-1211
    }
    replica.changed.notify_all();
    if (state.leader != protocol::no_broker) {
        const std::uint64_t generation = replica.generation;
        const TopicPartition partition = state.partition;
        node_.spawn("replica-fetcher", [this, partition, generation] { follow(partition, generation); });
    }
}

// ---- Following -----------------------------------------------------------------------------------

void Broker::follow(TopicPartition partition, std::uint64_t generation) {
    const auto current = [&]() -> Replica* {
        Replica* replica = find(partition);
        return replica != nullptr && replica->generation == generation && !replica->halted ? replica : nullptr;
    };
    Replica* replica = current();
    if (replica == nullptr) {
        return;
    }
    sim::RpcClient client(node_, config_.addresses.brokers.at(replica->leader), broker_port);
    while ((replica = current()) != nullptr) {
        protocol::FetchRequest request;
        request.replica = config_.id;
        request.partition = partition;
        request.current_leader_epoch = replica->leader_epoch;
        request.fetch_offset = replica->log.log_end_offset();
        request.log_start_offset = replica->log.log_start_offset();
        if (!config_.bugs.kip101_hw_truncation) {
            const auto latest = replica->log.epochs().latest();
            request.last_fetched_epoch = latest ? latest->epoch : protocol::no_leader_epoch;
        }
        request.max_wait = config_.replica_fetch_max_wait;
        sim::Result<sim::Message> result = client.call(sim::make_message(request), config_.replica_fetch_max_wait +
                                                                                       config_.request_timeout);
        if ((replica = current()) == nullptr) {
            return;
        }
        if (!result) {
            sim::sleep(config_.replica_fetch_backoff);
            continue;
        }
        const auto& response = result->as<protocol::FetchResponse>();
        if (response.error == ErrorCode::offset_out_of_range &&
            request.fetch_offset > response.log_end_offset && response.log_end_offset.value() >= 0) {
            // Only without leader epochs (the KIP-101 bug switch): cut back to the leader's end.
            truncate(*replica, response.log_end_offset);
            continue;
        }
        if (response.error == ErrorCode::offset_out_of_range && request.fetch_offset < response.log_start_offset) {
            // The leader no longer has what this follower needs next (retention, DeleteRecords): start
            // again at the leader's log start.
            sim::trace("FollowerTruncateFully")
                .detail("partition", partition.name())
                .detail("from", request.fetch_offset)
                .detail("to", response.log_start_offset);
            replica->log.truncate_fully_and_start_at(response.log_start_offset);
            replica->high_watermark = response.log_start_offset;
            continue;
        }
        if (response.error != ErrorCode::none) {
            sim::sleep(config_.replica_fetch_backoff);
            continue;
        }
        if (response.diverging_epoch) {
            handle_divergence(*replica, *response.diverging_epoch);
            continue;
        }
        for (const protocol::RecordBatch& batch : response.batches) {
            const Offset end = replica->log.log_end_offset();
            if (batch.last_offset() < end) {
                continue;
            }
            if (batch.base_offset < end && replica->log.log_start_offset() == end) {
                // An empty log that starts inside the leader's first batch (the leader's log start came
                // from DeleteRecords): start it at that batch, as Kafka does.
                replica->log.truncate_fully_and_start_at(batch.base_offset);
                if ((replica = current()) == nullptr) {
                    return;  // it suspended (fsync): the role may have changed meanwhile
                }
                replica->high_watermark = std::min(replica->high_watermark, batch.base_offset);
            } else if (batch.base_offset < end) {
                // Batch boundaries disagree: only when the logs diverged. Truncation never splits a
                // batch, so it may cut below this one; then fetch again from the new end.
                truncate(*replica, batch.base_offset);
                if (replica->log.log_end_offset() != batch.base_offset) {
                    break;
                }
            }
            if (!replica->log.append(batch)) {
                halt(*replica, "append failed");
            }
            if ((replica = current()) == nullptr) {
                return;
            }
        }
        const Offset high_watermark(std::min(response.high_watermark.value(), replica->log.log_end_offset().value()));
        if (high_watermark > replica->high_watermark) {
            replica->high_watermark = high_watermark;
        }
        if (response.log_start_offset > replica->log.log_start_offset()) {
            // The leader's log start moved (retention, DeleteRecords): so does this one, within what
            // is committed here.
            replica->log.increment_log_start_offset(std::min(response.log_start_offset, replica->high_watermark));
        }
        replica->changed.notify_all();
        if (sim::buggify("slow-follower")) {
            sim::sleep(std::chrono::milliseconds(node_.random().below(400)));  // a slow follower: the ISR bound is tested
        }
    }
}

void Broker::handle_divergence(Replica& replica, const protocol::DivergingEpoch& diverging) {
    const Offset target = truncation_offset(replica.log.epochs(), replica.log.log_start_offset(),
                                            replica.log.log_end_offset(),
                                            EpochEndOffset{diverging.epoch, diverging.end_offset});
    sim::trace("FollowerTruncate")
        .detail("partition", replica.partition.name())
        .detail("reason", "diverging-epoch")
        .detail("leader_epoch", diverging.epoch)
        .detail("leader_end_offset", diverging.end_offset)
        .detail("from", replica.log.log_end_offset())
        .detail("to", target);
    truncate(replica, target);
    invariants::truncated_follower(replica, diverging);
}

void Broker::truncate(Replica& replica, Offset end) {
    replica.log.truncate_to(end);
    if (replica.high_watermark > replica.log.log_end_offset()) {
        replica.high_watermark = replica.log.log_end_offset();
    }
}

// ---- Leading: ISR and high watermark -------------------------------------------------------------

void Broker::maybe_advance_high_watermark(Replica& replica) {
    if (replica.role != ReplicaRole::leader) {
        return;
    }
    std::int64_t candidate = replica.log.log_end_offset().value();
    std::vector<BrokerId> members = replica.isr;
    for (const auto* more : {&replica.proposed_isr, &replica.isr_in_doubt}) {
        for (const BrokerId member : *more) {
            if (!contains(members, member)) {
                members.push_back(member);
            }
        }
    }
    for (const BrokerId member : members) {
        if (member == config_.id) {
            continue;
        }
        const auto follower = replica.followers.find(member);
        candidate = std::min(candidate, follower != replica.followers.end() ? follower->second.log_end_offset.value() : -1);
    }
    if (candidate > replica.high_watermark.value()) {
        replica.high_watermark = Offset(candidate);
        replica.changed.notify_all();
    }
    invariants::leader_high_watermark(replica);
}

void Broker::propose_isr(Replica& replica, std::vector<BrokerId> new_isr) {
    replica.alter_in_flight = true;
    replica.proposed_isr = new_isr;
    const protocol::AlterPartitionRequest request{config_.id, replica.partition, replica.leader_epoch,
                                                  replica.partition_epoch, std::move(new_isr)};
    sim::trace("AlterPartitionProposed")
        .detail("partition", replica.partition.name())
        .detail("from", join(replica.isr))
        .detail("to", join(request.new_isr));
    const std::uint64_t generation = replica.generation;
    const TopicPartition partition = replica.partition;
    node_.spawn("alter-partition", [this, request, generation, partition] {
        sim::Result<sim::Message> result = controller_->call(sim::make_message(request), config_.request_timeout);
        Replica* proposer = find(partition);
        if (proposer == nullptr || proposer->generation != generation) {
            return;
        }
        proposer->alter_in_flight = false;
        if (!result) {
            // The controller may or may not have applied it.
            for (const BrokerId member : proposer->proposed_isr) {
                if (!contains(proposer->isr_in_doubt, member)) {
                    proposer->isr_in_doubt.push_back(member);
                }
            }
        } else {
            const auto& response = result->as<protocol::AlterPartitionResponse>();
            if (response.error == ErrorCode::none && response.state.partition_epoch > proposer->partition_epoch) {
                proposer->isr = response.state.isr;
                proposer->partition_epoch = response.state.partition_epoch;
                proposer->isr_in_doubt.clear();
            }
        }
        proposer->proposed_isr.clear();
        maybe_advance_high_watermark(*proposer);
        proposer->changed.notify_all();
    });
}

void Broker::maybe_expand_isr(Replica& replica, BrokerId follower) {
    if (replica.role != ReplicaRole::leader || replica.alter_in_flight || contains(replica.isr, follower)) {
        return;
    }
    const Replica::FollowerState& state = replica.followers.at(follower);
    const auto epoch_start = replica.log.epochs().latest();
    const Offset epoch_start_offset = epoch_start ? epoch_start->start_offset : Offset(0);
    if (state.log_end_offset >= replica.high_watermark && state.log_end_offset >= epoch_start_offset) {
        std::vector<BrokerId> expanded = replica.isr;
        expanded.push_back(follower);
        propose_isr(replica, std::move(expanded));
    }
}

void Broker::isr_loop() {
    while (true) {
        sim::sleep(config_.isr_check_interval);
        const sim::Time now = sim::now();
        for (auto& [partition, replica] : replicas_) {
            if (replica->role != ReplicaRole::leader || replica->alter_in_flight || replica->halted) {
                continue;
            }
            std::vector<BrokerId> kept;
            for (const BrokerId member : replica->isr) {
                const auto follower = replica->followers.find(member);
                const bool lagging = member != config_.id && follower != replica->followers.end() &&
                                     now - follower->second.last_caught_up > config_.replica_lag_time_max;
                if (!lagging) {
                    kept.push_back(member);
                }
            }
            if (kept.size() < replica->isr.size()) {
                propose_isr(*replica, std::move(kept));
            }
        }
    }
}

// ---- Requests ------------------------------------------------------------------------------------

protocol::ProduceResponse Broker::produce(const protocol::ProduceRequest& request) {
    protocol::ProduceResponse response;
    Replica* replica = find(request.partition);
    if (replica == nullptr || replica->role != ReplicaRole::leader || replica->halted) {
        response.error = replica == nullptr ? ErrorCode::unknown_topic_or_partition : ErrorCode::not_leader_or_follower;
        return response;
    }
    if (request.acks != -1 && request.acks != 0 && request.acks != 1) {
        response.error = ErrorCode::invalid_required_acks;
        return response;
    }
    if (request.acks == -1 && std::ssize(replica->isr) < config_.min_insync_replicas) {
        response.error = ErrorCode::not_enough_replicas;
        return response;
    }
    const std::uint64_t generation = replica->generation;
    response.log_start_offset = replica->log.log_start_offset();
    if (request.batch.producer_id.value() >= 0) {
        const SequenceCheck check = replica->log.producer_state().check(request.batch);
        if (check.verdict != SequenceVerdict::append) {
            sim::trace("ProduceRejected")
                .detail("partition", request.partition.name())
                .detail("verdict", to_string(check.verdict))
                .detail("producer_id", request.batch.producer_id)
                .detail("producer_epoch", request.batch.producer_epoch)
                .detail("sequence", request.batch.base_sequence);
        }
        switch (check.verdict) {
            case SequenceVerdict::append:
                break;
            case SequenceVerdict::duplicate:
                // A retry of a batch the log has: answered with the original offsets, once they are
                // replicated as acks demands.
                response.base_offset = check.original->first_offset;
                if (request.acks == -1 && !config_.bugs.ack_before_isr) {
                    response.error = await_replication(*replica, generation, check.original->last_offset, request.timeout);
                }
                if (request.acks == -1 && response.error == ErrorCode::none) {
                    invariants::acknowledged(*replica, check.original->last_offset, config_.min_insync_replicas);
                }
                return response;
            case SequenceVerdict::out_of_order_sequence:
                response.error = ErrorCode::out_of_order_sequence_number;
                return response;
            case SequenceVerdict::invalid_producer_epoch:
                response.error = ErrorCode::invalid_producer_epoch;
                return response;
            case SequenceVerdict::unknown_producer_id:
                response.error = ErrorCode::unknown_producer_id;
                return response;
        }
    }
    protocol::RecordBatch batch = request.batch;
    batch.base_offset = replica->log.log_end_offset();
    batch.leader_epoch = replica->leader_epoch;
    if (!replica->log.append(batch)) {
        response.error = ErrorCode::kafka_storage_error;
        return response;
    }
    response.base_offset = batch.base_offset;
    maybe_advance_high_watermark(*replica);
    replica->changed.notify_all();
    if (replica->generation != generation) {
        response.error = ErrorCode::not_leader_or_follower;
        return response;
    }
    if (request.acks != -1 || config_.bugs.ack_before_isr) {
        if (request.acks == -1) {
            invariants::acknowledged(*replica, batch.last_offset(), config_.min_insync_replicas);
        }
        return response;
    }
    response.error = await_replication(*replica, generation, batch.last_offset(), request.timeout);
    if (response.error == ErrorCode::none) {
        invariants::acknowledged(*replica, batch.last_offset(), config_.min_insync_replicas);
    }
    if (sim::buggify("slow-produce-answer")) {
        sim::sleep(std::chrono::milliseconds(node_.random().below(300)));  // a slow response: client timeouts race it
    }
    return response;
}

ErrorCode Broker::await_replication(Replica& replica, std::uint64_t generation, Offset last, sim::Duration timeout) {
    Replica* waiting = &replica;
    const bool reached = replica.changed.wait_until(sim::deadline_after(timeout), [waiting, generation, last] {
        return waiting->generation != generation || waiting->high_watermark > last;
    });
    if (replica.generation != generation) {
        return ErrorCode::not_leader_or_follower;
    }
    if (!reached) {
        return ErrorCode::request_timed_out;
    }
    if (std::ssize(replica.isr) < config_.min_insync_replicas) {
        return ErrorCode::not_enough_replicas_after_append;
    }
    return ErrorCode::none;
}

Offset Broker::low_watermark(const Replica& replica) const {
    Offset low = replica.log.log_start_offset();
    for (const BrokerId member : replica.isr) {
        if (member == config_.id) {
            continue;
        }
        const auto follower = replica.followers.find(member);
        low = std::min(low, follower != replica.followers.end() ? follower->second.log_start_offset : Offset(-1));
    }
    return low;
}

protocol::DeleteRecordsResponse Broker::delete_records(const protocol::DeleteRecordsRequest& request) {
    protocol::DeleteRecordsResponse response;
    Replica* replica = find(request.partition);
    if (replica == nullptr || replica->role != ReplicaRole::leader || replica->halted) {
        response.error = replica == nullptr ? ErrorCode::unknown_topic_or_partition : ErrorCode::not_leader_or_follower;
        return response;
    }
    const Offset target = request.offset == protocol::delete_to_high_watermark ? replica->high_watermark : request.offset;
    if (target.value() < 0 || target > replica->high_watermark) {
        response.error = ErrorCode::offset_out_of_range;  // only committed records can be deleted
        return response;
    }
    replica->log.increment_log_start_offset(target);
    sim::trace("DeleteRecords").detail("partition", request.partition.name()).detail("log_start_offset", replica->log.log_start_offset());
    replica->changed.notify_all();
    const std::uint64_t generation = replica->generation;
    const bool reached = replica->changed.wait_until(sim::deadline_after(request.timeout), [this, replica, generation, target] {
        return replica->generation != generation || low_watermark(*replica) >= target;
    });
    if (replica->generation != generation) {
        response.error = ErrorCode::not_leader_or_follower;
    } else if (!reached) {
        response.error = ErrorCode::request_timed_out;
    }
    response.low_watermark = low_watermark(*replica);
    return response;
}

void Broker::retention_loop() {
    while (true) {
        sim::sleep(config_.retention_check_interval);
        for (auto& [partition, replica] : replicas_) {
            if (replica->halted) {
                continue;
            }
            const Offset before = replica->log.log_start_offset();
            if (const std::size_t deleted = replica->log.apply_retention(now_ms(), replica->high_watermark); deleted > 0) {
                sim::trace("RetentionDeleted")
                    .detail("partition", partition.name())
                    .detail("segments", deleted)
                    .detail("from", before)
                    .detail("to", replica->log.log_start_offset());
                replica->changed.notify_all();
            }
            if (const CleanReport cleaned = replica->log.compact(now_ms(), replica->high_watermark);
                cleaned.batches_removed > 0) {
                sim::trace("LogCleaned")
                    .detail("partition", partition.name())
                    .detail("segments", cleaned.segments_rewritten)
                    .detail("batches", cleaned.batches_removed);
            }
        }
    }
}

protocol::InitProducerIdResponse Broker::init_producer_id() {
    protocol::InitProducerIdResponse response;
    const sim::Time deadline = sim::deadline_after(config_.request_timeout);
    while (next_producer_id_ >= producer_id_block_end_) {
        if (allocating_producer_ids_) {
            if (!producer_ids_changed_.wait_until(deadline, [this] { return !allocating_producer_ids_; })) {
                response.error = ErrorCode::coordinator_not_available;
                return response;
            }
            continue;
        }
        allocating_producer_ids_ = true;
        const protocol::AllocateProducerIdsRequest request{config_.id, node_.incarnation()};
        sim::Result<sim::Message> result = controller_->call(sim::make_message(request), config_.request_timeout);
        allocating_producer_ids_ = false;
        producer_ids_changed_.notify_all();
        if (!result || result->as<protocol::AllocateProducerIdsResponse>().error != ErrorCode::none) {
            response.error = ErrorCode::coordinator_not_available;
            return response;
        }
        const auto& block = result->as<protocol::AllocateProducerIdsResponse>();
        next_producer_id_ = block.first_producer_id.value();
        producer_id_block_end_ = next_producer_id_ + block.count;
    }
    response.producer_id = protocol::ProducerId(next_producer_id_++);
    response.producer_epoch = protocol::ProducerEpoch(0);
    return response;
}

protocol::FetchResponse Broker::fetch(const protocol::FetchRequest& request) {
    protocol::FetchResponse response;
    Replica* replica = find(request.partition);
    if (replica == nullptr) {
        response.error = ErrorCode::unknown_topic_or_partition;
        return response;
    }
    if (replica->role != ReplicaRole::leader || replica->halted) {
        response.error = ErrorCode::not_leader_or_follower;
        return response;
    }
    if (request.current_leader_epoch.value() >= 0 && request.current_leader_epoch != replica->leader_epoch) {
        response.error = request.current_leader_epoch < replica->leader_epoch ? ErrorCode::fenced_leader_epoch
                                                                               : ErrorCode::unknown_leader_epoch;
        return response;
    }
    const std::uint64_t generation = replica->generation;
    const bool from_follower = request.replica != protocol::consumer_replica_id;
    const auto fill = [&] {
        invariants::leader_high_watermark(*replica);
        response.high_watermark = replica->high_watermark;
        response.log_start_offset = replica->log.log_start_offset();
        response.log_end_offset = replica->log.log_end_offset();
        response.leader_epoch = replica->leader_epoch;
    };
    if (from_follower) {
        if (const auto diverging = find_divergence(replica->log.epochs(), replica->log.log_end_offset(),
                                                   request.last_fetched_epoch, request.fetch_offset)) {
            response.diverging_epoch = protocol::DivergingEpoch{diverging->epoch, diverging->end_offset};
            fill();
            return response;
        }
    }
    if (request.fetch_offset > replica->log.log_end_offset() || request.fetch_offset < replica->log.log_start_offset()) {
        response.error = ErrorCode::offset_out_of_range;
        fill();
        return response;
    }
    if (from_follower) {
        const auto follower = replica->followers.find(request.replica);
        if (follower != replica->followers.end()) {
            Replica::FollowerState& state = follower->second;
            const sim::Time now = sim::now();
            if (request.fetch_offset >= replica->log.log_end_offset()) {
                state.last_caught_up = now;
            } else if (request.fetch_offset >= state.leader_end_at_last_fetch) {
                state.last_caught_up = std::max(state.last_caught_up, state.last_fetch);
            }
            state.leader_end_at_last_fetch = replica->log.log_end_offset();
            state.last_fetch = now;
            state.log_end_offset = request.fetch_offset;
            if (request.log_start_offset != state.log_start_offset) {
                state.log_start_offset = request.log_start_offset;
                replica->changed.notify_all();  // a DeleteRecords may be waiting for it
            }
            maybe_expand_isr(*replica, request.replica);
            maybe_advance_high_watermark(*replica);
        }
    }
    const auto visible_end = [replica, from_follower] {
        return from_follower ? replica->log.log_end_offset() : replica->high_watermark;
    };
    if (request.fetch_offset >= visible_end()) {
        (void)replica->changed.wait_until(sim::deadline_after(request.max_wait), [&] {
            return replica->generation != generation || visible_end() > request.fetch_offset;
        });
        if (replica->generation != generation || replica->halted) {
            response.error = ErrorCode::not_leader_or_follower;
            return response;
        }
    }
    const ReadResult read = replica->log.read(request.fetch_offset, visible_end(), request.max_bytes, verify_crc());
    if (read.status == ReadStatus::corrupt) {
        halt(*replica, "corrupt batch on read");
    }
    response.batches = read.batches;
    if (!from_follower && response.batches.size() > 1 && sim::buggify("short-consumer-read")) {
        response.batches.resize(1);  // a short read, as with a small fetch.max.bytes
    }
    fill();
    if (!from_follower) {
        invariants::consumer_fetch(*replica, response);
    }
    return response;
}

protocol::ListOffsetsResponse Broker::list_offsets(const protocol::ListOffsetsRequest& request) {
    protocol::ListOffsetsResponse response;
    Replica* replica = find(request.partition);
    if (replica == nullptr || replica->role != ReplicaRole::leader || replica->halted) {
        response.error = replica == nullptr ? ErrorCode::unknown_topic_or_partition : ErrorCode::not_leader_or_follower;
        return response;
    }
    response.offset = request.timestamp == protocol::earliest_timestamp ? replica->log.log_start_offset()
                                                                         : replica->high_watermark;
    response.leader_epoch = replica->leader_epoch;
    return response;
}

protocol::OffsetsForLeaderEpochResponse Broker::offsets_for_leader_epoch(
    const protocol::OffsetsForLeaderEpochRequest& request) {
    protocol::OffsetsForLeaderEpochResponse response;
    Replica* replica = find(request.partition);
    if (replica == nullptr || replica->role != ReplicaRole::leader || replica->halted) {
        response.error = replica == nullptr ? ErrorCode::unknown_topic_or_partition : ErrorCode::not_leader_or_follower;
        return response;
    }
    const EpochEndOffset end = replica->log.epochs().end_offset_for(request.requested_epoch, replica->log.log_end_offset());
    response.epoch = end.epoch;
    response.end_offset = end.end_offset;
    return response;
}

sim::Message Broker::handle(const sim::Message& request) {
    if (request.is<protocol::ProduceRequest>()) {
        return sim::make_message(produce(request.as<protocol::ProduceRequest>()));
    }
    if (request.is<protocol::FetchRequest>()) {
        return sim::make_message(fetch(request.as<protocol::FetchRequest>()));
    }
    if (request.is<protocol::MetadataRequest>()) {
        return sim::make_message(protocol::MetadataResponse{metadata_});
    }
    if (request.is<protocol::ListOffsetsRequest>()) {
        return sim::make_message(list_offsets(request.as<protocol::ListOffsetsRequest>()));
    }
    if (request.is<protocol::DeleteRecordsRequest>()) {
        return sim::make_message(delete_records(request.as<protocol::DeleteRecordsRequest>()));
    }
    if (request.is<protocol::InitProducerIdRequest>()) {
        return sim::make_message(init_producer_id());
    }
    if (request.is<protocol::OffsetsForLeaderEpochRequest>()) {
        return sim::make_message(offsets_for_leader_epoch(request.as<protocol::OffsetsForLeaderEpochRequest>()));
    }
    EOSIM_ASSERT_MSG(false, "a broker got a request it does not serve");
    return {};
}

// ---- Durability of the high watermark, and halting -----------------------------------------------

void Broker::producer_expiration_loop() {
    while (true) {
        sim::sleep(config_.producer_expiration_check_interval);
        for (auto& [partition, replica] : replicas_) {
            if (const std::size_t expired = replica->log.producer_state().expire(now_ms()); expired > 0) {
                sim::trace("ProducersExpired").detail("partition", partition.name()).detail("count", expired);
            }
        }
    }
}

void Broker::hw_checkpoint_loop() {
    while (true) {
        sim::sleep(config_.hw_checkpoint_interval);
        write_hw_checkpoint();
    }
}

void Broker::write_hw_checkpoint() {
    std::string text;
    for (const auto& [partition, replica] : replicas_) {
        text += fmt::format("{} {}\n", partition.name(), replica->high_watermark.value());
    }
    sim::Disk& disk = node_.disk();
    const std::string temporary = std::string(hw_checkpoint_path) + ".tmp";
    (void)disk.remove(temporary);
    (void)disk.create(temporary);
    (void)disk.append(temporary, std::as_bytes(std::span(text.data(), text.size())));
    if (disk.fsync(temporary).ok()) {
        (void)disk.rename(temporary, hw_checkpoint_path);
    }
}

std::map<std::string, std::int64_t> Broker::read_hw_checkpoint() const {
    std::map<std::string, std::int64_t> checkpoint;
    const auto bytes = node_.disk().read_all(hw_checkpoint_path);
    if (!bytes) {
        return checkpoint;
    }
    std::istringstream text(std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size()));
    std::string name;
    std::int64_t high_watermark = 0;
    while (text >> name >> high_watermark) {
        checkpoint[name] = high_watermark;
    }
    return checkpoint;
}

void Broker::halt(const Replica& replica, const char* what) {
    sim::trace("BrokerHalt", sim::Severity::warn).detail("partition", replica.partition.name()).detail("why", what);
    // Kafka takes an unreadable log directory offline and, with no other directory, stops: a process
    // exit, so the page cache survives.
    (void)node_.crash(sim::CrashOptions{.unsynced = sim::UnsyncedFate::keep});
    throw sim::FiberKilled{};  // not reached: crash() from the node's own fiber unwinds it
}

}  // namespace eosim::broker_core
