#pragma once

#include <string>

// What the nemesis asks of the cluster it hurts. The nemesis works on sim/ alone (nodes, disks, links);
// whether the cluster is healthy depends on brokers and a controller, which faults/ must not know: the
// runner (scenarios/cluster_health.h) answers through this interface.

namespace eosim::faults {

class ClusterProbe {
public:
    ClusterProbe() = default;
    ClusterProbe(const ClusterProbe&) = delete;
    ClusterProbe& operator=(const ClusterProbe&) = delete;
    virtual ~ClusterProbe() = default;

    // The cluster can take a fault that may lose what one replica acknowledged: the controller and every
    // broker are up and in touch, every partition has a leader and a full ISR that the leader agrees with
    // (no ISR change under way), and every follower caught up lately (so no ISR can shrink for a while).
    // Network links are the nemesis's own business, not the probe's.
    [[nodiscard]] virtual bool healthy() = 0;

    // The controller has registered the current incarnation of the broker named `broker` (so it fenced the
    // old incarnation out of every ISR).
    [[nodiscard]] virtual bool incarnation_registered(const std::string& broker) = 0;
};

}  // namespace eosim::faults
