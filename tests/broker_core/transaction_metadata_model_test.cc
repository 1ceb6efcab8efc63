// A stateful RapidCheck test of the transaction coordinator's metadata of one transactional id against a
// model of Kafka's transitions: random sequences of prepared transitions (InitProducerId, producer id
// rotation, AddPartitions, EndTxn in versions 1 and 2, the markers' completion, fences, expiry), their
// completion with the prepared transit or a tampered one, cancelled appends, failed fences, removed
// partitions, clock shifts, and reloads from the encoded record (a coordinator failover). After each
// step the metadata must hold exactly the values the model says, and it must accept exactly the calls
// the model allows. Plus properties of the record codec. Reproduce a failure with RC_PARAMS="seed=N"
// build/release/tests/broker_core/broker_core_property_tests --gtest_filter='TransactionMetadata*'.

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "broker_core/transaction_metadata.h"

namespace eosim::broker_core {
namespace {

using protocol::ProducerEpoch;
using protocol::ProducerId;
using protocol::TopicPartition;
using State = TransactionState;
using Errc = TransactionErrc;

constexpr std::int32_t epoch_max = producer_epoch_max;

// ---- the model ------------------------------------------------------------------------------------

// Kafka's transitions (TransactionState's documentation), as edges from -> to.
const std::set<std::pair<State, State>>& kafka_transitions() {
    static const std::set<std::pair<State, State>> edges = {
        {State::empty, State::empty},
        {State::complete_commit, State::empty},
        {State::complete_abort, State::empty},
        {State::empty, State::ongoing},
        {State::ongoing, State::ongoing},
        {State::complete_commit, State::ongoing},
        {State::complete_abort, State::ongoing},
        {State::ongoing, State::prepare_commit},
        {State::ongoing, State::prepare_abort},
        {State::prepare_epoch_fence, State::prepare_abort},
        {State::empty, State::prepare_abort},
        {State::complete_commit, State::prepare_abort},
        {State::complete_abort, State::prepare_abort},
        {State::prepare_commit, State::complete_commit},
        {State::prepare_abort, State::complete_abort},
        {State::ongoing, State::prepare_epoch_fence},
        {State::empty, State::dead},
        {State::complete_commit, State::dead},
        {State::complete_abort, State::dead},
    };
    return edges;
}

bool one_of(State state, std::initializer_list<State> states) {
    return std::set<State>(states).contains(state);
}

struct Model {
    TransactionTransit values;                   // what the metadata must hold
    std::optional<State> pending;                // the pending transition's target
    std::optional<TransactionTransit> prepared;  // the transit the last successful prepare returned
    bool failed_fence = false;
    std::int64_t now_ms = 1000;
    std::int64_t fresh_producer_id = 5000;  // the coordinator's next unused producer id
};

// What a prepare call must give: a transit, or a refusal.
struct Outcome {
    std::optional<Errc> refused;
    TransactionTransit transit;
};

// The checks every prepared transition goes through, in Kafka's order. Epochs computed in 32 bits.
std::optional<Errc> gate(const Model& model, State to, std::int32_t new_epoch) {
    if (model.pending) {
        return Errc::pending_transition;
    }
    if (to != State::dead && (new_epoch < 0 || new_epoch > epoch_max)) {
        return Errc::illegal_producer_epoch;
    }
    if (!kafka_transitions().contains({model.values.state, to})) {
        return Errc::invalid_state;
    }
    return std::nullopt;
}

// The transit of a transition to `to` that changes nothing else yet; the previous id is the current id.
TransactionTransit moved_to(const Model& model, State to) {
    TransactionTransit transit = model.values;
    transit.state = to;
    transit.previous_producer_id = model.values.producer_id;
    return transit;
}

Outcome prepared_or_refused(const Model& model, TransactionTransit transit, std::int32_t new_epoch) {
    if (const std::optional<Errc> refused = gate(model, transit.state, new_epoch)) {
        return {refused, {}};
    }
    transit.producer_epoch = ProducerEpoch(static_cast<std::int16_t>(new_epoch));
    return {std::nullopt, std::move(transit)};
}

void apply_outcome(Model& model, const Outcome& outcome) {
    if (!outcome.refused) {
        model.pending = outcome.transit.state;
        model.prepared = outcome.transit;
    }
}

// ---- Kafka's completeTransitionTo checks, per target state -------------------------------------

bool producer_matches(const Model& model, const TransactionTransit& transit) {
    const TransactionTransit& now = model.values;
    const bool v2 = transit.transaction_version == TransactionVersion::v2;
    const bool v2_complete = v2 && one_of(transit.state, {State::complete_commit, State::complete_abort});
    if (v2_complete && transit.producer_epoch.value() == 0) {  // moved to the next producer id
        return transit.last_producer_epoch == now.last_producer_epoch &&
               transit.previous_producer_id == now.producer_id;
    }
    if (v2 && one_of(transit.state, {State::prepare_commit, State::prepare_abort})) {  // the EndTxn bump
        return transit.last_producer_epoch == now.producer_epoch && transit.producer_id == now.producer_id;
    }
    return transit.producer_epoch == now.producer_epoch && transit.producer_id == now.producer_id;
}

bool completion_allowed(const Model& model, const TransactionTransit& transit) {
    const TransactionTransit& now = model.values;
    const bool same_timeout = transit.transaction_timeout_ms == now.transaction_timeout_ms;
    const std::int32_t epoch = transit.producer_epoch.value();
    switch (transit.state) {
        case State::empty: {
            const bool bump = epoch == now.producer_epoch.value() + 1 ||
                              (epoch == -epoch_max - 1 && now.producer_epoch.value() == epoch_max) ||
                              (epoch == 0 && transit.producer_id != now.producer_id);
            return (epoch == now.producer_epoch.value() || bump) && transit.partitions.empty() &&
                   transit.transaction_start_ms == no_timestamp;
        }
        case State::ongoing: {
            std::set<TopicPartition> both = transit.partitions;
            both.insert(now.partitions.begin(), now.partitions.end());
            return producer_matches(model, transit) && same_timeout && both == transit.partitions;
        }
        case State::prepare_commit:
        case State::prepare_abort: {
            const bool empty_abort = transit.state == State::prepare_abort &&
                                     transit.transaction_version == TransactionVersion::v2 &&
                                     one_of(now.state, {State::empty, State::complete_commit, State::complete_abort});
            return producer_matches(model, transit) && transit.partitions == now.partitions && same_timeout &&
                   (transit.transaction_start_ms == now.transaction_start_ms || empty_abort);
        }
        case State::complete_commit:
        case State::complete_abort:
            return producer_matches(model, transit) && same_timeout && transit.transaction_start_ms != no_timestamp;
        case State::prepare_epoch_fence:
        case State::dead:
            return false;
    }
    return false;
}

// Values a record can hold (eosim refuses the others; Kafka never prepares them).
bool in_record_ranges(const TransactionTransit& transit) {
    return transit.producer_id.value() >= 0 && transit.previous_producer_id.value() >= -1 &&
           transit.next_producer_id.value() >= -1 && transit.producer_epoch.value() >= -1 &&
           transit.last_producer_epoch.value() >= -1 && transit.transaction_timeout_ms >= 0;
}

std::optional<Errc> completion_refusal(const Model& model, const TransactionTransit& transit) {
    if (!model.pending) {
        return Errc::no_pending_transition;
    }
    if (*model.pending != transit.state || !in_record_ranges(transit) || !completion_allowed(model, transit)) {
        return Errc::invalid_transit;
    }
    return std::nullopt;
}

// ---- the system -----------------------------------------------------------------------------------

struct System {
    std::optional<TransactionMetadata> metadata;
};

void expect_model(const Model& model, const System& system) {
    RC_ASSERT(system.metadata->prepare_no_transit() == model.values);
    RC_ASSERT(system.metadata->pending_state() == model.pending);
    RC_ASSERT(system.metadata->has_failed_epoch_fence() == model.failed_fence);
}

void expect_outcome(const Outcome& expected, const sim::Result<TransactionTransit>& actual) {
    if (expected.refused) {
        RC_ASSERT(!actual.ok());
        RC_ASSERT(actual.error() == make_error_code(*expected.refused));
    } else {
        RC_ASSERT(actual.ok());
        RC_ASSERT(*actual == expected.transit);
    }
}

void expect_status(std::optional<Errc> expected, const sim::Status& actual) {
    RC_ASSERT(actual.ok() == !expected.has_value());
    if (expected) {
        RC_ASSERT(actual.error() == make_error_code(*expected));
    }
}

using Command = rc::state::Command<Model, System>;

// Runs a prepare command: the metadata must answer as the model says, and then hold the model's values.
template <typename Derived>
struct PrepareCommand : Command {
    void apply(Model& model) const override {
        const Derived& self = static_cast<const Derived&>(*this);
        const Outcome outcome = self.expected(model);
        apply_outcome(model, outcome);
        self.after(model, outcome);
    }
    void run(const Model& model, System& system) const override {
        const Derived& self = static_cast<const Derived&>(*this);
        expect_outcome(self.expected(model), self.call(*system.metadata));
        Model after = model;
        apply(after);
        expect_model(after, system);
    }
    // What else the call changes in the model (the coordinator's fresh producer ids, the fence flag).
    void after(Model& /*model*/, const Outcome& /*outcome*/) const {}
};

const std::vector<TopicPartition>& partition_universe() {
    static const std::vector<TopicPartition> partitions = {{"a", 0}, {"a", 1}, {"b", 0}, {"__consumer_offsets", 2}};
    return partitions;
}

std::int32_t any_timeout_ms() {
    return *rc::gen::elementOf(std::vector<std::int32_t>{60'000, 30'000});
}

TransactionVersion any_version() {
    return *rc::gen::weightedOneOf<TransactionVersion>(
        {{3, rc::gen::just(TransactionVersion::v2)}, {1, rc::gen::just(TransactionVersion::v1)}});
}

// ---- the prepare commands ---------------------------------------------------------------------------

// InitProducerId: Empty with the epoch bumped, or the same epoch for a retry, or fenced (KIP-360).
struct InitProducerId : PrepareCommand<InitProducerId> {
    std::optional<std::int16_t> expected_epoch;
    std::int32_t timeout_ms = any_timeout_ms();
    std::int64_t now_ms = 0;

    explicit InitProducerId(const Model& model) : now_ms(model.now_ms) {
        const std::int16_t epoch = model.values.producer_epoch.value();
        const std::int16_t last = model.values.last_producer_epoch.value();
        expected_epoch = *rc::gen::elementOf(std::vector<std::optional<std::int16_t>>{
            std::nullopt, epoch, last, static_cast<std::int16_t>(epoch > 0 ? epoch - 1 : 7)});
    }
    Outcome expected(const Model& model) const {
        const std::int32_t epoch = model.values.producer_epoch.value();
        if (epoch >= epoch_max - 1) {
            return {Errc::epochs_exhausted, {}};
        }
        TransactionTransit next = moved_to(model, State::empty);
        std::int32_t new_epoch = epoch + 1;
        if (!expected_epoch) {
            next.last_producer_epoch = protocol::no_producer_epoch;
        } else if (epoch == -1 || *expected_epoch == epoch) {
            next.last_producer_epoch = model.values.producer_epoch;
        } else if (*expected_epoch == model.values.last_producer_epoch.value()) {
            new_epoch = epoch;  // a retry
        } else {
            return {Errc::producer_fenced, {}};
        }
        next.transaction_timeout_ms = timeout_ms;
        next.partitions.clear();
        next.transaction_start_ms = no_timestamp;
        next.last_update_ms = now_ms;
        return prepared_or_refused(model, std::move(next), new_epoch);
    }
    sim::Result<TransactionTransit> call(TransactionMetadata& metadata) const {
        const std::optional<ProducerEpoch> expected =
            expected_epoch ? std::optional(ProducerEpoch(*expected_epoch)) : std::nullopt;
        return metadata.prepare_increment_producer_epoch(timeout_ms, expected, now_ms);
    }
    void show(std::ostream& out) const override {
        out << "InitProducerId(expected " << (expected_epoch ? std::to_string(*expected_epoch) : "none") << ")";
    }
};

// InitProducerId with exhausted epochs: a new producer id at epoch 0.
struct RotateProducerId : PrepareCommand<RotateProducerId> {
    std::int64_t new_producer_id = 0;
    bool record_last_epoch = *rc::gen::arbitrary<bool>();
    std::int32_t timeout_ms = any_timeout_ms();
    std::int64_t now_ms = 0;

    explicit RotateProducerId(const Model& model) : new_producer_id(model.fresh_producer_id), now_ms(model.now_ms) {}
    Outcome expected(const Model& model) const {
        if (one_of(model.values.state, {State::ongoing, State::prepare_commit, State::prepare_abort})) {
            return {Errc::invalid_state, {}};
        }
        TransactionTransit next = moved_to(model, State::empty);
        next.producer_id = ProducerId(new_producer_id);
        next.last_producer_epoch = record_last_epoch ? model.values.producer_epoch : protocol::no_producer_epoch;
        next.transaction_timeout_ms = timeout_ms;
        next.partitions.clear();
        next.transaction_start_ms = no_timestamp;
        next.last_update_ms = now_ms;
        return prepared_or_refused(model, std::move(next), 0);
    }
    void after(Model& model, const Outcome& /*outcome*/) const {
        model.fresh_producer_id = std::max(model.fresh_producer_id, new_producer_id + 1);
    }
    sim::Result<TransactionTransit> call(TransactionMetadata& metadata) const {
        return metadata.prepare_producer_id_rotation(ProducerId(new_producer_id), timeout_ms, now_ms,
                                                     record_last_epoch);
    }
    void show(std::ostream& out) const override {
        out << "RotateProducerId(" << new_producer_id << (record_last_epoch ? ", recording the last epoch)" : ")");
    }
};

struct AddPartitions : PrepareCommand<AddPartitions> {
    std::set<TopicPartition> added;
    TransactionVersion version = any_version();
    std::int64_t now_ms = 0;

    explicit AddPartitions(const Model& model) : now_ms(model.now_ms) {
        for (const TopicPartition& partition : partition_universe()) {
            if (*rc::gen::inRange(0, 3) == 0) {
                added.insert(partition);
            }
        }
    }
    Outcome expected(const Model& model) const {
        TransactionTransit next = moved_to(model, State::ongoing);
        next.partitions.insert(added.begin(), added.end());
        if (one_of(model.values.state, {State::empty, State::complete_commit, State::complete_abort})) {
            next.transaction_start_ms = now_ms;  // the transaction starts
        }
        next.last_update_ms = now_ms;
        next.transaction_version = version;
        return prepared_or_refused(model, std::move(next), model.values.producer_epoch.value());
    }
    sim::Result<TransactionTransit> call(TransactionMetadata& metadata) const {
        return metadata.prepare_add_partitions(added, now_ms, version);
    }
    void show(std::ostream& out) const override {
        out << "AddPartitions(" << added.size() << " partitions, v" << static_cast<int>(version) << ")";
    }
};

// EndTxn: version 2 bumps the epoch, with a next producer id when the coordinator found it exhausted.
struct EndTxn : PrepareCommand<EndTxn> {
    State target = *rc::gen::element(State::prepare_commit, State::prepare_abort);
    TransactionVersion version = any_version();
    std::int64_t next_producer_id = -1;
    bool no_partition_added = false;
    std::int64_t now_ms = 0;

    explicit EndTxn(const Model& model) : now_ms(model.now_ms) {
        if (model.values.producer_epoch.value() >= epoch_max - 1 || *rc::gen::inRange(0, 8) == 0) {
            next_producer_id = model.fresh_producer_id;
        }
        no_partition_added = target == State::prepare_abort && version == TransactionVersion::v2 &&
                             model.values.state != State::ongoing && *rc::gen::inRange(0, 4) != 0;
    }
    Outcome expected(const Model& model) const {
        TransactionTransit next = moved_to(model, target);
        std::int32_t new_epoch = model.values.producer_epoch.value();
        if (version == TransactionVersion::v2) {
            next.last_producer_epoch = model.values.producer_epoch;
            new_epoch += 1;
        }
        next.next_producer_id = ProducerId(next_producer_id);
        next.transaction_start_ms = no_partition_added ? now_ms : model.values.transaction_start_ms;
        next.last_update_ms = now_ms;
        next.transaction_version = version;
        return prepared_or_refused(model, std::move(next), new_epoch);
    }
    void after(Model& model, const Outcome& /*outcome*/) const {
        model.fresh_producer_id = std::max(model.fresh_producer_id, next_producer_id + 1);
    }
    sim::Result<TransactionTransit> call(TransactionMetadata& metadata) const {
        return metadata.prepare_abort_or_commit(target, version, ProducerId(next_producer_id), now_ms,
                                                no_partition_added);
    }
    void show(std::ostream& out) const override {
        out << "EndTxn(" << to_string(target) << ", v" << static_cast<int>(version) << ", next id " << next_producer_id
            << (no_partition_added ? ", no partition added)" : ")");
    }
};

// The markers are written: Complete*; v2 moves to the next producer id at epoch 0 if there is one.
struct PrepareComplete : PrepareCommand<PrepareComplete> {
    std::int64_t now_ms = 0;

    explicit PrepareComplete(const Model& model) : now_ms(model.now_ms) {}
    Outcome expected(const Model& model) const {
        const State target =
            model.values.state == State::prepare_commit ? State::complete_commit : State::complete_abort;
        TransactionTransit next = moved_to(model, target);
        std::int32_t new_epoch = model.values.producer_epoch.value();
        if (model.values.transaction_version == TransactionVersion::v2 &&
            model.values.next_producer_id != protocol::no_producer_id) {
            next.producer_id = model.values.next_producer_id;
            new_epoch = 0;
        }
        next.next_producer_id = protocol::no_producer_id;
        next.partitions.clear();
        next.last_update_ms = now_ms;
        return prepared_or_refused(model, std::move(next), new_epoch);
    }
    void after(Model& model, const Outcome& outcome) const {
        if (!outcome.refused) {
            model.failed_fence = false;  // the fence the Prepare record carried took effect
        }
    }
    sim::Result<TransactionTransit> call(TransactionMetadata& metadata) const {
        return metadata.prepare_complete(now_ms);
    }
    void show(std::ostream& out) const override { out << "PrepareComplete"; }
};

struct FenceProducerEpoch : PrepareCommand<FenceProducerEpoch> {
    Outcome expected(const Model& model) const {
        const std::int32_t epoch = model.values.producer_epoch.value();
        TransactionTransit next = moved_to(model, State::prepare_epoch_fence);
        next.last_producer_epoch = protocol::no_producer_epoch;
        const bool keep = model.failed_fence || epoch == epoch_max;
        return prepared_or_refused(model, std::move(next), keep ? epoch : epoch + 1);
    }
    sim::Result<TransactionTransit> call(TransactionMetadata& metadata) const {
        return metadata.prepare_fence_producer_epoch();
    }
    void show(std::ostream& out) const override { out << "FenceProducerEpoch"; }
};

struct PrepareDead : PrepareCommand<PrepareDead> {
    Outcome expected(const Model& model) const {
        TransactionTransit next = moved_to(model, State::dead);
        next.partitions.clear();
        return prepared_or_refused(model, std::move(next), model.values.producer_epoch.value());
    }
    sim::Result<TransactionTransit> call(TransactionMetadata& metadata) const { return metadata.prepare_dead(); }
    void show(std::ostream& out) const override { out << "PrepareDead"; }
};

// ---- completing, cancelling, and the coordinator's other steps ----------------------------------

// One field of a transit changed, as a confused coordinator or a stale append would have it.
TransactionTransit tampered(TransactionTransit transit) {
    const auto shift16 = [](ProducerEpoch epoch, int by) {
        return ProducerEpoch(static_cast<std::int16_t>(epoch.value() + by));
    };
    switch (*rc::gen::inRange(0, 11)) {
        case 0:
            transit.producer_id = ProducerId(transit.producer_id.value() + 1);
            break;
        case 1:
            transit.previous_producer_id = ProducerId(transit.previous_producer_id.value() + 1);
            break;
        case 2:
            transit.next_producer_id = ProducerId(transit.next_producer_id.value() + 1);
            break;
        case 3:
            transit.producer_epoch = shift16(transit.producer_epoch, *rc::gen::element(-1, 1));
            break;
        case 4:
            transit.last_producer_epoch = shift16(transit.last_producer_epoch, *rc::gen::element(-1, 1));
            break;
        case 5:
            transit.transaction_timeout_ms += 1;
            break;
        case 6:
            transit.state = *rc::gen::elementOf(all_transaction_states());
            break;
        case 7:
            transit.transaction_start_ms = *rc::gen::elementOf(std::vector<std::int64_t>{no_timestamp, 0, 123});
            break;
        case 8:
            transit.last_update_ms -= 1;
            break;
        case 9:
            transit.transaction_version =
                transit.transaction_version == TransactionVersion::v1 ? TransactionVersion::v2 : TransactionVersion::v1;
            break;
        default: {
            const TopicPartition& partition = *rc::gen::elementOf(partition_universe());
            if (!transit.partitions.erase(partition)) {
                transit.partitions.insert(partition);
            }
        }
    }
    return transit;
}

// The append of the prepared transit was replicated: complete with it (or with a tampered one).
struct CompleteTransition : Command {
    TransactionTransit transit;

    explicit CompleteTransition(const Model& model) {
        transit = model.prepared ? *model.prepared : model.values;
        if (*rc::gen::inRange(0, 4) == 0) {
            transit = tampered(std::move(transit));
        }
    }
    void apply(Model& model) const override {
        if (!completion_refusal(model, transit)) {
            model.values = transit;
            model.pending.reset();
            model.prepared.reset();
        }
    }
    void run(const Model& model, System& system) const override {
        expect_status(completion_refusal(model, transit), system.metadata->complete_transition(transit));
        Model after = model;
        apply(after);
        expect_model(after, system);
    }
    void show(std::ostream& out) const override {
        out << "CompleteTransition(" << to_string(transit.state) << ", producer " << transit.producer_id << " epoch "
            << transit.producer_epoch << " last " << transit.last_producer_epoch << ")";
    }
};

// The append failed: the pending transition is cancelled; a failed fence's abort is remembered.
struct CancelPending : Command {
    bool fence_failed = *rc::gen::arbitrary<bool>();

    void apply(Model& model) const override {
        model.pending.reset();
        model.prepared.reset();
        model.failed_fence = model.failed_fence || fence_failed;
    }
    void run(const Model& model, System& system) const override {
        system.metadata->cancel_pending_transition();
        if (fence_failed) {
            system.metadata->mark_failed_epoch_fence();
        }
        Model after = model;
        apply(after);
        expect_model(after, system);
    }
    void show(std::ostream& out) const override { out << "CancelPending(" << (fence_failed ? "fence failed)" : ")"); }
};

// The coordinator takes a prepared fence's epoch at once, then aborts (Kafka's endTransaction).
struct ApplyEpochFence : Command {
    TransactionTransit fence;

    explicit ApplyEpochFence(const Model& model) {
        fence = model.prepared ? *model.prepared : model.values;
        if (*rc::gen::inRange(0, 4) == 0) {
            fence = tampered(std::move(fence));
        }
    }
    std::optional<Errc> refusal(const Model& model) const {
        if (model.pending != State::prepare_epoch_fence) {
            return Errc::no_pending_transition;
        }
        if (fence.state != State::prepare_epoch_fence || fence.producer_id != model.values.producer_id ||
            !in_record_ranges(fence)) {
            return Errc::invalid_transit;
        }
        return std::nullopt;
    }
    void apply(Model& model) const override {
        if (!refusal(model)) {
            model.values.producer_epoch = fence.producer_epoch;
            model.values.last_producer_epoch = protocol::no_producer_epoch;
            model.pending.reset();
            model.prepared.reset();
        }
    }
    void run(const Model& model, System& system) const override {
        expect_status(refusal(model), system.metadata->apply_epoch_fence(fence));
        Model after = model;
        apply(after);
        expect_model(after, system);
    }
    void show(std::ostream& out) const override { out << "ApplyEpochFence(epoch " << fence.producer_epoch << ")"; }
};

// A partition's marker is written while the transaction is being committed or aborted.
struct RemovePartition : Command {
    TopicPartition partition = *rc::gen::elementOf(partition_universe());

    void apply(Model& model) const override {
        if (one_of(model.values.state, {State::prepare_commit, State::prepare_abort})) {
            model.values.partitions.erase(partition);
        }
    }
    void run(const Model& model, System& system) const override {
        const bool allowed = one_of(model.values.state, {State::prepare_commit, State::prepare_abort});
        expect_status(allowed ? std::nullopt : std::optional(Errc::invalid_state),
                      system.metadata->remove_partition(partition));
        Model after = model;
        apply(after);
        expect_model(after, system);
    }
    void show(std::ostream& out) const override { out << "RemovePartition(" << partition.name() << ")"; }
};

// A coordinator failover: the new coordinator reloads the metadata from its last record. What was only
// in memory (a pending transition, a failed fence) is gone.
struct Reload : Command {
    void apply(Model& model) const override {
        model.pending.reset();
        model.prepared.reset();
        model.failed_fence = false;
    }
    void run(const Model& model, System& system) const override {
        const std::vector<std::byte> record = encode_transaction_record(system.metadata->prepare_no_transit());
        sim::Result<TransactionTransit> loaded = decode_transaction_record(record);
        RC_ASSERT(loaded.ok());
        const std::string transactional_id = system.metadata->transactional_id();
        system.metadata.emplace(transactional_id, std::move(loaded).value());
        Model after = model;
        apply(after);
        expect_model(after, system);
    }
    void show(std::ostream& out) const override { out << "Reload"; }
};

// Time passes, or the coordinator's clock steps back a little (Kafka tolerates both).
struct Tick : Command {
    std::int64_t ms = *rc::gen::weightedOneOf<std::int64_t>(
        {{4, rc::gen::inRange<std::int64_t>(1, 5000)}, {1, rc::gen::inRange<std::int64_t>(-20, 0)}});

    void apply(Model& model) const override { model.now_ms += ms; }
    void run(const Model& /*model*/, System& /*system*/) const override {}
    void show(std::ostream& out) const override { out << "Tick(" << ms << " ms)"; }
};

// A new transactional id (Empty, no epoch yet) or one whose epochs are nearly exhausted.
Model initial_model() {
    Model model;
    model.values.producer_id = ProducerId(1000);
    model.values.producer_epoch =
        ProducerEpoch(*rc::gen::elementOf(std::vector<std::int16_t>{-1, -1, 0, 9, 32764, 32765, 32766}));
    model.values.transaction_timeout_ms = 60'000;
    model.values.state = State::empty;
    model.values.last_update_ms = model.now_ms;
    model.values.transaction_version = any_version();
    return model;
}

RC_GTEST_PROP(TransactionMetadataModel, AcceptsExactlyKafkasTransitionsAndEvolvesAsTheModelSays, ()) {
    const Model model = initial_model();
    System system;
    system.metadata.emplace("txn", model.values);
    rc::state::check(
        model, system,
        rc::state::gen::execOneOfWithArgs<InitProducerId, InitProducerId, RotateProducerId, AddPartitions,
                                          AddPartitions, EndTxn, EndTxn, PrepareComplete, PrepareComplete,
                                          FenceProducerEpoch, PrepareDead, CompleteTransition, CompleteTransition,
                                          CompleteTransition, CompleteTransition, CancelPending, ApplyEpochFence,
                                          ApplyEpochFence, RemovePartition, Reload, Tick, Tick>());
}

// ---- the record codec -------------------------------------------------------------------------------

rc::Gen<TransactionTransit> any_record() {
    return rc::gen::exec([] {
        TransactionTransit transit;
        transit.producer_id = ProducerId(*rc::gen::inRange<std::int64_t>(0, std::numeric_limits<std::int64_t>::max()));
        transit.previous_producer_id = ProducerId(*rc::gen::inRange<std::int64_t>(-1, 1'000'000));
        transit.next_producer_id = ProducerId(*rc::gen::inRange<std::int64_t>(-1, 1'000'000));
        transit.producer_epoch = ProducerEpoch(*rc::gen::inRange<std::int16_t>(-1, producer_epoch_max));
        transit.last_producer_epoch = ProducerEpoch(*rc::gen::inRange<std::int16_t>(-1, producer_epoch_max));
        transit.transaction_timeout_ms = *rc::gen::inRange<std::int32_t>(0, std::numeric_limits<std::int32_t>::max());
        transit.state = *rc::gen::elementOf(all_transaction_states());
        transit.transaction_start_ms = *rc::gen::arbitrary<std::int64_t>();
        transit.last_update_ms = *rc::gen::arbitrary<std::int64_t>();
        transit.transaction_version = any_version();
        if (transit.state != State::empty) {
            const auto topics = *rc::gen::container<std::vector<std::string>>(
                rc::gen::elementOf(std::vector<std::string>{"a", "topic-1", "__consumer_offsets", "x.y_z"}));
            for (const std::string& topic : topics) {
                transit.partitions.insert({topic, *rc::gen::inRange<std::int32_t>(0, 1000)});
            }
        }
        return transit;
    });
}

RC_GTEST_PROP(TransactionMetadataRecord, DecodesToWhatWasEncoded, ()) {
    const TransactionTransit transit = *any_record();
    const sim::Result<TransactionTransit> decoded = decode_transaction_record(encode_transaction_record(transit));
    RC_ASSERT(decoded.ok());
    RC_ASSERT(*decoded == transit);
}

// Damaged bytes are refused or read as a record that encodes to exactly those bytes; never a crash.
RC_GTEST_PROP(TransactionMetadataRecord, DamagedBytesAreRefusedOrCanonical, ()) {
    std::vector<std::byte> bytes = encode_transaction_record(*any_record());
    const int damages = *rc::gen::inRange(1, 4);
    for (int i = 0; i < damages; ++i) {
        const std::size_t at = *rc::gen::inRange<std::size_t>(0, bytes.size());
        switch (*rc::gen::inRange(0, 3)) {
            case 0:
                bytes[at] = static_cast<std::byte>(*rc::gen::arbitrary<std::uint8_t>());
                break;
            case 1:
                bytes.resize(at);
                break;
            default:
                bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at), std::byte{0});
        }
        if (bytes.empty()) {
            break;
        }
    }
    const sim::Result<TransactionTransit> decoded = decode_transaction_record(bytes);
    if (decoded.ok()) {
        RC_ASSERT(encode_transaction_record(*decoded) == bytes);
    } else {
        RC_ASSERT(&decoded.error().category() == &transaction_category());
    }
}

}  // namespace
}  // namespace eosim::broker_core
