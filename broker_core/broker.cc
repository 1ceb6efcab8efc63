#include "broker_core/broker.h"

#include <algorithm>

#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::TopicPartition;

namespace {

BrokerConfig with_bugs_applied(BrokerConfig config) {
    if (config.bugs.no_dedup) {
        config.log.producer_state.dedup = false;
    }
    if (config.bugs.dedup_window_1) {
        config.log.producer_state.batches_kept = 1;
    }
    if (config.bugs.kafka_6683) {
        config.log.snapshot_holds_appended_batch = true;
    }
    if (config.bugs.producer_state_not_recovered) {
        config.log.recover_producer_state = false;
    }
    if (config.bugs.compaction_drops_latest) {
        config.log.cleaner_drops_latest = true;
    }
    if (config.bugs.kafka_9144) {
        config.log.producer_state.marker_timestamps = false;
        config.log.producer_state.unknown_producer_any_sequence = true;
    }
    if (config.bugs.kafka_17754) {
        config.transactions.version = TransactionVersion::v1;
    }
    config.transactions.forgets_markers = config.bugs.coordinator_forgets_markers;
    config.transactions.kafka_18464 = config.bugs.kafka_18464;
    config.transactions.offsets_topic_partitions = config.offsets_topic_num_partitions;
    config.transactions.request_timeout = config.request_timeout;
    config.groups.kip447_no_generation_fence = config.bugs.kip447_no_generation_fence;
    config.groups.offset_fetch_ignores_pending = config.bugs.offset_fetch_ignores_pending;
    config.groups.kafka_17507 = config.bugs.kafka_17507;
    config.groups.pending_offsets_lost_on_failover = config.bugs.pending_offsets_lost_on_failover;
    return config;
}

}  // namespace

Broker::Broker(sim::Node& node, BrokerConfig config)
    : node_(node),
      config_(with_bugs_applied(std::move(config))),
      fetch_sessions_(config_.fetch_session_cache_slots, config_.fetch_session_eviction),
      transaction_coordinator_(node, config_.transactions, transaction_log_access()),
      group_coordinator_(node, config_.groups, group_log_access()),
      server_(node, broker_port, [this](const sim::Message& m) { return handle(m); }) {
    recovered_hw_ = read_hw_checkpoint();
    // The log directory failure channel: a write that finds the disk full takes the broker's only log
    // directory offline, and Kafka then halts the broker. The writer sees its error first (a produce
    // answers KAFKA_STORAGE_ERROR); the process exits at once after, keeping its page cache.
    node.disk().on_full([&node, incarnation = node.crash_count()] {
        const std::uint64_t capacity = node.disk().options().capacity_bytes;
        sim::current_scheduler().call_at(sim::current_scheduler().now(), nullptr, [&node, incarnation, capacity] {
            // Not when room came back meanwhile (the fault ended at this instant): the next write would fit.
            if (node.up() && node.crash_count() == incarnation && node.disk().options().capacity_bytes == capacity) {
                sim::trace("BrokerHalt", sim::Severity::warn).detail("broker", node.name()).detail("why", "disk full");
                (void)node.crash(sim::CrashOptions{.unsynced = sim::UnsyncedFate::keep});
            }
        });
    });
    controller_ = std::make_unique<sim::RpcClient>(node, config_.addresses.controller, controller_port);
    node.spawn("broker-heartbeat", [this] { heartbeat_loop(); });
    node.spawn("broker-isr", [this] { isr_loop(); });
    node.spawn("broker-hw-checkpoint", [this] { hw_checkpoint_loop(); });
    node.spawn("broker-producer-expiration", [this] { producer_expiration_loop(); });
    node.spawn("broker-retention", [this] { retention_loop(); });
}

Replica* Broker::find(const TopicPartition& partition) {
    const auto found = replicas_.find(partition);
    return found != replicas_.end() ? found->second.get() : nullptr;
}

std::string Broker::broker_name(protocol::BrokerId broker) const {
    return broker == protocol::no_broker ? std::string()
                                         : sim::Simulation::current().node(config_.addresses.brokers.at(broker)).name();
}

void Broker::announce(std::string_view moment, const TopicPartition& partition, protocol::BrokerId peer) const {
    sim::witness().announce(
        sim::Moment{.name = moment, .node = node_.name(), .peer = broker_name(peer), .partition = partition.name()});
}

LogStartMoved Broker::removal_announcer(const Replica& replica, std::string_view cause,
                                        protocol::Offset high_watermark, protocol::Offset limit) const {
    const bool from_leader = cause == "follow-leader" || cause == "fetch-out-of-range";
    return [this, partition = replica.partition.name(), peer = from_leader ? broker_name(replica.leader) : std::string(),
            cause, high_watermark, limit](protocol::Offset from, protocol::Offset to) {
        sim::witness().announce(sim::Moment{.name = sim::moments::log_start_moved,
                                            .node = node_.name(),
                                            .peer = peer,
                                            .partition = partition,
                                            .cause = cause,
                                            .numbers = {{"from", from.value()},
                                                        {"to", to.value()},
                                                        {"high_watermark", high_watermark.value()},
                                                        {"limit", limit.value()}}});
    };
}

void Broker::heartbeat_loop() {
    while (true) {
        const protocol::BrokerHeartbeatRequest request{config_.id, node_.incarnation(), metadata_.version};
        // The controller fences a broker a session timeout after it last heard from it, which is after this
        // request left: the lease counts from now, on true time as the controller's session does (a clock that
        // neither steps nor drifts: docs/kafka-differences.md), so no clock fault stretches it past the session.
        const sim::Time lease_until = sim::now() + config_.controller_lease;
        sim::Result<sim::Message> response = controller_->call(sim::make_message(request), config_.request_timeout);
        if (response) {
            const auto& heartbeat = response->as<protocol::BrokerHeartbeatResponse>();
            if (heartbeat.metadata) {
                apply_metadata(*heartbeat.metadata);  // first: a lease never covers metadata the answer replaced
            }
            if (heartbeat.error == protocol::ErrorCode::none) {
                controller_lease_until_ = std::max(controller_lease_until_, lease_until);
            }
        }
        sim::sleep(config_.heartbeat_interval);
    }
}

bool Broker::holds_controller_lease() const {
    return config_.bugs.coordinator_without_lease || sim::now() < controller_lease_until_;
}

bool Broker::holds_leader_lease() const {
    return sim::now() < controller_lease_until_;
}

void Broker::halt(const Replica& replica, const char* what) {
    sim::trace("BrokerHalt", sim::Severity::warn).detail("partition", replica.partition.name()).detail("why", what);
    // Kafka takes an unreadable log directory offline and, with no other directory, stops: a process
    // exit, so the page cache survives.
    (void)node_.crash(sim::CrashOptions{.unsynced = sim::UnsyncedFate::keep});
    throw sim::FiberKilled{};  // not reached: crash() from the node's own fiber unwinds it
}

}  // namespace eosim::broker_core
