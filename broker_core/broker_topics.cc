#include "broker_core/broker.h"

#include <algorithm>

#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::ErrorCode;

// Topics and coordinators: CreateTopics (forwarded to the controller), the topics the metadata
// describes.

protocol::CreateTopicsResponse Broker::create_topics(const protocol::CreateTopicsRequest& request) {
    sim::Result<sim::Message> result = controller_->call(sim::make_message(request), config_.request_timeout);
    if (result) {
        return result->as<protocol::CreateTopicsResponse>();
    }
    // The controller may or may not have created them: the client finds out by asking again.
    protocol::CreateTopicsResponse response;
    for (const protocol::TopicDescription& topic : request.topics) {
        response.topics.push_back(protocol::CreatableTopicResult{topic.name, ErrorCode::request_timed_out});
    }
    return response;
}

protocol::FindCoordinatorResponse Broker::find_coordinator(const protocol::FindCoordinatorRequest& request) {
    if (sim::buggify("slow-find-coordinator")) {
        // Read-only: the answer is computed after the wait, and may name a coordinator about to move.
        sim::sleep(std::chrono::milliseconds(node_.random().below(300)));
    }
    protocol::FindCoordinatorResponse response{.error = ErrorCode::coordinator_not_available};
    if (topic_description(protocol::coordinator_topic(request.key_type)) == nullptr) {
        request_internal_topic(request.key_type);
        return response;
    }
    response.coordinator = coordinator_of(request.key_type, request.key);
    if (response.coordinator != protocol::no_broker) {
        response.error = ErrorCode::none;
    }
    return response;
}

protocol::BrokerId Broker::coordinator_of(protocol::CoordinatorType type, const std::string& key) const {
    const std::string_view name = protocol::coordinator_topic(type);
    const protocol::TopicDescription* topic = topic_description(name);
    if (topic == nullptr) {
        return protocol::no_broker;
    }
    const protocol::TopicPartition partition{std::string(name), protocol::coordinator_partition(key, topic->partitions)};
    const auto state =
        std::find_if(metadata_.partitions.begin(), metadata_.partitions.end(),
                     [&partition](const protocol::PartitionState& s) { return s.partition == partition; });
    const std::vector<protocol::BrokerId>& live = metadata_.live_brokers;
    if (state == metadata_.partitions.end() || state->leader == protocol::no_broker ||
        std::find(live.begin(), live.end(), state->leader) == live.end()) {
        return protocol::no_broker;
    }
    return state->leader;
}

void Broker::request_internal_topic(protocol::CoordinatorType type) {
    protocol::TopicDescription topic = internal_topic(type);
    if (!internal_topics_requested_.insert(topic.name).second) {
        return;  // asked for already; the answer is on its way
    }
    sim::trace("InternalTopicRequested").detail("topic", topic.name);
    node_.spawn("create-internal-topic", [this, topic = std::move(topic)] {
        const protocol::CreateTopicsResponse response = create_topics(protocol::CreateTopicsRequest{{topic}});
        internal_topics_requested_.erase(topic.name);
        sim::trace("InternalTopicAnswered")
            .detail("topic", topic.name)
            .detail("error", protocol::error_name(response.topics.front().error));
    });
}

protocol::TopicDescription Broker::internal_topic(protocol::CoordinatorType type) const {
    const bool group = type == protocol::CoordinatorType::group;
    // Kafka's GroupCoordinator.offsetsTopicConfigs and TransactionStateManager's topic configs: compacted.
    return protocol::TopicDescription{
        .name = std::string(protocol::coordinator_topic(type)),
        .partitions = group ? config_.offsets_topic_num_partitions : config_.transaction_state_log_num_partitions,
        .replication_factor =
            group ? config_.offsets_topic_replication_factor : config_.transaction_state_log_replication_factor,
        .internal = true,
        .configs = protocol::TopicConfigOverrides{.cleanup_policy = protocol::CleanupPolicy::compact}};
}

const protocol::TopicDescription* Broker::topic_description(std::string_view name) const {
    const auto found = std::find_if(metadata_.topics.begin(), metadata_.topics.end(),
                                    [name](const protocol::TopicDescription& topic) { return topic.name == name; });
    return found != metadata_.topics.end() ? &*found : nullptr;
}

}  // namespace eosim::broker_core
