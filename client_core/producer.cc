#include "client_core/producer.h"

#include "sim/hash.h"
#include "sim/simulation.h"

namespace eosim::client_core {

using protocol::ErrorCode;

namespace {

std::string acks_name(std::int16_t acks) { return acks == -1 ? "all" : std::to_string(acks); }

// Errors after which the batch may or may not have been written.
bool ambiguous(ErrorCode error) {
    return error == ErrorCode::request_timed_out || error == ErrorCode::not_enough_replicas_after_append ||
           error == ErrorCode::not_leader_or_follower || error == ErrorCode::network_exception;
}

}  // namespace

Producer::Producer(sim::Node& node, ProducerConfig config, protocol::ClusterAddresses addresses,
                   HistoryRecorder& history)
    : node_(node), config_(std::move(config)), metadata_(node, std::move(addresses), config_.request_timeout),
      history_(history) {}

std::int32_t Producer::choose_partition(const std::string& topic, const std::optional<std::string>& key) {
    while (metadata_.partition_count(topic) == 0) {
        if (!metadata_.refresh()) {
            sim::sleep(config_.retry_backoff);
        }
    }
    const std::int32_t count = metadata_.partition_count(topic);
    if (key) {
        return static_cast<std::int32_t>(sim::hash_string(*key) % static_cast<std::uint64_t>(count));
    }
    if (sticky_partition_ < 0 || sticky_count_ >= config_.batch_records_max) {
        sticky_partition_ = static_cast<std::int32_t>(node_.random().below(static_cast<std::uint64_t>(count)));
        sticky_count_ = 0;
    }
    ++sticky_count_;
    return sticky_partition_;
}

sim::Future<SendOutcome> Producer::send(const std::string& topic, std::optional<std::string> key, std::string value) {
    const protocol::TopicPartition partition{topic, choose_partition(topic, key)};
    ClientOperation invoke;
    invoke.time = sim::now();
    invoke.process = config_.client_id;
    invoke.type = ClientOperation::Type::invoke;
    invoke.f = "send";
    invoke.partition = partition.name();
    invoke.value = value;
    invoke.key = key;
    invoke.acks = acks_name(config_.acks);
    history_.record(invoke);

    auto& slot = queues_[partition];
    if (!slot) {
        slot = std::make_unique<PartitionQueue>();
    }
    PartitionQueue& queue = *slot;
    Pending pending{protocol::Record{std::move(key), std::move(value), sim::to_ns(sim::now()) / 1'000'000}, sim::Promise<SendOutcome>()};
    sim::Future<SendOutcome> future = pending.promise.future();
    queue.queue.push_back(std::move(pending));
    ++pending_;
    queue.changed.notify_all();
    if (!queue.sender_started) {
        queue.sender_started = true;
        node_.spawn("producer-sender", [this, partition] { run_sender(partition); });
    }
    return future;
}

void Producer::run_sender(protocol::TopicPartition partition) {
    PartitionQueue& queue = *queues_.at(partition);
    while (true) {
        (void)queue.changed.wait_until(sim::Time::max(), [&queue, this] {
            return !queue.queue.empty() && queue.in_flight < config_.max_in_flight;
        });
        sim::sleep(config_.linger);
        std::vector<Pending> batch;
        while (!queue.queue.empty() && batch.size() < config_.batch_records_max) {
            batch.push_back(std::move(queue.queue.front()));
            queue.queue.pop_front();
        }
        if (batch.empty()) {
            continue;
        }
        ++queue.in_flight;
        node_.spawn("producer-deliver", [this, partition, batch = std::make_shared<std::vector<Pending>>(std::move(batch))] {
            deliver(partition, std::move(*batch));
        });
    }
}

void Producer::deliver(protocol::TopicPartition partition, std::vector<Pending> batch) {
    const sim::Time deadline = sim::deadline_after(config_.delivery_timeout);
    bool maybe_written = false;
    ErrorCode last_error = ErrorCode::request_timed_out;
    while (sim::now() < deadline) {
        const std::optional<protocol::BrokerId> leader = metadata_.leader(partition);
        if (!leader) {
            (void)metadata_.refresh();
            sim::sleep(config_.retry_backoff);
            continue;
        }
        protocol::ProduceRequest request;
        request.partition = partition;
        request.acks = config_.acks;
        request.timeout = config_.request_timeout;
        for (const Pending& pending : batch) {
            request.batch.records.push_back(pending.record);
        }
        sim::Result<sim::Message> result =
            metadata_.client(*leader).call(sim::make_message(request), config_.request_timeout + std::chrono::milliseconds(200));
        if (!result) {
            maybe_written = true;  // the request may have arrived
            last_error = ErrorCode::network_exception;
        } else {
            const auto& response = result->as<protocol::ProduceResponse>();
            if (response.error == ErrorCode::none) {
                complete(partition, batch, SendOutcome{SendOutcome::Status::ok, response.base_offset, ErrorCode::none});
                return;
            }
            last_error = response.error;
            maybe_written = maybe_written || ambiguous(response.error);
            if (!protocol::retriable(response.error)) {
                break;
            }
        }
        (void)metadata_.refresh();
        sim::sleep(config_.retry_backoff);
    }
    complete(partition, batch,
             SendOutcome{maybe_written ? SendOutcome::Status::unknown : SendOutcome::Status::failed, protocol::Offset(-1),
                         last_error});
}

void Producer::complete(const protocol::TopicPartition& partition, std::vector<Pending>& batch, const SendOutcome& outcome) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
        Pending& pending = batch[i];
        ClientOperation done;
        done.time = sim::now();
        done.process = config_.client_id;
        done.f = "send";
        done.partition = partition.name();
        done.value = pending.record.value;
        done.key = pending.record.key;
        done.acks = acks_name(config_.acks);
        SendOutcome result = outcome;
        if (outcome.status == SendOutcome::Status::ok) {
            done.type = ClientOperation::Type::ok;
            if (config_.acks != 0) {
                result.offset = protocol::Offset(outcome.offset.value() + static_cast<std::int64_t>(i));
                done.offset = result.offset.value();
            }
        } else {
            done.type = outcome.status == SendOutcome::Status::failed ? ClientOperation::Type::fail : ClientOperation::Type::info;
            done.error = std::string(protocol::error_name(outcome.error));
        }
        history_.record(done);
        pending.promise.set_value(result);
        --pending_;
    }
    PartitionQueue& queue = *queues_.at(partition);
    --queue.in_flight;
    queue.changed.notify_all();
}

}  // namespace eosim::client_core
