#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client_core/consumer.h"
#include "client_core/group_consumer.h"
#include "client_core/history.h"
#include "client_core/transactional_producer.h"
#include "protocol/addresses.h"
#include "sim/node.h"
#include "streams_core/stream_task.h"
#include "streams_core/topology.h"

namespace eosim::streams_core {

// A stream thread's settings (Kafka's StreamsConfig, the part eosim uses).
struct StreamsConfig {
    std::string application_id;  // application.id: the group, and the prefix of internal topics
    std::string client_id;       // this thread's name, for its clients
    // exactly_once_v2: the thread's transactional id (`<application id>-<instance>-<thread>`).
    std::string transactional_id;
    sim::Duration commit_interval{std::chrono::milliseconds(100)};  // commit.interval.ms
    sim::Duration session_timeout{std::chrono::seconds(1)};
    sim::Duration rebalance_timeout{std::chrono::seconds(5)};
    sim::Duration heartbeat_interval{std::chrono::milliseconds(100)};
    sim::Duration transaction_timeout{std::chrono::seconds(5)};
    // Bug switch kafka-7192 (docs/bug-switches.md): a dirty close keeps the task's local state, with what
    // the aborted transaction wrote to it, instead of wiping and restoring it.
    bool kafka_7192 = false;
};

// One stream thread with exactly_once_v2 (Kafka's StreamThread, TaskManager and StreamsProducer in one):
// a group consumer of the topology's source topics hands it partitions; each partition number of a
// sub-topology's topics is a task, restored from its changelogs before it processes anything. All its
// tasks' output, changelog writes and input offsets go in one transaction of its producer, committed
// every `commit_interval`, and before partitions are revoked. When a transaction cannot commit (a send
// failed, the producer was fenced, the member lost its partitions), every task is closed dirty: its
// state is wiped and restored from the changelog, and the consumer goes back to the committed offsets.
class StreamThread final : private RecordCollector {
public:
    StreamThread(sim::Node& node, const Topology& topology, StreamsConfig config,
                 const protocol::ClusterAddresses& addresses, client_core::HistoryRecorder& history);
    StreamThread(const StreamThread&) = delete;
    StreamThread& operator=(const StreamThread&) = delete;
    ~StreamThread() override;

    // The thread's loop, forever (in a fiber of its node).
    void run();

    // For checks after a run: the tasks it runs now, restored and processing.
    [[nodiscard]] std::vector<TaskId> running_tasks() const;
    [[nodiscard]] const StreamTask* task(TaskId id) const;
    // No transaction open, no task restoring, a stable member.
    [[nodiscard]] bool idle() const;
    // The next input offset of `partition`, when a running task reads it.
    [[nodiscard]] std::optional<protocol::Offset> position(const protocol::TopicPartition& partition) const;

private:
    struct ActiveTask {
        std::unique_ptr<StreamTask> task;
        bool restored = false;
        std::map<protocol::TopicPartition, client_core::ConsumedRecord> last_consumed;  // per input partition
        // Per input partition, the newest record time processed (Kafka's partition time): committed with its
        // offset, so that the next owner's stream time starts where this one's was.
        std::map<protocol::TopicPartition, std::int64_t> partition_time;
    };

    void send(const std::string& topic, std::optional<std::int32_t> partition, const Record& record) override;

    // A new task, initialized (its stores empty, not restored).
    std::unique_ptr<StreamTask> make_task(TaskId id);
    [[nodiscard]] std::optional<TaskId> task_of(const protocol::TopicPartition& partition) const;
    client_core::TransactionalProducer& producer();
    void assigned(const std::vector<protocol::TopicPartition>& partitions);
    void revoked(const std::vector<protocol::TopicPartition>& partitions);
    void lost(const std::vector<protocol::TopicPartition>& partitions);
    // Restores every task not restored yet from its changelogs, up to their read_committed end.
    void restore_tasks();
    void restore(ActiveTask& active);
    // The changelog's end to restore to: its last stable offset once no transaction is open on it.
    protocol::Offset settled_end(const protocol::TopicPartition& changelog);
    // Runs `record` through its task: false when the task is not restored yet (the record must be read again).
    bool process(const client_core::ConsumedRecord& record);
    // Every input partition of task `id` the consumer owns has its committed position.
    [[nodiscard]] bool inputs_positioned(TaskId id) const;
    // Commits the open transaction with every task's input offsets; false (and everything closed dirty)
    // when it could not.
    bool commit();
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
    std::unique_ptr<client_core::GroupConsumer> consumer_;
    std::unique_ptr<client_core::Consumer> restore_consumer_;
    std::unique_ptr<client_core::TransactionalProducer> producer_;
    // Producers replaced: their sender fibers may still wake, so they live as long as the thread.
    std::vector<std::unique_ptr<client_core::TransactionalProducer>> retired_;
    std::int32_t transactions_ = 0;  // begun by every producer of this thread
    std::map<TaskId, ActiveTask> tasks_;
    sim::Time next_commit_{};
    bool dirty_ = false;          // a transaction is open with something in it
    std::uint64_t wipes_ = 0;     // dirty closes so far: records polled before one are not processed
    bool in_rebalance_ = false;   // in a rebalance callback: the new assignment fetches the positions
};

}  // namespace eosim::streams_core
