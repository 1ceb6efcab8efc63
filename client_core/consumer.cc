#include "client_core/consumer.h"

#include "sim/simulation.h"

namespace eosim::client_core {

using protocol::ErrorCode;
using protocol::Offset;

Consumer::Consumer(sim::Node& node, ConsumerConfig config, protocol::ClusterAddresses addresses,
                   HistoryRecorder& history)
    : node_(node), config_(std::move(config)), metadata_(node, std::move(addresses), config_.request_timeout),
      history_(history) {}

void Consumer::record_position(const char* f, const protocol::TopicPartition& partition, Offset offset) {
    ClientOperation operation;
    operation.time = sim::now();
    operation.process = config_.client_id;
    operation.type = ClientOperation::Type::ok;
    operation.f = f;
    operation.partition = partition.name();
    operation.offset = offset.value();
    history_.record(operation);
}

void Consumer::assign(const protocol::TopicPartition& partition, Offset offset) {
    positions_[partition] = offset;
    record_position("assign", partition, offset);
}

void Consumer::seek(const protocol::TopicPartition& partition, Offset offset) {
    positions_[partition] = offset;
    record_position("seek", partition, offset);
}

Offset Consumer::last_high_watermark(const protocol::TopicPartition& partition) const {
    const auto found = high_watermarks_.find(partition);
    return found != high_watermarks_.end() ? found->second : Offset(-1);
}

void Consumer::reset(const protocol::TopicPartition& partition) {
    const std::optional<protocol::BrokerId> leader = metadata_.leader(partition);
    if (!leader) {
        return;
    }
    const protocol::ListOffsetsRequest request{
        partition, config_.reset_to_earliest ? protocol::earliest_timestamp : protocol::latest_timestamp};
    sim::Result<sim::Message> result = metadata_.client(*leader).call(sim::make_message(request), config_.request_timeout);
    if (!result) {
        return;
    }
    const auto& response = result->as<protocol::ListOffsetsResponse>();
    if (response.error == ErrorCode::none) {
        seek(partition, response.offset);
    }
}

std::vector<std::pair<Offset, protocol::Record>> Consumer::poll(const protocol::TopicPartition& partition) {
    std::vector<std::pair<Offset, protocol::Record>> records;
    const std::optional<protocol::BrokerId> leader = metadata_.leader(partition);
    if (!leader) {
        (void)metadata_.refresh();
        sim::sleep(config_.retry_backoff);
        return records;
    }
    auto& connection = connections_[partition];
    if (!connection.second || connection.first != *leader) {
        connection = {*leader, metadata_.dedicated_client(*leader)};
    }
    protocol::FetchRequest request;
    request.partition = partition;
    request.fetch_offset = positions_.at(partition);
    request.max_wait = config_.fetch_max_wait;
    request.max_bytes = config_.fetch_max_bytes;
    sim::Result<sim::Message> result =
        connection.second->call(sim::make_message(request), config_.fetch_max_wait + config_.request_timeout);
    if (!result) {
        (void)metadata_.refresh();
        sim::sleep(config_.retry_backoff);
        return records;
    }
    if (positions_.at(partition) != request.fetch_offset) {
        // A seek moved the position while the fetch was out: its answer is for the old one. Kafka's
        // consumer drops such a fetch too; applied, it would undo the seek.
        return records;
    }
    const auto& response = result->as<protocol::FetchResponse>();
    if (response.error == ErrorCode::offset_out_of_range) {
        reset(partition);
        return records;
    }
    if (response.error != ErrorCode::none) {
        (void)metadata_.refresh();
        sim::sleep(config_.retry_backoff);
        return records;
    }
    high_watermarks_[partition] = response.high_watermark;
    Offset position = positions_.at(partition);
    for (const protocol::RecordBatch& batch : response.batches) {
        for (std::size_t i = 0; i < batch.records.size(); ++i) {
            const Offset offset(batch.base_offset.value() + static_cast<std::int64_t>(i));
            if (offset >= position) {
                records.emplace_back(offset, batch.records[i]);
                position = Offset(offset.value() + 1);
            }
        }
    }
    positions_[partition] = position;
    if (!records.empty()) {
        ClientOperation operation;
        operation.time = sim::now();
        operation.process = config_.client_id;
        operation.type = ClientOperation::Type::ok;
        operation.f = "poll";
        operation.partition = partition.name();
        for (const auto& [offset, record] : records) {
            operation.records.push_back(ClientOperation::PolledRecord{offset.value(), record.value, record.key});
        }
        history_.record(operation);
    }
    return records;
}

}  // namespace eosim::client_core
