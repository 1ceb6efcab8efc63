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

const protocol::TopicDescription* Broker::topic_description(std::string_view name) const {
    const auto found = std::find_if(metadata_.topics.begin(), metadata_.topics.end(),
                                    [name](const protocol::TopicDescription& topic) { return topic.name == name; });
    return found != metadata_.topics.end() ? &*found : nullptr;
}

}  // namespace eosim::broker_core
