#include "tests/sim/workload.h"

#include <string>
#include <vector>

#include "sim/rpc.h"
#include "sim/simulation.h"

namespace eosim::sim::testing {

namespace {

constexpr Port service_port{7};
constexpr int node_count = 4;

struct Counters {
    std::uint64_t rpc_ok = 0;
    std::uint64_t rpc_failed = 0;
};

std::span<const std::byte> as_bytes(const std::string& text) {
    return std::as_bytes(std::span(text.data(), text.size()));
}

// One process of the workload: serves appends to its log and calls its peers.
class WorkloadNode final : public NodeState {
public:
    WorkloadNode(Node& node, Counters& counters)
        : node_(node), counters_(counters), server_(node, service_port, [this](const Message& m) { return serve(m); }) {
        Disk& disk = node.disk();
        (void)disk.create("log");
        trace("WorkloadBoot").detail("log_bytes", disk.size("log").value());
        for (int peer = 1; peer <= node_count; ++peer) {
            if (peer != static_cast<int>(node.id().value())) {
                clients_.push_back(std::make_unique<RpcClient>(node, NodeId(static_cast<std::uint32_t>(peer)), service_port));
            }
        }
        node.spawn("caller", [this] { call_loop(); });
        node.spawn("producer", [this] { produce_loop(); });
        node.spawn("consumer", [this] { consume_loop(); });
        arm_timer();
    }

private:
    Message serve(const Message& request) {
        const auto value = request.as<std::uint64_t>();
        if (node_.random().chance(0.2) || buggify("slow-serve")) {
            sleep(Duration(node_.random().between(0, 5'000'000)));
        }
        const std::string record = std::to_string(value) + "\n";
        if (!node_.disk().append("log", as_bytes(record))) {
            return make_message(std::uint64_t{0});
        }
        if (node_.random().chance(0.3)) {
            (void)node_.disk().fsync("log");
        }
        return make_message(node_.disk().size("log").value());
    }

    void call_loop() {
        while (true) {
            sleep(Duration(node_.random().between(100'000, 20'000'000)));
            RpcClient& client = *clients_[node_.random().below(clients_.size())];
            const std::uint64_t value = node_.random().next_u64() % 1'000'000;
            Result<Message> response = client.call(make_message(value), 50ms);
            if (response) {
                ++counters_.rpc_ok;
                trace("WorkloadReply").detail("peer", client.server()).detail("size", response->as<std::uint64_t>());
            } else {
                ++counters_.rpc_failed;
                trace("WorkloadCallFailed").detail("peer", client.server()).detail("error", response.error().message());
            }
        }
    }

    void produce_loop() {
        for (std::uint64_t n = 0;; ++n) {
            sleep(Duration(node_.random().between(1'000'000, 30'000'000)));
            queue_.push(n);
        }
    }

    void consume_loop() {
        while (true) {
            Result<std::uint64_t> item = receive(queue_, 25ms);
            trace("WorkloadConsume").detail("ok", item.ok()).detail("item", item ? item.value() : 0);
        }
    }

    void arm_timer() {
        node_.after(Duration(node_.random().between(5'000'000, 50'000'000)), [this] {
            trace("WorkloadTimer").detail("local", local_now());
            arm_timer();
        });
    }

    Node& node_;
    Counters& counters_;
    RpcServer server_;
    std::vector<std::unique_ptr<RpcClient>> clients_;
    Channel<std::uint64_t> queue_;
};

std::vector<NodeId> draw_side(Random& random, const std::vector<NodeId>& ids, std::vector<NodeId>& rest) {
    std::vector<NodeId> shuffled = ids;
    random.shuffle(shuffled);
    const std::size_t cut = 1 + random.below(shuffled.size() - 1);
    rest.assign(shuffled.begin() + static_cast<std::ptrdiff_t>(cut), shuffled.end());
    shuffled.resize(cut);
    return shuffled;
}

void nemesis_step(Simulation& simulation, Random& random, const std::vector<NodeId>& ids) {
    Network& network = simulation.network();
    Node& target = simulation.node(ids[random.below(ids.size())]);
    switch (random.below(12)) {
        case 0:
            if (target.up()) {
                (void)target.crash();
            }
            break;
        case 1:
        case 2:
            for (const NodeId id : ids) {
                if (!simulation.node(id).up()) {
                    simulation.node(id).restart();
                }
            }
            break;
        case 3:
            if (target.up()) {
                target.pause(Duration(random.between(1'000'000, 200'000'000)));
            }
            break;
        case 4: network.block(target.id(), ids[random.below(ids.size())]); break;
        case 5: network.isolate(target.id()); break;
        case 6: {
            std::vector<NodeId> rest;
            const std::vector<NodeId> side = draw_side(random, ids, rest);
            if (random.chance(0.5)) {
                network.split(side, rest);
            } else {
                network.bridge(side, target.id(), rest);
            }
            break;
        }
        case 7:
        case 11: network.heal(); break;
        case 8: network.reset_connections(target.id()); break;
        case 9: (void)target.disk().corrupt_random_bit(); break;
        case 10:
            network.set_latency_spike(Duration(random.between(1'000'000, 100'000'000)),
                                      simulation.now() + Duration(random.between(10'000'000, 500'000'000)));
            target.clock().jump(Duration(random.between(-1'000'000'000, 1'000'000'000)));
            break;
        default: break;
    }
}

}  // namespace

WorkloadResult run_workload(std::uint64_t seed, Duration length) {
    Simulation simulation(SimulationOptions{.seed = seed, .buggify = seed % 2 == 0});
    Counters counters;
    std::vector<NodeId> ids;
    for (int i = 1; i <= node_count; ++i) {
        Node& node = simulation.add_node("n" + std::to_string(i), [&counters](Node& booted) {
            return std::make_unique<WorkloadNode>(booted, counters);
        });
        ids.push_back(node.id());
        Random& random = node.random();
        node.clock().set_drift(simulation.now(), static_cast<double>(random.between(-200, 200)));
    }
    for (const NodeId id : ids) {
        simulation.node(id).start();
    }
    simulation.world().spawn("nemesis", [&simulation, &ids, length] {
        Random random = simulation.random().fork("nemesis");
        while (now() < Time(length)) {
            sleep(Duration(random.between(10'000'000, 300'000'000)));
            nemesis_step(simulation, random, ids);
        }
    });
    const RunOutcome outcome = simulation.run(RunBounds{.time_limit = Time(length + 1s), .max_events = 5'000'000});
    WorkloadResult result;
    result.events = outcome.events;
    for (const NodeId id : ids) {
        result.crashes += simulation.node(id).crash_count();
        result.disk_bytes += simulation.node(id).disk().used_bytes();
    }
    result.rpc_ok = counters.rpc_ok;
    result.rpc_failed = counters.rpc_failed;
    result.fingerprint = simulation.fingerprint();
    return result;
}

}  // namespace eosim::sim::testing
