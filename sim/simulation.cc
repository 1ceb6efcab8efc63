#include "sim/simulation.h"

#include <fmt/format.h>

namespace eosim::sim {

namespace {
Simulation* current_simulation = nullptr;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)

BootFunction world_boot() {
    return [](Node&) { return std::make_unique<NodeState>(); };
}
}  // namespace

Simulation::Simulation(SimulationOptions options)
    : options_(options),
      random_(options.seed),
      trace_(std::make_unique<Trace>()),
      scheduler_(std::make_unique<Scheduler>(*trace_, options.stack_bytes)),
      buggify_(options.buggify, random_.fork("buggify")),
      previous_(current_simulation) {
    current_simulation = this;
    trace_->set_sink(options_.trace_sink);
    network_ = std::make_unique<Network>(*this, options_.network, random_.fork("network"));
    nodes_.push_back(std::make_unique<Node>(*this, NodeId(0), "world", world_boot(), options_.disk));
    nodes_.front()->start();
    record_param("seed", fmt::format("{}", options_.seed));
    record_param("buggify", options_.buggify ? "on" : "off");
}

Simulation::~Simulation() {
    // Unwind every fiber while everything it may touch still exists, nodes in reverse order of birth.
    for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
        scheduler_->kill_all(**it);
    }
    // Then their states, while every node (which their sockets name) still exists.
    for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
        (*it)->state_.reset();
    }
    nodes_.clear();
    network_.reset();
    scheduler_.reset();
    current_simulation = previous_;
}

Simulation& Simulation::current() {
    EOSIM_ASSERT_MSG(current_simulation != nullptr, "no simulation exists");
    return *current_simulation;
}

Node& Simulation::add_node(std::string name, BootFunction boot) {
    return add_node(std::move(name), std::move(boot), options_.disk);
}

Node& Simulation::add_node(std::string name, BootFunction boot, DiskOptions disk_options) {
    EOSIM_ASSERT_MSG(find_node(name) == nullptr, "two nodes named " + name);
    const NodeId id(static_cast<std::uint32_t>(nodes_.size()));
    nodes_.push_back(std::make_unique<Node>(*this, id, std::move(name), std::move(boot), disk_options));
    return *nodes_.back();
}

Node& Simulation::node(NodeId id) {
    EOSIM_ASSERT(id.value() < nodes_.size());
    return *nodes_[id.value()];
}

Node* Simulation::find_node(std::string_view name) {
    for (const auto& node : nodes_) {
        if (node->name() == name) {
            return node.get();
        }
    }
    return nullptr;
}

RunOutcome Simulation::run(const RunBounds& bounds, const std::function<bool()>& done) {
    const RunOutcome outcome = scheduler_->run(bounds, done);
    if (outcome.liveness_failure()) {
        ::eosim::sim::trace("RunBoundReached", Severity::warn)
            .detail("status", to_string(outcome.status))
            .detail("events", outcome.events);
    }
    return outcome;
}

void Simulation::record_param(std::string_view name, std::string value) {
    ::eosim::sim::trace("Param").detail("name", name).detail("value", value);
    params_.emplace_back(std::string(name), std::move(value));
}

Time now() { return Simulation::current().now(); }

Node& this_node() {
    Simulation& simulation = Simulation::current();
    Node* node = simulation.scheduler().current_node();
    return node != nullptr ? *node : simulation.world();
}

Time local_now() { return this_node().local_now(); }

void yield() { Simulation::current().scheduler().yield(); }

FiberRef spawn(std::string name, std::function<void()> body) {
    return this_node().spawn(std::move(name), std::move(body));
}

TraceEvent trace(std::string_view name, Severity severity) {
    Simulation& simulation = Simulation::current();
    const Node* node = simulation.scheduler().current_node();
    return TraceEvent(simulation.trace(), severity, name, simulation.now(), node != nullptr ? node->name() : "world");
}

Witness& witness() {
    return Simulation::current().witness();
}

void Simulation::hit_probe(std::string_view name) {
    const auto found = probes_.find(name);
    if (found == probes_.end()) {
        probes_.emplace(std::string(name), 1);
    } else {
        ++found->second;
    }
}

void probe(std::string_view name) {
    if (current_simulation != nullptr) {
        current_simulation->hit_probe(name);
    }
}

bool buggify(std::string_view site) {
    Simulation& simulation = Simulation::current();
    if (!simulation.buggify().enabled()) {
        return false;
    }
    const bool fired = simulation.buggify().fire(site);
    if (fired) {
        trace("BuggifyFired").detail("site", site);
    }
    return fired;
}

}  // namespace eosim::sim
