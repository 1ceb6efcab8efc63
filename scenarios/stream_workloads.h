#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "broker_core/cluster_config.h"
#include "client_core/history.h"
#include "scenarios/spec.h"
#include "scenarios/stream_apps.h"
#include "sim/node.h"
#include "streams_core/stream_thread.h"

namespace eosim::scenarios {

// One instance of a stream application (`stream_app`): a node running `stream_threads` stream threads with
// exactly_once_v2, thread t of instance i with transactional id `<app>-<i>-<t>`; its process names carry
// the node's incarnation. A crash takes its threads and tasks; their local state stays on the node's disk
// (as files do: what was not synced is lost, kept or torn), and a restart starts from it.
class StreamInstanceWorkload final : public sim::NodeState {
public:
    StreamInstanceWorkload(sim::Node& node, const streams_core::Topology& topology,
                           const broker_core::ClusterAddresses& addresses, client_core::HistoryRecorder& history,
                           const Spec& spec, const StreamApp& app, int index,
                           streams_core::StreamsConfig::Bugs bugs);

    // Every thread is idle: no transaction open, no task restoring, a stable member.
    [[nodiscard]] bool idle() const;
    // The position of the thread running the task that reads `partition` (none: no thread runs it).
    [[nodiscard]] std::optional<protocol::Offset> position(const protocol::TopicPartition& partition) const;
    [[nodiscard]] const std::vector<std::unique_ptr<streams_core::StreamThread>>& threads() const { return threads_; }

private:
    streams_core::StateDirectory state_directory_;  // on the node's disk: it outlives the process
    std::vector<std::unique_ptr<streams_core::StreamThread>> threads_;
};

}  // namespace eosim::scenarios
