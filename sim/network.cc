#include "sim/network.h"

#include <algorithm>
#include <cmath>

#include "sim/simulation.h"

namespace eosim::sim {

// ---- Socket ---------------------------------------------------------------------------------------

Socket::Socket(Socket&& other) noexcept
    : network_(std::exchange(other.network_, nullptr)), id_(other.id_), side_(other.side_) {}

Socket& Socket::operator=(Socket&& other) noexcept {
    if (this != &other) {
        close();
        network_ = std::exchange(other.network_, nullptr);
        id_ = other.id_;
        side_ = other.side_;
    }
    return *this;
}

Socket::~Socket() { close(); }

NodeId Socket::peer() const {
    EOSIM_ASSERT(valid());
    const Network::Connection* connection = network_->find(id_);
    EOSIM_ASSERT(connection != nullptr);
    return connection->ends[static_cast<std::size_t>(1 - side_)].node->id();
}

bool Socket::open() const {
    if (network_ == nullptr) {
        return false;
    }
    const Network::Connection* connection = network_->find(id_);
    return connection != nullptr && !connection->ends[static_cast<std::size_t>(side_)].reset_seen;
}

Status Socket::send(Message message) {
    if (!open()) {
        return errc::connection_reset;
    }
    Network& network = *network_;
    Network::Connection& connection = *network.find(id_);
    const auto from = static_cast<std::size_t>(side_);
    const auto to = 1 - from;
    Network::Direction& direction = connection.directions[from];
    Node& sender = *connection.ends[from].node;
    Node& receiver = *connection.ends[to].node;
    ++network.stats_.sent;
    if (!direction.broken && network.blocked(sender.id(), receiver.id())) {
        direction.broken = true;  // a partition cut it: this and every later message is lost
    }
    Scheduler& scheduler = network.simulation_.scheduler();
    if (direction.broken) {
        ++network.stats_.dropped;
        if (network.observer_) {
            network.observer_(MessageRecord{scheduler.now(), scheduler.now(), sender.id(), receiver.id(),
                                            MessageFate::cut, &message});
        }
        return ok_status();
    }
    const Time sent = network.departure(sender.id(), receiver.id(), message);
    const Time arrival = std::max(sent + network.sample_latency(sender.id(), receiver.id()), direction.last_arrival);
    direction.last_arrival = arrival;
    if (network.observer_) {
        network.observer_(MessageRecord{sent, arrival, sender.id(), receiver.id(), MessageFate::sent, &message});
    }
    const ConnectionId id = id_;
    const int to_side = static_cast<int>(to);
    scheduler.call_at(arrival, &receiver, [&network, id, to_side, message = std::move(message)]() mutable {
        network.deliver(id, to_side, std::move(message));
    });
    return ok_status();
}

Result<Message> Socket::receive_until(Time deadline) {
    EOSIM_ASSERT(valid());
    Network::Connection* connection = network_->find(id_);
    if (connection == nullptr) {
        return errc::connection_reset;
    }
    // Hold the inbox, not the connection: the connection may be erased while this fiber waits.
    const std::shared_ptr<Channel<Message>> inbox = connection->ends[static_cast<std::size_t>(side_)].inbox;
    return inbox->receive_until(deadline);
}

void Socket::on_message(std::function<void(Message&&)> callback) {
    EOSIM_ASSERT(valid());
    Network::Connection* connection = network_->find(id_);
    if (connection == nullptr) {
        return;
    }
    Network::Endpoint& end = connection->ends[static_cast<std::size_t>(side_)];
    end.on_message = std::move(callback);
    while (std::optional<Message> queued = end.inbox->try_receive()) {
        end.on_message(std::move(*queued));
    }
}

void Socket::on_close(std::function<void(std::error_code)> callback) {
    EOSIM_ASSERT(valid());
    Network::Connection* connection = network_->find(id_);
    if (connection == nullptr) {
        return;
    }
    connection->ends[static_cast<std::size_t>(side_)].on_close = std::move(callback);
}

void Socket::close() {
    if (network_ != nullptr) {
        std::exchange(network_, nullptr)->detach(id_, side_);
    }
}

// ---- Listener -------------------------------------------------------------------------------------

Listener::Listener(Listener&& other) noexcept
    : network_(std::exchange(other.network_, nullptr)), node_(other.node_), port_(other.port_) {}

Listener& Listener::operator=(Listener&& other) noexcept {
    if (this != &other) {
        close();
        network_ = std::exchange(other.network_, nullptr);
        node_ = other.node_;
        port_ = other.port_;
    }
    return *this;
}

Listener::~Listener() { close(); }

void Listener::close() {
    if (network_ != nullptr) {
        std::exchange(network_, nullptr)->listeners_.erase({node_.value(), port_.value()});
    }
}

// ---- Network --------------------------------------------------------------------------------------

Network::Network(Simulation& simulation, NetworkOptions options, Random random)
    : simulation_(simulation), options_(options), random_(std::move(random)) {}

Network::~Network() = default;

Network::Connection* Network::find(ConnectionId id) {
    const auto found = connections_.find(id.value());
    return found != connections_.end() ? found->second.get() : nullptr;
}

Listener Network::listen(Node& node, Port port, std::function<void(Socket)> on_accept) {
    EOSIM_ASSERT(node.up());
    const auto key = std::pair{node.id().value(), port.value()};
    EOSIM_ASSERT_MSG(!listeners_.contains(key), "port already in use on " + node.name());
    listeners_[key] = ListenerEntry{&node, node.incarnation(), std::move(on_accept)};
    return Listener(*this, node.id(), port);
}

Socket Network::connect(Node& from, NodeId to, Port port) {
    EOSIM_ASSERT(from.up());
    auto connection = std::make_unique<Connection>();
    const ConnectionId id(next_connection_id_++);
    connection->id = id;
    connection->port = port;
    Node& target = simulation_.node(to);
    Scheduler& scheduler = simulation_.scheduler();
    for (int side = 0; side < 2; ++side) {
        Endpoint& end = connection->ends[static_cast<std::size_t>(side)];
        end.node = side == 0 ? &from : &target;
        end.inbox = std::make_shared<Channel<Message>>(scheduler);
    }
    connection->ends[0].incarnation = from.incarnation();
    connection->ends[0].attached = true;
    ++stats_.connections;
    // The opening handshake travels like a message: FIFO before anything the client sends. The server
    // process accepts it on arrival (later, if it is paused; never, if it crashes first: its crash
    // resets the connection). Nobody listens on a node that is down: refused at once.
    Direction& forward = connection->directions[0];
    connections_.emplace(id.value(), std::move(connection));
    Connection& opened = *find(id);
    if (!target.up()) {
        break_connection(opened, true);
    } else if (blocked(from.id(), to)) {
        forward.broken = true;
    } else {
        forward.last_arrival = scheduler.now() + sample_latency(from.id(), to);
        scheduler.call_at(forward.last_arrival, &target, [this, id] { accept(id); });
    }
    return Socket(*this, id, 0);
}

void Network::accept(ConnectionId id) {
    Connection* connection = find(id);
    if (connection == nullptr || connection->directions[0].broken) {
        return;
    }
    Endpoint& server_end = connection->ends[1];
    const auto found = listeners_.find({server_end.node->id().value(), connection->port.value()});
    if (found == listeners_.end()) {
        break_connection(*connection, true);
        return;
    }
    server_end.incarnation = server_end.node->incarnation();
    server_end.attached = true;
    // Copy the handler: accepting may close the listener.
    const std::function<void(Socket)> on_accept = found->second.on_accept;
    on_accept(Socket(*this, id, 1));
}

Time Network::departure(NodeId from, NodeId to, const Message& message) {
    const Time now = simulation_.now();
    const auto found = bandwidth_.find({from.value(), to.value()});
    if (found == bandwidth_.end()) {
        return now;
    }
    Bandwidth& link = found->second;
    const std::uint64_t bytes = message_size_ ? message_size_(message) : default_message_bytes;
    const double seconds = static_cast<double>(bytes) / static_cast<double>(link.bytes_per_second);
    link.free_at = std::max(link.free_at, now) + Duration(static_cast<std::int64_t>(seconds * 1e9));
    return link.free_at;
}

void Network::set_bandwidth(NodeId from, NodeId to, std::uint64_t bytes_per_second) {
    if (bytes_per_second == 0) {
        bandwidth_.erase({from.value(), to.value()});
        return;
    }
    bandwidth_[{from.value(), to.value()}].bytes_per_second = bytes_per_second;
}

void Network::clear_bandwidth() { bandwidth_.clear(); }

Duration Network::sample_latency(NodeId from, NodeId to) {
    const double extra_ns = random_.exponential(static_cast<double>(options_.latency_mean_extra.count()));
    Duration latency = options_.latency_min + Duration(static_cast<std::int64_t>(extra_ns));
    if (random_.chance(options_.tail_probability)) {
        const double tail_ns = random_.pareto(static_cast<double>(options_.tail_min.count()), options_.tail_alpha);
        latency += Duration(static_cast<std::int64_t>(std::min(tail_ns, 1e15)));
    }
    if (const auto found = extra_latency_.find({from.value(), to.value()}); found != extra_latency_.end()) {
        latency += found->second;
    }
    if (simulation_.now() < spike_until_) {
        latency += spike_extra_;
    }
    return std::min(latency, options_.latency_max);
}

void Network::deliver(ConnectionId id, int to_side, Message message) {
    Connection* connection = find(id);
    const auto lost = [&](const Connection* known) {
        ++stats_.dropped;
        if (observer_ && known != nullptr) {
            const Time now = simulation_.scheduler().now();
            observer_(MessageRecord{now, now, known->ends[static_cast<std::size_t>(1 - to_side)].node->id(),
                                    known->ends[static_cast<std::size_t>(to_side)].node->id(), MessageFate::lost,
                                    &message});
        }
    };
    if (connection == nullptr || connection->directions[static_cast<std::size_t>(1 - to_side)].broken) {
        lost(connection);
        return;
    }
    Endpoint& end = connection->ends[static_cast<std::size_t>(to_side)];
    if (!end.attached || end.reset_seen) {
        lost(connection);
        return;
    }
    ++stats_.delivered;
    if (end.on_message) {
        end.on_message(std::move(message));
    } else {
        end.inbox->push(std::move(message));
    }
}

void Network::break_connection(Connection& connection, bool notify) {
    const bool already = connection.directions[0].broken && connection.directions[1].broken;
    connection.directions[0].broken = true;
    connection.directions[1].broken = true;
    if (!already) {
        ++stats_.resets;
    }
    if (!notify) {
        return;
    }
    Scheduler& scheduler = simulation_.scheduler();
    for (int side = 0; side < 2; ++side) {
        Endpoint& end = connection.ends[static_cast<std::size_t>(side)];
        if (end.reset_seen) {
            continue;
        }
        const ConnectionId id = connection.id;
        // The notice (a reset) takes one trip to reach this end.
        const Time when = scheduler.now() + sample_latency(connection.ends[static_cast<std::size_t>(1 - side)].node->id(),
                                                           end.node->id());
        scheduler.call_at(when, end.node, [this, id, side] { notify_reset(id, side); });
    }
}

void Network::notify_reset(ConnectionId id, int side) {
    Connection* connection = find(id);
    if (connection == nullptr) {
        return;
    }
    Endpoint& end = connection->ends[static_cast<std::size_t>(side)];
    if (end.reset_seen) {
        return;
    }
    end.reset_seen = true;
    end.inbox->close(make_error_code(errc::connection_reset));
    if (end.on_close) {
        std::function<void(std::error_code)> on_close = std::move(end.on_close);
        on_close(make_error_code(errc::connection_reset));
    }
    erase_if_unused(id);
}

void Network::detach(ConnectionId id, int side) {
    Connection* connection = find(id);
    if (connection == nullptr) {
        return;
    }
    Endpoint& end = connection->ends[static_cast<std::size_t>(side)];
    end.attached = false;
    end.reset_seen = true;
    end.on_message = nullptr;
    end.on_close = nullptr;
    end.inbox->close(make_error_code(errc::connection_reset));
    // Closing sends the peer a reset.
    break_connection(*connection, true);
    erase_if_unused(id);
}

void Network::erase_if_unused(ConnectionId id) {
    Connection* connection = find(id);
    if (connection == nullptr) {
        return;
    }
    // A socket still refers to an attached end (its receive() reads the closed inbox).
    if (!connection->ends[0].attached && !connection->ends[1].attached) {
        connections_.erase(id.value());
    }
}

void Network::node_crashed(Node& node) {
    for (auto it = listeners_.begin(); it != listeners_.end();) {
        it = it->second.node == &node ? listeners_.erase(it) : std::next(it);
    }
    for (auto& [key, connection] : connections_) {
        for (int side = 0; side < 2; ++side) {
            Endpoint& end = connection->ends[static_cast<std::size_t>(side)];
            if (end.node == &node) {
                end.reset_seen = true;  // the dead process learns nothing more
                end.on_message = nullptr;
                end.on_close = nullptr;
                break_connection(*connection, true);
            }
        }
    }
}

void Network::block_one(NodeId from, NodeId to) {
    if (from == to || !blocked_.insert({from.value(), to.value()}).second) {
        return;
    }
    for (auto& [key, connection] : connections_) {
        for (std::size_t side = 0; side < 2; ++side) {
            if (connection->ends[side].node->id() == from && connection->ends[1 - side].node->id() == to) {
                connection->directions[side].broken = true;
            }
        }
    }
}

void Network::block(NodeId from, NodeId to) {
    block_one(from, to);
    trace("NetworkBlock").detail("from", simulation_.node(from).name()).detail("to", simulation_.node(to).name());
}

void Network::unblock(NodeId from, NodeId to) {
    if (blocked_.erase({from.value(), to.value()}) > 0) {
        trace("NetworkUnblock").detail("from", simulation_.node(from).name()).detail("to", simulation_.node(to).name());
    }
}

void Network::partition(NodeId a, NodeId b) {
    block_one(a, b);
    block_one(b, a);
    trace("NetworkPartition").detail("a", simulation_.node(a).name()).detail("b", simulation_.node(b).name());
}

void Network::isolate(NodeId node) {
    for (const auto& other : simulation_.nodes()) {
        if (other->id().value() != 0) {
            block_one(node, other->id());
            block_one(other->id(), node);
        }
    }
    trace("NetworkIsolate").detail("target", simulation_.node(node).name());
}

void Network::split(const std::vector<NodeId>& side_a, const std::vector<NodeId>& side_b) {
    for (const NodeId a : side_a) {
        for (const NodeId b : side_b) {
            block_one(a, b);
            block_one(b, a);
        }
    }
    trace("NetworkSplit").detail("side_a", side_a.size()).detail("side_b", side_b.size());
}

void Network::bridge(const std::vector<NodeId>& side_a, NodeId bridge_node, const std::vector<NodeId>& side_b) {
    for (const NodeId a : side_a) {
        for (const NodeId b : side_b) {
            if (a != bridge_node && b != bridge_node) {
                block_one(a, b);
                block_one(b, a);
            }
        }
    }
    trace("NetworkBridge").detail("bridge", simulation_.node(bridge_node).name());
}

void Network::heal() {
    blocked_.clear();
    for (auto& [key, connection] : connections_) {
        if (connection->directions[0].broken || connection->directions[1].broken) {
            break_connection(*connection, true);
        }
    }
    trace("NetworkHeal");
}

bool Network::silently_broken() const {
    return std::any_of(connections_.begin(), connections_.end(), [](const auto& entry) {
        const Connection& connection = *entry.second;
        if (!connection.directions[0].broken && !connection.directions[1].broken) {
            return false;
        }
        return std::any_of(connection.ends.begin(), connection.ends.end(),
                           [](const Endpoint& end) { return end.attached && !end.reset_seen; });
    });
}

bool Network::blocked(NodeId from, NodeId to) const {
    return !blocked_.empty() && blocked_.contains({from.value(), to.value()});
}

void Network::reset_connections(NodeId node) {
    for (auto& [key, connection] : connections_) {
        if (connection->ends[0].node->id() == node || connection->ends[1].node->id() == node) {
            break_connection(*connection, true);
        }
    }
    trace("NetworkReset").detail("target", simulation_.node(node).name());
}

void Network::reset_all_connections() {
    for (auto& [key, connection] : connections_) {
        break_connection(*connection, true);
    }
    trace("NetworkResetAll");
}

void Network::set_extra_latency(NodeId from, NodeId to, Duration extra) {
    extra_latency_[{from.value(), to.value()}] = extra;
}

void Network::clear_extra_latency() {
    extra_latency_.clear();
    spike_until_ = Time{};
}

void Network::set_latency_spike(Duration extra, Time until) {
    spike_extra_ = extra;
    spike_until_ = until;
    trace("NetworkLatencySpike").detail("extra", extra).detail("until", until);
}

}  // namespace eosim::sim
