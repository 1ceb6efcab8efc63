#include "client_core/transactional_producer.h"

#include <algorithm>
#include <deque>
#include <limits>

#include "protocol/coordinator.h"
#include "protocol/partitioner.h"
#include "protocol/sequence.h"
#include "sim/simulation.h"

namespace eosim::client_core {

using protocol::ErrorCode;

std::string_view to_string(TxnResult result) {
    switch (result) {
        case TxnResult::ok: return "ok";
        case TxnResult::abortable: return "abortable";
        case TxnResult::fatal: return "fatal";
        case TxnResult::timed_out: return "timed_out";
    }
    return "fatal";
}

namespace {

// Errors after which a produce attempt may or may not have been written (as Producer judges them).
bool ambiguous(ErrorCode error) {
    return error == ErrorCode::request_timed_out || error == ErrorCode::not_enough_replicas_after_append ||
           error == ErrorCode::not_leader_or_follower || error == ErrorCode::network_exception;
}

// Coordinator errors after which the client looks for the coordinator again.
bool coordinator_moved(ErrorCode error) {
    return error == ErrorCode::not_coordinator || error == ErrorCode::coordinator_not_available ||
           error == ErrorCode::coordinator_load_in_progress;
}

// Errors of a transactional request that end the producer (Kafka's fatal errors).
bool fencing(ErrorCode error) {
    return error == ErrorCode::producer_fenced || error == ErrorCode::invalid_producer_epoch ||
           error == ErrorCode::invalid_producer_id_mapping || error == ErrorCode::invalid_txn_state;
}

std::string error_string(ErrorCode error) { return std::string(protocol::error_name(error)); }

}  // namespace

struct TransactionalProducer::State {
    struct Pending {
        protocol::Record record;
        sim::Promise<SendOutcome> promise;
        sim::Time sent{};  // when send() took it: its delivery timeout counts from here
        std::string txn;
    };
    struct PartitionQueue {
        std::deque<Pending> queue;
        sim::Condition changed;
        bool sender_started = false;
    };
    // How one step against the coordinator ended.
    struct CoordinatorAnswer {
        TxnResult result = TxnResult::ok;
        ErrorCode error = ErrorCode::none;
    };

    State(sim::Node& node_, TransactionalProducerConfig config_, protocol::ClusterAddresses addresses,
          HistoryRecorder& history_)
        : node(node_), config(std::move(config_)), metadata(node_, std::move(addresses), config.request_timeout),
          history(history_) {}

    // History.
    ClientOperation operation(ClientOperation::Type type, std::string f) const;
    // An operation of the open transaction: also its label and the producer's id and epoch.
    ClientOperation transaction_operation(ClientOperation::Type type, std::string f) const;
    void record_send_completion(const protocol::TopicPartition& partition, const Pending& pending,
                                const SendOutcome& outcome, protocol::ProducerEpoch epoch);

    // The coordinator.
    bool find_coordinator(sim::Time deadline);
    sim::Result<sim::Message> call_coordinator(const sim::Message& request, sim::Time deadline);
    // Sends `request` to the coordinator until it is answered NONE (then `on_ok` takes the answer), a
    // fatal code, or `deadline` passes; a coordinator that moved is looked up again, and
    // CONCURRENT_TRANSACTIONS is retried, after the backoff. InitProducerId and EndTxn.
    template <typename Response, typename Request, typename OnOk>
    CoordinatorAnswer call_until_answered(const Request& request, sim::Time deadline, OnOk on_ok);
    CoordinatorAnswer init_producer_id(sim::Time deadline);
    CoordinatorAnswer add_partitions(const std::vector<protocol::TopicPartition>& partitions, sim::Time deadline);
    CoordinatorAnswer end_transaction(bool committed, sim::Time deadline);
    void use_identity(protocol::ProducerId id, protocol::ProducerEpoch epoch);

    // Transaction state.
    void make_fatal(ErrorCode error);
    void make_abortable(ErrorCode error);
    [[nodiscard]] bool failing() const { return fatal || abortable; }
    void notify_senders();
    void end_locally();
    TxnResult finish_abort();

    // Sends.
    std::int32_t choose_partition(const std::string& topic, const std::optional<std::string>& key);
    void run_sender(protocol::TopicPartition partition);
    bool ensure_added(const protocol::TopicPartition& partition, sim::Time deadline);
    void run_adder();
    void deliver(const protocol::TopicPartition& partition, std::vector<Pending> batch);
    // The Produce request of one batch: the same on every attempt (the leader spots a retried duplicate).
    [[nodiscard]] protocol::ProduceRequest produce_request(const protocol::TopicPartition& partition,
                                                           const std::vector<Pending>& batch,
                                                           protocol::ProducerEpoch batch_epoch,
                                                           protocol::Sequence base_sequence) const;
    void complete(const protocol::TopicPartition& partition, std::vector<Pending>& batch, const SendOutcome& outcome,
                  protocol::ProducerEpoch epoch);
    void fail_queued(const protocol::TopicPartition& partition, PartitionQueue& queue);

    sim::Node& node;
    TransactionalProducerConfig config;
    MetadataClient metadata;
    HistoryRecorder& history;
    std::optional<protocol::BrokerId> coordinator;
    std::optional<protocol::BrokerId> group_coordinator;  // of the group whose offsets were sent last
    std::string group_coordinator_of;

    protocol::ProducerId producer_id = protocol::no_producer_id;
    protocol::ProducerEpoch epoch = protocol::no_producer_epoch;
    bool initialized = false;
    bool in_transaction = false;
    bool fatal = false;
    ErrorCode fatal_error = ErrorCode::none;
    // The open transaction cannot commit: queued sends fail at once, commit answers abortable.
    bool abortable = false;
    ErrorCode abortable_error = ErrorCode::none;
    // A send's outcome is unknown or the broker lost the producer's sequence: the next transaction needs
    // a new epoch (KIP-360).
    bool bump_needed = false;
    std::int32_t transactions = 0;
    std::string label;

    // Partitions of the open transaction: added by the coordinator, waiting to be added, and whether an
    // AddPartitionsToTxn was sent at all (the coordinator may have added partitions we never heard of).
    std::set<protocol::TopicPartition> added;
    std::set<protocol::TopicPartition> to_add;
    bool adding = false;
    bool add_sent = false;
    std::size_t sends_open = 0;  // sends of the open transaction not completed yet
    sim::Condition changed;      // any of the above changed

    // Per partition, the next sequence under `epoch` (absent: 0).
    std::map<protocol::TopicPartition, protocol::Sequence> next_sequence;
    std::map<protocol::TopicPartition, std::unique_ptr<PartitionQueue>> queues;
    std::int32_t sticky_partition = -1;
    std::size_t sticky_count = 0;
};

// ---- History ---------------------------------------------------------------------------------------

ClientOperation TransactionalProducer::State::operation(ClientOperation::Type type, std::string f) const {
    ClientOperation op;
    op.time = sim::now();
    op.process = config.client_id;
    op.type = type;
    op.f = std::move(f);
    op.transactional_id = config.transactional_id;
    return op;
}

ClientOperation TransactionalProducer::State::transaction_operation(ClientOperation::Type type, std::string f) const {
    ClientOperation op = operation(type, std::move(f));
    op.txn = label;
    op.producer_id = producer_id.value();
    op.producer_epoch = epoch.value();
    return op;
}

void TransactionalProducer::State::record_send_completion(const protocol::TopicPartition& partition,
                                                          const Pending& pending, const SendOutcome& outcome,
                                                          protocol::ProducerEpoch batch_epoch) {
    ClientOperation done = operation(ClientOperation::Type::ok, "send");
    done.partition = partition.name();
    done.value = pending.record.value;
    done.key = pending.record.key;
    done.acks = "all";
    done.txn = pending.txn;
    done.producer_id = producer_id.value();
    done.producer_epoch = batch_epoch.value();
    if (outcome.attempts > 0) {
        done.attempts = outcome.attempts;
    }
    if (outcome.status == SendOutcome::Status::ok) {
        done.offset = outcome.offset.value();
    } else {
        done.type = outcome.status == SendOutcome::Status::failed ? ClientOperation::Type::fail
                                                                  : ClientOperation::Type::info;
        done.error = error_string(outcome.error);
    }
    history.record(done);
}

// ---- The coordinator -------------------------------------------------------------------------------

bool TransactionalProducer::State::find_coordinator(sim::Time deadline) {
    while (sim::now() < deadline) {
        const protocol::FindCoordinatorRequest request{config.transactional_id, protocol::CoordinatorType::transaction};
        const sim::Result<sim::Message> result = metadata.call_any(sim::make_message(request));
        if (result) {
            const auto& response = result->as<protocol::FindCoordinatorResponse>();
            if (response.error == ErrorCode::none) {
                coordinator = response.coordinator;
                sim::trace("TxnCoordinatorFound")
                    .detail("client", config.client_id)
                    .detail("coordinator", response.coordinator.value());
                return true;
            }
        }
        sim::sleep(config.retry_backoff);  // COORDINATOR_NOT_AVAILABLE (its topic is being made) or no answer
    }
    return false;
}

// One attempt at a coordinator request. No answer: the coordinator is looked for again next time.
sim::Result<sim::Message> TransactionalProducer::State::call_coordinator(const sim::Message& request,
                                                                        sim::Time deadline) {
    if (!coordinator && !find_coordinator(deadline)) {
        return sim::errc::timeout;
    }
    sim::Result<sim::Message> result = metadata.client(*coordinator).call(request, config.request_timeout);
    if (!result) {
        coordinator.reset();
        sim::sleep(config.retry_backoff);
    }
    return result;
}

void TransactionalProducer::State::use_identity(protocol::ProducerId id, protocol::ProducerEpoch new_epoch) {
    if (id != producer_id || new_epoch != epoch) {
        next_sequence.clear();  // a new epoch numbers every partition from 0 again
        bump_needed = false;
    }
    producer_id = id;
    epoch = new_epoch;
    sim::trace("TxnProducerIdentity")
        .detail("client", config.client_id)
        .detail("producer_id", producer_id.value())
        .detail("producer_epoch", epoch.value());
}

template <typename Response, typename Request, typename OnOk>
TransactionalProducer::State::CoordinatorAnswer TransactionalProducer::State::call_until_answered(const Request& request,
                                                                                                 sim::Time deadline,
                                                                                                 OnOk on_ok) {
    while (true) {
        const sim::Result<sim::Message> result = call_coordinator(sim::make_message(request), deadline);
        if (result) {
            const auto& response = result->template as<Response>();
            if (response.error == ErrorCode::none) {
                on_ok(response);
                return {TxnResult::ok, ErrorCode::none};
            }
            if (coordinator_moved(response.error)) {
                coordinator.reset();
            } else if (response.error != ErrorCode::concurrent_transactions) {
                make_fatal(response.error);
                return {TxnResult::fatal, response.error};
            }
            sim::sleep(config.retry_backoff);
        }
        if (sim::now() >= deadline) {
            return {TxnResult::timed_out, ErrorCode::request_timed_out};
        }
    }
}

TransactionalProducer::State::CoordinatorAnswer TransactionalProducer::State::init_producer_id(sim::Time deadline) {
    protocol::InitProducerIdRequest request;
    request.transactional_id = config.transactional_id;
    request.transaction_timeout_ms =
        static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(config.transaction_timeout).count());
    request.producer_id = producer_id;  // no_producer_id at first; the current ones for a bump (KIP-360)
    request.producer_epoch = epoch;
    return call_until_answered<protocol::InitProducerIdResponse>(
        request, deadline, [this](const protocol::InitProducerIdResponse& response) {
            use_identity(response.producer_id, response.producer_epoch);
            bump_needed = false;
            initialized = true;
        });
}

TransactionalProducer::State::CoordinatorAnswer TransactionalProducer::State::add_partitions(
    const std::vector<protocol::TopicPartition>& partitions, sim::Time deadline) {
    std::vector<protocol::TopicPartition> left = partitions;
    while (!left.empty()) {
        if (failing()) {
            return {fatal ? TxnResult::fatal : TxnResult::abortable, fatal ? fatal_error : abortable_error};
        }
        if (sim::now() >= deadline) {
            return {TxnResult::timed_out, ErrorCode::request_timed_out};
        }
        const protocol::AddPartitionsToTxnRequest request{config.transactional_id, producer_id, epoch, left, false};
        add_sent = true;
        const sim::Result<sim::Message> result = call_coordinator(sim::make_message(request), deadline);
        if (!result) {
            continue;
        }
        const auto& response = result->as<protocol::AddPartitionsToTxnResponse>();
        std::vector<protocol::TopicPartition> retry;
        for (const protocol::PartitionError& answer : response.partitions) {
            const ErrorCode error = response.error != ErrorCode::none ? response.error : answer.error;
            if (error == ErrorCode::none) {
                added.insert(answer.partition);
            } else if (error == ErrorCode::concurrent_transactions || coordinator_moved(error)) {
                retry.push_back(answer.partition);
                if (coordinator_moved(error)) {
                    coordinator.reset();
                }
            } else if (fencing(error)) {
                make_fatal(error);
            } else {
                make_abortable(error);
            }
        }
        if (response.partitions.empty() && response.error != ErrorCode::none) {
            retry = left;  // a top-level error without partition answers
            if (coordinator_moved(response.error)) {
                coordinator.reset();
            } else if (fencing(response.error)) {
                make_fatal(response.error);
            } else if (response.error != ErrorCode::concurrent_transactions) {
                make_abortable(response.error);
            }
        }
        changed.notify_all();
        left = std::move(retry);
        if (!left.empty()) {
            // An abort cuts the back-off short: EndTxn goes out at once, as from a version 2 client, which
            // leaves the adding to the partition leaders and has no AddPartitionsToTxn to wait for.
            (void)changed.wait_until(sim::deadline_after(config.retry_backoff), [this] { return failing(); });
        }
    }
    return {TxnResult::ok, ErrorCode::none};
}

TransactionalProducer::State::CoordinatorAnswer TransactionalProducer::State::end_transaction(bool committed,
                                                                                             sim::Time deadline) {
    const protocol::EndTxnRequest request{config.transactional_id, producer_id, epoch, committed};
    return call_until_answered<protocol::EndTxnResponse>(request, deadline, [this](const protocol::EndTxnResponse& response) {
        // Version 2 answers a bumped epoch (a new id once the epoch is exhausted); version 1 the same.
        if (response.producer_id != protocol::no_producer_id) {
            use_identity(response.producer_id, response.producer_epoch);
        }
        end_locally();
    });
}

// ---- Transaction state -----------------------------------------------------------------------------

void TransactionalProducer::State::make_fatal(ErrorCode error) {
    if (!fatal) {
        fatal = true;
        fatal_error = error;
        sim::trace("TxnProducerFatal").detail("client", config.client_id).detail("error", protocol::error_name(error));
    }
    notify_senders();
}

void TransactionalProducer::State::make_abortable(ErrorCode error) {
    if (!abortable) {
        abortable = true;
        abortable_error = error;
        sim::trace("TxnAbortable")
            .detail("client", config.client_id)
            .detail("txn", label)
            .detail("error", protocol::error_name(error));
    }
    notify_senders();
}

// Queued sends fail at once (Kafka fails them with the abortable error); batches in flight finish.
void TransactionalProducer::State::notify_senders() {
    for (auto& [partition, queue] : queues) {
        fail_queued(partition, *queue);
        queue->changed.notify_all();
    }
    changed.notify_all();
}

void TransactionalProducer::State::end_locally() {
    in_transaction = false;
    abortable = false;
    abortable_error = ErrorCode::none;
    added.clear();
    to_add.clear();
    add_sent = false;
    changed.notify_all();
}

// After the transaction's sends are done: EndTxn(abort) if the coordinator may know of the transaction,
// then the epoch bump an unknown send needs when the coordinator did not bump it (version 1).
TxnResult TransactionalProducer::State::finish_abort() {
    if (!add_sent) {
        end_locally();  // the coordinator never heard of this transaction
        return TxnResult::ok;
    }
    const CoordinatorAnswer answer = end_transaction(false, sim::deadline_after(config.max_block));
    if (answer.result != TxnResult::ok || !bump_needed) {
        return answer.result;
    }
    // A failed bump leaves bump_needed: begin_transaction tries again. Only fencing reaches the caller.
    const CoordinatorAnswer bump = init_producer_id(sim::deadline_after(config.max_block));
    return bump.result == TxnResult::fatal ? TxnResult::fatal : TxnResult::ok;
}

// ---- Sends -----------------------------------------------------------------------------------------

std::int32_t TransactionalProducer::State::choose_partition(const std::string& topic,
                                                            const std::optional<std::string>& key) {
    while (metadata.partition_count(topic) == 0) {
        if (!metadata.refresh()) {
            sim::sleep(config.retry_backoff);
        }
    }
    const std::int32_t count = metadata.partition_count(topic);
    if (key) {
        return protocol::kafka_partition(*key, count);
    }
    if (sticky_partition < 0 || sticky_partition >= count || sticky_count >= config.batch_records_max) {
        sticky_partition = static_cast<std::int32_t>(node.random().below(static_cast<std::uint64_t>(count)));
        sticky_count = 0;
    }
    ++sticky_count;
    return sticky_partition;
}

void TransactionalProducer::State::run_sender(protocol::TopicPartition partition) {
    PartitionQueue& queue = *queues.at(partition);
    while (true) {
        (void)queue.changed.wait_until(sim::Time::max(), [&queue] { return !queue.queue.empty(); });
        sim::sleep(config.linger);
        if (queue.queue.empty()) {
            continue;
        }
        const sim::Time deadline = queue.queue.front().sent + config.delivery_timeout;
        if (failing() || !ensure_added(partition, deadline)) {
            fail_queued(partition, queue);
            continue;
        }
        if (queue.queue.empty()) {
            continue;  // failed meanwhile
        }
        std::vector<Pending> batch;
        while (!queue.queue.empty() && batch.size() < config.batch_records_max) {
            batch.push_back(std::move(queue.queue.front()));
            queue.queue.pop_front();
        }
        deliver(partition, std::move(batch));  // one batch of the partition in flight at a time
    }
}

// Waits until the coordinator has added `partition` to the open transaction. false: the transaction
// cannot go on (abortable or fatal), or `deadline` passed (then it is made abortable).
bool TransactionalProducer::State::ensure_added(const protocol::TopicPartition& partition, sim::Time deadline) {
    if (added.contains(partition)) {
        return true;
    }
    to_add.insert(partition);
    if (!adding) {
        adding = true;
        node.spawn("txn-add-partitions", [this] { run_adder(); });
    }
    const bool settled = changed.wait_until(
        deadline, [this, &partition] { return added.contains(partition) || failing() || !in_transaction; });
    if (!settled) {
        make_abortable(ErrorCode::request_timed_out);
    }
    return added.contains(partition) && !failing();
}

// Adds the partitions senders wait for, several in one request, until none is left.
void TransactionalProducer::State::run_adder() {
    sim::sleep(sim::Duration::zero());  // senders waking at this instant join the first request
    while (!to_add.empty() && !failing() && in_transaction) {
        std::vector<protocol::TopicPartition> partitions(to_add.begin(), to_add.end());
        to_add.clear();
        const CoordinatorAnswer answer = add_partitions(partitions, sim::deadline_after(config.delivery_timeout));
        if (answer.result == TxnResult::timed_out) {
            make_abortable(ErrorCode::request_timed_out);
        }
    }
    to_add.clear();
    adding = false;
    changed.notify_all();
}

protocol::ProduceRequest TransactionalProducer::State::produce_request(const protocol::TopicPartition& partition,
                                                                       const std::vector<Pending>& batch,
                                                                       protocol::ProducerEpoch batch_epoch,
                                                                       protocol::Sequence base_sequence) const {
    protocol::ProducePartition data{.partition = partition};
    data.batch.producer_id = producer_id;
    data.batch.producer_epoch = batch_epoch;
    data.batch.base_sequence = base_sequence;  // the same on every retry: the leader spots a duplicate
    data.batch.transactional = true;
    for (const Pending& pending : batch) {
        data.batch.records.push_back(pending.record);
    }
    return protocol::ProduceRequest{.acks = -1,
                                    .transactional_id = config.transactional_id,
                                    .timeout = config.request_timeout,
                                    .partitions = {std::move(data)}};
}

void TransactionalProducer::State::deliver(const protocol::TopicPartition& partition, std::vector<Pending> batch) {
    const sim::Time deadline = batch.front().sent + config.delivery_timeout;
    const protocol::ProducerEpoch batch_epoch = epoch;
    const protocol::Sequence base_sequence = next_sequence.try_emplace(partition, protocol::Sequence(0)).first->second;
    bool maybe_written = false;
    ErrorCode last_error = ErrorCode::request_timed_out;
    std::int32_t attempts = 0;
    while (sim::now() < deadline && !fatal) {
        const std::optional<protocol::BrokerId> leader = metadata.leader(partition);
        if (!leader) {
            (void)metadata.refresh();
            sim::sleep(config.retry_backoff);
            continue;
        }
        ++attempts;
        const sim::Result<sim::Message> result =
            metadata.client(*leader).call(sim::make_message(produce_request(partition, batch, batch_epoch, base_sequence)),
                                          config.request_timeout + std::chrono::milliseconds(200));
        ErrorCode error = ErrorCode::network_exception;  // no answer: it may have arrived
        protocol::Offset offset{-1};
        if (result) {
            const auto& answer = result->as<protocol::ProduceResponse>().partitions.at(0);
            error = answer.error;
            offset = answer.base_offset;
        }
        if (error == ErrorCode::none) {
            next_sequence[partition] =
                protocol::increment_sequence(base_sequence, static_cast<std::int64_t>(batch.size()));
            complete(partition, batch, SendOutcome{SendOutcome::Status::ok, offset, ErrorCode::none, attempts},
                     batch_epoch);
            return;
        }
        last_error = error;
        maybe_written = maybe_written || ambiguous(error);
        if (!protocol::retriable(error)) {
            // A refusal of this attempt says nothing of an earlier one that may have been written.
            const SendOutcome::Status status =
                maybe_written ? SendOutcome::Status::unknown : SendOutcome::Status::failed;
            complete(partition, batch, SendOutcome{status, offset, error, attempts}, batch_epoch);
            bump_needed = bump_needed || maybe_written;
            if (error == ErrorCode::producer_fenced || error == ErrorCode::invalid_producer_epoch) {
                make_fatal(error);
                return;
            }
            if (error == ErrorCode::out_of_order_sequence_number || error == ErrorCode::unknown_producer_id) {
                bump_needed = true;  // the broker lost the producer's sequence
            }
            make_abortable(error);
            return;
        }
        (void)metadata.refresh();
        sim::sleep(config.retry_backoff);
    }
    if (fatal) {
        last_error = fatal_error;
    }
    const SendOutcome::Status status = maybe_written ? SendOutcome::Status::unknown : SendOutcome::Status::failed;
    complete(partition, batch, SendOutcome{status, protocol::Offset(-1), last_error, attempts}, batch_epoch);
    // An attempt may be in the log with this sequence: the next batch's could never follow it for sure.
    bump_needed = bump_needed || maybe_written;
    make_abortable(last_error);
}

void TransactionalProducer::State::complete(const protocol::TopicPartition& partition, std::vector<Pending>& batch,
                                            const SendOutcome& outcome, protocol::ProducerEpoch batch_epoch) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
        SendOutcome result = outcome;
        if (outcome.status == SendOutcome::Status::ok) {
            result.offset = protocol::Offset(outcome.offset.value() + static_cast<std::int64_t>(i));
        }
        record_send_completion(partition, batch[i], result, batch_epoch);
        batch[i].promise.set_value(result);
        EOSIM_ASSERT(sends_open > 0);
        --sends_open;
    }
    changed.notify_all();
}

void TransactionalProducer::State::fail_queued(const protocol::TopicPartition& partition, PartitionQueue& queue) {
    std::vector<Pending> failed;
    while (!queue.queue.empty()) {
        failed.push_back(std::move(queue.queue.front()));
        queue.queue.pop_front();
    }
    if (!failed.empty()) {
        const ErrorCode error = fatal ? fatal_error : (abortable ? abortable_error : ErrorCode::transaction_abortable);
        complete(partition, failed, SendOutcome{SendOutcome::Status::failed, protocol::Offset(-1), error, 0}, epoch);
    }
}

// ---- The public calls ------------------------------------------------------------------------------

TransactionalProducer::TransactionalProducer(sim::Node& node, TransactionalProducerConfig config,
                                             protocol::ClusterAddresses addresses, HistoryRecorder& history)
    : state_(std::make_unique<State>(node, std::move(config), std::move(addresses), history)) {
    EOSIM_ASSERT_MSG(!state_->config.transactional_id.empty(), "a transactional producer needs a transactional id");
}

TransactionalProducer::~TransactionalProducer() = default;

TxnResult TransactionalProducer::init_transactions() {
    State& s = *state_;
    EOSIM_ASSERT_MSG(s.fatal || !s.in_transaction, "init_transactions with a transaction open");
    ClientOperation invoke = s.operation(ClientOperation::Type::invoke, "init-txn");
    invoke.timeout_ms = std::chrono::duration_cast<std::chrono::milliseconds>(s.config.transaction_timeout).count();
    s.history.record(invoke);
    State::CoordinatorAnswer answer{TxnResult::fatal, s.fatal_error};
    if (!s.fatal) {
        answer = s.init_producer_id(sim::deadline_after(s.config.max_block));
    }
    ClientOperation done = s.operation(ClientOperation::Type::ok, "init-txn");
    if (answer.result == TxnResult::ok) {
        done.producer_id = s.producer_id.value();
        done.producer_epoch = s.epoch.value();
    } else {
        // Refused: the coordinator did nothing. Timed out: it may have bumped the epoch.
        done.type = answer.result == TxnResult::fatal ? ClientOperation::Type::fail : ClientOperation::Type::info;
        done.error = answer.result == TxnResult::fatal ? error_string(answer.error) : std::string(to_string(answer.result));
    }
    done.time = sim::now();  // when it completed, after any wait for the coordinator
    s.history.record(done);
    return answer.result;
}

void TransactionalProducer::begin_transaction() {
    State& s = *state_;
    if (s.fatal) {
        return;  // every later call answers fatal
    }
    EOSIM_ASSERT_MSG(s.initialized, "begin_transaction before init_transactions");
    EOSIM_ASSERT_MSG(!s.in_transaction, "begin_transaction with a transaction open");
    bool abortable = false;
    if (s.bump_needed) {
        // The bump after the last abort did not go through: a transaction on the old epoch might not
        // follow an unknown write, so it may not commit unless the bump succeeds now.
        abortable = s.init_producer_id(sim::deadline_after(s.config.max_block)).result != TxnResult::ok;
        if (s.fatal) {
            return;  // fenced meanwhile: no transaction begins
        }
    }
    ++s.transactions;
    s.label = s.config.client_id + "-t" + std::to_string(s.config.first_transaction - 1 + s.transactions);
    s.in_transaction = true;
    s.abortable = false;
    if (abortable && !s.fatal) {
        s.make_abortable(ErrorCode::request_timed_out);
    }
    const ClientOperation begin = s.transaction_operation(ClientOperation::Type::ok, "begin");
    s.history.record(begin);
    sim::trace("TxnBegin").detail("client", s.config.client_id).detail("txn", s.label);
}

sim::Future<SendOutcome> TransactionalProducer::send(const std::string& topic, std::optional<std::string> key,
                                                     std::optional<std::string> value) {
    return send(ProducerRecord{topic, std::nullopt, std::move(key), std::move(value), std::nullopt});
}

sim::Future<SendOutcome> TransactionalProducer::send(ProducerRecord record) {
    State& s = *state_;
    std::optional<std::string>& key = record.key;
    std::optional<std::string>& value = record.value;
    EOSIM_ASSERT_MSG(value || key, "a tombstone needs a key");
    EOSIM_ASSERT_MSG(s.in_transaction || s.fatal, "send outside a transaction");
    EOSIM_ASSERT_MSG(!record.partition || *record.partition >= 0, "a negative partition");
    const protocol::TopicPartition partition{record.topic,
                                             record.partition ? *record.partition : s.choose_partition(record.topic, key)};
    ClientOperation invoke = s.transaction_operation(ClientOperation::Type::invoke, "send");
    invoke.partition = partition.name();
    invoke.value = value;
    invoke.key = key;
    invoke.acks = "all";
    s.history.record(invoke);

    auto& slot = s.queues[partition];
    if (!slot) {
        slot = std::make_unique<State::PartitionQueue>();
    }
    State::PartitionQueue& queue = *slot;
    const std::int64_t timestamp_ms = record.timestamp_ms.value_or(sim::to_ns(sim::now()) / 1'000'000);
    State::Pending pending{protocol::Record{std::move(key), std::move(value), timestamp_ms},
                           sim::Promise<SendOutcome>(), sim::now(), s.label};
    sim::Future<SendOutcome> future = pending.promise.future();
    queue.queue.push_back(std::move(pending));
    ++s.sends_open;
    if (s.failing()) {
        s.fail_queued(partition, queue);  // Kafka fails a send into a doomed transaction at once
        return future;
    }
    queue.changed.notify_all();
    if (!queue.sender_started) {
        queue.sender_started = true;
        s.node.spawn("txn-sender", [&s, partition] { s.run_sender(partition); });
    }
    return future;
}

TxnResult TransactionalProducer::commit_transaction() {
    State& s = *state_;
    EOSIM_ASSERT_MSG(s.in_transaction || s.fatal, "commit_transaction without a transaction");
    const ClientOperation invoke = s.transaction_operation(ClientOperation::Type::invoke, "commit");
    s.history.record(invoke);
    ClientOperation done = invoke;
    (void)s.changed.wait_until(sim::Time::max(), [&s] { return s.sends_open == 0; });
    TxnResult result = TxnResult::ok;
    if (s.failing()) {
        // Nothing goes to the coordinator: the commit definitely did not happen.
        result = s.fatal ? TxnResult::fatal : TxnResult::abortable;
        done.type = ClientOperation::Type::fail;
        done.error = s.fatal ? error_string(s.fatal_error) : std::string(to_string(result));
    } else if (!s.add_sent) {
        s.end_locally();  // nothing was written: there is nothing to commit
        done.type = ClientOperation::Type::ok;
    } else {
        const State::CoordinatorAnswer answer = s.end_transaction(true, sim::deadline_after(s.config.max_block));
        result = answer.result;
        done.type = result == TxnResult::ok ? ClientOperation::Type::ok : ClientOperation::Type::info;
        if (result != TxnResult::ok) {
            done.error = result == TxnResult::fatal ? error_string(answer.error) : std::string(to_string(result));
        }
    }
    done.time = sim::now();  // when it completed, after any wait for the coordinator
    s.history.record(done);
    sim::trace("TxnCommit").detail("client", s.config.client_id).detail("txn", s.label).detail("result", to_string(result));
    return result;
}

TxnResult TransactionalProducer::abort_transaction() {
    State& s = *state_;
    EOSIM_ASSERT_MSG(s.in_transaction || s.fatal, "abort_transaction without a transaction");
    const ClientOperation invoke = s.transaction_operation(ClientOperation::Type::invoke, "abort");
    s.history.record(invoke);
    ClientOperation done = invoke;
    if (!s.fatal) {
        s.make_abortable(ErrorCode::transaction_abortable);  // queued sends fail; in-flight ones finish
    }
    (void)s.changed.wait_until(sim::Time::max(), [&s] { return s.sends_open == 0 && !s.adding; });
    TxnResult result = TxnResult::fatal;
    if (s.fatal) {
        done.type = ClientOperation::Type::fail;  // nothing was sent to the coordinator
        done.error = error_string(s.fatal_error);
    } else {
        result = s.finish_abort();
        done.type = result == TxnResult::ok || !s.in_transaction ? ClientOperation::Type::ok : ClientOperation::Type::info;
        if (done.type == ClientOperation::Type::info) {
            done.error = result == TxnResult::fatal ? error_string(s.fatal_error) : std::string(to_string(result));
        }
    }
    done.time = sim::now();  // when it completed, after any wait for the coordinator
    s.history.record(done);
    sim::trace("TxnAbort").detail("client", s.config.client_id).detail("txn", s.label).detail("result", to_string(result));
    return result;
}

TxnResult TransactionalProducer::send_offsets_to_transaction(
    const std::map<protocol::TopicPartition, protocol::Offset>& offsets, const ConsumerGroupMetadata& group) {
    std::vector<protocol::OffsetCommitPartition> partitions;
    for (const auto& [partition, offset] : offsets) {
        partitions.push_back(protocol::OffsetCommitPartition{partition, offset.value()});
    }
    return send_offsets_to_transaction(partitions, group);
}

TxnResult TransactionalProducer::send_offsets_to_transaction(const std::vector<protocol::OffsetCommitPartition>& offsets,
                                                             const ConsumerGroupMetadata& group) {
    State& s = *state_;
    EOSIM_ASSERT_MSG(s.in_transaction || s.fatal, "send_offsets_to_transaction without a transaction");
    ClientOperation invoke = s.transaction_operation(ClientOperation::Type::invoke, "send-offsets");
    invoke.group = group.group_id;
    invoke.member_id = group.member_id;
    invoke.generation = group.generation_id;
    for (const protocol::OffsetCommitPartition& commit : offsets) {
        invoke.offsets.emplace_back(commit.partition.name(), commit.offset);
    }
    s.history.record(invoke);
    ClientOperation done = invoke;
    const auto finish = [&](TxnResult result, ErrorCode error) {
        done.time = sim::now();
        done.type = result == TxnResult::ok ? ClientOperation::Type::ok
                    : result == TxnResult::timed_out ? ClientOperation::Type::info
                                                     : ClientOperation::Type::fail;
        if (result != TxnResult::ok) {
            done.error = error_string(error);
        }
        s.history.record(done);
        return result;
    };
    if (s.failing()) {
        return finish(s.fatal ? TxnResult::fatal : TxnResult::abortable, s.fatal ? s.fatal_error : s.abortable_error);
    }
    const sim::Time deadline = sim::deadline_after(s.config.max_block);
    s.add_sent = true;  // from now on the coordinator may hold the group's partition: EndTxn must be sent
    const protocol::AddOffsetsToTxnRequest add{s.config.transactional_id, s.producer_id, s.epoch, group.group_id};
    const State::CoordinatorAnswer added =
        s.call_until_answered<protocol::AddOffsetsToTxnResponse>(add, deadline, [](const auto&) {});
    if (added.result != TxnResult::ok) {
        if (!s.fatal) {
            s.make_abortable(added.error);
        }
        return finish(s.fatal ? TxnResult::fatal : TxnResult::abortable, added.error);
    }
    if (s.group_coordinator_of != group.group_id) {
        s.group_coordinator.reset();
        s.group_coordinator_of = group.group_id;
    }
    const protocol::TxnOffsetCommitRequest commit{s.config.transactional_id, group.group_id, s.producer_id, s.epoch,
                                                  group.generation_id, group.member_id, offsets};
    ErrorCode error = ErrorCode::request_timed_out;
    while (sim::now() < deadline) {
        if (!s.group_coordinator) {
            const protocol::FindCoordinatorRequest find{group.group_id, protocol::CoordinatorType::group};
            const sim::Result<sim::Message> found = s.metadata.call_any(sim::make_message(find));
            if (!found || found->as<protocol::FindCoordinatorResponse>().error != ErrorCode::none) {
                sim::sleep(s.config.retry_backoff);
                continue;
            }
            s.group_coordinator = found->as<protocol::FindCoordinatorResponse>().coordinator;
        }
        const sim::Result<sim::Message> result =
            s.metadata.client(*s.group_coordinator).call(sim::make_message(commit), s.config.request_timeout);
        if (!result) {
            s.group_coordinator.reset();
            error = ErrorCode::request_timed_out;
            continue;
        }
        error = ErrorCode::none;
        for (const protocol::PartitionError& answer : result->as<protocol::TxnOffsetCommitResponse>().partitions) {
            if (answer.error != ErrorCode::none) {
                error = answer.error;
                break;
            }
        }
        if (error == ErrorCode::none) {
            return finish(TxnResult::ok, error);
        }
        if (fencing(error)) {
            s.make_fatal(error);
            return finish(TxnResult::fatal, error);
        }
        if (error == ErrorCode::unknown_member_id || error == ErrorCode::illegal_generation) {
            s.make_abortable(error);  // Kafka's CommitFailedException: the consumer lost its partitions
            return finish(TxnResult::abortable, error);
        }
        if (error == ErrorCode::transaction_abortable || error == ErrorCode::invalid_txn_state) {
            s.make_abortable(error);  // the transaction coordinator does not hold the offsets in this transaction
            return finish(TxnResult::abortable, error);
        }
        if (coordinator_moved(error) || error == ErrorCode::request_timed_out) {
            s.group_coordinator.reset();
        }
        sim::sleep(s.config.retry_backoff);
    }
    s.make_abortable(ErrorCode::request_timed_out);
    return finish(TxnResult::timed_out, error);
}

bool TransactionalProducer::in_transaction() const { return state_->in_transaction; }
bool TransactionalProducer::fatal() const { return state_->fatal; }
protocol::ProducerId TransactionalProducer::producer_id() const { return state_->producer_id; }
protocol::ProducerEpoch TransactionalProducer::producer_epoch() const { return state_->epoch; }
const std::string& TransactionalProducer::transaction_label() const { return state_->label; }

}  // namespace eosim::client_core
