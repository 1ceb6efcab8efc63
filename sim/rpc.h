#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "sim/future.h"
#include "sim/network.h"

namespace eosim::sim {

// What travels on an RPC connection: a request or its response, matched by correlation id.
struct RpcEnvelope {
    std::uint64_t correlation_id = 0;
    Message body;
};

// Serves requests on (node, port). Each connection gets a fiber that handles its requests one at a
// time, in order (like Kafka, a connection's next request waits for the previous response).
class RpcServer {
public:
    // Runs in the connection's fiber and may suspend; its result is the response.
    using Handler = std::function<Message(const Message& request)>;

    RpcServer(Node& node, Port port, Handler handler);
    RpcServer(const RpcServer&) = delete;
    RpcServer& operator=(const RpcServer&) = delete;
    ~RpcServer();

    [[nodiscard]] std::uint64_t requests_served() const { return requests_served_; }

private:
    void serve(Socket socket);

    Node& node_;
    Handler handler_;
    Listener listener_;
    std::vector<FiberRef> fibers_;
    std::uint64_t requests_served_ = 0;
};

struct RpcOptions {
    // On a timed-out call, drop the connection and fail every request on it (what Kafka's client
    // does); the next call opens a new connection.
    bool disconnect_on_timeout = true;
};

// Calls one server. Requests are pipelined on one connection, which is re-opened after it breaks.
class RpcClient {
public:
    RpcClient(Node& node, NodeId server, Port port, RpcOptions options = {});
    RpcClient(const RpcClient&) = delete;
    RpcClient& operator=(const RpcClient&) = delete;
    ~RpcClient() = default;

    // Sends now; the future holds the response or errc::connection_reset.
    [[nodiscard]] Future<Message> send(Message request);
    // Sends and waits (in a fiber) up to `timeout` of this node's clock.
    [[nodiscard]] Result<Message> call(Message request, Duration timeout);
    // Closes the connection; pending requests fail with errc::connection_reset.
    void disconnect();

    [[nodiscard]] bool connected() const { return socket_.open(); }
    [[nodiscard]] std::size_t in_flight() const { return pending_.size(); }
    [[nodiscard]] NodeId server() const { return server_; }

private:
    void connect();
    void fail_all(std::error_code error);

    Node& node_;
    NodeId server_;
    Port port_;
    RpcOptions options_;
    Socket socket_;
    std::uint64_t next_correlation_id_ = 1;
    std::map<std::uint64_t, Promise<Message>> pending_;
};

}  // namespace eosim::sim
