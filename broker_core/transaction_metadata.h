#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "protocol/errors.h"
#include "protocol/types.h"
#include "sim/errc.h"

// The transaction coordinator's state of one transactional id (Kafka's TransactionMetadata and
// TxnTransitMetadata): its states and their transitions, the producer epoch rules of transaction
// versions 1 and 2 (KIP-360, KIP-890), and the value of its record in the transaction log
// (`__transaction_state`). A coordinator prepares a transition, appends its transit to the log, and
// completes the transition once the append is replicated. docs/transactions.md describes the rules.

namespace eosim::broker_core {

// Kafka's TransactionState, with Kafka's ids (the byte in the transaction log).
enum class TransactionState : std::int8_t {
    empty = 0,                // no transaction: after InitProducerId, or before the first partition
    ongoing = 1,              // partitions were added
    prepare_commit = 2,       // EndTxn(commit) is logged: the markers are being written
    prepare_abort = 3,        // EndTxn(abort), or a timeout or fence, is logged
    complete_commit = 4,      // every commit marker is written
    complete_abort = 5,       // every abort marker is written
    prepare_epoch_fence = 7,  // a newer producer fences this one: its ongoing transaction is to be aborted
    dead = 6,                 // the transactional id expired and is being removed
};

inline constexpr std::size_t transaction_state_count = 8;

// Kafka's name of the state ("Empty", "Ongoing", "PrepareCommit", ..., "PrepareEpochFence", "Dead").
std::string_view to_string(TransactionState state);
std::optional<TransactionState> transaction_state_from_name(std::string_view name);
std::optional<TransactionState> transaction_state_from_id(std::int8_t id);
// Every state, in id order.
std::span<const TransactionState> all_transaction_states();
// Kafka's TransactionState.validPreviousStates: the states a transition to `state` may start from.
std::span<const TransactionState> valid_previous_states(TransactionState state);
[[nodiscard]] bool is_valid_transition(TransactionState from, TransactionState to);
// Kafka's isExpirationAllowed: an idle transactional id in this state may expire (Empty, Complete*).
[[nodiscard]] bool expiration_allowed(TransactionState state);

// The transaction protocol the producer speaks (KIP-890). Version 2 bumps the producer epoch at every
// EndTxn; version 1 does not (Kafka's TV_0 and TV_1, which differ only in their record format).
enum class TransactionVersion : std::int8_t { v1 = 1, v2 = 2 };

[[nodiscard]] constexpr bool supports_epoch_bump(TransactionVersion version) {
    return version == TransactionVersion::v2;
}

inline constexpr std::int16_t producer_epoch_max = std::numeric_limits<std::int16_t>::max();
// No timestamp: the transaction has not started (Kafka's -1).
inline constexpr std::int64_t no_timestamp = -1;

// Kafka's TxnTransitMetadata: every value of a transactional id's metadata as a transition leaves it.
// A prepared transition returns one; the coordinator appends it to the transaction log (it is also the
// record's value) and then completes the transition with it. Partitions are kept ordered.
struct TransactionTransit {
    protocol::ProducerId producer_id{0};
    protocol::ProducerId previous_producer_id = protocol::no_producer_id;  // the id before this transition
    protocol::ProducerId next_producer_id = protocol::no_producer_id;      // v2: the id after an exhausted epoch
    protocol::ProducerEpoch producer_epoch = protocol::no_producer_epoch;
    protocol::ProducerEpoch last_producer_epoch = protocol::no_producer_epoch;  // a retried InitProducerId's
    std::int32_t transaction_timeout_ms = 0;
    TransactionState state = TransactionState::empty;
    std::set<protocol::TopicPartition> partitions;
    std::int64_t transaction_start_ms = no_timestamp;
    std::int64_t last_update_ms = 0;
    TransactionVersion transaction_version = TransactionVersion::v2;

    bool operator==(const TransactionTransit&) const = default;
};

// Why a transition was refused. Kafka throws IllegalStateException for most of these (its coordinator
// checks first, and would answer UNKNOWN_SERVER_ERROR had it not); eosim returns them so that a
// coordinator's mistake is a refusal it answers, never a crash. `to_error_code` maps them to Kafka's
// wire codes.
enum class TransactionErrc {
    ok = 0,
    pending_transition,      // another transition is prepared and not completed (CONCURRENT_TRANSACTIONS)
    invalid_state,           // the current state is not a valid previous state of the target (INVALID_TXN_STATE)
    producer_fenced,         // InitProducerId with an epoch that is neither the current nor the last one
    epochs_exhausted,        // InitProducerId at epoch >= 32766: the coordinator must rotate the producer id
    illegal_producer_epoch,  // the new epoch would be negative or past 32767
    no_pending_transition,   // completing a transition that was never prepared (or was cancelled)
    invalid_transit,         // the transit does not fit the current metadata (Kafka's completeTransitionTo)
    record_truncated,        // a transaction log record shorter than its fields
    record_unknown_version,  // a record written in a format this code does not know
    record_invalid,          // a record whose fields are out of range or not in canonical form
};

const std::error_category& transaction_category() noexcept;

inline std::error_code make_error_code(TransactionErrc code) noexcept {
    return {static_cast<int>(code), transaction_category()};
}

// The wire code a coordinator answers for a refusal.
constexpr protocol::ErrorCode to_error_code(TransactionErrc code) {
    switch (code) {
        case TransactionErrc::ok: return protocol::ErrorCode::none;
        case TransactionErrc::pending_transition: return protocol::ErrorCode::concurrent_transactions;
        case TransactionErrc::invalid_state: return protocol::ErrorCode::invalid_txn_state;
        case TransactionErrc::producer_fenced: return protocol::ErrorCode::producer_fenced;
        default: return protocol::ErrorCode::unknown_server_error;
    }
}

// Kafka's TransactionMetadata: the coordinator's in-memory state of one transactional id. Single
// threaded: the coordinator calls it between suspension points. At most one transition is pending
// at a time; prepare_* refuse another one until it is completed or cancelled. A refused call changes
// nothing. Timestamps are the caller's clock, in ms.
class TransactionMetadata {
public:
    // A new or reloaded transactional id in the state `current` (a new one: Empty, epoch -1).
    TransactionMetadata(std::string transactional_id, TransactionTransit current);

    // Kafka's isEpochExhausted: epoch >= 32766, so the coordinator can always fence with one more.
    [[nodiscard]] static bool epoch_exhausted(protocol::ProducerEpoch epoch);

    // The current values, as a transit to no other state (Kafka's prepareNoTransit).
    [[nodiscard]] const TransactionTransit& prepare_no_transit() const { return current_; }
    // A newer producer fences this one while its transaction is ongoing: PrepareEpochFence with the
    // epoch bumped (not again after a failed fence, never past 32767).
    [[nodiscard]] sim::Result<TransactionTransit> prepare_fence_producer_epoch();
    // InitProducerId: Empty with the epoch bumped (KIP-360: with the producer's expected epoch, a retry
    // of a successful call gets the same epoch again, and a stale epoch is fenced).
    [[nodiscard]] sim::Result<TransactionTransit> prepare_increment_producer_epoch(
        std::int32_t transaction_timeout_ms, std::optional<protocol::ProducerEpoch> expected_epoch,
        std::int64_t now_ms);
    // InitProducerId once the epochs are exhausted: a new producer id at epoch 0.
    [[nodiscard]] sim::Result<TransactionTransit> prepare_producer_id_rotation(protocol::ProducerId new_producer_id,
                                                                               std::int32_t transaction_timeout_ms,
                                                                               std::int64_t now_ms,
                                                                               bool record_last_epoch);
    // AddPartitionsToTxn / AddOffsetsToTxn: Ongoing with the partitions added.
    [[nodiscard]] sim::Result<TransactionTransit> prepare_add_partitions(
        const std::set<protocol::TopicPartition>& added, std::int64_t now_ms, TransactionVersion version);
    // EndTxn: PrepareCommit or PrepareAbort. Version 2 bumps the epoch; `next_producer_id` is the id the
    // producer continues with when that bump exhausts the epochs (else no_producer_id);
    // `no_partition_added` (a v2 abort of an empty transaction) starts the transaction now.
    [[nodiscard]] sim::Result<TransactionTransit> prepare_abort_or_commit(TransactionState target,
                                                                          TransactionVersion version,
                                                                          protocol::ProducerId next_producer_id,
                                                                          std::int64_t now_ms,
                                                                          bool no_partition_added);
    // Every marker is written: CompleteCommit or CompleteAbort (v2 moves to the next producer id).
    [[nodiscard]] sim::Result<TransactionTransit> prepare_complete(std::int64_t now_ms);
    // The transactional id expired. A Dead transit is never completed: the coordinator removes the
    // metadata once the tombstone is written.
    [[nodiscard]] sim::Result<TransactionTransit> prepare_dead();

    // Applies the pending transition, once its transit is in the log, after checking it against the
    // current values as Kafka's completeTransitionTo does. Refused: nothing changes.
    [[nodiscard]] sim::Status complete_transition(const TransactionTransit& transit);
    // The append of the pending transit failed: the metadata stays as it was (Kafka: pendingState = None).
    void cancel_pending_transition();
    // The coordinator goes on from a prepared fence to abort the ongoing transaction: the fenced epoch
    // takes effect in memory at once (the abort record carries it) and the last epoch is forgotten.
    [[nodiscard]] sim::Status apply_epoch_fence(const TransactionTransit& fence);
    // The abort that carried a fenced epoch was not appended: a next fence does not bump again.
    void mark_failed_epoch_fence() { has_failed_epoch_fence_ = true; }
    // The marker of `partition` is written (PrepareCommit or PrepareAbort only).
    [[nodiscard]] sim::Status remove_partition(const protocol::TopicPartition& partition);

    [[nodiscard]] const std::string& transactional_id() const { return transactional_id_; }
    [[nodiscard]] protocol::ProducerId producer_id() const { return current_.producer_id; }
    [[nodiscard]] protocol::ProducerId previous_producer_id() const { return current_.previous_producer_id; }
    [[nodiscard]] protocol::ProducerId next_producer_id() const { return current_.next_producer_id; }
    [[nodiscard]] protocol::ProducerEpoch producer_epoch() const { return current_.producer_epoch; }
    [[nodiscard]] protocol::ProducerEpoch last_producer_epoch() const { return current_.last_producer_epoch; }
    [[nodiscard]] std::int32_t transaction_timeout_ms() const { return current_.transaction_timeout_ms; }
    [[nodiscard]] TransactionState state() const { return current_.state; }
    [[nodiscard]] const std::set<protocol::TopicPartition>& partitions() const { return current_.partitions; }
    [[nodiscard]] std::int64_t transaction_start_ms() const { return current_.transaction_start_ms; }
    [[nodiscard]] std::int64_t last_update_ms() const { return current_.last_update_ms; }
    [[nodiscard]] TransactionVersion transaction_version() const { return current_.transaction_version; }
    [[nodiscard]] std::optional<TransactionState> pending_state() const { return pending_state_; }
    [[nodiscard]] bool pending_transition_in_progress() const { return pending_state_.has_value(); }
    [[nodiscard]] bool has_failed_epoch_fence() const { return has_failed_epoch_fence_; }
    [[nodiscard]] bool producer_epoch_exhausted() const { return epoch_exhausted(current_.producer_epoch); }

private:
    [[nodiscard]] sim::Result<TransactionTransit> prepare_transition(TransactionTransit next);
    [[nodiscard]] bool valid_producer_epoch(const TransactionTransit& transit) const;
    [[nodiscard]] bool valid_producer_epoch_bump(const TransactionTransit& transit) const;
    [[nodiscard]] bool transit_fits(const TransactionTransit& transit) const;

    std::string transactional_id_;
    TransactionTransit current_;
    std::optional<TransactionState> pending_state_;
    bool has_failed_epoch_fence_ = false;  // not in the log: a reloaded metadata starts without it
};

// The value of a transactional id's record in the transaction log (its key is the transactional id):
// every field of the transit, little-endian, partitions in order (docs/transactions.md, "Record format").
// Encoding a transit no metadata could hold (an Empty one with partitions, as Kafka refuses, or values
// out of range) is a programming error (asserted).
[[nodiscard]] std::vector<std::byte> encode_transaction_record(const TransactionTransit& transit);
// The transit a record holds, or record_truncated / record_unknown_version / record_invalid.
[[nodiscard]] sim::Result<TransactionTransit> decode_transaction_record(std::span<const std::byte> bytes);

}  // namespace eosim::broker_core

template <>
struct std::is_error_code_enum<eosim::broker_core::TransactionErrc> : std::true_type {};
