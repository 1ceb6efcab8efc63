#include "streams_core/stream_task.h"

#include <algorithm>

#include "sim/assert.h"

namespace eosim::streams_core {

StreamTask::StreamTask(const Topology& topology, const Subtopology& subtopology, TaskId id,
                       std::string application_id, RecordCollector& collector,
                       std::function<std::int64_t()> wall_clock_ms)
    : topology_(topology),
      subtopology_(subtopology),
      id_(id),
      application_id_(std::move(application_id)),
      collector_(collector),
      wall_clock_ms_(std::move(wall_clock_ms)) {
    EOSIM_ASSERT(subtopology_.id == id_.subtopology);
}

StreamTask::~StreamTask() = default;

void StreamTask::initialize() {
    EOSIM_ASSERT(!initialized_);
    for (const std::string& name : subtopology_.stores) {
        ChangeLogger logger;
        if (topology_.store(name).logged) {
            logger = [this, topic = changelog_topic(application_id_, name)](const Record& change) {
                collector_.send(topic, id_.partition, change);
            };
        }
        stores_.emplace(name, std::make_unique<KeyValueStore>(name, std::move(logger)));
    }
    for (const std::string& name : subtopology_.nodes) {  // parents were added before their children
        const Topology::Node& node = topology_.node(name);
        if (node.kind != Topology::NodeKind::processor) {
            continue;
        }
        std::unique_ptr<Processor> processor = node.supplier();
        EOSIM_ASSERT_MSG(processor != nullptr, "a processor supplier made nothing");
        current_.push_back(name);
        processor->init(*this);
        current_.pop_back();
        processors_.emplace(name, std::move(processor));
    }
    initialized_ = true;
}

void StreamTask::process(const RecordOrigin& origin, const Record& record) {
    EOSIM_ASSERT(initialized_);
    EOSIM_ASSERT_MSG(subtopology_.source_topics.contains(origin.topic), "a task got a topic it does not read");
    stream_time_ms_ = std::max(stream_time_ms_, record.timestamp_ms);
    origin_ = origin;
    for (const std::string& name : subtopology_.nodes) {
        const Topology::Node& node = topology_.node(name);
        if (node.kind == Topology::NodeKind::source &&
            std::find(node.topics.begin(), node.topics.end(), origin.topic) != node.topics.end()) {
            deliver(name, record);
        }
    }
    origin_.reset();
    punctuate(PunctuationType::stream_time, stream_time_ms_);
}

void StreamTask::punctuate_wall_clock() {
    EOSIM_ASSERT(initialized_);
    punctuate(PunctuationType::wall_clock, wall_clock_ms_());
}

void StreamTask::punctuate(PunctuationType type, std::int64_t now_ms) {
    if (now_ms < 0) {
        return;  // no stream time before the first record
    }
    // Each schedule due fires once, then moves past `now_ms` on its grid (missed ones are skipped, as
    // Kafka's PunctuationSchedule does). A punctuator may schedule or cancel: iterate over a copy of ids.
    std::vector<std::uint64_t> due;
    for (const auto& [id, schedule] : schedules_) {
        if (schedule.type == type && schedule.next_ms <= now_ms) {
            due.push_back(id);
        }
    }
    for (const std::uint64_t id : due) {
        const auto found = schedules_.find(id);
        if (found == schedules_.end()) {
            continue;  // cancelled by an earlier punctuator
        }
        Schedule& schedule = found->second;
        const std::int64_t missed = (now_ms - schedule.next_ms) / schedule.interval_ms;
        schedule.next_ms += (missed + 1) * schedule.interval_ms;
        const std::function<void(std::int64_t)> punctuator = schedule.punctuator;
        current_.push_back(schedule.node);
        punctuator(now_ms);
        current_.pop_back();
    }
}

void StreamTask::close() {
    for (auto it = subtopology_.nodes.rbegin(); it != subtopology_.nodes.rend(); ++it) {
        const auto found = processors_.find(*it);
        if (found != processors_.end()) {
            current_.push_back(*it);
            found->second->close();
            current_.pop_back();
        }
    }
    processors_.clear();
    schedules_.clear();
    initialized_ = false;
}

KeyValueStore& StreamTask::store(const std::string& name) {
    const auto found = stores_.find(name);
    EOSIM_ASSERT_MSG(found != stores_.end(), "the task has no such store");
    return *found->second;
}

void StreamTask::deliver(const std::string& name, const Record& record) {
    const Topology::Node& node = topology_.node(name);
    switch (node.kind) {
        case Topology::NodeKind::sink:
            collector_.send(node.topics.front(), std::nullopt, record);
            return;
        case Topology::NodeKind::source:
            current_.push_back(name);
            forward(record);
            current_.pop_back();
            return;
        case Topology::NodeKind::processor:
            current_.push_back(name);
            processors_.at(name)->process(record);
            current_.pop_back();
            return;
    }
}

void StreamTask::forward(const Record& record) {
    EOSIM_ASSERT_MSG(!current_.empty(), "forward outside a processor");
    const Topology::Node& node = topology_.node(current_.back());
    for (const std::string& child : node.children) {
        deliver(child, record);
    }
}

void StreamTask::forward(const Record& record, const std::string& child) {
    EOSIM_ASSERT_MSG(!current_.empty(), "forward outside a processor");
    const Topology::Node& node = topology_.node(current_.back());
    EOSIM_ASSERT_MSG(std::find(node.children.begin(), node.children.end(), child) != node.children.end(),
                     "forward to a node that is not a child");
    deliver(child, record);
}

std::uint64_t StreamTask::schedule(std::int64_t interval_ms, PunctuationType type,
                                   std::function<void(std::int64_t)> punctuator) {
    EOSIM_ASSERT_MSG(interval_ms >= 1, "a punctuation interval is at least 1 ms");
    EOSIM_ASSERT(!current_.empty());
    // Stream time: aligned on 0, so the first punctuation comes with the first record; wall clock: one
    // interval from now (Kafka's StreamTask.schedule).
    const std::int64_t next_ms = type == PunctuationType::stream_time ? 0 : wall_clock_ms_() + interval_ms;
    const std::uint64_t id = next_schedule_++;
    schedules_.emplace(id, Schedule{current_.back(), interval_ms, next_ms, type, std::move(punctuator)});
    return id;
}

void StreamTask::cancel(std::uint64_t schedule) { schedules_.erase(schedule); }

StateStore& StreamTask::state_store(const std::string& name) {
    EOSIM_ASSERT(!current_.empty());
    const Topology::Node& node = topology_.node(current_.back());
    EOSIM_ASSERT_MSG(std::find(node.stores.begin(), node.stores.end(), name) != node.stores.end(),
                     "a processor asked for a store the topology did not connect to it");
    return store(name);
}

}  // namespace eosim::streams_core
