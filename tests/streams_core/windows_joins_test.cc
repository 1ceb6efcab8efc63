// Windows and stream-table joins in the DSL: which windows a timestamp falls in (tumbling, hopping), a
// windowed count that drops records for windows closed by stream time minus grace, session windows
// (merging, the order merged aggregates fold in, rows of keys that contain `@`, the close time), and inner
// and left stream-table joins against the table's current rows.

#include <gtest/gtest.h>

#include "sim/assert.h"
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

// A session aggregation that concatenates: the aggregator appends the value, the merger joins two
// aggregates in the order given, so the output shows the order sessions were merged in.
Topology session_concat_topology(SessionWindows windows) {
    StreamsBuilder builder("app");
    builder.stream({"in"})
        .group_by_key()
        .windowed_by(windows)
        .aggregate([] { return std::string(); },
                   [](const std::string&, const std::string& value, const std::string& aggregate) {
                       return aggregate + value;
                   },
                   [](const std::string&, const std::string& one, const std::string& two) { return one + two; },
                   "sessions")
        .to_stream()
        .to("out");
    return builder.topology();
}

TEST(Sessions, SessionKeysNameBothEnds) {
    EXPECT_EQ(session_key("user", 0, 0), "user@0-0");
    EXPECT_EQ(session_key("user", 1000, 2500), "user@1000-2500");
    EXPECT_THROW((void)session_key("user", 10, 9), sim::AssertionFailure);
}

TEST(Sessions, ARecordBetweenTwoSessionsMergesThemInEndOrder) {
    const Topology topology = session_concat_topology(SessionWindows::with_inactivity_gap(10, 100));
    TopologyTestDriver driver(topology, "app");
    driver.pipe("in", Record{"k", "y", 20});
    driver.pipe("in", Record{"k", "x", 0});   // 20 apart: a second session
    driver.pipe("in", Record{"k", "z", 10});  // within 10 of both: one session [0, 20]
    EXPECT_EQ(rows(driver.output("out")),
              (std::vector<std::string>{"k@20-20=y", "k@0-0=x", "k@0-0=null", "k@20-20=null", "k@0-20=xyz"}));
    std::vector<std::int64_t> timestamps;
    for (const auto& output : driver.output("out")) {
        timestamps.push_back(output.record.timestamp_ms);
    }
    EXPECT_EQ(timestamps, (std::vector<std::int64_t>{20, 0, 0, 20, 20})) << "each record at its session's end";
    EXPECT_EQ(driver.store("sessions").all(), (std::map<std::string, std::string>{{"k@0-20", "xyz"}}));
    // The changelog has every put and delete, at the time of the record that caused it.
    const auto& changelog = driver.output("app-sessions-changelog");
    EXPECT_EQ(rows(changelog),
              (std::vector<std::string>{"k@20-20=y", "k@0-0=x", "k@0-0=null", "k@20-20=null", "k@0-20=xyz"}));
    EXPECT_EQ(changelog.back().record.timestamp_ms, 10);
}

TEST(Sessions, RecordsExactlyTheGapApartShareASession) {
    const Topology topology = session_concat_topology(SessionWindows::with_inactivity_gap(10, 100));
    TopologyTestDriver driver(topology, "app");
    driver.pipe("in", Record{"k", "a", 0});
    driver.pipe("in", Record{"k", "b", 10});  // exactly the gap: the same session
    driver.pipe("in", Record{"k", "c", 21});  // 11 after the session's end: a new one
    EXPECT_EQ(driver.store("sessions").all(), (std::map<std::string, std::string>{{"k@0-10", "ab"}, {"k@21-21", "c"}}));
}

TEST(Sessions, RowsOfKeysThatContainTheSeparatorAreNotMixedUp) {
    const Topology topology = session_concat_topology(SessionWindows::with_inactivity_gap(10, 100));
    TopologyTestDriver driver(topology, "app");
    driver.pipe("in", Record{"a@5", "1", 5});    // row a@5@5-5
    driver.pipe("in", Record{"a@5-5", "2", 5});  // row a@5-5@5-5
    driver.pipe("in", Record{"a", "3", 6});      // prefix a@ sees both rows above, which are not a's sessions
    driver.pipe("in", Record{"a@5", "4", 7});
    EXPECT_EQ(driver.store("sessions").all(),
              (std::map<std::string, std::string>{{"a@5@5-7", "14"}, {"a@5-5@5-5", "2"}, {"a@6-6", "3"}}));
}

// Kafka closes a session once stream time passes its end plus the gap plus the grace (KAFKA-12718), and
// judges a record by the session it would end up in.
TEST(Sessions, ALateRecordIsKeptWhenItJoinsAnOpenSession) {
    const Topology topology = session_concat_topology(SessionWindows::with_inactivity_gap(10, 0));
    TopologyTestDriver driver(topology, "app");
    driver.pipe("in", Record{"k", "a", 100});
    driver.pipe("in", Record{"other", "x", 105});  // stream time 105: sessions ending before 95 are closed
    driver.pipe("in", Record{"k", "b", 92});       // joins [100, 100]: session [92, 100] is open
    driver.pipe("in", Record{"j", "c", 92});       // a session of its own [92, 92]: closed, dropped
    driver.pipe("in", Record{"j", "d", 96});       // [96, 96] is open
    EXPECT_EQ(driver.store("sessions").all(),
              (std::map<std::string, std::string>{{"j@96-96", "d"}, {"k@92-100", "ab"}, {"other@105-105", "x"}}));
}

// Kafka's session store keeps a session for the gap plus the grace after its end (the DSL's default
// retention), so a closed session is not found again: a record within the gap of it starts a new one.
TEST(Sessions, AClosedSessionIsNotExtended) {
    const Topology topology = session_concat_topology(SessionWindows::with_inactivity_gap(10, 0));
    TopologyTestDriver driver(topology, "app");
    driver.pipe("in", Record{"k", "a", 0});
    driver.pipe("in", Record{"other", "x", 20});  // stream time 20: sessions ending at 10 or before are closed
    driver.pipe("in", Record{"k", "b", 10});      // within the gap of [0, 0], which is closed: a new session
    EXPECT_EQ(rows(driver.output("out")), (std::vector<std::string>{"k@0-0=a", "other@20-20=x", "k@10-10=b"}));
    EXPECT_EQ(driver.store("sessions").all(),
              (std::map<std::string, std::string>{{"k@0-0", "a"}, {"k@10-10", "b"}, {"other@20-20", "x"}}));
}

TEST(Sessions, NullKeysAndNullValuesAreSkipped) {
    const Topology topology = session_concat_topology(SessionWindows::with_inactivity_gap(10, 0));
    TopologyTestDriver driver(topology, "app");
    driver.pipe("in", Record{std::nullopt, "a", 1});
    driver.pipe("in", Record{"k", std::nullopt, 2});
    EXPECT_TRUE(driver.output("out").empty());
    EXPECT_TRUE(driver.store("sessions").all().empty());
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
