#include "client_core/producer.h"

#include <algorithm>
#include <limits>

#include "protocol/partitioner.h"
#include "protocol/sequence.h"
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
      history_(history) {
    EOSIM_ASSERT_MSG(!config_.idempotent || config_.acks == -1, "an idempotent producer needs acks=all");
    EOSIM_ASSERT_MSG(!config_.idempotent || (config_.max_in_flight >= 1 && config_.max_in_flight <= 5),
                     "an idempotent producer keeps 1 to 5 batches in flight");
}

std::int32_t Producer::choose_partition(const std::string& topic, const std::optional<std::string>& key) {
    while (metadata_.partition_count(topic) == 0) {
        if (!metadata_.refresh()) {
            sim::sleep(config_.retry_backoff);
        }
    }
    const std::int32_t count = metadata_.partition_count(topic);
    if (key) {
        return protocol::kafka_partition(*key, count);  // where Kafka's default partitioner puts it
    }
    Sticky& sticky = sticky_[topic];
    if (sticky.partition < 0 || sticky.partition >= count || sticky.count >= config_.batch_records_max) {
        sticky.partition = static_cast<std::int32_t>(node_.random().below(static_cast<std::uint64_t>(count)));
        sticky.count = 0;
    }
    ++sticky.count;
    return sticky.partition;
}

sim::Future<SendOutcome> Producer::send(const std::string& topic, std::optional<std::string> key,
                                       std::optional<std::string> value, std::optional<std::int64_t> timestamp_ms,
                                       std::optional<std::int32_t> to_partition) {
    EOSIM_ASSERT_MSG(value || key, "a tombstone needs a key");
    const protocol::TopicPartition partition{topic, to_partition ? *to_partition : choose_partition(topic, key)};
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
    Pending pending{protocol::Record{std::move(key), std::move(value),
                                     timestamp_ms.value_or(sim::to_ns(sim::now()) / 1'000'000)},
                    sim::Promise<SendOutcome>(), sim::now()};
    sim::Future<SendOutcome> future = pending.promise.future();
    queue.queue.push_back(std::move(pending));
    ++pending_;
    queue.notify();
    if (!queue.sender_started) {
        queue.sender_started = true;
        if (config_.idempotent) {
            node_.spawn("producer-sender", [this, partition] { run_idempotent_sender(partition); });
        } else {
            node_.spawn("producer-sender", [this, partition] { run_sender(partition); });
        }
    }
    return future;
}

// ---- Connections -----------------------------------------------------------------------------------

sim::Result<protocol::ProducePartitionResponse> Producer::produce_to(protocol::BrokerId broker,
                                                                     protocol::ProducePartition data) {
    std::unique_ptr<Connection>& slot = connections_[broker];
    if (!slot) {
        slot = std::make_unique<Connection>();
    }
    Connection& connection = *slot;
    Outgoing outgoing{std::move(data), sim::Promise<protocol::ProducePartitionResponse>()};
    const sim::Future<protocol::ProducePartitionResponse> answer = outgoing.answer.future();
    connection.queue.push_back(std::move(outgoing));
    connection.changed.notify_all();
    if (!connection.draining) {
        connection.draining = true;
        node_.spawn("producer-drain", [this, broker] { drain(broker); });
    }
    return answer.wait();  // every request is answered or fails within its timeout
}

void Producer::drain(protocol::BrokerId broker) {
    Connection& connection = *connections_.at(broker);
    while (!connection.queue.empty()) {
        (void)connection.changed.wait_until(sim::Time::max(),
                                            [&connection, this] { return connection.in_flight < config_.max_in_flight; });
        if (sim::buggify("producer-linger")) {
            sim::sleep(std::chrono::milliseconds(node_.random().below(20)));  // linger.ms: batches pile up
        }
        std::vector<Outgoing> items;
        for (auto it = connection.queue.begin(); it != connection.queue.end();) {
            const bool taken = std::any_of(items.begin(), items.end(), [&it](const Outgoing& item) {
                return item.data.partition == it->data.partition;
            });
            if (taken) {
                ++it;  // one batch per partition per request: it goes in the next one
            } else {
                items.push_back(std::move(*it));
                it = connection.queue.erase(it);
            }
        }
        ++connection.in_flight;
        node_.spawn("producer-request", [this, broker, items = std::make_shared<std::vector<Outgoing>>(std::move(items))] {
            send_request(broker, std::move(*items));
        });
    }
    connection.draining = false;
}

void Producer::send_request(protocol::BrokerId broker, std::vector<Outgoing> items) {
    protocol::ProduceRequest request;
    request.acks = config_.acks;
    request.timeout = config_.request_timeout;
    for (const Outgoing& item : items) {
        request.partitions.push_back(item.data);
    }
    sim::Result<sim::Message> result =
        metadata_.client(broker).call(sim::make_message(request), config_.request_timeout + std::chrono::milliseconds(200));
    Connection& connection = *connections_.at(broker);
    --connection.in_flight;
    connection.changed.notify_all();
    for (Outgoing& item : items) {
        if (!result) {
            item.answer.set_error(result.error());
            continue;
        }
        const auto& answers = result->as<protocol::ProduceResponse>().partitions;
        const auto answer = std::find_if(answers.begin(), answers.end(), [&item](const auto& a) {
            return a.partition == item.data.partition;
        });
        EOSIM_ASSERT_MSG(answer != answers.end(), "a produce answer left out a partition of the request");
        item.answer.set_value(*answer);
    }
}

// ---- Without idempotence --------------------------------------------------------------------------

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
    // The oldest record's delivery timeout, from its send() as in Kafka: time spent waiting for a slot
    // (max_in_flight) counts. A batch past it before its first attempt fails (it was never sent).
    const sim::Time deadline = batch.front().sent + config_.delivery_timeout;
    bool maybe_written = false;
    ErrorCode last_error = ErrorCode::request_timed_out;
    std::int32_t attempts = 0;
    while (sim::now() < deadline) {
        const std::optional<protocol::BrokerId> leader = metadata_.leader(partition);
        if (!leader) {
            (void)metadata_.refresh();
            sim::sleep(config_.retry_backoff);
            continue;
        }
        protocol::ProducePartition data{.partition = partition};
        for (const Pending& pending : batch) {
            data.batch.records.push_back(pending.record);
        }
        ++attempts;
        const sim::Result<protocol::ProducePartitionResponse> result = produce_to(*leader, std::move(data));
        if (!result) {
            maybe_written = true;  // the request may have arrived
            last_error = ErrorCode::network_exception;
        } else {
            const protocol::ProducePartitionResponse& response = *result;
            if (response.error == ErrorCode::none) {
                complete(partition, batch,
                         SendOutcome{SendOutcome::Status::ok, response.base_offset, ErrorCode::none, attempts});
                PartitionQueue& queue = *queues_.at(partition);
                --queue.in_flight;
                queue.notify();
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
                         last_error, attempts});
    PartitionQueue& queue = *queues_.at(partition);
    --queue.in_flight;
    queue.notify();
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
        if (outcome.attempts > 0) {
            done.attempts = outcome.attempts;
        }
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
}

// ---- Idempotence -----------------------------------------------------------------------------------

void Producer::ensure_producer_id(const protocol::TopicPartition& partition, PartitionQueue& queue) {
    while (producer_id_.value() < 0) {
        expire_queued(partition, queue);
        if (initializing_) {
            const sim::Time wake =
                queue.queue.empty() ? sim::Time::max() : queue.queue.front().sent + config_.delivery_timeout;
            (void)producer_id_changed_.wait_until(wake, [this] { return !initializing_; });
            continue;
        }
        initializing_ = true;
        sim::Result<sim::Message> result = metadata_.call_any(sim::make_message(protocol::InitProducerIdRequest{}));
        if (result && result->as<protocol::InitProducerIdResponse>().error == ErrorCode::none) {
            const auto& response = result->as<protocol::InitProducerIdResponse>();
            producer_id_ = response.producer_id;
            epoch_ = response.producer_epoch;
            sim::trace("ProducerIdAssigned")
                .detail("client", config_.client_id)
                .detail("producer_id", producer_id_)
                .detail("producer_epoch", epoch_);
        }
        initializing_ = false;
        producer_id_changed_.notify_all();
        if (producer_id_.value() < 0) {
            sim::sleep(config_.retry_backoff);
        }
    }
}

void Producer::expire_queued(const protocol::TopicPartition& partition, PartitionQueue& queue) {
    const sim::Time now = sim::now();
    std::vector<Pending> expired;
    while (!queue.queue.empty() && now >= queue.queue.front().sent + config_.delivery_timeout) {
        expired.push_back(std::move(queue.queue.front()));
        queue.queue.pop_front();
    }
    if (!expired.empty()) {
        complete(partition, expired, SendOutcome{SendOutcome::Status::failed, protocol::Offset(-1), ErrorCode::request_timed_out});
    }
}

void Producer::run_idempotent_sender(protocol::TopicPartition partition) {
    PartitionQueue& queue = *queues_.at(partition);
    ensure_producer_id(partition, queue);
    queue.epoch = epoch_;
    while (true) {
        const sim::Time now = sim::now();
        // A batch that waited past its delivery timeout leaves unacknowledged: its sequences are a gap
        // the partition's log can never fill, so the epoch must be bumped.
        for (std::size_t i = 0; i < queue.window.size();) {
            Batch& batch = *queue.window[i];
            if (!batch.in_flight && !batch.acked && now >= batch.deadline) {
                give_up(partition, queue, batch);
                queue.window.erase(queue.window.begin() + static_cast<std::ptrdiff_t>(i));
            } else {
                ++i;
            }
        }
        trim(queue);
        if (queue.bump_needed && queue.in_flight == 0) {
            bump_epoch(partition, queue);
        }
        if (!queue.bump_needed && !queue.queue.empty() && std::ssize(queue.window) < config_.max_in_flight) {
            sim::sleep(config_.linger);
            // Records that waited past their delivery timeout before they were batched fail here, never
            // sent and without a sequence (Kafka expires them in the accumulator): no gap, no new epoch.
            std::vector<Pending> expired;
            while (!queue.queue.empty() && sim::now() >= queue.queue.front().sent + config_.delivery_timeout) {
                expired.push_back(std::move(queue.queue.front()));
                queue.queue.pop_front();
            }
            if (!expired.empty()) {
                complete(partition, expired,
                         SendOutcome{SendOutcome::Status::failed, protocol::Offset(-1), ErrorCode::request_timed_out, 0});
                continue;
            }
            auto batch = std::make_shared<Batch>();
            while (!queue.queue.empty() && batch->records.size() < config_.batch_records_max) {
                batch->records.push_back(std::move(queue.queue.front()));
                queue.queue.pop_front();
            }
            batch->epoch = queue.epoch;
            batch->base_sequence = queue.next_sequence;
            queue.next_sequence = protocol::increment_sequence(queue.next_sequence,
                                                               static_cast<std::int64_t>(batch->records.size()));
            // The oldest record's delivery timeout: a broker forgets an idle producer only after
            // producer_id_expiration, which must be longer, so no retry outlives the producer's state.
            batch->deadline = batch->records.front().sent + config_.delivery_timeout;
            queue.window.push_back(std::move(batch));
            continue;
        }
        if (!queue.bump_needed) {
            const std::shared_ptr<Batch> first = first_unacked(queue);
            for (const std::shared_ptr<Batch>& batch : queue.window) {
                if (queue.in_flight >= config_.max_in_flight) {
                    break;
                }
                if (batch->in_flight || batch->acked) {
                    continue;
                }
                // A retry goes only as the first unacknowledged batch, and nothing after it goes
                // before it: the broker takes sequences in order.
                if ((batch->retry && batch != first) || batch->retry_at > now) {
                    break;
                }
                batch->in_flight = true;
                ++queue.in_flight;
                node_.spawn("producer-attempt", [this, partition, batch] { attempt(partition, batch); });
            }
        }
        sim::Time wake = sim::Time::max();
        for (const std::shared_ptr<Batch>& batch : queue.window) {
            if (!batch->in_flight && !batch->acked) {
                wake = std::min({wake, batch->deadline, batch->retry_at > now ? batch->retry_at : sim::Time::max()});
            }
        }
        const std::uint64_t seen = queue.changes;
        (void)queue.changed.wait_until(wake, [&queue, seen] { return queue.changes != seen; });
    }
}

void Producer::attempt(protocol::TopicPartition partition, std::shared_ptr<Batch> batch) {
    PartitionQueue& queue = *queues_.at(partition);
    bool retry = true;
    const std::optional<protocol::BrokerId> leader = metadata_.leader(partition);
    if (!leader) {
        (void)metadata_.refresh();
    } else {
        protocol::ProducePartition data{.partition = partition};
        data.batch.producer_id = producer_id_;
        data.batch.producer_epoch = batch->epoch;
        data.batch.base_sequence = batch->base_sequence;
        for (const Pending& pending : batch->records) {
            data.batch.records.push_back(pending.record);
        }
        ++batch->attempts;
        const sim::Result<protocol::ProducePartitionResponse> result = produce_to(*leader, std::move(data));
        if (!result) {
            batch->maybe_written = true;  // the request may have arrived
            batch->last_error = ErrorCode::network_exception;
            (void)metadata_.refresh();
        } else {
            const protocol::ProducePartitionResponse& response = *result;
            batch->last_error = response.error;
            switch (response.error) {
                case ErrorCode::none: {
                    retry = false;
                    complete(partition, batch->records,
                             SendOutcome{SendOutcome::Status::ok, response.base_offset, ErrorCode::none, batch->attempts});
                    batch->acked = true;
                    trim(queue);
                    break;
                }
                case ErrorCode::out_of_order_sequence_number:
                case ErrorCode::unknown_producer_id:
                case ErrorCode::invalid_producer_epoch:
                    // The broker did not take it. Behind an unacknowledged batch that is expected (that one
                    // goes first); as the first unacknowledged batch it means the broker lost the producer's
                    // sequence (its state expired or went with the log): a new epoch starts again at 0.
                    if (first_unacked(queue) == batch) {
                        queue.bump_needed = true;
                    }
                    break;
                default:
                    batch->maybe_written = batch->maybe_written || ambiguous(response.error);
                    if (!protocol::retriable(response.error)) {
                        retry = false;
                        give_up(partition, queue, *batch);
                        std::erase(queue.window, batch);
                        trim(queue);
                    } else {
                        (void)metadata_.refresh();
                    }
                    break;
            }
        }
    }
    batch->in_flight = false;
    if (retry) {
        batch->retry = true;
        batch->retry_at = sim::deadline_after(config_.retry_backoff);
    }
    --queue.in_flight;
    queue.notify();
}

void Producer::trim(PartitionQueue& queue) {
    while (!queue.window.empty() && queue.window.front()->acked) {
        queue.window.pop_front();
    }
}

std::shared_ptr<Producer::Batch> Producer::first_unacked(const PartitionQueue& queue) {
    for (const std::shared_ptr<Batch>& batch : queue.window) {
        if (!batch->acked) {
            return batch;
        }
    }
    return nullptr;
}

void Producer::give_up(const protocol::TopicPartition& partition, PartitionQueue& queue, Batch& batch) {
    complete(partition, batch.records,
             SendOutcome{batch.maybe_written ? SendOutcome::Status::unknown : SendOutcome::Status::failed,
                         protocol::Offset(-1), batch.last_error, batch.attempts});
    queue.bump_needed = true;
    queue.unresolved = queue.unresolved || batch.maybe_written;
    if (batch.maybe_written) {
        sim::probe("producer-gives-up-on-maybe-written-batch");
    }
}

void Producer::bump_epoch(const protocol::TopicPartition& partition, PartitionQueue& queue) {
    EOSIM_ASSERT_MSG(epoch_.value() < std::numeric_limits<std::int16_t>::max(), "the producer epoch would overflow");
    sim::probe("idempotent-producer-bumps-epoch");
    epoch_ = protocol::ProducerEpoch(static_cast<std::int16_t>(epoch_.value() + 1));
    queue.epoch = epoch_;
    protocol::Sequence sequence{0};
    std::size_t dropped = 0;
    for (auto it = queue.window.begin(); it != queue.window.end();) {
        Batch& batch = **it;
        if (batch.acked) {
            it = queue.window.erase(it);  // done under the old epoch
            continue;
        }
        if (queue.unresolved && batch.maybe_written) {
            // An earlier batch left with its outcome unknown, so this one may be in the log as well:
            // sent again under the new epoch it could be written twice. Its outcome stays unknown.
            complete(partition, batch.records,
                     SendOutcome{SendOutcome::Status::unknown, protocol::Offset(-1), batch.last_error, batch.attempts});
            it = queue.window.erase(it);
            ++dropped;
            continue;
        }
        batch.epoch = queue.epoch;
        batch.base_sequence = sequence;
        batch.retry = false;
        sequence = protocol::increment_sequence(sequence, static_cast<std::int64_t>(batch.records.size()));
        ++it;
    }
    queue.next_sequence = sequence;
    queue.bump_needed = false;
    queue.unresolved = false;
    sim::trace("ProducerEpochBump")
        .detail("client", config_.client_id)
        .detail("partition", partition.name())
        .detail("producer_epoch", queue.epoch)
        .detail("resequenced", queue.window.size())
        .detail("dropped", dropped);
}

}  // namespace eosim::client_core
