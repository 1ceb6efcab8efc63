#include "broker_core/broker.h"

#include <algorithm>

#include "broker_core/invariants.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::ErrorCode;
using protocol::Offset;

// Produce (acks 0/1/all, min ISR, the idempotence check) and InitProducerId.

protocol::ProduceResponse Broker::produce(const protocol::ProduceRequest& request) {
    protocol::ProduceResponse response;
    Replica* replica = find(request.partition);
    response.error = produce_precheck(replica, request);
    if (response.error != ErrorCode::none) {
        return response;
    }
    const std::uint64_t generation = replica->generation;
    response.log_start_offset = replica->log.log_start_offset();
    if (request.batch.producer_id.value() >= 0) {
        const SequenceCheck check = replica->log.producer_state().check(request.batch);
        if (check.verdict != SequenceVerdict::append) {
            return answer_rejected(*replica, generation, request, check, std::move(response));
        }
    }
    return append_and_answer(*replica, generation, request, std::move(response));
}

ErrorCode Broker::produce_precheck(const Replica* replica, const protocol::ProduceRequest& request) const {
    if (replica == nullptr || replica->role != ReplicaRole::leader || replica->halted) {
        return replica == nullptr ? ErrorCode::unknown_topic_or_partition : ErrorCode::not_leader_or_follower;
    }
    if (request.acks != -1 && request.acks != 0 && request.acks != 1) {
        return ErrorCode::invalid_required_acks;
    }
    if (request.acks == -1 && std::ssize(replica->isr) < config_.min_insync_replicas) {
        return ErrorCode::not_enough_replicas;
    }
    return ErrorCode::none;
}

protocol::ProduceResponse Broker::answer_rejected(Replica& replica, std::uint64_t generation,
                                                  const protocol::ProduceRequest& request, const SequenceCheck& check,
                                                  protocol::ProduceResponse response) {
    sim::trace("ProduceRejected")
        .detail("partition", request.partition.name())
        .detail("verdict", to_string(check.verdict))
        .detail("producer_id", request.batch.producer_id)
        .detail("producer_epoch", request.batch.producer_epoch)
        .detail("sequence", request.batch.base_sequence);
    switch (check.verdict) {
        case SequenceVerdict::append:
            break;
        case SequenceVerdict::duplicate:
            // A retry of a batch the log has: answered with the original offsets, once they are
            // replicated as acks demands.
            response.base_offset = check.original->first_offset;
            if (request.acks == -1 && !config_.bugs.ack_before_isr) {
                response.error = await_replication(replica, generation, check.original->last_offset, request.timeout);
            }
            if (request.acks == -1 && response.error == ErrorCode::none) {
                invariants::acknowledged(replica, check.original->last_offset, config_.min_insync_replicas);
            }
            break;
        case SequenceVerdict::out_of_order_sequence:
            response.error = ErrorCode::out_of_order_sequence_number;
            break;
        case SequenceVerdict::invalid_producer_epoch:
            response.error = ErrorCode::invalid_producer_epoch;
            break;
        case SequenceVerdict::unknown_producer_id:
            response.error = ErrorCode::unknown_producer_id;
            break;
    }
    return response;
}

protocol::ProduceResponse Broker::append_and_answer(Replica& replica, std::uint64_t generation,
                                                    const protocol::ProduceRequest& request,
                                                    protocol::ProduceResponse response) {
    protocol::RecordBatch batch = request.batch;
    batch.base_offset = replica.log.log_end_offset();
    batch.leader_epoch = replica.leader_epoch;
    if (!replica.log.append(batch)) {
        response.error = ErrorCode::kafka_storage_error;
        return response;
    }
    response.base_offset = batch.base_offset;
    maybe_advance_high_watermark(replica);
    replica.notify_changed();
    if (replica.generation != generation) {
        response.error = ErrorCode::not_leader_or_follower;
        return response;
    }
    if (request.acks != -1 || config_.bugs.ack_before_isr) {
        if (request.acks == -1) {
            invariants::acknowledged(replica, batch.last_offset(), config_.min_insync_replicas);
        }
        return response;
    }
    response.error = await_replication(replica, generation, batch.last_offset(), request.timeout);
    if (response.error == ErrorCode::none) {
        invariants::acknowledged(replica, batch.last_offset(), config_.min_insync_replicas);
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
