// Fetch sessions (KIP-227): the cases of Kafka's FetchSessionHandlerTest (the fetcher's side,
// protocol/fetch_session.h) and FetchSessionTest (the leader's cache, broker_core/fetch_session.h),
// replayed against eosim. Each test names the Kafka test it mirrors.

#include <gtest/gtest.h>

#include "broker_core/fetch_session.h"
#include "protocol/fetch_session.h"

namespace eosim::conformance {
namespace {

using namespace std::chrono_literals;
using broker_core::FetchSessionCache;
using protocol::ErrorCode;
using protocol::FetchPartition;
using protocol::FetchPartitionResponse;
using protocol::FetchRequest;
using protocol::FetchResponse;
using protocol::FetchSessionBuilder;
using protocol::Offset;
using protocol::TopicPartition;

const TopicPartition foo0{"foo", 0};
const TopicPartition foo1{"foo", 1};
const TopicPartition bar0{"bar", 0};

FetchPartition part(const TopicPartition& partition, std::int64_t offset, std::int64_t log_start,
                    std::uint64_t max_bytes) {
    return FetchPartition{.partition = partition,
                          .fetch_offset = Offset(offset),
                          .log_start_offset = Offset(log_start),
                          .max_bytes = max_bytes};
}

FetchPartitionResponse answer(const TopicPartition& partition, std::int64_t high_watermark,
                              std::int64_t log_start = 0) {
    return FetchPartitionResponse{
        .partition = partition, .high_watermark = Offset(high_watermark), .log_start_offset = Offset(log_start)};
}

std::vector<TopicPartition> names(const std::vector<FetchPartition>& partitions) {
    std::vector<TopicPartition> out;
    for (const FetchPartition& partition : partitions) {
        out.push_back(partition.partition);
    }
    return out;
}

std::vector<TopicPartition> names(const std::vector<FetchPartitionResponse>& partitions) {
    std::vector<TopicPartition> out;
    for (const FetchPartitionResponse& partition : partitions) {
        out.push_back(partition.partition);
    }
    return out;
}

// ---- FetchSessionHandlerTest -------------------------------------------------------------------------

// Kafka: FetchSessionHandlerTest.testSessionless
// a broker that makes no session (session id 0) gets full
// requests, each asking for a session again.
TEST(FetchSessionHandlerTest, testSessionless) {
    FetchSessionBuilder handler;
    const FetchRequest first = handler.build({part(foo0, 0, 100, 200), part(foo1, 10, 110, 210)}, {});
    EXPECT_EQ(first.session_id, protocol::no_fetch_session);
    EXPECT_EQ(first.session_epoch, protocol::initial_session_epoch);
    EXPECT_EQ(names(first.partitions), (std::vector<TopicPartition>{foo0, foo1}));
    ASSERT_TRUE(handler.handle_response(FetchResponse{.partitions = {answer(foo0, 0), answer(foo1, 0)}}));

    const FetchRequest second = handler.build({part(foo0, 0, 100, 200)}, {});
    EXPECT_EQ(second.session_id, protocol::no_fetch_session);
    EXPECT_EQ(second.session_epoch, protocol::initial_session_epoch);
    EXPECT_EQ(names(second.partitions), (std::vector<TopicPartition>{foo0}));
    EXPECT_TRUE(second.forgotten.empty());
}

// Kafka: FetchSessionHandlerTest.testIncrementals
// an incremental request carries only the added and the changed
// partitions; INVALID_FETCH_SESSION_EPOCH makes the next request full, closing the session it names.
TEST(FetchSessionHandlerTest, testIncrementals) {
    FetchSessionBuilder handler;
    (void)handler.build({part(foo0, 0, 100, 200), part(foo1, 10, 110, 210)}, {});
    ASSERT_TRUE(handler.handle_response(
        FetchResponse{.session_id = 123, .partitions = {answer(foo0, 10, 20), answer(foo1, 10, 20)}}));

    const FetchRequest second =
        handler.build({part(foo0, 0, 100, 200), part(foo1, 10, 120, 210), part(bar0, 20, 200, 200)}, {});
    EXPECT_EQ(second.session_id, 123);
    EXPECT_EQ(second.session_epoch, 1);
    EXPECT_EQ(names(second.partitions), (std::vector<TopicPartition>{foo1, bar0}));
    ASSERT_TRUE(handler.handle_response(FetchResponse{.session_id = 123, .partitions = {answer(foo1, 20, 20)}}));
    EXPECT_EQ(handler.epoch(), 2);

    EXPECT_FALSE(handler.handle_response(FetchResponse{.error = ErrorCode::invalid_fetch_session_epoch}));
    const FetchRequest fourth =
        handler.build({part(foo0, 0, 100, 200), part(foo1, 10, 120, 210), part(bar0, 20, 200, 200)}, {});
    EXPECT_EQ(fourth.session_id, 123);
    EXPECT_EQ(fourth.session_epoch, protocol::initial_session_epoch);
    EXPECT_EQ(names(fourth.partitions), (std::vector<TopicPartition>{foo0, foo1, bar0}));
}

// Kafka: FetchSessionHandlerTest.testIncrementalPartitionRemoval
// partitions no longer fetched are forgotten;
// FETCH_SESSION_ID_NOT_FOUND makes the next request full and without a session id.
TEST(FetchSessionHandlerTest, testIncrementalPartitionRemoval) {
    FetchSessionBuilder handler;
    (void)handler.build({part(foo0, 0, 100, 200), part(foo1, 10, 110, 210), part(bar0, 20, 120, 220)}, {});
    ASSERT_TRUE(handler.handle_response(FetchResponse{
        .session_id = 123, .partitions = {answer(foo0, 10, 20), answer(foo1, 10, 20), answer(bar0, 10, 20)}}));

    const FetchRequest second = handler.build({part(foo1, 10, 110, 210)}, {});
    EXPECT_EQ(second.session_id, 123);
    EXPECT_EQ(second.session_epoch, 1);
    EXPECT_TRUE(second.partitions.empty());
    EXPECT_EQ(second.forgotten, (std::vector<TopicPartition>{bar0, foo0}));

    EXPECT_FALSE(handler.handle_response(FetchResponse{.error = ErrorCode::fetch_session_id_not_found}));
    const FetchRequest third = handler.build({part(foo0, 0, 100, 200)}, {});
    EXPECT_EQ(third.session_id, protocol::no_fetch_session);
    EXPECT_EQ(third.session_epoch, protocol::initial_session_epoch);
    EXPECT_EQ(names(third.partitions), (std::vector<TopicPartition>{foo0}));
}

// Kafka: FetchSessionHandlerTest.testVerifyFullFetchResponsePartitions
// an answer to a full request with an
// extra partition, or without one asked for, is refused (and the session starts over).
TEST(FetchSessionHandlerTest, testVerifyFullFetchResponsePartitions) {
    FetchSessionBuilder extra;
    (void)extra.build({part(foo0, 0, 100, 200), part(foo1, 10, 110, 210)}, {});
    EXPECT_FALSE(extra.handle_response(FetchResponse{.partitions = {answer(foo0, 10), answer(foo1, 10), answer(bar0, 10)}}));

    FetchSessionBuilder exact;
    (void)exact.build({part(foo0, 0, 100, 200), part(foo1, 10, 110, 210), part(bar0, 20, 120, 220)}, {});
    EXPECT_TRUE(exact.handle_response(FetchResponse{.partitions = {answer(foo0, 10), answer(foo1, 10), answer(bar0, 10)}}));

    FetchSessionBuilder omitted;
    (void)omitted.build({part(foo0, 0, 100, 200), part(foo1, 10, 110, 210), part(bar0, 20, 120, 220)}, {});
    EXPECT_FALSE(omitted.handle_response(FetchResponse{.partitions = {answer(foo0, 10), answer(foo1, 10)}}));
}

// Kafka: FetchSessionHandlerTest.testTopLevelErrorResetsMetadata
// after a top-level error the next request is
// full with the session's id, closing it.
TEST(FetchSessionHandlerTest, testTopLevelErrorResetsMetadata) {
    FetchSessionBuilder handler;
    (void)handler.build({part(foo0, 0, 100, 200), part(foo1, 10, 110, 210)}, {});
    ASSERT_TRUE(handler.handle_response(FetchResponse{.session_id = 123, .partitions = {answer(foo0, 10), answer(foo1, 10)}}));
    const FetchRequest second = handler.build({part(foo0, 0, 100, 200), part(foo1, 10, 110, 210), part(bar0, 0, 100, 200)}, {});
    EXPECT_EQ(second.session_epoch, protocol::next_session_epoch(protocol::initial_session_epoch));
    EXPECT_FALSE(handler.handle_response(FetchResponse{.error = ErrorCode::unknown_topic_or_partition, .session_id = 123}));
    const FetchRequest third = handler.build({}, {});
    EXPECT_EQ(third.session_id, 123);
    EXPECT_EQ(third.session_epoch, protocol::initial_session_epoch);
}

// Kafka: FetchMetadata.nextEpoch
// the session epoch wraps from INT32_MAX to 1, skipping 0 and -1.
TEST(FetchSessionHandlerTest, NextEpochWrapsToOne) {
    EXPECT_EQ(protocol::next_session_epoch(0), 1);
    EXPECT_EQ(protocol::next_session_epoch(41), 42);
    EXPECT_EQ(protocol::next_session_epoch(INT32_MAX), 1);
    EXPECT_EQ(protocol::next_session_epoch(protocol::final_session_epoch), protocol::final_session_epoch);
}

// ---- FetchSessionTest ----------------------------------------------------------------------------------

sim::Time at(std::int64_t ms) {
    return sim::Time{} + std::chrono::milliseconds(ms);
}

// A full request for a session of `partitions` partitions of topic "test" (a follower's when privileged).
FetchRequest full_request(std::size_t partitions, bool privileged) {
    FetchRequest request;
    request.replica = privileged ? protocol::BrokerId(1) : protocol::consumer_replica_id;
    request.session_epoch = protocol::initial_session_epoch;
    for (std::size_t i = 0; i < partitions; ++i) {
        request.partitions.push_back(FetchPartition{.partition = TopicPartition{"test", static_cast<std::int32_t>(i)}});
    }
    return request;
}

// An incremental request of session `id` in its epoch `epoch`, changing nothing yet.
FetchRequest in_session(std::int32_t id, std::int32_t epoch) {
    FetchRequest request;
    request.session_id = id;
    request.session_epoch = epoch;
    return request;
}

// Fetches once in the session at `now` (an incremental request without changes): it is used then.
void touch(FetchSessionCache& cache, std::int32_t id, protocol::BrokerId replica, std::int32_t epoch, sim::Time now) {
    FetchRequest request = in_session(id, epoch);
    request.replica = replica;
    sim::Random random(0);
    ASSERT_EQ(cache.open(request, random, now).error, ErrorCode::none);
}

// Kafka: FetchSessionTest.testNewSessionId
// session ids are positive.
TEST(FetchSessionTest, testNewSessionId) {
    FetchSessionCache cache(20000);
    sim::Random random(7);
    for (int i = 0; i < 10000; ++i) {
        const auto context = cache.open(full_request(1, false), random, at(0));
        EXPECT_GT(context.session_id, 0);
    }
    EXPECT_EQ(cache.size(), 10000U) << "ids are unique";
}

// Kafka: FetchSessionTest.testSessionCache
// a full cache evicts a stale session, else the least valuable one old
// enough to go, and only for a session worth at least as much; a follower's evicts any consumer's.
TEST(FetchSessionTest, testSessionCache) {
    FetchSessionCache cache(3, 100ms);
    sim::Random random(1);
    const protocol::BrokerId consumer = protocol::consumer_replica_id;
    const std::int32_t id1 = cache.open(full_request(10, false), random, at(0)).session_id;
    const std::int32_t id2 = cache.open(full_request(20, false), random, at(10)).session_id;
    const std::int32_t id3 = cache.open(full_request(30, false), random, at(20)).session_id;
    EXPECT_EQ(cache.open(full_request(40, false), random, at(30)).session_id, protocol::no_fetch_session);
    EXPECT_EQ(cache.open(full_request(5, false), random, at(40)).session_id, protocol::no_fetch_session);
    EXPECT_TRUE(cache.contains(id1) && cache.contains(id2) && cache.contains(id3));
    touch(cache, id1, consumer, 1, at(200));
    const std::int32_t id4 = cache.open(full_request(11, false), random, at(210)).session_id;
    EXPECT_TRUE(cache.contains(id1) && cache.contains(id3) && cache.contains(id4));
    EXPECT_FALSE(cache.contains(id2)) << "the stale session went";
    touch(cache, id1, consumer, 2, at(400));
    touch(cache, id3, consumer, 1, at(390));
    touch(cache, id4, consumer, 1, at(400));
    const std::int32_t id5 = cache.open(full_request(50, false), random, at(410)).session_id;
    EXPECT_TRUE(cache.contains(id3) && cache.contains(id4) && cache.contains(id5));
    EXPECT_FALSE(cache.contains(id1)) << "the smallest session old enough went for a larger one";
    EXPECT_EQ(cache.open(full_request(5, false), random, at(410)).session_id, protocol::no_fetch_session);
    const std::int32_t id6 = cache.open(full_request(5, true), random, at(410)).session_id;
    EXPECT_TRUE(cache.contains(id3) && cache.contains(id5) && cache.contains(id6));
    EXPECT_EQ(cache.size(), 3U);
}

// Kafka: FetchSessionTest.testCachedLeaderEpoch
// partitions not named in an incremental request keep their
// cached fetch state (the current leader epoch among it); named ones take the new one.
TEST(FetchSessionTest, testCachedLeaderEpoch) {
    FetchSessionCache cache(10);
    sim::Random random(3);
    FetchRequest request1;
    request1.session_epoch = protocol::initial_session_epoch;
    request1.partitions = {FetchPartition{.partition = foo0},
                           FetchPartition{.partition = foo1, .current_leader_epoch = protocol::LeaderEpoch(1), .fetch_offset = Offset(10)},
                           FetchPartition{.partition = bar0, .current_leader_epoch = protocol::LeaderEpoch(2), .fetch_offset = Offset(10)}};
    const auto context1 = cache.open(request1, random, at(0));
    ASSERT_NE(context1.session_id, protocol::no_fetch_session);

    FetchRequest request2 = in_session(context1.session_id, 1);
    const auto context2 = cache.open(request2, random, at(1));
    ASSERT_EQ(context2.partitions.size(), 3U);
    EXPECT_EQ(context2.partitions[0].partition, bar0);
    EXPECT_EQ(context2.partitions[0].current_leader_epoch, protocol::LeaderEpoch(2));
    EXPECT_EQ(context2.partitions[1].current_leader_epoch, protocol::no_leader_epoch);
    EXPECT_EQ(context2.partitions[2].current_leader_epoch, protocol::LeaderEpoch(1));

    FetchRequest request3 = in_session(context1.session_id, 2);
    request3.partitions = {FetchPartition{.partition = foo0, .current_leader_epoch = protocol::LeaderEpoch(6)},
                           FetchPartition{.partition = foo1, .fetch_offset = Offset(10)},
                           FetchPartition{.partition = bar0, .current_leader_epoch = protocol::LeaderEpoch(3), .fetch_offset = Offset(10)}};
    const auto context3 = cache.open(request3, random, at(2));
    ASSERT_EQ(context3.partitions.size(), 3U);
    EXPECT_EQ(context3.partitions[0].current_leader_epoch, protocol::LeaderEpoch(3));
    EXPECT_EQ(context3.partitions[1].current_leader_epoch, protocol::LeaderEpoch(6));
    EXPECT_EQ(context3.partitions[2].current_leader_epoch, protocol::no_leader_epoch);
}

// The full request that starts the session of Kafka's FetchSessionTest cases: foo-0 at offset 0 and foo-1
// at 10, answered with high watermarks 100 and 10 (and log starts the same); the session's id.
std::int32_t foo_session(FetchSessionCache& cache, sim::Random& random, FetchRequest* request = nullptr) {
    FetchRequest full;
    full.session_epoch = protocol::initial_session_epoch;
    full.partitions = {part(foo0, 0, 0, 100), part(foo1, 10, 0, 100)};
    const auto context = cache.open(full, random, at(0));
    std::vector<FetchPartitionResponse> answers{answer(foo0, 100, 100), answer(foo1, 10, 10)};
    cache.finish(context, answers);
    EXPECT_EQ(answers.size(), 2U) << "a full request is answered in full";
    if (request != nullptr) {
        *request = full;
    }
    return context.session_id;
}

// Kafka: FetchSessionTest.testFetchRequests
// a wrong epoch gets INVALID_FETCH_SESSION_EPOCH, an unknown id
// FETCH_SESSION_ID_NOT_FOUND; an incremental request with nothing new is answered with no partitions;
// a request with the final epoch closes the session and reads without one.
TEST(FetchSessionTest, testFetchRequests) {
    FetchSessionCache cache(10);
    sim::Random random(4);
    FetchRequest request1;
    const std::int32_t id = foo_session(cache, random, &request1);

    FetchRequest wrong_epoch = request1;
    wrong_epoch.session_id = id;
    wrong_epoch.session_epoch = 5;
    EXPECT_EQ(cache.open(wrong_epoch, random, at(1)).error, ErrorCode::invalid_fetch_session_epoch);
    FetchRequest unknown = request1;
    unknown.session_id = id + 1;
    unknown.session_epoch = 1;
    EXPECT_EQ(cache.open(unknown, random, at(1)).error, ErrorCode::fetch_session_id_not_found);

    FetchRequest request5 = in_session(id, 1);
    const auto context5 = cache.open(request5, random, at(2));
    ASSERT_EQ(context5.error, ErrorCode::none);
    EXPECT_EQ(context5.partitions[1].fetch_offset, Offset(10));
    std::vector<FetchPartitionResponse> answers5{answer(foo0, 100, 100), answer(foo1, 10, 10)};
    cache.finish(context5, answers5);
    EXPECT_TRUE(answers5.empty()) << "nothing moved: nothing to answer";

    FetchRequest request8;
    request8.session_id = id;
    request8.session_epoch = protocol::final_session_epoch;
    request8.partitions = {part(bar0, 0, 0, 100)};
    const auto context8 = cache.open(request8, random, at(3));
    EXPECT_EQ(context8.session_id, protocol::no_fetch_session);
    EXPECT_EQ(cache.size(), 0U);
    EXPECT_EQ(names(context8.partitions), (std::vector<TopicPartition>{bar0}));
}

// Kafka: FetchSessionTest.testIncrementalFetchSession
// an incremental request drops forgotten partitions and adds
// new ones; the answer holds the new partition and not the one whose offsets did not move.
TEST(FetchSessionTest, testIncrementalFetchSession) {
    FetchSessionCache cache(10);
    sim::Random random(5);
    const std::int32_t id = foo_session(cache, random);

    FetchRequest request2 = in_session(id, 1);
    request2.partitions = {part(bar0, 15, 0, 0)};
    request2.forgotten = {foo0};
    const auto context2 = cache.open(request2, random, at(1));
    EXPECT_EQ(names(context2.partitions), (std::vector<TopicPartition>{bar0, foo1}));
    EXPECT_EQ(context2.partitions[0].fetch_offset, Offset(15));
    EXPECT_EQ(context2.partitions[1].fetch_offset, Offset(10));
    std::vector<FetchPartitionResponse> answers2{answer(foo1, 10, 10), answer(bar0, 10, 10)};
    cache.finish(context2, answers2);
    EXPECT_EQ(names(answers2), (std::vector<TopicPartition>{bar0}));
}

// Kafka: FetchSessionTest.testZeroSizeFetchSession
// a session may hold no partitions, and still be continued.
TEST(FetchSessionTest, testZeroSizeFetchSession) {
    FetchSessionCache cache(10);
    sim::Random random(6);
    const std::int32_t id = foo_session(cache, random);

    FetchRequest request2 = in_session(id, 1);
    request2.forgotten = {foo0, foo1};
    const auto context2 = cache.open(request2, random, at(1));
    EXPECT_EQ(context2.error, ErrorCode::none);
    EXPECT_TRUE(context2.partitions.empty());
    EXPECT_TRUE(cache.contains(id));
    EXPECT_TRUE(cache.partitions(id).empty());
}

// Kafka: CachedPartition.maybeUpdateResponseData (the rule FetchSessionTest relies on)
// records, an error, a diverging epoch, or a moved high
// watermark or log start make an incremental answer carry the partition.
TEST(FetchSessionTest, IncrementalAnswersCarryEveryKindOfNews) {
    const FetchPartitionResponse last = answer(foo0, 10, 5);
    FetchPartitionResponse same = last;
    EXPECT_FALSE(broker_core::answer_has_news(same, &last));
    EXPECT_TRUE(broker_core::answer_has_news(same, nullptr)) << "first answer in the session";
    FetchPartitionResponse records = last;
    records.batches.push_back(protocol::RecordBatch{});
    EXPECT_TRUE(broker_core::answer_has_news(records, &last));
    FetchPartitionResponse error = last;
    error.error = ErrorCode::not_leader_or_follower;
    EXPECT_TRUE(broker_core::answer_has_news(error, &last));
    FetchPartitionResponse diverging = last;
    diverging.diverging_epoch = protocol::DivergingEpoch{protocol::LeaderEpoch(1), Offset(3)};
    EXPECT_TRUE(broker_core::answer_has_news(diverging, &last));
    EXPECT_TRUE(broker_core::answer_has_news(answer(foo0, 11, 5), &last));
    EXPECT_TRUE(broker_core::answer_has_news(answer(foo0, 10, 6), &last));
}

}  // namespace
}  // namespace eosim::conformance
