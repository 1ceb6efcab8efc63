// Kafka's DefaultRecordBatchTest, against eosim's batch codec (broker_core/batch_codec.h) and its
// sequence arithmetic (protocol/sequence.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "broker_core/batch_codec.h"
#include "protocol/sequence.h"

namespace eosim::broker_core {
namespace {

using protocol::Offset;
using protocol::Sequence;

protocol::RecordBatch three_records() {
    protocol::RecordBatch batch;
    batch.records = {{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}};
    return batch;
}

// Overwrites a little-endian field of an encoded batch (batch_codec.h has the layout).
template <typename T>
void overwrite(std::vector<std::byte>& bytes, std::size_t position, T value) {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        bytes.at(position + i) = static_cast<std::byte>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xffU);
    }
}

constexpr std::size_t base_offset_at = 0;
constexpr std::size_t batch_length_at = 8;
constexpr std::size_t leader_epoch_at = 12;
constexpr std::size_t last_offset_delta_at = 23;
constexpr std::size_t record_count_at = 41;

// Kafka: DefaultRecordBatchTest.buildDefaultRecordBatch
TEST(DefaultRecordBatchTest, buildDefaultRecordBatch) {
    protocol::RecordBatch batch;
    batch.base_offset = Offset(1234567);
    batch.records = {{"a", "v", 1}, {"b", "v", 2}};
    const DecodedBatch decoded = decode_batch(encode_batch(batch));
    ASSERT_EQ(decoded.status, DecodeStatus::ok);
    EXPECT_EQ(decoded.batch.base_offset, Offset(1234567));
    EXPECT_EQ(decoded.batch.last_offset(), Offset(1234568));
    EXPECT_EQ(decoded.batch.max_timestamp_ms(), 2);
    EXPECT_EQ(decoded.batch.producer_id, protocol::no_producer_id);
    EXPECT_EQ(decoded.batch.producer_epoch, protocol::no_producer_epoch);
    EXPECT_EQ(decoded.batch.base_sequence, protocol::no_sequence);
}

// Kafka: DefaultRecordBatchTest.buildDefaultRecordBatchWithProducerId
TEST(DefaultRecordBatchTest, buildDefaultRecordBatchWithProducerId) {
    protocol::RecordBatch batch;
    batch.base_offset = Offset(1234567);
    batch.producer_id = protocol::ProducerId(23423);
    batch.producer_epoch = protocol::ProducerEpoch(145);
    batch.base_sequence = Sequence(983);
    batch.records = {{"a", "v", 1}, {"b", "v", 2}};
    const DecodedBatch decoded = decode_batch(encode_batch(batch));
    ASSERT_EQ(decoded.status, DecodeStatus::ok);
    EXPECT_EQ(decoded.batch, batch);
    EXPECT_EQ(decoded.batch.max_timestamp_ms(), 2);
    EXPECT_EQ(protocol::last_sequence(decoded.batch.base_sequence, 2), Sequence(984));
}

// Kafka: DefaultRecordBatchTest.buildDefaultRecordBatchWithSequenceWrapAround
TEST(DefaultRecordBatchTest, buildDefaultRecordBatchWithSequenceWrapAround) {
    protocol::RecordBatch batch = three_records();
    batch.base_offset = Offset(1234567);
    batch.producer_id = protocol::ProducerId(23423);
    batch.producer_epoch = protocol::ProducerEpoch(145);
    batch.base_sequence = Sequence(protocol::max_sequence - 1);
    const DecodedBatch decoded = decode_batch(encode_batch(batch));
    ASSERT_EQ(decoded.status, DecodeStatus::ok);
    EXPECT_EQ(decoded.batch.base_sequence, Sequence(protocol::max_sequence - 1));
    EXPECT_EQ(protocol::last_sequence(decoded.batch.base_sequence, 3), Sequence(0));
    // Each record's sequence: 2^31-2, 2^31-1, 0.
    EXPECT_EQ(protocol::increment_sequence(decoded.batch.base_sequence, 1), Sequence(protocol::max_sequence));
    EXPECT_EQ(protocol::increment_sequence(decoded.batch.base_sequence, 2), Sequence(0));
}

// Kafka: DefaultRecordBatchTest.testInvalidRecordSize
TEST(DefaultRecordBatchTest, testInvalidRecordSize) {
    std::vector<std::byte> bytes = encode_batch(three_records());
    overwrite<std::int32_t>(bytes, batch_length_at, 10);
    EXPECT_EQ(decode_batch(bytes).status, DecodeStatus::corrupt);
}

// Kafka: DefaultRecordBatchTest.testInvalidCrc
TEST(DefaultRecordBatchTest, testInvalidCrc) {
    std::vector<std::byte> bytes = encode_batch(three_records());
    overwrite<std::int32_t>(bytes, last_offset_delta_at, 23);
    EXPECT_EQ(decode_batch(bytes).status, DecodeStatus::corrupt);
}

// Kafka: DefaultRecordBatchTest.testSetLastOffset (the base offset is outside the CRC, so a leader can
// assign offsets without computing it again)
TEST(DefaultRecordBatchTest, testSetLastOffset) {
    std::vector<std::byte> bytes = encode_batch(three_records());
    overwrite<std::int64_t>(bytes, base_offset_at, 498);
    const DecodedBatch decoded = decode_batch(bytes);
    ASSERT_EQ(decoded.status, DecodeStatus::ok);
    EXPECT_EQ(decoded.batch.base_offset, Offset(498));
    EXPECT_EQ(decoded.batch.last_offset(), Offset(500));
}

// Kafka: DefaultRecordBatchTest.testSetPartitionLeaderEpoch (outside the CRC too)
TEST(DefaultRecordBatchTest, testSetPartitionLeaderEpoch) {
    std::vector<std::byte> bytes = encode_batch(three_records());
    overwrite<std::int32_t>(bytes, leader_epoch_at, 500);
    const DecodedBatch decoded = decode_batch(bytes);
    ASSERT_EQ(decoded.status, DecodeStatus::ok);
    EXPECT_EQ(decoded.batch.leader_epoch, protocol::LeaderEpoch(500));
}

// Kafka: DefaultRecordBatchTest.testInvalidRecordCountTooManyNonCompressedV2
TEST(DefaultRecordBatchTest, testInvalidRecordCountTooManyNonCompressedV2) {
    std::vector<std::byte> bytes = encode_batch(three_records());
    overwrite<std::int32_t>(bytes, record_count_at, 5);
    // Caught by the structure checks even without the CRC check.
    EXPECT_EQ(decode_batch(bytes, false).status, DecodeStatus::corrupt);
}

// Kafka: DefaultRecordBatchTest.testInvalidRecordCountTooLittleNonCompressedV2
TEST(DefaultRecordBatchTest, testInvalidRecordCountTooLittleNonCompressedV2) {
    std::vector<std::byte> bytes = encode_batch(three_records());
    overwrite<std::int32_t>(bytes, record_count_at, 2);
    EXPECT_EQ(decode_batch(bytes, false).status, DecodeStatus::corrupt);
}

// Kafka: DefaultRecordBatchTest.testIncrementSequence
TEST(DefaultRecordBatchTest, testIncrementSequence) {
    EXPECT_EQ(protocol::increment_sequence(Sequence(5), 5), Sequence(10));
    EXPECT_EQ(protocol::increment_sequence(Sequence(protocol::max_sequence), 1), Sequence(0));
    EXPECT_EQ(protocol::increment_sequence(Sequence(protocol::max_sequence - 5), 10), Sequence(4));
}

// Kafka: DefaultRecordBatchTest.testDecrementSequence
TEST(DefaultRecordBatchTest, testDecrementSequence) {
    EXPECT_EQ(protocol::decrement_sequence(Sequence(5), 5), Sequence(0));
    EXPECT_EQ(protocol::decrement_sequence(Sequence(0), 1), Sequence(protocol::max_sequence));
}

}  // namespace
}  // namespace eosim::broker_core
