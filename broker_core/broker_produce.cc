#include "broker_core/broker.h"

#include <algorithm>

#include "broker_core/invariants.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::ErrorCode;
using protocol::Offset;

// Produce (acks 0/1/all, min ISR, the idempotence check) and InitProducerId.

protocol::ProduceResponse Broker::produce(const protocol::ProduceRequest& request) {
    // Every partition is appended first; then, with acks=all, the answer waits for each to be replicated
    // until one shared deadline (Kafka's DelayedProduce).
    std::vector<PartitionAppend> appends;
    appends.reserve(request.partitions.size());
    for (const protocol::ProducePartition& data : request.partitions) {
        appends.push_back(append_partition(request.acks, data));
    }
    const sim::Time deadline = sim::deadline_after(request.timeout);
    protocol::ProduceResponse response;
    for (PartitionAppend& append : appends) {
        await_append(append, deadline);
        response.partitions.push_back(append.answer);
    }
    if (request.acks == -1 && sim::buggify("slow-produce-answer")) {
        sim::sleep(std::chrono::milliseconds(node_.random().below(300)));  // a slow response: client timeouts race it
    }
    return response;
}

PartitionAppend Broker::append_partition(std::int16_t acks, const protocol::ProducePartition& data) {
    PartitionAppend append{.answer = protocol::ProducePartitionResponse{.partition = data.partition},
                           .replica = find(data.partition)};
    append.answer.error = produce_precheck(append.replica, acks);
    if (append.answer.error != ErrorCode::none) {
        return append;
    }
    append.generation = append.replica->generation;
    append.answer.log_start_offset = append.replica->log.log_start_offset();
    if (data.batch.producer_id.value() >= 0) {
        const SequenceCheck check = append.replica->log.producer_state().check(data.batch);
        if (check.verdict != SequenceVerdict::append) {
            answer_rejected(append, acks, data, check);
            return append;
        }
    }
    append_batch(append, acks, data);
    return append;
}

ErrorCode Broker::produce_precheck(const Replica* replica, std::int16_t acks) const {
    if (replica == nullptr || replica->role != ReplicaRole::leader || replica->halted) {
        return replica == nullptr ? ErrorCode::unknown_topic_or_partition : ErrorCode::not_leader_or_follower;
    }
    if (acks != -1 && acks != 0 && acks != 1) {
        return ErrorCode::invalid_required_acks;
    }
    if (acks == -1 && std::ssize(replica->isr) < config_.min_insync_replicas) {
        return ErrorCode::not_enough_replicas;
    }
    return ErrorCode::none;
}

void Broker::answer_rejected(PartitionAppend& append, std::int16_t acks, const protocol::ProducePartition& data,
                             const SequenceCheck& check) {
    sim::trace("ProduceRejected")
        .detail("partition", data.partition.name())
        .detail("verdict", to_string(check.verdict))
        .detail("producer_id", data.batch.producer_id)
        .detail("producer_epoch", data.batch.producer_epoch)
        .detail("sequence", data.batch.base_sequence);
    switch (check.verdict) {
        case SequenceVerdict::append:
            break;
        case SequenceVerdict::duplicate:
            // A retry of a batch the log has: answered with the original offsets, once they are
            // replicated as acks demands.
            append.answer.base_offset = check.original->first_offset;
            if (acks == -1 && !config_.bugs.ack_before_isr) {
                append.last = check.original->last_offset;
            } else if (acks == -1) {
                invariants::acknowledged(*append.replica, check.original->last_offset, config_.min_insync_replicas);
            }
            break;
        case SequenceVerdict::out_of_order_sequence:
            append.answer.error = ErrorCode::out_of_order_sequence_number;
            break;
        case SequenceVerdict::invalid_producer_epoch:
            append.answer.error = ErrorCode::invalid_producer_epoch;
            break;
        case SequenceVerdict::unknown_producer_id:
            append.answer.error = ErrorCode::unknown_producer_id;
            break;
    }
}

void Broker::append_batch(PartitionAppend& append, std::int16_t acks, const protocol::ProducePartition& data) {
    Replica& replica = *append.replica;
    protocol::RecordBatch batch = data.batch;
    batch.base_offset = replica.log.log_end_offset();
    batch.leader_epoch = replica.leader_epoch;
    if (!replica.log.append(batch)) {
        append.answer.error = ErrorCode::kafka_storage_error;
        return;
    }
    append.answer.base_offset = batch.base_offset;
    maybe_advance_high_watermark(replica);
    replica.notify_changed();
    if (replica.generation != append.generation) {
        append.answer.error = ErrorCode::not_leader_or_follower;
    } else if (acks == -1 && config_.bugs.ack_before_isr) {
        invariants::acknowledged(replica, batch.last_offset(), config_.min_insync_replicas);
    } else if (acks == -1) {
        append.last = batch.last_offset();
    }
}

void Broker::await_append(PartitionAppend& append, sim::Time deadline) {
    if (!append.last || append.answer.error != ErrorCode::none) {
        return;
    }
    append.answer.error = await_replication(*append.replica, append.generation, *append.last, deadline);
    if (append.answer.error == ErrorCode::none) {
        invariants::acknowledged(*append.replica, *append.last, config_.min_insync_replicas);
    }
}

ErrorCode Broker::await_replication(Replica& replica, std::uint64_t generation, Offset last, sim::Time deadline) {
    Replica* waiting = &replica;
    const bool reached = replica.changed.wait_until(deadline, [waiting, generation, last] {
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

}  // namespace eosim::broker_core
