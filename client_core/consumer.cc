#include "client_core/consumer.h"

#include <algorithm>

#include "client_core/fetched_records.h"
#include "sim/simulation.h"

namespace eosim::client_core {

using protocol::ErrorCode;
using protocol::LeaderEpoch;
using protocol::Offset;
using protocol::TopicPartition;

Consumer::Consumer(sim::Node& node, ConsumerConfig config, protocol::ClusterAddresses addresses,
                   HistoryRecorder& history)
    : node_(node), config_(std::move(config)), metadata_(node, std::move(addresses), config_.request_timeout),
      history_(history) {}

void Consumer::record_position(const char* f, const TopicPartition& partition, Offset offset) {
    ClientOperation operation;
    operation.time = sim::now();
    operation.process = config_.client_id;
    operation.type = ClientOperation::Type::ok;
    operation.f = f;
    operation.partition = partition.name();
    operation.offset = offset.value();
    history_.record(operation);
}

void Consumer::assign(const TopicPartition& partition, Offset offset) {
    positions_[partition] = Position{.offset = offset};
    record_position("assign", partition, offset);
}

void Consumer::assign(const TopicPartition& partition, Offset offset, LeaderEpoch epoch) {
    assign(partition, offset);
    if (epoch.value() >= 0) {
        positions_.at(partition).offset_epoch = epoch;
        metadata_.update_last_seen_epoch(partition, epoch);
    }
}

void Consumer::unassign(const TopicPartition& partition) {
    const auto found = positions_.find(partition);
    if (found == positions_.end()) {
        return;
    }
    const Offset at = found->second.offset;
    positions_.erase(found);
    record_position("unassign", partition, at);
}

void Consumer::seek(const TopicPartition& partition, Offset offset) {
    seek_to(partition, offset, protocol::no_leader_epoch);
}

void Consumer::seek_to(const TopicPartition& partition, Offset offset, LeaderEpoch epoch) {
    Position& position = positions_.at(partition);
    position.offset = offset;
    position.offset_epoch = epoch;
    ++position.seeks;
    record_position("seek", partition, offset);
}

Offset Consumer::last_high_watermark(const TopicPartition& partition) const {
    const auto found = positions_.find(partition);
    return found != positions_.end() ? found->second.high_watermark : Offset(-1);
}

std::optional<Offset> Consumer::end_offset(const TopicPartition& partition) {
    return end_offset(partition, config_.isolation);
}

std::optional<Offset> Consumer::end_offset(const TopicPartition& partition, protocol::IsolationLevel isolation) {
    const std::optional<protocol::BrokerId> leader = metadata_.leader(partition);
    if (!leader) {
        (void)metadata_.refresh();
        return std::nullopt;
    }
    const protocol::ListOffsetsRequest request{partition, protocol::latest_timestamp, metadata_.leader_epoch(partition),
                                               isolation};
    sim::Result<sim::Message> result = metadata_.client(*leader).call(sim::make_message(request), config_.request_timeout);
    if (!result || result->as<protocol::ListOffsetsResponse>().error != ErrorCode::none) {
        (void)metadata_.refresh();  // not the leader, fenced or unknown epoch, or no answer
        return std::nullopt;
    }
    return result->as<protocol::ListOffsetsResponse>().offset;
}

void Consumer::reset(const TopicPartition& partition) {
    const std::optional<protocol::BrokerId> leader = metadata_.leader(partition);
    if (!leader) {
        return;
    }
    const protocol::ListOffsetsRequest request{
        partition, config_.reset_to_earliest ? protocol::earliest_timestamp : protocol::latest_timestamp,
        metadata_.leader_epoch(partition), config_.isolation};
    sim::Result<sim::Message> result = metadata_.client(*leader).call(sim::make_message(request), config_.request_timeout);
    if (!result) {
        return;
    }
    const auto& response = result->as<protocol::ListOffsetsResponse>();
    if (response.error == ErrorCode::none) {
        seek(partition, response.offset);
    } else if (response.error != ErrorCode::offset_not_available) {
        (void)metadata_.refresh();  // fenced or unknown epoch, not the leader: ask who leads now
    }
}

bool Consumer::validated(const TopicPartition& partition) {
    Position& position = positions_.at(partition);
    const LeaderEpoch current = metadata_.leader_epoch(partition);
    if (current.value() < 0 || position.validated_epoch.value() < 0 || current <= position.validated_epoch ||
        position.offset_epoch.value() < 0) {
        position.validated_epoch = std::max(position.validated_epoch, current);
        return true;  // nothing fetched yet in an older epoch, or nothing to ask about
    }
    const protocol::OffsetsForLeaderEpochRequest request{partition, current, position.offset_epoch};
    sim::Result<sim::Message> result =
        metadata_.client(*metadata_.leader(partition)).call(sim::make_message(request), config_.request_timeout);
    if (!result) {
        return false;
    }
    const auto& response = result->as<protocol::OffsetsForLeaderEpochResponse>();
    if (response.error != ErrorCode::none) {
        (void)metadata_.refresh();
        return false;
    }
    if (response.epoch.value() < 0 || response.end_offset.value() < 0) {
        reset(partition);  // the leader knows nothing of that epoch: start over as the reset policy says
    } else if (response.end_offset < position.offset) {
        // Truncation: the new leader's log diverges below what was consumed (KIP-320). Go back to where
        // the logs agree, as Kafka's consumer does when it has a reset policy.
        sim::probe("consumer-detects-log-truncation");
        sim::trace("ConsumerTruncationDetected")
            .detail("partition", partition.name())
            .detail("position", position.offset)
            .detail("end_offset", response.end_offset);
        seek_to(partition, response.end_offset, response.epoch);
    }
    positions_.at(partition).validated_epoch = current;
    return true;
}

protocol::FetchRequest Consumer::fetch_request(protocol::BrokerId broker, const std::vector<TopicPartition>& partitions) {
    std::vector<protocol::FetchPartition> wanted;
    for (const TopicPartition& partition : partitions) {
        wanted.push_back(protocol::FetchPartition{.partition = partition,
                                                  .current_leader_epoch = metadata_.leader_epoch(partition),
                                                  .fetch_offset = positions_.at(partition).offset,
                                                  .max_bytes = config_.max_partition_fetch_bytes});
    }
    protocol::FetchRequest base;
    base.isolation = config_.isolation;
    base.max_wait = config_.fetch_max_wait;
    base.max_bytes = config_.fetch_max_bytes;
    return connections_[broker].session.build(wanted, base);
}

std::vector<ConsumedRecord> Consumer::poll() {
    std::vector<ConsumedRecord> records;
    std::map<protocol::BrokerId, std::vector<TopicPartition>> by_leader;
    bool refresh = false;
    for (const auto& [partition, position] : positions_) {
        const std::optional<protocol::BrokerId> leader = metadata_.leader(partition);
        if (!leader) {
            refresh = true;
        } else if (validated(partition)) {
            by_leader[*leader].push_back(partition);
        }
    }
    struct Sent {
        protocol::BrokerId broker;
        std::map<TopicPartition, std::uint64_t> seeks;  // each partition's seek count when sent
        sim::Future<sim::Message> answer;
    };
    std::vector<Sent> sent;
    for (const auto& [broker, partitions] : by_leader) {
        Connection& connection = connections_[broker];
        if (!connection.client) {
            connection.client = metadata_.dedicated_client(broker);
        }
        Sent one{.broker = broker};
        for (const TopicPartition& partition : partitions) {
            one.seeks[partition] = positions_.at(partition).seeks;
        }
        one.answer = connection.client->send(sim::make_message(fetch_request(broker, partitions)));
        sent.push_back(std::move(one));
    }
    const sim::Time deadline = sim::deadline_after(config_.fetch_max_wait + config_.request_timeout);
    for (Sent& one : sent) {
        Connection& connection = connections_.at(one.broker);
        sim::Result<sim::Message> result = one.answer.wait_until(deadline);
        if (!result) {
            connection.client->disconnect();  // as a timed-out call does: Kafka's client drops the connection
            connection.session.handle_error();
            refresh = true;
            continue;
        }
        const auto& response = result->as<protocol::FetchResponse>();
        if (!connection.session.handle_response(response)) {
            continue;  // a session error: the next request is full
        }
        for (const protocol::FetchPartitionResponse& answer : response.partitions) {
            refresh = !apply(answer, one.seeks.at(answer.partition), records) || refresh;
        }
    }
    if (refresh || sent.empty()) {
        (void)metadata_.refresh();
        sim::sleep(config_.retry_backoff);
    }
    return records;
}

bool Consumer::apply(const protocol::FetchPartitionResponse& answer, std::uint64_t seeks_when_sent,
                     std::vector<ConsumedRecord>& out) {
    const auto found = positions_.find(answer.partition);
    if (found == positions_.end() || found->second.seeks != seeks_when_sent) {
        // A seek moved the position while the fetch was out: its answer is for the old one. Kafka's
        // consumer drops such a fetch too; applied, it would undo the seek.
        return true;
    }
    Position& position = found->second;
    if (answer.error == ErrorCode::offset_out_of_range) {
        sim::probe("consumer-offset-out-of-range-reset");
        sim::trace("ConsumerOffsetOutOfRange")
            .detail("client", config_.client_id)
            .detail("partition", answer.partition.name())
            .detail("position", position.offset)
            .detail("log_start_offset", answer.log_start_offset)
            .detail("high_watermark", answer.high_watermark);
        reset(answer.partition);
        return true;
    }
    if (answer.error != ErrorCode::none) {
        return false;
    }
    position.high_watermark = answer.high_watermark;
    position.validated_epoch = std::max(position.validated_epoch, answer.leader_epoch);
    ClientOperation operation;
    const FetchedRecords fetched = fetched_records(answer, position.offset, config_.isolation);
    for (const FetchedRecord& record : fetched.records) {
        out.push_back(ConsumedRecord{answer.partition, record.offset, *record.record, record.leader_epoch});
        operation.records.push_back(
            ClientOperation::PolledRecord{record.offset.value(), record.record->value, record.record->key});
    }
    position.offset = fetched.next_offset;
    if (fetched.last_epoch) {
        position.offset_epoch = *fetched.last_epoch;  // markers and dropped batches move it too, as in Kafka
    }
    if (!operation.records.empty()) {
        operation.time = sim::now();
        operation.process = config_.client_id;
        operation.type = ClientOperation::Type::ok;
        operation.f = "poll";
        operation.partition = answer.partition.name();
        if (config_.isolation == protocol::IsolationLevel::read_committed) {
            operation.isolation = "read_committed";
        }
        history_.record(operation);
    }
    return true;
}

}  // namespace eosim::client_core
