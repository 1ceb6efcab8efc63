#pragma once

// The group coordinator alone on a simulated node, over offsets partitions kept in memory, for tests
// that drive it request by request: its waits, deadlines and expiry loop run in simulated time.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker_core/group_coordinator.h"
#include "sim/simulation.h"

namespace eosim::broker_core::test_harness {

// The coordinator over `partitions` offsets partitions, of which it leads those in `led` (epoch 1).
class CoordinatorNode final : public sim::NodeState {
public:
    CoordinatorNode(sim::Node& node, GroupCoordinatorConfig config, std::int32_t partitions)
        : coordinator(node, config, GroupLogAccess{
              .append = [this](std::int32_t partition, std::int32_t, protocol::RecordBatch batch, const std::string&) {
                  Log& log = logs_[partition];
                  batch.base_offset = protocol::Offset(log.end);
                  log.end += static_cast<std::int64_t>(batch.records.size());
                  log.batches.push_back(batch);
                  return GroupAppendResult{protocol::ErrorCode::none, batch.base_offset};
              },
              .read = [this](std::int32_t partition, std::int32_t) { return std::optional(logs_[partition].batches); },
              .partition_count = [partitions] { return partitions; }}) {}

    GroupCoordinator coordinator;

private:
    struct Log {
        std::vector<protocol::RecordBatch> batches;
        std::int64_t end = 0;
    };
    std::map<std::int32_t, Log> logs_;
};

class CoordinatorHarness {
public:
    explicit CoordinatorHarness(GroupCoordinatorConfig config = {}, std::int32_t partitions = 1,
                                std::vector<std::int32_t> led = {0}, std::uint64_t seed = 7)
        : simulation(sim::SimulationOptions{.seed = seed}) {
        node = &simulation.add_node("broker", [config, partitions](sim::Node& n) {
            return std::make_unique<CoordinatorNode>(n, config, partitions);
        });
        node->start();
        for (const std::int32_t partition : led) {
            coordinator().on_election(partition, 1);
        }
        (void)run_until([this] { return coordinator().idle(); }, std::chrono::seconds(1));
    }

    GroupCoordinator& coordinator() { return node->state<CoordinatorNode>().coordinator; }

    // Runs the simulation until `done` (true) or for `limit` of simulated time (false).
    bool run_until(const std::function<bool()>& done, sim::Duration limit) {
        const auto outcome = simulation.run(sim::RunBounds{.time_limit = simulation.now() + limit}, done);
        return outcome.status == sim::RunStatus::done;
    }
    void run_for(sim::Duration duration) {
        const sim::Time until = simulation.now() + duration;
        (void)simulation.run(sim::RunBounds{.time_limit = until}, [this, until] { return simulation.now() >= until; });
    }

    // Sends `request` from a fiber; the answer arrives in the returned slot once the coordinator gives it.
    template <typename Response, typename Request>
    std::shared_ptr<std::optional<Response>> send(const Request& request) {
        auto answer = std::make_shared<std::optional<Response>>();
        node->spawn("request", [this, request, answer] {
            *answer = coordinator().handle(sim::make_message(request))->template as<Response>();
        });
        return answer;
    }
    // Sends `request` and waits for its answer (nothing: none within `limit`).
    template <typename Response, typename Request>
    std::optional<Response> call(const Request& request, sim::Duration limit = std::chrono::seconds(5)) {
        const auto answer = send<Response>(request);
        (void)run_until([&answer] { return answer->has_value(); }, limit);
        return *answer;
    }

    sim::Simulation simulation;
    sim::Node* node = nullptr;
};

}  // namespace eosim::broker_core::test_harness
