#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "streams_core/record.h"

namespace eosim::streams_core {

class StateStore;

// What a punctuation's schedule follows (Kafka's PunctuationType).
enum class PunctuationType : std::uint8_t {
    stream_time,  // the task's stream time: the largest record timestamp it has processed
    wall_clock,   // the instance's own clock
};

// A processor's view of its task (Kafka's ProcessorContext of the processor API).
class ProcessorContext {
public:
    ProcessorContext() = default;
    ProcessorContext(const ProcessorContext&) = delete;
    ProcessorContext& operator=(const ProcessorContext&) = delete;
    virtual ~ProcessorContext() = default;

    // Passes `record` to every child of the current processor, or to the child named `child` only.
    virtual void forward(const Record& record) = 0;
    virtual void forward(const Record& record, const std::string& child) = 0;
    // Calls `punctuator` every `interval_ms` of `type`'s time, from the first multiple of the interval
    // after now on; returns a handle that cancels it.
    virtual std::uint64_t schedule(std::int64_t interval_ms, PunctuationType type,
                                   std::function<void(std::int64_t timestamp_ms)> punctuator) = 0;
    virtual void cancel(std::uint64_t schedule) = 0;
    // A store the topology connected to the current processor (asserts it was).
    virtual StateStore& state_store(const std::string& name) = 0;

    [[nodiscard]] virtual TaskId task_id() const = 0;
    // The input record being processed (none during a punctuation).
    [[nodiscard]] virtual const RecordOrigin* origin() const = 0;
    [[nodiscard]] virtual std::int64_t stream_time_ms() const = 0;
    [[nodiscard]] virtual std::int64_t wall_clock_ms() const = 0;
};

// One node of a topology's logic (Kafka's Processor<K, V, K, V>): init once per task, then process
// each record the node's parents forward, then close.
class Processor {
public:
    Processor() = default;
    Processor(const Processor&) = delete;
    Processor& operator=(const Processor&) = delete;
    virtual ~Processor() = default;

    virtual void init(ProcessorContext& context) { context_ = &context; }
    virtual void process(const Record& record) = 0;
    virtual void close() {}

protected:
    [[nodiscard]] ProcessorContext& context() const { return *context_; }

private:
    ProcessorContext* context_ = nullptr;
};

// Makes a new processor per task.
using ProcessorSupplier = std::function<std::unique_ptr<Processor>()>;

}  // namespace eosim::streams_core
