// RapidCheck properties of the runtime. Reproduce a failure with RC_PARAMS="seed=N" (the seed is
// printed on failure), e.g. RC_PARAMS="seed=42" build/release/tests/sim/sim_property_tests.

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

#include "sim/simulation.h"
#include "tests/sim/workload.h"

namespace eosim::sim {
namespace {

constexpr Port port{5};

Node& add_plain_node(Simulation& simulation, const std::string& name) {
    Node& node = simulation.add_node(name, [](Node&) { return std::make_unique<NodeState>(); });
    node.start();
    return node;
}

RC_GTEST_PROP(SimProperties, RandomStreamsAreIndependentOfEachOthersDraws, (std::uint64_t seed, std::uint8_t draws)) {
    const Random root(seed);
    Random untouched = root.fork("a");
    Random parent = root;
    for (int i = 0; i < draws; ++i) {
        (void)parent.next_u64();
    }
    Random after_draws = parent.fork("a");
    RC_ASSERT(untouched.next_u64() == after_draws.next_u64());
    RC_ASSERT(root.fork("a").key() != root.fork("b").key());
}

RC_GTEST_PROP(SimProperties, BelowStaysInRange, (std::uint64_t seed, std::uint64_t bound)) {
    RC_PRE(bound > 0U);
    Random random(seed);
    for (int i = 0; i < 100; ++i) {
        RC_ASSERT(random.below(bound) < bound);
    }
}

RC_GTEST_PROP(SimProperties, FibersWakeInTimeThenSpawnOrder, (const std::vector<std::uint16_t>& delays_us)) {
    Simulation simulation(SimulationOptions{.seed = 1});
    std::vector<std::size_t> woke;
    for (std::size_t i = 0; i < delays_us.size(); ++i) {
        simulation.world().spawn("sleeper", [&woke, &delays_us, i] {
            sleep(Duration(std::chrono::microseconds(delays_us[i])));
            woke.push_back(i);
        });
    }
    (void)simulation.run(RunBounds{});
    std::vector<std::size_t> expected(delays_us.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        expected[i] = i;
    }
    std::stable_sort(expected.begin(), expected.end(),
                     [&delays_us](std::size_t a, std::size_t b) { return delays_us[a] < delays_us[b]; });
    RC_ASSERT(woke == expected);
}

// Whatever the latencies, pauses of the receiver and resets, what a connection delivers is a prefix of
// what was sent, in order, without duplicates.
RC_GTEST_PROP(SimProperties, ConnectionsDeliverAnInOrderPrefix,
              (std::uint64_t seed, std::uint16_t message_count, std::vector<std::uint8_t> pauses_ms)) {
    Simulation simulation(SimulationOptions{.seed = seed, .network = {.tail_probability = 0.1}});
    Node& sender = add_plain_node(simulation, "sender");
    Node& receiver = add_plain_node(simulation, "receiver");
    std::vector<int> received;
    std::vector<Socket> accepted;
    const bool reset = seed % 3 == 0;
    Listener listener = simulation.network().listen(receiver, port, [&](Socket socket) {
        socket.on_message([&received](Message&& message) { received.push_back(message.as<int>()); });
        accepted.push_back(std::move(socket));
    });
    const int count = message_count % 2000;
    sender.spawn("sender", [&] {
        Socket socket = simulation.network().connect(sender, receiver.id(), port);
        for (int i = 0; i < count; ++i) {
            (void)socket.send(make_message(i));
            if (i % 7 == 0) {
                sleep(100us);
            }
            if (reset && i == count / 2) {
                simulation.network().reset_connections(sender.id());
            }
        }
        sleep(10s);
    });
    simulation.world().spawn("pauser", [&] {
        for (const std::uint8_t pause_ms : pauses_ms) {
            sleep(Duration(std::chrono::microseconds(300)));
            receiver.pause(std::chrono::milliseconds(pause_ms));
        }
    });
    (void)simulation.run(RunBounds{});
    for (std::size_t i = 0; i < received.size(); ++i) {
        RC_ASSERT(received[i] == static_cast<int>(i));
    }
    if (!reset) {
        RC_ASSERT(received.size() == static_cast<std::size_t>(count));
    }
}

// Under any partition, a message crosses from a to b only if a -> b is not blocked.
RC_GTEST_PROP(SimProperties, NothingCrossesABlockedPair, (std::uint64_t seed)) {
    Simulation simulation(SimulationOptions{.seed = seed});
    constexpr int node_count = 5;
    std::vector<Node*> nodes;
    std::map<std::pair<std::uint32_t, std::uint32_t>, int> arrived;
    std::vector<Listener> listeners;
    std::vector<Socket> accepted;
    for (int i = 0; i < node_count; ++i) {
        Node& node = add_plain_node(simulation, "n" + std::to_string(i));
        nodes.push_back(&node);
    }
    for (Node* node : nodes) {
        listeners.push_back(simulation.network().listen(*node, port, [&, node](Socket socket) {
            socket.on_message([&arrived, node](Message&& message) {
                ++arrived[{message.as<std::uint32_t>(), node->id().value()}];
            });
            accepted.push_back(std::move(socket));
        }));
    }
    Random random(seed);
    Network& network = simulation.network();
    const auto pick = [&] { return nodes[random.below(nodes.size())]->id(); };
    for (int cuts = static_cast<int>(random.below(6)); cuts > 0; --cuts) {
        switch (random.below(4)) {
            case 0: network.block(pick(), pick()); break;
            case 1: network.partition(pick(), pick()); break;
            case 2: network.isolate(pick()); break;
            default: network.bridge({nodes[0]->id(), nodes[1]->id()}, nodes[2]->id(), {nodes[3]->id(), nodes[4]->id()});
        }
    }
    std::vector<Socket> sockets;
    simulation.world().spawn("senders", [&] {
        for (Node* from : nodes) {
            for (Node* to : nodes) {
                if (from != to) {
                    sockets.push_back(network.connect(*from, to->id(), port));
                    (void)sockets.back().send(make_message(from->id().value()));
                }
            }
        }
    });
    (void)simulation.run(RunBounds{});
    for (Node* from : nodes) {
        for (Node* to : nodes) {
            if (from == to) {
                continue;
            }
            const auto found = arrived.find({from->id().value(), to->id().value()});
            const int count = found == arrived.end() ? 0 : found->second;
            RC_ASSERT(count == (network.blocked(from->id(), to->id()) ? 0 : 1));
        }
    }
}

// After a crash, every sector of a file holds either what was last fsynced there or what was last
// written there; a crash never invents bytes inside a sector (beyond the durable end, zeros).
RC_GTEST_PROP(SimProperties, CrashKeepsEachSectorDurableOrLatest, (std::uint64_t seed)) {
    Simulation simulation(SimulationOptions{.seed = seed});
    constexpr std::uint32_t sector = 512;
    Disk disk(DiskOptions{.sector_bytes = sector}, Random(seed).fork("disk"));
    Random random(seed);
    RC_ASSERT(disk.create("f").ok());
    std::vector<std::byte> latest;
    std::vector<std::byte> durable;
    const int operations = 1 + static_cast<int>(random.below(30));
    for (int op = 0; op < operations; ++op) {
        if (random.chance(0.25)) {
            RC_ASSERT(disk.fsync("f").ok());
            durable = latest;
            continue;
        }
        const std::uint64_t offset = random.below(latest.size() + 1 + 2000);
        std::vector<std::byte> bytes(1 + random.below(3000));
        for (auto& b : bytes) {
            b = static_cast<std::byte>(1 + random.below(255));
        }
        RC_ASSERT(disk.write("f", offset, bytes).ok());
        if (latest.size() < offset + bytes.size()) {
            latest.resize(offset + bytes.size());
        }
        std::copy(bytes.begin(), bytes.end(), latest.begin() + static_cast<std::ptrdiff_t>(offset));
    }
    const UnsyncedFate fate = std::array{UnsyncedFate::lose, UnsyncedFate::keep, UnsyncedFate::tear}[random.below(3)];
    (void)disk.crash(fate);
    const std::vector<std::byte> after = disk.read_all("f").value();
    RC_ASSERT(after.size() >= durable.size());
    RC_ASSERT(after.size() <= latest.size());
    const auto slice = [](const std::vector<std::byte>& bytes, std::size_t begin, std::size_t end) {
        std::vector<std::byte> part(end - begin, std::byte{0});
        for (std::size_t i = begin; i < end && i < bytes.size(); ++i) {
            part[i - begin] = bytes[i];
        }
        return part;
    };
    for (std::size_t begin = 0; begin < after.size(); begin += sector) {
        const std::size_t end = std::min<std::size_t>(after.size(), begin + sector);
        const auto got = slice(after, begin, end);
        RC_ASSERT(got == slice(durable, begin, end) || got == slice(latest, begin, end));
    }
    if (fate == UnsyncedFate::keep) {
        RC_ASSERT(after == latest);
    }
    if (fate == UnsyncedFate::lose) {
        RC_ASSERT(after == durable);
    }
}

// A crash at any moment unwinds every fiber of the node and destroys its state.
RC_GTEST_PROP(SimProperties, CrashAtAnyMomentUnwindsEverything, (std::uint8_t fiber_count, std::uint16_t crash_at_us)) {
    Simulation simulation(SimulationOptions{.seed = fiber_count});
    int alive = 0;
    struct Witness {
        int* counter;
        explicit Witness(int* c) : counter(c) { ++*counter; }
        Witness(const Witness&) = delete;
        Witness& operator=(const Witness&) = delete;
        ~Witness() { --*counter; }
    };
    Node& node = simulation.add_node("n", [](Node&) { return std::make_unique<NodeState>(); });
    node.start();
    for (int i = 0; i < fiber_count % 64; ++i) {
        node.spawn("worker", [&alive, i] {
            const Witness witness(&alive);
            for (int step = 0;; ++step) {
                const Witness inner(&alive);
                sleep(Duration(std::chrono::microseconds(1 + (i * 37 + step * 11) % 500)));
            }
        });
    }
    simulation.world().spawn("nemesis", [&] {
        sleep(Duration(std::chrono::microseconds(crash_at_us)));
        (void)node.crash();
    });
    (void)simulation.run(RunBounds{.time_limit = Time(1s)});
    RC_ASSERT(alive == 0);
    RC_ASSERT(node.fiber_count() == 0U);
    RC_ASSERT(simulation.scheduler().live_fibers() == 1U || simulation.scheduler().live_fibers() == 0U);
}

RC_GTEST_PROP(SimProperties, WorkloadIsDeterministic, (std::uint64_t seed)) {
    const auto first = testing::run_workload(seed, std::chrono::seconds(2));
    const auto second = testing::run_workload(seed, std::chrono::seconds(2));
    RC_ASSERT(first.fingerprint == second.fingerprint);
    RC_ASSERT(first.events == second.events);
}

}  // namespace
}  // namespace eosim::sim
