#include "streams_core/test_driver.h"

#include "protocol/partitioner.h"
#include "sim/assert.h"

namespace eosim::streams_core {

TopologyTestDriver::TopologyTestDriver(const Topology& topology, std::string application_id,
                                       std::int32_t partitions)
    : topology_(topology),
      application_id_(std::move(application_id)),
      partitions_(partitions),
      subtopologies_(topology.subtopologies()) {
    EOSIM_ASSERT(partitions_ >= 1);
    for (const Subtopology& part : subtopologies_) {
        for (std::int32_t partition = 0; partition < partitions_; ++partition) {
            const TaskId id{part.id, partition};
            RecordCollector& collector = *this;
            auto task = std::make_unique<StreamTask>(topology_, part, id, application_id_, collector,
                                                     [this] { return wall_clock_ms_; });
            task->initialize();
            tasks_.emplace(id, std::move(task));
        }
    }
}

TopologyTestDriver::~TopologyTestDriver() {
    for (auto& [id, task] : tasks_) {
        task->close();
    }
}

std::int32_t TopologyTestDriver::partition_of(const std::optional<std::string>& key) const {
    return key ? protocol::kafka_partition(*key, partitions_) : 0;
}

void TopologyTestDriver::pipe(const std::string& topic, const Record& record, std::optional<std::int32_t> partition) {
    pending_.push_back(Pending{topic, partition.value_or(partition_of(record.key)), record});
    drain();
}

void TopologyTestDriver::advance_wall_clock(std::int64_t ms) {
    EOSIM_ASSERT(ms >= 0);
    wall_clock_ms_ += ms;
    for (auto& [id, task] : tasks_) {
        task->punctuate_wall_clock();
    }
    drain();
}

void TopologyTestDriver::send(const std::string& topic, std::optional<std::int32_t> partition, const Record& record) {
    const std::int32_t to = partition.value_or(partition_of(record.key));
    EOSIM_ASSERT(to >= 0 && to < partitions_);
    outputs_[topic].push_back(Output{to, record});
    if (topology_.source_topics().contains(topic)) {
        pending_.push_back(Pending{topic, to, record});
    }
}

void TopologyTestDriver::drain() {
    if (draining_) {
        return;  // a record written while one is processed waits for it to finish
    }
    draining_ = true;
    while (!pending_.empty()) {
        const Pending next = pending_.front();
        pending_.pop_front();
        EOSIM_ASSERT_MSG(next.partition >= 0 && next.partition < partitions_, "no such partition");
        const std::int64_t offset = next_offset_[next.topic + "-" + std::to_string(next.partition)]++;
        for (const Subtopology& part : subtopologies_) {
            if (part.source_topics.contains(next.topic)) {
                tasks_.at(TaskId{part.id, next.partition})
                    ->process(RecordOrigin{next.topic, next.partition, offset}, next.record);
            }
        }
    }
    draining_ = false;
}

const std::vector<TopologyTestDriver::Output>& TopologyTestDriver::output(const std::string& topic) const {
    static const std::vector<Output> none;
    const auto found = outputs_.find(topic);
    return found != outputs_.end() ? found->second : none;
}

KeyValueStore& TopologyTestDriver::store(const std::string& name, std::int32_t partition) {
    for (const Subtopology& part : subtopologies_) {
        if (part.stores.contains(name)) {
            return tasks_.at(TaskId{part.id, partition})->store(name);
        }
    }
    EOSIM_ASSERT_MSG(false, "no task holds that store");
    return tasks_.begin()->second->store(name);
}

StreamTask& TopologyTestDriver::task(TaskId id) {
    const auto found = tasks_.find(id);
    EOSIM_ASSERT_MSG(found != tasks_.end(), "no such task");
    return *found->second;
}

}  // namespace eosim::streams_core
