// The DSL on the in-memory driver: stateless operations, grouping with and without a repartition topic,
// count, aggregate and reduce with their changelogs, and tables with tombstones.

#include <gtest/gtest.h>

#include <sstream>

#include "streams_core/dsl.h"
#include "streams_core/test_driver.h"
#include "tests/streams_core/helpers.h"

namespace eosim::streams_core {
namespace {

using testing::rows;


TEST(Dsl, StatelessOperationsKeepOrderAndTimestamps) {
    StreamsBuilder builder("app");
    builder.stream({"in"})
        .filter([](const Record& record) { return record.value->size() > 1; })
        .map_values([](const Record& record) { return Value(*record.value + "!"); })
        .flat_map_values([](const Record& record) { return std::vector<Value>{record.value, record.value}; })
        .filter_not([](const Record& record) { return *record.key == "skip"; })
        .to("out");
    TopologyTestDriver driver(builder.topology(), "app");
    driver.pipe("in", Record{"a", "xy", 7});
    driver.pipe("in", Record{"b", "z", 8});
    driver.pipe("in", Record{"skip", "long", 9});
    driver.pipe("in", Record{"c", "uv", 10});
    EXPECT_EQ(rows(driver.output("out")), (std::vector<std::string>{"a=xy!", "a=xy!", "c=uv!", "c=uv!"}));
    EXPECT_EQ(driver.output("out")[2].record.timestamp_ms, 10);
}

// Word count: lines split into words, regrouped by word through a repartition topic, counted.
TEST(Dsl, WordCountRepartitionsByTheNewKey) {
    const Topology topology = testing::word_count_topology("wc");
    const std::int32_t partitions = 3;
    TopologyTestDriver driver(topology, "wc", partitions);
    ASSERT_EQ(topology.subtopologies().size(), 2U) << "the repartition splits the topology";
    driver.pipe("lines", Record{"1", "the cat and the hat", 1}, 0);
    driver.pipe("lines", Record{"2", "the end", 2}, 1);
    std::map<std::string, std::string> final_counts;
    for (std::int32_t partition = 0; partition < partitions; ++partition) {
        for (const auto& [word, count] : driver.store("counts", partition).all()) {
            EXPECT_EQ(driver.partition_of(word), partition) << word << " counted in the wrong task";
            final_counts[word] = count;
        }
    }
    EXPECT_EQ(final_counts, (std::map<std::string, std::string>{
                                {"and", "1"}, {"cat", "1"}, {"end", "1"}, {"hat", "1"}, {"the", "3"}}));
    // Every update is forwarded (no cache), each to the partition of its word.
    EXPECT_EQ(driver.output("word-counts").size(), 7U);
    for (const auto& output : driver.output("word-counts")) {
        EXPECT_EQ(output.partition, driver.partition_of(output.record.key));
    }
    const std::string repartition = repartition_topic("wc", "KSTREAM-REPARTITION-0000000002");
    EXPECT_EQ(driver.output(repartition).size(), 7U);
    EXPECT_EQ(driver.output("wc-counts-changelog").size(), 7U);
}

TEST(Dsl, AggregateAndReduceSkipNullKeysAndValues) {
    StreamsBuilder builder("app");
    const KStream amounts = builder.stream({"amounts"});
    amounts.group_by_key()
        .aggregate([] { return std::string("0"); },
                   [](const std::string&, const std::string& value, const std::string& sum) {
                       return std::to_string(std::stoll(sum) + std::stoll(value));
                   },
                   "sums");
    amounts.group_by_key().reduce(
        [](const std::string& max, const std::string& value) { return std::stoll(value) > std::stoll(max) ? value : max; },
        "maxes");
    TopologyTestDriver driver(builder.topology(), "app");
    driver.pipe("amounts", Record{"acct", "5", 1});
    driver.pipe("amounts", Record{"acct", "-2", 2});
    driver.pipe("amounts", Record{std::nullopt, "100", 3});
    driver.pipe("amounts", Record{"acct", std::nullopt, 4});
    driver.pipe("amounts", Record{"acct", "4", 5});
    EXPECT_EQ(driver.store("sums").get("acct"), "7");
    EXPECT_EQ(driver.store("maxes").get("acct"), "5");
    EXPECT_EQ(rows(driver.output("app-sums-changelog")), (std::vector<std::string>{"acct=5", "acct=3", "acct=7"}));
}

TEST(Dsl, ATableKeepsTheLatestValueAndATombstoneDeletes) {
    StreamsBuilder builder("app");
    builder.table("users", "users-store").to_stream().to("users-out");
    TopologyTestDriver driver(builder.topology(), "app");
    driver.pipe("users", Record{"u1", "Gold", 1});
    driver.pipe("users", Record{"u2", "Platinum", 2});
    driver.pipe("users", Record{"u1", "Platinum", 3});
    driver.pipe("users", Record{"u2", std::nullopt, 4});
    EXPECT_EQ(driver.store("users-store").all(), (std::map<std::string, std::string>{{"u1", "Platinum"}}));
    EXPECT_EQ(rows(driver.output("app-users-store-changelog")),
              (std::vector<std::string>{"u1=Gold", "u2=Platinum", "u1=Platinum", "u2=null"}));
    EXPECT_EQ(driver.output("users-out").size(), 4U);
}

}  // namespace
}  // namespace eosim::streams_core
