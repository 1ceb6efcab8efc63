#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client_core/consumer.h"
#include "client_core/group_consumer.h"
#include "client_core/history.h"
#include "client_core/producer.h"
#include "client_core/transactional_producer.h"
#include "protocol/addresses.h"
#include "sim/node.h"
#include "streams_core/state_directory.h"
#include "streams_core/stream_task.h"
#include "streams_core/topology.h"

namespace eosim::streams_core {

// A stream thread's settings (Kafka's StreamsConfig, the part eosim uses).
struct StreamsConfig {
    // processing.guarantee.
    enum class Guarantee : std::uint8_t { exactly_once_v2, at_least_once };

    std::string application_id;  // application.id: the group, and the prefix of internal topics
    std::string client_id;       // this thread's name, for its clients
    std::string process;         // the instance it runs in (Kafka's process id): standbys go to others
    std::int32_t standby_replicas = 0;  // num.standby.replicas
    // The rebalance protocol: eager (every task revoked at each rebalance) or cooperative (KIP-429, Kafka
    // Streams' default since 2.4: a thread gives up only the tasks that move).
    bool cooperative = false;
    // at_least_once: a commit also writes a task's checkpoint once its changelogs moved this many records
    // since the last one (Kafka's 10,000).
    std::int64_t checkpoint_delta = 10'000;
    Guarantee guarantee = Guarantee::exactly_once_v2;
    // exactly_once_v2: the thread's transactional id (`<application id>-<instance>-<thread>`).
    std::string transactional_id;
    sim::Duration commit_interval{std::chrono::milliseconds(100)};  // commit.interval.ms
    sim::Duration session_timeout{std::chrono::seconds(1)};
    sim::Duration rebalance_timeout{std::chrono::seconds(5)};
    sim::Duration heartbeat_interval{std::chrono::milliseconds(100)};
    sim::Duration transaction_timeout{std::chrono::seconds(5)};
    // Bug switches (docs/bug-switches.md).
    struct Bugs {
        // kafka-7192: a dirty close keeps the task's local state, with what the aborted transaction wrote
        // to it, instead of wiping and restoring it.
        bool kafka_7192 = false;
        // streams-partial-commit: every transaction carries the offsets of one task only (the first).
        bool partial_commit = false;
        // restore-skips-tail: a restore leaves out the changelog's last record.
        bool restore_skips_tail = false;
        // kafka-9891: a standby takes over a task directory without a checkpoint as it is, under EOS too,
        // instead of wiping it: what an instance that crashed left uncommitted in the files stays.
        bool kafka_9891 = false;
        // kafka-16017: a dirty close keeps the task's written changelog offsets; closed cleanly while it is
        // restoring again, the task checkpoints them instead of what it restored.
        bool kafka_16017 = false;
        // kafka-18943: when some of its tasks are revoked, a thread commits the shared transaction with the
        // revoked tasks' input offsets only, though it holds the other tasks' output too.
        bool kafka_18943 = false;
    };
    Bugs bugs;
};

// One stream thread (Kafka's StreamThread, TaskManager and StreamsProducer in one). With exactly_once_v2:
// a group consumer of the topology's source topics hands it partitions; each partition number of a
// sub-topology's topics is a task, restored from its changelogs before it processes anything. All its
// tasks' output, changelog writes and input offsets go in one transaction of its producer, committed
// every `commit_interval`, and before partitions are revoked. When a transaction cannot commit (a send
// failed, the producer was fenced, the member lost its partitions), every task is closed dirty: its
// state is wiped and restored from the changelog, and the consumer goes back to the committed offsets.
// With at_least_once: an idempotent producer writes the output and changelogs as the tasks make them; a
// commit waits until every write is acknowledged, then commits the input offsets (OffsetCommit). A failure
// closes the tasks dirty without a wipe: the input since the last commit is processed again on top of
// the state it already changed, and the output it already wrote stays (at least once).
class StreamThread final : private RecordCollector {
public:
    StreamThread(sim::Node& node, const Topology& topology, StreamsConfig config,
                 const protocol::ClusterAddresses& addresses, client_core::HistoryRecorder& history,
                 StateDirectory& state_directory);
    StreamThread(const StreamThread&) = delete;
    StreamThread& operator=(const StreamThread&) = delete;
    ~StreamThread() override;

    [[nodiscard]] bool exactly_once() const { return config_.guarantee == StreamsConfig::Guarantee::exactly_once_v2; }
    // The thread's loop, forever (in a fiber of its node).
    void run();

    // For checks after a run: the tasks it runs now, restored and processing.
    [[nodiscard]] std::vector<TaskId> running_tasks() const;
    [[nodiscard]] const StreamTask* task(TaskId id) const;
    // Its standby tasks that are up (their stores loaded), and the changelog offsets each has read to.
    [[nodiscard]] std::vector<TaskId> standby_tasks() const;
    [[nodiscard]] const StreamTask* standby(TaskId id) const;
    [[nodiscard]] StateDirectory::Offsets standby_positions(TaskId id) const;
    // No transaction open, no task restoring, a stable member.
    [[nodiscard]] bool idle() const;
    // The next input offset of `partition`, when a running task reads it.
    [[nodiscard]] std::optional<protocol::Offset> position(const protocol::TopicPartition& partition) const;

private:
    // A restore under way, one store after the other, resumed on each turn of the loop so that the thread
    // keeps polling (and so stays in the group) however long the changelogs are.
    struct Restore {
        std::vector<std::string> stores;            // the task's logged stores, in order
        std::size_t next = 0;                       // the store being restored
        bool assigned = false;                      // its changelog is in the restore consumer
        std::optional<protocol::Offset> end;        // its changelog's end, once settled
        std::int64_t restored = 0;                  // records applied to it so far
        std::optional<client_core::ConsumedRecord> held;  // restore-skips-tail: the last record read
    };
    // A polled record waiting in its task's queue, and when it was polled.
    struct Buffered {
        client_core::ConsumedRecord record;
        sim::Time polled{};
    };
    struct ActiveTask {
        std::unique_ptr<StreamTask> task;
        bool opened = false;     // its directory locked and its stores loaded from it
        bool restored = false;
        // Per changelog partition: the offset its store holds up to (loaded from the checkpoint, then
        // restored), and the next offset after what the task wrote there and saw acknowledged.
        StateDirectory::Offsets positions;
        StateDirectory::Offsets written;
        StateDirectory::Offsets checkpointed;  // at_least_once: what the last checkpoint said
        std::optional<Restore> restoring;
        // Per input partition, the records polled and not processed yet (Kafka's RecordQueue), and when an
        // empty one was last found caught up: the time a ListOffsets that showed it at its end was sent.
        std::map<protocol::TopicPartition, std::deque<Buffered>> queues;
        std::map<protocol::TopicPartition, sim::Time> caught_up;
        std::map<protocol::TopicPartition, client_core::ConsumedRecord> last_consumed;  // per input partition
        // Per input partition, the newest record time processed (Kafka's partition time): committed with its
        // offset, so that the next owner's stream time starts where this one's was.
        std::map<protocol::TopicPartition, std::int64_t> partition_time;
    };

    // A standby task (Kafka's StandbyTask): the stores of a task another instance runs, kept up to date
    // from their changelogs (read_committed) whenever no active task is restoring.
    struct StandbyTask {
        std::unique_ptr<StreamTask> task;
        bool opened = false;
        StateDirectory::Offsets positions;
        StateDirectory::Offsets checkpointed;
    };

    void send(const std::string& topic, std::optional<std::int32_t> partition, const Record& record) override;
    // Locks the task's directory and loads its stores from it (wiping it first under EOS when it has no
    // checkpoint): false while another thread of the instance holds it.
    bool open(TaskId id, StreamTask& task, StateDirectory::Offsets& positions, bool standby);
    // Flushes the stores and writes the checkpoint (false when that failed), keeping the lock.
    bool checkpoint(TaskId id, const StreamTask& task, const StateDirectory::Offsets& offsets);
    // The changelog partitions of the task's logged stores.
    [[nodiscard]] std::vector<protocol::TopicPartition> changelogs(const StreamTask& task) const;
    // What a clean close or a commit checkpoints: the written offset where there is one, else the position.
    [[nodiscard]] StateDirectory::Offsets checkpoint_offsets(const ActiveTask& active) const;
    // The subscription's user data, the leader's assignment and this member's part of it.
    std::string subscription_data();
    void on_assignment(const client_core::Assignment& assignment);
    // Brings the standby tasks up and applies what their changelogs have (when no restore is under way).
    void update_standbys();
    void close_standby(TaskId id);
    // The standbys' changelogs leave the restore consumer (an active task restores, or the set changed).
    void stop_standby_reading();
    // After a commit: the acknowledged changelog writes become the tasks' written offsets.
    void committed_writes();
    // at_least_once: the tasks whose changelogs moved `checkpoint_delta` records since their last checkpoint
    // write one.
    void maybe_checkpoint();

    // A new task, initialized (its stores empty, not restored).
    std::unique_ptr<StreamTask> make_task(TaskId id);
    [[nodiscard]] std::optional<TaskId> task_of(const protocol::TopicPartition& partition) const;
    client_core::TransactionalProducer& producer();
    void assigned(const std::vector<protocol::TopicPartition>& partitions);
    void revoked(const std::vector<protocol::TopicPartition>& partitions);
    void lost(const std::vector<protocol::TopicPartition>& partitions);
    // Restores the tasks not restored yet from their changelogs, up to their read_committed end, for a
    // turn of the loop at most.
    void restore_tasks();
    // Goes on with `active`'s restore until `deadline`: true once it is restored.
    bool restore(ActiveTask& active, sim::Time deadline);
    // Drops a restore under way (the task is closed or wiped): its changelog leaves the restore consumer.
    void abandon_restore(ActiveTask& active);
    // The changelog's end to restore to: its last stable offset once no transaction is open on it (none
    // when `deadline` comes first).
    std::optional<protocol::Offset> settled_end(const protocol::TopicPartition& changelog, sim::Time deadline);
    // Runs `record` through its task: false when the task is not restored yet (the record must be read again).
    bool process(const client_core::ConsumedRecord& record);
    // Processes what the tasks' queues hold, each task's records in timestamp order across its partitions
    // (Kafka's PartitionGroup): the record with the lowest timestamp at the head of a queue goes first,
    // once every other input partition of the task has a record queued or is known to hold none older.
    void process_queued();
    // The next record of `active` to process, when its turn has come (an empty input partition is asked
    // for its end first).
    std::optional<protocol::TopicPartition> next_partition(TaskId id, ActiveTask& active);
    // Every input partition of task `id` the consumer owns has its committed position.
    [[nodiscard]] bool inputs_positioned(TaskId id) const;
    // Commits the open transaction with every task's input offsets (`only`: those tasks' only, which is
    // kafka-18943's defect); false (and everything closed dirty) when it could not.
    bool commit(const std::set<TaskId>* only = nullptr);
    bool commit_at_least_once(const std::vector<protocol::OffsetCommitPartition>& offsets);
    // Aborts what is open, wipes every task's state (restored again before it processes), and goes back to
    // the committed offsets.
    void close_all_dirty(const char* why);
    void close_task(TaskId id, bool clean);

    sim::Node& node_;
    const Topology& topology_;
    const std::vector<Subtopology> subtopologies_;
    StreamsConfig config_;
    protocol::ClusterAddresses addresses_;
    client_core::HistoryRecorder& history_;
    StateDirectory& state_directory_;
    std::unique_ptr<client_core::GroupConsumer> consumer_;
    std::unique_ptr<client_core::Consumer> restore_consumer_;
    std::unique_ptr<client_core::TransactionalProducer> producer_;
    // at_least_once: the producer, and the sends not yet acknowledged.
    std::unique_ptr<client_core::Producer> plain_producer_;
    std::vector<sim::Future<client_core::SendOutcome>> unacknowledged_;
    // Producers replaced: their sender fibers may still wake, so they live as long as the thread.
    std::vector<std::unique_ptr<client_core::TransactionalProducer>> retired_;
    std::int32_t transactions_ = 0;  // begun by every producer of this thread
    std::map<TaskId, ActiveTask> tasks_;
    std::map<TaskId, StandbyTask> standbys_;
    std::set<TaskId> previous_active_;  // the tasks given up in the last revocation, for the next subscription
    bool standbys_reading_ = false;     // the standbys' changelogs are in the restore consumer
    sim::Time next_standby_update_{};
    // Changelog writes not acknowledged yet: their offsets become the tasks' written offsets at the commit.
    std::vector<std::pair<protocol::TopicPartition, sim::Future<client_core::SendOutcome>>> changelog_sends_;
    // Per changelog topic: the sub-topology whose tasks write it, and the store it backs.
    struct Changelog {
        std::int32_t subtopology = 0;
        std::string store;
    };
    std::map<std::string, Changelog> changelogs_;
    sim::Time next_commit_{};
    bool dirty_ = false;          // a transaction is open with something in it
    std::uint64_t wipes_ = 0;     // dirty closes so far: records polled before one are not processed
    bool in_rebalance_ = false;   // in a rebalance callback: the new assignment fetches the positions
    // The consumer's positions at the end of the thread's last turn.
    std::map<protocol::TopicPartition, protocol::Offset> positions_;
};

}  // namespace eosim::streams_core
