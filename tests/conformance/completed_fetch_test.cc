// Kafka's CompletedFetchTest and read_committed cases of FetcherTest (and eosim cases of its own, marked
// so), against client_core's
// fetched_records (what a consumer hands out of one partition's fetch answer, and where its position goes).
// Kafka's counts of records per fetchRecords call (max.poll.records) have no counterpart: eosim's poll
// hands out a whole answer.

#include <gtest/gtest.h>

#include "client_core/fetched_records.h"
#include "protocol/control_record.h"

namespace eosim::client_core {
namespace {

using protocol::AbortedTransaction;
using protocol::ControlType;
using protocol::FetchPartitionResponse;
using protocol::IsolationLevel;
using protocol::Offset;
using protocol::ProducerEpoch;
using protocol::ProducerId;
using protocol::RecordBatch;

constexpr ProducerId producer{1000};

RecordBatch data_batch(std::int64_t base, int count, bool transactional = false, ProducerId id = producer) {
    RecordBatch batch;
    batch.base_offset = Offset(base);
    batch.producer_id = transactional ? id : protocol::no_producer_id;
    batch.producer_epoch = ProducerEpoch(transactional ? 0 : -1);
    batch.transactional = transactional;
    for (int i = 0; i < count; ++i) {
        batch.records.push_back(protocol::Record{.key = "key", .value = "value-" + std::to_string(base + i)});
    }
    return batch;
}

RecordBatch marker(std::int64_t offset, ControlType type, ProducerId id = producer) {
    RecordBatch batch = protocol::marker_batch(id, ProducerEpoch(0), {type, 0}, 0);
    batch.base_offset = Offset(offset);
    return batch;
}

std::vector<std::int64_t> offsets(const FetchedRecords& fetched) {
    std::vector<std::int64_t> result;
    for (const FetchedRecord& record : fetched.records) {
        result.push_back(record.offset.value());
    }
    return result;
}

// CompletedFetchTest.testSimple: records below the fetch position are not handed out.
TEST(CompletedFetchTest, Simple) {
    FetchPartitionResponse answer;
    answer.batches.push_back(data_batch(10, 11));  // 10..20
    const FetchedRecords fetched = fetched_records(answer, Offset(5), IsolationLevel::read_uncommitted);
    ASSERT_EQ(fetched.records.size(), 11U);
    EXPECT_EQ(fetched.records.front().offset, Offset(10));
    EXPECT_EQ(fetched.records.back().offset, Offset(20));
    EXPECT_EQ(*fetched.records.front().record->value, "value-10");
    EXPECT_EQ(fetched.next_offset, Offset(21));
    EXPECT_EQ(offsets(fetched_records(answer, Offset(15), IsolationLevel::read_uncommitted)).front(), 15);
}

// CompletedFetchTest.testAbortedTransactionRecordsRemoved
TEST(CompletedFetchTest, AbortedTransactionRecordsRemoved) {
    FetchPartitionResponse answer;
    answer.batches = {data_batch(0, 10, true), marker(10, ControlType::abort)};
    answer.aborted_transactions = {AbortedTransaction{producer, Offset(0)}};
    const FetchedRecords committed = fetched_records(answer, Offset(0), IsolationLevel::read_committed);
    EXPECT_TRUE(committed.records.empty());
    EXPECT_EQ(committed.next_offset, Offset(11));  // past the aborted batch and its marker
    EXPECT_EQ(fetched_records(answer, Offset(0), IsolationLevel::read_uncommitted).records.size(), 10U);
}

// CompletedFetchTest.testCommittedTransactionRecordsIncluded
TEST(CompletedFetchTest, CommittedTransactionRecordsIncluded) {
    FetchPartitionResponse answer;
    answer.batches = {data_batch(0, 10, true), marker(10, ControlType::commit)};
    const FetchedRecords fetched = fetched_records(answer, Offset(0), IsolationLevel::read_committed);
    EXPECT_EQ(fetched.records.size(), 10U);
    EXPECT_EQ(fetched.next_offset, Offset(11));  // the marker is passed over, never handed out
}

// CompletedFetchTest.testNoRecordsInFetch
TEST(CompletedFetchTest, NoRecordsInFetch) {
    FetchPartitionResponse answer;
    answer.high_watermark = Offset(10);
    answer.last_stable_offset = Offset(20);
    const FetchedRecords fetched = fetched_records(answer, Offset(1), IsolationLevel::read_uncommitted);
    EXPECT_TRUE(fetched.records.empty());
    EXPECT_EQ(fetched.next_offset, Offset(1));
}

// eosim: of interleaved transactions of two producers, only the committed one's records and the plain
// records come out.
TEST(ReadCommitted, InterleavedCommittedAndAbortedTransactions) {
    constexpr ProducerId other{2000};
    FetchPartitionResponse answer;
    answer.batches = {data_batch(0, 2, true, producer),  data_batch(2, 2, true, other),
                      data_batch(4, 1),                  marker(5, ControlType::abort, producer),
                      data_batch(6, 2, true, other),     marker(8, ControlType::commit, other),
                      data_batch(9, 2, true, producer),  marker(11, ControlType::commit, producer)};
    answer.aborted_transactions = {AbortedTransaction{producer, Offset(0)}};
    const FetchedRecords fetched = fetched_records(answer, Offset(0), IsolationLevel::read_committed);
    EXPECT_EQ(offsets(fetched), (std::vector<std::int64_t>{2, 3, 4, 6, 7, 9, 10}));
    EXPECT_EQ(fetched.next_offset, Offset(12));
}

// eosim: a producer's two aborted transactions, each ended by its marker, then a committed one.
TEST(ReadCommitted, TwoAbortedTransactionsOfOneProducer) {
    FetchPartitionResponse answer;
    answer.batches = {data_batch(0, 3, true), marker(3, ControlType::abort), data_batch(4, 3, true),
                      marker(7, ControlType::abort), data_batch(8, 2, true), marker(10, ControlType::commit)};
    answer.aborted_transactions = {AbortedTransaction{producer, Offset(0)}, AbortedTransaction{producer, Offset(4)}};
    const FetchedRecords fetched = fetched_records(answer, Offset(0), IsolationLevel::read_committed);
    EXPECT_EQ(offsets(fetched), (std::vector<std::int64_t>{8, 9}));
    EXPECT_EQ(fetched.next_offset, Offset(11));
}

// eosim: an abort marker with no data before it moves the position and hands out nothing.
TEST(ReadCommitted, AbortMarkerWithNoData) {
    FetchPartitionResponse answer;
    answer.batches = {marker(0, ControlType::abort), data_batch(1, 2, true), marker(3, ControlType::commit)};
    answer.aborted_transactions = {AbortedTransaction{producer, Offset(0)}};
    const FetchedRecords fetched = fetched_records(answer, Offset(0), IsolationLevel::read_committed);
    EXPECT_EQ(offsets(fetched), (std::vector<std::int64_t>{1, 2}));
    EXPECT_EQ(fetched.next_offset, Offset(4));
}

// FetcherTest.testReturnAbortedTransactionsinUncommittedMode: read_uncommitted hands out everything but
// the markers.
TEST(FetcherTest, ReturnAbortedTransactionsInUncommittedMode) {
    FetchPartitionResponse answer;
    answer.batches = {data_batch(0, 2, true), marker(2, ControlType::abort)};
    answer.aborted_transactions = {AbortedTransaction{producer, Offset(0)}};
    const FetchedRecords fetched = fetched_records(answer, Offset(0), IsolationLevel::read_uncommitted);
    EXPECT_EQ(offsets(fetched), (std::vector<std::int64_t>{0, 1}));
    EXPECT_EQ(fetched.next_offset, Offset(3));
}

// FetcherTest.testConsumerPositionUpdatedWhenSkippingAbortedTransactions
TEST(FetcherTest, PositionUpdatedWhenSkippingAbortedTransactions) {
    FetchPartitionResponse answer;
    answer.batches = {data_batch(0, 2, true), marker(2, ControlType::abort)};
    answer.aborted_transactions = {AbortedTransaction{producer, Offset(0)}};
    const FetchedRecords fetched = fetched_records(answer, Offset(0), IsolationLevel::read_committed);
    EXPECT_TRUE(fetched.records.empty());
    EXPECT_EQ(fetched.next_offset, Offset(3));
}

// FetcherTest.testReadCommittedWithCompactedTopic: the cleaner left gaps; the aborted transactions begin at
// offsets no longer in the log, and pid 1's abort marker is not in the answer.
TEST(FetcherTest, ReadCommittedWithCompactedTopic) {
    constexpr ProducerId pid1{1};
    constexpr ProducerId pid2{2};
    constexpr ProducerId pid3{3};
    FetchPartitionResponse answer;
    answer.batches = {data_batch(3, 2, true, pid3),   data_batch(15, 3, true, pid2), data_batch(22, 2, true, pid1),
                      marker(28, ControlType::abort, pid2), data_batch(30, 3, true, pid3),
                      marker(35, ControlType::commit, pid3), data_batch(39, 2, true, pid1)};
    answer.aborted_transactions = {AbortedTransaction{pid2, Offset(6)}, AbortedTransaction{pid1, Offset(0)}};
    const FetchedRecords fetched = fetched_records(answer, Offset(0), IsolationLevel::read_committed);
    EXPECT_EQ(offsets(fetched), (std::vector<std::int64_t>{3, 4, 30, 31, 32}));
}

// eosim: a plain batch moves the position past its last record.
TEST(ReadCommitted, PositionFollowsThePlainRecords) {
    FetchPartitionResponse answer;
    answer.batches = {data_batch(0, 3)};
    const FetchedRecords fetched = fetched_records(answer, Offset(0), IsolationLevel::read_uncommitted);
    EXPECT_EQ(fetched.next_offset, Offset(3));
}

// eosim: an aborted transaction that began before the position: the batch holding the position is
// still dropped.
TEST(ReadCommitted, AbortedTransactionBeganBeforeThePosition) {
    FetchPartitionResponse answer;
    answer.batches = {data_batch(0, 4, true), marker(4, ControlType::abort), data_batch(5, 1)};
    answer.aborted_transactions = {AbortedTransaction{producer, Offset(0)}};
    const FetchedRecords fetched = fetched_records(answer, Offset(2), IsolationLevel::read_committed);
    EXPECT_EQ(offsets(fetched), (std::vector<std::int64_t>{5}));
    EXPECT_EQ(fetched.next_offset, Offset(6));
}

// eosim (Kafka's CompletedFetch.lastEpoch): the position takes the epoch of the last batch passed over,
// markers and dropped batches included, so that a leader change does not look like a truncation.
TEST(ReadCommitted, PositionEpochIsTheLastBatchPassedOver) {
    FetchPartitionResponse answer;
    answer.batches = {data_batch(0, 2, true), marker(2, ControlType::commit)};
    answer.batches[0].leader_epoch = protocol::LeaderEpoch(5);
    answer.batches[1].leader_epoch = protocol::LeaderEpoch(6);
    const FetchedRecords fetched = fetched_records(answer, Offset(0), IsolationLevel::read_committed);
    EXPECT_EQ(fetched.records.size(), 2U);
    EXPECT_EQ(fetched.next_offset, Offset(3));
    EXPECT_EQ(fetched.last_epoch, protocol::LeaderEpoch(6));
    EXPECT_EQ(fetched_records(FetchPartitionResponse{}, Offset(3), IsolationLevel::read_committed).last_epoch,
              std::nullopt);
}

}  // namespace
}  // namespace eosim::client_core
