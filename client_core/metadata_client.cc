#include "client_core/metadata_client.h"

#include "sim/simulation.h"

namespace eosim::client_core {

MetadataClient::MetadataClient(sim::Node& node, protocol::ClusterAddresses addresses, sim::Duration request_timeout)
    : node_(node), addresses_(std::move(addresses)), request_timeout_(request_timeout) {}

sim::RpcClient& MetadataClient::client(protocol::BrokerId broker) {
    auto& slot = clients_[broker];
    if (!slot) {
        slot = std::make_unique<sim::RpcClient>(node_, addresses_.brokers.at(broker), protocol::broker_port);
    }
    return *slot;
}

std::unique_ptr<sim::RpcClient> MetadataClient::dedicated_client(protocol::BrokerId broker) {
    return std::make_unique<sim::RpcClient>(node_, addresses_.brokers.at(broker), protocol::broker_port);
}

sim::Result<sim::Message> MetadataClient::call_any(const sim::Message& request) {
    std::vector<protocol::BrokerId> brokers;
    for (const auto& [id, node] : addresses_.brokers) {
        brokers.push_back(id);
    }
    const std::size_t start = node_.random().below(brokers.size());
    sim::Result<sim::Message> response = sim::errc::timeout;
    for (std::size_t i = 0; i < brokers.size(); ++i) {
        response = client(brokers[(start + i) % brokers.size()]).call(request, request_timeout_);
        if (response) {
            break;
        }
    }
    return response;
}

bool MetadataClient::refresh() {
    std::vector<protocol::BrokerId> brokers;
    for (const auto& [id, node] : addresses_.brokers) {
        brokers.push_back(id);
    }
    const std::size_t start = node_.random().below(brokers.size());
    for (std::size_t i = 0; i < brokers.size(); ++i) {
        const protocol::BrokerId broker = brokers[(start + i) % brokers.size()];
        sim::Result<sim::Message> response = client(broker).call(sim::make_message(protocol::MetadataRequest{}), request_timeout_);
        if (!response) {
            continue;
        }
        const auto& metadata = response->as<protocol::MetadataResponse>().metadata;
        if (metadata.version > metadata_.version) {
            metadata_ = metadata;
        }
        if (metadata_.version > 0) {
            return true;
        }
    }
    return false;
}

void MetadataClient::update_last_seen_epoch(const protocol::TopicPartition& partition, protocol::LeaderEpoch epoch) {
    protocol::LeaderEpoch& seen = last_seen_epochs_[partition];
    seen = std::max(seen, epoch);
}

std::optional<protocol::BrokerId> MetadataClient::leader(const protocol::TopicPartition& partition) const {
    const auto seen = last_seen_epochs_.find(partition);
    for (const protocol::PartitionState& state : metadata_.partitions) {
        if (state.partition == partition) {
            if (state.leader == protocol::no_broker || (seen != last_seen_epochs_.end() && state.leader_epoch < seen->second)) {
                return std::nullopt;
            }
            return state.leader;
        }
    }
    return std::nullopt;
}

protocol::LeaderEpoch MetadataClient::leader_epoch(const protocol::TopicPartition& partition) const {
    for (const protocol::PartitionState& state : metadata_.partitions) {
        if (state.partition == partition) {
            return state.leader_epoch;
        }
    }
    return protocol::no_leader_epoch;
}

std::int32_t MetadataClient::partition_count(const std::string& topic) const {
    std::int32_t count = 0;
    for (const protocol::PartitionState& state : metadata_.partitions) {
        if (state.partition.topic == topic) {
            ++count;
        }
    }
    return count;
}

}  // namespace eosim::client_core
