#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "sim/rpc.h"
#include "sim/simulation.h"

namespace eosim::sim {
namespace {

constexpr Port port{9};

Node& add_plain_node(Simulation& simulation, const std::string& name) {
    Node& node = simulation.add_node(name, [](Node&) { return std::make_unique<NodeState>(); });
    node.start();
    return node;
}

// Collects what arrives on every accepted connection of (node, port).
struct Sink {
    std::vector<int> received;
    std::vector<Socket> sockets;
    Listener listener;
    void listen(Simulation& simulation, Node& node) {
        listener = simulation.network().listen(node, port, [this](Socket socket) {
            socket.on_message([this](Message&& message) { received.push_back(message.as<int>()); });
            sockets.push_back(std::move(socket));
        });
    }
};

// The observer (for the HTML report) hears of each message: sent with its arrival, cut at the send by a
// partition, lost when the connection broke in flight; and observing changes nothing in the run.
TEST(Network, TheObserverHearsOfEveryMessageSentCutOrLostAndChangesNothing) {
    const auto run = [](bool observe, std::vector<MessageRecord>* records) {
        Simulation simulation(SimulationOptions{.seed = 3});
        Node& a = add_plain_node(simulation, "a");
        Node& b = add_plain_node(simulation, "b");
        if (observe) {
            simulation.network().set_message_observer([records](const MessageRecord& record) {
                EXPECT_NE(record.message, nullptr);
                records->push_back(record);
            });
        }
        Sink sink;
        sink.listen(simulation, b);
        a.spawn("sender", [&] {
            Socket socket = simulation.network().connect(a, b.id(), port);
            sleep(10ms);
            ASSERT_TRUE(socket.send(make_message(1)).ok());  // arrives
            sleep(10ms);
            ASSERT_TRUE(socket.send(make_message(2)).ok());  // in flight when the link is cut: lost
            simulation.network().block(a.id(), b.id());
            ASSERT_TRUE(socket.send(make_message(3)).ok());  // cut at the send
            sleep(1s);
        });
        (void)simulation.run(RunBounds{});
        return std::pair{sink.received, simulation.trace().fingerprint()};
    };
    std::vector<MessageRecord> records;
    const auto observed = run(true, &records);
    const auto unobserved = run(false, nullptr);
    EXPECT_EQ(observed, unobserved);
    std::vector<MessageFate> fates;
    for (const MessageRecord& record : records) {
        fates.push_back(record.fate);
        EXPECT_LE(record.sent, record.arrival);
    }
    // 1 and 2 go, 3 is cut (which breaks the connection), and 2, still in flight, is lost on arrival.
    EXPECT_EQ(observed.first, std::vector<int>{1});
    ASSERT_GE(records.size(), 3u);
    EXPECT_EQ(std::count(fates.begin(), fates.end(), MessageFate::cut), 1);
    EXPECT_EQ(std::count(fates.begin(), fates.end(), MessageFate::sent) +
                  std::count(fates.begin(), fates.end(), MessageFate::lost),
              static_cast<std::ptrdiff_t>(records.size()) - 1);
    EXPECT_EQ(std::count(fates.begin(), fates.end(), MessageFate::lost),
              static_cast<std::ptrdiff_t>(2 - observed.first.size()));
}

TEST(Network, ConnectionIsFifoDespiteRandomLatency) {
    Simulation simulation(SimulationOptions{.seed = 11, .network = {.tail_probability = 0.2}});
    Node& a = add_plain_node(simulation, "a");
    Node& b = add_plain_node(simulation, "b");
    Sink sink;
    sink.listen(simulation, b);
    a.spawn("sender", [&] {
        Socket socket = simulation.network().connect(a, b.id(), port);
        for (int i = 0; i < 1000; ++i) {
            ASSERT_TRUE(socket.send(make_message(i)).ok());
            if (i % 10 == 0) {
                sleep(50us);
            }
        }
        sleep(10s);
    });
    (void)simulation.run(RunBounds{});
    ASSERT_EQ(sink.received.size(), 1000U);
    for (int i = 0; i < 1000; ++i) {
        ASSERT_EQ(sink.received[static_cast<std::size_t>(i)], i);
    }
}

// A link limited to 10,000 bytes a second sends 100 messages of 1,000 bytes one after another: the last
// arrives about 10 s after the first was sent, the other direction is not slowed, and lifting the limit
// makes the link quick again.
TEST(Network, ALimitedLinkSendsItsMessagesOneAfterAnotherAtItsBandwidth) {
    Simulation simulation(SimulationOptions{.seed = 5});
    Node& a = add_plain_node(simulation, "a");
    Node& b = add_plain_node(simulation, "b");
    simulation.network().set_message_size([](const Message& message) {
        return static_cast<std::uint64_t>(message.as<int>() >= 0 ? 1000 : 10);
    });
    simulation.network().set_bandwidth(a.id(), b.id(), 10'000);
    std::vector<Time> arrivals;
    std::vector<Socket> accepted;
    Listener listener = simulation.network().listen(b, port, [&](Socket socket) {
        socket.on_message([&](Message&&) { arrivals.push_back(now()); });
        accepted.push_back(std::move(socket));
    });
    Time sent_at{};
    a.spawn("sender", [&] {
        Socket socket = simulation.network().connect(a, b.id(), port);
        sleep(10ms);
        sent_at = now();
        for (int i = 0; i < 100; ++i) {
            ASSERT_TRUE(socket.send(make_message(i)).ok());
        }
        sleep(20s);
        simulation.network().set_bandwidth(a.id(), b.id(), 0);
        const Time quick = now();
        ASSERT_TRUE(socket.send(make_message(100)).ok());
        sleep(1s);
        ASSERT_EQ(arrivals.size(), 101U);
        EXPECT_LT(arrivals.back() - quick, 100ms);
    });
    (void)simulation.run(RunBounds{});
    ASSERT_EQ(arrivals.size(), 101U);
    EXPECT_GE(arrivals.front() - sent_at, 100ms);  // the first message's own 1,000 bytes
    EXPECT_GE(arrivals[99] - sent_at, 10s);
    EXPECT_LT(arrivals[99] - sent_at, 10s + 100ms);
    for (std::size_t i = 1; i < 100; ++i) {
        EXPECT_GE(arrivals[i] - arrivals[i - 1], 50ms) << i;  // one after another (give or take latency)
    }
}

TEST(Network, NothingCrossesAPartitionAndDeliveryResumesAfterHeal) {
    Simulation simulation(SimulationOptions{.seed = 12});
    Node& a = add_plain_node(simulation, "a");
    Node& b = add_plain_node(simulation, "b");
    Sink sink;
    sink.listen(simulation, b);
    std::size_t received_during_partition = 0;
    a.spawn("sender", [&] {
        Socket first = simulation.network().connect(a, b.id(), port);
        ASSERT_TRUE(first.send(make_message(1)).ok());
        sleep(100ms);
        simulation.network().partition(a.id(), b.id());
        const std::size_t before = sink.received.size();
        (void)first.send(make_message(2));  // lost: the partition broke the connection
        Socket during = simulation.network().connect(a, b.id(), port);
        (void)during.send(make_message(3));  // lost: the handshake cannot cross
        sleep(100ms);
        received_during_partition = sink.received.size() - before;
        simulation.network().heal();
        (void)first.send(make_message(4));  // still lost: a broken connection stays broken
        Socket after = simulation.network().connect(a, b.id(), port);
        ASSERT_TRUE(after.send(make_message(5)).ok());
        sleep(100ms);
    });
    (void)simulation.run(RunBounds{});
    EXPECT_EQ(received_during_partition, 0U);
    EXPECT_EQ(sink.received, (std::vector<int>{1, 5}));
}

TEST(Network, HealResetsTheConnectionsAPartitionBrokeWhileUnblockLeavesThemSilentlyBroken) {
    Simulation simulation(SimulationOptions{.seed = 13});
    Node& a = add_plain_node(simulation, "a");
    Node& b = add_plain_node(simulation, "b");
    Sink sink;
    sink.listen(simulation, b);
    bool silent_after_unblock = false;
    bool silent_after_heal = true;
    bool open_after_heal = true;
    a.spawn("sender", [&] {
        Socket socket = simulation.network().connect(a, b.id(), port);
        ASSERT_TRUE(socket.send(make_message(1)).ok());
        sleep(100ms);
        EXPECT_FALSE(simulation.network().silently_broken());
        simulation.network().block(a.id(), b.id());
        simulation.network().unblock(a.id(), b.id());
        silent_after_unblock = simulation.network().silently_broken();  // only a timeout would tell a
        simulation.network().block(a.id(), b.id());
        simulation.network().heal();
        sleep(100ms);  // the resets take one trip
        silent_after_heal = simulation.network().silently_broken();
        open_after_heal = socket.open();
    });
    (void)simulation.run(RunBounds{});
    EXPECT_TRUE(silent_after_unblock);
    EXPECT_FALSE(silent_after_heal);
    EXPECT_FALSE(open_after_heal);
    ASSERT_EQ(sink.sockets.size(), 1U);
    EXPECT_FALSE(sink.sockets[0].open());
}

TEST(Network, OneWayPartitionIsOneWay) {
    Simulation simulation(SimulationOptions{.seed = 13});
    Node& a = add_plain_node(simulation, "a");
    Node& b = add_plain_node(simulation, "b");
    Sink at_a;
    Sink at_b;
    at_a.listen(simulation, a);
    at_b.listen(simulation, b);
    simulation.network().block(a.id(), b.id());
    EXPECT_TRUE(simulation.network().blocked(a.id(), b.id()));
    EXPECT_FALSE(simulation.network().blocked(b.id(), a.id()));
    a.spawn("a-sender", [&] {
        Socket socket = simulation.network().connect(a, b.id(), port);
        (void)socket.send(make_message(1));
        sleep(1s);
    });
    b.spawn("b-sender", [&] {
        Socket socket = simulation.network().connect(b, a.id(), port);
        ASSERT_TRUE(socket.send(make_message(2)).ok());
        sleep(1s);
    });
    (void)simulation.run(RunBounds{});
    EXPECT_TRUE(at_b.received.empty());
    EXPECT_EQ(at_a.received, (std::vector<int>{2}));
}

TEST(Network, IsolateSplitAndBridge) {
    Simulation simulation(SimulationOptions{.seed = 14});
    std::vector<NodeId> ids;
    for (const char* name : {"a", "b", "c", "d", "e"}) {
        ids.push_back(add_plain_node(simulation, name).id());
    }
    Network& network = simulation.network();
    network.isolate(ids[0]);
    for (std::size_t i = 1; i < ids.size(); ++i) {
        EXPECT_TRUE(network.blocked(ids[0], ids[i]));
        EXPECT_TRUE(network.blocked(ids[i], ids[0]));
        EXPECT_FALSE(network.blocked(ids[1], ids[i]) && i != 1);
    }
    network.heal();
    EXPECT_FALSE(network.partitioned());
    network.split({ids[0], ids[1]}, {ids[2], ids[3], ids[4]});
    EXPECT_TRUE(network.blocked(ids[1], ids[3]));
    EXPECT_FALSE(network.blocked(ids[0], ids[1]));
    EXPECT_FALSE(network.blocked(ids[3], ids[4]));
    network.heal();
    network.bridge({ids[0], ids[1], ids[2]}, ids[2], {ids[2], ids[3], ids[4]});
    EXPECT_TRUE(network.blocked(ids[0], ids[4]));
    EXPECT_FALSE(network.blocked(ids[0], ids[2]));
    EXPECT_FALSE(network.blocked(ids[4], ids[2]));
}

Message echo(const Message& request) { return make_message(request.as<int>() * 2); }

TEST(Rpc, CallsAreAnsweredInOrder) {
    Simulation simulation(SimulationOptions{.seed = 15});
    Node& server = add_plain_node(simulation, "server");
    Node& client = add_plain_node(simulation, "client");
    RpcServer rpc_server(server, port, echo);
    std::vector<int> answers;
    client.spawn("caller", [&] {
        RpcClient rpc(client, server.id(), port);
        std::vector<Future<Message>> futures;
        for (int i = 0; i < 5; ++i) {
            futures.push_back(rpc.send(make_message(i)));
        }
        for (const auto& future : futures) {
            Result<Message> response = await(future, 1s);
            ASSERT_TRUE(response.ok()) << response.error().message();
            answers.push_back(response->as<int>());
        }
    });
    (void)simulation.run(RunBounds{});
    EXPECT_EQ(answers, (std::vector<int>{0, 2, 4, 6, 8}));
    EXPECT_EQ(rpc_server.requests_served(), 5U);
}

// The server's handler sleeps long; the server crashes meanwhile.
class SlowServer final : public NodeState {
public:
    explicit SlowServer(Node& node)
        : server_(node, port, [](const Message& request) {
              sleep(1h);
              return request;
          }) {}

private:
    RpcServer server_;
};

TEST(Rpc, ServerCrashFailsPendingRequests) {
    Simulation simulation(SimulationOptions{.seed = 16});
    Node& server = simulation.add_node("server", [](Node& n) { return std::make_unique<SlowServer>(n); });
    server.start();
    Node& client = add_plain_node(simulation, "client");
    std::vector<Result<Message>> outcomes;
    Time failed_at{};
    client.spawn("caller", [&] {
        RpcClient rpc(client, server.id(), port);
        const Future<Message> first = rpc.send(make_message(1));
        const Future<Message> second = rpc.send(make_message(2));
        outcomes.push_back(await(first, 10s));
        outcomes.push_back(await(second, 10s));
        failed_at = now();
    });
    simulation.world().spawn("nemesis", [&] {
        sleep(50ms);
        (void)server.crash();
    });
    (void)simulation.run(RunBounds{});
    ASSERT_EQ(outcomes.size(), 2U);
    EXPECT_EQ(outcomes[0].error(), errc::connection_reset);
    EXPECT_EQ(outcomes[1].error(), errc::connection_reset);
    EXPECT_LT(failed_at, Time(1s)) << "a crash resets the connection: no need to wait for the timeout";
}

TEST(Rpc, PartitionTimesOutThenReconnectsAfterHeal) {
    Simulation simulation(SimulationOptions{.seed = 17});
    Node& server = add_plain_node(simulation, "server");
    Node& client = add_plain_node(simulation, "client");
    RpcServer rpc_server(server, port, echo);
    std::vector<std::error_code> errors;
    int answer = 0;
    client.spawn("caller", [&] {
        RpcClient rpc(client, server.id(), port);
        ASSERT_TRUE(rpc.call(make_message(1), 1s).ok());
        simulation.network().partition(client.id(), server.id());
        errors.push_back(rpc.call(make_message(2), 100ms).error());
        simulation.network().heal();
        Result<Message> response = rpc.call(make_message(21), 1s);
        ASSERT_TRUE(response.ok()) << response.error().message();
        answer = response->as<int>();
    });
    (void)simulation.run(RunBounds{});
    EXPECT_EQ(errors, (std::vector<std::error_code>{make_error_code(errc::timeout)}));
    EXPECT_EQ(answer, 42);
}

TEST(Rpc, ConnectingToANodeThatIsDownIsRefused) {
    Simulation simulation(SimulationOptions{.seed = 18});
    Node& server = simulation.add_node("server", [](Node& n) { return std::make_unique<SlowServer>(n); });
    Node& client = add_plain_node(simulation, "client");
    std::error_code error;
    Time failed_at{};
    client.spawn("caller", [&] {
        RpcClient rpc(client, server.id(), port);
        error = rpc.call(make_message(1), 10s).error();
        failed_at = now();
    });
    (void)simulation.run(RunBounds{});
    EXPECT_EQ(error, errc::connection_reset);
    EXPECT_LT(failed_at, Time(1s));
}

}  // namespace
}  // namespace eosim::sim
