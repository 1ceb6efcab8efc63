// Cases of Kafka Streams' own unit tests, replayed against streams_core on its in-memory driver:
// `TimeWindowsTest` (which windows hold a timestamp; invalid specs refused), `KStreamKTableJoinTest` and
// `KStreamKTableLeftJoinTest` (a stream record joins the table row of its key as the table is then;
// table updates emit nothing; tombstones clear rows; null keys and values are dropped),
// `SessionWindowsTest` (invalid specs refused) and `KStreamSessionWindowAggregateProcessorTest` (sessions
// made, extended and merged; merged-away sessions removed and forwarded as tombstones; late records
// dropped after the gap and the grace).

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

// ---- SessionWindowsTest ---------------------------------------------------------------------------

TEST(SessionWindowsTest, WindowSizeMustNotBeNegative) {
    EXPECT_THROW((void)SessionWindows::with_inactivity_gap(-1, 0), sim::AssertionFailure);
}

TEST(SessionWindowsTest, WindowSizeMustNotBeZero) {
    EXPECT_THROW((void)SessionWindows::with_inactivity_gap(0, 0), sim::AssertionFailure);
}

TEST(SessionWindowsTest, GracePeriodShouldEnforceBoundaries) {
    EXPECT_EQ(SessionWindows::with_inactivity_gap(3, 0).grace_ms, 0);
    EXPECT_THROW((void)SessionWindows::with_inactivity_gap(3, -1), sim::AssertionFailure);
}

TEST(SessionWindowsTest, AGroupedStreamRefusesInvalidSessionWindows) {
    StreamsBuilder builder("app");
    const KGroupedStream grouped = builder.stream({"input"}).group_by_key();
    EXPECT_THROW((void)grouped.windowed_by(SessionWindows{0, 0}), sim::AssertionFailure);
    EXPECT_THROW((void)grouped.windowed_by(SessionWindows{10, -1}), sim::AssertionFailure);
}

// ---- KStreamSessionWindowAggregateProcessorTest ----------------------------------------------------
//
// Kafka's fixture: a count per session (initializer 0, aggregator +1, merger the sum) in store
// "session-store", gap 5 minutes and no grace, each update forwarded. Kafka's cases run twice, with the
// default emit strategy (every update) and with emit-final (on window close); eosim has only the first.
// Kafka's cases with a cached store forward only the last update of each session per flush; eosim has no
// cache (docs/kafka-differences.md), so they assert every update, whose last per session is Kafka's.

constexpr std::int64_t kGapMs = 5 * 60 * 1000;

struct SessionFixture {
    explicit SessionFixture(SessionWindows windows = SessionWindows::with_inactivity_gap(kGapMs, 0)) : builder("app") {
        builder.stream({"input"})
            .group_by_key()
            .windowed_by(windows)
            .aggregate([] { return std::string("0"); },
                       [](const std::string&, const std::string&, const std::string& aggregate) {
                           return std::to_string(std::stoll(aggregate) + 1);
                       },
                       [](const std::string&, const std::string& one, const std::string& two) {
                           return std::to_string(std::stoll(one) + std::stoll(two));
                       },
                       "session-store")
            .to_stream()
            .to("output");
        driver = std::make_unique<TopologyTestDriver>(builder.topology(), "app");
    }
    void process(const Key& key, const std::string& value, std::int64_t ts) {
        driver->pipe("input", Record{key, value, ts});
    }
    // Each forwarded record as "<session key>=<count> at <timestamp>" ("null" for a tombstone).
    std::vector<std::string> results() const {
        std::vector<std::string> out;
        for (const auto& output : driver->output("output")) {
            out.push_back(*output.record.key + "=" + output.record.value.value_or("null") + " at " +
                          std::to_string(output.record.timestamp_ms));
        }
        return out;
    }
    const std::map<std::string, std::string>& store() const { return driver->store("session-store").all(); }

    StreamsBuilder builder;
    std::unique_ptr<TopologyTestDriver> driver;
};

std::string at(std::int64_t ms) {
    return " at " + std::to_string(ms);
}

TEST(KStreamSessionWindowAggregateProcessorTest, ShouldCreateSingleSessionWhenWithinGap) {
    SessionFixture fixture;
    fixture.process("john", "first", 0);
    fixture.process("john", "second", 500);
    EXPECT_EQ(fixture.store(), (std::map<std::string, std::string>{{session_key("john", 0, 500), "2"}}));
}

// Kafka's case gives its session store a retention of 3 gaps, so the first session is still there when the
// third record comes. eosim's store keeps what Kafka's DSL keeps by default, the gap plus the grace, so
// the case runs with a grace of 2 gaps (nothing in it is late either way). With no grace the first session
// has closed by then (stream time gap + 1), and the third record joins only the second, as Kafka's DSL
// (default retention, no cache) does too.
TEST(KStreamSessionWindowAggregateProcessorTest, ShouldMergeSessions) {
    SessionFixture fixture(SessionWindows::with_inactivity_gap(kGapMs, 2 * kGapMs));
    fixture.process("mel", "first", 0);
    EXPECT_EQ(fixture.store(), (std::map<std::string, std::string>{{"mel@0-0", "1"}}));
    fixture.process("mel", "second", kGapMs + 1);  // beyond the gap: a second session
    const std::string second = session_key("mel", kGapMs + 1, kGapMs + 1);
    EXPECT_EQ(fixture.store(), (std::map<std::string, std::string>{{"mel@0-0", "1"}, {second, "1"}}));
    fixture.process("mel", "third", kGapMs / 2);  // back in time, within the gap of both
    EXPECT_EQ(fixture.store(), (std::map<std::string, std::string>{{session_key("mel", 0, kGapMs + 1), "3"}}));
    EXPECT_EQ(fixture.results(), (std::vector<std::string>{"mel@0-0=1 at 0", second + "=1" + at(kGapMs + 1),
                                                           "mel@0-0=null at 0", second + "=null" + at(kGapMs + 1),
                                                           session_key("mel", 0, kGapMs + 1) + "=3" + at(kGapMs + 1)}));

    SessionFixture no_grace;
    no_grace.process("mel", "first", 0);
    no_grace.process("mel", "second", kGapMs + 1);
    no_grace.process("mel", "third", kGapMs / 2);
    EXPECT_EQ(no_grace.store(), (std::map<std::string, std::string>{
                                    {"mel@0-0", "1"}, {session_key("mel", kGapMs / 2, kGapMs + 1), "2"}}));
}

TEST(KStreamSessionWindowAggregateProcessorTest, ShouldUpdateSessionIfTheSameTime) {
    SessionFixture fixture;
    fixture.process("mel", "first", 0);
    fixture.process("mel", "second", 0);
    EXPECT_EQ(fixture.store(), (std::map<std::string, std::string>{{"mel@0-0", "2"}}));
    EXPECT_EQ(fixture.results(), (std::vector<std::string>{"mel@0-0=1 at 0", "mel@0-0=2 at 0"}))
        << "the same session updated in place: no tombstone";
}

TEST(KStreamSessionWindowAggregateProcessorTest, ShouldHaveMultipleSessionsForSameIdWhenTimestampApartBySessionGap) {
    SessionFixture fixture;
    std::int64_t now = 0;
    fixture.process("mel", "first", now);
    now += kGapMs + 1;
    fixture.process("mel", "second", now);
    fixture.process("mel", "second", now);
    now += kGapMs + 1;
    fixture.process("mel", "third", now);
    fixture.process("mel", "third", now);
    fixture.process("mel", "third", now);
    const std::string second = session_key("mel", kGapMs + 1, kGapMs + 1);
    const std::string third = session_key("mel", now, now);
    // Kafka (cached): mel@0-0=1, second=2, third=3.
    EXPECT_EQ(fixture.results(), (std::vector<std::string>{"mel@0-0=1 at 0", second + "=1" + at(kGapMs + 1),
                                                           second + "=2" + at(kGapMs + 1), third + "=1" + at(now),
                                                           third + "=2" + at(now), third + "=3" + at(now)}));
}

TEST(KStreamSessionWindowAggregateProcessorTest, ShouldRemoveMergedSessionsFromStateStore) {
    SessionFixture fixture;
    fixture.process("a", "1", 0);
    EXPECT_EQ(fixture.store(), (std::map<std::string, std::string>{{"a@0-0", "1"}}));
    fixture.process("a", "2", 100);
    EXPECT_EQ(fixture.store(), (std::map<std::string, std::string>{{"a@0-100", "2"}}));
}

TEST(KStreamSessionWindowAggregateProcessorTest, ShouldHandleMultipleSessionsAndMerging) {
    SessionFixture fixture;
    for (const char* key : {"a", "b", "c", "d"}) {
        fixture.process(key, "1", 0);
    }
    fixture.process("d", "2", kGapMs / 2);
    fixture.process("a", "2", kGapMs + 1);
    fixture.process("b", "2", kGapMs + 1);
    fixture.process("a", "3", kGapMs + 1 + kGapMs / 2);
    fixture.process("c", "3", kGapMs + 1 + kGapMs / 2);
    const std::int64_t later = kGapMs + 1;
    const std::int64_t latest = kGapMs + 1 + kGapMs / 2;
    // Kafka (cached): a@0-0=1, b@0-0=1, c@0-0=1, d@0-(gap/2)=2, b@later=1, a@later-latest=2, c@latest=1.
    EXPECT_EQ(
        fixture.results(),
        (std::vector<std::string>{
            "a@0-0=1 at 0", "b@0-0=1 at 0", "c@0-0=1 at 0", "d@0-0=1 at 0", "d@0-0=null at 0",
            session_key("d", 0, kGapMs / 2) + "=2" + at(kGapMs / 2), session_key("a", later, later) + "=1" + at(later),
            session_key("b", later, later) + "=1" + at(later), session_key("a", later, later) + "=null" + at(later),
            session_key("a", later, latest) + "=2" + at(latest),
            session_key("c", latest, latest) + "=1" + at(latest)}));
}

// Kafka reads the sessions back through the aggregation's value getter; eosim reads the store's rows.
TEST(KStreamSessionWindowAggregateProcessorTest, ShouldGetAggregatedValuesFromValueGetter) {
    SessionFixture fixture;
    fixture.process("a", "1", 0);
    fixture.process("a", "1", kGapMs + 1);
    fixture.process("a", "2", kGapMs + 1);
    EXPECT_EQ(fixture.store(),
              (std::map<std::string, std::string>{{"a@0-0", "1"}, {session_key("a", kGapMs + 1, kGapMs + 1), "2"}}));
}

TEST(KStreamSessionWindowAggregateProcessorTest, ShouldImmediatelyForwardNewSessionWhenNonCachedStore) {
    SessionFixture fixture;
    fixture.process("a", "1", 0);
    fixture.process("b", "1", 0);
    fixture.process("c", "1", 0);
    EXPECT_EQ(fixture.results(), (std::vector<std::string>{"a@0-0=1 at 0", "b@0-0=1 at 0", "c@0-0=1 at 0"}));
}

TEST(KStreamSessionWindowAggregateProcessorTest, ShouldImmediatelyForwardRemovedSessionsWhenMerging) {
    SessionFixture fixture;
    fixture.process("a", "1", 0);
    fixture.process("a", "1", 5);
    EXPECT_EQ(fixture.results(), (std::vector<std::string>{"a@0-0=1 at 0", "a@0-0=null at 0", "a@0-5=2 at 5"}));
}

// Kafka also logs a warning and counts the record in dropped-records-total; eosim has no metrics.
TEST(KStreamSessionWindowAggregateProcessorTest, ShouldLogAndMeterWhenSkippingNullKeyWithBuiltInMetrics) {
    SessionFixture fixture;
    fixture.process(std::nullopt, "1", 0);
    EXPECT_TRUE(fixture.results().empty());
    EXPECT_TRUE(fixture.store().empty());
}

TEST(KStreamSessionWindowAggregateProcessorTest, ShouldLogAndMeterWhenSkippingLateRecordWithZeroGrace) {
    SessionFixture fixture(SessionWindows::with_inactivity_gap(10, 0));
    fixture.process("dummy", "dummy", 0);   // stream time 0
    fixture.process("OnTime1", "1", 0);     // on time
    fixture.process("dummy", "dummy", 11);  // stream time 11: sessions ending before 11 - 10 - 0 = 1 close
    fixture.process("Late1", "1", 0);       // session [0, 0]: late
    EXPECT_EQ(fixture.store(),
              (std::map<std::string, std::string>{{"OnTime1@0-0", "1"}, {"dummy@0-0", "1"}, {"dummy@11-11", "1"}}));
    EXPECT_EQ(fixture.results().size(), 3U) << "the late record forwards nothing";
}

TEST(KStreamSessionWindowAggregateProcessorTest, ShouldLogAndMeterWhenSkippingLateRecordWithNonzeroGrace) {
    SessionFixture fixture(SessionWindows::with_inactivity_gap(10, 1));
    fixture.process("dummy", "dummy", 0);   // stream time 0
    fixture.process("OnTime1", "1", 0);     // on time
    fixture.process("dummy", "dummy", 11);  // stream time 11: close time 0
    fixture.process("OnTime2", "1", 0);     // session [0, 0] ends at the close time: on time
    fixture.process("dummy", "dummy", 12);  // stream time 12: close time 1
    fixture.process("Late1", "1", 0);       // late
    EXPECT_EQ(fixture.store(),
              (std::map<std::string, std::string>{
                  {"OnTime1@0-0", "1"}, {"OnTime2@0-0", "1"}, {"dummy@0-0", "1"}, {"dummy@11-12", "2"}}));
    EXPECT_FALSE(fixture.store().contains("Late1@0-0"));
}

}  // namespace
}  // namespace eosim::streams_core
