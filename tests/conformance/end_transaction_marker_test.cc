// Kafka's EndTransactionMarkerTest and ControlRecordTypeTest, against protocol/control_record.h. Kafka throws
// InvalidRecordException for a malformed marker; eosim's readers return nothing and the caller refuses the
// batch. Kafka's ControlRecordType.UNKNOWN has no value in eosim's ControlType: an unknown type is
// "nothing" when parsed, and cannot be written at all.

#include <gtest/gtest.h>

#include "protocol/control_record.h"

namespace eosim::protocol {
namespace {

std::string bytes_of(std::initializer_list<int> values) {
    std::string bytes;
    for (const int value : values) {
        bytes.push_back(static_cast<char>(value));
    }
    return bytes;
}

// A control batch whose one record has this key and value.
RecordBatch control_batch(std::string key, std::string value) {
    RecordBatch batch;
    batch.control = true;
    batch.transactional = true;
    batch.records.push_back(Record{.key = std::move(key), .value = std::move(value)});
    return batch;
}

const std::string commit_key = bytes_of({0, 0, 0, 1});

// EndTransactionMarkerTest.testCannotDeserializeUnknownControlType
TEST(EndTransactionMarker, UnknownControlTypeIsNoMarker) {
    EXPECT_EQ(marker_of(control_batch(bytes_of({0, 0, 0, 2}), bytes_of({0, 0, 0, 0, 0, 24}))), std::nullopt);
}

// EndTransactionMarkerTest.testIllegalNegativeVersion
TEST(EndTransactionMarker, NegativeValueVersionIsNoMarker) {
    EXPECT_EQ(marker_of(control_batch(commit_key, bytes_of({0xff, 0xff, 0, 0, 0, 24}))), std::nullopt);
}

// EndTransactionMarkerTest.testNotEnoughBytes
TEST(EndTransactionMarker, ShortValueIsNoMarker) {
    EXPECT_EQ(marker_of(control_batch(commit_key, "")), std::nullopt);
    EXPECT_EQ(marker_of(control_batch(commit_key, bytes_of({0, 0, 0, 0, 0}))), std::nullopt);
}

// EndTransactionMarkerTest.testSerde
TEST(EndTransactionMarker, RoundTrip) {
    const TransactionMarker marker{ControlType::commit, 79};
    const RecordBatch batch = marker_batch(ProducerId(7), ProducerEpoch(3), marker, 1234);
    EXPECT_TRUE(batch.control);
    EXPECT_TRUE(batch.transactional);
    EXPECT_EQ(batch.producer_id, ProducerId(7));
    EXPECT_EQ(batch.producer_epoch, ProducerEpoch(3));
    ASSERT_EQ(batch.records.size(), 1U);
    EXPECT_EQ(batch.records[0].timestamp_ms, 1234);
    EXPECT_EQ(batch.records[0].key, commit_key);
    EXPECT_EQ(batch.records[0].value, bytes_of({0, 0, 0, 0, 0, 79}));
    EXPECT_EQ(marker_of(batch), marker);
    EXPECT_EQ(marker_of(marker_batch(ProducerId(7), ProducerEpoch(3), {ControlType::abort, 0x01020304}, 0)),
              (TransactionMarker{ControlType::abort, 0x01020304}));
}

// EndTransactionMarkerTest.testDeserializeNewerVersion
TEST(EndTransactionMarker, NewerValueVersionKeepsItsEpochAndIgnoresExtraBytes) {
    EXPECT_EQ(marker_of(control_batch(commit_key, bytes_of({0, 5, 0, 0, 0, 79, 0, 0}))),
              (TransactionMarker{ControlType::commit, 79}));
}

// ControlRecordTypeTest.testParseUnknownType
TEST(ControlRecordType, UnknownTypeParsesAsNothing) {
    EXPECT_EQ(control_type_of(Record{.key = bytes_of({0, 0, 0x01, 0x51})}), std::nullopt);  // 337
}

// ControlRecordTypeTest.testParseUnknownVersion
TEST(ControlRecordType, NewerKeyVersionStillParses) {
    EXPECT_EQ(control_type_of(Record{.key = bytes_of({0, 5, 0, 0, 0, 0, 0x5b, 0x88})}), ControlType::abort);
}

// Not a control batch, or no key: no marker (a data batch of a transaction never counts as one).
TEST(ControlRecordType, OnlyControlBatchesHoldMarkers) {
    RecordBatch data = control_batch(commit_key, bytes_of({0, 0, 0, 0, 0, 1}));
    data.control = false;
    EXPECT_EQ(marker_of(data), std::nullopt);
    EXPECT_EQ(control_type_of(Record{}), std::nullopt);
    EXPECT_EQ(control_type_of(Record{.key = bytes_of({0xff, 0xff, 0, 1})}), std::nullopt);  // negative version
}

}  // namespace
}  // namespace eosim::protocol
