#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "faults/fault_plan.h"
#include "protocol/topics.h"

namespace eosim::scenarios {

// A bad scenario spec: what() is one line, "where: what".
class SpecError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The cluster: brokers, the broker-wide settings, and the defaults of the topics. Without [[topics]] the
// cluster has one topic, `topic`, with `partitions` and `replication_factor`; with [[topics]] those two
// are the defaults of a topic that does not set its own. The log settings (segment_bytes, retention_ms,
// retention_bytes, cleanup_policy, delete_retention_ms, min_compaction_lag_ms) are the brokers' defaults,
// which a topic's own settings override (Kafka's topic configs).
struct ClusterSpec {
    std::int32_t brokers = 3;
    std::int32_t replication_factor = 3;
    std::int32_t partitions = 3;
    std::int32_t min_insync_replicas = 2;
    bool unclean_leader_election = false;
    bool flush_every_write = false;
    std::int64_t writeback_interval_ms = 1000;  // the kernel's background flush; 0: never
    std::int64_t segment_bytes = 1 << 20;       // roll a segment past this size (and snapshot producer state)
    std::int64_t producer_id_expiration_ms = 24LL * 3600 * 1000;  // producer.id.expiration.ms
    std::int64_t retention_ms = -1;     // retention.ms; -1: keep everything
    std::int64_t retention_bytes = -1;  // retention.bytes per partition replica; -1: no limit
    std::string topic = "events";
    // cleanup.policy: false "delete" (retention only), true "compact" (keep each key's latest record).
    bool compacted = false;
    std::int64_t delete_retention_ms = 86'400'000;  // delete.retention.ms: how long a tombstone stays once cleanable
    std::int64_t min_compaction_lag_ms = 0;         // min.compaction.lag.ms: records younger than this stay
    // replica.fetch.max.bytes: about how much a follower's fetch brings (at least one batch).
    std::int64_t replica_fetch_max_bytes = 1 << 20;
    // The transaction.version feature (KIP-890): 2 bumps the producer epoch with every transaction's end,
    // fencing a late write of the one before; 1 does not (docs/transactions.md).
    std::int32_t transaction_version = 2;
};

struct WorkloadSpec {
    std::int32_t producers = 2;
    std::int32_t consumers = 1;
    std::int16_t acks = -1;
    bool idempotent = false;  // enable.idempotence; the spec's default is true with acks = "all"
    bool keyed = true;
    std::int32_t keys = 32;  // keyed: keys k0..k<keys-1>, in turn
    std::int32_t max_in_flight = 1;
    std::int64_t send_interval_min_ms = 1;
    std::int64_t send_interval_max_ms = 10;
    std::int32_t value_bytes = 24;
    std::int64_t delivery_timeout_ms = 10'000;  // delivery.timeout.ms
    std::int32_t tombstone_percent = 0;         // compacted topics: this share of sends are tombstones
    // After healing, each producer sends this many more records, each again (as a new value) until
    // acknowledged: a producer or cluster that cannot serve any more after the faults leaves the run stuck.
    std::int32_t probe_sends = 3;
    // Before the probe sends, every producer has been idle this long on the quiescent cluster (e.g. past
    // producer id expiration, so the probes meet brokers that forgot them while nothing else is wrong).
    std::int64_t probe_idle_ms = 0;
    // Producers go idle now and then: after sending for a draw of pause_every_ms, they stop for a draw
    // of pause_ms (0, 0: never).
    std::int64_t pause_every_min_ms = 0;
    std::int64_t pause_every_max_ms = 0;
    std::int64_t pause_min_ms = 0;
    std::int64_t pause_max_ms = 0;
    // An admin client deletes records (DeleteRecords) every draw of this range, up to a committed
    // offset of a random partition (0, 0: never).
    std::int64_t delete_records_every_min_ms = 0;
    std::int64_t delete_records_every_max_ms = 0;
    // Transactions (docs/transactions.md, "Workload"). Transactional writers, each with its own
    // transactional id ("txn-<i>"), run transactions of a draw of txn_sends sends over the topics'
    // partitions, and abort txn_abort_percent of them on purpose.
    std::int32_t transactional_producers = 0;
    std::int32_t read_committed_consumers = 0;  // besides `consumers`, which read uncommitted
    std::int32_t txn_sends_min = 1;
    std::int32_t txn_sends_max = 6;
    std::int32_t txn_abort_percent = 20;
    std::int64_t txn_timeout_ms = 10'000;  // transaction.timeout.ms
    // In this share of its transactions a writer stalls (a long pause of its process) for a draw of
    // txn_stall_ms after its first send, then goes on: past its timeout, the coordinator has aborted the
    // transaction and fenced the writer.
    std::int32_t txn_stall_percent = 0;
    std::int64_t txn_stall_min_ms = 0;
    std::int64_t txn_stall_max_ms = 0;
    // The topics the transactional writers write (empty: those the producers write).
    std::vector<std::string> txn_topics;
    // 2: each transactional id has a second instance ("txn-<i>-b") that takes over at a random moment while
    // the first is alive; from then on each one fenced starts again after a pause and fences the other.
    std::int32_t txn_instances = 1;
    // Consumer groups (docs/groups.md, "Workloads"). group_members at-least-once members of the group
    // "members" read every topic, commit what they polled after each poll, and leave (a new member joins
    // later) after group_leave_percent of their commits.
    std::int32_t group_members = 0;
    std::string group_assignor = "range";  // or "cooperative-sticky"
    std::int64_t group_session_timeout_ms = 1000;
    std::int64_t group_rebalance_timeout_ms = 3000;
    std::int64_t group_heartbeat_ms = 100;
    std::int32_t group_leave_percent = 0;
    std::vector<std::string> group_topics;  // the topics the group members read (empty: every topic)
    // Consume-transform-produce: ctp_instances instances of one application (group "ctp") read ctp_input
    // (read_committed) and write f(record) to ctp_output, exactly once (offsets sent to the transaction,
    // one transactional id per instance) or, with ctp_exactly_once = false, committing offsets after the
    // transaction. At most ctp_max_records input records per transaction; ctp_abort_percent of them
    // aborted on purpose (the instance rewinds to the committed offsets). The producers write ctp_input only.
    std::int32_t ctp_instances = 0;
    std::string ctp_input = "in";
    std::string ctp_output = "out";
    bool ctp_exactly_once = true;
    std::int32_t ctp_abort_percent = 10;
    std::int32_t ctp_max_records = 20;
    // A stream application (docs/streams.md): stream_instances instances of the built-in application
    // stream_app ("" none), stream_threads threads each, with stream_guarantee (exactly_once_v2, or
    // at_least_once when stream_exactly_once is false), committing every
    // stream_commit_interval_ms; its topics (input, output, changelogs, repartition topics) are added to the
    // spec's with stream_partitions partitions each. The producers write its input, made by its generator.
    std::string stream_app;
    std::int32_t stream_instances = 0;
    std::int32_t stream_threads = 1;
    std::int32_t stream_partitions = 4;
    std::int64_t stream_commit_interval_ms = 100;
    bool stream_exactly_once = true;
    // num.standby.replicas; and the changelog records after which a commit (at_least_once) or a standby
    // writes a task's checkpoint (Kafka's 10,000).
    std::int32_t stream_standby_replicas = 0;
    bool stream_cooperative = false;  // stream_rebalance: "eager" (the default) or "cooperative" (KIP-429)
    std::int64_t stream_checkpoint_delta = 10'000;
    // Faults of the group members and instances during the chaos phase: every draw of
    // instance_faults_every_ms one of them crashes (and restarts after a draw of instance_fault_ms) or
    // pauses for a draw of instance_fault_ms (0, 0: never).
    std::int64_t instance_faults_every_min_ms = 0;
    std::int64_t instance_faults_every_max_ms = 0;
    std::int64_t instance_fault_min_ms = 0;
    std::int64_t instance_fault_max_ms = 0;
    // instance_corrupt_state: each crash of a stream instance first flips a bit in a durable byte of one
    // of its checkpointed state files (a store file or a checkpoint: latent corruption of local state),
    // which the instance must notice when it opens the task again (docs/faults.md).
    bool instance_corrupt_state = false;
    // client_faults: the producers, consumers and transactional writers are among those instances too. A
    // crashed client restarts as a new process (its history names and values carry its incarnation); a
    // transactional writer's new life fences the old one's transaction.
    bool client_faults = false;
};

struct FaultSpec {
    faults::FaultPlanOptions plan;
    // Keep lossy crashes within what replication tolerates: a crash that loses unsynced bytes hits
    // one broker of a fully healthy cluster, else it is a plain process crash (page cache kept).
    bool within_tolerance = true;
    // Every node's creates, renames, removes and truncations are durable only once their directory is
    // synced; crashes keep or lose the rest by the same fate as unsynced bytes (sim::DiskOptions).
    bool directory_ops_need_sync = false;
};

// An anomaly the semantics permit in a scenario, excused only where its cause happened in the run
// (docs/scenarios.md). Written in a spec as "ANOMALY when CAUSE".
struct Allowance {
    std::string anomaly;
    std::string cause;  // one of allowance_causes()

    friend bool operator==(const Allowance&, const Allowance&) = default;
};

// The causes an allowance may name: retried-send (the checker found a retried send, or one with an unknown
// outcome, behind the anomaly), acks-1 (a send behind it was acknowledged by the leader alone), power-loss
// (every broker lost power and unsynced bytes in this run), unclean-election (the controller elected a
// leader from outside the ISR in this run), tombstone-outran-replica (a leader's cleaner removed the
// anomaly's key's tombstone before every replica had fetched it: Kafka's delete.retention.ms limit),
// read-uncommitted (only read_uncommitted readers saw an aborted transaction's record), late-request (an
// earlier transaction of the producer ran at the same epoch, whose late EndTxn or marker may end this one;
// transaction version 1 only, which keeps the epoch from one transaction to the next).
const std::vector<std::string>& allowance_causes();

struct CheckSpec {
    std::vector<Allowance> allowed;       // anomalies the semantics permit here (reported, not failures)
    std::vector<std::string> weaknesses;  // anomalies the scenario is known to show
    std::int64_t quiesce_ms = 60'000;     // how long healing may take before the run is stuck
};

// A scenario: cluster config + workload + fault plan generator + checks + expected anomalies.
struct Spec {
    std::string name;
    std::string description;
    std::string source;  // the file it came from, or "built-in"
    bool buggify = false;
    // The swarm scenario: every run draws a scenario of its own from its seed (scenarios/swarm.h); the rest
    // of this spec is unused.
    bool swarm = false;
    ClusterSpec cluster;
    // The user topics the controller creates at its first start: [[topics]], or the one topic of
    // [cluster]. Never empty in a parsed spec; no name starts with "__" (internal topics are the brokers').
    std::vector<protocol::TopicDescription> topics;
    WorkloadSpec workload;
    FaultSpec faults;
    CheckSpec checks;
};

// Whether `topic` is compacted: its cleanup_policy, or the cluster's.
[[nodiscard]] bool compacted(const Spec& spec, const protocol::TopicDescription& topic);

// Parses a TOML spec; `source` names it in errors. Throws SpecError.
Spec parse_spec(std::string_view text, const std::string& source);
// Reads and parses a spec file. Throws SpecError (a missing file too).
Spec load_spec_file(const std::string& path);

// The built-in scenarios (scenarios/specs/*.toml, compiled in), by name.
const std::vector<Spec>& builtin_specs();
const Spec* find_builtin(std::string_view name);
// A built-in scenario's TOML as written in scenarios/specs/ ("" for swarm, which has none, or an unknown name).
std::string_view builtin_spec_text(std::string_view name);

}  // namespace eosim::scenarios
