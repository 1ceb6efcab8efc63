// The consumer against scripted brokers: its position, offset reset, leader changes and what it
// records in the history, checked request by request.

#include <gtest/gtest.h>

#include "tests/client_core/scripted_broker.h"

namespace eosim::client_core::testing {
namespace {

using namespace std::chrono_literals;
using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::FetchRequest;
using protocol::FetchResponse;
using protocol::Offset;

const protocol::TopicPartition partition{"t", 0};

// Puts a batch of `values` at the log's end; returns its base offset.
Offset append(Script& script, const std::vector<std::string>& values,
              const std::optional<std::string>& key = std::nullopt) {
    protocol::ProduceRequest request;
    request.partitions.push_back(protocol::ProducePartition{.partition = partition});
    for (const std::string& value : values) {
        request.partitions[0].batch.records.push_back(protocol::Record{key, value, 0});
    }
    const Offset base = script.log_end(partition);
    (void)script.append(request);
    return base;
}

// The fetch offset of the request's one partition (the tests assign one).
Offset fetch_offset(const FetchRequest& request) {
    EXPECT_EQ(request.partitions.size(), 1U);
    return request.partitions.at(0).fetch_offset;
}

// Answers the partition with `error`.
Reply refuse(ErrorCode error) {
    return Reply::answer(FetchResponse{.partitions = {protocol::FetchPartitionResponse{.partition = partition, .error = error}}});
}

// Answers a fetch with the one batch holding the fetch offset (Kafka returns whole batches).
Reply one_batch(const Script& script, const FetchRequest& request) {
    protocol::FetchPartitionResponse response{.partition = partition};
    response.high_watermark = script.log_end(partition);
    response.log_end_offset = response.high_watermark;
    for (const protocol::RecordBatch& batch : script.log.at(partition)) {
        if (batch.base_offset <= fetch_offset(request) && fetch_offset(request) < batch.next_offset()) {
            response.batches.push_back(batch);
        }
    }
    return Reply::answer(FetchResponse{.partitions = {response}});
}

std::vector<std::int64_t> fetch_offsets(const Script& script) {
    std::vector<std::int64_t> out;
    for (const Received* fetch : script.received_of<FetchRequest>()) {
        out.push_back(fetch_offset(fetch->as<FetchRequest>()).value());
    }
    return out;
}

std::vector<const ClientOperation*> operations(const HistoryRecorder& history, const std::string& f) {
    std::vector<const ClientOperation*> out;
    for (const ClientOperation& operation : history.operations()) {
        if (operation.f == f) {
            out.push_back(&operation);
        }
    }
    return out;
}

using Polled = std::vector<std::pair<std::int64_t, std::string>>;

Polled polled(const ClientOperation& operation) {
    Polled out;
    for (const ClientOperation::PolledRecord& record : operation.records) {
        out.emplace_back(record.offset, record.value.value_or(""));
    }
    return out;
}

Polled polled(const std::vector<ConsumedRecord>& records) {
    Polled out;
    for (const ConsumedRecord& record : records) {
        out.emplace_back(record.offset.value(), record.record.value.value_or(""));
    }
    return out;
}

// A consumer's first poll only learns the metadata (it knows no leader yet): it fetches nothing.
void learn_metadata(Consumer& consumer) {
    const auto records = consumer.poll();
    EXPECT_TRUE(records.empty());
}

// Runs `polls` polls in a fiber of the client (after the first, which only learns the metadata),
// recording each one's records and the position after it.
struct Polls {
    std::vector<Polled> results;
    std::vector<std::int64_t> positions;
    bool finished = false;

    void start(ScriptedCluster& cluster, Consumer& consumer, int polls) {
        cluster.client().spawn("app", [this, &consumer, polls] {
            learn_metadata(consumer);
            for (int i = 0; i < polls; ++i) {
                results.push_back(polled(consumer.poll()));
                positions.push_back(consumer.position(partition).value());
            }
            finished = true;
        });
    }
};

TEST(ConsumerPosition, AdvancesPastEachPolledBatchAndTheHistoryShowsWhatTheBrokerReturned) {
    ScriptedCluster cluster(21);
    append(cluster.script, {"a", "b", "c"}, std::string("k"));
    append(cluster.script, {"d", "e"});
    cluster.script.on_fetch = [&](const FetchRequest& request, const Received&) {
        return one_batch(cluster.script, request);
    };
    Consumer& consumer = cluster.make_consumer(ConsumerConfig{});
    consumer.assign(partition, Offset(0));
    Polls polls;
    polls.start(cluster, consumer, 3);
    ASSERT_TRUE(cluster.run_until([&] { return polls.finished; }));

    EXPECT_EQ(polls.results, (std::vector<Polled>{{{0, "a"}, {1, "b"}, {2, "c"}}, {{3, "d"}, {4, "e"}}, {}}));
    EXPECT_EQ(polls.positions, (std::vector<std::int64_t>{3, 5, 5})) << "an empty fetch does not move the position";
    EXPECT_EQ(fetch_offsets(cluster.script), (std::vector<std::int64_t>{0, 3, 5}));
    EXPECT_EQ(consumer.last_high_watermark(partition), Offset(5));

    const std::vector<const ClientOperation*> polls_recorded = operations(cluster.history, "poll");
    ASSERT_EQ(polls_recorded.size(), 2U) << "an empty poll is not recorded";
    EXPECT_EQ(polled(*polls_recorded[0]), polls.results[0]);
    EXPECT_EQ(polled(*polls_recorded[1]), polls.results[1]);
    EXPECT_EQ(polls_recorded[0]->records[0].key, "k");
    EXPECT_EQ(polls_recorded[1]->records[0].key, std::nullopt);
    const std::vector<const ClientOperation*> assigns = operations(cluster.history, "assign");
    ASSERT_EQ(assigns.size(), 1U);
    EXPECT_EQ(assigns[0]->offset, 0);
}

TEST(ConsumerPosition, RecordsOfABatchBelowThePositionAreSkipped) {
    ScriptedCluster cluster(22);
    append(cluster.script, {"a", "b", "c"});
    Consumer& consumer = cluster.make_consumer(ConsumerConfig{});
    consumer.assign(partition, Offset(1));
    Polls polls;
    polls.start(cluster, consumer, 1);
    ASSERT_TRUE(cluster.run_until([&] { return polls.finished; }));
    EXPECT_EQ(polls.results, (std::vector<Polled>{{{1, "b"}, {2, "c"}}}));
    EXPECT_EQ(polls.positions, (std::vector<std::int64_t>{3}));
}

// The log starts at 10 (what came before was deleted): a fetch from 0 gets OFFSET_OUT_OF_RANGE, and
// the consumer asks the leader for its earliest (or latest) offset and seeks there, recorded as a seek.
class ConsumerOffsetReset : public ::testing::TestWithParam<bool> {};

TEST_P(ConsumerOffsetReset, OffsetOutOfRangeResetsThePositionAsASeek) {
    const bool earliest = GetParam();
    ScriptedCluster cluster(23);
    cluster.script.log[partition].push_back(
        protocol::RecordBatch{.base_offset = Offset(10), .records = {protocol::Record{std::nullopt, "x", 0}}});
    cluster.script.log[partition].push_back(
        protocol::RecordBatch{.base_offset = Offset(11), .records = {protocol::Record{std::nullopt, "y", 0}}});
    cluster.script.on_fetch = [&](const FetchRequest& request, const Received&) {
        if (fetch_offset(request) < Offset(10)) {
            return refuse(ErrorCode::offset_out_of_range);
        }
        return cluster.script.read(request);
    };
    cluster.script.on_list_offsets = [&](const protocol::ListOffsetsRequest& request, const Received&) {
        const Offset offset = request.timestamp == protocol::earliest_timestamp ? Offset(10) : Offset(12);
        return Reply::answer(protocol::ListOffsetsResponse{ErrorCode::none, offset, protocol::LeaderEpoch(0)});
    };
    ConsumerConfig config;
    config.reset_to_earliest = earliest;
    Consumer& consumer = cluster.make_consumer(config);
    consumer.assign(partition, Offset(0));
    Polls polls;
    polls.start(cluster, consumer, 2);
    ASSERT_TRUE(cluster.run_until([&] { return polls.finished; }));

    const std::vector<const Received*> list_offsets = cluster.script.received_of<protocol::ListOffsetsRequest>();
    ASSERT_EQ(list_offsets.size(), 1U);
    EXPECT_EQ(list_offsets[0]->as<protocol::ListOffsetsRequest>().timestamp,
              earliest ? protocol::earliest_timestamp : protocol::latest_timestamp);
    const std::int64_t reset_to = earliest ? 10 : 12;
    EXPECT_EQ(polls.results[0], Polled{}) << "the out-of-range fetch returns nothing";
    EXPECT_EQ(polls.positions[0], reset_to);
    const std::vector<const ClientOperation*> seeks = operations(cluster.history, "seek");
    ASSERT_EQ(seeks.size(), 1U);
    EXPECT_EQ(seeks[0]->offset, reset_to);
    EXPECT_EQ(fetch_offsets(cluster.script), (std::vector<std::int64_t>{0, reset_to}));
    if (earliest) {
        EXPECT_EQ(polls.results[1], (Polled{{10, "x"}, {11, "y"}}));
        EXPECT_EQ(polls.positions[1], 12);
    } else {
        EXPECT_EQ(polls.results[1], Polled{});
        EXPECT_EQ(polls.positions[1], 12);
    }
}

INSTANTIATE_TEST_SUITE_P(Reset, ConsumerOffsetReset, ::testing::Bool(),
                         [](const auto& param_info) { return param_info.param ? "Earliest" : "Latest"; });

// Broker 1 leads, then broker 2: broker 1 answers NOT_LEADER_OR_FOLLOWER, the consumer refreshes its
// metadata and fetches from broker 2 at the same position.
TEST(ConsumerLeaderChange, FetchesFromTheNewLeaderAtTheSamePosition) {
    ScriptedCluster cluster(24, 2);
    append(cluster.script, {"a", "b", "c"});
    append(cluster.script, {"d"});
    bool moved = false;
    cluster.script.on_fetch = [&](const FetchRequest& request, const Received& received) {
        if (moved && received.broker == BrokerId(1)) {
            return refuse(ErrorCode::not_leader_or_follower);
        }
        return one_batch(cluster.script, request);
    };
    Consumer& consumer = cluster.make_consumer(ConsumerConfig{});
    consumer.assign(partition, Offset(0));
    Polls polls;
    cluster.client().spawn("app", [&] {
        learn_metadata(consumer);
        polls.results.push_back(polled(consumer.poll()));
        polls.positions.push_back(consumer.position(partition).value());
        moved = true;
        cluster.script.set_leaders(partition.topic, {BrokerId(2)});
        for (int i = 0; i < 2; ++i) {
            polls.results.push_back(polled(consumer.poll()));
            polls.positions.push_back(consumer.position(partition).value());
        }
        polls.finished = true;
    });
    ASSERT_TRUE(cluster.run_until([&] { return polls.finished; }));

    EXPECT_EQ(polls.results, (std::vector<Polled>{{{0, "a"}, {1, "b"}, {2, "c"}}, {}, {{3, "d"}}}));
    EXPECT_EQ(polls.positions, (std::vector<std::int64_t>{3, 3, 4})) << "the refused fetch does not move the position";
    const std::vector<const Received*> fetches = cluster.script.received_of<FetchRequest>();
    ASSERT_EQ(fetches.size(), 3U);
    EXPECT_EQ(fetches[0]->broker, BrokerId(1));
    EXPECT_EQ(fetches[1]->broker, BrokerId(1));
    EXPECT_EQ(fetches[2]->broker, BrokerId(2));
    EXPECT_EQ(fetch_offsets(cluster.script), (std::vector<std::int64_t>{0, 3, 3}));
    EXPECT_TRUE(operations(cluster.history, "seek").empty()) << "a leader change is not a seek";
}

// A fetch the broker never answers times out; the position stays and the next poll asks again.
TEST(ConsumerPosition, AFetchThatTimesOutDoesNotMoveThePosition) {
    ScriptedCluster cluster(25);
    append(cluster.script, {"a"});
    bool answered_once = false;
    cluster.script.on_fetch = [&](const FetchRequest& request, const Received&) {
        if (!answered_once) {
            answered_once = true;
            return Reply::never();
        }
        return cluster.script.read(request);
    };
    Consumer& consumer = cluster.make_consumer(ConsumerConfig{});
    consumer.assign(partition, Offset(0));
    Polls polls;
    polls.start(cluster, consumer, 2);
    ASSERT_TRUE(cluster.run_until([&] { return polls.finished; }));
    EXPECT_EQ(polls.results, (std::vector<Polled>{{}, {{0, "a"}}}));
    EXPECT_EQ(polls.positions, (std::vector<std::int64_t>{0, 1}));
    EXPECT_EQ(fetch_offsets(cluster.script), (std::vector<std::int64_t>{0, 0}));
}

// The application seeks back while a fetch is in flight. The fetch's answer is for the old position:
// the consumer drops it (as Kafka's does a fetch whose offset no longer matches the position), so
// the seek holds and the next poll reads from the new position.
TEST(ConsumerPosition, ASeekDuringAFetchDiscardsItsAnswer) {
    ScriptedCluster cluster(26);
    append(cluster.script, {"a", "b", "c"});
    append(cluster.script, {"d", "e"});
    cluster.script.on_fetch = [&](const FetchRequest& request, const Received&) {
        if (fetch_offset(request) == Offset(3)) {
            return Reply::hold();
        }
        return cluster.script.read(request);
    };
    Consumer& consumer = cluster.make_consumer(ConsumerConfig{});
    consumer.assign(partition, Offset(3));
    Polls polls;
    polls.start(cluster, consumer, 2);
    cluster.run_for(1s);
    const std::vector<const Received*> held = cluster.script.received_of<FetchRequest>();
    ASSERT_EQ(held.size(), 1U);
    consumer.seek(partition, Offset(0));
    cluster.answer(held[0]->index, cluster.script.read(held[0]->as<FetchRequest>()).response);
    ASSERT_TRUE(cluster.run_until([&] { return polls.finished; }));

    EXPECT_EQ(polls.results, (std::vector<Polled>{{}, {{0, "a"}, {1, "b"}, {2, "c"}, {3, "d"}, {4, "e"}}}));
    EXPECT_EQ(polls.positions, (std::vector<std::int64_t>{0, 5}));
    EXPECT_EQ(fetch_offsets(cluster.script), (std::vector<std::int64_t>{3, 0}));
    const std::vector<const ClientOperation*> polls_recorded = operations(cluster.history, "poll");
    ASSERT_EQ(polls_recorded.size(), 1U) << "the stale answer was recorded as a poll";
    EXPECT_EQ(polls_recorded[0]->records.front().offset, 0);
}

// KIP-320: the consumer read offsets 0..2 in leader epoch 0; broker 2 now leads in epoch 1 and its log
// ends epoch 0 at `epoch_end`. The consumer validates its position before fetching from broker 2
// (OffsetsForLeaderEpoch for epoch 0, in its current epoch 1): a log that ends below the position lost
// what the consumer read, and it seeks back to where the logs agree (recorded as a seek); otherwise it
// goes on where it was. Every fetch carries the leader epoch the consumer knows.
class ConsumerValidation : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(ConsumerValidation, ValidatesItsPositionWithTheNewLeader) {
    const std::int64_t epoch_end = GetParam();
    ScriptedCluster cluster(27, 2);
    append(cluster.script, {"a", "b", "c"});
    cluster.script.on_offsets_for_leader_epoch = [&](const protocol::OffsetsForLeaderEpochRequest& request,
                                                     const Received&) {
        return Reply::answer(protocol::OffsetsForLeaderEpochResponse{ErrorCode::none, request.requested_epoch,
                                                                     Offset(epoch_end)});
    };
    bool moved = false;
    cluster.script.on_fetch = [&](const FetchRequest& request, const Received& received) {
        if (moved && received.broker == BrokerId(1)) {
            return refuse(ErrorCode::not_leader_or_follower);
        }
        return cluster.script.read(request);
    };
    Consumer& consumer = cluster.make_consumer(ConsumerConfig{});
    consumer.assign(partition, Offset(0));
    Polls polls;
    cluster.client().spawn("app", [&] {
        learn_metadata(consumer);
        polls.results.push_back(polled(consumer.poll()));
        moved = true;
        cluster.script.set_leaders(partition.topic, {BrokerId(2)}, protocol::LeaderEpoch(1));
        (void)consumer.poll();  // refused by broker 1: the consumer learns that broker 2 leads, in epoch 1
        (void)consumer.poll();  // validates, then fetches from broker 2
        polls.positions.push_back(consumer.position(partition).value());
        polls.finished = true;
    });
    ASSERT_TRUE(cluster.run_until([&] { return polls.finished; }));
    EXPECT_EQ(polls.results, (std::vector<Polled>{{{0, "a"}, {1, "b"}, {2, "c"}}}));
    const std::vector<const Received*> validations = cluster.script.received_of<protocol::OffsetsForLeaderEpochRequest>();
    ASSERT_EQ(validations.size(), 1U);
    EXPECT_EQ(validations[0]->broker, BrokerId(2));
    EXPECT_EQ(validations[0]->as<protocol::OffsetsForLeaderEpochRequest>().requested_epoch, protocol::LeaderEpoch(0));
    EXPECT_EQ(validations[0]->as<protocol::OffsetsForLeaderEpochRequest>().current_leader_epoch,
              protocol::LeaderEpoch(1));
    const std::vector<const ClientOperation*> seeks = operations(cluster.history, "seek");
    if (epoch_end < 3) {
        ASSERT_EQ(seeks.size(), 1U) << "truncation detected";
        EXPECT_EQ(seeks[0]->offset, epoch_end);
    } else {
        EXPECT_TRUE(seeks.empty()) << "the position is valid";
    }
    const std::vector<const Received*> fetches = cluster.script.received_of<FetchRequest>();
    ASSERT_FALSE(fetches.empty());
    EXPECT_EQ(fetches.back()->broker, BrokerId(2));
    EXPECT_EQ(fetches.back()->as<FetchRequest>().partitions.at(0).current_leader_epoch, protocol::LeaderEpoch(1));
    EXPECT_EQ(fetch_offset(fetches.back()->as<FetchRequest>()), Offset(std::min<std::int64_t>(epoch_end, 3)));
}

INSTANTIATE_TEST_SUITE_P(EpochEnd, ConsumerValidation, ::testing::Values(2, 3, 5),
                         [](const auto& param_info) { return "EndsAt" + std::to_string(param_info.param); });

}  // namespace
}  // namespace eosim::client_core::testing
