#include "broker_core/broker.h"

#include <limits>

#include "protocol/topics.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::ErrorCode;

// What the group coordinator needs of its broker: its partitions of `__consumer_offsets` (appends with
// acks=all, the batches to load), and the markers that reach them.

GroupLogAccess Broker::group_log_access() {
    return GroupLogAccess{
        .append = [this](std::int32_t partition, std::int32_t epoch, protocol::RecordBatch batch,
                         const std::string& transactional_id) {
            return append_group_batch(partition, epoch, std::move(batch), transactional_id);
        },
        .read = [this](std::int32_t partition, std::int32_t epoch) { return read_group_log(partition, epoch); },
        .partition_count =
            [this] {
                const protocol::TopicDescription* topic = topic_description(protocol::consumer_offsets_topic);
                return topic != nullptr ? topic->partitions : 0;
            },
        .in_touch = [this] { return holds_controller_lease(); },
    };
}

std::int32_t Broker::offsets_partition(const Replica& replica) {
    return replica.partition.topic == protocol::consumer_offsets_topic ? replica.partition.partition : -1;
}

GroupAppendResult Broker::append_group_batch(std::int32_t partition, std::int32_t coordinator_epoch,
                                             protocol::RecordBatch batch, const std::string& transactional_id) {
    const protocol::TopicPartition topic_partition{std::string(protocol::consumer_offsets_topic), partition};
    Replica* replica = find(topic_partition);
    if (replica == nullptr || replica->role != ReplicaRole::leader || replica->halted ||
        replica->leader_epoch.value() != coordinator_epoch) {
        return GroupAppendResult{ErrorCode::not_coordinator};
    }
    PartitionAppend append{.answer = protocol::ProducePartitionResponse{.partition = topic_partition},
                           .replica = replica};
    // A TxnOffsetCommit's batch: the coordinator appends it for the producer, so the producer state checks
    // its epoch (a fenced producer is refused) but not its sequence (Kafka's coordinator origin).
    const auto producer_check = [this, replica, &batch] {
        const ErrorCode error = transaction_check(*replica, batch);
        const auto& producers = replica->log.producer_state().producers();
        const auto found = producers.find(batch.producer_id);
        if (error == ErrorCode::none && found != producers.end() && batch.producer_epoch < found->second.epoch) {
            return ErrorCode::invalid_producer_epoch;
        }
        return error;
    };
    append.answer.error = produce_precheck(replica, -1);
    const bool transactional = batch.producer_id.value() >= 0;
    if (append.answer.error == ErrorCode::none && transactional) {
        append.answer.error = producer_check();
    }
    if (append.answer.error == ErrorCode::none && transactional && !transactional_id.empty()) {
        // KIP-890 part 1 for offsets (KAFKA-15449): the first TxnOffsetCommit of a transaction here is
        // verified with the transaction coordinator, or one that arrives after its transaction ended (timed
        // out, aborted by a new coordinator) would stay pending until the producer's next COMMIT applies it.
        const std::uint64_t generation = replica->generation;
        append.answer.error = verify_transaction(*replica, transactional_id, batch);
        if (append.answer.error == ErrorCode::none && replica->generation != generation) {
            append.answer.error = ErrorCode::not_leader_or_follower;
        }
        if (append.answer.error == ErrorCode::none) {
            append.answer.error = producer_check();  // its state may have moved while the coordinator was asked
        }
    }
    if (append.answer.error == ErrorCode::none) {
        append.generation = replica->generation;
        const protocol::ProducerId producer = batch.producer_id;
        append_batch(append, -1, protocol::ProducePartition{topic_partition, std::move(batch)});
        if (transactional) {
            replica->verification_guards.erase(producer);  // the transaction is open here now
        }
        await_append(append, sim::deadline_after(config_.request_timeout));
    }
    // Kafka's mapping of append errors for the coordinator's writes.
    switch (append.answer.error) {
        case ErrorCode::none:
        case ErrorCode::invalid_producer_epoch:
        case ErrorCode::producer_fenced:
        case ErrorCode::request_timed_out: return GroupAppendResult{append.answer.error, append.answer.base_offset};
        case ErrorCode::not_leader_or_follower:
        case ErrorCode::kafka_storage_error:
        case ErrorCode::unknown_topic_or_partition: return GroupAppendResult{ErrorCode::not_coordinator};
        case ErrorCode::transaction_coordinator_fenced:
        case ErrorCode::transaction_abortable:  // the verification's answer: the transaction does not hold it
        case ErrorCode::invalid_txn_state: return GroupAppendResult{append.answer.error};
        default: return GroupAppendResult{ErrorCode::coordinator_not_available};
    }
}

std::optional<std::vector<protocol::RecordBatch>> Broker::read_group_log(std::int32_t partition,
                                                                        std::int32_t coordinator_epoch) {
    const protocol::TopicPartition topic_partition{std::string(protocol::consumer_offsets_topic), partition};
    const Replica* replica = find(topic_partition);
    if (replica == nullptr || replica->role != ReplicaRole::leader || replica->halted ||
        replica->leader_epoch.value() != coordinator_epoch) {
        return std::nullopt;
    }
    // Up to the log end, markers included, as Kafka loads.
    ReadResult read = replica->log.read(replica->log.log_start_offset(), replica->log.log_end_offset(),
                                        std::numeric_limits<std::uint64_t>::max(), verify_crc());
    if (read.status == ReadStatus::corrupt) {
        halt(*replica, "corrupt batch in the offsets log");
    }
    return std::move(read.batches);
}

void Broker::complete_group_transaction(const Replica& replica, const protocol::WritableTxnMarker& marker,
                                        protocol::Offset marker_offset) {
    const std::int32_t partition = offsets_partition(replica);
    if (partition < 0) {
        return;
    }
    const auto apply = [this, name = replica.partition.name(), partition, marker, marker_offset] {
        group_coordinator_.on_transaction_marker(partition, marker.producer_id, marker.committed, marker_offset);
        if (marker.committed) {
            sim::witness().announce(sim::Moment{
                .name = sim::moments::group_offsets_committed,
                .node = node_.name(),
                .peer = sim::Simulation::current().node(config_.addresses.controller).name(),
                .partition = name});
        }
    };
    if (!config_.bugs.kafka_17507) {
        apply();
        return;
    }
    // KAFKA-17507: the marker is answered while the coordinator has yet to apply it.
    node_.spawn("group-marker-late", [this, apply] {
        sim::sleep(std::chrono::milliseconds(node_.random().below(1000)));
        apply();
    });
}

}  // namespace eosim::broker_core
