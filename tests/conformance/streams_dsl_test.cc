// Cases of Kafka Streams' own unit tests, replayed against streams_core on its in-memory driver:
// `TimeWindowsTest` (which windows hold a timestamp; invalid specs refused), `KStreamKTableJoinTest` and
// `KStreamKTableLeftJoinTest` (a stream record joins the table row of its key as the table is then;
// table updates emit nothing; tombstones clear rows; null keys and values are dropped).

#include <gtest/gtest.h>

#include "sim/assert.h"
#include "streams_core/dsl.h"
#include "streams_core/test_driver.h"

namespace eosim::streams_core {
namespace {

// ---- TimeWindowsTest ----------------------------------------------------------------------------

TEST(TimeWindowsTest, ShouldComputeWindowsForHoppingWindows) {
    EXPECT_EQ(TimeWindows::hopping(12, 5, 0).starts_for(21), (std::vector<std::int64_t>{10, 15, 20}));
}

TEST(TimeWindowsTest, ShouldComputeWindowsForBarelyOverlappingHoppingWindows) {
    EXPECT_EQ(TimeWindows::hopping(6, 5, 0).starts_for(7), (std::vector<std::int64_t>{5}));
}

TEST(TimeWindowsTest, ShouldComputeWindowsForTumblingWindows) {
    EXPECT_EQ(TimeWindows::tumbling(12, 0).starts_for(21), (std::vector<std::int64_t>{12}));
}

TEST(TimeWindowsTest, AdvanceMustBePositiveAndNotLargerThanTheSizeAndGraceNotNegative) {
    EXPECT_THROW((void)TimeWindows::hopping(10, 0, 0).starts_for(1), sim::AssertionFailure);
    EXPECT_THROW((void)TimeWindows::hopping(10, -1, 0).starts_for(1), sim::AssertionFailure);
    EXPECT_THROW((void)TimeWindows::hopping(10, 11, 0).starts_for(1), sim::AssertionFailure);
    EXPECT_THROW((void)TimeWindows::tumbling(3, -1).starts_for(1), sim::AssertionFailure);
    EXPECT_EQ(TimeWindows::tumbling(3, 0).starts_for(1), (std::vector<std::int64_t>{0}));
}

// ---- KStreamKTableJoinTest, KStreamKTableLeftJoinTest -----------------------------------------------

// Kafka's fixture: stream "streamTopic" joined with table "tableTopic"; the joiner writes "X+Y".
struct JoinFixture {
    explicit JoinFixture(bool left) : builder("app") {
        const KTable table = builder.table("tableTopic", "table-store");
        const KStream stream = builder.stream({"streamTopic"});
        const ValueJoiner joiner = [](const std::string& x, const Value& y) { return Value(x + "+" + y.value_or("null")); };
        (left ? stream.left_join(table, joiner) : stream.join(table, joiner)).to("outputTopic");
        driver = std::make_unique<TopologyTestDriver>(builder.topology(), "app", 2);
    }
    void stream(int key, const std::string& value, std::int64_t ts = 0) {
        driver->pipe("streamTopic", Record{std::to_string(key), value, ts});
    }
    void table(int key, const Value& value, std::int64_t ts = 0) {
        driver->pipe("tableTopic", Record{std::to_string(key), value, ts});
    }
    std::vector<std::string> take() {
        std::vector<std::string> out;
        const auto& all = driver->output("outputTopic");
        for (std::size_t i = seen; i < all.size(); ++i) {
            out.push_back(*all[i].record.key + ":" + all[i].record.value.value_or("null"));
        }
        seen = all.size();
        return out;
    }

    StreamsBuilder builder;
    std::unique_ptr<TopologyTestDriver> driver;
    std::size_t seen = 0;
};

TEST(KStreamKTableJoinTest, ShouldNotJoinWithEmptyTableOnStreamUpdates) {
    JoinFixture fixture(false);
    fixture.stream(0, "X0");
    fixture.stream(1, "X1");
    EXPECT_TRUE(fixture.take().empty());
}

TEST(KStreamKTableJoinTest, ShouldNotJoinOnTableUpdates) {
    JoinFixture fixture(false);
    fixture.stream(0, "X0");
    fixture.stream(1, "X1");
    fixture.table(0, "Y0");
    fixture.table(1, "Y1");
    EXPECT_TRUE(fixture.take().empty()) << "table updates emit nothing";
    fixture.stream(0, "X0");
    fixture.stream(1, "X1");
    EXPECT_EQ(fixture.take(), (std::vector<std::string>{"0:X0+Y0", "1:X1+Y1"}));
    fixture.table(0, "YY0");
    EXPECT_TRUE(fixture.take().empty());
    fixture.stream(0, "X0");
    EXPECT_EQ(fixture.take(), (std::vector<std::string>{"0:X0+YY0"}));
}

TEST(KStreamKTableJoinTest, ShouldJoinOnlyIfMatchFoundOnStreamUpdates) {
    JoinFixture fixture(false);
    fixture.table(0, "Y0");
    fixture.table(1, "Y1");
    for (int key = 0; key < 4; ++key) {
        fixture.stream(key, "X" + std::to_string(key));
    }
    EXPECT_EQ(fixture.take(), (std::vector<std::string>{"0:X0+Y0", "1:X1+Y1"}));
}

TEST(KStreamKTableJoinTest, ShouldClearTableEntryOnNullValueUpdates) {
    JoinFixture fixture(false);
    for (int key = 0; key < 4; ++key) {
        fixture.table(key, "Y" + std::to_string(key));
    }
    fixture.table(0, std::nullopt);
    fixture.table(1, std::nullopt);
    for (int key = 0; key < 4; ++key) {
        fixture.stream(key, "XX" + std::to_string(key));
    }
    EXPECT_EQ(fixture.take(), (std::vector<std::string>{"2:XX2+Y2", "3:XX3+Y3"}));
}

TEST(KStreamKTableJoinTest, ShouldDropNullKeyAndNullValueStreamRecords) {
    JoinFixture fixture(false);
    fixture.table(0, "Y0");
    fixture.driver->pipe("streamTopic", Record{std::nullopt, "X", 0});
    fixture.driver->pipe("streamTopic", Record{"0", std::nullopt, 0});
    EXPECT_TRUE(fixture.take().empty());
}

TEST(KStreamKTableLeftJoinTest, ShouldJoinWithEmptyTableOnStreamUpdates) {
    JoinFixture fixture(true);
    fixture.stream(0, "X0");
    fixture.stream(1, "X1");
    EXPECT_EQ(fixture.take(), (std::vector<std::string>{"0:X0+null", "1:X1+null"}));
}

TEST(KStreamKTableLeftJoinTest, ShouldJoinRegardlessIfMatchFoundOnStreamUpdates) {
    JoinFixture fixture(true);
    fixture.table(0, "Y0");
    fixture.table(1, "Y1");
    for (int key = 0; key < 4; ++key) {
        fixture.stream(key, "X" + std::to_string(key));
    }
    EXPECT_EQ(fixture.take(), (std::vector<std::string>{"0:X0+Y0", "1:X1+Y1", "2:X2+null", "3:X3+null"}));
}

TEST(KStreamKTableLeftJoinTest, ShouldClearTableEntryOnNullValueUpdates) {
    JoinFixture fixture(true);
    for (int key = 0; key < 4; ++key) {
        fixture.table(key, "Y" + std::to_string(key));
    }
    fixture.table(0, std::nullopt);
    fixture.table(1, std::nullopt);
    for (int key = 0; key < 4; ++key) {
        fixture.stream(key, "XX" + std::to_string(key));
    }
    EXPECT_EQ(fixture.take(), (std::vector<std::string>{"0:XX0+null", "1:XX1+null", "2:XX2+Y2", "3:XX3+Y3"}));
}

}  // namespace
}  // namespace eosim::streams_core
