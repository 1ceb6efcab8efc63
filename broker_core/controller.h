#pragma once

#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "broker_core/cluster_config.h"
#include "protocol/messages.h"
#include "sim/condition.h"
#include "sim/rpc.h"

namespace eosim::broker_core {

struct ControllerConfig {
    std::vector<protocol::BrokerId> brokers;
    std::vector<TopicConfig> topics;  // created on a first start (the bootstrap topics)
    std::int32_t max_partitions_per_topic = 1000;  // CreateTopics refuses more (INVALID_PARTITIONS)
    sim::Duration session_timeout{std::chrono::milliseconds(1500)};
    sim::Duration session_check_interval{std::chrono::milliseconds(100)};
    bool unclean_leader_election = false;
    std::int32_t producer_id_block_size = 1000;  // Kafka's block of producer ids per request (KIP-730)
};

// The controller (a KRaft controller with a quorum of one): it holds the cluster's metadata (brokers,
// topics and their configs, partition leaders, ISRs, epochs) in a metadata log on its disk, creates
// topics (CreateTopics, forwarded by brokers), fenced brokers whose session expired
// or who came back as a new incarnation, elects leaders from the ISR (or, when configured, from any
// live replica), and applies the ISR changes leaders ask for. Brokers learn metadata from heartbeat
// responses, which only ever carry durable metadata.
class Controller final : public sim::NodeState {
public:
    Controller(sim::Node& node, ControllerConfig config);

    [[nodiscard]] const std::map<protocol::TopicPartition, protocol::PartitionState>& partitions() const {
        return partitions_;
    }
    [[nodiscard]] const std::map<std::string, protocol::TopicDescription>& topics() const { return topics_; }
    [[nodiscard]] bool alive(protocol::BrokerId broker) const;
    // The incarnation of `broker` this controller registered last (0: none yet).
    [[nodiscard]] std::uint32_t registered_incarnation(protocol::BrokerId broker) const;
    // When this controller last heard from `broker` (its own start, if never).
    [[nodiscard]] sim::Time last_heartbeat(protocol::BrokerId broker) const;
    [[nodiscard]] std::int64_t version() const { return version_; }

private:
    struct BrokerRegistration {
        std::uint32_t incarnation = 0;
        bool fenced = true;
        sim::Time last_heartbeat{};
    };

    void load_or_bootstrap();
    // Replays the metadata log (a torn or garbled tail is cut off); how many records it holds.
    std::size_t replay_metadata_log();
    void apply_line(const std::string& line);
    void apply_topic_record(std::istringstream& in);
    // A topic whose partition records did not all become durable was never published: it is dropped.
    void drop_incomplete_topics();
    // Creates the configured topics the metadata log does not hold (all of them on a first start).
    void bootstrap_topics();
    sim::Message handle(const sim::Message& request);
    protocol::BrokerHeartbeatResponse heartbeat(const protocol::BrokerHeartbeatRequest& request);
    protocol::AlterPartitionResponse alter_partition(const protocol::AlterPartitionRequest& request);
    protocol::AllocateProducerIdsResponse allocate_producer_ids(const protocol::AllocateProducerIdsRequest& request);
    protocol::CreateTopicsResponse create_topics(const protocol::CreateTopicsRequest& request);
    // Why `topic` cannot be created now (ErrorCode::none: it can).
    [[nodiscard]] protocol::ErrorCode creation_error(const protocol::TopicDescription& topic) const;
    // Records the topic and its partitions, replicas assigned round-robin over `brokers` (partition p's
    // replicas are brokers p, p+1, ... modulo their number), each led by its first replica.
    void create_topic(protocol::TopicDescription topic, const std::vector<protocol::BrokerId>& brokers);
    void check_sessions();

    void fence(protocol::BrokerId broker, const char* reason);
    void elect_leaderless();
    bool elect(protocol::PartitionState& state);
    void record_partition(const protocol::PartitionState& state);
    void record_broker(protocol::BrokerId broker, std::uint32_t incarnation);
    void record_topic(const protocol::TopicDescription& topic);
    void append(const std::string& line);
    // Waits (in a fiber) until everything recorded so far is durable.
    void wait_durable();
    [[nodiscard]] protocol::MetadataSnapshot snapshot() const;

    sim::Node& node_;
    ControllerConfig config_;
    std::map<protocol::BrokerId, BrokerRegistration> brokers_;
    std::map<std::string, protocol::TopicDescription> topics_;
    std::map<protocol::TopicPartition, protocol::PartitionState> partitions_;
    std::int64_t next_producer_id_ = 0;  // producer ids below it were handed out (in blocks)
    std::int64_t version_ = 0;          // bumped by every change
    std::int64_t durable_version_ = 0;  // every change up to here is fsynced
    bool syncing_ = false;
    sim::Condition durable_changed_;
    sim::RpcServer server_;
};

}  // namespace eosim::broker_core
