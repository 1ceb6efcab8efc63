#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/buggify.h"
#include "sim/invariants.h"
#include "sim/channel.h"
#include "sim/condition.h"
#include "sim/disk.h"
#include "sim/future.h"
#include "sim/network.h"
#include "sim/node.h"
#include "sim/random.h"
#include "sim/scheduler.h"
#include "sim/time.h"
#include "sim/trace.h"

namespace eosim::sim {

struct SimulationOptions {
    std::uint64_t seed = 1;
    bool buggify = false;
    NetworkOptions network;
    DiskOptions disk;
    std::size_t stack_bytes = default_stack_bytes();
    std::ostream* trace_sink = nullptr;  // every trace event as a JSON line, when set (not owned)

    static constexpr std::size_t default_stack_bytes() {
#if defined(EOSIM_ASAN)
        return std::size_t{1} << 20U;  // sanitizers need deeper stacks
#else
        return std::size_t{256} << 10U;
#endif
    }
};

// One whole simulated world: the scheduler, the trace, the network, the nodes, all driven by one seed.
// Only one simulation runs at a time on a thread (the free functions below reach it).
class Simulation {
public:
    explicit Simulation(SimulationOptions options);
    Simulation(const Simulation&) = delete;
    Simulation& operator=(const Simulation&) = delete;
    ~Simulation();

    [[nodiscard]] std::uint64_t seed() const { return options_.seed; }
    [[nodiscard]] const SimulationOptions& options() const { return options_; }
    [[nodiscard]] Trace& trace() { return *trace_; }
    [[nodiscard]] Scheduler& scheduler() { return *scheduler_; }
    [[nodiscard]] Network& network() { return *network_; }
    [[nodiscard]] Buggify& buggify() { return buggify_; }
    // The harness's view across nodes, for invariants (sim/invariants.h).
    [[nodiscard]] Witness& witness() { return witness_; }
    // The root stream: fork a named stream from it for each component.
    [[nodiscard]] const Random& random() const { return random_; }
    [[nodiscard]] Time now() const { return scheduler_->now(); }
    [[nodiscard]] std::uint64_t fingerprint() const { return trace_->fingerprint(); }

    // Adds a node (down until start()). Its disk and random stream are named after it.
    Node& add_node(std::string name, BootFunction boot);
    Node& add_node(std::string name, BootFunction boot, DiskOptions disk_options);
    [[nodiscard]] Node& node(NodeId id);
    [[nodiscard]] Node* find_node(std::string_view name);
    [[nodiscard]] const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
    // The node that drives tests and faults: always up, never crashes, never partitioned.
    [[nodiscard]] Node& world() { return *nodes_.front(); }

    RunOutcome run(const RunBounds& bounds, const std::function<bool()>& done = {});

    // Records a parameter drawn from the seed (printed with -v, kept in the run's report).
    void record_param(std::string_view name, std::string value);
    [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& params() const { return params_; }

    // Code probes reached in this run: name -> times. A probe leaves no trace event, so adding one never
    // moves a fingerprint.
    void hit_probe(std::string_view name);
    [[nodiscard]] const std::map<std::string, std::uint64_t, std::less<>>& probes() const { return probes_; }

    static Simulation& current();

private:
    SimulationOptions options_;
    Random random_;
    std::unique_ptr<Trace> trace_;
    std::unique_ptr<Scheduler> scheduler_;
    Buggify buggify_;
    Witness witness_;
    std::unique_ptr<Network> network_;
    std::vector<std::unique_ptr<Node>> nodes_;
    std::vector<std::pair<std::string, std::string>> params_;
    std::map<std::string, std::uint64_t, std::less<>> probes_;
    Simulation* previous_ = nullptr;
};

// ---- For code running inside the simulation ------------------------------------------------------

[[nodiscard]] Time now();
// The node whose code runs now (the world node outside any node's code).
[[nodiscard]] Node& this_node();
// The current node's reading of its own clock.
[[nodiscard]] Time local_now();
void yield();
// Spawns a fiber on the current node.
FiberRef spawn(std::string name, std::function<void()> body);

// A deadline `timeout` from now on the current node's clock, in true time.
[[nodiscard]] inline Time deadline_after(Duration timeout) {
    Scheduler& scheduler = current_scheduler();
    if (timeout == Duration::max()) {
        return Time::max();
    }
    Node* node = scheduler.current_node();
    return scheduler.now() + (node != nullptr ? node->clock().true_duration(timeout) : timeout);
}

// Sleeps for `duration` of the current node's clock (drift applies). Only in a fiber.
inline void sleep(Duration duration) { current_scheduler().sleep_until(deadline_after(duration)); }

template <typename T>
[[nodiscard]] Result<T> await(const Future<T>& future, Duration timeout) {
    return future.wait_until(deadline_after(timeout));
}
template <typename T>
[[nodiscard]] Result<T> await(const Future<T>& future) {
    return future.wait();
}
template <typename T>
[[nodiscard]] Result<T> receive(Channel<T>& channel, Duration timeout) {
    return channel.receive_until(deadline_after(timeout));
}

// A structured trace event, stamped with the simulated time and the current node.
TraceEvent trace(std::string_view name, Severity severity = Severity::info);

// A buggify point: true when this site is switched on for the run and fires now.
[[nodiscard]] bool buggify(std::string_view site);
// A code probe: the run reached a rare path worth knowing it reached (FoundationDB's CODE_PROBE). Names
// are listed with their meaning in scenarios/probes.cc (`eosim probes`); sweeps count the seeds that hit
// each. Outside a simulation (a unit test of one class) it does nothing.
void probe(std::string_view name);
// The current simulation's witness (sim/invariants.h).
[[nodiscard]] Witness& witness();

}  // namespace eosim::sim
