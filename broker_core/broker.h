#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker_core/cluster_config.h"
#include "broker_core/partition_log.h"
#include "protocol/coordinator.h"
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
    sim::Duration replica_lag_time_max{std::chrono::milliseconds(1000)};  // replica.lag.time.max.ms
    sim::Duration isr_check_interval{std::chrono::milliseconds(100)};
    sim::Duration replica_fetch_max_wait{std::chrono::milliseconds(50)};
    std::uint64_t replica_fetch_max_bytes = 1U << 20U;  // replica.fetch.max.bytes (at least one batch comes)
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
        sim::Time last_caught_up{};
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
    std::map<protocol::BrokerId, FollowerState> followers;
    bool alter_in_flight = false;
    std::vector<protocol::BrokerId> proposed_isr;  // while an ISR change is in flight
    // Members of ISR changes whose answer was lost: the controller may have committed them, so the high
    // watermark waits for them too until a newer partition state says what the ISR is (KIP-497's
    // maximal ISR).
    std::vector<protocol::BrokerId> isr_in_doubt;
    std::uint64_t generation = 0;  // bumped whenever the role or the epoch changes
    bool halted = false;
    sim::Condition changed;  // appended, high watermark moved, role changed
};

// A broker: serves produce, fetch, metadata and list-offsets requests, replicates the partitions it
// follows, keeps the ISR of those it leads, and heartbeats to the controller, whose metadata decides
// its roles.
class Broker final : public sim::NodeState {
public:
    Broker(sim::Node& node, BrokerConfig config);

    [[nodiscard]] const std::map<protocol::TopicPartition, std::unique_ptr<Replica>>& replicas() const {
        return replicas_;
    }
    [[nodiscard]] const protocol::MetadataSnapshot& metadata() const { return metadata_; }

private:
    // broker_fetch.cc: the request dispatch and the leader's side of reads.
    sim::Message handle(const sim::Message& request);
    protocol::FetchResponse fetch(const protocol::FetchRequest& request);
    // A follower's fetch tells the leader how far it got: caught up (for the ISR), its log end (for the
    // high watermark), its log start (for DeleteRecords).
    void record_follower_fetch(Replica& replica, const protocol::FetchRequest& request);
    // Waits up to the request's max wait for something to read past the fetch offset; false when this
    // broker stopped leading (or halted) meanwhile.
    bool await_fetchable(Replica& replica, std::uint64_t generation, const protocol::FetchRequest& request,
                         bool from_follower);
    protocol::ListOffsetsResponse list_offsets(const protocol::ListOffsetsRequest& request);
    protocol::OffsetsForLeaderEpochResponse offsets_for_leader_epoch(
        const protocol::OffsetsForLeaderEpochRequest& request);
    protocol::DeleteRecordsResponse delete_records(const protocol::DeleteRecordsRequest& request);
    // The lowest log start offset of the replicas on live brokers (the leader's own among them).
    [[nodiscard]] protocol::Offset low_watermark(const Replica& replica) const;

    // broker_produce.cc: produce and producer ids.
    protocol::ProduceResponse produce(const protocol::ProduceRequest& request);
    // Not the leader, bad acks, or acks=all below min ISR: the error to answer with at once, if any.
    [[nodiscard]] protocol::ErrorCode produce_precheck(const Replica* replica,
                                                       const protocol::ProduceRequest& request) const;
    // The answer to a batch the idempotence check did not let append (a duplicate gets its original offsets).
    protocol::ProduceResponse answer_rejected(Replica& replica, std::uint64_t generation,
                                              const protocol::ProduceRequest& request, const SequenceCheck& check,
                                              protocol::ProduceResponse response);
    // Appends the batch at the log end in this leader's epoch and answers as acks demands.
    protocol::ProduceResponse append_and_answer(Replica& replica, std::uint64_t generation,
                                                const protocol::ProduceRequest& request,
                                                protocol::ProduceResponse response);
    // Waits (acks=all) until the high watermark passes `last`; the error to answer with, if any.
    protocol::ErrorCode await_replication(Replica& replica, std::uint64_t generation, protocol::Offset last,
                                          sim::Duration timeout);
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

    // broker_fetcher.cc: the follower's fetcher.
    void follow(protocol::TopicPartition partition, std::uint64_t generation);
    // The replica while this broker still follows in `generation` (null: the role changed, or it halted).
    Replica* following(const protocol::TopicPartition& partition, std::uint64_t generation);
    [[nodiscard]] protocol::FetchRequest replica_fetch_request(const Replica& replica) const;
    // Out of range (truncate or start again at the leader's log start) or another error (back off): true
    // when the response was such an error and is dealt with.
    bool handled_fetch_error(Replica& replica, const protocol::FetchRequest& request,
                             const protocol::FetchResponse& response);
    // Appends what the leader sent; the replica afterwards, or null when it is no longer followed.
    Replica* append_fetched(Replica& follower, std::uint64_t generation,
                            const std::vector<protocol::RecordBatch>& batches);
    // The leader's high watermark (within this log's end) and log start.
    void follow_leader_offsets(Replica& replica, const protocol::FetchResponse& response);
    void handle_divergence(Replica& replica, const protocol::DivergingEpoch& diverging);
    // Truncates a follower's log; its high watermark never stays above its log end.
    void truncate(Replica& replica, protocol::Offset end);

    // broker_maintenance.cc: background loops over the logs.
    void retention_loop();
    void producer_expiration_loop();
    // The cleaner removed tombstones: the witness keeps them, to tell which replica never gets them.
    void record_removed_tombstones(const Replica& replica, const CleanReport& cleaned) const;
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

    // broker.cc: life cycle, heartbeats, halting.
    void heartbeat_loop();
    [[nodiscard]] bool verify_crc() const { return !config_.bugs.no_crc_check; }
    [[noreturn]] void halt(const Replica& replica, const char* what);
    Replica* find(const protocol::TopicPartition& partition);
    // Tells the harness a moment happened here (sim::moments, for aimed faults); `peer` is the other
    // broker involved, if any. Never changes what this broker does.
    void announce(std::string_view moment, const protocol::TopicPartition& partition,
                  protocol::BrokerId peer = protocol::no_broker) const;

    sim::Node& node_;
    BrokerConfig config_;
    protocol::MetadataSnapshot metadata_;
    std::map<protocol::TopicPartition, std::unique_ptr<Replica>> replicas_;
    std::map<std::string, std::int64_t> recovered_hw_;
    std::unique_ptr<sim::RpcClient> controller_;
    std::int64_t next_producer_id_ = 0;  // the block of producer ids this broker hands out
    std::int64_t producer_id_block_end_ = 0;
    bool allocating_producer_ids_ = false;
    sim::Condition producer_ids_changed_;
    std::set<std::string, std::less<>> internal_topics_requested_;  // creations under way
    sim::RpcServer server_;
};

}  // namespace eosim::broker_core
