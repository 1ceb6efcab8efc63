// Windows and stream-table joins in the DSL: which windows a timestamp falls in (tumbling, hopping), a
// windowed count that drops records for windows closed by stream time minus grace, and inner and left
// stream-table joins against the table's current rows.

#include <gtest/gtest.h>

#include "streams_core/dsl.h"
#include "streams_core/test_driver.h"
#include "tests/streams_core/helpers.h"

namespace eosim::streams_core {
namespace {

using testing::rows;


TEST(Windows, StartsOfTumblingAndHoppingWindows) {
    const TimeWindows tumbling = TimeWindows::tumbling(5000, 0);
    EXPECT_EQ(tumbling.starts_for(0), (std::vector<std::int64_t>{0}));
    EXPECT_EQ(tumbling.starts_for(4999), (std::vector<std::int64_t>{0}));
    EXPECT_EQ(tumbling.starts_for(7000), (std::vector<std::int64_t>{5000}));
    const TimeWindows hopping = TimeWindows::hopping(10, 5, 0);
    EXPECT_EQ(hopping.starts_for(3), (std::vector<std::int64_t>{0}));
    EXPECT_EQ(hopping.starts_for(12), (std::vector<std::int64_t>{5, 10}));
    EXPECT_EQ(hopping.starts_for(15), (std::vector<std::int64_t>{10, 15}));
    EXPECT_EQ(windowed_key("card", 5000), "card@5000");
}

// fraud-window's shape: a count per card and 5 s tumbling window, kept only above 3.
TEST(Windows, AWindowedCountDropsRecordsOfClosedWindows) {
    StreamsBuilder builder("fraud");
    builder.stream({"attempts"})
        .group_by_key()
        .windowed_by(TimeWindows::tumbling(5000, 2000))
        .count("attempt-counts")
        .to_stream()
        .filter([](const Record& record) { return std::stoll(*record.value) > 3; })
        .to("possible_fraud");
    TopologyTestDriver driver(builder.topology(), "fraud");
    for (const std::int64_t at : {1000, 2000, 3000, 4000}) {
        driver.pipe("attempts", Record{"c1", "x", at});
    }
    driver.pipe("attempts", Record{"c2", "x", 12000});  // stream time 12000: windows ending by 10000 close
    driver.pipe("attempts", Record{"c1", "x", 4500});   // window 0 closed: dropped
    driver.pipe("attempts", Record{"c1", "x", 9000});   // window 5000 ends at 10000: closed, dropped
    driver.pipe("attempts", Record{"c1", "x", 10500});  // window 10000 is open (grace)
    EXPECT_EQ(rows(driver.output("possible_fraud")), (std::vector<std::string>{"c1@0=4"}));
    const auto& counts = driver.store("attempt-counts").all();
    EXPECT_EQ(counts, (std::map<std::string, std::string>{{"c1@0", "4"}, {"c1@10000", "1"}, {"c2@10000", "1"}}));
    EXPECT_EQ(driver.output("fraud-attempt-counts-changelog").size(), 6U);
}

TEST(Windows, HoppingWindowsCountARecordInEachWindowThatHoldsIt) {
    StreamsBuilder builder("app");
    builder.stream({"in"}).group_by_key().windowed_by(TimeWindows::hopping(10, 5, 100)).count("counts");
    TopologyTestDriver driver(builder.topology(), "app");
    driver.pipe("in", Record{"k", "x", 7});
    driver.pipe("in", Record{"k", "x", 12});
    EXPECT_EQ(driver.store("counts").all(),
              (std::map<std::string, std::string>{{"k@0", "1"}, {"k@10", "1"}, {"k@5", "2"}}));
}

// vip-join's shape: clicks left-joined with the users table, kept for Platinum users.
TEST(Joins, StreamTableJoinsReadTheTableAsItIsNow) {
    StreamsBuilder builder("vip");
    const KTable users = builder.table("users", "users-store");
    const KStream clicks = builder.stream({"clickstream"});
    clicks
        .left_join(users, [](const std::string& click, const Value& level) {
            return Value(click + "|" + level.value_or("none"));
        })
        .to("joined");
    clicks.join(users, [](const std::string& click, const Value& level) { return Value(click + "|" + *level); })
        .filter([](const Record& record) { return record.value->ends_with("|Platinum"); })
        .to("vip_actions");
    ASSERT_EQ(builder.topology().subtopologies().size(), 1U) << "the table joins the stream's task";
    const std::int32_t partitions = 2;
    TopologyTestDriver driver(builder.topology(), "vip", partitions);
    driver.pipe("clickstream", Record{"u1", "home", 1});
    driver.pipe("users", Record{"u1", "Platinum", 2});
    driver.pipe("users", Record{"u2", "Gold", 3});
    driver.pipe("clickstream", Record{"u1", "cart", 4});
    driver.pipe("clickstream", Record{"u2", "home", 5});
    driver.pipe("clickstream", Record{std::nullopt, "anon", 6});
    driver.pipe("users", Record{"u1", std::nullopt, 7});
    driver.pipe("clickstream", Record{"u1", "pay", 8});
    EXPECT_EQ(rows(driver.output("joined")),
              (std::vector<std::string>{"u1=home|none", "u1=cart|Platinum", "u2=home|Gold", "u1=pay|none"}));
    EXPECT_EQ(rows(driver.output("vip_actions")), (std::vector<std::string>{"u1=cart|Platinum"}));
}

}  // namespace
}  // namespace eosim::streams_core
