#include "scenarios/runner.h"

#include "broker_core/batch_codec.h"
#include "broker_core/checkpoint_file.h"
#include "broker_core/invariants.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <set>
#include <sstream>
#include <typeindex>
#include <unordered_map>

#include <fmt/format.h>

#include "broker_core/broker.h"
#include "broker_core/controller.h"
#include "faults/nemesis.h"
#include "protocol/wire_size.h"
#include "model/checkers.h"
#include "model/groups.h"
#include "model/history.h"
#include "scenarios/bugs.h"
#include "scenarios/cluster_health.h"
#include "scenarios/history_export.h"
#include "scenarios/probes.h"
#include "scenarios/stream_workloads.h"
#include "scenarios/swarm.h"
#include "scenarios/workloads.h"
#include "sim/simulation.h"

namespace eosim::scenarios {

using broker_core::Broker;
using broker_core::Controller;
using protocol::BrokerId;
using protocol::TopicPartition;

std::string_view to_string(RunStatus status) {
    switch (status) {
        case RunStatus::pass:
            return "pass";
        case RunStatus::fail:
            return "fail";
        case RunStatus::error:
            return "error";
    }
    return "unknown";
}

std::string reproduce_command(const std::string& scenario, std::uint64_t seed, const std::string& bug,
                              const std::string& spec_path, const std::vector<std::string>& input_files,
                              const std::string& plan_path) {
    std::string command = spec_path.empty() ? fmt::format("./eosim run {} --seed {}", scenario, seed)
                                            : fmt::format("./eosim run --spec {} --seed {}", spec_path, seed);
    if (!bug.empty()) {
        command += " --bug " + bug;
    }
    for (const std::string& input : input_files) {
        command += " --input " + input;
    }
    if (!plan_path.empty()) {
        command += " --plan " + plan_path;
    }
    return command;
}

namespace {

// How often the runner looks at the cluster's health for the health lines.
constexpr sim::Duration health_sample = std::chrono::milliseconds(50);

// One run: builds the cluster and its clients on a simulation, lets the nemesis loose over the chaos
// phase, heals, waits for quiescence (scrubbing latent corruption), and checks the history.
class Run {
public:
    Run(const Spec& spec, const RunOptions& options, const SwarmDraw* swarm = nullptr)
        : spec_(spec),
          options_(options),
          swarm_(swarm),
          simulation_(sim::SimulationOptions{
              .seed = options.seed,
              .buggify = spec.buggify,
              .disk = sim::DiskOptions{.directory_ops_need_sync = spec.faults.directory_ops_need_sync},
              .trace_sink = options.trace}) {}

    RunResult execute();
    // Why `plan` cannot run on this scenario's nodes (a target it lacks), or "" (after build_nodes()).
    [[nodiscard]] std::string plan_problem(const faults::FaultPlan& plan) const;
    void build_nodes() {
        build_controller();
        build_brokers();
        build_clients();
    }

private:
    void build();
    void build_controller();
    void build_brokers();
    void build_clients();
    // The stream application's instances and the partitions they must read to the end.
    void build_stream_instances();
    // After quiescence: the stream application's `stream-final` and `stream-state` lines.
    void record_stream_final(model::History& history, std::uint64_t& index) const;
    void draw_faults();
    // Starts every node, the nemesis, the writeback of page caches, and the healer.
    void start();
    // The heal phase: faults stop, every node comes back, then the cluster settles and is scrubbed.
    void heal();
    // Waits until the cluster is quiescent, restarting a broker that halted meanwhile.
    void settle();
    // Samples the nemesis's quiet() every health_sample and records each change as a health line; a fault
    // between two samples ends a healthy stretch at the fault's own time.
    void watch_health();
    // Waits until the cluster has been healthy for longer than the availability check's grace (at most a
    // quarter of the quiesce bound), so that it holds the probe sends that follow.
    void await_healthy_stretch();
    void restart_down_nodes();
    // The groups of the run and the partitions they read: "members" every topic's, "ctp" its input's.
    [[nodiscard]] std::vector<std::pair<std::string, std::vector<TopicPartition>>> group_partitions() const;
    // The plan's faults of group members and application instances: each crashes (and restarts) or pauses.
    void instance_faults();
    static std::vector<std::string> names(const std::vector<sim::Node*>& nodes);
    // The group members and application instances, which instance faults hit.
    [[nodiscard]] std::vector<std::string> instance_names() const;
    [[nodiscard]] model::History history(bool stuck);
    void check(RunResult& result, const sim::RunOutcome& outcome);
    void classify(RunResult& result, const std::vector<model::Anomaly>& anomalies);
    // Whether `allowance` excuses `anomaly`: its cause happened in this run (docs/scenarios.md).
    [[nodiscard]] bool excused(const Allowance& allowance, const model::Anomaly& anomaly);

    const Spec& spec_;
    const RunOptions& options_;
    const SwarmDraw* swarm_;  // the swarm scenario's draw, when the spec is one
    sim::Simulation simulation_;
    broker_core::ClusterAddresses addresses_;
    ClusterNodes nodes_;
    const StreamApp* stream_app_ = nullptr;
    std::optional<streams_core::Topology> stream_topology_;  // the instances' threads hold it
    sim::Node* admin_ = nullptr;
    client_core::HistoryRecorder history_;
    faults::FaultPlan plan_;
    std::optional<ClusterHealth> health_;
    std::optional<faults::Nemesis> nemesis_;
    std::vector<model::Removal> removals_;
    std::vector<model::HealthChange> health_changes_;
    bool quiesced_ = false;
    sim::Time healed_at_{};    // when the heal began
    sim::Time quiesced_at_{};  // when the probes settled
};

// A broker's announcement that a replica's log start moved, as a removal line.
model::Removal removal_of(const sim::Moment& moment, std::int64_t time) {
    model::Removal removal{.time = time,
                           .partition = moment.partition,
                           .replica = moment.node,
                           .cause = std::string(moment.cause)};
    if (!moment.subject.empty()) {
        removal.key = moment.subject;
    }
    const std::pair<std::string_view, std::int64_t*> fields[] = {
        {"from", &removal.from},
        {"to", &removal.to},
        {"offset", &removal.from},
        {"high_watermark", &removal.high_watermark},
        {"limit", &removal.limit},
        {"timestamp_ms", &removal.timestamp_ms},
        {"removed_at_ms", &removal.removed_at_ms},
        {"delete_retention_ms", &removal.delete_retention_ms},
    };
    for (const auto& [name, number] : moment.numbers) {
        for (const auto& [field, target] : fields) {
            if (name == field) {
                *target = number;
            }
        }
        if (name == "latest") {
            removal.latest = number != 0;
        }
    }
    if (moment.name == sim::moments::tombstone_removed) {
        removal.to = removal.from + 1;
    }
    return removal;
}

// ---- Building ------------------------------------------------------------------------------------

void Run::build() {
    build_nodes();
    draw_faults();
}

void Run::build_controller() {
    const ClusterSpec& cluster = spec_.cluster;
    broker_core::ControllerConfig controller_config;
    for (std::int32_t i = 1; i <= cluster.brokers; ++i) {
        controller_config.brokers.emplace_back(i);
    }
    EOSIM_ASSERT_MSG(!spec_.topics.empty(), "a parsed spec has its topics");
    controller_config.topics = spec_.topics;
    controller_config.unclean_leader_election = cluster.unclean_leader_election;
    nodes_.controller = &simulation_.add_node(
        "controller", [controller_config](sim::Node& n) { return std::make_unique<Controller>(n, controller_config); });
    addresses_.controller = nodes_.controller->id();
}

void Run::build_brokers() {
    const ClusterSpec& cluster = spec_.cluster;
    const auto first_broker_node = static_cast<std::uint32_t>(simulation_.nodes().size());
    for (std::int32_t i = 1; i <= cluster.brokers; ++i) {
        addresses_.brokers[BrokerId(i)] = sim::NodeId(first_broker_node + static_cast<std::uint32_t>(i - 1));
    }
    broker_core::BrokerBugs bugs;
    EOSIM_ASSERT(apply_bug(options_.bug, bugs));
    for (std::int32_t i = 1; i <= cluster.brokers; ++i) {
        broker_core::BrokerConfig config;
        config.id = BrokerId(i);
        config.addresses = addresses_;
        config.log.flush_every_write = cluster.flush_every_write;
        config.log.segment_bytes = static_cast<std::uint64_t>(cluster.segment_bytes);
        config.log.producer_state.expiration_ms = cluster.producer_id_expiration_ms;
        config.log.retention_ms = cluster.retention_ms;
        config.log.retention_bytes = cluster.retention_bytes;
        config.log.compacted = cluster.compacted;
        config.log.delete_retention_ms = cluster.delete_retention_ms;
        config.log.min_compaction_lag_ms = cluster.min_compaction_lag_ms;
        config.min_insync_replicas = cluster.min_insync_replicas;
        // As an operator of a small cluster sets offsets.topic.replication.factor and
        // transaction.state.log.replication.factor (Kafka refuses to create them with more replicas than brokers).
        config.offsets_topic_replication_factor = std::min(config.offsets_topic_replication_factor, cluster.brokers);
        config.transaction_state_log_replication_factor =
            std::min(config.transaction_state_log_replication_factor, cluster.brokers);
        config.replica_fetch_max_bytes = static_cast<std::uint64_t>(cluster.replica_fetch_max_bytes);
        config.transactions.version = cluster.transaction_version == 1 ? broker_core::TransactionVersion::v1
                                                                       : broker_core::TransactionVersion::v2;
        config.bugs = bugs;
        nodes_.brokers.push_back(&simulation_.add_node(
            fmt::format("broker-{}", i), [config](sim::Node& n) { return std::make_unique<Broker>(n, config); }));
    }
}

void Run::build_clients() {
    const sim::Time stop_at = sim::Time(spec_.faults.plan.chaos);
    for (std::int32_t i = 1; i <= spec_.workload.producers; ++i) {
        client_core::ProducerConfig config;
        config.client_id = fmt::format("producer-{}", i);
        config.acks = spec_.workload.acks;
        config.idempotent = spec_.workload.idempotent;
        config.max_in_flight = spec_.workload.max_in_flight;
        config.delivery_timeout = std::chrono::milliseconds(spec_.workload.delivery_timeout_ms);
        nodes_.producers.push_back(&simulation_.add_node(config.client_id, [this, config, i, stop_at](sim::Node& n) {
            static const std::vector<InputRecord> nothing;
            const std::vector<InputRecord>* input =
                options_.input.empty() ? nullptr : (i == 1 ? &options_.input : &nothing);
            return std::make_unique<ProducerWorkload>(n, config, addresses_, history_, spec_, i, stop_at, input);
        }));
    }
    for (std::int32_t i = 1; i <= spec_.workload.consumers + spec_.workload.read_committed_consumers; ++i) {
        client_core::ConsumerConfig config;
        const bool committed = i > spec_.workload.consumers;
        config.client_id = committed ? fmt::format("rc-consumer-{}", i - spec_.workload.consumers)
                                     : fmt::format("consumer-{}", i);
        config.isolation =
            committed ? protocol::IsolationLevel::read_committed : protocol::IsolationLevel::read_uncommitted;
        nodes_.consumers.push_back(&simulation_.add_node(config.client_id, [this, config](sim::Node& n) {
            return std::make_unique<ConsumerWorkload>(n, config, addresses_, history_, spec_);
        }));
    }
    for (std::int32_t i = 1; i <= spec_.workload.transactional_producers; ++i) {
        for (std::int32_t instance = 0; instance < spec_.workload.txn_instances; ++instance) {
            const std::string name = instance == 0 ? fmt::format("txn-{}", i) : fmt::format("txn-{}-b", i);
            nodes_.txn_writers.push_back(&simulation_.add_node(name, [this, i, instance, stop_at](sim::Node& n) {
                return std::make_unique<TxnWriterWorkload>(n, addresses_, history_, spec_, i, instance > 0, stop_at);
            }));
        }
    }
    const bool no_rewind = options_.bug == "kafka-17582";
    for (std::int32_t i = 1; i <= spec_.workload.group_members; ++i) {
        nodes_.group_members.push_back(&simulation_.add_node(fmt::format("member-{}", i), [this, i, stop_at](sim::Node& n) {
            return std::make_unique<GroupMemberWorkload>(n, addresses_, history_, spec_, i, stop_at);
        }));
    }
    if (spec_.workload.group_members > 0) {
        const std::vector<std::string>& read = spec_.workload.group_topics;
        std::vector<TopicPartition> partitions;
        for (const protocol::TopicDescription& topic : spec_.topics) {
            const bool member_reads = read.empty() || std::find(read.begin(), read.end(), topic.name) != read.end();
            for (std::int32_t p = 0; p < topic.partitions && member_reads; ++p) {
                partitions.push_back(TopicPartition{topic.name, p});
            }
        }
        nodes_.groups.emplace_back("members", std::move(partitions));
    }
    for (std::int32_t i = 1; i <= spec_.workload.ctp_instances; ++i) {
        nodes_.ctp_instances.push_back(&simulation_.add_node(fmt::format("ctp-{}", i), [this, i, no_rewind](sim::Node& n) {
            return std::make_unique<CtpWorkload>(n, addresses_, history_, spec_, i, no_rewind);
        }));
    }
    if (spec_.workload.ctp_instances > 0) {
        std::vector<TopicPartition> inputs;
        for (const protocol::TopicDescription& topic : spec_.topics) {
            for (std::int32_t p = 0; p < topic.partitions && topic.name == spec_.workload.ctp_input; ++p) {
                inputs.push_back(TopicPartition{topic.name, p});
            }
        }
        nodes_.ctp_inputs = std::move(inputs);
    }
    if (!spec_.workload.stream_app.empty()) {
        build_stream_instances();
    }
    if (spec_.workload.delete_records_every_max_ms > 0) {
        admin_ = &simulation_.add_node("admin", [this, stop_at](sim::Node& n) {
            return std::make_unique<AdminWorkload>(n, addresses_, history_, spec_, stop_at);
        });
    }
}

void Run::build_stream_instances() {
    stream_app_ = find_stream_app(spec_.workload.stream_app);
    EOSIM_ASSERT_MSG(stream_app_ != nullptr, "a parsed spec names a known stream application");
    stream_topology_.emplace(stream_app_->topology());
    for (std::int32_t i = 1; i <= spec_.workload.stream_instances; ++i) {
        nodes_.stream_instances.push_back(
            &simulation_.add_node(fmt::format("{}-{}", stream_app_->name, i), [this, i](sim::Node& n) {
                return std::make_unique<StreamInstanceWorkload>(n, *stream_topology_, addresses_, history_, spec_,
                                                                *stream_app_, i, stream_bugs(options_.bug));
            }));
    }
    const std::set<std::string> sources = stream_topology_->source_topics();
    for (const protocol::TopicDescription& topic : spec_.topics) {
        for (std::int32_t p = 0; p < topic.partitions && sources.contains(topic.name); ++p) {
            nodes_.stream_sources.push_back(TopicPartition{topic.name, p});
        }
    }
}

void Run::record_stream_final(model::History& history, std::uint64_t& index) const {
    const std::string app(stream_app_->name);
    model::Operation final_line{.index = index++,
                                .time = sim::to_ns(simulation_.now()),
                                .process = "runner",
                                .type = model::OpType::ok,
                                .f = "stream-final",
                                .value = app,
                                .group = app};
    final_line.offsets.emplace();
    for (const TopicPartition& partition : nodes_.stream_sources) {
        (*final_line.offsets)[partition.name()] = health_->committed_offset(app, partition);
    }
    // The application's own topics: every topic but its inputs.
    final_line.partitions.emplace();
    for (const protocol::TopicDescription& topic : spec_.topics) {
        const bool input = std::find(stream_app_->inputs.begin(), stream_app_->inputs.end(), topic.name) !=
                           stream_app_->inputs.end();
        for (std::int32_t p = 0; p < topic.partitions && !input; ++p) {
            final_line.partitions->push_back(TopicPartition{topic.name, p}.name());
        }
    }
    history.operations.push_back(std::move(final_line));
    // Each store as the running tasks hold it, every task's rows merged (a key lives in one task).
    std::map<std::string, std::map<std::string, std::string>> stores;
    for (const auto& [name, store] : stream_topology_->stores()) {
        stores[name];
    }
    for (sim::Node* instance : nodes_.stream_instances) {
        for (const auto& thread : instance->state<StreamInstanceWorkload>().threads()) {
            for (const streams_core::TaskId id : thread->running_tasks()) {
                for (const auto& [name, store] : thread->task(id)->stores()) {
                    for (const auto& [key, value] : store->all()) {
                        stores[name][key] = value;
                    }
                }
            }
        }
    }
    for (const auto& [name, rows] : stores) {
        model::Operation state{.index = index++,
                               .time = sim::to_ns(simulation_.now()),
                               .process = "runner",
                               .type = model::OpType::ok,
                               .f = "stream-state",
                               .partition = name};
        state.records.emplace();
        for (const auto& [key, value] : rows) {
            state.records->push_back(model::Record{.offset = 0, .value = value, .key = key});
        }
        history.operations.push_back(std::move(state));
    }
    // Each standby store as its thread holds it, with the changelog offset it has read to: the store must be
    // its changelog partition's committed records below that offset, folded.
    const std::string app_prefix = app + "-";
    for (sim::Node* instance : nodes_.stream_instances) {
        const auto& threads = instance->state<StreamInstanceWorkload>().threads();
        for (std::size_t t = 0; t < threads.size(); ++t) {
            const streams_core::StreamThread& thread = *threads[t];
            for (const streams_core::TaskId id : thread.standby_tasks()) {
                const streams_core::StateDirectory::Offsets positions = thread.standby_positions(id);
                for (const auto& [name, store] : thread.standby(id)->stores()) {
                    const auto position = positions.find(TopicPartition{app_prefix + name + "-changelog", id.partition});
                    if (position == positions.end()) {
                        continue;  // not logged
                    }
                    model::Operation standby{.index = index++,
                                             .time = sim::to_ns(simulation_.now()),
                                             .process = fmt::format("{}-{}", instance->name(), t + 1),
                                             .type = model::OpType::ok,
                                             .f = "stream-standby",
                                             .partition = name,
                                             .value = fmt::format("{}_{}", id.subtopology, id.partition)};
                    standby.offsets.emplace();
                    (*standby.offsets)[position->first.name()] = position->second.value();
                    standby.records.emplace();
                    for (const auto& [key, value] : store->all()) {
                        standby.records->push_back(model::Record{.offset = 0, .value = value, .key = key});
                    }
                    history.operations.push_back(std::move(standby));
                }
            }
        }
    }
}

std::vector<std::string> Run::names(const std::vector<sim::Node*>& nodes) {
    std::vector<std::string> result;
    for (const sim::Node* node : nodes) {
        result.push_back(node->name());
    }
    return result;
}

std::vector<std::string> Run::instance_names() const {
    std::vector<std::string> instances = names(nodes_.group_members);
    for (const auto* more : {&nodes_.ctp_instances, &nodes_.stream_instances}) {
        const std::vector<std::string> those = names(*more);
        instances.insert(instances.end(), those.begin(), those.end());
    }
    if (spec_.workload.client_faults) {
        // Not the producers of --input: a restarted one would send its input again.
        for (const auto* clients : {&nodes_.producers, &nodes_.consumers, &nodes_.txn_writers}) {
            if (clients == &nodes_.producers && !options_.input.empty()) {
                continue;
            }
            const std::vector<std::string> those = names(*clients);
            instances.insert(instances.end(), those.begin(), those.end());
        }
    }
    return instances;
}

std::string Run::plan_problem(const faults::FaultPlan& plan) const {
    std::vector<std::string> servers{"controller"};
    const std::vector<std::string> brokers = names(nodes_.brokers);
    servers.insert(servers.end(), brokers.begin(), brokers.end());
    const std::vector<std::string> instances = instance_names();
    std::vector<std::string> everyone = servers;
    for (const auto* clients : {&nodes_.producers, &nodes_.consumers, &nodes_.txn_writers, &nodes_.group_members,
                                &nodes_.ctp_instances, &nodes_.stream_instances}) {
        const std::vector<std::string> those = names(*clients);
        everyone.insert(everyone.end(), those.begin(), those.end());
    }
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
        const faults::FaultAction& action = plan.actions[i];
        const bool on_instance = faults::on_instance(action.kind);
        const bool any_node = faults::targets_any_node(action.kind);
        if (on_instance && action.at >= spec_.faults.plan.chaos) {
            // After the chaos phase the run heals and probes its producers: none may be down then.
            return fmt::format("action {} ({}): an instance fault comes within the chaos phase ({} ms)", i + 1,
                               faults::to_string(action.kind),
                               std::chrono::duration_cast<std::chrono::milliseconds>(spec_.faults.plan.chaos).count());
        }
        static const std::vector<std::string> controller{"controller"};
        const std::vector<std::string>& allowed = on_instance ? instances
                                                  : any_node  ? everyone
                                                  : action.kind == faults::FaultKind::crash_controller ? controller
                                                                                                       : brokers;
        for (const auto* side : {&action.targets, &action.other_side}) {
            for (const std::string& target : *side) {
                if (std::find(allowed.begin(), allowed.end(), target) == allowed.end()) {
                    return fmt::format("action {} ({}): '{}' is not one of the scenario's {} ({})", i + 1,
                                       faults::to_string(action.kind), target,
                                       on_instance ? "application instances"
                                       : any_node  ? "nodes"
                                       : action.kind == faults::FaultKind::crash_controller ? "controllers"
                                                                                            : "brokers",
                                       allowed.empty() ? std::string("none") : fmt::format("{}", fmt::join(allowed, ", ")));
                }
            }
        }
    }
    return "";
}

void Run::draw_faults() {
    const std::vector<std::string> broker_names = names(nodes_.brokers);
    if (options_.plan) {
        plan_ = *options_.plan;
    } else {
        const WorkloadSpec& workload = spec_.workload;
        const faults::InstanceFaultOptions instance_faults{
            .chaos = spec_.faults.plan.chaos,
            .every_min = std::chrono::milliseconds(workload.instance_faults_every_min_ms),
            .every_max = std::chrono::milliseconds(workload.instance_faults_every_max_ms),
            .length_min = std::chrono::milliseconds(workload.instance_fault_min_ms),
            .length_max = std::chrono::milliseconds(workload.instance_fault_max_ms),
            .corrupt_state = workload.instance_corrupt_state};
        plan_ = faults::merge(
            faults::draw_fault_plan(simulation_.random().fork("fault-plan"), spec_.faults.plan, broker_names,
                                    "controller"),
            faults::draw_instance_faults(simulation_.random().fork("instance-faults"), instance_faults,
                                         instance_names()));
    }
    simulation_.record_param("scenario", spec_.name);
    simulation_.record_param("bug", options_.bug.empty() ? "none" : options_.bug);
    if (swarm_ != nullptr) {
        for (const auto& [knob, value] : swarm_->knobs) {
            simulation_.record_param("swarm." + knob, value);
        }
    }
    simulation_.record_param("fault_actions", std::to_string(plan_.actions.size()));
    faults::NemesisOptions nemesis{.within_tolerance = spec_.faults.within_tolerance, .chaos = spec_.faults.plan.chaos};
    nemesis.detectable = [](std::span<const std::byte> segment, std::uint64_t offset) {
        return broker_core::crc_covers(segment, offset);
    };
    nemesis.damage_detected = [](const std::string& path, std::span<const std::byte> before,
                                 std::span<const std::byte> after) {
        return broker_core::detects_damage(path, before, after);
    };
    // A partition's directory is its name (<topic>-<p>); a compacted log has gaps anyway, so its recovery
    // cannot tell a lost segment.
    nemesis.losable = [this](const std::string& path) {
        const std::string directory = path.substr(0, path.find('/'));
        const std::string topic = directory.substr(0, directory.rfind('-'));
        return std::any_of(spec_.topics.begin(), spec_.topics.end(), [&](const protocol::TopicDescription& t) {
            return t.name == topic && !compacted(spec_, t);
        });
    };
    nemesis.servers.push_back("controller");
    nemesis.servers.insert(nemesis.servers.end(), broker_names.begin(), broker_names.end());
    for (const auto* clients :
         {&nodes_.producers, &nodes_.consumers, &nodes_.txn_writers, &nodes_.group_members, &nodes_.ctp_instances,
          &nodes_.stream_instances}) {
        const std::vector<std::string> client_names = names(*clients);
        nemesis.clients.insert(nemesis.clients.end(), client_names.begin(), client_names.end());
    }
    health_.emplace(nodes_);
    nemesis_.emplace(simulation_, *health_, std::move(nemesis));
}

// ---- Running -------------------------------------------------------------------------------------

void Run::start() {
    // What brokers remove on purpose becomes the history's removal lines (ground truth for the checkers).
    (void)simulation_.witness().listen([this](const sim::Moment& moment) {
        if ((moment.name == sim::moments::log_start_moved || moment.name == sim::moments::tombstone_removed) &&
            !moment.cause.empty()) {
            removals_.push_back(removal_of(moment, sim::to_ns(simulation_.now())));
        }
    });
    nodes_.controller->start();
    for (const auto* group : {&nodes_.brokers, &nodes_.producers, &nodes_.consumers, &nodes_.txn_writers,
                              &nodes_.group_members, &nodes_.ctp_instances, &nodes_.stream_instances}) {
        for (sim::Node* node : *group) {
            node->start();
        }
    }
    if (std::any_of(plan_.actions.begin(), plan_.actions.end(),
                    [](const faults::FaultAction& action) { return faults::on_instance(action.kind); })) {
        simulation_.world().spawn("instance-faults", [this] { instance_faults(); });
    }
    if (admin_ != nullptr) {
        admin_->start();
    }
    simulation_.world().spawn("nemesis", [this] { nemesis_->run(plan_); });
    simulation_.world().spawn("health", [this] { watch_health(); });
    if (spec_.cluster.writeback_interval_ms > 0) {
        simulation_.world().spawn("writeback", [this] {
            while (true) {
                sim::sleep(std::chrono::milliseconds(spec_.cluster.writeback_interval_ms));
                for (sim::Node* broker : nodes_.brokers) {
                    if (broker->up()) {
                        broker->disk().writeback();
                    }
                }
            }
        });
    }
    simulation_.world().spawn("healer", [this] { heal(); });
}

void Run::heal() {
    const sim::Time heal_at(spec_.faults.plan.chaos);
    sim::sleep(heal_at - sim::now());
    sim::sleep(spec_.faults.plan.duration_max);  // let the last faults end by themselves
    healed_at_ = sim::now();
    nemesis_->heal();
    if (spec_.workload.ctp_instances > 0 || spec_.workload.group_members > 0 || spec_.workload.stream_instances > 0) {
        // The groups must drain their input before the run quiesces: buggify, which delays requests much
        // as faults do, stops with the faults here (docs/groups.md, "Workloads").
        simulation_.buggify().disable();
    }
    restart_down_nodes();
    settle();
    // Latent corruption stays until something reads it: restart each broker that got a bit flip,
    // one at a time, so that its recovery checks every batch (a scrub).
    for (const std::string& name : nemesis_->corrupted()) {
        sim::trace("Scrub").detail("broker", name);
        nemesis_->note_fault();
        sim::Node& broker = *simulation_.find_node(name);
        (void)broker.crash(sim::CrashOptions{sim::UnsyncedFate::keep});
        broker.restart();
        settle();
    }
    // Liveness: the healed cluster must serve again. Each producer's probe sends must all be acknowledged
    // within the quiesce bound, or the run is stuck; on the healthy cluster, none may fail (unavailable).
    // Buggify stops, like the faults: the probes meet the cluster as it behaves with nothing wrong.
    // They wait long enough for the availability check to hold them: the health line comes at the next
    // sample, and a send counts only once the cluster has been healthy for the check's grace.
    simulation_.buggify().disable();
    sim::sleep(std::chrono::milliseconds(spec_.workload.probe_idle_ms));
    await_healthy_stretch();
    for (sim::Node* producer : nodes_.producers) {
        if (options_.input.empty()) {
            producer->state<ProducerWorkload>().probe();  // none with --input: the output is the input's only
        }
    }
    for (sim::Node* writer : nodes_.txn_writers) {
        if (!writer->state<TxnWriterWorkload>().standby()) {
            writer->state<TxnWriterWorkload>().probe();
        }
    }
    settle();
    quiesced_at_ = sim::now();
    quiesced_ = true;
}

void Run::await_healthy_stretch() {
    const sim::Duration wanted = std::chrono::nanoseconds(model::availability_grace_ns) + 2 * health_sample;
    // A cluster whose health flaps still gets its probes (the check then holds fewer of them) well
    // within the run's quiesce bound.
    const sim::Time give_up = sim::now() + std::chrono::milliseconds(spec_.checks.quiesce_ms / 4);
    while (sim::now() < give_up) {
        const bool held = !health_changes_.empty() && health_changes_.back().healthy &&
                          sim::now() - sim::Time(std::chrono::nanoseconds(health_changes_.back().time)) >= wanted;
        if (held) {
            return;
        }
        sim::sleep(health_sample);
    }
}

void Run::watch_health() {
    bool healthy = false;
    sim::Time faults_seen{};
    while (true) {
        const sim::Time last_fault = nemesis_->last_fault();
        if (healthy && last_fault > faults_seen) {
            health_changes_.push_back(model::HealthChange{.time = sim::to_ns(last_fault), .healthy = false});
            healthy = false;
        }
        faults_seen = std::max(faults_seen, last_fault);
        // A buggify site that fires delays or fails requests much as a fault does: healthy stretches
        // begin only once buggify is off (for the probe sends) in runs that have it.
        if (const bool quiet = nemesis_->quiet() && !simulation_.buggify().enabled(); quiet != healthy) {
            health_changes_.push_back(model::HealthChange{.time = sim::to_ns(sim::now()), .healthy = quiet});
            healthy = quiet;
        }
        sim::sleep(health_sample);
    }
}

void Run::settle() {
    while (!health_->quiescent()) {
        sim::sleep(std::chrono::milliseconds(100));
        restart_down_nodes();  // a broker that halted on a corrupt batch comes back
    }
}

std::vector<std::pair<std::string, std::vector<TopicPartition>>> Run::group_partitions() const {
    std::vector<std::pair<std::string, std::vector<TopicPartition>>> groups = nodes_.groups;
    if (!nodes_.ctp_inputs.empty()) {
        groups.emplace_back("ctp", nodes_.ctp_inputs);
    }
    return groups;
}

void Run::instance_faults() {
    for (const faults::FaultAction& action : plan_.actions) {
        if (!faults::on_instance(action.kind)) {
            continue;
        }
        if (const sim::Time at(action.at); at > sim::now()) {
            sim::sleep(at - sim::now());
        }
        sim::Node* victim = simulation_.find_node(action.targets.front());
        EOSIM_ASSERT_MSG(victim != nullptr, "a checked plan names nodes that exist");
        if (!victim->up() || victim->paused()) {
            faults::drop_fault("the instance is already down or paused");
            continue;
        }
        nemesis_->note_fault();  // a client's fault ends a healthy stretch too (its sends may time out)
        if (action.kind == faults::FaultKind::crash_instance) {
            if (action.corrupt_state) {
                // Latent corruption of the instance's local state where a checkpoint vouches for it (a
                // directory without one is wiped anyway under EOS), found when it opens the task again.
                const sim::Disk& disk = victim->disk();
                const auto flipped = victim->disk().corrupt_random_bit([&disk](const std::string& path) {
                    return path.starts_with("streams/") &&
                           disk.exists(path.substr(0, path.rfind('/') + 1) + ".checkpoint");
                });
                if (flipped) {
                    sim::trace("InstanceStateCorrupted")
                        .detail("node", victim->name())
                        .detail("file", flipped->first)
                        .detail("byte", flipped->second);
                }
            }
            sim::trace("InstanceCrash").detail("node", victim->name());
            (void)victim->crash(sim::CrashOptions{.unsynced = action.unsynced});
            simulation_.world().spawn("instance-restart", [victim, length = action.duration] {
                sim::sleep(length);
                if (!victim->up()) {
                    victim->restart();
                }
            });
        } else {
            sim::trace("InstancePause").detail("node", victim->name());
            victim->pause(action.duration);
        }
    }
}

void Run::restart_down_nodes() {
    // A crashed client whose restart is still to come starts now: the probes need every producer.
    for (const auto* clients : {&nodes_.producers, &nodes_.consumers, &nodes_.txn_writers}) {
        for (sim::Node* client : *clients) {
            if (!client->up()) {
                nemesis_->note_fault();
                client->restart();
            }
        }
    }
    if (!nodes_.controller->up()) {
        nemesis_->note_fault();
        nodes_.controller->restart();
    }
    for (sim::Node* broker : nodes_.brokers) {
        if (!broker->up()) {
            nemesis_->note_fault();  // it was down: whatever it left behind is the fault's
            broker->restart();
        }
    }
}

// ---- Checking ------------------------------------------------------------------------------------

model::History Run::history(bool stuck) {
    model::History history;
    ExportOptions options;
    for (const protocol::TopicDescription& topic : spec_.topics) {
        // Keys matter on compacted topics, and on every topic of a stream application (its output is per key).
        const bool keyed = compacted(spec_, topic) || stream_app_ != nullptr ||
                           std::any_of(options_.dumps.begin(), options_.dumps.end(),
                                       [&topic](const auto& dump) { return dump.first == topic.name; });
        for (std::int32_t p = 0; p < topic.partitions && keyed; ++p) {
            options.keyed_partitions.insert(protocol::TopicPartition{topic.name, p}.name());
        }
        const bool input = (stream_app_ != nullptr && std::find(stream_app_->inputs.begin(), stream_app_->inputs.end(),
                                                                topic.name) != stream_app_->inputs.end()) ||
                           std::any_of(options_.dumps.begin(), options_.dumps.end(),
                                       [&topic](const auto& dump) { return dump.first == topic.name; });
        for (std::int32_t p = 0; p < topic.partitions && input; ++p) {
            options.timestamped_partitions.insert(protocol::TopicPartition{topic.name, p}.name());
        }
    }
    history.operations.reserve(history_.operations().size() + 1);
    std::uint64_t index = 0;
    for (const client_core::ClientOperation& operation : history_.operations()) {
        history.operations.push_back(model_operation(operation, index++, options));
    }
    if (stuck) {
        history.operations.push_back(model::Operation{.index = index++,
                                                      .time = sim::to_ns(simulation_.now()),
                                                      .process = "runner",
                                                      .type = model::OpType::info,
                                                      .f = "stuck",
                                                      .reason = "the cluster did not quiesce after healing",
                                                      .timeout_ms = spec_.checks.quiesce_ms});
    }
    history.removals = removals_;
    history.health = health_changes_;
    for (const faults::Nemesis::ClockChange& change :
         nemesis_ ? nemesis_->clock_changes() : std::vector<faults::Nemesis::ClockChange>{}) {
        history.clocks.push_back(model::ClockChange{.time = sim::to_ns(change.time),
                                                    .node = change.node,
                                                    .offset_ns = sim::to_ns(change.offset),
                                                    .drift_ppm = change.drift_ppm});
    }
    if (!nodes_.controller->up()) {
        return history;
    }
    // Each group's final committed offsets, as its coordinator holds them after quiescence.
    for (const auto& [group, partitions] : group_partitions()) {
        if (stuck) {
            break;
        }
        model::Operation final_offsets{.index = index++,
                                       .time = sim::to_ns(simulation_.now()),
                                       .process = "runner",
                                       .type = model::OpType::ok,
                                       .f = "group-final",
                                       .group = group};
        final_offsets.offsets.emplace();
        for (const TopicPartition& partition : partitions) {
            (*final_offsets.offsets)[partition.name()] = health_->committed_offset(group, partition);
        }
        history.operations.push_back(std::move(final_offsets));
    }
    if (spec_.workload.ctp_instances > 0 && !stuck) {
        // The application's group's final committed offsets, as its coordinator holds them after quiescence.
        model::Operation final_line{.index = index++,
                                    .time = sim::to_ns(simulation_.now()),
                                    .process = "runner",
                                    .type = model::OpType::ok,
                                    .f = "ctp-final",
                                    .group = "ctp"};
        final_line.offsets.emplace();
        final_line.partitions.emplace();
        for (const protocol::TopicDescription& topic : spec_.topics) {
            for (std::int32_t p = 0; p < topic.partitions; ++p) {
                const TopicPartition partition{topic.name, p};
                if (topic.name == spec_.workload.ctp_input) {
                    (*final_line.offsets)[partition.name()] = health_->committed_offset("ctp", partition);
                } else if (topic.name == spec_.workload.ctp_output) {
                    final_line.partitions->push_back(partition.name());
                }
            }
        }
        history.operations.push_back(std::move(final_line));
    }
    if (stream_app_ != nullptr) {
        // Also when stuck: the line names the application's own topics, which the log checkers leave out
        // (the stream checkers judge nothing in a stuck run).
        record_stream_final(history, index);
    }
    for (const auto& [partition, state] : nodes_.controller->state<Controller>().partitions()) {
        if (protocol::is_internal_topic(partition.topic)) {
            continue;  // the coordinators' own logs: no client reads or writes them
        }
        for (const BrokerId replica : state.replicas) {
            sim::Node& broker = *nodes_.brokers[static_cast<std::size_t>(replica.value() - 1)];
            if (!broker.up()) {
                continue;
            }
            const auto& replicas = broker.state<Broker>().replicas();
            if (const auto found = replicas.find(partition); found != replicas.end()) {
                history.replicas.push_back(
                    replica_state(*found->second, broker.name(), state.leader == replica, options));
            }
        }
    }
    return history;
}

bool Run::excused(const Allowance& allowance, const model::Anomaly& anomaly) {
    if (allowance.anomaly != anomaly.name) {
        return false;
    }
    if (allowance.cause == "retried-send" || allowance.cause == "acks-1" || allowance.cause == "read-uncommitted" ||
        allowance.cause == "late-request") {
        return std::find(anomaly.causes.begin(), anomaly.causes.end(), allowance.cause) != anomaly.causes.end();
    }
    if (allowance.cause == "tombstone-outran-replica") {
        const auto key = anomaly.evidence.find("key");
        return key != anomaly.evidence.end() && key->is_string() &&
               simulation_.witness().tallied(
                   broker_core::invariants::tombstone_outran_replica(anomaly.partition, key->get<std::string>())) > 0;
    }
    if (allowance.cause == "power-loss") {
        return simulation_.witness().tallied(faults::lossy_power_losses) > 0;
    }
    EOSIM_ASSERT_MSG(allowance.cause == "unclean-election", "unknown cause " + allowance.cause);
    return simulation_.witness().tallied(broker_core::invariants::unclean_elections) > 0;
}

void Run::classify(RunResult& result, const std::vector<model::Anomaly>& anomalies) {
    std::set<std::string> failures;
    std::set<std::string> weaknesses;
    std::set<std::string> allowed;
    const std::vector<std::string>& weak = spec_.checks.weaknesses;
    for (const model::Anomaly& anomaly : anomalies) {
        result.reports.push_back(AnomalyReport{anomaly.name, anomaly.partition, anomaly.description});
        const bool permitted = std::any_of(spec_.checks.allowed.begin(), spec_.checks.allowed.end(),
                                           [&](const Allowance& allowance) { return excused(allowance, anomaly); });
        if (std::find(weak.begin(), weak.end(), anomaly.name) != weak.end()) {
            weaknesses.insert(anomaly.name);
        } else if (permitted) {
            allowed.insert(anomaly.name);
        } else {
            failures.insert(anomaly.name);
        }
    }
    result.anomalies.assign(failures.begin(), failures.end());
    result.weaknesses.assign(weaknesses.begin(), weaknesses.end());
    result.allowed.assign(allowed.begin(), allowed.end());
    result.status = failures.empty() ? RunStatus::pass : RunStatus::fail;
}

void Run::check(RunResult& result, const sim::RunOutcome& outcome) {
    const bool stuck = outcome.status != sim::RunStatus::done;
    const model::History history = this->history(stuck);
    if (options_.history != nullptr) {
        model::write_history(*options_.history, history);
    }
    for (const auto& [topic, out] : options_.dumps) {
        const auto described = std::find_if(spec_.topics.begin(), spec_.topics.end(),
                                             [&topic](const protocol::TopicDescription& t) { return t.name == topic; });
        EOSIM_ASSERT_MSG(described != spec_.topics.end(), "a dumped topic the spec lacks: " + topic);
        write_dump(history, topic, described->partitions, *out);
    }
    classify(result, model::check(history));
    for (const auto& [group, count] : model::count_redeliveries(history)) {
        result.counters["redeliveries"] += count;
    }
    if (const sim::Trace& trace = simulation_.trace(); trace.error_count() > 0 && result.status == RunStatus::pass) {
        // An error-severity trace event is a failed internal check of the simulated system.
        result.status = RunStatus::error;
        result.error = fmt::format("{} error trace event(s), the first: {}", trace.error_count(), trace.first_error());
    }
    result.events = outcome.events;
    result.sim_ns = sim::to_ns(simulation_.now());
    // The probes' deliberate wait (probe_idle_ms: producer state must outlive an idle stretch) is no part of
    // the recovery, nor of its bound.
    const std::int64_t idle_ns = std::int64_t{spec_.workload.probe_idle_ms} * 1'000'000;
    result.liveness_bound_ns = std::int64_t{spec_.checks.quiesce_ms} * 1'000'000 - idle_ns;
    if (quiesced_) {
        result.recovery_ns = sim::to_ns(quiesced_at_) - sim::to_ns(healed_at_) - idle_ns;
    }
}

namespace {

// A message's type without its namespace ("ProduceRequest"), the body's for an RPC envelope: what the
// HTML report names an arrow by. The names are the compiler's, read once per type.
std::string message_kind(const sim::Message& message) {
    static std::unordered_map<std::type_index, std::string> names;  // a cache: never iterated
    const std::type_info& type =
        message.is<sim::RpcEnvelope>() ? message.as<sim::RpcEnvelope>().body.payload.type() : message.payload.type();
    auto [at, inserted] = names.try_emplace(std::type_index(type));
    if (inserted) {
        int status = 0;
        const std::unique_ptr<char, decltype(&std::free)> demangled(
            abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), &std::free);
        std::string name = status == 0 && demangled != nullptr ? demangled.get() : type.name();
        if (const auto template_start = name.find('<'); template_start != std::string::npos) {
            name.erase(template_start);
        }
        if (const auto colons = name.rfind("::"); colons != std::string::npos) {
            name.erase(0, colons + 2);
        }
        at->second = name;
    }
    return at->second;
}

}  // namespace

RunResult Run::execute() {
    RunResult result;
    result.scenario = spec_.name;
    result.seed = options_.seed;
    result.bug = options_.bug;
    result.reproduce =
        reproduce_command(spec_.name, options_.seed, options_.bug, options_.spec_path, options_.input_files,
                          options_.plan_path);
    try {
        // What a message weighs on a link whose bandwidth a narrow-link fault limits.
        simulation_.network().set_message_size([](const sim::Message& message) { return protocol::wire_bytes(message); });
        if (options_.messages != nullptr) {
            simulation_.network().set_message_observer([this](const sim::MessageRecord& record) {
                MessageLog& log = *options_.messages;
                if (log.messages.size() >= log.limit) {
                    ++log.left_out;
                    return;
                }
                log.messages.push_back(MessageTrace{.sent_ns = sim::to_ns(record.sent),
                                                    .arrival_ns = sim::to_ns(record.arrival),
                                                    .from = simulation_.node(record.from).name(),
                                                    .to = simulation_.node(record.to).name(),
                                                    .kind = message_kind(*record.message),
                                                    .fate = record.fate});
            });
        }
        build();
        result.fault_plan = faults::to_json(plan_);
        start();
        const sim::Time give_up = sim::Time(spec_.faults.plan.chaos) + spec_.faults.plan.duration_max +
                                  std::chrono::milliseconds(spec_.checks.quiesce_ms);
        const sim::RunOutcome outcome = simulation_.run(
            sim::RunBounds{.time_limit = give_up, .max_events = 200'000'000}, [this] { return quiesced_; });
        check(result, outcome);
    } catch (const sim::InvariantViolation& violation) {
        // An invariant of the simulated system broke during the run: the seed fails at once, as an anomaly.
        sim::trace("InvariantViolation").detail("invariant", violation.name()).detail("what", violation.what());
        classify(result, {model::Anomaly{.name = "invariant-violation",
                                         .partition = "",
                                         .description = violation.what(),
                                         .evidence = {{"invariant", violation.name()}}}});
        result.events = simulation_.scheduler().events_dispatched();
        result.sim_ns = sim::to_ns(simulation_.now());
    } catch (const sim::AssertionFailure& failure) {
        result.status = RunStatus::error;
        result.error = failure.what();
    } catch (const std::exception& error) {
        result.status = RunStatus::error;
        result.error = std::string("internal error: ") + error.what();
    }
    // Whatever ended the run (an invariant violation too): what became of the plan so far.
    const sim::Witness& witness = simulation_.witness();
    result.faults = FaultCounts{.planned = std::ssize(plan_.actions),
                                .deferred = witness.tallied(faults::faults_deferred),
                                .downgraded = witness.tallied(faults::faults_downgraded),
                                .dropped = witness.tallied(faults::faults_dropped)};
    result.fingerprint = simulation_.fingerprint();
    result.params = simulation_.params();
    for (const auto& [name, hits] : simulation_.probes()) {
        if (find_probe(name) == nullptr && result.status != RunStatus::error) {
            result.status = RunStatus::error;
            result.error = fmt::format("code probe '{}' is not listed in scenarios/probes.cc", name);
        }
        result.probes.push_back(name);
    }
    return result;
}

}  // namespace

RunResult run(const Spec& spec, std::uint64_t seed, RunOptions options) {
    options.seed = seed;
    return run(spec, options);
}

RunResult run(const Spec& spec, const RunOptions& options) {
    if (spec.swarm) {
        const SwarmDraw draw = draw_swarm(options.seed);
        Spec drawn;
        try {
            drawn = swarm_spec(draw, options.seed);
        } catch (const SpecError& error) {
            // A draw the spec's own rules refuse: the swarm's defect, reported as this seed's error.
            RunResult refused{.scenario = spec.name, .seed = options.seed, .bug = options.bug};
            refused.status = RunStatus::error;
            refused.error = std::string("the swarm drew a spec it may not: ") + error.what();
            refused.reproduce = reproduce_command(spec.name, options.seed, options.bug, "");
            refused.drawn_spec = draw.toml;
            return refused;
        }
        Run run(drawn, options, &draw);
        RunResult result = run.execute();
        result.drawn_spec = draw.toml;
        return result;
    }
    Run run(spec, options);
    return run.execute();
}

std::string check_plan(const Spec& spec, const faults::FaultPlan& plan, std::uint64_t seed) {
    const RunOptions options;
    if (spec.swarm) {
        return check_plan(swarm_spec(draw_swarm(seed), seed), plan, seed);
    }
    Run run(spec, options);
    run.build_nodes();
    return run.plan_problem(plan);
}

}  // namespace eosim::scenarios
