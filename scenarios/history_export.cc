#include "scenarios/history_export.h"

#include <algorithm>
#include <limits>

#include "protocol/control_record.h"
#include "sim/assert.h"

namespace eosim::scenarios {
namespace {

model::OpType op_type(client_core::ClientOperation::Type type) {
    switch (type) {
        case client_core::ClientOperation::Type::invoke: return model::OpType::invoke;
        case client_core::ClientOperation::Type::ok: return model::OpType::ok;
        case client_core::ClientOperation::Type::fail: return model::OpType::fail;
        case client_core::ClientOperation::Type::info: return model::OpType::info;
    }
    return model::OpType::info;
}

std::optional<model::Acks> acks_of(const std::optional<std::string>& acks) {
    if (!acks) {
        return std::nullopt;
    }
    if (*acks == "all") {
        return model::Acks::all;
    }
    EOSIM_ASSERT_MSG(*acks == "1" || *acks == "0", "unknown acks " + *acks);
    return *acks == "1" ? model::Acks::leader : model::Acks::none;
}

model::Record record_of(std::int64_t offset, const std::optional<std::string>& value,
                        const std::optional<std::string>& key, bool with_key,
                        std::optional<std::int64_t> timestamp = std::nullopt) {
    return model::Record{.offset = offset, .value = value, .key = with_key ? key : std::nullopt, .timestamp = timestamp};
}

// A control batch's marker as the history names it.
std::optional<std::string> marker_name(const protocol::RecordBatch& batch) {
    const std::optional<protocol::TransactionMarker> marker = protocol::marker_of(batch);
    if (!marker) {
        return std::nullopt;
    }
    return marker->type == protocol::ControlType::commit ? "commit" : "abort";
}

}  // namespace

model::Operation model_operation(const client_core::ClientOperation& operation, std::uint64_t index,
                                 const ExportOptions& options) {
    model::Operation op;
    op.index = index;
    op.time = sim::to_ns(operation.time);
    op.process = operation.process;
    op.type = op_type(operation.type);
    op.f = operation.f;
    if (!operation.partition.empty() || !operation.group) {
        op.partition = operation.partition;  // a group operation without one names its partitions instead
    }
    op.value = operation.value;  // a send without one is a tombstone
    op.key = operation.key;
    op.acks = acks_of(operation.acks);
    op.offset = operation.offset;
    if (operation.f == "poll") {
        const bool with_keys = options.keys_in_records(operation.partition);
        std::vector<model::Record> records;
        records.reserve(operation.records.size());
        for (const client_core::ClientOperation::PolledRecord& record : operation.records) {
            records.push_back(record_of(record.offset, record.value, record.key, with_keys));
        }
        op.records = std::move(records);
    }
    op.error = operation.error;
    op.attempts = operation.attempts;
    op.txn = operation.txn;
    op.transactional_id = operation.transactional_id;
    op.producer_id = operation.producer_id;
    op.producer_epoch = operation.producer_epoch;
    op.isolation = operation.isolation;
    op.timeout_ms = operation.timeout_ms;
    op.group = operation.group;
    op.member_id = operation.member_id;
    if (operation.generation) {
        op.generation = *operation.generation;
    }
    if (operation.group) {
        op.partitions = operation.partitions;
        if (!operation.offsets.empty()) {
            op.offsets = std::map<std::string, std::int64_t>(operation.offsets.begin(), operation.offsets.end());
        }
    }
    return op;
}

model::ReplicaState replica_state(const broker_core::Replica& replica, std::string replica_name, bool leader,
                                  const ExportOptions& options) {
    const broker_core::PartitionLog& log = replica.log;
    const broker_core::ReadResult read =
        log.read(log.log_start_offset(), log.log_end_offset(), std::numeric_limits<std::uint64_t>::max(), false);
    model::ReplicaState state;
    state.partition = replica.partition.name();
    state.replica = std::move(replica_name);
    state.leader = leader;
    state.compacted = log.config().compacted;
    const bool with_keys = options.keys_in_records(state.partition);
    const bool with_timestamps = options.timestamps_in_records(state.partition);
    state.log_start_offset = log.log_start_offset().value();
    std::int64_t end = state.log_start_offset;
    for (const protocol::RecordBatch& batch : read.batches) {
        state.batches.push_back(model::BatchHeader{.base_offset = batch.base_offset.value(),
                                                   .last_offset = batch.last_offset().value(),
                                                   .leader_epoch = batch.leader_epoch.value(),
                                                   .producer_id = batch.producer_id.value(),
                                                   .producer_epoch = batch.producer_epoch.value(),
                                                   .base_sequence = batch.base_sequence.value(),
                                                   .transactional = batch.transactional,
                                                   .control = batch.control,
                                                   .marker = marker_name(batch)});
        // A control batch's record is a transaction marker, never returned to a consumer: the header above
        // lists it, and `records` holds data only (docs/history-format.md).
        for (std::size_t i = 0; !batch.control && i < batch.records.size(); ++i) {
            state.records.push_back(record_of(batch.base_offset.value() + static_cast<std::int64_t>(i),
                                              batch.records[i].value, batch.records[i].key, with_keys,
                                              with_timestamps ? std::optional(batch.records[i].timestamp_ms)
                                                              : std::nullopt));
        }
        end = batch.next_offset().value();
    }
    state.high_watermark = std::min(replica.high_watermark.value(), end);
    state.log_end_offset = end;
    return state;
}

}  // namespace eosim::scenarios
