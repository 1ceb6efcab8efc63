#pragma once

#include <any>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "sim/channel.h"
#include "sim/errc.h"
#include "sim/named_type.h"
#include "sim/node.h"
#include "sim/random.h"
#include "sim/time.h"

namespace eosim::sim {

class Simulation;
class Network;

using Port = NamedType<std::uint16_t, struct PortTag>;
using ConnectionId = NamedType<std::uint64_t, struct ConnectionIdTag>;

// A message is a value: it is moved into the network and out at the other end; no node ever shares
// mutable memory with another.
struct Message {
    std::any payload;

    template <typename T>
    [[nodiscard]] bool is() const {
        return payload.type() == typeid(T);
    }
    template <typename T>
    [[nodiscard]] const T& as() const {
        const T* typed = std::any_cast<T>(&payload);
        EOSIM_ASSERT_MSG(typed != nullptr, std::string("message is not a ") + typeid(T).name());
        return *typed;
    }
};

template <typename T>
Message make_message(T value) {
    return Message{std::any(std::move(value))};
}

struct NetworkOptions {
    Duration latency_min = 100us;         // every message takes at least this long
    Duration latency_mean_extra = 300us;  // plus an exponential extra with this mean
    double tail_probability = 0.002;      // a message sometimes takes the long tail:
    Duration tail_min = 5ms;              // a Pareto delay from tail_min,
    double tail_alpha = 1.3;              // with this shape,
    Duration latency_max = 2s;            // capped here
};

// What became of one message, for reports (the HTML timeline): the network tells an observer, which the
// simulation never reads, so observing changes no run.
enum class MessageFate : std::uint8_t {
    sent,  // on its way: it arrives at `arrival` unless the connection breaks first
    cut,   // dropped as it was sent: a partition had cut the connection
    lost,  // dropped on arrival: the connection broke, or its end was gone, while it was in flight
};
struct MessageRecord {
    Time sent{};
    Time arrival{};  // sent: when it arrives; cut, lost: when it was dropped
    NodeId from{};
    NodeId to{};
    MessageFate fate = MessageFate::sent;
    const Message* message = nullptr;  // valid during the call only
};

// One end of a connection, owned by the node that opened or accepted it. Destroying it closes the
// connection (the peer sees a reset). Either receive() in a fiber, or set on_message for callbacks.
class Socket {
public:
    Socket() = default;
    Socket(Socket&& other) noexcept;
    Socket& operator=(Socket&& other) noexcept;
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket();

    [[nodiscard]] bool valid() const { return network_ != nullptr; }
    [[nodiscard]] ConnectionId id() const { return id_; }
    [[nodiscard]] NodeId peer() const;
    // False once this end has learnt that the connection broke, or was closed.
    [[nodiscard]] bool open() const;

    // Sends in FIFO order. errc::connection_reset once this end knows the connection broke; a message
    // sent into a connection that broke silently (a partition) is lost without an error.
    Status send(Message message);
    // Waits (in a fiber) for the next message until true time `deadline`.
    [[nodiscard]] Result<Message> receive_until(Time deadline);
    [[nodiscard]] Result<Message> receive() { return receive_until(Time::max()); }

    // Deliver messages to a callback (in the scheduler's context; it must not suspend) instead.
    void on_message(std::function<void(Message&&)> callback);
    // Called once when this end learns that the connection broke.
    void on_close(std::function<void(std::error_code)> callback);

    void close();

private:
    friend class Network;
    Socket(Network& network, ConnectionId id, int side) : network_(&network), id_(id), side_(side) {}

    Network* network_ = nullptr;
    ConnectionId id_{};
    int side_ = 0;
};

// A node's listening port. Destroying it stops accepting.
class Listener {
public:
    Listener() = default;
    Listener(Listener&& other) noexcept;
    Listener& operator=(Listener&& other) noexcept;
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    ~Listener();

    void close();

private:
    friend class Network;
    Listener(Network& network, NodeId node, Port port) : network_(&network), node_(node), port_(port) {}

    Network* network_ = nullptr;
    NodeId node_{};
    Port port_{};
};

struct NetworkStats {
    std::uint64_t sent = 0;
    std::uint64_t delivered = 0;
    std::uint64_t dropped = 0;
    std::uint64_t connections = 0;
    std::uint64_t resets = 0;
};

// Connections with TCP-like semantics between nodes: FIFO, no duplicates, no gaps (what a broken
// direction delivers is a prefix of what was sent). Partitions break the connections they cut,
// silently; a crash or a reset breaks them with a notice to the peers. Reordering exists only across
// connections.
class Network {
public:
    Network(Simulation& simulation, NetworkOptions options, Random random);
    Network(const Network&) = delete;
    Network& operator=(const Network&) = delete;
    ~Network();

    // Accepts connections to (node, port) while the returned listener lives.
    [[nodiscard]] Listener listen(Node& node, Port port, std::function<void(Socket)> on_accept);
    // Opens a connection from `from` (the current node, usually) to (to, port). A refused connection
    // (nobody listens, the node is down) is reset after one trip.
    [[nodiscard]] Socket connect(Node& from, NodeId to, Port port);

    // Partitions. block() is one-way: from's messages no longer reach `to`.
    void block(NodeId from, NodeId to);
    // Lets from's messages reach `to` again (new connections only: broken ones stay broken).
    void unblock(NodeId from, NodeId to);
    void partition(NodeId a, NodeId b);
    void isolate(NodeId node);
    void split(const std::vector<NodeId>& side_a, const std::vector<NodeId>& side_b);
    // side_a and side_b cannot talk to each other; both talk to `bridge`.
    void bridge(const std::vector<NodeId>& side_a, NodeId bridge, const std::vector<NodeId>& side_b);
    // Every link opens again, and every connection a partition broke is reset with a notice to both ends:
    // once the link is back, the first packet across draws a reset, so nobody waits on a dead connection
    // for a timeout after healing.
    void heal();
    [[nodiscard]] bool blocked(NodeId from, NodeId to) const;
    // Some connection is broken while an end that still holds it has not learnt so (it would find out
    // only from a timeout).
    [[nodiscard]] bool silently_broken() const;
    [[nodiscard]] bool partitioned() const { return !blocked_.empty(); }

    // Breaks connections now, with a notice (a reset) to both ends.
    void reset_connections(NodeId node);
    void reset_all_connections();

    // Slow links and latency spikes.
    void set_extra_latency(NodeId from, NodeId to, Duration extra);
    void clear_extra_latency();
    void set_latency_spike(Duration extra, Time until);
    // Bandwidth: from's messages to `to` go through one after another at `bytes_per_second` (a queue on
    // the link) before their latency starts. Zero lifts the limit.
    void set_bandwidth(NodeId from, NodeId to, std::uint64_t bytes_per_second);
    void clear_bandwidth();
    // How many bytes a message takes on the wire, for bandwidth limits. Unset: every message takes
    // default_message_bytes.
    void set_message_size(std::function<std::uint64_t(const Message&)> size) { message_size_ = std::move(size); }
    static constexpr std::uint64_t default_message_bytes = 100;
    // Told of every message sent and every message dropped (reports only; it must not touch the simulation).
    void set_message_observer(std::function<void(const MessageRecord&)> observer) { observer_ = std::move(observer); }

    // Node::crash calls this: the node's connections break and its peers get a reset notice.
    void node_crashed(Node& node);

    [[nodiscard]] const NetworkStats& stats() const { return stats_; }
    [[nodiscard]] std::size_t open_connections() const { return connections_.size(); }
    [[nodiscard]] const NetworkOptions& options() const { return options_; }

private:
    friend class Socket;
    friend class Listener;

    struct Endpoint {
        Node* node = nullptr;
        std::uint32_t incarnation = 0;
        bool attached = false;   // a Socket holds this end
        bool reset_seen = false;  // this end learnt of the break
        std::shared_ptr<Channel<Message>> inbox;
        std::function<void(Message&&)> on_message;
        std::function<void(std::error_code)> on_close;
    };
    struct Direction {
        bool broken = false;
        Time last_arrival{};
    };
    struct Connection {
        ConnectionId id{};
        Port port{};
        std::array<Endpoint, 2> ends;
        std::array<Direction, 2> directions;  // directions[i]: from ends[i] to ends[1 - i]
    };
    struct ListenerEntry {
        Node* node = nullptr;
        std::uint32_t incarnation = 0;
        std::function<void(Socket)> on_accept;
    };

    Connection* find(ConnectionId id);
    Duration sample_latency(NodeId from, NodeId to);
    void accept(ConnectionId id);
    void deliver(ConnectionId id, int to_side, Message message);
    void break_connection(Connection& connection, bool notify);
    void notify_reset(ConnectionId id, int side);
    void detach(ConnectionId id, int side);
    void erase_if_unused(ConnectionId id);
    void block_one(NodeId from, NodeId to);

    Simulation& simulation_;
    NetworkOptions options_;
    Random random_;
    std::uint64_t next_connection_id_ = 1;
    std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;
    std::map<std::pair<std::uint32_t, std::uint16_t>, ListenerEntry> listeners_;
    std::set<std::pair<std::uint32_t, std::uint32_t>> blocked_;
    std::map<std::pair<std::uint32_t, std::uint32_t>, Duration> extra_latency_;
    struct Bandwidth {
        std::uint64_t bytes_per_second = 0;
        Time free_at{};  // when the link has sent what is queued on it
    };
    // When a message sent now from `from` to `to` has gone onto the wire (now, without a limit).
    Time departure(NodeId from, NodeId to, const Message& message);

    std::map<std::pair<std::uint32_t, std::uint32_t>, Bandwidth> bandwidth_;
    std::function<std::uint64_t(const Message&)> message_size_;
    std::function<void(const MessageRecord&)> observer_;
    Duration spike_extra_{0};
    Time spike_until_{};
    NetworkStats stats_;
};

}  // namespace eosim::sim
