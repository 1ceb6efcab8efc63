// The processor API on the in-memory driver: sub-topologies, forwarding to all children or one,
// stores connected to processors and logged to their changelog, and punctuations by stream time and by
// wall clock (aligned and skipping missed intervals, as Kafka's PunctuationSchedule).

#include <gtest/gtest.h>

#include "streams_core/test_driver.h"

namespace eosim::streams_core {
namespace {

// Forwards each record with its value upper-cased to the child "upper", and unchanged to "same".
class Splitter final : public Processor {
public:
    void process(const Record& record) override {
        Record upper = record;
        for (char& c : *upper.value) {
            c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
        }
        context().forward(upper, "upper");
        context().forward(record, "same");
    }
};

// Counts records per key in store "counts" and emits every count at each punctuation.
class PunctuatedCounter final : public Processor {
public:
    explicit PunctuatedCounter(PunctuationType type) : type_(type) {}
    void init(ProcessorContext& context) override {
        Processor::init(context);
        context.schedule(10, type_, [this](std::int64_t now) { emit(now); });
    }
    void process(const Record& record) override {
        auto& counts = dynamic_cast<KeyValueStore&>(context().state_store("counts"));
        const auto old = counts.get(*record.key);
        counts.put(*record.key, std::to_string(old ? std::stoll(*old) + 1 : 1), record.timestamp_ms);
    }

private:
    void emit(std::int64_t now) {
        auto& counts = dynamic_cast<KeyValueStore&>(context().state_store("counts"));
        for (const auto& [key, count] : counts.all()) {
            context().forward(Record{key, count + "@" + std::to_string(now), now});
        }
    }
    PunctuationType type_;
};

Topology splitter_topology() {
    Topology topology;
    topology.add_source("in", {"input"})
        .add_processor("split", [] { return std::make_unique<Splitter>(); }, {"in"})
        .add_sink("upper", "upper-topic", {"split"})
        .add_sink("same", "same-topic", {"split"});
    return topology;
}

TEST(Topology, ForwardGoesToOneChildOrAll) {
    const Topology topology = splitter_topology();
    TopologyTestDriver driver(topology, "app");
    driver.pipe("input", Record{"k", "hello", 5});
    ASSERT_EQ(driver.output("upper-topic").size(), 1U);
    EXPECT_EQ(driver.output("upper-topic")[0].record, (Record{"k", "HELLO", 5}));
    ASSERT_EQ(driver.output("same-topic").size(), 1U);
    EXPECT_EQ(driver.output("same-topic")[0].record, (Record{"k", "hello", 5}));
}

TEST(Topology, SubtopologiesAreTheConnectedParts) {
    Topology topology;
    topology.add_source("a", {"ta"})
        .add_sink("a-out", "mid", {"a"})
        .add_source("b", {"mid"})
        .add_processor("b-proc", [] { return std::make_unique<Splitter>(); }, {"b"})
        .add_sink("upper", "x", {"b-proc"})
        .add_sink("same", "y", {"b-proc"})
        .add_source("c", {"tc"})
        .add_processor("c-proc", [] { return std::make_unique<PunctuatedCounter>(PunctuationType::stream_time); },
                       {"c"})
        .add_state_store(StoreSpec{"counts", true}, {"c-proc"});
    const std::vector<Subtopology> parts = topology.subtopologies();
    ASSERT_EQ(parts.size(), 3U);
    EXPECT_EQ(parts[0].source_topics, std::set<std::string>{"ta"});
    EXPECT_EQ(parts[0].sink_topics, std::set<std::string>{"mid"});
    EXPECT_EQ(parts[1].source_topics, std::set<std::string>{"mid"});
    EXPECT_EQ(parts[1].sink_topics, (std::set<std::string>{"x", "y"}));
    EXPECT_EQ(parts[2].stores, std::set<std::string>{"counts"});
    EXPECT_EQ(changelog_topic("app", "counts"), "app-counts-changelog");
}

Topology counter_topology(PunctuationType type, bool logged) {
    Topology topology;
    topology.add_source("in", {"input"})
        .add_processor("count", [type] { return std::make_unique<PunctuatedCounter>(type); }, {"in"})
        .add_state_store(StoreSpec{"counts", logged}, {"count"})
        .add_sink("out", "output", {"count"});
    return topology;
}

std::vector<std::string> values(const std::vector<TopologyTestDriver::Output>& outputs) {
    std::vector<std::string> out;
    for (const auto& output : outputs) {
        out.push_back(*output.record.key + "=" + output.record.value.value_or("null"));
    }
    return out;
}

TEST(Topology, StreamTimePunctuationIsAlignedAndSkipsMissedIntervals) {
    const Topology topology = counter_topology(PunctuationType::stream_time, true);
    TopologyTestDriver driver(topology, "app");
    driver.pipe("input", Record{"a", "x", 3});   // stream time 3: the schedule aligned on 0 fires
    driver.pipe("input", Record{"a", "x", 9});   // 9 < 10: nothing
    driver.pipe("input", Record{"b", "x", 4});   // an older record leaves stream time at 9
    driver.pipe("input", Record{"b", "x", 35});  // 35: fires once (20 and 30 are missed), next at 40
    driver.pipe("input", Record{"a", "x", 39});
    driver.pipe("input", Record{"a", "x", 40});
    EXPECT_EQ(values(driver.output("output")),
              (std::vector<std::string>{"a=1@3", "a=2@35", "b=2@35", "a=4@40", "b=2@40"}));
    EXPECT_EQ(driver.task(TaskId{0, 0}).stream_time(), 40);
    // Every put went to the changelog, in order, at the task's partition.
    EXPECT_EQ(values(driver.output("app-counts-changelog")),
              (std::vector<std::string>{"a=1", "a=2", "b=1", "b=2", "a=3", "a=4"}));
}

TEST(Topology, WallClockPunctuationFollowsTheClockNotTheRecords) {
    const Topology topology = counter_topology(PunctuationType::wall_clock, false);
    TopologyTestDriver driver(topology, "app");
    driver.pipe("input", Record{"a", "x", 1000});
    EXPECT_TRUE(driver.output("output").empty());
    driver.advance_wall_clock(9);
    EXPECT_TRUE(driver.output("output").empty());
    driver.advance_wall_clock(1);  // 10: one interval after scheduling
    driver.advance_wall_clock(25);  // 35: 20 and 30 missed, fires once
    EXPECT_EQ(values(driver.output("output")), (std::vector<std::string>{"a=1@10", "a=1@35"}));
    EXPECT_TRUE(driver.output("app-counts-changelog").empty()) << "an unlogged store has no changelog";
}

}  // namespace
}  // namespace eosim::streams_core
