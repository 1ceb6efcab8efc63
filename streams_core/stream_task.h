#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "streams_core/processor.h"
#include "streams_core/state_store.h"
#include "streams_core/topology.h"

namespace eosim::streams_core {

// Where a task's output goes: its sinks' records (partition none: by the key, as the producer's
// default partitioner) and its stores' changelog records (the task's own partition).
class RecordCollector {
public:
    RecordCollector() = default;
    RecordCollector(const RecordCollector&) = delete;
    RecordCollector& operator=(const RecordCollector&) = delete;
    virtual ~RecordCollector() = default;

    virtual void send(const std::string& topic, std::optional<std::int32_t> partition, const Record& record) = 0;
};

// One sub-topology running over one partition (Kafka's StreamTask, without its record queues, which
// the thread that runs it keeps): its processors and stores, its stream time and its punctuations.
class StreamTask final : private ProcessorContext {
public:
    StreamTask(const Topology& topology, const Subtopology& subtopology, TaskId id, std::string application_id,
               RecordCollector& collector, std::function<std::int64_t()> wall_clock_ms);
    StreamTask(const StreamTask&) = delete;
    StreamTask& operator=(const StreamTask&) = delete;
    ~StreamTask() override;

    // Makes the stores and processors and calls each processor's init, parents before children.
    void initialize();
    // Runs one input record of `origin.topic` through the sub-topology, then the stream-time
    // punctuations it makes due.
    void process(const RecordOrigin& origin, const Record& record);
    // Runs the wall-clock punctuations due at the current wall clock.
    void punctuate_wall_clock();
    // Calls each processor's close, children last.
    void close();

    [[nodiscard]] TaskId id() const { return id_; }
    [[nodiscard]] std::int64_t stream_time() const { return stream_time_ms_; }
    // Stream time as a previous owner left it (the partition times committed with its offsets): the task
    // starts from there instead of from nothing.
    void initialize_stream_time(std::int64_t ms) { stream_time_ms_ = std::max(stream_time_ms_, ms); }
    [[nodiscard]] KeyValueStore& store(const std::string& name);
    [[nodiscard]] const std::map<std::string, std::unique_ptr<KeyValueStore>>& stores() const { return stores_; }

private:
    struct Schedule {
        std::string node;
        std::int64_t interval_ms = 0;
        std::int64_t next_ms = 0;
        PunctuationType type = PunctuationType::stream_time;
        std::function<void(std::int64_t)> punctuator;
    };

    // ProcessorContext
    void forward(const Record& record) override;
    void forward(const Record& record, const std::string& child) override;
    std::uint64_t schedule(std::int64_t interval_ms, PunctuationType type,
                           std::function<void(std::int64_t)> punctuator) override;
    void cancel(std::uint64_t schedule) override;
    StateStore& state_store(const std::string& name) override;
    [[nodiscard]] TaskId task_id() const override { return id_; }
    [[nodiscard]] const RecordOrigin* origin() const override { return origin_ ? &*origin_ : nullptr; }
    [[nodiscard]] std::int64_t stream_time_ms() const override { return stream_time_ms_; }
    [[nodiscard]] std::int64_t wall_clock_ms() const override { return wall_clock_ms_(); }

    // Runs `record` through node `name` (a processor's process, a sink's send, a source's forward).
    void deliver(const std::string& name, const Record& record);
    void punctuate(PunctuationType type, std::int64_t now_ms);

    const Topology& topology_;
    const Subtopology subtopology_;
    const TaskId id_;
    const std::string application_id_;
    RecordCollector& collector_;
    std::function<std::int64_t()> wall_clock_ms_;
    std::map<std::string, std::unique_ptr<Processor>> processors_;
    std::map<std::string, std::unique_ptr<KeyValueStore>> stores_;
    std::map<std::uint64_t, Schedule> schedules_;
    std::uint64_t next_schedule_ = 1;
    std::vector<std::string> current_;  // the node whose code runs, innermost last
    std::optional<RecordOrigin> origin_;
    std::int64_t stream_time_ms_ = -1;  // none yet
    bool initialized_ = false;
};

}  // namespace eosim::streams_core
