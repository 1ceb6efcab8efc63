#include "scenarios/workloads.h"

#include <algorithm>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "scenarios/stream_apps.h"
#include "sim/simulation.h"

namespace eosim::scenarios {

using client_core::HistoryRecorder;
using protocol::TopicPartition;

namespace {

// What tells a restarted client's process and values from its earlier lives: "" the first time, ".2" the
// second (a crashed client starts over as a new process, as a Jepsen history has it).
std::string incarnation_suffix(const sim::Node& node) {
    return node.incarnation() <= 1 ? std::string() : fmt::format(".{}", node.incarnation());
}

template <typename Config>
Config with_incarnation(Config config, const sim::Node& node) {
    config.client_id += incarnation_suffix(node);
    return config;
}

// Each send's topic, drawn uniformly (no draw with one topic, so a single-topic spec draws as it always did).
const protocol::TopicDescription& pick_topic(sim::Node& node, const Spec& spec) {
    EOSIM_ASSERT_MSG(!spec.topics.empty(), "a parsed spec has its topics");
    if (!spec.workload.stream_app.empty()) {
        // The producers feed the stream application: its first input topic.
        const std::string& input = find_stream_app(spec.workload.stream_app)->inputs.front();
        return *std::find_if(spec.topics.begin(), spec.topics.end(),
                             [&input](const protocol::TopicDescription& t) { return t.name == input; });
    }
    if (spec.workload.ctp_instances > 0) {
        // The producers feed the consume-transform-produce application: its input topic only.
        return *std::find_if(spec.topics.begin(), spec.topics.end(),
                             [&spec](const protocol::TopicDescription& t) { return t.name == spec.workload.ctp_input; });
    }
    if (spec.topics.size() == 1) {
        return spec.topics.front();
    }
    return spec.topics[static_cast<std::size_t>(node.random().below(spec.topics.size()))];
}

const protocol::TopicDescription& topic_named(const Spec& spec, const std::string& name) {
    const auto found = std::find_if(spec.topics.begin(), spec.topics.end(),
                                    [&name](const protocol::TopicDescription& t) { return t.name == name; });
    EOSIM_ASSERT_MSG(found != spec.topics.end(), "a generator wrote to a topic the spec lacks: " + name);
    return *found;
}

// Every partition of every topic, topic by topic in the spec's order.
std::vector<TopicPartition> all_partitions(const Spec& spec) {
    std::vector<TopicPartition> partitions;
    for (const protocol::TopicDescription& topic : spec.topics) {
        for (std::int32_t p = 0; p < topic.partitions; ++p) {
            partitions.push_back(TopicPartition{topic.name, p});
        }
    }
    return partitions;
}

}  // namespace

// ---- Producer ------------------------------------------------------------------------------------

ProducerWorkload::ProducerWorkload(sim::Node& node, client_core::ProducerConfig config,
                                   const broker_core::ClusterAddresses& addresses, HistoryRecorder& history,
                                   const Spec& spec, int index, sim::Time stop_at, const std::vector<InputRecord>* input)
    : node_(node),
      spec_(spec),
      index_(index),
      tag_(fmt::format("p{}{}", index, incarnation_suffix(node))),
      producer_(node, with_incarnation(std::move(config), node), addresses, history) {
    if (input != nullptr) {
        input_left_ = input->size();
        node.spawn("workload", [this, input] { send_input(*input); });
        return;
    }
    node.spawn("workload", [this, &node, &spec, index, stop_at] { send_loop(node, spec, index, stop_at); });
}

void ProducerWorkload::send_input(const std::vector<InputRecord>& input) {
    for (const InputRecord& record : input) {
        (void)producer_.send(record.topic, record.key, record.value, record.timestamp_ms, record.partition).wait();
        --input_left_;
    }
}

void ProducerWorkload::probe() {
    probes_left_ = spec_.workload.probe_sends;
    node_.spawn("probe", [this] { probe_loop(); });
}

void ProducerWorkload::probe_loop() {
    const WorkloadSpec& workload = spec_.workload;
    for (std::int32_t n = 0; n < workload.probe_sends; ++n) {
        std::optional<std::string> key;
        if (workload.keyed) {
            key = fmt::format("k{}", static_cast<std::uint64_t>(n) % static_cast<std::uint64_t>(workload.keys));
        }
        const protocol::TopicDescription& topic = pick_topic(node_, spec_);
        // Each attempt is a new value: an attempt whose outcome is unknown may have been written.
        for (std::int32_t attempt = 0;; ++attempt) {
            std::string value = fmt::format("{}-probe-{}-{}", tag_, n, attempt);
            value.resize(std::max<std::size_t>(value.size(), static_cast<std::size_t>(workload.value_bytes)), '.');
            const sim::Result<client_core::SendOutcome> outcome = producer_.send(topic.name, key, value).wait();
            if (outcome && outcome->status == client_core::SendOutcome::Status::ok) {
                break;
            }
            sim::sleep(std::chrono::milliseconds(100));
        }
        --probes_left_;
    }
}

void ProducerWorkload::send_loop(sim::Node& node, const Spec& spec, int index, sim::Time stop_at) {
    const WorkloadSpec& workload = spec.workload;
    const auto draw_pause_at = [&node, &workload] {
        return workload.pause_every_max_ms == 0
                   ? sim::Time::max()
                   : sim::now() + std::chrono::milliseconds(
                                      node.random().between(workload.pause_every_min_ms, workload.pause_every_max_ms));
    };
    sim::Time pause_at = draw_pause_at();
    for (std::uint64_t n = 0; sim::now() < stop_at; ++n) {
        sim::sleep(std::chrono::milliseconds(
            node.random().between(workload.send_interval_min_ms, workload.send_interval_max_ms)));
        if (sim::now() >= pause_at) {
            // An idle producer: brokers may forget it meanwhile (producer id expiration).
            sim::sleep(std::chrono::milliseconds(node.random().between(workload.pause_min_ms, workload.pause_max_ms)));
            pause_at = draw_pause_at();
        }
        if (producer_.pending() > 256) {
            continue;  // back-pressure: the cluster is not keeping up
        }
        std::string value = fmt::format("{}-{}", tag_, n);
        value.resize(std::max<std::size_t>(value.size(), static_cast<std::size_t>(workload.value_bytes)), '.');
        std::optional<std::string> key;
        if (workload.keyed) {
            key = fmt::format("k{}", n % static_cast<std::uint64_t>(workload.keys));
        }
        std::optional<std::int64_t> timestamp_ms;
        std::string input_topic;
        bool barrier = false;
        if (!workload.stream_app.empty()) {
            StreamInput input = find_stream_app(workload.stream_app)->generate(node.random(), index, n);
            key = std::move(input.key);
            value = std::move(input.value);
            timestamp_ms = input.timestamp_ms;
            input_topic = std::move(input.topic);
            barrier = input.barrier;
        }
        const auto drain = [this] {
            while (producer_.pending() > 0) {
                sim::sleep(std::chrono::milliseconds(5));
            }
        };
        const protocol::TopicDescription& topic = input_topic.empty() ? pick_topic(node, spec) : topic_named(spec, input_topic);
        if (workload.tombstone_percent > 0 && compacted(spec, topic) &&
            node.random().below(100) < static_cast<std::uint64_t>(workload.tombstone_percent)) {
            (void)producer_.send(topic.name, std::move(key), std::nullopt);  // delete the key
            continue;
        }
        if (barrier) {
            drain();
        }
        (void)producer_.send(topic.name, std::move(key), std::move(value), timestamp_ms);
        if (barrier) {
            drain();
        }
    }
}

// ---- Admin ---------------------------------------------------------------------------------------

AdminWorkload::AdminWorkload(sim::Node& node, const broker_core::ClusterAddresses& addresses, HistoryRecorder& history,
                             const Spec& spec, sim::Time stop_at)
    : metadata_(node, addresses, std::chrono::milliseconds(1000)), history_(history) {
    node.spawn("admin", [this, &node, &spec, stop_at] {
        const WorkloadSpec& workload = spec.workload;
        const std::vector<TopicPartition> partitions = all_partitions(spec);
        while (true) {
            sim::sleep(std::chrono::milliseconds(
                node.random().between(workload.delete_records_every_min_ms, workload.delete_records_every_max_ms)));
            if (sim::now() >= stop_at) {
                return;
            }
            // Any partition of any topic: on a compacted topic the leader refuses (POLICY_VIOLATION), as Kafka's.
            delete_some(node, partitions[static_cast<std::size_t>(node.random().below(partitions.size()))]);
        }
    });
}

void AdminWorkload::delete_some(sim::Node& node, const TopicPartition& partition) {
    (void)metadata_.refresh();
    const std::optional<protocol::BrokerId> leader = metadata_.leader(partition);
    if (!leader) {
        return;
    }
    sim::Result<sim::Message> listed = metadata_.client(*leader).call(
        sim::make_message(protocol::ListOffsetsRequest{partition, protocol::latest_timestamp}),
        metadata_.request_timeout());
    if (!listed || listed->as<protocol::ListOffsetsResponse>().error != protocol::ErrorCode::none) {
        return;
    }
    const std::int64_t high_watermark = listed->as<protocol::ListOffsetsResponse>().offset.value();
    // Now and then past the high watermark, which the leader must refuse (OFFSET_OUT_OF_RANGE): only
    // committed records may be deleted.
    const std::int64_t back = static_cast<std::int64_t>(node.random().below(64));
    const protocol::Offset target(node.random().below(8) == 0 ? high_watermark + 1 + back % 16
                                                              : std::max<std::int64_t>(0, high_watermark - back));
    client_core::ClientOperation invoke;
    invoke.time = sim::now();
    invoke.process = "admin";
    invoke.f = "delete-records";
    invoke.partition = partition.name();
    invoke.offset = target.value();
    history_.record(invoke);
    sim::Result<sim::Message> result = metadata_.client(*leader).call(
        sim::make_message(protocol::DeleteRecordsRequest{partition, target, std::chrono::milliseconds(1000)}),
        std::chrono::milliseconds(1200));
    client_core::ClientOperation done = invoke;
    done.time = sim::now();
    if (!result) {
        done.type = client_core::ClientOperation::Type::info;
        done.error = "NETWORK_EXCEPTION";
    } else {
        const auto& response = result->as<protocol::DeleteRecordsResponse>();
        if (response.error == protocol::ErrorCode::none) {
            done.type = client_core::ClientOperation::Type::ok;
        } else {
            done.type = response.error == protocol::ErrorCode::request_timed_out
                            ? client_core::ClientOperation::Type::info
                            : client_core::ClientOperation::Type::fail;
            done.error = std::string(protocol::error_name(response.error));
        }
    }
    history_.record(done);
}

// ---- Consumer ------------------------------------------------------------------------------------

ConsumerWorkload::ConsumerWorkload(sim::Node& node, client_core::ConsumerConfig config,
                                   const broker_core::ClusterAddresses& addresses, HistoryRecorder& history,
                                   const Spec& spec)
    : consumer_(node, with_incarnation(std::move(config), node), addresses, history) {
    for (const TopicPartition& partition : all_partitions(spec)) {
        partitions_.push_back(partition);
        consumer_.assign(partition, protocol::Offset(0));
    }
    node.spawn("consume", [this] {
        while (true) {
            (void)consumer_.poll();
        }
    });
}

// ---- Transactional writer ------------------------------------------------------------------------

TxnWriterWorkload::TxnWriterWorkload(sim::Node& node, const broker_core::ClusterAddresses& addresses,
                                     HistoryRecorder& history, const Spec& spec, int index, bool standby,
                                     sim::Time stop_at)
    : node_(node), addresses_(addresses), history_(history), spec_(spec), index_(index), standby_(standby) {
    node.spawn("txn-workload", [this, stop_at] { run(stop_at); });
}

void TxnWriterWorkload::probe() {
    probes_left_ = spec_.workload.probe_sends;
    node_.spawn("txn-probe", [this] { probe_loop(); });
}

client_core::TransactionalProducer* TxnWriterWorkload::ready_producer(sim::Time until) {
    if (current_ready_ && !producers_.back()->fatal()) {
        return producers_.back().get();
    }
    const WorkloadSpec& workload = spec_.workload;
    while (sim::now() < until) {
        if (fenced_before_ || !producers_.empty()) {
            // The fenced instance lingers a while (a zombie that has not noticed yet) before it starts over.
            sim::sleep(std::chrono::milliseconds(200 + node_.random().below(1800)));
        }
        client_core::TransactionalProducerConfig config;
        config.client_id = node_.name() + incarnation_suffix(node_);
        config.transactional_id = fmt::format("txn-{}", index_);
        config.transaction_timeout = std::chrono::milliseconds(workload.txn_timeout_ms);
        config.delivery_timeout = std::chrono::milliseconds(workload.delivery_timeout_ms);
        config.first_transaction = transactions_ + 1;
        producers_.push_back(std::make_unique<client_core::TransactionalProducer>(
            node_, std::move(config), protocol::ClusterAddresses(addresses_), history_));
        busy_ = true;
        const client_core::TxnResult result = producers_.back()->init_transactions();
        busy_ = false;
        if (result == client_core::TxnResult::ok) {
            current_ready_ = true;
            return producers_.back().get();
        }
        fenced_before_ = result == client_core::TxnResult::fatal;
    }
    return nullptr;
}

TxnWriterWorkload::Ended TxnWriterWorkload::finish(client_core::TransactionalProducer& producer, bool abort) {
    client_core::TxnResult result = client_core::TxnResult::timed_out;
    for (int attempt = 0; attempt < 3 && result == client_core::TxnResult::timed_out; ++attempt) {
        result = abort ? producer.abort_transaction() : producer.commit_transaction();
    }
    if (!abort && result == client_core::TxnResult::abortable) {
        return finish(producer, true) == Ended::aborted ? Ended::aborted : Ended::unknown;
    }
    switch (result) {
        case client_core::TxnResult::ok: return abort ? Ended::aborted : Ended::committed;
        case client_core::TxnResult::fatal: return Ended::fenced;
        default: return Ended::unknown;
    }
}

const std::string& TxnWriterWorkload::txn_topic() {
    const std::vector<std::string>& topics = spec_.workload.txn_topics;
    if (topics.empty()) {
        return pick_topic(node_, spec_).name;
    }
    return topics.size() == 1 ? topics.front() : topics[static_cast<std::size_t>(node_.random().below(topics.size()))];
}

TxnWriterWorkload::Ended TxnWriterWorkload::transaction(client_core::TransactionalProducer& producer,
                                                        std::int32_t sends, bool abort, bool stall) {
    const WorkloadSpec& workload = spec_.workload;
    busy_ = true;
    producer.begin_transaction();
    ++transactions_;
    for (std::int32_t n = 0; n < sends; ++n) {
        const std::string key = fmt::format("k{}", node_.random().below(static_cast<std::uint64_t>(workload.keys)));
        std::string value = fmt::format("{}{}-{}", node_.name(), incarnation_suffix(node_), values_++);
        value.resize(std::max<std::size_t>(value.size(), static_cast<std::size_t>(workload.value_bytes)), '.');
        (void)producer.send(txn_topic(), key, value);
        const bool stalls = stall && n == 0;
        sim::sleep(std::chrono::milliseconds(
            stalls ? node_.random().between(workload.txn_stall_min_ms, workload.txn_stall_max_ms)
                   : node_.random().between(workload.send_interval_min_ms, workload.send_interval_max_ms)));
    }
    const Ended ended = finish(producer, abort);
    busy_ = false;
    if (ended == Ended::fenced || ended == Ended::unknown) {
        current_ready_ = false;  // a new producer takes over the transactional id (and ends what was left)
        fenced_before_ = true;
    }
    return ended;
}

void TxnWriterWorkload::run(sim::Time stop_at) {
    const WorkloadSpec& workload = spec_.workload;
    if (standby_) {
        sim::sleep(std::chrono::nanoseconds(node_.random().below(static_cast<std::uint64_t>(
            std::max<std::int64_t>(1, sim::to_ns(stop_at) - sim::to_ns(sim::now()))))));
    }
    while (sim::now() < stop_at) {
        client_core::TransactionalProducer* producer = ready_producer(stop_at);
        if (producer == nullptr) {
            break;
        }
        const auto sends = static_cast<std::int32_t>(node_.random().between(workload.txn_sends_min, workload.txn_sends_max));
        const bool abort = node_.random().below(100) < static_cast<std::uint64_t>(workload.txn_abort_percent);
        const bool stall = node_.random().below(100) < static_cast<std::uint64_t>(workload.txn_stall_percent);
        (void)transaction(*producer, sends, abort, stall);
        sim::sleep(std::chrono::milliseconds(
            node_.random().between(workload.send_interval_min_ms, workload.send_interval_max_ms)));
    }
}

void TxnWriterWorkload::probe_loop() {
    while (probes_left_ > 0) {
        client_core::TransactionalProducer* producer = ready_producer(sim::Time::max());
        if (transaction(*producer, 1, false, false) == Ended::committed) {
            --probes_left_;
        }
    }
}

}  // namespace eosim::scenarios
