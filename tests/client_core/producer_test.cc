// The producer against scripted brokers: its window, retries, delivery timeout, epoch bumps and what
// it records in the history, checked request by request (docs/idempotence.md).

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>

#include "protocol/partitioner.h"
#include "protocol/sequence.h"
#include "tests/client_core/scripted_broker.h"

namespace eosim::client_core::testing {
namespace {

using namespace std::chrono_literals;
using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::Offset;
using protocol::ProduceRequest;
using protocol::ProduceResponse;
using Type = ClientOperation::Type;

const protocol::TopicPartition partition{"t", 0};
constexpr protocol::ProducerId scripted_producer_id{1000};

// One produce request as the broker saw it: the batch's epoch, base sequence and first value.
struct Attempt {
    std::int16_t epoch = -1;
    std::int32_t sequence = -1;
    std::size_t records = 0;
    std::string first_value;
    bool operator==(const Attempt&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Attempt& attempt) {
    return out << "{epoch " << attempt.epoch << ", sequence " << attempt.sequence << ", " << attempt.records
               << " records from " << attempt.first_value << "}";
}

// The one batch of a request (the producer sends one partition here).
const protocol::RecordBatch& batch_of(const ProduceRequest& request) {
    EXPECT_EQ(request.partitions.size(), 1U);
    return request.partitions.at(0).batch;
}

Attempt attempt_of(const Received& received) {
    const ProduceRequest& request = received.as<ProduceRequest>();
    const protocol::RecordBatch& batch = batch_of(request);
    return Attempt{batch.producer_epoch.value(), batch.base_sequence.value(), batch.records.size(),
                   batch.records.empty() ? "" : batch.records.front().value.value_or("")};
}

std::vector<Attempt> attempts(const Script& script) {
    std::vector<Attempt> out;
    for (const Received* received : script.received_of<ProduceRequest>()) {
        out.push_back(attempt_of(*received));
    }
    return out;
}

ProduceResponse ok_at(std::int64_t offset) {
    return ProduceResponse{.partitions = {protocol::ProducePartitionResponse{partition, ErrorCode::none, Offset(offset), Offset(0)}}};
}
Reply error(ErrorCode code) {
    return Reply::answer(
        ProduceResponse{.partitions = {protocol::ProducePartitionResponse{partition, code, Offset(-1), Offset(-1)}}});
}

// The completions (ok, fail, info) of sends, in the order they happened.
std::vector<const ClientOperation*> completions(const HistoryRecorder& history) {
    std::vector<const ClientOperation*> out;
    for (const ClientOperation& operation : history.operations()) {
        if (operation.f == "send" && operation.type != Type::invoke) {
            out.push_back(&operation);
        }
    }
    return out;
}

const ClientOperation& completion_of(const HistoryRecorder& history, const std::string& value) {
    for (const ClientOperation* operation : completions(history)) {
        if (operation->value == value) {
            return *operation;
        }
    }
    static const ClientOperation none;
    ADD_FAILURE() << "no completion of " << value;
    return none;
}

// Sends values "v<first>".."v<first+count-1>" from a fiber of the client, all at once (or `gap` apart).
struct Sends {
    std::vector<sim::Future<SendOutcome>> futures;
    std::vector<sim::Time> sent_at;
    std::size_t expected = 0;

    void start(ScriptedCluster& cluster, Producer& producer, int first, int count, sim::Duration after = 0ms,
               sim::Duration gap = 0ms) {
        expected += static_cast<std::size_t>(count);
        cluster.client().spawn("app", [this, &producer, first, count, after, gap] {
            sim::sleep(after);
            for (int i = first; i < first + count; ++i) {
                sent_at.push_back(sim::now());
                futures.push_back(producer.send(partition.topic, std::nullopt, "v" + std::to_string(i)));
                if (gap > 0ms) {
                    sim::sleep(gap);
                }
            }
        });
    }
    [[nodiscard]] bool done() const {
        return futures.size() == expected &&
               std::all_of(futures.begin(), futures.end(), [](const auto& future) { return future.ready(); });
    }
};

ProducerConfig one_record_batches() {
    ProducerConfig config;
    config.batch_records_max = 1;
    return config;
}

// ---- Connections ------------------------------------------------------------------------------------

// The first value of each partition's batch in a request, in the request's order.
std::vector<std::string> first_values(const ProduceRequest& request) {
    std::vector<std::string> out;
    for (const protocol::ProducePartition& data : request.partitions) {
        out.push_back(data.batch.records.empty() ? "" : data.batch.records.front().value.value_or(""));
    }
    return out;
}

// A key that Kafka's partitioner puts in `target` of `partitions`.
std::string key_for(std::int32_t target, std::int32_t partitions) {
    for (int i = 0;; ++i) {
        const std::string key = "k" + std::to_string(i);
        if (protocol::kafka_partition(key, partitions) == target) {
            return key;
        }
    }
}

// Kafka's Sender drains per broker: the batches of two partitions led by one broker that are ready
// together go in one Produce request, at most one batch of a partition in a request; with
// max.in.flight.requests.per.connection at 2, a third request waits until one of the two is answered.
TEST(ProducerConnection, PartitionsOfOneBrokerShareRequestsUpToTheInFlightLimit) {
    ScriptedCluster cluster(30);
    cluster.script.set_leaders(partition.topic, {BrokerId(1), BrokerId(1)});
    cluster.script.on_produce = [](const ProduceRequest&, const Received&) { return Reply::hold(); };
    ProducerConfig config = one_record_batches();
    config.max_in_flight = 2;
    config.request_timeout = 30s;  // held requests do not time out
    Producer& producer = cluster.make_producer(config);
    const std::string key_a = key_for(0, 2);
    const std::string key_b = key_for(1, 2);
    std::vector<sim::Future<SendOutcome>> futures;
    cluster.client().spawn("app", [&] {
        for (int i = 0; i < 3; ++i) {
            futures.push_back(producer.send(partition.topic, key_a, "a" + std::to_string(i)));
            futures.push_back(producer.send(partition.topic, key_b, "b" + std::to_string(i)));
        }
    });
    cluster.run_for(1s);
    std::vector<const Received*> produces = cluster.script.received_of<ProduceRequest>();
    ASSERT_EQ(produces.size(), 2U) << "two requests out on the connection; the third waits";
    EXPECT_EQ(first_values(produces[0]->as<ProduceRequest>()), (std::vector<std::string>{"a0", "b0"}));
    EXPECT_EQ(first_values(produces[1]->as<ProduceRequest>()), (std::vector<std::string>{"a1", "b1"}));
    EXPECT_EQ(produces[0]->connection, produces[1]->connection);

    const protocol::TopicPartition a{partition.topic, 0};
    const protocol::TopicPartition b{partition.topic, 1};
    cluster.answer(produces[0]->index, ProduceResponse{.partitions = {{a, ErrorCode::none, Offset(0), Offset(0)},
                                                                      {b, ErrorCode::none, Offset(0), Offset(0)}}});
    cluster.run_for(1s);
    produces = cluster.script.received_of<ProduceRequest>();
    ASSERT_EQ(produces.size(), 3U);
    EXPECT_EQ(first_values(produces[2]->as<ProduceRequest>()), (std::vector<std::string>{"a2", "b2"}));
    ASSERT_EQ(futures.size(), 6U);
    EXPECT_EQ(futures[0].get()->offset, Offset(0));
    EXPECT_EQ(futures[1].get()->offset, Offset(0));
    EXPECT_FALSE(futures[2].ready());
}

// ---- The window ------------------------------------------------------------------------------------

TEST(ProducerWindow, IdempotentKeepsAtMostFiveBatchesOutstandingAndTheSixthWaitsForTheOldest) {
    ScriptedCluster cluster(1);
    cluster.script.on_produce = [](const ProduceRequest&, const Received&) { return Reply::hold(); };
    ProducerConfig config = one_record_batches();
    config.request_timeout = 30s;  // held requests do not time out
    Producer& producer = cluster.make_producer(config);
    Sends sends;
    sends.start(cluster, producer, 0, 7);
    cluster.run_for(1s);  // long enough for every batch to go, were the window wider

    std::vector<const Received*> produces = cluster.script.received_of<ProduceRequest>();
    ASSERT_EQ(produces.size(), 5U) << "five batches in flight, the sixth and seventh wait";
    for (std::size_t i = 0; i < produces.size(); ++i) {
        EXPECT_EQ(produces[i]->produces_outstanding, i);
    }
    cluster.answer(produces[0]->index, ok_at(0));  // the oldest is acknowledged: one more may go
    cluster.run_for(1s);
    produces = cluster.script.received_of<ProduceRequest>();
    ASSERT_EQ(produces.size(), 6U);
    EXPECT_EQ(produces[5]->produces_outstanding, 4U);

    cluster.script.on_produce = [](const ProduceRequest& request, const Received&) {
        return Reply::answer(ok_at(batch_of(request).base_sequence.value()));  // the log holds one record per sequence
    };
    for (std::size_t i = 1; i < produces.size(); ++i) {
        cluster.answer(produces[i]->index, ok_at(static_cast<std::int64_t>(i)));
    }
    ASSERT_TRUE(cluster.run_until([&] { return sends.done(); }));
    std::vector<Attempt> expected;
    for (int i = 0; i < 7; ++i) {
        expected.push_back(Attempt{0, i, 1, "v" + std::to_string(i)});
    }
    EXPECT_EQ(attempts(cluster.script), expected);
    for (const Received* produce : cluster.script.received_of<ProduceRequest>()) {
        EXPECT_LE(produce->produces_outstanding, 4U);
        EXPECT_EQ(batch_of(produce->as<ProduceRequest>()).producer_id, scripted_producer_id);
        EXPECT_EQ(produce->as<ProduceRequest>().acks, -1);
    }
    for (int i = 0; i < 7; ++i) {
        const ClientOperation& done = completion_of(cluster.history, "v" + std::to_string(i));
        EXPECT_EQ(done.type, Type::ok);
        EXPECT_EQ(done.offset, i);
    }
    EXPECT_EQ(cluster.script.received_of<protocol::InitProducerIdRequest>().size(), 1U);
}

// Batches 1..4 are acknowledged while batch 0 is not (its first answer was REQUEST_TIMED_OUT): they
// hold their places, so the sixth batch waits until batch 0's retry is acknowledged.
TEST(ProducerWindow, AnAcknowledgedBatchHoldsItsPlaceUntilEveryEarlierOneIsDone) {
    ScriptedCluster cluster(2);
    bool first = true;
    cluster.script.on_produce = [&](const ProduceRequest& request, const Received&) {
        const std::int32_t sequence = batch_of(request).base_sequence.value();
        if (sequence == 0 && first) {
            first = false;
            return error(ErrorCode::request_timed_out);
        }
        return Reply::answer(ok_at(sequence));  // a retry of 0 answered as the duplicate it is
    };
    Producer& producer = cluster.make_producer(one_record_batches());
    Sends sends;
    sends.start(cluster, producer, 0, 6);
    ASSERT_TRUE(cluster.run_until([&] { return sends.done(); }));

    const std::vector<Attempt> expected{{0, 0, 1, "v0"}, {0, 1, 1, "v1"}, {0, 2, 1, "v2"}, {0, 3, 1, "v3"},
                                        {0, 4, 1, "v4"}, {0, 0, 1, "v0"}, {0, 5, 1, "v5"}};
    ASSERT_EQ(attempts(cluster.script), expected);
    const std::vector<const Received*> produces = cluster.script.received_of<ProduceRequest>();
    ASSERT_TRUE(produces[5]->answered.has_value());
    EXPECT_GT(produces[6]->time, *produces[5]->answered)
        << "the sixth batch went before the retry of the first was acknowledged";
    EXPECT_EQ(produces[6]->produces_outstanding, 0U);
    for (int i = 0; i < 6; ++i) {
        EXPECT_EQ(completion_of(cluster.history, "v" + std::to_string(i)).offset, i);
    }
}

TEST(ProducerWindow, PlainProducerHonoursMaxInFlight) {
    ScriptedCluster cluster(3);
    cluster.script.on_produce = [](const ProduceRequest&, const Received&) { return Reply::hold(); };
    ProducerConfig config = one_record_batches();
    config.idempotent = false;
    config.acks = 1;
    config.max_in_flight = 2;
    config.request_timeout = 30s;  // held requests do not time out
    Producer& producer = cluster.make_producer(config);
    Sends sends;
    sends.start(cluster, producer, 0, 4);
    cluster.run_for(1s);
    std::vector<const Received*> produces = cluster.script.received_of<ProduceRequest>();
    ASSERT_EQ(produces.size(), 2U);
    cluster.answer(produces[0]->index, ok_at(0));
    cluster.run_for(1s);
    produces = cluster.script.received_of<ProduceRequest>();
    ASSERT_EQ(produces.size(), 3U);
    EXPECT_EQ(produces[2]->produces_outstanding, 1U);
    cluster.answer(produces[1]->index, ok_at(1));
    cluster.answer(produces[2]->index, ok_at(2));
    cluster.run_for(1s);
    produces = cluster.script.received_of<ProduceRequest>();
    ASSERT_EQ(produces.size(), 4U);
    cluster.answer(produces[3]->index, ok_at(3));
    ASSERT_TRUE(cluster.run_until([&] { return sends.done(); }));
    for (const Received* produce : produces) {
        const ProduceRequest& request = produce->as<ProduceRequest>();
        EXPECT_EQ(request.acks, 1);
        EXPECT_EQ(batch_of(request).producer_id, protocol::no_producer_id);
        EXPECT_EQ(batch_of(request).base_sequence, protocol::no_sequence);
    }
    EXPECT_TRUE(cluster.script.received_of<protocol::InitProducerIdRequest>().empty());
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(completion_of(cluster.history, "v" + std::to_string(i)).offset, i);
    }
}

// ---- Retries ---------------------------------------------------------------------------------------

class ProducerRetriableError : public ::testing::TestWithParam<ErrorCode> {};

TEST_P(ProducerRetriableError, RetriesTheSameBatchWithTheSameIdEpochAndSequence) {
    ScriptedCluster cluster(4);
    int refused = 0;
    cluster.script.on_produce = [&](const ProduceRequest& request, const Received&) {
        if (refused < 2) {
            ++refused;
            return error(GetParam());
        }
        return cluster.script.append(request);
    };
    ProducerConfig config;
    config.retry_backoff = 100ms;
    Producer& producer = cluster.make_producer(config);
    Sends sends;
    sends.start(cluster, producer, 0, 3);  // sent at once: one batch
    ASSERT_TRUE(cluster.run_until([&] { return sends.done(); }));

    const std::vector<const Received*> produces = cluster.script.received_of<ProduceRequest>();
    ASSERT_EQ(produces.size(), 3U);
    for (std::size_t i = 0; i < produces.size(); ++i) {
        const ProduceRequest& request = produces[i]->as<ProduceRequest>();
        EXPECT_EQ(batch_of(request).producer_id, scripted_producer_id);
        EXPECT_EQ(attempt_of(*produces[i]), (Attempt{0, 0, 3, "v0"})) << "attempt " << i;
        EXPECT_EQ(batch_of(request).records, batch_of(produces[0]->as<ProduceRequest>()).records);
        if (i > 0) {
            EXPECT_GE(produces[i]->time - *produces[i - 1]->answered, config.retry_backoff)
                << "retried without backoff";
        }
    }
    for (int i = 0; i < 3; ++i) {
        const ClientOperation& done = completion_of(cluster.history, "v" + std::to_string(i));
        EXPECT_EQ(done.type, Type::ok);
        EXPECT_EQ(done.offset, i);
    }
    // A retriable error may mean the leader moved: the producer asks for metadata again.
    EXPECT_GE(cluster.script.received_of<protocol::MetadataRequest>().size(), 3U);
}

INSTANTIATE_TEST_SUITE_P(Errors, ProducerRetriableError,
                         ::testing::Values(ErrorCode::not_leader_or_follower, ErrorCode::request_timed_out,
                                           ErrorCode::not_enough_replicas, ErrorCode::not_enough_replicas_after_append),
                         [](const auto& param_info) { return std::string(protocol::error_name(param_info.param)); });

// Batches 0..2 go together; 0 gets NOT_LEADER_OR_FOLLOWER and 1 and 2 OUT_OF_ORDER_SEQUENCE_NUMBER
// (what a broker answers when 0 was not written). They go again one by one, each only once every
// earlier one is acknowledged, under the same epoch and sequences (no epoch bump: the first
// unacknowledged batch got a retriable error).
TEST(ProducerRetries, AnIdempotentRetryGoesOnlyAsTheFirstUnacknowledgedBatch) {
    ScriptedCluster cluster(5);
    std::size_t produces_seen = 0;
    cluster.script.on_produce = [&](const ProduceRequest& request, const Received&) {
        ++produces_seen;
        if (produces_seen == 1) {
            return error(ErrorCode::not_leader_or_follower);
        }
        if (produces_seen <= 3) {
            return error(ErrorCode::out_of_order_sequence_number);
        }
        return cluster.script.append(request);
    };
    Producer& producer = cluster.make_producer(one_record_batches());
    Sends sends;
    sends.start(cluster, producer, 0, 3);
    ASSERT_TRUE(cluster.run_until([&] { return sends.done(); }));

    const std::vector<Attempt> expected{{0, 0, 1, "v0"}, {0, 1, 1, "v1"}, {0, 2, 1, "v2"},
                                        {0, 0, 1, "v0"}, {0, 1, 1, "v1"}, {0, 2, 1, "v2"}};
    ASSERT_EQ(attempts(cluster.script), expected);
    const std::vector<const Received*> produces = cluster.script.received_of<ProduceRequest>();
    for (std::size_t i = 3; i < produces.size(); ++i) {
        EXPECT_EQ(produces[i]->produces_outstanding, 0U) << "retry " << i << " went beside another batch";
    }
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(completion_of(cluster.history, "v" + std::to_string(i)).offset, i);
    }
}

TEST(ProducerRetries, ANonRetriableErrorFailsTheSendAndTheNextBatchStartsANewEpoch) {
    ScriptedCluster cluster(6);
    cluster.script.on_produce = [&](const ProduceRequest& request, const Received&) {
        if (batch_of(request).records.front().value == "v0") {
            return error(ErrorCode::message_too_large);
        }
        return cluster.script.append(request);
    };
    Producer& producer = cluster.make_producer(one_record_batches());
    Sends sends;
    sends.start(cluster, producer, 0, 1);
    sends.start(cluster, producer, 1, 1, 500ms);
    ASSERT_TRUE(cluster.run_until([&] { return sends.done(); }));

    const ClientOperation& failed = completion_of(cluster.history, "v0");
    EXPECT_EQ(failed.type, Type::fail);
    EXPECT_EQ(failed.error, "MESSAGE_TOO_LARGE");
    EXPECT_FALSE(failed.offset.has_value());
    EXPECT_EQ(completion_of(cluster.history, "v1").type, Type::ok);
    // Sequence 0 of epoch 0 is a gap the log can never fill: the next batch starts epoch 1 at 0.
    EXPECT_EQ(attempts(cluster.script), (std::vector<Attempt>{{0, 0, 1, "v0"}, {1, 0, 1, "v1"}}));
    EXPECT_EQ(cluster.script.received_of<protocol::InitProducerIdRequest>().size(), 1U);
}

TEST(ProducerRetries, PlainProducerFailsOnANonRetriableError) {
    ScriptedCluster cluster(7);
    cluster.script.on_produce = [](const ProduceRequest&, const Received&) {
        return error(ErrorCode::invalid_required_acks);
    };
    ProducerConfig config;
    config.idempotent = false;
    config.acks = 1;
    Producer& producer = cluster.make_producer(config);
    Sends sends;
    sends.start(cluster, producer, 0, 1);
    ASSERT_TRUE(cluster.run_until([&] { return sends.done(); }));
    EXPECT_EQ(cluster.script.received_of<ProduceRequest>().size(), 1U);
    EXPECT_EQ(completion_of(cluster.history, "v0").type, Type::fail);
    EXPECT_EQ(completion_of(cluster.history, "v0").error, "INVALID_REQUIRED_ACKS");
    ASSERT_TRUE(sends.futures[0].get().ok());
    EXPECT_EQ(sends.futures[0].get()->status, SendOutcome::Status::failed);
}

// A non-retriable refusal after an attempt that may have been written does not prove the batch is
// absent: the outcome is unknown.
TEST(ProducerRetries, ANonRetriableErrorAfterAnAmbiguousAttemptIsUnknown) {
    ScriptedCluster cluster(8);
    bool first = true;
    cluster.script.on_produce = [&](const ProduceRequest&, const Received&) {
        const ErrorCode code = first ? ErrorCode::request_timed_out : ErrorCode::message_too_large;
        first = false;
        return error(code);
    };
    Producer& producer = cluster.make_producer(ProducerConfig{});
    Sends sends;
    sends.start(cluster, producer, 0, 1);
    ASSERT_TRUE(cluster.run_until([&] { return sends.done(); }));
    EXPECT_EQ(cluster.script.received_of<ProduceRequest>().size(), 2U);
    EXPECT_EQ(completion_of(cluster.history, "v0").type, Type::info);
}

// ---- Delivery timeout ------------------------------------------------------------------------------

// The broker never answers. The batch is retried after each request timeout and given up once its
// delivery timeout, counted from send() (here including 900 ms spent waiting for the producer id),
// has passed and its last attempt has ended: `info`, since an attempt may have been written. Counted
// from the batch's first attempt, the deadline would allow a fourth attempt at 3.4 s.
TEST(ProducerDeliveryTimeout, AnUnansweredBatchIsGivenUpAsUnknownAfterTheDeliveryTimeout) {
    ScriptedCluster cluster(9);
    cluster.script.on_init_producer_id = [](const Received&) {
        return Reply::answer(
            protocol::InitProducerIdResponse{ErrorCode::none, scripted_producer_id, protocol::ProducerEpoch(0)}, 900ms);
    };
    cluster.script.on_produce = [](const ProduceRequest&, const Received&) { return Reply::never(); };
    ProducerConfig config;
    config.request_timeout = 1s;
    config.delivery_timeout = 3s;
    Producer& producer = cluster.make_producer(config);
    Sends sends;
    sends.start(cluster, producer, 0, 1);
    ASSERT_TRUE(cluster.run_until([&] { return sends.done(); }));

    const ClientOperation& done = completion_of(cluster.history, "v0");
    EXPECT_EQ(done.type, Type::info);
    EXPECT_EQ(done.error, "NETWORK_EXCEPTION");
    const sim::Time deadline = sends.sent_at[0] + config.delivery_timeout;
    EXPECT_GE(done.time, deadline);
    // At most one attempt (request timeout + 200 ms of slack, then a metadata refresh) outlives it.
    EXPECT_LE(done.time, deadline + config.request_timeout + 250ms);
    const std::vector<const Received*> produces = cluster.script.received_of<ProduceRequest>();
    EXPECT_GE(produces.size(), 2U);
    for (const Received* produce : produces) {
        EXPECT_EQ(attempt_of(*produce), (Attempt{0, 0, 1, "v0"}));
        EXPECT_LT(produce->time, deadline) << "an attempt started after the delivery timeout";
    }
    ASSERT_TRUE(sends.futures[0].get().ok());
    EXPECT_EQ(sends.futures[0].get()->status, SendOutcome::Status::unknown);
}

// Two records, one batch each, one in flight at a time; the broker never answers. The second
// record's delivery timeout counts from its send() as well, not from when it got a slot: once the
// first gives up (after the deadline they share) the second is past it too and is never sent, so it
// fails (it cannot have been written).
TEST(ProducerDeliveryTimeout, PlainProducerCountsTheDeliveryTimeoutFromTheSend) {
    ScriptedCluster cluster(10);
    cluster.script.on_produce = [](const ProduceRequest&, const Received&) { return Reply::never(); };
    ProducerConfig config = one_record_batches();
    config.idempotent = false;
    config.acks = 1;
    config.max_in_flight = 1;
    config.request_timeout = 500ms;
    config.delivery_timeout = 3s;
    Producer& producer = cluster.make_producer(config);
    Sends sends;
    sends.start(cluster, producer, 0, 2);
    ASSERT_TRUE(cluster.run_until([&] { return sends.done(); }));

    const sim::Time deadline = sends.sent_at[1] + config.delivery_timeout;
    const ClientOperation& first = completion_of(cluster.history, "v0");
    const ClientOperation& second = completion_of(cluster.history, "v1");
    EXPECT_EQ(first.type, Type::info);
    EXPECT_EQ(second.type, Type::fail);
    // The first's last attempt, a backoff and a linger may outlive the deadline; another 3 s may not.
    EXPECT_LE(second.time, deadline + 1s);
    for (const Received* produce : cluster.script.received_of<ProduceRequest>()) {
        EXPECT_EQ(attempt_of(*produce).first_value, "v0");
    }
}

// No broker gives the producer an id for 3 s. A record sent meanwhile is never sent to a partition:
// it fails at its delivery timeout (it cannot have been written) rather than wait for the id; a
// record sent once the id came goes as sequence 0 of epoch 0.
TEST(ProducerDeliveryTimeout, ARecordWaitingForAProducerIdFailsAtItsDeliveryTimeout) {
    ScriptedCluster cluster(13);
    cluster.script.on_init_producer_id = [](const Received& received) {
        if (received.time < sim::Time(3s)) {
            return Reply::answer(protocol::InitProducerIdResponse{
                ErrorCode::coordinator_not_available, protocol::no_producer_id, protocol::no_producer_epoch});
        }
        return Reply::answer(
            protocol::InitProducerIdResponse{ErrorCode::none, scripted_producer_id, protocol::ProducerEpoch(0)});
    };
    ProducerConfig config;
    config.delivery_timeout = 2s;
    Producer& producer = cluster.make_producer(config);
    Sends sends;
    sends.start(cluster, producer, 0, 1);
    sends.start(cluster, producer, 1, 1, 4s);
    ASSERT_TRUE(cluster.run_until([&] { return sends.done(); }));

    const ClientOperation& expired = completion_of(cluster.history, "v0");
    EXPECT_EQ(expired.type, Type::fail);
    EXPECT_GE(expired.time, sends.sent_at[0] + config.delivery_timeout);
    EXPECT_LE(expired.time, sends.sent_at[0] + config.delivery_timeout + config.retry_backoff + 10ms);
    EXPECT_EQ(completion_of(cluster.history, "v1").type, Type::ok);
    EXPECT_EQ(attempts(cluster.script), (std::vector<Attempt>{{0, 0, 1, "v1"}}));
}

// Records that wait behind a slow batch (one in flight at most) past their delivery timeout fail before
// they get a sequence, as Kafka expires batches in its accumulator: the producer goes on under the same
// epoch, from the next sequence, without a gap to bump past.
TEST(ProducerDeliveryTimeout, RecordsExpiredBeforeTheyAreBatchedTakeNoSequence) {
    ScriptedCluster cluster(17);
    cluster.script.on_produce = [&](const ProduceRequest& request, const Received&) {
        Reply reply = cluster.script.append(request);
        if (batch_of(request).base_sequence.value() == 0) {
            reply.delay = 2500ms;
        }
        return reply;
    };
    ProducerConfig config = one_record_batches();
    config.max_in_flight = 1;
    config.delivery_timeout = 2s;
    config.request_timeout = 5s;
    Producer& producer = cluster.make_producer(config);
    Sends sends;
    sends.start(cluster, producer, 0, 3);
    sends.start(cluster, producer, 3, 1, 3s);
    ASSERT_TRUE(cluster.run_until([&] { return sends.done(); }));

    EXPECT_EQ(completion_of(cluster.history, "v0").type, Type::ok);
    EXPECT_EQ(completion_of(cluster.history, "v1").type, Type::fail);
    EXPECT_EQ(completion_of(cluster.history, "v2").type, Type::fail);
    EXPECT_EQ(completion_of(cluster.history, "v3").type, Type::ok);
    EXPECT_EQ(attempts(cluster.script), (std::vector<Attempt>{{0, 0, 1, "v0"}, {0, 1, 1, "v3"}}));
}

// ---- Epoch bumps (KIP-360) -------------------------------------------------------------------------

// Batches of two records at sequences 0, 2, 4. The first is acknowledged; the broker then answers
// the second (now the first unacknowledged) with the error under test, and the third with
// OUT_OF_ORDER_SEQUENCE_NUMBER (it follows a batch that was not written). Once neither is in flight
// the producer bumps its epoch, without asking a broker (docs/idempotence.md: epochs are bumped by
// the producer itself), and sends the two again from sequence 0 under epoch 1.
class ProducerEpochBump : public ::testing::TestWithParam<ErrorCode> {};

TEST_P(ProducerEpochBump, TheFirstUnacknowledgedBatchRefusedRenumbersTheRestUnderANewEpoch) {
    ScriptedCluster cluster(11);
    cluster.script.on_produce = [&](const ProduceRequest& request, const Received&) {
        if (batch_of(request).producer_epoch.value() == 0 && batch_of(request).base_sequence.value() == 2) {
            return error(GetParam());
        }
        if (batch_of(request).producer_epoch.value() == 0 && batch_of(request).base_sequence.value() == 4) {
            return error(ErrorCode::out_of_order_sequence_number);
        }
        return cluster.script.append(request);
    };
    ProducerConfig config;
    config.batch_records_max = 2;
    Producer& producer = cluster.make_producer(config);
    Sends sends;
    sends.start(cluster, producer, 0, 6);
    ASSERT_TRUE(cluster.run_until([&] { return sends.done(); }));

    const std::vector<Attempt> expected{
        {0, 0, 2, "v0"}, {0, 2, 2, "v2"}, {0, 4, 2, "v4"}, {1, 0, 2, "v2"}, {1, 2, 2, "v4"}};
    EXPECT_EQ(attempts(cluster.script), expected);
    for (int i = 0; i < 6; ++i) {
        const ClientOperation& done = completion_of(cluster.history, "v" + std::to_string(i));
        EXPECT_EQ(done.type, Type::ok) << i;
        EXPECT_EQ(done.offset, i) << "v0 and v1 keep the offsets acknowledged under epoch 0";
    }
    for (const Received* produce : cluster.script.received_of<ProduceRequest>()) {
        EXPECT_EQ(batch_of(produce->as<ProduceRequest>()).producer_id, scripted_producer_id) << "the producer id stays";
    }
    EXPECT_EQ(cluster.script.received_of<protocol::InitProducerIdRequest>().size(), 1U);
}

INSTANTIATE_TEST_SUITE_P(Errors, ProducerEpochBump,
                         ::testing::Values(ErrorCode::out_of_order_sequence_number, ErrorCode::unknown_producer_id,
                                           ErrorCode::invalid_producer_epoch),
                         [](const auto& param_info) { return std::string(protocol::error_name(param_info.param)); });

// Batches A and B (sequences 0, 1) at once, C (2) a second later. A is answered REQUEST_TIMED_OUT
// every time, until its delivery timeout: it leaves with its outcome unknown. B's one attempt got
// NOT_ENOUGH_REPLICAS_AFTER_APPEND (it may be in the log). Neither B nor C goes while A is retried
// (only the first unacknowledged batch is retried, and nothing newer goes before a retry). Then the
// epoch is bumped: B, possibly written, is not sent again (it could be written twice) and is unknown
// too; C, whose delivery timeout has not passed, goes under epoch 1 at 0, and a later D follows at 1.
TEST(ProducerEpochBump, ABatchLeftWithItsOutcomeUnknownBumpsTheEpoch) {
    ScriptedCluster cluster(12);
    cluster.script.on_produce = [&](const ProduceRequest& request, const Received&) {
        if (batch_of(request).producer_epoch.value() == 0) {
            switch (batch_of(request).base_sequence.value()) {
                case 0:
                    return error(ErrorCode::request_timed_out);
                case 1:
                    return error(ErrorCode::not_enough_replicas_after_append);
                default:
                    return error(ErrorCode::out_of_order_sequence_number);
            }
        }
        return cluster.script.append(request);
    };
    ProducerConfig config = one_record_batches();
    config.delivery_timeout = 2s;
    config.retry_backoff = 100ms;
    Producer& producer = cluster.make_producer(config);
    Sends sends;
    sends.start(cluster, producer, 0, 2);
    sends.start(cluster, producer, 2, 1, 1s);
    sends.start(cluster, producer, 3, 1, 3s);
    ASSERT_TRUE(cluster.run_until([&] { return sends.done(); }));

    const std::vector<Attempt> seen = attempts(cluster.script);
    ASSERT_GE(seen.size(), 5U);
    EXPECT_EQ(std::vector<Attempt>(seen.begin(), seen.begin() + 2),
              (std::vector<Attempt>{{0, 0, 1, "v0"}, {0, 1, 1, "v1"}}));
    for (std::size_t i = 2; i + 2 < seen.size(); ++i) {
        EXPECT_EQ(seen[i], (Attempt{0, 0, 1, "v0"})) << "only the first unacknowledged batch is retried";
    }
    EXPECT_EQ(std::vector<Attempt>(seen.end() - 2, seen.end()),
              (std::vector<Attempt>{{1, 0, 1, "v2"}, {1, 1, 1, "v3"}}));

    EXPECT_EQ(completion_of(cluster.history, "v0").type, Type::info);
    EXPECT_EQ(completion_of(cluster.history, "v0").error, "REQUEST_TIMED_OUT");
    EXPECT_EQ(completion_of(cluster.history, "v1").type, Type::info);
    EXPECT_EQ(completion_of(cluster.history, "v2").type, Type::ok);
    EXPECT_EQ(completion_of(cluster.history, "v2").offset, 0);
    EXPECT_EQ(completion_of(cluster.history, "v3").offset, 1);
    EXPECT_GE(completion_of(cluster.history, "v0").time, sends.sent_at[0] + config.delivery_timeout);
}

// ---- Sequences -------------------------------------------------------------------------------------

// The producer starts every epoch at sequence 0 and offers no way to start near 2^31-1 (reaching it
// would take 2^31 records), so the wrap is tested on protocol/sequence.h, the helper the producer
// numbers its batches with (Producer::run_idempotent_sender, bump_epoch).
TEST(ProducerSequences, WrapFromTwoToTheThirtyOneMinusOneToZeroAsKafkas) {
    using protocol::Sequence;
    EXPECT_EQ(protocol::increment_sequence(Sequence(protocol::max_sequence), 1), Sequence(0));
    EXPECT_EQ(protocol::increment_sequence(Sequence(protocol::max_sequence - 1), 3), Sequence(1));
    EXPECT_EQ(protocol::increment_sequence(Sequence(5), 16), Sequence(21));
    EXPECT_EQ(protocol::last_sequence(Sequence(protocol::max_sequence), 2), Sequence(0));
    EXPECT_EQ(protocol::decrement_sequence(Sequence(0), 1), Sequence(protocol::max_sequence));
    EXPECT_TRUE(protocol::in_sequence(Sequence(protocol::max_sequence), Sequence(0)));
    EXPECT_FALSE(protocol::in_sequence(Sequence(protocol::max_sequence), Sequence(1)));
    static_assert(protocol::increment_sequence(Sequence(protocol::max_sequence), std::int64_t{1} << 32) ==
                  Sequence(protocol::max_sequence));
}

}  // namespace
}  // namespace eosim::client_core::testing
