#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "broker_core/cluster_config.h"
#include "client_core/consumer.h"
#include "client_core/history.h"
#include "client_core/metadata_client.h"
#include "client_core/producer.h"
#include "scenarios/spec.h"
#include "sim/node.h"

// The client workloads of a run: each is the state of one client node (a sim::NodeState), built by the
// runner from the scenario's [workload] table, recording what it does in the run's history.

namespace eosim::scenarios {

// Sends values ("p<index>-<n>", padded to value_bytes; keyed, with tombstones, as the spec says) at random
// intervals until `stop_at`, with idle pauses, under back-pressure. After healing, probes: sends
// `probe_sends` values more ("p<index>-probe-<n>-<attempt>"), each again until one attempt is acknowledged.
class ProducerWorkload final : public sim::NodeState {
public:
    ProducerWorkload(sim::Node& node, client_core::ProducerConfig config,
                     const broker_core::ClusterAddresses& addresses, client_core::HistoryRecorder& history,
                     const Spec& spec, int index, sim::Time stop_at);
    [[nodiscard]] std::size_t pending() const { return producer_.pending(); }
    // Starts the probe sends (the cluster has healed).
    void probe();
    // Probe sends not yet acknowledged.
    [[nodiscard]] std::int32_t probes_left() const { return probes_left_; }

private:
    void send_loop(sim::Node& node, const Spec& spec, int index, sim::Time stop_at);
    void probe_loop();

    sim::Node& node_;
    const Spec& spec_;
    int index_;
    client_core::Producer producer_;
    std::int32_t probes_left_ = 0;
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

}  // namespace eosim::scenarios
