#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker_core/cluster_config.h"
#include "broker_core/fetch_session.h"
#include "broker_core/group_coordinator.h"
#include "broker_core/partition_log.h"
#include "broker_core/transaction_coordinator.h"
#include "protocol/coordinator.h"
#include "protocol/fetch_session.h"
#include "protocol/messages.h"
#include "sim/condition.h"
#include "sim/rpc.h"

namespace eosim::broker_core {

struct BrokerConfig {
    protocol::BrokerId id{0};
    ClusterAddresses addresses;
    LogConfig log;
    std::int32_t min_insync_replicas = 2;
    sim::Duration heartbeat_interval{std::chrono::milliseconds(200)};
    // How long an answered heartbeat lets the broker act as a group coordinator, from when it was sent, on
    // the broker's own (drifting, never jumping) timer. It must stay below the controller's session
    // timeout, after which the controller fences the broker and moves its leaderships (docs/groups.md).
    sim::Duration controller_lease{std::chrono::milliseconds(1200)};
    sim::Duration replica_lag_time_max{std::chrono::milliseconds(1000)};  // replica.lag.time.max.ms
    sim::Duration isr_check_interval{std::chrono::milliseconds(100)};
    sim::Duration replica_fetch_max_wait{std::chrono::milliseconds(50)};
    std::uint64_t replica_fetch_max_bytes = 1U << 20U;  // replica.fetch.max.bytes, per partition (at least one batch)
    std::uint64_t replica_fetch_response_max_bytes = 10U << 20U;  // replica.fetch.response.max.bytes
    std::size_t fetch_session_cache_slots = 1000;  // max.incremental.fetch.session.cache.slots
    sim::Duration fetch_session_eviction{std::chrono::seconds(120)};  // a younger session is never evicted
    sim::Duration replica_fetch_backoff{std::chrono::milliseconds(20)};
    sim::Duration request_timeout{std::chrono::milliseconds(1000)};
    sim::Duration hw_checkpoint_interval{std::chrono::milliseconds(500)};
    sim::Duration producer_expiration_check_interval{std::chrono::milliseconds(500)};
    sim::Duration retention_check_interval{std::chrono::milliseconds(500)};
    // The internal topics a FindCoordinator creates (Kafka's defaults are 50 partitions each, replication
    // factor 3; a simulated cluster needs few partitions).
    std::int32_t offsets_topic_num_partitions = 3;              // offsets.topic.num.partitions
    std::int32_t offsets_topic_replication_factor = 3;          // offsets.topic.replication.factor
    std::int32_t transaction_state_log_num_partitions = 3;      // transaction.state.log.num.partitions
    std::int32_t transaction_state_log_replication_factor = 3;  // transaction.state.log.replication.factor
    TransactionCoordinatorConfig transactions;
    GroupCoordinatorConfig groups;
    BrokerBugs bugs;
};

enum class ReplicaRole : std::uint8_t { none, leader, follower };

// One broker's replica of one partition: its log, its high watermark, and, while it leads, what it
// knows of its followers.
struct Replica {
    Replica(sim::Disk& disk, const protocol::TopicPartition& topic_partition, const LogConfig& config)
        : partition(topic_partition), log(disk, topic_partition.name(), config) {}

    struct FollowerState {
        protocol::Offset log_end_offset{-1};  // -1: unknown since this broker became leader
        sim::Time last_caught_up{};  // by this broker's wall clock (sim::local_now), as Kafka's lastCaughtUpTimeMs
        protocol::Offset leader_end_at_last_fetch{0};  // Kafka's rule for "caught up"
        sim::Time last_fetch{};
        protocol::Offset log_start_offset{-1};
    };

    protocol::TopicPartition partition;
    PartitionLog log;
    ReplicaRole role = ReplicaRole::none;
    protocol::BrokerId leader = protocol::no_broker;
    protocol::LeaderEpoch leader_epoch{-1};
    std::int32_t partition_epoch = -1;
    std::vector<protocol::BrokerId> replicas;
    std::vector<protocol::BrokerId> isr;  // as the controller committed it
    protocol::Offset high_watermark{0};
    protocol::Offset shown_high_watermark{-1};  // the highest this leader has shown in this leadership
    protocol::Offset leader_epoch_start_offset{-1};  // the log end when it became leader (KIP-207)
    std::map<protocol::BrokerId, FollowerState> followers;
    bool alter_in_flight = false;
    std::vector<protocol::BrokerId> proposed_isr;  // while an ISR change is in flight
    // Members of ISR changes whose answer was lost: the controller may have committed them, so the high
    // watermark waits for them too until a newer partition state says what the ISR is (KIP-497's
    // maximal ISR).
    std::vector<protocol::BrokerId> isr_in_doubt;
    std::uint64_t generation = 0;  // bumped whenever the role or the epoch changes
    bool halted = false;
    bool trusts_leader = false;  // kafka-6361, kafka-7164: no epoch checks on its fetches in this generation
    // KIP-890 part 1: the producers whose first transactional batch is being verified with their
    // coordinator, each with the guard its verification holds; a marker for the producer removes it.
    std::map<protocol::ProducerId, std::uint64_t> verification_guards;
    sim::Condition changed;  // appended, high watermark moved, role changed
    sim::Condition* broker_changed = nullptr;  // the broker's, for fetches that wait on several partitions

    void notify_changed() {
        changed.notify_all();
        if (broker_changed != nullptr) {
            broker_changed->notify_all();
        }
    }
};

// One partition of a Fetch on the leader: its answer once given at once (an error, a diverging epoch, an
// offset out of range) or read.
struct PartitionRead {
    protocol::FetchPartition request;
    Replica* replica = nullptr;
    std::uint64_t generation = 0;  // the replica's when the fetch came
    protocol::FetchPartitionResponse answer;
    bool answered = false;
};

// One partition of a Produce on the leader: checked and appended (or refused) when the request comes;
// with acks=all it is answered once the high watermark passes `last`.
struct PartitionAppend {
    protocol::ProducePartitionResponse answer;
    Replica* replica = nullptr;
    std::uint64_t generation = 0;  // the replica's when the request came
    std::optional<protocol::Offset> last;  // acks=all: the last offset to see replicated
};

// A follower's fetcher of the partitions one leader leads (Kafka's ReplicaFetcherThread): one fiber, one
// connection, one request in flight, one fetch session.
struct Fetcher {
    struct Partition {
        std::uint64_t generation = 0;  // the replica's, when it began following this leader
        sim::Time delayed_until{};     // after an error, it sits out fetches until then
    };
    std::map<protocol::TopicPartition, Partition> partitions;
    protocol::FetchSessionBuilder session;
    sim::Condition changed;  // a partition was added
};

// A broker: serves produce, fetch, metadata and list-offsets requests, replicates the partitions it
// follows, keeps the ISR of those it leads, and heartbeats to the controller, whose metadata decides
// its roles.
class Broker final : public sim::NodeState {
public:
    Broker(sim::Node& node, BrokerConfig config);

    [[nodiscard]] const TransactionCoordinator& transaction_coordinator() const { return transaction_coordinator_; }
    [[nodiscard]] const GroupCoordinator& group_coordinator() const { return group_coordinator_; }
    [[nodiscard]] const std::map<protocol::TopicPartition, std::unique_ptr<Replica>>& replicas() const {
        return replicas_;
    }
    [[nodiscard]] const protocol::MetadataSnapshot& metadata() const { return metadata_; }
    // The controller answered a heartbeat of this broker recently enough that it cannot have fenced the
    // broker since (BrokerConfig::controller_lease).
    [[nodiscard]] bool holds_controller_lease() const;
    // The same lease, for leaders: a leader serves consumers' fetches and ListOffsets only while it holds
    // it, so that a leader the controller deposed while it could not hear does not serve stale ends
    // (docs/kafka-differences.md). Followers' fetches are served regardless.
    [[nodiscard]] bool holds_leader_lease() const;

private:
    // broker_fetch.cc: the request dispatch and the leader's side of reads.
    sim::Message handle(const sim::Message& request);
    protocol::FetchResponse fetch(const protocol::FetchRequest& request);
    PartitionRead prepare_read(const protocol::FetchPartition& partition, protocol::BrokerId from);
    // Who reads, and so up to where: a follower to the log end, a read_uncommitted consumer to the high
    // watermark, a read_committed one to the last stable offset.
    enum class Reader : std::uint8_t { follower, uncommitted, committed };
    [[nodiscard]] protocol::Offset visible_end(const Replica& replica, Reader reader) const;
    [[nodiscard]] protocol::Offset last_stable_offset(const Replica& replica) const;
    // The leader's offsets every answer for a partition carries.
    void fill_fetch_offsets(Replica& replica, protocol::FetchPartitionResponse& response) const;
    // Waits up to `max_wait` until some partition has something to read past its fetch offset; whether
    // it had to wait (the delayed-fetch path).
    bool await_fetchable(std::vector<PartitionRead>& reads, Reader reader, sim::Duration max_wait);
    // Reads the partitions that are not answered yet, within the request's byte budget; read_committed
    // answers carry the aborted transactions of what they return.
    void read_partitions(std::vector<PartitionRead>& reads, Reader reader, std::uint64_t max_bytes, bool delayed);
    // A follower's fetch tells the leader how far it got: caught up (for the ISR), its log end (for the
    // high watermark), its log start (for DeleteRecords).
    void record_follower_fetch(Replica& replica, protocol::BrokerId follower, const protocol::FetchPartition& fetch);
    [[nodiscard]] protocol::ErrorCode leader_precheck(const Replica* replica, protocol::LeaderEpoch current_epoch) const;
    protocol::ListOffsetsResponse list_offsets(const protocol::ListOffsetsRequest& request);
    protocol::OffsetsForLeaderEpochResponse offsets_for_leader_epoch(
        const protocol::OffsetsForLeaderEpochRequest& request);
    protocol::DeleteRecordsResponse delete_records(const protocol::DeleteRecordsRequest& request);
    // The lowest log start offset of the replicas on live brokers and of the ISR members (the leader's own among them).
    [[nodiscard]] protocol::Offset low_watermark(const Replica& replica) const;

    // broker_produce.cc: produce and producer ids.
    protocol::ProduceResponse produce(const protocol::ProduceRequest& request);
    // Checks and appends one partition's batch (or answers a duplicate with its original offsets).
    PartitionAppend append_partition(std::int16_t acks, const protocol::ProducePartition& data,
                                     const std::optional<std::string>& transactional_id);
    // The transactional and sequence checks of a producer's batch: false when it is answered (refused, or
    // a duplicate answered with its original offsets).
    bool producer_checks(PartitionAppend& append, std::int16_t acks, const protocol::ProducePartition& data);
    // The transactional check of a producer's batch or marker: the error to refuse it with, if any.
    [[nodiscard]] protocol::ErrorCode transaction_check(const Replica& replica, const protocol::RecordBatch& batch,
                                                        bool bumped_marker = false) const;
    // The no-zombie-fencing bug switch takes a batch the sequence check refused for its fenced epoch.
    [[nodiscard]] bool zombie_taken(const protocol::RecordBatch& batch, const SequenceCheck& check) const;
    // KIP-890 part 1: before a producer's first transactional batch on this partition, asks its
    // coordinator whether the partition is in the producer's transaction, holding a guard that a marker
    // arriving meanwhile removes. The error to refuse the batch with, if any.
    protocol::ErrorCode verify_transaction(Replica& replica, const std::string& transactional_id,
                                           const protocol::RecordBatch& batch);
    protocol::ErrorCode verify_with_coordinator(const std::string& transactional_id, const protocol::RecordBatch& batch,
                                                const protocol::TopicPartition& partition);
    // A client to `broker` among `clients` (made on first use).
    sim::RpcClient& peer(std::map<protocol::BrokerId, std::unique_ptr<sim::RpcClient>>& clients,
                         protocol::BrokerId broker);
    // WriteTxnMarkers: each marker appended to each of its partitions this broker leads, answered once
    // replicated.
    protocol::WriteTxnMarkersResponse write_txn_markers(const protocol::WriteTxnMarkersRequest& request);
    PartitionAppend append_marker(const protocol::WritableTxnMarker& marker, const protocol::TopicPartition& partition);
    // Not the leader, bad acks, or acks=all below min ISR: the error to answer with at once, if any.
    [[nodiscard]] protocol::ErrorCode produce_precheck(const Replica* replica, std::int16_t acks) const;
    // The answer to a batch the idempotence check did not let append (a duplicate gets its original offsets).
    void answer_rejected(PartitionAppend& append, std::int16_t acks, const protocol::ProducePartition& data,
                         const SequenceCheck& check);
    // Appends the batch at the log end in this leader's epoch.
    void append_batch(PartitionAppend& append, std::int16_t acks, const protocol::ProducePartition& data);
    // With acks=all: waits until the high watermark passes what was appended, or the deadline.
    void await_append(PartitionAppend& append, sim::Time deadline);
    // Waits until the high watermark passes `last`; the error to answer with, if any.
    protocol::ErrorCode await_replication(Replica& replica, std::uint64_t generation, protocol::Offset last,
                                          sim::Time deadline);
    protocol::InitProducerIdResponse init_producer_id();

    // broker_partition.cc: roles from the metadata, ISR, high watermark and its checkpoint.
    void apply_metadata(const protocol::MetadataSnapshot& metadata);
    Replica& replica_for(const protocol::PartitionState& state);
    static void take_role(Replica& replica, ReplicaRole role, const protocol::PartitionState& state);
    void become_leader(Replica& replica, const protocol::PartitionState& state);
    void become_follower(Replica& replica, const protocol::PartitionState& state);
    void isr_loop();
    void maybe_expand_isr(Replica& replica, protocol::BrokerId follower);
    void propose_isr(Replica& replica, std::vector<protocol::BrokerId> new_isr);
    void maybe_advance_high_watermark(Replica& replica);
    void write_hw_checkpoint();
    [[nodiscard]] std::map<std::string, std::int64_t> read_hw_checkpoint() const;

    // broker_fetcher.cc: the follower's fetchers, one per leader.
    // The replica follows `leader` from now on, in the replica's current generation.
    void add_to_fetcher(protocol::BrokerId leader, const protocol::TopicPartition& partition,
                        std::uint64_t generation);
    void run_fetcher(protocol::BrokerId leader);
    // Drops the partitions no longer followed in their generation; the fetch state of the others (those
    // not sitting out a backoff) for the next request.
    std::vector<protocol::FetchPartition> fetcher_partitions(Fetcher& fetcher);
    // Applies one partition's answer, if the replica still follows as it did when the request went out.
    void apply_fetched(Fetcher& fetcher, const protocol::FetchPartition& requested,
                       const protocol::FetchPartitionResponse& response);
    // The replica while this broker still follows in `generation` (null: the role changed, or it halted).
    Replica* following(const protocol::TopicPartition& partition, std::uint64_t generation);
    [[nodiscard]] protocol::FetchPartition replica_fetch_partition(const Replica& replica) const;
    // Out of range (truncate or start again at the leader's log start) or another error (back off): true
    // when the response was such an error and is dealt with.
    bool handled_fetch_error(Replica& replica, Fetcher::Partition& state, const protocol::FetchPartition& request,
                             const protocol::FetchPartitionResponse& response);
    // Appends what the leader sent; the replica afterwards, or null when it is no longer followed.
    Replica* append_fetched(Replica& follower, std::uint64_t generation,
                            const std::vector<protocol::RecordBatch>& batches);
    // The leader's high watermark (within this log's end) and log start.
    void follow_leader_offsets(Replica& replica, const protocol::FetchPartitionResponse& response);
    void handle_divergence(Replica& replica, const protocol::DivergingEpoch& diverging);
    // Truncates a follower's log; its high watermark never stays above its log end.
    void truncate(Replica& replica, protocol::Offset end);

    // broker_maintenance.cc: background loops over the logs.
    void retention_loop();
    void producer_expiration_loop();
    // The cleaner removed tombstones: the witness keeps them, to tell which replica never gets them, and
    // the harness records each as a removal line; the cleaning ran at `cleaned_at_ms` below `high_watermark`.
    void record_removed_tombstones(const Replica& replica, const CleanReport& cleaned, std::int64_t cleaned_at_ms,
                                   protocol::Offset high_watermark) const;
    void hw_checkpoint_loop();

    // broker_topics.cc: topics and coordinators.
    // CreateTopics, forwarded to the controller (KIP-590); REQUEST_TIMED_OUT for each topic when it does
    // not answer.
    protocol::CreateTopicsResponse create_topics(const protocol::CreateTopicsRequest& request);
    // The topic as this broker's metadata describes it (null: unknown here).
    [[nodiscard]] const protocol::TopicDescription* topic_description(std::string_view name) const;
    // The leader of the key's partition of the internal topic for its key type (Kafka's
    // KafkaApis.getCoordinator); COORDINATOR_NOT_AVAILABLE while that topic does not exist (its creation
    // is asked for) or the partition has no live leader.
    protocol::FindCoordinatorResponse find_coordinator(const protocol::FindCoordinatorRequest& request);
    // Asks the controller, in the background, to create the internal topic for `type` (once at a time, as
    // Kafka's AutoTopicCreationManager); the topic arrives with the metadata.
    void request_internal_topic(protocol::CoordinatorType type);
    [[nodiscard]] protocol::TopicDescription internal_topic(protocol::CoordinatorType type) const;
    // The broker that coordinates `key` by this broker's metadata (no_broker: its internal topic does not
    // exist yet, or the key's partition has no leader).
    [[nodiscard]] protocol::BrokerId coordinator_of(protocol::CoordinatorType type, const std::string& key) const;

    // broker_transactions.cc: what the transaction coordinator needs of its broker.
    [[nodiscard]] TransactionLogAccess transaction_log_access();
    protocol::ErrorCode append_transaction_record(std::int32_t partition, std::int32_t coordinator_epoch,
                                                  protocol::Record record);
    [[nodiscard]] std::optional<std::vector<protocol::Record>> read_transaction_log(std::int32_t partition,
                                                                                   std::int32_t coordinator_epoch);
    // The transaction-state partition `replica` holds, when it is one (else -1).
    [[nodiscard]] static std::int32_t transaction_state_partition(const Replica& replica);

    // broker_groups.cc: what the group coordinator needs of its broker.
    [[nodiscard]] GroupLogAccess group_log_access();
    GroupAppendResult append_group_batch(std::int32_t partition, std::int32_t coordinator_epoch,
                                         protocol::RecordBatch batch, const std::string& transactional_id);
    [[nodiscard]] std::optional<std::vector<protocol::RecordBatch>> read_group_log(std::int32_t partition,
                                                                                  std::int32_t coordinator_epoch);
    // The `__consumer_offsets` partition `replica` holds, when it is one (else -1).
    [[nodiscard]] static std::int32_t offsets_partition(const Replica& replica);
    // A marker of `marker` is replicated on the offsets partition `replica`: the group coordinator applies
    // the producer's pending offsets, before the marker is answered (after, with kafka-17507).
    void complete_group_transaction(const Replica& replica, const protocol::WritableTxnMarker& marker,
                                    protocol::Offset marker_offset);

    // broker.cc: life cycle, heartbeats, halting.
    void heartbeat_loop();
    [[nodiscard]] bool verify_crc() const { return !config_.bugs.no_crc_check; }
    [[noreturn]] void halt(const Replica& replica, const char* what);
    Replica* find(const protocol::TopicPartition& partition);
    // Tells the harness a moment happened here (sim::moments, for aimed faults); `peer` is the other
    // broker involved, if any. Never changes what this broker does.
    void announce(std::string_view moment, const protocol::TopicPartition& partition,
                  protocol::BrokerId peer = protocol::no_broker) const;
    // What to tell the harness when the replica's log start moves (sim::moments::log_start_moved with its
    // numbers; the harness records a removal line, docs/history-format.md): `cause` retention,
    // delete-records, follow-leader or fetch-out-of-range, bound by the replica's `high_watermark` as it
    // was when the move was decided and by `limit` (the offset DeleteRecords asked for, the leader's start).
    [[nodiscard]] LogStartMoved removal_announcer(const Replica& replica, std::string_view cause,
                                                  protocol::Offset high_watermark,
                                                  protocol::Offset limit = protocol::Offset(-1)) const;
    // The node name of broker `broker` (empty for no_broker).
    [[nodiscard]] std::string broker_name(protocol::BrokerId broker) const;

    sim::Node& node_;
    BrokerConfig config_;
    protocol::MetadataSnapshot metadata_;
    sim::Time controller_lease_until_{};  // true time; past it the controller may have fenced the broker
    std::map<protocol::TopicPartition, std::unique_ptr<Replica>> replicas_;
    sim::Condition replicas_changed_;  // any replica's `changed`
    FetchSessionCache fetch_sessions_;
    std::map<protocol::BrokerId, std::unique_ptr<Fetcher>> fetchers_;
    std::map<std::string, std::int64_t> recovered_hw_;
    std::unique_ptr<sim::RpcClient> controller_;
    std::int64_t next_producer_id_ = 0;  // the block of producer ids this broker hands out
    std::int64_t producer_id_block_end_ = 0;
    bool allocating_producer_ids_ = false;
    sim::Condition producer_ids_changed_;
    std::set<std::string, std::less<>> internal_topics_requested_;  // creations under way
    std::uint64_t next_verification_guard_ = 0;
    std::map<protocol::BrokerId, std::unique_ptr<sim::RpcClient>> verify_clients_;  // to coordinators
    std::map<protocol::BrokerId, std::unique_ptr<sim::RpcClient>> marker_clients_;  // to partition leaders
    TransactionCoordinator transaction_coordinator_;
    GroupCoordinator group_coordinator_;
    sim::RpcServer server_;
};

}  // namespace eosim::broker_core
