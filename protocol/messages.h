#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/errors.h"
#include "protocol/topics.h"
#include "protocol/types.h"
#include "sim/time.h"

namespace eosim::protocol {

// ---- Metadata ------------------------------------------------------------------------------------

inline constexpr BrokerId no_broker{-1};

struct PartitionState {
    TopicPartition partition;
    std::vector<BrokerId> replicas;  // the assignment, in preference order
    BrokerId leader = no_broker;
    LeaderEpoch leader_epoch{0};
    std::vector<BrokerId> isr;
    std::int32_t partition_epoch = 0;  // bumped by every change of leader or ISR

    bool operator==(const PartitionState&) const = default;
};

struct MetadataSnapshot {
    std::int64_t version = 0;
    std::vector<BrokerId> live_brokers;
    std::vector<TopicDescription> topics;  // by name
    std::vector<PartitionState> partitions;
};

// Any broker answers from its metadata cache.
struct MetadataRequest {};
struct MetadataResponse {
    MetadataSnapshot metadata;
};

// ---- Broker <-> controller (KRaft-like) ----------------------------------------------------------

struct BrokerHeartbeatRequest {
    BrokerId broker;
    std::uint32_t incarnation = 0;  // changes on every restart: the controller fences the old one
    std::int64_t metadata_version = -1;
};
struct BrokerHeartbeatResponse {
    ErrorCode error = ErrorCode::none;
    std::optional<MetadataSnapshot> metadata;  // when newer than the broker's
};

// The leader asks the controller to change the ISR (KIP-497).
struct AlterPartitionRequest {
    BrokerId leader;
    TopicPartition partition;
    LeaderEpoch leader_epoch;
    std::int32_t partition_epoch = 0;
    std::vector<BrokerId> new_isr;
};
struct AlterPartitionResponse {
    ErrorCode error = ErrorCode::none;
    PartitionState state;
};

// A broker asks the controller for a block of producer ids (KIP-730).
struct AllocateProducerIdsRequest {
    BrokerId broker;
    std::uint32_t incarnation = 0;
};
struct AllocateProducerIdsResponse {
    ErrorCode error = ErrorCode::none;
    ProducerId first_producer_id = no_producer_id;
    std::int32_t count = 0;
};

// ---- Producer ids (KIP-98) -----------------------------------------------------------------------

// An idempotent producer asks any broker for a producer id; its epoch starts at 0.
// Without a transactional id: a new producer id for an idempotent producer (any broker). With one: to the
// transaction coordinator of that id, which bumps the id's epoch (fencing older instances) or rotates the
// producer id when the epoch is exhausted; a producer that knows its id and epoch sends them (KIP-360), so
// a retry after a lost answer is recognised.
struct InitProducerIdRequest {
    std::optional<std::string> transactional_id;
    std::int32_t transaction_timeout_ms = -1;  // transaction.timeout.ms (with a transactional id)
    ProducerId producer_id = no_producer_id;
    ProducerEpoch producer_epoch = no_producer_epoch;
};
struct InitProducerIdResponse {
    ErrorCode error = ErrorCode::none;
    ProducerId producer_id = no_producer_id;
    ProducerEpoch producer_epoch = no_producer_epoch;
};

// ---- Produce and fetch ---------------------------------------------------------------------------

// read_committed readers see only what is below the last stable offset, and skip aborted transactions.
enum class IsolationLevel : std::int8_t { read_uncommitted = 0, read_committed = 1 };

// One aborted transaction in a read_committed fetch answer: its producer and first offset. A reader drops
// the producer's transactional batches from that offset up to the producer's ABORT marker.
struct AbortedTransaction {
    ProducerId producer_id = no_producer_id;
    Offset first_offset{-1};
    bool operator==(const AbortedTransaction&) const = default;
};

// One partition's batch in a Produce request (at most one per partition, as in Kafka).
struct ProducePartition {
    TopicPartition partition;
    RecordBatch batch;  // base offset and leader epoch are assigned by the leader
};

struct ProduceRequest {
    std::int16_t acks = -1;  // -1 (all), 1, 0
    // A transactional producer's id: a partition leader verifies the producer's first transactional
    // batch with its coordinator (KIP-890 part 1).
    std::optional<std::string> transactional_id;
    sim::Duration timeout{std::chrono::seconds(30)};
    std::vector<ProducePartition> partitions;
};

struct ProducePartitionResponse {
    TopicPartition partition;
    ErrorCode error = ErrorCode::none;
    Offset base_offset{-1};
    Offset log_start_offset{-1};
};

// One answer per partition of the request, once every one is decided (appended and, with acks=all,
// replicated, or refused, or timed out).
struct ProduceResponse {
    std::vector<ProducePartitionResponse> partitions;
};

inline constexpr BrokerId consumer_replica_id{-1};

// Fetch sessions (KIP-227): a fetcher and a leader agree on the set of partitions fetched, so that
// later requests carry only the partitions whose fetch state changed and answers only those with news.
inline constexpr std::int32_t no_fetch_session = 0;
inline constexpr std::int32_t initial_session_epoch = 0;  // a full request: create a session (closing the given one)
inline constexpr std::int32_t final_session_epoch = -1;   // a full request without a session (closing the given one)

// The session epoch after `epoch`: it wraps from INT32_MAX back to 1, never to 0 or -1.
constexpr std::int32_t next_session_epoch(std::int32_t epoch) {
    return epoch < 0 ? epoch : (epoch == INT32_MAX ? 1 : epoch + 1);
}

// One partition of a Fetch request and its fetch state.
struct FetchPartition {
    TopicPartition partition;
    LeaderEpoch current_leader_epoch = no_leader_epoch;  // -1: not checked (KIP-320)
    Offset fetch_offset{0};
    LeaderEpoch last_fetched_epoch = no_leader_epoch;  // followers: the epoch of their last batch
    Offset log_start_offset{-1};                       // followers: their own log start
    std::uint64_t max_bytes = 1U << 20U;               // about how much of this partition an answer brings

    bool operator==(const FetchPartition&) const = default;
};

struct FetchRequest {
    BrokerId replica = consumer_replica_id;  // a follower's broker id, or -1 for a consumer
    sim::Duration max_wait{std::chrono::milliseconds(100)};
    std::uint64_t max_bytes = 50U << 20U;  // the whole answer (at least one batch comes)
    std::int32_t session_id = no_fetch_session;
    std::int32_t session_epoch = final_session_epoch;
    // A full request (session epoch 0 or -1): every partition fetched. An incremental one: the partitions
    // added to the session or whose fetch state changed, and those to drop.
    std::vector<FetchPartition> partitions;
    std::vector<TopicPartition> forgotten;
    // Consumers only: read_committed reads stop at the last stable offset (followers read everything).
    IsolationLevel isolation = IsolationLevel::read_uncommitted;
};

struct DivergingEpoch {
    LeaderEpoch epoch = no_leader_epoch;
    Offset end_offset{-1};
    bool operator==(const DivergingEpoch&) const = default;
};

struct FetchPartitionResponse {
    TopicPartition partition;
    ErrorCode error = ErrorCode::none;
    Offset high_watermark{-1};
    Offset log_start_offset{-1};
    Offset log_end_offset{-1};
    LeaderEpoch leader_epoch = no_leader_epoch;
    std::optional<DivergingEpoch> diverging_epoch;  // the follower's log diverged: truncate (KIP-320/595)
    std::vector<RecordBatch> batches;
    Offset last_stable_offset{-1};
    // read_committed: the aborted transactions that overlap the batches returned, in offset order.
    std::vector<AbortedTransaction> aborted_transactions;
};

struct FetchResponse {
    ErrorCode error = ErrorCode::none;  // the session's: FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH
    std::int32_t session_id = no_fetch_session;  // the session the next incremental request names (0: none)
    // A full answer: every partition of the request. An incremental one: only those with records, an
    // error, a diverging epoch or offsets that moved since the session last answered for them.
    std::vector<FetchPartitionResponse> partitions;
};

struct OffsetsForLeaderEpochRequest {
    TopicPartition partition;
    LeaderEpoch current_leader_epoch = no_leader_epoch;
    LeaderEpoch requested_epoch = no_leader_epoch;
};
struct OffsetsForLeaderEpochResponse {
    ErrorCode error = ErrorCode::none;
    LeaderEpoch epoch = no_leader_epoch;
    Offset end_offset{-1};
};

// Moves a partition's log start offset up (the leader answers once every ISR member has it, or with
// REQUEST_TIMED_OUT): the records below are gone.
inline constexpr Offset delete_to_high_watermark{-1};

struct DeleteRecordsRequest {
    TopicPartition partition;
    Offset offset = delete_to_high_watermark;
    sim::Duration timeout{std::chrono::seconds(1)};
};
struct DeleteRecordsResponse {
    ErrorCode error = ErrorCode::none;
    Offset low_watermark{-1};  // the lowest log start offset of the ISR when answered
};

// ---- Transactions (KIP-98, KIP-890) --------------------------------------------------------------

// To the transaction coordinator: these partitions join the producer's transaction. With verify_only
// (KIP-890 part 1), a partition leader asks instead whether they already are in it (nothing is added).
struct AddPartitionsToTxnRequest {
    std::string transactional_id;
    ProducerId producer_id = no_producer_id;
    ProducerEpoch producer_epoch = no_producer_epoch;
    std::vector<TopicPartition> partitions;
    bool verify_only = false;
};
struct PartitionError {
    TopicPartition partition;
    ErrorCode error = ErrorCode::none;
    bool operator==(const PartitionError&) const = default;
};
struct AddPartitionsToTxnResponse {
    ErrorCode error = ErrorCode::none;  // of the whole request (e.g. NOT_COORDINATOR)
    std::vector<PartitionError> partitions;
};

// To the transaction coordinator: commit or abort the producer's transaction. With transaction version
// 2 (KIP-890 part 2) the answer carries the epoch the coordinator bumped to, which the producer uses
// for its next transaction.
struct EndTxnRequest {
    std::string transactional_id;
    ProducerId producer_id = no_producer_id;
    ProducerEpoch producer_epoch = no_producer_epoch;
    bool committed = false;
};
struct EndTxnResponse {
    ErrorCode error = ErrorCode::none;
    ProducerId producer_id = no_producer_id;
    ProducerEpoch producer_epoch = no_producer_epoch;
};

// From a transaction coordinator to partition leaders: append this marker for the producer to each
// partition. A leader refuses a marker of an older coordinator epoch than it has seen for the producer.
struct WritableTxnMarker {
    ProducerId producer_id = no_producer_id;
    ProducerEpoch producer_epoch = no_producer_epoch;
    bool committed = false;
    std::int32_t coordinator_epoch = 0;
    std::vector<TopicPartition> partitions;
    // The transaction's version (WriteTxnMarkers v2, KAFKA-19446): from 2 on, a marker's epoch is the
    // bumped one, above every epoch of the transaction's own batches.
    std::int16_t transaction_version = 2;
};
struct WriteTxnMarkersRequest {
    std::vector<WritableTxnMarker> markers;
};
struct TxnMarkerResult {
    ProducerId producer_id = no_producer_id;
    std::vector<PartitionError> partitions;
};
struct WriteTxnMarkersResponse {
    std::vector<TxnMarkerResult> markers;  // in the request's order
};

inline constexpr std::int64_t earliest_timestamp = -2;
inline constexpr std::int64_t latest_timestamp = -1;

// KIP-207: a leader whose high watermark has not yet reached the log end it was elected with answers
// OFFSET_NOT_AVAILABLE for the latest offset (its high watermark may still be below the old leader's).
struct ListOffsetsRequest {
    TopicPartition partition;
    std::int64_t timestamp = latest_timestamp;           // earliest_timestamp or latest_timestamp
    LeaderEpoch current_leader_epoch = no_leader_epoch;  // -1: not checked (KIP-320)
    // read_committed: the latest offset is the last stable offset, not the high watermark.
    IsolationLevel isolation = IsolationLevel::read_uncommitted;
};
struct ListOffsetsResponse {
    ErrorCode error = ErrorCode::none;
    Offset offset{-1};
    LeaderEpoch leader_epoch = no_leader_epoch;
};

}  // namespace eosim::protocol
