#include "scenarios/stream_workloads.h"

#include <algorithm>

#include <fmt/format.h>

namespace eosim::scenarios {

StreamInstanceWorkload::StreamInstanceWorkload(sim::Node& node, const streams_core::Topology& topology,
                                               const broker_core::ClusterAddresses& addresses,
                                               client_core::HistoryRecorder& history, const Spec& spec,
                                               const StreamApp& app, int index,
                                               streams_core::StreamsConfig::Bugs bugs)
    : state_directory_(node.disk(), std::string(app.name)) {
    const WorkloadSpec& workload = spec.workload;
    for (std::int32_t t = 1; t <= workload.stream_threads; ++t) {
        streams_core::StreamsConfig config;
        config.application_id = std::string(app.name);
        config.client_id = fmt::format("{}-{}-{}.{}", app.name, index, t, node.incarnation());
        config.process = fmt::format("{}-{}.{}", app.name, index, node.incarnation());
        config.standby_replicas = workload.stream_standby_replicas;
        config.cooperative = workload.stream_cooperative;
        config.checkpoint_delta = workload.stream_checkpoint_delta;
        if (workload.stream_exactly_once) {
            config.transactional_id = fmt::format("{}-{}-{}", app.name, index, t);
        } else {
            config.guarantee = streams_core::StreamsConfig::Guarantee::at_least_once;
        }
        config.commit_interval = std::chrono::milliseconds(workload.stream_commit_interval_ms);
        config.session_timeout = std::chrono::milliseconds(workload.group_session_timeout_ms);
        config.rebalance_timeout = std::chrono::milliseconds(workload.group_rebalance_timeout_ms);
        config.heartbeat_interval = std::chrono::milliseconds(workload.group_heartbeat_ms);
        config.transaction_timeout = std::chrono::milliseconds(workload.txn_timeout_ms);
        config.bugs = bugs;
        threads_.push_back(std::make_unique<streams_core::StreamThread>(node, topology, std::move(config),
                                                                        protocol::ClusterAddresses(addresses), history,
                                                                        state_directory_));
        streams_core::StreamThread* thread = threads_.back().get();
        node.spawn(fmt::format("stream-thread-{}", t), [thread] { thread->run(); });
    }
}

bool StreamInstanceWorkload::idle() const {
    return std::all_of(threads_.begin(), threads_.end(), [](const auto& thread) { return thread->idle(); });
}

std::optional<protocol::Offset> StreamInstanceWorkload::position(const protocol::TopicPartition& partition) const {
    for (const auto& thread : threads_) {
        if (const std::optional<protocol::Offset> at = thread->position(partition)) {
            return at;
        }
    }
    return std::nullopt;
}

}  // namespace eosim::scenarios
