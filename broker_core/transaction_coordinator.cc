#include "broker_core/transaction_coordinator.h"

#include <algorithm>

#include "protocol/coordinator.h"
#include "protocol/topics.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::ErrorCode;
using protocol::ProducerEpoch;
using protocol::ProducerId;
using protocol::TopicPartition;
using State = TransactionState;

namespace {

// The broker's wall clock (Kafka's time.milliseconds()) for transaction start and update times, the timeout: clock faults step and skew it.
std::int64_t now_ms() {
    return sim::to_ns(sim::local_now()) / 1'000'000;
}

bool in_states(State state, std::initializer_list<State> states) {
    return std::find(states.begin(), states.end(), state) != states.end();
}

// Kafka's isValidProducerId for an InitProducerId that names the producer's id and epoch: the id is new,
// or it is the current one, or the previous one retried after its epochs ran out (a rotation).
bool valid_producer_id(const TransactionMetadata& metadata, ProducerId producer_id, ProducerEpoch epoch) {
    return metadata.producer_epoch() == protocol::no_producer_epoch || producer_id == metadata.producer_id() ||
           (producer_id == metadata.previous_producer_id() && TransactionMetadata::epoch_exhausted(epoch));
}

// A producer epoch newer than the one this coordinator holds can only come from a newer coordinator of the
// id: this one was deposed and has not heard yet (its broker's metadata is stale). It answers
// NOT_COORDINATOR, so the client finds the current one, where Kafka would answer PRODUCER_FENCED
// (docs/kafka-differences.md).
bool stale_coordinator(const TransactionMetadata& metadata, ProducerId producer_id, ProducerEpoch epoch) {
    return producer_id == metadata.producer_id() && metadata.producer_epoch() != protocol::no_producer_epoch &&
           epoch.value() > metadata.producer_epoch().value();
}

}  // namespace

TransactionCoordinator::TransactionCoordinator(sim::Node& node, TransactionCoordinatorConfig config,
                                               TransactionLogAccess access)
    : node_(node), config_(config), access_(std::move(access)) {
    node.spawn("txn-abort-timed-out", [this] { abort_timed_out_loop(); });
}

std::optional<sim::Message> TransactionCoordinator::handle(const sim::Message& request) {
    if (request.is<protocol::InitProducerIdRequest>()) {
        const auto& init = request.as<protocol::InitProducerIdRequest>();
        if (!init.transactional_id) {
            return std::nullopt;  // an idempotent producer's: the broker hands out an id
        }
        return sim::make_message(init_producer_id(init));
    }
    if (request.is<protocol::AddPartitionsToTxnRequest>()) {
        return sim::make_message(add_partitions(request.as<protocol::AddPartitionsToTxnRequest>()));
    }
    if (request.is<protocol::EndTxnRequest>()) {
        return sim::make_message(end_txn(request.as<protocol::EndTxnRequest>()));
    }
    if (request.is<protocol::AddOffsetsToTxnRequest>()) {
        return sim::make_message(add_offsets(request.as<protocol::AddOffsetsToTxnRequest>()));
    }
    return std::nullopt;
}

const TransactionMetadata* TransactionCoordinator::find(const std::string& transactional_id) const {
    for (const auto& [index, partition] : partitions_) {
        const auto found = partition.transactions.find(transactional_id);
        if (found != partition.transactions.end()) {
            return &found->second;
        }
    }
    return nullptr;
}

bool TransactionCoordinator::idle() const {
    return std::all_of(partitions_.begin(), partitions_.end(), [](const auto& entry) {
        const Partition& partition = entry.second;
        return !partition.loading &&
               std::none_of(partition.transactions.begin(), partition.transactions.end(), [](const auto& txn) {
                   return in_states(txn.second.state(), {State::prepare_commit, State::prepare_abort});
               });
    });
}

// ---- where an id lives -----------------------------------------------------------------------------

ErrorCode TransactionCoordinator::place_error(const std::string& transactional_id, Place& place) const {
    const std::int32_t count = access_.partition_count();
    if (count <= 0) {
        return ErrorCode::not_coordinator;
    }
    const std::int32_t index = protocol::coordinator_partition(transactional_id, count);
    const auto found = partitions_.find(index);
    if (found == partitions_.end()) {
        return ErrorCode::not_coordinator;
    }
    if (found->second.loading) {
        return ErrorCode::coordinator_load_in_progress;
    }
    place = Place{index, found->second.generation, found->second.coordinator_epoch};
    return ErrorCode::none;
}

bool TransactionCoordinator::current(const Place& place) const {
    const auto found = partitions_.find(place.partition);
    return found != partitions_.end() && found->second.generation == place.generation && !found->second.loading;
}

TransactionMetadata* TransactionCoordinator::lookup(const Place& place, const std::string& transactional_id) {
    if (!current(place)) {
        return nullptr;
    }
    auto& transactions = partitions_.at(place.partition).transactions;
    const auto found = transactions.find(transactional_id);
    return found != transactions.end() ? &found->second : nullptr;
}

ErrorCode TransactionCoordinator::get_or_create(const Place& place, const std::string& transactional_id,
                                                std::int32_t timeout_ms) {
    if (lookup(place, transactional_id) != nullptr) {
        return ErrorCode::none;
    }
    const protocol::InitProducerIdResponse fresh = access_.new_producer_id();  // may wait for a block of ids
    if (!current(place)) {
        return ErrorCode::not_coordinator;
    }
    if (fresh.error != ErrorCode::none) {
        return ErrorCode::coordinator_not_available;
    }
    auto& transactions = partitions_.at(place.partition).transactions;
    if (!transactions.contains(transactional_id)) {  // another request may have created it meanwhile
        const TransactionTransit initial{.producer_id = fresh.producer_id,
                                         .producer_epoch = protocol::no_producer_epoch,
                                         .transaction_timeout_ms = timeout_ms,
                                         .state = State::empty,
                                         .last_update_ms = now_ms(),
                                         .transaction_version = config_.version};
        transactions.emplace(transactional_id, TransactionMetadata(transactional_id, initial));
    }
    return ErrorCode::none;
}

ErrorCode TransactionCoordinator::log_transition(const Place& place, const std::string& transactional_id,
                                                 const TransactionTransit& transit) {
    if (!current(place)) {
        return ErrorCode::not_coordinator;  // reloaded (or resigned) meanwhile: what was logged is loaded
    }
    const ErrorCode appended = access_.append(place.partition, place.coordinator_epoch,
                                              transaction_log_record(transactional_id, transit, now_ms()));
    TransactionMetadata* metadata = lookup(place, transactional_id);
    if (metadata == nullptr) {
        return ErrorCode::not_coordinator;  // the partition moved: its new coordinator loads what was logged
    }
    if (appended != ErrorCode::none) {
        sim::trace("TxnLogAppendFailed", sim::Severity::warn)
            .detail("transactional_id", transactional_id)
            .detail("state", to_string(transit.state))
            .detail("error", protocol::error_name(appended));
        metadata->cancel_pending_transition();
        return appended;
    }
    const sim::Status completed = metadata->complete_transition(transit);
    EOSIM_ASSERT_MSG(completed.ok(), "a logged transition does not complete: " + completed.error().message());
    sim::trace("TxnTransition")
        .detail("transactional_id", transactional_id)
        .detail("state", to_string(transit.state))
        .detail("producer_id", transit.producer_id)
        .detail("producer_epoch", transit.producer_epoch);
    return ErrorCode::none;
}

// ---- InitProducerId --------------------------------------------------------------------------------

protocol::InitProducerIdResponse TransactionCoordinator::init_producer_id(const protocol::InitProducerIdRequest& request) {
    protocol::InitProducerIdResponse response;
    const std::string& id = *request.transactional_id;
    if (id.empty()) {
        response.error = ErrorCode::invalid_request;
        return response;
    }
    if (request.transaction_timeout_ms <= 0 || request.transaction_timeout_ms > config_.max_timeout_ms) {
        response.error = ErrorCode::invalid_transaction_timeout;
        return response;
    }
    Place place;
    if ((response.error = place_error(id, place)) != ErrorCode::none ||
        (response.error = get_or_create(place, id, request.transaction_timeout_ms)) != ErrorCode::none) {
        return response;
    }
    const std::optional<TransactionTransit> transit = prepare_init(place, id, request, response.error);
    if (!transit) {
        return response;
    }
    if (transit->state == State::prepare_epoch_fence) {
        // An older instance's transaction is ongoing: fence it and abort it; the new instance retries
        // (CONCURRENT_TRANSACTIONS) and then gets its epoch bumped once more.
        TransactionMetadata* metadata = lookup(place, id);
        EOSIM_ASSERT(metadata != nullptr && metadata->apply_epoch_fence(*transit).ok());
        (void)end_transaction(place, id, transit->producer_id, transit->producer_epoch, false, false);
        response.error = ErrorCode::concurrent_transactions;
        return response;
    }
    response.error = log_transition(place, id, *transit);
    if (response.error == ErrorCode::none) {
        response.producer_id = transit->producer_id;
        response.producer_epoch = transit->producer_epoch;
    }
    return response;
}

std::optional<TransactionTransit> TransactionCoordinator::prepare_init(const Place& place, const std::string& id,
                                                                       const protocol::InitProducerIdRequest& request,
                                                                       ErrorCode& error, ProducerId rotate_to) {
    TransactionMetadata* metadata = lookup(place, id);
    const bool expected = request.producer_id != protocol::no_producer_id;
    if (metadata == nullptr) {
        error = ErrorCode::not_coordinator;
    } else if (metadata->pending_transition_in_progress()) {
        error = ErrorCode::concurrent_transactions;
    } else if (expected && stale_coordinator(*metadata, request.producer_id, request.producer_epoch)) {
        error = ErrorCode::not_coordinator;
    } else if (expected && !valid_producer_id(*metadata, request.producer_id, request.producer_epoch)) {
        error = ErrorCode::producer_fenced;
    } else if (metadata->state() == State::ongoing) {
        sim::probe("init-producer-id-fences-ongoing-transaction");
        auto fence = metadata->prepare_fence_producer_epoch();
        error = fence ? ErrorCode::none : to_error_code(static_cast<TransactionErrc>(fence.error().value()));
        return fence ? std::optional(*fence) : std::nullopt;
    } else if (!in_states(metadata->state(), {State::empty, State::complete_commit, State::complete_abort})) {
        error = ErrorCode::concurrent_transactions;  // PrepareCommit, PrepareAbort: the client backs off and retries
    } else if (metadata->producer_epoch_exhausted() &&
               (!expected || request.producer_epoch == metadata->producer_epoch())) {
        if (rotate_to == protocol::no_producer_id) {
            // The new id may take a wait for a block of ids: then every check above runs again, since
            // another request may have moved the metadata meanwhile (Kafka decides under one lock).
            const protocol::InitProducerIdResponse fresh = access_.new_producer_id();
            if (fresh.error != ErrorCode::none) {
                error = ErrorCode::coordinator_not_available;
                return std::nullopt;
            }
            return prepare_init(place, id, request, error, fresh.producer_id);
        }
        auto rotated =
            metadata->prepare_producer_id_rotation(rotate_to, request.transaction_timeout_ms, now_ms(), expected);
        error = rotated ? ErrorCode::none : to_error_code(static_cast<TransactionErrc>(rotated.error().value()));
        return rotated ? std::optional(*rotated) : std::nullopt;
    } else {
        auto bumped = metadata->prepare_increment_producer_epoch(
            request.transaction_timeout_ms, expected ? std::optional(request.producer_epoch) : std::nullopt, now_ms());
        error = bumped ? ErrorCode::none : to_error_code(static_cast<TransactionErrc>(bumped.error().value()));
        return bumped ? std::optional(*bumped) : std::nullopt;
    }
    return std::nullopt;
}

// ---- AddPartitionsToTxn ----------------------------------------------------------------------------

protocol::AddPartitionsToTxnResponse TransactionCoordinator::add_partitions(
    const protocol::AddPartitionsToTxnRequest& request) {
    protocol::AddPartitionsToTxnResponse response;
    if (sim::buggify("slow-add-partitions")) {
        sim::sleep(std::chrono::milliseconds(node_.random().below(400)));  // the client's timeout races it
    }
    const auto answer_all = [&response, &request](ErrorCode error) {
        for (const TopicPartition& partition : request.partitions) {
            response.partitions.push_back(protocol::PartitionError{partition, error});
        }
        return response;
    };
    Place place;
    if ((response.error = place_error(request.transactional_id, place)) != ErrorCode::none) {
        return answer_all(response.error);
    }
    TransactionMetadata* metadata = lookup(place, request.transactional_id);
    if (metadata == nullptr || metadata->producer_id() != request.producer_id) {
        return answer_all(ErrorCode::invalid_producer_id_mapping);
    }
    if (request.verify_only) {
        return verify_partitions(request, *metadata);
    }
    if (stale_coordinator(*metadata, request.producer_id, request.producer_epoch)) {
        return answer_all(ErrorCode::not_coordinator);
    }
    if (metadata->producer_epoch() != request.producer_epoch) {
        return answer_all(ErrorCode::producer_fenced);
    }
    if (metadata->pending_transition_in_progress() ||
        in_states(metadata->state(), {State::prepare_commit, State::prepare_abort})) {
        return answer_all(ErrorCode::concurrent_transactions);
    }
    const std::set<TopicPartition> added(request.partitions.begin(), request.partitions.end());
    if (metadata->state() == State::ongoing &&
        std::includes(metadata->partitions().begin(), metadata->partitions().end(), added.begin(), added.end())) {
        return answer_all(ErrorCode::none);  // already in the transaction
    }
    auto transit = metadata->prepare_add_partitions(added, now_ms(), config_.version);
    if (!transit) {
        return answer_all(to_error_code(static_cast<TransactionErrc>(transit.error().value())));
    }
    return answer_all(log_transition(place, request.transactional_id, *transit));
}

protocol::AddOffsetsToTxnResponse TransactionCoordinator::add_offsets(const protocol::AddOffsetsToTxnRequest& request) {
    const TopicPartition offsets_partition{
        std::string(protocol::consumer_offsets_topic),
        protocol::coordinator_partition(request.group_id, config_.offsets_topic_partitions)};
    const protocol::AddPartitionsToTxnResponse added = add_partitions(protocol::AddPartitionsToTxnRequest{
        request.transactional_id, request.producer_id, request.producer_epoch, {offsets_partition}, false});
    protocol::AddOffsetsToTxnResponse response;
    response.error = added.error != ErrorCode::none || added.partitions.empty() ? added.error
                                                                               : added.partitions.front().error;
    return response;
}

// KIP-890 part 1: a partition leader asks whether the partition is in the producer's ongoing transaction
// before the producer's first transactional append there; nothing changes.
protocol::AddPartitionsToTxnResponse TransactionCoordinator::verify_partitions(
    const protocol::AddPartitionsToTxnRequest& request, TransactionMetadata& metadata) const {
    protocol::AddPartitionsToTxnResponse response;
    ErrorCode all = ErrorCode::none;
    if (stale_coordinator(metadata, request.producer_id, request.producer_epoch)) {
        all = ErrorCode::not_coordinator;
    } else if (metadata.producer_epoch() != request.producer_epoch) {
        all = ErrorCode::producer_fenced;
    } else if (metadata.pending_transition_in_progress() ||
               in_states(metadata.state(), {State::prepare_commit, State::prepare_abort})) {
        all = ErrorCode::concurrent_transactions;
    }
    for (const TopicPartition& partition : request.partitions) {
        ErrorCode error = all;
        if (error == ErrorCode::none &&
            (metadata.state() != State::ongoing || !metadata.partitions().contains(partition))) {
            error = ErrorCode::transaction_abortable;  // not in the transaction: a late write of an ended one
        }
        response.partitions.push_back(protocol::PartitionError{partition, error});
    }
    return response;
}

// ---- EndTxn ----------------------------------------------------------------------------------------

protocol::EndTxnResponse TransactionCoordinator::end_txn(const protocol::EndTxnRequest& request) {
    if (sim::buggify("end-txn-backlog")) {
        // A request that waited in the coordinator's queue past the client's timeout: the client retried it
        // and may have begun its next transaction by the time this one is served (KAFKA-17754).
        sim::sleep(std::chrono::milliseconds(node_.random().below(1500)));
    }
    Place place;
    protocol::EndTxnResponse response;
    if ((response.error = place_error(request.transactional_id, place)) != ErrorCode::none) {
        return response;
    }
    response = end_transaction(place, request.transactional_id, request.producer_id, request.producer_epoch,
                               request.committed, true);
    sim::trace("TxnEndAnswered")
        .detail("transactional_id", request.transactional_id)
        .detail("commit", request.committed)
        .detail("producer_epoch", request.producer_epoch)
        .detail("error", protocol::error_name(response.error))
        .detail("next_epoch", response.producer_epoch);
    return response;
}

protocol::EndTxnResponse TransactionCoordinator::end_transaction(const Place& place, const std::string& id,
                                                                 ProducerId producer_id, ProducerEpoch producer_epoch,
                                                                 bool commit, bool from_client) {
    protocol::EndTxnResponse answer;
    ProducerId next_producer_id = protocol::no_producer_id;
    if (const TransactionMetadata* metadata = lookup(place, id); from_client && metadata != nullptr &&
                                                                 supports_epoch_bump(config_.version) &&
                                                                 metadata->producer_epoch_exhausted()) {
        // The bump of this EndTxn reaches 32767: the producer goes on with a new producer id. (A fence
        // never waits here: its epoch is already applied, and nothing may come between it and its abort.)
        const protocol::InitProducerIdResponse fresh = access_.new_producer_id();
        if (fresh.error != ErrorCode::none) {
            answer.error = ErrorCode::coordinator_not_available;
            return answer;
        }
        next_producer_id = fresh.producer_id;
    }
    const std::optional<TransactionTransit> transit =
        prepare_end(place, id, {producer_id, producer_epoch, next_producer_id}, commit, from_client, answer);
    if (transit) {
        answer.error = log_transition(place, id, *transit);
    }
    if (!transit || answer.error != ErrorCode::none) {
        if (TransactionMetadata* metadata = lookup(place, id); metadata != nullptr && !from_client) {
            metadata->mark_failed_epoch_fence();  // the next fence must not bump again (KAFKA-9666)
        }
        return answer;
    }
    const bool rotated = transit->next_producer_id != protocol::no_producer_id;
    answer.producer_id = rotated ? transit->next_producer_id : transit->producer_id;
    answer.producer_epoch = rotated ? ProducerEpoch(0) : transit->producer_epoch;
    sim::witness().announce(sim::Moment{
        .name = sim::moments::txn_prepared,
        .node = node_.name(),
        .partition = protocol::TopicPartition{std::string(protocol::transaction_state_topic), place.partition}.name()});
    start_markers(place, id, *transit);
    return answer;
}

std::optional<TransactionTransit> TransactionCoordinator::prepare_end(const Place& place, const std::string& id,
                                                                      const EndingProducer& producer, bool commit,
                                                                      bool from_client,
                                                                      protocol::EndTxnResponse& answer) {
    const ProducerId producer_id = producer.producer_id;
    const ProducerEpoch epoch = producer.producer_epoch;
    TransactionMetadata* metadata = lookup(place, id);
    if (metadata == nullptr) {
        answer.error = current(place) ? ErrorCode::invalid_producer_id_mapping : ErrorCode::not_coordinator;
        return std::nullopt;
    }
    if (from_client && stale_coordinator(*metadata, producer_id, epoch)) {
        answer.error = ErrorCode::not_coordinator;
        return std::nullopt;
    }
    const bool v2 = supports_epoch_bump(config_.version);
    const bool fence = !from_client;  // the coordinator's own abort, with the epoch it fenced with
    const std::int32_t current_epoch = metadata->producer_epoch().value();
    const bool retry_on_overflow = v2 && !fence && metadata->previous_producer_id() == producer_id &&
                                   epoch.value() == producer_epoch_max - 1 && current_epoch == 0;
    const bool retry_on_bump = v2 && !fence && current_epoch == epoch.value() + 1;
    // Version 2 tells a retry from the next transaction's request by the epoch: in a Prepare state only the
    // retry of the EndTxn that bumped it is valid; the same epoch there is the next transaction's request.
    bool valid_epoch = fence || epoch.value() == current_epoch;
    if (v2 && !fence) {
        switch (metadata->state()) {
            case State::prepare_commit:
            case State::prepare_abort: valid_epoch = retry_on_bump; break;
            case State::complete_commit:
            case State::complete_abort: valid_epoch = valid_epoch || retry_on_bump || retry_on_overflow; break;
            default: break;
        }
    }
    // Version 1 cannot tell a retry from the next transaction's request: the same epoch is a retry.
    const bool retry = v2 ? retry_on_bump || retry_on_overflow : epoch.value() == current_epoch;
    const bool pending =
        metadata->pending_transition_in_progress() && metadata->pending_state() != State::prepare_epoch_fence;
    if (pending && !config_.kafka_18464) {
        answer.error = ErrorCode::concurrent_transactions;  // first, so that the pending transition completes
    } else if (metadata->producer_id() != producer_id && !retry_on_overflow) {
        answer.error = ErrorCode::invalid_producer_id_mapping;
    } else if (!valid_epoch) {
        answer.error = ErrorCode::producer_fenced;
    } else if (pending) {
        answer.error = ErrorCode::concurrent_transactions;
    } else {
        return transition_for_end(*metadata, producer.next_producer_id, commit, retry, answer);
    }
    return std::nullopt;
}

std::optional<TransactionTransit> TransactionCoordinator::transition_for_end(TransactionMetadata& metadata,
                                                                             ProducerId next_producer_id, bool commit,
                                                                             bool retry,
                                                                             protocol::EndTxnResponse& answer) const {
    const bool v2 = supports_epoch_bump(config_.version);
    const auto end = [&](State target, bool no_partition_added) -> std::optional<TransactionTransit> {
        auto transit =
            metadata.prepare_abort_or_commit(target, config_.version, next_producer_id, now_ms(), no_partition_added);
        if (!transit) {
            answer.error = to_error_code(static_cast<TransactionErrc>(transit.error().value()));
            return std::nullopt;
        }
        return *transit;
    };
    const auto answer_with = [&](ErrorCode error) -> std::optional<TransactionTransit> {
        answer.error = error;
        if (error == ErrorCode::none) {  // a retry of an EndTxn that was done: the epoch it gave
            answer.producer_id = metadata.producer_id();
            answer.producer_epoch = metadata.producer_epoch();
        }
        return std::nullopt;
    };
    switch (metadata.state()) {
        case State::ongoing: return end(commit ? State::prepare_commit : State::prepare_abort, false);
        case State::complete_commit:
            if (commit) {
                if (retry) {
                    sim::probe("end-txn-retry-answered-after-completion");
                }
                return answer_with(retry ? ErrorCode::none : ErrorCode::invalid_txn_state);
            }
            return retry || !v2 ? answer_with(ErrorCode::invalid_txn_state) : end(State::prepare_abort, true);
        case State::complete_abort:
            if (!commit) {
                return retry ? answer_with(ErrorCode::none)
                             : (v2 ? end(State::prepare_abort, true) : answer_with(ErrorCode::invalid_txn_state));
            }
            // A commit of the producer's epoch before an abort the coordinator made (a timeout, a fence):
            // fenced, as Kafka answers since KAFKA-20785.
            sim::probe("commit-after-coordinator-abort-fenced");
            return answer_with(retry && v2 ? ErrorCode::producer_fenced : ErrorCode::invalid_txn_state);
        case State::prepare_commit:
            return answer_with(commit ? ErrorCode::concurrent_transactions : ErrorCode::invalid_txn_state);
        case State::prepare_abort:
            if (!commit) {
                return answer_with(ErrorCode::concurrent_transactions);
            }
            return answer_with(retry && v2 ? ErrorCode::producer_fenced : ErrorCode::invalid_txn_state);
        case State::empty:
            return !commit && v2 ? end(State::prepare_abort, true) : answer_with(ErrorCode::invalid_txn_state);
        case State::prepare_epoch_fence:
        case State::dead: return answer_with(ErrorCode::invalid_txn_state);
    }
    return answer_with(ErrorCode::invalid_txn_state);
}

void TransactionCoordinator::fence_and_abort(const Place& place, const std::string& id) {
    TransactionMetadata* metadata = lookup(place, id);
    if (metadata == nullptr || metadata->state() != State::ongoing || metadata->pending_transition_in_progress()) {
        return;
    }
    auto fence = metadata->prepare_fence_producer_epoch();
    if (!fence) {
        return;
    }
    EOSIM_ASSERT(metadata->apply_epoch_fence(*fence).ok());
    sim::trace("TxnTimedOut")
        .detail("transactional_id", id)
        .detail("producer_id", fence->producer_id)
        .detail("producer_epoch", fence->producer_epoch);
    (void)end_transaction(place, id, fence->producer_id, fence->producer_epoch, false, false);
}

// ---- markers -----------------------------------------------------------------------------------------

void TransactionCoordinator::start_markers(const Place& place, const std::string& id, const TransactionTransit& prepared) {
    TransactionMetadata* metadata = lookup(place, id);
    EOSIM_ASSERT_MSG(metadata != nullptr, "markers of a transaction the coordinator does not hold");
    // Until the completion is logged, every other change of the transaction is refused: an EndTxn, even of
    // the producer's new epoch, is answered CONCURRENT_TRANSACTIONS (KAFKA-18464).
    sim::Result<TransactionTransit> complete = metadata->prepare_complete(now_ms());
    if (!complete) {
        sim::trace("TxnCompleteRefused", sim::Severity::warn).detail("transactional_id", id);
        return;
    }
    node_.spawn("txn-markers", [this, place, id, prepared, complete = *complete] {
        write_markers(place, id, prepared, complete);
    });
}

void TransactionCoordinator::write_markers(Place place, std::string id, TransactionTransit transit,
                                           TransactionTransit complete) {
    std::set<TopicPartition> left = transit.partitions;
    bool give_up = false;
    while (!left.empty()) {
        if (!current(place)) {
            return;  // the new coordinator finishes it
        }
        left = send_markers(place, id, transit, std::move(left), give_up);
        if (give_up) {
            // The completion stays pending, as in Kafka: a newer coordinator or epoch owns the transaction.
            sim::trace("TxnMarkersAbandoned", sim::Severity::warn).detail("transactional_id", id);
            return;
        }
        if (!left.empty()) {
            sim::sleep(config_.marker_retry_backoff);
        }
    }
    complete_transaction(place, id, std::move(complete));
}

std::set<TopicPartition> TransactionCoordinator::send_markers(const Place& place, const std::string& id,
                                                              const TransactionTransit& transit,
                                                              std::set<TopicPartition> left, bool& give_up) {
    std::map<protocol::BrokerId, std::vector<TopicPartition>> by_leader;
    for (const TopicPartition& partition : left) {
        const protocol::BrokerId leader = access_.leader_of(partition);
        if (leader != protocol::no_broker) {
            by_leader[leader].push_back(partition);
        }
    }
    for (const auto& [leader, partitions] : by_leader) {
        if (sim::buggify("delayed-txn-markers")) {
            sim::sleep(std::chrono::milliseconds(node_.random().below(200)));  // markers race the next transaction
        }
        const protocol::WriteTxnMarkersRequest request{{protocol::WritableTxnMarker{
            transit.producer_id, transit.producer_epoch, transit.state == State::prepare_commit,
            place.coordinator_epoch, partitions, static_cast<std::int16_t>(transit.transaction_version)}}};
        const sim::Result<sim::Message> result =
            access_.marker_client(leader).call(sim::make_message(request), config_.request_timeout);
        if (!current(place)) {
            return left;
        }
        if (!result) {
            continue;
        }
        for (const protocol::TxnMarkerResult& marker : result->as<protocol::WriteTxnMarkersResponse>().markers) {
            for (const protocol::PartitionError& answer : marker.partitions) {
                if (answer.error == ErrorCode::none) {
                    left.erase(answer.partition);
                    if (TransactionMetadata* metadata = lookup(place, id)) {
                        (void)metadata->remove_partition(answer.partition);
                    }
                } else if (answer.error == ErrorCode::invalid_producer_epoch ||
                           answer.error == ErrorCode::transaction_coordinator_fenced) {
                    give_up = true;  // a newer epoch or coordinator took over: Kafka stops sending too
                }
            }
        }
    }
    return left;
}

void TransactionCoordinator::complete_transaction(const Place& place, const std::string& id,
                                                  TransactionTransit complete) {
    while (true) {
        const ErrorCode error = log_transition(place, id, complete);
        if (error == ErrorCode::none || error == ErrorCode::not_coordinator) {
            return;
        }
        // The failed append cancelled the pending completion: it is pending again at once, so that nothing
        // comes between, and Kafka retries the append.
        TransactionMetadata* metadata = lookup(place, id);
        if (metadata == nullptr) {
            return;
        }
        sim::Result<TransactionTransit> again = metadata->prepare_complete(now_ms());
        if (!again) {
            sim::trace("TxnCompleteRefused", sim::Severity::warn).detail("transactional_id", id);
            return;
        }
        complete = *again;
        sim::sleep(config_.marker_retry_backoff);
    }
}

// ---- loading, timeouts -----------------------------------------------------------------------------

void TransactionCoordinator::on_election(std::int32_t partition, std::int32_t coordinator_epoch) {
    Partition& loaded = partitions_[partition];
    loaded = Partition{.coordinator_epoch = coordinator_epoch, .generation = next_generation_++};
    const std::uint64_t generation = loaded.generation;
    sim::trace("TxnCoordinatorElected").detail("partition", partition).detail("coordinator_epoch", coordinator_epoch);
    node_.spawn("txn-load", [this, partition, generation] { load(partition, generation); });
}

void TransactionCoordinator::on_resignation(std::int32_t partition) {
    if (partitions_.erase(partition) > 0) {
        sim::trace("TxnCoordinatorResigned").detail("partition", partition);
    }
}

void TransactionCoordinator::load(std::int32_t partition, std::uint64_t generation) {
    if (sim::buggify("slow-coordinator-load")) {
        sim::sleep(std::chrono::milliseconds(node_.random().below(500)));
    }
    auto found = partitions_.find(partition);
    if (found == partitions_.end() || found->second.generation != generation) {
        return;
    }
    const std::int32_t epoch = found->second.coordinator_epoch;
    const std::optional<std::vector<protocol::Record>> records = access_.read(partition, epoch);
    found = partitions_.find(partition);
    if (!records || found == partitions_.end() || found->second.generation != generation) {
        return;
    }
    LoadedTransactions loaded = load_transactions(*records);
    const std::vector<std::string> unfinished = transactions_to_complete(loaded);
    found->second.transactions = std::move(loaded.transactions);
    found->second.loading = false;
    sim::trace("TxnCoordinatorLoaded")
        .detail("partition", partition)
        .detail("transactions", found->second.transactions.size())
        .detail("unfinished", unfinished.size());
    if (config_.forgets_markers) {
        return;  // the coordinator-forgets-markers bug switch
    }
    const Place place{partition, generation, epoch};
    for (const std::string& id : unfinished) {
        const TransactionMetadata& metadata = found->second.transactions.at(id);
        sim::probe(metadata.state() == State::prepare_commit ? "coordinator-failover-in-prepare-commit"
                                                             : "coordinator-failover-in-prepare-abort");
        start_markers(place, id, found->second.transactions.at(id).prepare_no_transit());
    }
}

void TransactionCoordinator::abort_timed_out_loop() {
    while (true) {
        sim::sleep(config_.abort_timed_out_interval);
        const std::int64_t now = now_ms();
        std::vector<std::pair<Place, std::string>> expired;
        for (const auto& [index, partition] : partitions_) {
            if (partition.loading) {
                continue;
            }
            for (const auto& [id, metadata] : partition.transactions) {
                if (metadata.state() == State::ongoing && !metadata.pending_transition_in_progress() &&
                    metadata.transaction_start_ms() + metadata.transaction_timeout_ms() < now) {
                    expired.emplace_back(Place{index, partition.generation, partition.coordinator_epoch}, id);
                }
            }
        }
        for (const auto& [place, id] : expired) {
            sim::probe("transaction-aborted-by-timeout");
            node_.spawn("txn-timeout-abort", [this, place, id] { fence_and_abort(place, id); });
        }
    }
}

}  // namespace eosim::broker_core
