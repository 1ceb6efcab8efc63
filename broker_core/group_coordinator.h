#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "broker_core/group_metadata.h"
#include "broker_core/group_offsets.h"
#include "protocol/group_messages.h"
#include "protocol/messages.h"
#include "sim/condition.h"
#include "sim/node.h"
#include "sim/rpc.h"

// The group coordinator of one broker (Kafka's classic GroupCoordinator with its GroupMetadataManager):
// it coordinates the consumer groups of the `__consumer_offsets` partitions its broker leads, keeps their
// metadata and committed offsets in those partitions (acks=all), runs the classic protocol (JoinGroup
// held until the rebalance completes, SyncGroup, Heartbeat and session expiry, LeaveGroup), answers
// OffsetCommit and OffsetFetch, and keeps the offsets of TxnOffsetCommit pending per producer until the
// transaction's marker reaches the partition (the broker calls on_transaction_marker before it answers
// the marker, KAFKA-17507). A broker that becomes leader of such a partition reloads its groups and
// offsets, pending ones included, from the log. docs/groups.md, "Coordinator".

namespace eosim::broker_core {

struct GroupCoordinatorConfig {
    // group.min.session.timeout.ms and group.max.session.timeout.ms (Kafka: 6 s and 30 min; a simulated
    // cluster runs shorter sessions).
    std::int32_t min_session_timeout_ms = 100;
    std::int32_t max_session_timeout_ms = 300'000;
    std::size_t max_size = 1000;  // group.max.size: members and pending members
    // How often sessions, rebalance and sync deadlines are checked (Kafka keeps a timer per member).
    sim::Duration expiry_check_interval{std::chrono::milliseconds(20)};
    // Bug switches (docs/bug-switches.md).
    bool kip447_no_generation_fence = false;        // TxnOffsetCommit ignores the member and generation
    bool offset_fetch_ignores_pending = false;      // require_stable never answers UNSTABLE_OFFSET_COMMIT
    bool kafka_17507 = false;                       // a marker is answered before its offsets are applied
    bool pending_offsets_lost_on_failover = false;  // a load drops the pending transactional offsets
};

// What an append to an offsets partition gave: the error (NONE, NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
// REQUEST_TIMED_OUT, INVALID_PRODUCER_EPOCH) and where its first record is.
struct GroupAppendResult {
    protocol::ErrorCode error = protocol::ErrorCode::none;
    protocol::Offset base_offset{-1};
};

// What the coordinator needs of its broker.
struct GroupLogAccess {
    // Appends `batch` to partition `partition` of `__consumer_offsets`, which the broker must lead in leader
    // epoch `coordinator_epoch`, and waits until it is replicated. A batch with a producer id is checked
    // against the partition's producer state (an older epoch is refused), but not by sequence, and, with
    // the producer's `transactional_id` (TxnOffsetCommit), verified with its transaction coordinator first.
    std::function<GroupAppendResult(std::int32_t partition, std::int32_t coordinator_epoch, protocol::RecordBatch batch,
                                    const std::string& transactional_id)>
        append;
    // The batches of the partition from its log start to its log end, if the broker still leads it in that
    // epoch.
    std::function<std::optional<std::vector<protocol::RecordBatch>>(std::int32_t partition,
                                                                    std::int32_t coordinator_epoch)>
        read;
    // The partition count of `__consumer_offsets` (0: the topic does not exist yet).
    std::function<std::int32_t()> partition_count;
    // Whether the broker may still act on what it believes it leads: false once the controller may have
    // fenced it and moved its partitions without its knowing (unset: always).
    std::function<bool()> in_touch;
};

class GroupCoordinator {
public:
    GroupCoordinator(sim::Node& node, GroupCoordinatorConfig config, GroupLogAccess access);

    // The answer to a request the coordinator serves (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
    // OffsetCommit, OffsetFetch, TxnOffsetCommit); nothing for any other request. Runs in the request's fiber.
    std::optional<sim::Message> handle(const sim::Message& request);
    // The broker leads `partition` of `__consumer_offsets` in `coordinator_epoch`: load it.
    void on_election(std::int32_t partition, std::int32_t coordinator_epoch);
    // The broker no longer leads `partition`: its groups are gone from here (waiting requests are answered
    // NOT_COORDINATOR).
    void on_resignation(std::int32_t partition);
    // A COMMIT or ABORT marker of `producer_id` at `marker_offset` of `partition` is replicated: the
    // producer's pending offsets there are applied or dropped.
    void on_transaction_marker(std::int32_t partition, protocol::ProducerId producer_id, bool committed,
                               protocol::Offset marker_offset);

    // For tests and traces: the group, if this coordinator holds it loaded.
    [[nodiscard]] const GroupMetadata* find(const std::string& group_id) const;
    [[nodiscard]] std::optional<OffsetAndMetadata> committed(const std::string& group_id,
                                                             const protocol::TopicPartition& partition) const;
    // Every partition it leads is loaded.
    [[nodiscard]] bool idle() const;

private:
    // One waiting JoinGroup or SyncGroup: answered once, by ticket.
    template <typename Response>
    struct Waiters {
        std::map<std::string, std::uint64_t> by_member;  // the member's waiting request
        std::map<std::uint64_t, Response> answers;       // answered, not yet picked up
    };
    struct Group {
        explicit Group(std::string id, GroupState state = GroupState::empty) : metadata(std::move(id), state) {}
        GroupMetadata metadata;
        std::map<std::string, sim::Time> session_deadlines;  // members and pending members
        sim::Time rebalance_deadline{};  // while PreparingRebalance
        sim::Time sync_deadline{};       // while CompletingRebalance or after, until every member synced
        Waiters<protocol::JoinGroupResponse> joins;
        Waiters<protocol::SyncGroupResponse> syncs;
    };
    struct Partition {
        std::int32_t coordinator_epoch = -1;
        std::uint64_t generation = 0;  // changes with every election and resignation
        bool loading = true;
        std::map<std::string, Group> groups;
        GroupOffsets offsets;
        // Offset commits being appended, by group and partition: OffsetFetch with require_stable waits for them.
        std::map<std::pair<std::string, protocol::TopicPartition>, int> in_flight;
        // The newest marker applied per producer (its offset and whether it committed): a TxnOffsetCommit
        // whose append completes after its transaction's marker is settled at once.
        std::map<protocol::ProducerId, std::pair<protocol::Offset, bool>> markers;
    };
    struct Place {
        std::int32_t partition = -1;
        std::uint64_t generation = 0;
        std::int32_t coordinator_epoch = -1;
    };

    protocol::JoinGroupResponse join_group(const protocol::JoinGroupRequest& request);
    protocol::JoinGroupResponse join_new_member(const Place& place, Group& group,
                                                const protocol::JoinGroupRequest& request);
    protocol::JoinGroupResponse join_known_member(const Place& place, Group& group,
                                                  const protocol::JoinGroupRequest& request);
    protocol::SyncGroupResponse sync_group(const protocol::SyncGroupRequest& request);
    protocol::HeartbeatResponse heartbeat(const protocol::HeartbeatRequest& request);
    protocol::LeaveGroupResponse leave_group(const protocol::LeaveGroupRequest& request);
    protocol::OffsetCommitResponse commit_offsets(const protocol::OffsetCommitRequest& request);
    protocol::OffsetFetchResponse fetch_offsets(const protocol::OffsetFetchRequest& request);
    protocol::TxnOffsetCommitResponse txn_commit_offsets(const protocol::TxnOffsetCommitRequest& request);

    // Waits for the answer to the member's JoinGroup (`&Group::joins`) or SyncGroup (`&Group::syncs`)
    // registered under `ticket`: NOT_COORDINATOR when the group's partition moves away meanwhile.
    template <typename Response>
    Response await_answer(const Place& place, const std::string& group_id, std::uint64_t ticket,
                          Waiters<Response> Group::*waiters);
    std::uint64_t wait_join(Group& group, const std::string& member_id);
    std::uint64_t wait_sync(Group& group, const std::string& member_id);
    void answer_join(Group& group, const std::string& member_id, protocol::JoinGroupResponse response);
    void answer_sync(Group& group, const std::string& member_id, protocol::SyncGroupResponse response);
    // The JoinGroup answer of a member in the group's current generation (the leader gets every member).
    [[nodiscard]] protocol::JoinGroupResponse join_answer(const Group& group, const std::string& member_id) const;

    // Kafka's maybePrepareRebalance and prepareRebalance: waiting syncs are answered REBALANCE_IN_PROGRESS.
    void maybe_prepare_rebalance(const Place& place, Group& group, const char* reason);
    // Completes the join phase when every member rejoined (or `force`, at the rebalance deadline).
    void maybe_complete_join(const Place& place, Group& group, bool force);
    void remove_member_and_update_group(const Place& place, Group& group, const std::string& member_id,
                                        const char* reason);
    void refresh_session(Group& group, const std::string& member_id);
    // Appends the group's metadata record (the assignments given); the error, mapped as Kafka's storeGroup.
    protocol::ErrorCode store_group(const Place& place, const GroupMetadata& metadata);
    void store_group_in_background(const Place& place, const std::string& group_id);
    // Appends the records of an offset commit (of `transactional_id`'s producer, for TxnOffsetCommit); the
    // append's result.
    GroupAppendResult append_offsets(const Place& place, const std::string& group_id,
                                     const std::vector<protocol::OffsetCommitPartition>& partitions,
                                     protocol::ProducerId producer_id, protocol::ProducerEpoch producer_epoch,
                                     const std::string& transactional_id = {});

    // Finds the place of `group_id`: NONE, or the error to answer (NOT_COORDINATOR,
    // COORDINATOR_LOAD_IN_PROGRESS).
    protocol::ErrorCode place_error(const std::string& group_id, Place& place) const;
    [[nodiscard]] bool current(const Place& place) const;
    Partition* partition(const Place& place);
    Group* lookup(const Place& place, const std::string& group_id);
    // A new Empty group at `place` (the caller has checked that there is none).
    Group& create_group(const Place& place, const std::string& group_id);

    void load(std::int32_t partition, std::uint64_t generation);
    void expiry_loop();
    void expire(const Place& place, Group& group, sim::Time now);

    sim::Node& node_;
    GroupCoordinatorConfig config_;
    GroupLogAccess access_;
    std::map<std::int32_t, Partition> partitions_;
    std::uint64_t next_generation_ = 1;
    std::uint64_t next_ticket_ = 1;
    sim::Condition changed_;  // an answer was posted, or a partition moved
};

}  // namespace eosim::broker_core
