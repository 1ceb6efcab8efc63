#include "broker_core/broker.h"

#include <algorithm>

#include "broker_core/broker_internal.h"
#include "broker_core/invariants.h"
#include "protocol/control_record.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::ErrorCode;
using protocol::Offset;

// Produce (acks 0/1/all, min ISR, the idempotence check) and InitProducerId.

protocol::ProduceResponse Broker::produce(const protocol::ProduceRequest& request) {
    // Every partition is appended first; then, with acks=all, the answer waits for each to be replicated
    // until one shared deadline (Kafka's DelayedProduce).
    if (request.transactional_id && sim::buggify("produce-backlog")) {
        // A request that waited in the broker's queue past the client's timeout: the client has given up on
        // it, maybe ended its transaction, and it is appended only now (KAFKA-12671's late produce).
        sim::sleep(std::chrono::milliseconds(node_.random().below(3000)));
    }
    std::vector<PartitionAppend> appends;
    appends.reserve(request.partitions.size());
    for (const protocol::ProducePartition& data : request.partitions) {
        appends.push_back(append_partition(request.acks, data, request.transactional_id));
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

PartitionAppend Broker::append_partition(std::int16_t acks, const protocol::ProducePartition& data,
                                         const std::optional<std::string>& transactional_id) {
    PartitionAppend append{.answer = protocol::ProducePartitionResponse{.partition = data.partition},
                           .replica = find(data.partition)};
    append.answer.error = produce_precheck(append.replica, acks);
    if (append.answer.error == ErrorCode::none && data.batch.control) {
        append.answer.error = ErrorCode::invalid_request;  // markers come only from coordinators (WriteTxnMarkers)
    }
    if (append.answer.error != ErrorCode::none) {
        return append;
    }
    append.generation = append.replica->generation;
    append.answer.log_start_offset = append.replica->log.log_start_offset();
    if (!producer_checks(append, acks, data)) {
        return append;
    }
    if (data.batch.transactional && transactional_id) {
        // KIP-890 part 1: the producer's first transactional batch here is verified with its coordinator.
        append.answer.error = verify_transaction(*append.replica, *transactional_id, data.batch);
        if (append.answer.error == ErrorCode::none && append.replica->generation != append.generation) {
            append.answer.error = ErrorCode::not_leader_or_follower;
        }
        // The producer's state may have moved while the coordinator was asked: check again.
        if (append.answer.error != ErrorCode::none || !producer_checks(append, acks, data)) {
            return append;
        }
    }
    append_batch(append, acks, data);
    if (data.batch.transactional) {
        append.replica->verification_guards.erase(data.batch.producer_id);  // the transaction is open here now
    }
    return append;
}

bool Broker::producer_checks(PartitionAppend& append, std::int16_t acks, const protocol::ProducePartition& data) {
    if (data.batch.producer_id.value() < 0) {
        return true;
    }
    append.answer.error = transaction_check(*append.replica, data.batch);
    if (append.answer.error != ErrorCode::none) {
        return false;
    }
    const SequenceCheck check = append.replica->log.producer_state().check(data.batch);
    if (check.verdict != SequenceVerdict::append && !zombie_taken(data.batch, check)) {
        answer_rejected(append, acks, data, check);
        return false;
    }
    return true;
}

ErrorCode Broker::transaction_check(const Replica& replica, const protocol::RecordBatch& batch,
                                    bool bumped_marker) const {
    const TransactionVerdict verdict = replica.log.producer_state().check_transaction(batch, bumped_marker);
    switch (verdict) {
        case TransactionVerdict::append: return ErrorCode::none;
        case TransactionVerdict::invalid_txn_state: return ErrorCode::invalid_txn_state;
        case TransactionVerdict::invalid_producer_epoch:
            return config_.bugs.no_zombie_fencing && batch.transactional && !batch.control
                       ? ErrorCode::none
                       : ErrorCode::invalid_producer_epoch;
        case TransactionVerdict::coordinator_fenced: return ErrorCode::transaction_coordinator_fenced;
    }
    return ErrorCode::none;
}

bool Broker::zombie_taken(const protocol::RecordBatch& batch, const SequenceCheck& check) const {
    // The no-zombie-fencing bug switch: a fenced epoch's transactional batch is appended after all.
    return config_.bugs.no_zombie_fencing && batch.transactional &&
           check.verdict == SequenceVerdict::invalid_producer_epoch;
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
            sim::probe("duplicate-answered-from-producer-state");
            append.answer.base_offset = check.original->first_offset;
            if (acks == -1 && !config_.bugs.ack_before_isr) {
                append.last = check.original->last_offset;
            } else if (acks == -1) {
                invariants::acknowledged(*append.replica, check.original->last_offset, config_.min_insync_replicas);
            }
            break;
        case SequenceVerdict::out_of_order_sequence:
            sim::probe("out-of-order-sequence-refused");
            append.answer.error = ErrorCode::out_of_order_sequence_number;
            break;
        case SequenceVerdict::invalid_producer_epoch:
            sim::probe(data.batch.transactional ? "zombie-fenced-by-partition-leader" : "stale-producer-epoch-refused");
            append.answer.error = ErrorCode::invalid_producer_epoch;
            break;
        case SequenceVerdict::unknown_producer_id:
            sim::probe("unknown-producer-id-refused");
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
        sim::probe("isr-shrank-below-min-isr-after-append");
        return ErrorCode::not_enough_replicas_after_append;
    }
    return ErrorCode::none;
}

ErrorCode Broker::verify_transaction(Replica& replica, const std::string& transactional_id,
                                     const protocol::RecordBatch& batch) {
    if (config_.bugs.kafka_12671 || config_.bugs.no_zombie_fencing) {
        return ErrorCode::none;  // KAFKA-12671: a late produce of an ended transaction opens a new one
    }
    const auto& producers = replica.log.producer_state().producers();
    const auto found = producers.find(batch.producer_id);
    if (found != producers.end() && found->second.current_txn_first_offset &&
        found->second.epoch == batch.producer_epoch) {
        return ErrorCode::none;  // its transaction is already open here
    }
    // The guard: a marker for the producer that lands while the coordinator is asked removes it, and the
    // batch must then not be appended (KAFKA-14884), or it would open a transaction nobody ends.
    const std::uint64_t guard = ++next_verification_guard_;
    replica.verification_guards[batch.producer_id] = guard;
    const auto drop_guard = [&replica, &batch, guard] {
        const auto held = replica.verification_guards.find(batch.producer_id);
        if (held != replica.verification_guards.end() && held->second == guard) {
            replica.verification_guards.erase(held);  // ours, and nothing will append under it
        }
    };
    const ErrorCode error = verify_with_coordinator(transactional_id, batch, replica.partition);
    if (error != ErrorCode::none) {
        sim::probe("produce-refused-by-transaction-verification");
        drop_guard();
        return error;
    }
    if (sim::buggify("delayed-verified-append")) {
        sim::sleep(std::chrono::milliseconds(node_.random().below(3000)));  // a marker may overtake the append
    }
    const auto kept = replica.verification_guards.find(batch.producer_id);
    if (!config_.bugs.kafka_14884 && (kept == replica.verification_guards.end() || kept->second != guard)) {
        sim::probe("verified-append-overtaken-by-marker");
        sim::trace("VerificationGuardLost")
            .detail("partition", replica.partition.name())
            .detail("producer_id", batch.producer_id);
        return ErrorCode::invalid_txn_state;
    }
    return ErrorCode::none;
}

ErrorCode Broker::verify_with_coordinator(const std::string& transactional_id, const protocol::RecordBatch& batch,
                                          const protocol::TopicPartition& partition) {
    const protocol::BrokerId coordinator = coordinator_of(protocol::CoordinatorType::transaction, transactional_id);
    if (coordinator == protocol::no_broker) {
        return ErrorCode::not_enough_replicas;  // retriable for the producer, as Kafka maps it
    }
    const protocol::AddPartitionsToTxnRequest request{transactional_id, batch.producer_id, batch.producer_epoch,
                                                       {partition}, true};
    sim::Result<sim::Message> result =
        peer(verify_clients_, coordinator).call(sim::make_message(request), config_.request_timeout);
    if (!result) {
        return ErrorCode::not_enough_replicas;
    }
    const auto& response = result->as<protocol::AddPartitionsToTxnResponse>();
    ErrorCode error = response.error;
    for (const protocol::PartitionError& answer : response.partitions) {
        if (answer.partition == partition && error == ErrorCode::none) {
            error = answer.error;
        }
    }
    sim::trace("TxnVerified")
        .detail("partition", partition.name())
        .detail("producer_id", batch.producer_id)
        .detail("producer_epoch", batch.producer_epoch)
        .detail("coordinator", coordinator)
        .detail("error", protocol::error_name(error));
    switch (error) {
        case ErrorCode::not_coordinator:
        case ErrorCode::coordinator_not_available:
        case ErrorCode::coordinator_load_in_progress:
        case ErrorCode::concurrent_transactions:
            return ErrorCode::not_enough_replicas;  // Kafka's AddPartitionsToTxnManager maps these so
        default:
            return error;
    }
}

sim::RpcClient& Broker::peer(std::map<protocol::BrokerId, std::unique_ptr<sim::RpcClient>>& clients,
                             protocol::BrokerId broker) {
    std::unique_ptr<sim::RpcClient>& client = clients[broker];
    if (!client) {
        client = std::make_unique<sim::RpcClient>(node_, config_.addresses.brokers.at(broker), broker_port);
    }
    return *client;
}

protocol::WriteTxnMarkersResponse Broker::write_txn_markers(const protocol::WriteTxnMarkersRequest& request) {
    if (sim::buggify("slow-marker-append")) {
        // The markers wait in the request queue: produces and fetches of the partition go first. One time in
        // four longer than the coordinator waits: it sends them again, and this copy may come after the
        // retry completed the transaction and the producer began the next (KAFKA-19446's race).
        const std::uint64_t most_ms = node_.random().below(2) == 0 ? 2000 : 300;
        sim::sleep(std::chrono::milliseconds(node_.random().below(most_ms)));
    }
    // Every marker is appended first, then each waits to be replicated (Kafka appends them with acks=all).
    std::vector<std::vector<PartitionAppend>> appends;
    for (const protocol::WritableTxnMarker& marker : request.markers) {
        std::vector<PartitionAppend>& ours = appends.emplace_back();
        for (const protocol::TopicPartition& partition : marker.partitions) {
            ours.push_back(append_marker(marker, partition));
        }
    }
    const sim::Time deadline = sim::deadline_after(config_.request_timeout);
    protocol::WriteTxnMarkersResponse response;
    for (std::size_t i = 0; i < appends.size(); ++i) {
        protocol::TxnMarkerResult& result = response.markers.emplace_back();
        result.producer_id = request.markers[i].producer_id;
        for (PartitionAppend& append : appends[i]) {
            await_append(append, deadline);
            if (append.answer.error == ErrorCode::none) {
                complete_group_transaction(*append.replica, request.markers[i], append.answer.base_offset);
            }
            result.partitions.push_back(protocol::PartitionError{append.answer.partition, append.answer.error});
        }
    }
    return response;
}

PartitionAppend Broker::append_marker(const protocol::WritableTxnMarker& marker,
                                      const protocol::TopicPartition& partition) {
    PartitionAppend append{.answer = protocol::ProducePartitionResponse{.partition = partition},
                           .replica = find(partition)};
    append.answer.error = produce_precheck(append.replica, -1);
    if (append.answer.error != ErrorCode::none) {
        return append;
    }
    append.generation = append.replica->generation;
    const protocol::TransactionMarker type{
        marker.committed ? protocol::ControlType::commit : protocol::ControlType::abort, marker.coordinator_epoch};
    const protocol::ProducePartition data{partition, protocol::marker_batch(marker.producer_id, marker.producer_epoch,
                                                                            type, detail::now_ms())};
    // KAFKA-19446: a marker of version 2 carries the bumped epoch. The switch takes one that does not top
    // an ongoing transaction's epoch (a late copy of the last transaction's marker) as that one's end.
    const bool bumped_marker = marker.transaction_version >= 2 && !config_.bugs.kafka_19446;
    append.answer.error = transaction_check(*append.replica, data.batch, bumped_marker);
    if (append.answer.error != ErrorCode::none) {
        return append;
    }
    append.replica->verification_guards.erase(marker.producer_id);
    append_batch(append, -1, data);
    if (append.answer.error == ErrorCode::none) {
        announce(sim::moments::txn_marker_written, partition);
    }
    return append;
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
