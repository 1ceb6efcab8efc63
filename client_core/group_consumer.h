#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client_core/assignors.h"
#include "client_core/consumer.h"
#include "client_core/history.h"
#include "client_core/metadata_client.h"
#include "protocol/group_messages.h"

// A consumer in a group (Kafka's KafkaConsumer.subscribe with its ConsumerCoordinator, classic protocol):
// it finds the group's coordinator, joins (the leader computes the assignment with the range or the
// cooperative-sticky assignor), heartbeats from a fiber of its own, runs the rebalance callbacks, starts
// each new partition at the group's committed offset (OffsetFetch with require_stable, KIP-447), commits
// synchronously or automatically, and leaves the group on close or when the application stops polling
// for longer than the rebalance timeout (max.poll.interval.ms). Fetching is the manual consumer's
// (client_core/consumer.h). docs/groups.md, "Consumer".

namespace eosim::client_core {

// An application's own assignor (Kafka's ConsumerPartitionAssignor, as Kafka Streams plugs in its
// StreamsPartitionAssignor). Eager: a member gives up everything it owns before it joins. Cooperative
// (KIP-429): a member keeps what it owns, says so in its subscription, and gives up only what the new
// assignment leaves out, then joins again; the assignor must not hand out what another member still owns.
struct CustomAssignor {
    bool cooperative = false;
    // The user data of the member's subscription, asked at each join (after the revocation).
    std::function<std::string()> subscription_data;
    // The leader's part: every member's assignment from every member's subscription.
    std::function<std::map<std::string, Assignment>(const std::map<std::string, std::int32_t>& partitions_per_topic,
                                                    const std::map<std::string, Subscription>& subscriptions)>
        assign;
    // The member's assignment arrived (called before the listener's on_assigned).
    std::function<void(const Assignment&)> on_assignment;
};

struct GroupConsumerConfig {
    std::string group_id;
    std::vector<std::string> topics;
    std::string assignor = "range";  // or "cooperative-sticky", or the name of `custom`
    std::optional<CustomAssignor> custom;
    sim::Duration session_timeout{std::chrono::seconds(3)};    // session.timeout.ms
    sim::Duration rebalance_timeout{std::chrono::seconds(5)};  // max.poll.interval.ms
    sim::Duration heartbeat_interval{std::chrono::milliseconds(300)};
    bool auto_commit = false;  // enable.auto.commit
    sim::Duration auto_commit_interval{std::chrono::seconds(1)};
    sim::Duration api_timeout{std::chrono::seconds(10)};  // default.api.timeout.ms: commits, committed offsets
    ConsumerConfig consumer;                              // client id, isolation level, fetch settings
};

// What a transactional producer sends with the offsets (KIP-447): who consumed them, in which generation.
struct ConsumerGroupMetadata {
    std::string group_id;
    std::int32_t generation_id = protocol::no_generation;
    std::string member_id;
};

// Kafka's ConsumerRebalanceListener, called from poll() (the application's fiber).
struct RebalanceListener {
    std::function<void(const std::vector<protocol::TopicPartition>&)> on_revoked;
    std::function<void(const std::vector<protocol::TopicPartition>&)> on_assigned;
    // The partitions were taken away without a revocation (the member was fenced or expired): another
    // member may already own them. Nothing may be committed for them.
    std::function<void(const std::vector<protocol::TopicPartition>&)> on_lost;
};

enum class CommitResult : std::uint8_t {
    ok,
    failed,     // Kafka's CommitFailedException (or RebalanceInProgressException): the group moved on
    timed_out,  // no answer within the api timeout: the commit may or may not have happened
};

std::string_view to_string(CommitResult result);

// History (docs/history-format.md): "assigned", "revoked" and "lost" (ok, with group, member_id, generation,
// partitions); "commit-offsets" (invoke, then ok, fail or info, with group, member_id, generation,
// offsets); "committed-offsets" (ok: the committed offsets a new partition starts from); and the manual
// consumer's "assign", "unassign", "seek" and "poll".
class GroupConsumer {
public:
    GroupConsumer(sim::Node& node, GroupConsumerConfig config, protocol::ClusterAddresses addresses,
                  HistoryRecorder& history, RebalanceListener listener = {});
    GroupConsumer(const GroupConsumer&) = delete;
    GroupConsumer& operator=(const GroupConsumer&) = delete;

    // In a fiber. Joins or rejoins the group when it must (running the callbacks), then fetches the
    // assigned partitions once: the records (empty while not a stable member).
    std::vector<ConsumedRecord> poll();
    // OffsetCommit of `offsets` in the current generation, retried on coordinator errors until the api
    // timeout.
    CommitResult commit_sync(const std::map<protocol::TopicPartition, protocol::Offset>& offsets);
    // The same with each partition's leader epoch and metadata as given.
    CommitResult commit_sync(const std::vector<protocol::OffsetCommitPartition>& partitions);
    // The positions of every assigned partition.
    CommitResult commit_sync();
    // `offsets` as a commit carries them: each with the leader epoch of the record before it when that is
    // the consumer's position (KIP-320), else none.
    [[nodiscard]] std::vector<protocol::OffsetCommitPartition> commit_partitions(
        const std::map<protocol::TopicPartition, protocol::Offset>& offsets) const;
    void seek(const protocol::TopicPartition& partition, protocol::Offset offset);
    // The metadata committed with the offset `partition` started from (empty: none, or nothing committed).
    [[nodiscard]] std::string committed_metadata(const protocol::TopicPartition& partition) const;
    // The next offset poll() reads (nothing while the partition's start is not known yet).
    [[nodiscard]] std::optional<protocol::Offset> position(const protocol::TopicPartition& partition) const;
    // The partition's end under the consumer's isolation level, asked of its leader now (Consumer::end_offset).
    [[nodiscard]] std::optional<protocol::Offset> end_offset(const protocol::TopicPartition& partition) {
        return consumer_.end_offset(partition);
    }
    // Every assigned partition starts again at the group's committed offset (fetched on the next poll): what
    // an application does after it aborted a transaction, since the position is not rewound by the abort.
    void rewind_to_committed();
    [[nodiscard]] const std::set<protocol::TopicPartition>& assignment() const { return owned_; }
    // The group, generation and member id of the last join that completed. Like Kafka's, it keeps them after
    // the member learns it was fenced or expired, so that offsets sent with it are fenced too (KIP-447).
    [[nodiscard]] ConsumerGroupMetadata group_metadata() const;
    // A stable member with its assignment.
    [[nodiscard]] bool stable() const { return state_ == State::stable && !rejoin_needed_; }
    // Leaves the group (LeaveGroup) and stops heartbeating.
    void close();

    // The rebalance protocol is cooperative (the cooperative-sticky assignor, or a cooperative custom one).
    [[nodiscard]] bool cooperative() const {
        return config_.assignor == "cooperative-sticky" || (config_.custom && config_.custom->cooperative);
    }

private:
    enum class State : std::uint8_t { unjoined, rebalancing, stable };

    bool ensure_coordinator(sim::Time deadline);
    // One join and sync round; true when the member is stable afterwards.
    bool join_group();
    // The leader's assignment of every member (encoded for SyncGroup).
    std::vector<protocol::SyncGroupAssignment> assign(const std::vector<protocol::JoinGroupMember>& members);
    void on_join_prepare();
    void on_assignment(const std::set<protocol::TopicPartition>& assigned);
    // Gives the partitions still without a start their committed offsets (or the log start).
    void fetch_positions();
    void maybe_auto_commit();
    void heartbeat_loop();
    // The coordinator told the member it is no longer one (or not in this generation).
    void reset_generation(bool forget_member_id, const char* why);
    // Kafka's coordinator errors: look for the coordinator again.
    [[nodiscard]] static bool coordinator_moved(protocol::ErrorCode error);
    void record(ClientOperation::Type type, const char* f, const std::vector<protocol::TopicPartition>& partitions,
                const std::map<protocol::TopicPartition, protocol::Offset>& offsets = {},
                std::optional<std::string> error = std::nullopt);

    sim::Node& node_;
    GroupConsumerConfig config_;
    MetadataClient metadata_;
    std::map<protocol::TopicPartition, std::string> committed_metadata_;  // per partition, as last fetched
    HistoryRecorder& history_;
    RebalanceListener listener_;
    Consumer consumer_;
    std::optional<protocol::BrokerId> coordinator_;
    std::unique_ptr<sim::RpcClient> heartbeats_;  // a connection of its own, to the coordinator
    std::optional<protocol::BrokerId> heartbeats_to_;
    std::string member_id_;
    std::int32_t generation_ = protocol::no_generation;
    ConsumerGroupMetadata joined_;
    State state_ = State::unjoined;
    bool rejoin_needed_ = true;
    bool lost_pending_ = false;  // poll() runs on_lost first
    bool prepared_ = false;      // on_join_prepare ran for the rebalance under way
    bool closed_ = false;
    std::set<protocol::TopicPartition> owned_;
    std::set<protocol::TopicPartition> without_position_;
    sim::Time last_poll_{};
    sim::Time next_auto_commit_{};
};

}  // namespace eosim::client_core
