#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <typeinfo>

#include "sim/disk.h"
#include "sim/named_type.h"
#include "sim/random.h"
#include "sim/scheduler.h"
#include "sim/time.h"

namespace eosim::sim {

class Simulation;

using NodeId = NamedType<std::uint32_t, struct NodeIdTag>;

// A node's volatile state: everything of a process that a crash destroys. A node's boot function
// builds one from the node's disk.
class NodeState {
public:
    NodeState() = default;
    NodeState(const NodeState&) = delete;
    NodeState& operator=(const NodeState&) = delete;
    virtual ~NodeState() = default;
};

using BootFunction = std::function<std::unique_ptr<NodeState>(class Node&)>;

struct CrashOptions {
    UnsyncedFate unsynced = UnsyncedFate::random;
};

// A simulated process: an id, its fibers, its volatile state, its disk, its network endpoint and its
// clock. crash() destroys the fibers (unwinding them) and the state; restart() boots a fresh state
// from the disk; pause() freezes the node while the world goes on.
class Node {
public:
    Node(Simulation& simulation, NodeId id, std::string name, BootFunction boot, DiskOptions disk_options);
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;
    ~Node();

    [[nodiscard]] NodeId id() const { return id_; }
    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] bool up() const { return up_; }
    [[nodiscard]] bool paused() const;
    [[nodiscard]] Time paused_until() const { return paused_until_; }
    // Counts boots: 0 before the first start, then 1, 2, ...
    [[nodiscard]] std::uint32_t incarnation() const { return incarnation_; }
    [[nodiscard]] std::uint32_t crash_count() const { return crash_count_; }

    [[nodiscard]] Disk& disk() { return disk_; }
    [[nodiscard]] const Disk& disk() const { return disk_; }
    [[nodiscard]] LocalClock& clock() { return clock_; }
    // This node's reading of its own clock.
    [[nodiscard]] Time local_now() const;
    // The node's random stream (kept across restarts; never reset).
    [[nodiscard]] Random& random() { return random_; }
    [[nodiscard]] Simulation& simulation() { return simulation_; }

    [[nodiscard]] bool has_state() const { return state_ != nullptr; }
    template <typename T>
    [[nodiscard]] T& state() {
        EOSIM_ASSERT_MSG(state_ != nullptr, "node " + name_ + " has no state (down?)");
        auto* typed = dynamic_cast<T*>(state_.get());
        EOSIM_ASSERT_MSG(typed != nullptr, "node " + name_ + " state is not a " + typeid(T).name());
        return *typed;
    }

    // Runs `body` on a new fiber of this node, from now.
    FiberRef spawn(std::string name, std::function<void()> body);
    // Runs `callback` after `delay` of this node's clock, unless the node crashes first.
    TimerId after(Duration delay, std::function<void()> callback);
    [[nodiscard]] std::size_t fiber_count() const;

    // Boots the node for the first time (or after a crash: see restart).
    void start();
    // The process dies now: its fibers unwind, its volatile state is destroyed, its connections
    // break (peers see a reset), and unsynced disk bytes meet `options.unsynced`. Called from a fiber
    // of this node, the calling fiber is unwound last (FiberKilled is thrown to it).
    DiskCrashReport crash(CrashOptions options = {});
    // Boots a fresh state from the disk. The node must be down.
    void restart();
    // Freezes the node for `duration` (a stop-the-world pause): its fibers and timers wait; its clock,
    // the network and every other node go on. Pauses only extend; a paused node cannot be thawed early.
    void pause(Duration duration);

private:
    friend class Scheduler;
    friend class Simulation;

    Simulation& simulation_;
    NodeId id_;
    std::string name_;
    BootFunction boot_;
    Disk disk_;
    LocalClock clock_;
    Random random_;
    std::unique_ptr<NodeState> state_;
    bool up_ = false;
    std::uint32_t incarnation_ = 0;
    std::uint32_t crash_count_ = 0;
    Time paused_until_{};
    detail::FiberList fibers_;
};

}  // namespace eosim::sim
