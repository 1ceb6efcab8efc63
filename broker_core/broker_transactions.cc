#include "broker_core/broker.h"

#include <algorithm>
#include <limits>

#include "protocol/topics.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::ErrorCode;

// What the transaction coordinator needs of its broker: its partitions of `__transaction_state` (appends
// with acks=all, the records to load), producer ids, leaders and connections for markers.

TransactionLogAccess Broker::transaction_log_access() {
    return TransactionLogAccess{
        .append = [this](std::int32_t partition, std::int32_t epoch,
                         protocol::Record record) { return append_transaction_record(partition, epoch, std::move(record)); },
        .read = [this](std::int32_t partition, std::int32_t epoch) { return read_transaction_log(partition, epoch); },
        .new_producer_id = [this] { return init_producer_id(); },
        .leader_of =
            [this](const protocol::TopicPartition& partition) {
                const auto state = std::find_if(
                    metadata_.partitions.begin(), metadata_.partitions.end(),
                    [&partition](const protocol::PartitionState& s) { return s.partition == partition; });
                return state != metadata_.partitions.end() ? state->leader : protocol::no_broker;
            },
        .partition_count =
            [this] {
                const protocol::TopicDescription* topic = topic_description(protocol::transaction_state_topic);
                return topic != nullptr ? topic->partitions : 0;
            },
        .marker_client = [this](protocol::BrokerId broker) -> sim::RpcClient& { return peer(marker_clients_, broker); },
    };
}

std::int32_t Broker::transaction_state_partition(const Replica& replica) {
    return replica.partition.topic == protocol::transaction_state_topic ? replica.partition.partition : -1;
}

ErrorCode Broker::append_transaction_record(std::int32_t partition, std::int32_t coordinator_epoch,
                                            protocol::Record record) {
    const protocol::TopicPartition topic_partition{std::string(protocol::transaction_state_topic), partition};
    const Replica* replica = find(topic_partition);
    // The leader of a later epoch takes the record too, as Kafka's append does (it checks leadership, not
    // the coordinator's epoch): a broker that leads the partition again (its session expired and it was
    // elected back, its log the same) still holds the coordinator it loaded until the new leadership
    // reloads it, and refusing that coordinator's completion of a transaction would leave the transaction
    // prepared with nothing pending, whose producer's next EndTxn is then answered PRODUCER_FENCED. The
    // coordinator checks that it is still the loaded one before it appends.
    if (replica == nullptr || replica->role != ReplicaRole::leader || replica->halted ||
        replica->leader_epoch.value() < coordinator_epoch) {
        return ErrorCode::not_coordinator;
    }
    protocol::RecordBatch batch;
    batch.records.push_back(std::move(record));
    PartitionAppend append = append_partition(-1, protocol::ProducePartition{topic_partition, std::move(batch)},
                                              std::nullopt);
    await_append(append, sim::deadline_after(config_.request_timeout));
    switch (append.answer.error) {
        case ErrorCode::none: return ErrorCode::none;
        case ErrorCode::not_leader_or_follower:
        case ErrorCode::unknown_topic_or_partition: return ErrorCode::not_coordinator;
        default: return ErrorCode::coordinator_not_available;  // Kafka maps timeouts and too few replicas so
    }
}

std::optional<std::vector<protocol::Record>> Broker::read_transaction_log(std::int32_t partition,
                                                                          std::int32_t coordinator_epoch) {
    const protocol::TopicPartition topic_partition{std::string(protocol::transaction_state_topic), partition};
    Replica* replica = find(topic_partition);
    if (replica == nullptr || replica->role != ReplicaRole::leader || replica->halted ||
        replica->leader_epoch.value() != coordinator_epoch) {
        return std::nullopt;
    }
    // Up to the log end, as Kafka loads: this leader's log is the one its followers will copy.
    const protocol::Offset end = replica->log.log_end_offset();
    if (replica->high_watermark < end) {
        sim::probe("txn-coordinator-loads-above-high-watermark");
    }
    if (!config_.bugs.txn_load_uncommitted) {
        // But not acted on before it is committed. A new leader's tail above the high watermark is lost if
        // it fails before a follower copies it; a PrepareCommit there whose markers went out would commit
        // the transaction in some partitions while the next coordinator, without that record, times the
        // transaction out and aborts it in the others. Kafka's TransactionStateManager completes what it
        // loaded at once (docs/kafka-differences.md); eosim first waits for the high watermark to reach the
        // loaded end, as the append of every transition does.
        const std::uint64_t generation = replica->generation;
        replica->changed.wait_until(sim::Time::max(), [replica, generation, end] {
            return replica->generation != generation || replica->high_watermark >= end;
        });
        if (replica->generation != generation || replica->halted) {
            return std::nullopt;
        }
    }
    const ReadResult read = replica->log.read(replica->log.log_start_offset(), end,
                                              std::numeric_limits<std::uint64_t>::max(), verify_crc());
    if (read.status == ReadStatus::corrupt) {
        halt(*replica, "corrupt batch in the transaction log");
    }
    std::vector<protocol::Record> records;
    for (const protocol::RecordBatch& batch : read.batches) {
        if (!batch.control) {
            records.insert(records.end(), batch.records.begin(), batch.records.end());
        }
    }
    return records;
}

}  // namespace eosim::broker_core
