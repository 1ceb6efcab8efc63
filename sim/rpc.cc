#include "sim/rpc.h"

#include <algorithm>

#include "sim/simulation.h"

namespace eosim::sim {

RpcServer::RpcServer(Node& node, Port port, Handler handler) : node_(node), handler_(std::move(handler)) {
    listener_ = node.simulation().network().listen(node, port, [this](Socket socket) { serve(std::move(socket)); });
}

RpcServer::~RpcServer() {
    listener_.close();
    Scheduler& scheduler = node_.simulation().scheduler();
    for (const FiberRef fiber : fibers_) {
        scheduler.kill(fiber);
    }
}

void RpcServer::serve(Socket socket) {
    Scheduler& scheduler = node_.simulation().scheduler();
    std::erase_if(fibers_, [&scheduler](FiberRef fiber) { return !scheduler.alive(fiber); });
    auto shared = std::make_shared<Socket>(std::move(socket));
    fibers_.push_back(node_.spawn("rpc-server", [this, shared] {
        Socket& connection = *shared;
        while (true) {
            Result<Message> received = connection.receive();
            if (!received) {
                return;  // the connection broke
            }
            const auto& request = received.value().as<RpcEnvelope>();
            Message response = handler_(request.body);
            ++requests_served_;
            if (!connection.send(make_message(RpcEnvelope{request.correlation_id, std::move(response)}))) {
                return;
            }
        }
    }));
}

RpcClient::RpcClient(Node& node, NodeId server, Port port, RpcOptions options)
    : node_(node), server_(server), port_(port), options_(options) {}

void RpcClient::connect() {
    socket_ = node_.simulation().network().connect(node_, server_, port_);
    socket_.on_message([this](Message&& message) {
        const auto& envelope = message.as<RpcEnvelope>();
        const auto found = pending_.find(envelope.correlation_id);
        if (found == pending_.end()) {
            return;  // it timed out meanwhile
        }
        Promise<Message> promise = std::move(found->second);
        pending_.erase(found);
        promise.set_value(envelope.body);
    });
    socket_.on_close([this](std::error_code error) { fail_all(error); });
}

void RpcClient::fail_all(std::error_code error) {
    std::map<std::uint64_t, Promise<Message>> failed;
    failed.swap(pending_);
    for (auto& [id, promise] : failed) {
        promise.set_error(error);
    }
}

Future<Message> RpcClient::send(Message request) {
    if (!socket_.open()) {
        connect();
    }
    const std::uint64_t id = next_correlation_id_++;
    Promise<Message> promise(node_.simulation().scheduler());
    Future<Message> future = promise.future();
    if (!socket_.send(make_message(RpcEnvelope{id, std::move(request)}))) {
        promise.set_error(make_error_code(errc::connection_reset));
        return future;
    }
    pending_.emplace(id, std::move(promise));
    return future;
}

Result<Message> RpcClient::call(Message request, Duration timeout) {
    const Future<Message> future = send(std::move(request));
    Result<Message> response = await(future, timeout);
    if (!response && response.error() == errc::timeout && options_.disconnect_on_timeout) {
        disconnect();
    }
    return response;
}

void RpcClient::disconnect() {
    socket_.close();
    fail_all(make_error_code(errc::connection_reset));
}

}  // namespace eosim::sim
