#pragma once

#include <map>

#include "protocol/types.h"
#include "sim/network.h"

// Where brokers and the controller listen, shared by brokers and clients.

namespace eosim::protocol {

inline constexpr sim::Port broker_port{9092};
inline constexpr sim::Port controller_port{9093};

// Which simulated node is the controller and which is each broker.
struct ClusterAddresses {
    sim::NodeId controller{};
    std::map<BrokerId, sim::NodeId> brokers;
};

}  // namespace eosim::protocol
