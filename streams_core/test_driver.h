#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "streams_core/stream_task.h"
#include "streams_core/topology.h"

namespace eosim::streams_core {

// A topology run in memory with no brokers (Kafka's TopologyTestDriver): every task of every
// sub-topology over `partitions` partitions, input piped in by hand, records written to a topic the
// topology also reads (a repartition topic) processed at once, in the order written. Output topics,
// changelogs included, keep every record with its partition. For unit tests of topologies and of the
// DSL; the streams engine that runs over a cluster is separate.
class TopologyTestDriver final : private RecordCollector {
public:
    struct Output {
        std::int32_t partition = 0;
        Record record;
        bool operator==(const Output&) const = default;
    };

    TopologyTestDriver(const Topology& topology, std::string application_id, std::int32_t partitions = 1);
    TopologyTestDriver(const TopologyTestDriver&) = delete;
    TopologyTestDriver& operator=(const TopologyTestDriver&) = delete;
    ~TopologyTestDriver() override;

    // Feeds `record` to `topic` (to `partition`, or to its key's partition) and processes everything it
    // leads to.
    void pipe(const std::string& topic, const Record& record, std::optional<std::int32_t> partition = {});
    // Moves the wall clock on and runs the wall-clock punctuations that makes due.
    void advance_wall_clock(std::int64_t ms);

    [[nodiscard]] const std::vector<Output>& output(const std::string& topic) const;
    // The store `name` of the task of `partition`.
    [[nodiscard]] KeyValueStore& store(const std::string& name, std::int32_t partition = 0);
    [[nodiscard]] StreamTask& task(TaskId id);
    [[nodiscard]] std::int32_t partition_of(const std::optional<std::string>& key) const;

private:
    struct Pending {
        std::string topic;
        std::int32_t partition = 0;
        Record record;
    };

    void send(const std::string& topic, std::optional<std::int32_t> partition, const Record& record) override;
    void drain();

    const Topology& topology_;
    const std::string application_id_;
    const std::int32_t partitions_;
    std::vector<Subtopology> subtopologies_;
    std::map<TaskId, std::unique_ptr<StreamTask>> tasks_;
    std::map<std::string, std::vector<Output>> outputs_;
    std::map<std::string, std::int64_t> next_offset_;  // per "topic-partition"
    std::deque<Pending> pending_;
    std::int64_t wall_clock_ms_ = 0;
    bool draining_ = false;
};

}  // namespace eosim::streams_core
