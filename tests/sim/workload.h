#pragma once

#include <cstdint>

#include "sim/time.h"

namespace eosim::sim::testing {

struct WorkloadResult {
    std::uint64_t fingerprint = 0;
    std::uint64_t events = 0;
    std::uint64_t crashes = 0;
    std::uint64_t rpc_ok = 0;
    std::uint64_t rpc_failed = 0;
    std::uint64_t disk_bytes = 0;
};

// A randomized workload over the whole runtime: fibers, timers, channels, RPCs between four nodes,
// disk writes and fsyncs, and a nemesis that crashes, restarts, pauses, partitions (every shape),
// resets connections, flips bits, spikes latency and jumps clocks. Everything is drawn from `seed`.
WorkloadResult run_workload(std::uint64_t seed, Duration length = std::chrono::seconds(10));

}  // namespace eosim::sim::testing
