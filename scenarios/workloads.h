#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "broker_core/cluster_config.h"
#include "client_core/consumer.h"
#include "client_core/group_consumer.h"
#include "client_core/history.h"
#include "client_core/metadata_client.h"
#include "client_core/producer.h"
#include "client_core/transactional_producer.h"
#include "scenarios/spec.h"
#include "scenarios/stream_io.h"
#include "sim/node.h"

// The client workloads of a run: each is the state of one client node (a sim::NodeState), built by the
// runner from the scenario's [workload] table, recording what it does in the run's history.

namespace eosim::scenarios {

// Sends values ("p<index>-<n>", or "p<index>.<incarnation>-<n>" once restarted after a crash, padded to value_bytes; keyed, with tombstones, as the spec says) at random
// intervals until `stop_at`, with idle pauses, under back-pressure. After healing, probes: sends
// `probe_sends` values more ("p<index>-probe-<n>-<attempt>"), each again until one attempt is acknowledged.
class ProducerWorkload final : public sim::NodeState {
public:
    ProducerWorkload(sim::Node& node, client_core::ProducerConfig config,
                     const broker_core::ClusterAddresses& addresses, client_core::HistoryRecorder& history,
                     const Spec& spec, int index, sim::Time stop_at, const std::vector<InputRecord>* input = nullptr);
    [[nodiscard]] std::size_t pending() const { return producer_.pending(); }
    // --input records not sent yet.
    [[nodiscard]] std::size_t input_left() const { return input_left_; }
    // Starts the probe sends (the cluster has healed).
    void probe();
    // Probe sends not yet acknowledged.
    [[nodiscard]] std::int32_t probes_left() const { return probes_left_; }

private:
    void send_loop(sim::Node& node, const Spec& spec, int index, sim::Time stop_at);
    // Sends `input` in order, each record once every earlier one completed; after the chaos phase too.
    void send_input(const std::vector<InputRecord>& input);
    void probe_loop();

    sim::Node& node_;
    const Spec& spec_;
    int index_;
    std::string tag_;  // what its values start with: "p<index>", and ".<incarnation>" once restarted
    client_core::Producer producer_;
    std::int32_t probes_left_ = 0;
    std::size_t input_left_ = 0;
};

// A transactional writer: one instance of the transactional id "txn-<index>". Until `stop_at` it runs
// transactions of a draw of txn_sends sends over the spec's topics and commits them, or aborts them on
// purpose (txn_abort_percent), stalling after the first send in txn_stall_percent of them; after healing
// it runs probe transactions (one send each) until probe_sends have committed. An instance that is
// fenced starts over as a new producer after a pause (fencing the other instance, if there is one); a
// `standby` instance first starts at a random moment before `stop_at` and does not probe.
class TxnWriterWorkload final : public sim::NodeState {
public:
    TxnWriterWorkload(sim::Node& node, const broker_core::ClusterAddresses& addresses,
                      client_core::HistoryRecorder& history, const Spec& spec, int index, bool standby,
                      sim::Time stop_at);
    // Starts the probe transactions (the cluster has healed).
    void probe();
    [[nodiscard]] std::int32_t probes_left() const { return probes_left_; }
    // In a transaction, or starting a producer.
    [[nodiscard]] bool busy() const { return busy_; }
    [[nodiscard]] bool standby() const { return standby_; }

private:
    enum class Ended : std::uint8_t { committed, aborted, fenced, unknown };

    void run(sim::Time stop_at);
    void probe_loop();
    // A producer ready for a transaction: the current one, or a new one initialized (after a pause when
    // the last was fenced). Null when none could be initialized before `until`.
    client_core::TransactionalProducer* ready_producer(sim::Time until);
    Ended transaction(client_core::TransactionalProducer& producer, std::int32_t sends, bool abort, bool stall);
    // A send's topic: one of txn_topics, else the producers' choice.
    const std::string& txn_topic();
    // commit_transaction or abort_transaction, retried while it times out; an abortable commit is aborted.
    Ended finish(client_core::TransactionalProducer& producer, bool abort);

    sim::Node& node_;
    const broker_core::ClusterAddresses& addresses_;
    client_core::HistoryRecorder& history_;
    const Spec& spec_;
    int index_;
    bool standby_;
    // Every producer this instance made, the current one last: a fenced one is kept (its fibers may still
    // be finishing) but never used again.
    std::vector<std::unique_ptr<client_core::TransactionalProducer>> producers_;
    bool current_ready_ = false;
    bool fenced_before_ = false;
    bool busy_ = false;
    std::int32_t probes_left_ = 0;
    std::uint64_t values_ = 0;
    std::int32_t transactions_ = 0;  // begun, by every producer of this instance
};

// An admin client that deletes records now and then: DeleteRecords up to a committed offset of a
// random partition of any topic (one time in eight past the high watermark, which the leader must refuse),
// recorded as "delete-records" operations (undone-delete checks the acknowledged ones).
class AdminWorkload final : public sim::NodeState {
public:
    AdminWorkload(sim::Node& node, const broker_core::ClusterAddresses& addresses,
                  client_core::HistoryRecorder& history, const Spec& spec, sim::Time stop_at);

private:
    void delete_some(sim::Node& node, const protocol::TopicPartition& partition);

    client_core::MetadataClient metadata_;
    client_core::HistoryRecorder& history_;
};

// Reads every partition of every topic of the spec from offset 0, forever (one poll after another).
class ConsumerWorkload final : public sim::NodeState {
public:
    ConsumerWorkload(sim::Node& node, client_core::ConsumerConfig config,
                     const broker_core::ClusterAddresses& addresses, client_core::HistoryRecorder& history,
                     const Spec& spec);
    [[nodiscard]] bool reads(const protocol::TopicPartition& partition) const {
        return std::find(partitions_.begin(), partitions_.end(), partition) != partitions_.end();
    }
    [[nodiscard]] protocol::Offset position(const protocol::TopicPartition& partition) const {
        return consumer_.position(partition);
    }

private:
    client_core::Consumer consumer_;
    std::vector<protocol::TopicPartition> partitions_;
};

// An at-least-once member of the group "members" (docs/groups.md, "Workloads"): it reads every topic,
// commits what it polled after each poll, and during the chaos phase leaves after group_leave_percent of
// its polls (a new member of the same process joins after a pause). Its process names carry the node's
// incarnation and the member's number ("member-<i>.<incarnation>.<n>").
class GroupMemberWorkload final : public sim::NodeState {
public:
    GroupMemberWorkload(sim::Node& node, const broker_core::ClusterAddresses& addresses,
                        client_core::HistoryRecorder& history, const Spec& spec, int index, sim::Time stop_at);

private:
    void run(sim::Time stop_at);
    client_core::GroupConsumer& new_consumer();

    sim::Node& node_;
    const broker_core::ClusterAddresses& addresses_;
    client_core::HistoryRecorder& history_;
    const Spec& spec_;
    int index_;
    std::vector<std::unique_ptr<client_core::GroupConsumer>> consumers_;  // the current one last
};

// One instance of the consume-transform-produce application (group "ctp", docs/groups.md, "Workloads"): it
// polls ctp_input (read_committed), writes model::ctp_outputs of each record to ctp_output in a transaction
// of its transactional id "ctp-<i>", and commits the input offsets in the same transaction
// (sendOffsetsToTransaction with its group metadata), or, when ctp_exactly_once is false, with commitSync
// after the transaction. It aborts ctp_abort_percent of its transactions on purpose, and after every abort
// rewinds to the committed offsets (unless `no_rewind`: the kafka-17582 switch). A fenced producer is
// replaced. Its process names carry the node's incarnation ("ctp-<i>.<incarnation>").
class CtpWorkload final : public sim::NodeState {
public:
    CtpWorkload(sim::Node& node, const broker_core::ClusterAddresses& addresses,
                client_core::HistoryRecorder& history, const Spec& spec, int index, bool no_rewind);
    // In a transaction (the harness waits for none before it checks).
    [[nodiscard]] bool busy() const { return busy_; }
    // A stable member that owns `partition` and has read it up to `end`, with no transaction open: nothing
    // is left for it to do there.
    [[nodiscard]] bool done_with(const protocol::TopicPartition& partition, protocol::Offset end) const;

private:
    void run();
    client_core::TransactionalProducer* ready_producer();
    // Processes `records` in one transaction: true when it committed.
    bool transaction(client_core::TransactionalProducer& producer, const std::vector<client_core::ConsumedRecord>& records);
    client_core::TxnResult finish_commit(client_core::TransactionalProducer& producer);

    sim::Node& node_;
    const broker_core::ClusterAddresses& addresses_;
    client_core::HistoryRecorder& history_;
    const Spec& spec_;
    int index_;
    bool no_rewind_;
    std::string name_;
    std::unique_ptr<client_core::GroupConsumer> consumer_;
    std::vector<std::unique_ptr<client_core::TransactionalProducer>> producers_;
    bool ready_ = false;
    bool busy_ = false;
    std::int32_t transactions_ = 0;
};

}  // namespace eosim::scenarios
