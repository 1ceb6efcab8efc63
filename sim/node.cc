#include "sim/node.h"

#include "sim/simulation.h"

namespace eosim::sim {

Node::Node(Simulation& simulation, NodeId id, std::string name, BootFunction boot, DiskOptions disk_options)
    : simulation_(simulation),
      id_(id),
      name_(std::move(name)),
      boot_(std::move(boot)),
      disk_(disk_options, simulation.random().fork("disk").fork(name_)),
      random_(simulation.random().fork("node").fork(name_)) {}

Node::~Node() {
    if (fibers_.first != nullptr) {
        simulation_.scheduler().kill_all(*this);
    }
    state_.reset();
}

bool Node::paused() const { return paused_until_ > simulation_.now(); }

Time Node::local_now() const { return clock_.local_time(simulation_.now()); }

FiberRef Node::spawn(std::string name, std::function<void()> body) {
    return simulation_.scheduler().spawn(*this, std::move(name), std::move(body));
}

TimerId Node::after(Duration delay, std::function<void()> callback) {
    Scheduler& scheduler = simulation_.scheduler();
    return scheduler.call_at(scheduler.now() + clock_.true_duration(delay), this, std::move(callback));
}

std::size_t Node::fiber_count() const {
    return simulation_.scheduler().count_fibers(*this);
}

void Node::start() {
    EOSIM_ASSERT_MSG(!up_, "start of a node that is up: " + name_);
    EOSIM_ASSERT(state_ == nullptr);
    up_ = true;
    paused_until_ = Time{};
    ++incarnation_;
    trace("NodeStart").detail("target", name_).detail("incarnation", incarnation_);
    state_ = boot_(*this);
}

DiskCrashReport Node::crash(CrashOptions options) {
    EOSIM_ASSERT_MSG(up_, "crash of a node that is down: " + name_);
    EOSIM_ASSERT_MSG(id_.value() != 0, "the world node never crashes");
    Scheduler& scheduler = simulation_.scheduler();
    up_ = false;
    paused_until_ = Time{};
    ++crash_count_;
    simulation_.network().node_crashed(*this);
    scheduler.kill_all(*this);
    const bool self = scheduler.in_fiber() && scheduler.current_node() == this;
    if (self) {
        // The calling fiber still stands on the state: destroy it once that fiber has unwound.
        std::shared_ptr<NodeState> doomed(state_.release());
        scheduler.call_at(scheduler.now(), nullptr, [doomed]() mutable { doomed.reset(); });
    } else {
        state_.reset();
    }
    const DiskCrashReport report = disk_.crash(options.unsynced);
    TraceEvent event = trace("NodeCrash", Severity::info);
    event.detail("target", name_)
        .detail("unsynced", to_string(report.fate))
        .detail("sectors_lost", report.sectors_lost)
        .detail("sectors_kept", report.sectors_kept);
    if (disk_.options().directory_ops_need_sync) {
        event.detail("directory_ops_lost", report.directory_ops_lost)
            .detail("directory_ops_kept", report.directory_ops_kept);
    }
    if (self) {
        throw FiberKilled{};
    }
    return report;
}

void Node::restart() {
    EOSIM_ASSERT_MSG(!up_, "restart of a node that is up: " + name_);
    start();
}

void Node::pause(Duration duration) {
    EOSIM_ASSERT_MSG(up_, "pause of a node that is down: " + name_);
    EOSIM_ASSERT(duration >= Duration::zero());
    const Time until = simulation_.now() + duration;
    if (until > paused_until_) {
        paused_until_ = until;
    }
    trace("NodePause").detail("target", name_).detail("until", paused_until_);
}

}  // namespace eosim::sim
