#include "broker_core/transaction_metadata.h"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <utility>

#include "broker_core/byte_io.h"
#include "protocol/topics.h"
#include "sim/assert.h"

namespace eosim::broker_core {

using protocol::ProducerEpoch;
using protocol::ProducerId;
using protocol::TopicPartition;
using State = TransactionState;

namespace {

class TransactionCategory final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "transaction"; }
    [[nodiscard]] std::string message(int code) const override {
        switch (static_cast<TransactionErrc>(code)) {
            case TransactionErrc::ok: return "ok";
            case TransactionErrc::pending_transition: return "another transition is pending";
            case TransactionErrc::invalid_state: return "not a valid previous state of the target state";
            case TransactionErrc::producer_fenced: return "the producer's epoch is fenced";
            case TransactionErrc::epochs_exhausted: return "the producer epochs are exhausted";
            case TransactionErrc::illegal_producer_epoch: return "the new producer epoch is out of range";
            case TransactionErrc::no_pending_transition: return "no transition is pending";
            case TransactionErrc::invalid_transit: return "the transit does not fit the metadata";
            case TransactionErrc::record_truncated: return "the transaction record is truncated";
            case TransactionErrc::record_unknown_version: return "the transaction record has an unknown format";
            case TransactionErrc::record_invalid: return "the transaction record is invalid";
        }
        return "unknown";
    }
};

std::error_code refuse(TransactionErrc code) {
    return make_error_code(code);
}

// The epoch after `epoch`, in 16 bits as Kafka computes it: 32767 + 1 wraps to -32768, which a
// transition then refuses as negative.
ProducerEpoch bumped(ProducerEpoch epoch) {
    return ProducerEpoch(static_cast<std::int16_t>(epoch.value() + 1));
}

constexpr std::array<State, transaction_state_count> states_by_id = {
    State::empty,         State::ongoing,        State::prepare_commit, State::prepare_abort,
    State::complete_commit, State::complete_abort, State::dead,           State::prepare_epoch_fence,
};

// Kafka's TransactionState.validPreviousStates (Kafka 4.x: PrepareAbort is also reached from Empty,
// CompleteCommit and CompleteAbort, for a version 2 abort of a transaction the producer is unsure of).
constexpr std::array previous_of_empty = {State::empty, State::complete_commit, State::complete_abort};
constexpr std::array previous_of_ongoing = {State::ongoing, State::empty, State::complete_commit,
                                            State::complete_abort};
constexpr std::array previous_of_prepare_commit = {State::ongoing};
constexpr std::array previous_of_prepare_abort = {State::ongoing, State::prepare_epoch_fence, State::empty,
                                                  State::complete_commit, State::complete_abort};
constexpr std::array previous_of_complete_commit = {State::prepare_commit};
constexpr std::array previous_of_complete_abort = {State::prepare_abort};
constexpr std::array previous_of_dead = {State::empty, State::complete_abort, State::complete_commit};
constexpr std::array previous_of_prepare_epoch_fence = {State::ongoing};

bool in_states(State state, std::initializer_list<State> states) {
    return std::find(states.begin(), states.end(), state) != states.end();
}

// Every value within what a transaction log record holds: a producer id, ids and epochs that are
// set or none (-1), a timeout, valid partitions, and an Empty state without partitions.
bool well_formed(const TransactionTransit& transit) {
    const auto id_or_none = [](ProducerId id) { return id.value() >= protocol::no_producer_id.value(); };
    const auto epoch_or_none = [](ProducerEpoch epoch) { return epoch.value() >= protocol::no_producer_epoch.value(); };
    const bool partitions_valid = std::all_of(transit.partitions.begin(), transit.partitions.end(),
                                              [](const TopicPartition& partition) {
                                                  return protocol::valid_topic_name(partition.topic) &&
                                                         partition.partition >= 0;
                                              });
    return transit.producer_id.value() >= 0 && id_or_none(transit.previous_producer_id) &&
           id_or_none(transit.next_producer_id) && epoch_or_none(transit.producer_epoch) &&
           epoch_or_none(transit.last_producer_epoch) && transit.transaction_timeout_ms >= 0 && partitions_valid &&
           (transit.state != State::empty || transit.partitions.empty());
}

}  // namespace

const std::error_category& transaction_category() noexcept {
    static const TransactionCategory category;
    return category;
}

std::string_view to_string(TransactionState state) {
    switch (state) {
        case State::empty: return "Empty";
        case State::ongoing: return "Ongoing";
        case State::prepare_commit: return "PrepareCommit";
        case State::prepare_abort: return "PrepareAbort";
        case State::complete_commit: return "CompleteCommit";
        case State::complete_abort: return "CompleteAbort";
        case State::prepare_epoch_fence: return "PrepareEpochFence";
        case State::dead: return "Dead";
    }
    return "Unknown";
}

std::optional<TransactionState> transaction_state_from_name(std::string_view name) {
    for (const State state : states_by_id) {
        if (to_string(state) == name) {
            return state;
        }
    }
    return std::nullopt;
}

std::optional<TransactionState> transaction_state_from_id(std::int8_t id) {
    if (id < 0 || static_cast<std::size_t>(id) >= states_by_id.size()) {
        return std::nullopt;
    }
    return states_by_id[static_cast<std::uint8_t>(id)];
}

std::span<const TransactionState> all_transaction_states() {
    return states_by_id;
}

std::span<const TransactionState> valid_previous_states(TransactionState state) {
    switch (state) {
        case State::empty: return previous_of_empty;
        case State::ongoing: return previous_of_ongoing;
        case State::prepare_commit: return previous_of_prepare_commit;
        case State::prepare_abort: return previous_of_prepare_abort;
        case State::complete_commit: return previous_of_complete_commit;
        case State::complete_abort: return previous_of_complete_abort;
        case State::dead: return previous_of_dead;
        case State::prepare_epoch_fence: return previous_of_prepare_epoch_fence;
    }
    EOSIM_ASSERT_MSG(false, "unknown transaction state");
    return {};
}

bool is_valid_transition(TransactionState from, TransactionState to) {
    const std::span<const State> previous = valid_previous_states(to);
    return std::find(previous.begin(), previous.end(), from) != previous.end();
}

bool expiration_allowed(TransactionState state) {
    return in_states(state, {State::empty, State::complete_commit, State::complete_abort});
}

// ---- TransactionMetadata ------------------------------------------------------------------------

TransactionMetadata::TransactionMetadata(std::string transactional_id, TransactionTransit current)
    : transactional_id_(std::move(transactional_id)), current_(std::move(current)) {
    EOSIM_ASSERT(!transactional_id_.empty());
    EOSIM_ASSERT(well_formed(current_));
}

bool TransactionMetadata::epoch_exhausted(ProducerEpoch epoch) {
    return epoch.value() >= producer_epoch_max - 1;
}

sim::Result<TransactionTransit> TransactionMetadata::prepare_transition(TransactionTransit next) {
    if (pending_state_) {
        return refuse(TransactionErrc::pending_transition);
    }
    EOSIM_ASSERT_MSG(next.producer_id.value() >= 0, "a transition to a negative producer id");
    // A new transactional id has epoch -1 until its first InitProducerId; only Dead may keep it.
    if (next.state != State::dead && next.producer_epoch.value() < 0) {
        return refuse(TransactionErrc::illegal_producer_epoch);
    }
    if (!is_valid_transition(current_.state, next.state)) {
        return refuse(TransactionErrc::invalid_state);
    }
    next.previous_producer_id = current_.producer_id;
    pending_state_ = next.state;
    return next;
}

sim::Result<TransactionTransit> TransactionMetadata::prepare_fence_producer_epoch() {
    TransactionTransit next = current_;
    next.state = State::prepare_epoch_fence;
    // After a fence whose abort was never logged the epoch was already bumped in memory, and a bump
    // past 32767 would overflow (Kafka since KAFKA-20090 keeps 32767 rather than throwing).
    const bool keep = has_failed_epoch_fence_ || current_.producer_epoch.value() == producer_epoch_max;
    next.producer_epoch = keep ? current_.producer_epoch : bumped(current_.producer_epoch);
    next.last_producer_epoch = protocol::no_producer_epoch;
    return prepare_transition(std::move(next));
}

sim::Result<TransactionTransit> TransactionMetadata::prepare_increment_producer_epoch(
    std::int32_t transaction_timeout_ms, std::optional<ProducerEpoch> expected_epoch, std::int64_t now_ms) {
    if (producer_epoch_exhausted()) {
        return refuse(TransactionErrc::epochs_exhausted);
    }
    TransactionTransit next = current_;
    const ProducerEpoch epoch = current_.producer_epoch;
    if (!expected_epoch) {
        // A new producer instance: bump, and forget the last epoch so no older instance can claim a retry.
        next.producer_epoch = bumped(epoch);
        next.last_producer_epoch = protocol::no_producer_epoch;
    } else if (epoch == protocol::no_producer_epoch || *expected_epoch == epoch) {
        // The current producer goes on after an error (or the id is new): bump and remember the last.
        next.producer_epoch = bumped(epoch);
        next.last_producer_epoch = epoch;
    } else if (*expected_epoch == current_.last_producer_epoch) {
        // The retry of a call that succeeded: the same epoch again.
        next.last_producer_epoch = current_.last_producer_epoch;
    } else {
        return refuse(TransactionErrc::producer_fenced);
    }
    next.state = State::empty;
    next.transaction_timeout_ms = transaction_timeout_ms;
    next.partitions.clear();
    next.transaction_start_ms = no_timestamp;
    next.last_update_ms = now_ms;
    return prepare_transition(std::move(next));
}

sim::Result<TransactionTransit> TransactionMetadata::prepare_producer_id_rotation(ProducerId new_producer_id,
                                                                                  std::int32_t transaction_timeout_ms,
                                                                                  std::int64_t now_ms,
                                                                                  bool record_last_epoch) {
    EOSIM_ASSERT(new_producer_id.value() >= 0);
    // Kafka checks this before the pending transition: no rotation under a transaction still open.
    if (in_states(current_.state, {State::ongoing, State::prepare_abort, State::prepare_commit})) {
        return refuse(TransactionErrc::invalid_state);
    }
    TransactionTransit next = current_;
    next.state = State::empty;
    next.producer_id = new_producer_id;
    next.producer_epoch = ProducerEpoch(0);
    next.last_producer_epoch = record_last_epoch ? current_.producer_epoch : protocol::no_producer_epoch;
    next.transaction_timeout_ms = transaction_timeout_ms;
    next.partitions.clear();
    next.transaction_start_ms = no_timestamp;
    next.last_update_ms = now_ms;
    return prepare_transition(std::move(next));
}

sim::Result<TransactionTransit> TransactionMetadata::prepare_add_partitions(const std::set<TopicPartition>& added,
                                                                            std::int64_t now_ms,
                                                                            TransactionVersion version) {
    TransactionTransit next = current_;
    next.state = State::ongoing;
    // The first partition starts the transaction.
    if (in_states(current_.state, {State::empty, State::complete_abort, State::complete_commit})) {
        next.transaction_start_ms = now_ms;
    }
    next.partitions.insert(added.begin(), added.end());
    next.last_update_ms = now_ms;
    next.transaction_version = version;
    return prepare_transition(std::move(next));
}

sim::Result<TransactionTransit> TransactionMetadata::prepare_abort_or_commit(TransactionState target,
                                                                             TransactionVersion version,
                                                                             ProducerId next_producer_id,
                                                                             std::int64_t now_ms,
                                                                             bool no_partition_added) {
    EOSIM_ASSERT(target == State::prepare_commit || target == State::prepare_abort);
    TransactionTransit next = current_;
    next.state = target;
    if (supports_epoch_bump(version)) {
        // KIP-890: every EndTxn bumps the epoch, so a late write of this transaction is fenced.
        next.producer_epoch = bumped(current_.producer_epoch);
        next.last_producer_epoch = current_.producer_epoch;
    }
    // A v2 abort of a transaction that added no partition has no start time: it starts now.
    next.transaction_start_ms = no_partition_added ? now_ms : current_.transaction_start_ms;
    next.next_producer_id = next_producer_id;
    next.last_update_ms = now_ms;
    next.transaction_version = version;
    return prepare_transition(std::move(next));
}

sim::Result<TransactionTransit> TransactionMetadata::prepare_complete(std::int64_t now_ms) {
    TransactionTransit next = current_;
    next.state = current_.state == State::prepare_commit ? State::complete_commit : State::complete_abort;
    if (supports_epoch_bump(current_.transaction_version) && current_.next_producer_id != protocol::no_producer_id) {
        // The EndTxn bump reached 32767: the producer goes on with the next producer id, at epoch 0. The
        // last epoch stays the one the producer last saw.
        next.producer_id = current_.next_producer_id;
        next.producer_epoch = ProducerEpoch(0);
    }
    next.next_producer_id = protocol::no_producer_id;
    next.partitions.clear();
    next.last_update_ms = now_ms;
    sim::Result<TransactionTransit> prepared = prepare_transition(std::move(next));
    if (prepared.ok()) {
        // The Prepare record was logged, so a fence it carried took effect. (Kafka clears the flag even
        // when the transition is then refused; eosim keeps a refused call free of effects.)
        has_failed_epoch_fence_ = false;
    }
    return prepared;
}

sim::Result<TransactionTransit> TransactionMetadata::prepare_dead() {
    TransactionTransit next = current_;
    next.state = State::dead;
    next.partitions.clear();
    return prepare_transition(std::move(next));
}

// ---- completing a transition --------------------------------------------------------------------

// Kafka's validProducerEpoch: v2 ends move the epoch (Prepare*: the last epoch is the current one) and
// may move the producer id (Complete* at epoch 0: the previous id is the current one); every other
// transition keeps both.
bool TransactionMetadata::valid_producer_epoch(const TransactionTransit& transit) const {
    const bool v2 = supports_epoch_bump(transit.transaction_version);
    if (v2 && in_states(transit.state, {State::complete_commit, State::complete_abort}) &&
        transit.producer_epoch.value() == 0) {
        return transit.last_producer_epoch == current_.last_producer_epoch &&
               transit.previous_producer_id == current_.producer_id;
    }
    if (v2 && in_states(transit.state, {State::prepare_commit, State::prepare_abort})) {
        return transit.last_producer_epoch == current_.producer_epoch && transit.producer_id == current_.producer_id;
    }
    return transit.producer_epoch == current_.producer_epoch && transit.producer_id == current_.producer_id;
}

// Kafka's validProducerEpochBump: one more epoch, or epoch 0 of another producer id.
bool TransactionMetadata::valid_producer_epoch_bump(const TransactionTransit& transit) const {
    return transit.producer_epoch == bumped(current_.producer_epoch) ||
           (transit.producer_epoch.value() == 0 && transit.producer_id != current_.producer_id);
}

// Kafka's completeTransitionTo checks, per target state.
bool TransactionMetadata::transit_fits(const TransactionTransit& transit) const {
    const bool same_timeout = transit.transaction_timeout_ms == current_.transaction_timeout_ms;
    switch (transit.state) {
        case State::empty:  // InitProducerId
            return (transit.producer_epoch == current_.producer_epoch || valid_producer_epoch_bump(transit)) &&
                   transit.partitions.empty() && transit.transaction_start_ms == no_timestamp;
        case State::ongoing:  // AddPartitions: partitions are only ever added
            return valid_producer_epoch(transit) && same_timeout &&
                   std::includes(transit.partitions.begin(), transit.partitions.end(), current_.partitions.begin(),
                                 current_.partitions.end());
        case State::prepare_commit:
        case State::prepare_abort: {  // EndTxn
            const bool empty_abort = transit.state == State::prepare_abort &&
                                     supports_epoch_bump(transit.transaction_version) &&
                                     in_states(current_.state, {State::empty, State::complete_commit,
                                                                State::complete_abort});
            return valid_producer_epoch(transit) && transit.partitions == current_.partitions && same_timeout &&
                   (transit.transaction_start_ms == current_.transaction_start_ms || empty_abort);
        }
        case State::complete_commit:
        case State::complete_abort:  // the markers are written
            return valid_producer_epoch(transit) && same_timeout && transit.transaction_start_ms != no_timestamp;
        case State::prepare_epoch_fence:  // only ever a step towards PrepareAbort: never completed
        case State::dead:                 // removed from the cache, never completed
            return false;
    }
    return false;
}

sim::Status TransactionMetadata::complete_transition(const TransactionTransit& transit) {
    if (!pending_state_) {
        return refuse(TransactionErrc::no_pending_transition);
    }
    // Kafka relies on its prepare methods for the ranges; eosim also refuses a transit its record
    // could not hold, so the metadata always has a record.
    if (*pending_state_ != transit.state || !well_formed(transit) || !transit_fits(transit)) {
        return refuse(TransactionErrc::invalid_transit);
    }
    current_ = transit;
    pending_state_.reset();
    return sim::ok_status();
}

void TransactionMetadata::cancel_pending_transition() {
    pending_state_.reset();
}

sim::Status TransactionMetadata::apply_epoch_fence(const TransactionTransit& fence) {
    if (pending_state_ != State::prepare_epoch_fence) {
        return refuse(TransactionErrc::no_pending_transition);
    }
    if (fence.state != State::prepare_epoch_fence || fence.producer_id != current_.producer_id ||
        !well_formed(fence)) {
        return refuse(TransactionErrc::invalid_transit);
    }
    pending_state_.reset();
    current_.producer_epoch = fence.producer_epoch;
    current_.last_producer_epoch = protocol::no_producer_epoch;
    return sim::ok_status();
}

sim::Status TransactionMetadata::remove_partition(const TopicPartition& partition) {
    if (!in_states(current_.state, {State::prepare_commit, State::prepare_abort})) {
        return refuse(TransactionErrc::invalid_state);
    }
    current_.partitions.erase(partition);
    return sim::ok_status();
}

// ---- the transaction log record -------------------------------------------------------------------

namespace {

constexpr std::uint16_t record_format = 1;
// The fields between the format and the partition count: three ids, two epochs, the timeout, the
// state, the version and two timestamps.
constexpr std::size_t fixed_fields_bytes = 3 * 8 + 2 * 2 + 4 + 1 + 1 + 2 * 8;
// The smallest encoding of one partition: a topic length, one character, a partition.
constexpr std::size_t partition_bytes_min = 4 + 1 + 4;

}  // namespace

std::vector<std::byte> encode_transaction_record(const TransactionTransit& transit) {
    EOSIM_ASSERT_MSG(transit.state != State::empty || transit.partitions.empty(),
                     "an Empty transaction record with partitions");
    EOSIM_ASSERT(well_formed(transit));
    ByteWriter writer;
    writer.put<std::uint16_t>(record_format);
    writer.put<std::int64_t>(transit.producer_id.value());
    writer.put<std::int64_t>(transit.previous_producer_id.value());
    writer.put<std::int64_t>(transit.next_producer_id.value());
    writer.put<std::int16_t>(transit.producer_epoch.value());
    writer.put<std::int16_t>(transit.last_producer_epoch.value());
    writer.put<std::int32_t>(transit.transaction_timeout_ms);
    writer.put<std::int8_t>(static_cast<std::int8_t>(transit.state));
    writer.put<std::int8_t>(static_cast<std::int8_t>(transit.transaction_version));
    writer.put<std::int64_t>(transit.transaction_start_ms);
    writer.put<std::int64_t>(transit.last_update_ms);
    writer.put<std::int32_t>(static_cast<std::int32_t>(transit.partitions.size()));
    for (const TopicPartition& partition : transit.partitions) {
        writer.put<std::int32_t>(static_cast<std::int32_t>(partition.topic.size()));
        writer.put_bytes(partition.topic);
        writer.put<std::int32_t>(partition.partition);
    }
    return std::move(writer.bytes());
}

namespace {

// The fields before the partitions, from a reader with at least fixed_fields_bytes left.
TransactionTransit read_fixed_fields(ByteReader& reader) {
    TransactionTransit transit;
    transit.producer_id = ProducerId(reader.get<std::int64_t>().value());
    transit.previous_producer_id = ProducerId(reader.get<std::int64_t>().value());
    transit.next_producer_id = ProducerId(reader.get<std::int64_t>().value());
    transit.producer_epoch = ProducerEpoch(reader.get<std::int16_t>().value());
    transit.last_producer_epoch = ProducerEpoch(reader.get<std::int16_t>().value());
    transit.transaction_timeout_ms = reader.get<std::int32_t>().value();
    transit.state = static_cast<State>(reader.get<std::int8_t>().value());
    transit.transaction_version = static_cast<TransactionVersion>(reader.get<std::int8_t>().value());
    transit.transaction_start_ms = reader.get<std::int64_t>().value();
    transit.last_update_ms = reader.get<std::int64_t>().value();
    return transit;
}

bool known_ids(const TransactionTransit& transit) {
    return transaction_state_from_id(static_cast<std::int8_t>(transit.state)).has_value() &&
           (transit.transaction_version == TransactionVersion::v1 ||
            transit.transaction_version == TransactionVersion::v2);
}

// Reads `count` partitions, which must be valid and strictly ordered (as the encoder writes them).
sim::Result<std::set<TopicPartition>> read_partitions(ByteReader& reader, std::int32_t count) {
    std::set<TopicPartition> partitions;
    for (std::int32_t i = 0; i < count; ++i) {
        const auto length = reader.get<std::int32_t>();
        const auto topic = length ? reader.get_string(*length) : std::nullopt;
        const auto partition = topic ? reader.get<std::int32_t>() : std::nullopt;
        if (!partition) {
            return refuse(length && *length < 0 ? TransactionErrc::record_invalid : TransactionErrc::record_truncated);
        }
        TopicPartition read{*topic, *partition};
        if (!protocol::valid_topic_name(read.topic) || read.partition < 0 ||
            (!partitions.empty() && !(*partitions.rbegin() < read))) {
            return refuse(TransactionErrc::record_invalid);
        }
        partitions.insert(partitions.end(), std::move(read));
    }
    return partitions;
}

}  // namespace

sim::Result<TransactionTransit> decode_transaction_record(std::span<const std::byte> bytes) {
    ByteReader reader(bytes);
    const auto format = reader.get<std::uint16_t>();
    if (!format) {
        return refuse(TransactionErrc::record_truncated);
    }
    if (*format != record_format) {
        return refuse(TransactionErrc::record_unknown_version);
    }
    if (bytes.size() - reader.position() < fixed_fields_bytes + sizeof(std::int32_t)) {
        return refuse(TransactionErrc::record_truncated);
    }
    TransactionTransit transit = read_fixed_fields(reader);
    const std::int32_t count = reader.get<std::int32_t>().value();
    if (!known_ids(transit) || !well_formed(transit) || count < 0 ||
        (transit.state == State::empty && count != 0)) {
        return refuse(TransactionErrc::record_invalid);
    }
    // Each partition takes bytes: a count beyond what is left is a truncation, found before allocating.
    if (static_cast<std::size_t>(count) > (bytes.size() - reader.position()) / partition_bytes_min) {
        return refuse(TransactionErrc::record_truncated);
    }
    sim::Result<std::set<TopicPartition>> partitions = read_partitions(reader, count);
    if (!partitions.ok()) {
        return partitions.error();
    }
    if (reader.position() != bytes.size()) {
        return refuse(TransactionErrc::record_invalid);  // trailing bytes
    }
    transit.partitions = std::move(partitions).value();
    return transit;
}

}  // namespace eosim::broker_core
