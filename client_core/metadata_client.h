#pragma once

#include <map>
#include <memory>
#include <optional>

#include "protocol/addresses.h"
#include "protocol/messages.h"
#include "sim/rpc.h"

namespace eosim::client_core {

// A client's view of the cluster: which broker leads which partition, refreshed from any broker, and
// one RPC connection per broker.
class MetadataClient {
public:
    MetadataClient(sim::Node& node, protocol::ClusterAddresses addresses, sim::Duration request_timeout);

    // Asks brokers (in turn, from a random one) for metadata; false if none answered.
    bool refresh();
    // Sends `request` to brokers in turn, from a random one, until one answers; the last failure if none.
    sim::Result<sim::Message> call_any(const sim::Message& request);
    [[nodiscard]] std::optional<protocol::BrokerId> leader(const protocol::TopicPartition& partition) const;
    // The leader's epoch as of the last metadata (-1: unknown).
    [[nodiscard]] protocol::LeaderEpoch leader_epoch(const protocol::TopicPartition& partition) const;
    [[nodiscard]] std::int32_t partition_count(const std::string& topic) const;
    // KIP-320: the client has seen `epoch` for the partition elsewhere (a committed offset's): metadata whose
    // leader epoch for it is older is stale (a deposed leader's view), and leader() answers nothing until a
    // refresh brings newer metadata.
    void update_last_seen_epoch(const protocol::TopicPartition& partition, protocol::LeaderEpoch epoch);
    [[nodiscard]] sim::RpcClient& client(protocol::BrokerId broker);
    // A connection of its own (for long polls that must not hold up other requests).
    [[nodiscard]] std::unique_ptr<sim::RpcClient> dedicated_client(protocol::BrokerId broker);
    [[nodiscard]] sim::Duration request_timeout() const { return request_timeout_; }

private:
    sim::Node& node_;
    protocol::ClusterAddresses addresses_;
    sim::Duration request_timeout_;
    protocol::MetadataSnapshot metadata_;
    std::map<protocol::BrokerId, std::unique_ptr<sim::RpcClient>> clients_;
    std::map<protocol::TopicPartition, protocol::LeaderEpoch> last_seen_epochs_;
};

}  // namespace eosim::client_core
