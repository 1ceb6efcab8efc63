// The offset cases of Kafka's GroupMetadataTest (core, Kafka 3) and OffsetMetadataManagerTest's replay of
// end-transaction markers (group-coordinator, Kafka 4), against broker_core::GroupOffsets. Kafka's
// "appendedBatchOffset" / "recordOffset" is OffsetAndMetadata::record_offset here.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "broker_core/group_offsets.h"

namespace eosim::broker_core {
namespace {

using protocol::ProducerId;
using protocol::TopicPartition;

const std::string group = "groupId";
const TopicPartition partition{"foo", 0};
const ProducerId producer{332};

OffsetAndMetadata at(std::int64_t offset, std::int64_t record_offset) {
    return OffsetAndMetadata{.offset = offset, .commit_timestamp_ms = 1000, .record_offset = record_offset};
}

TEST(GroupMetadataTest, OffsetCommit) {
    GroupOffsets offsets;
    EXPECT_FALSE(offsets.committed(group, partition).has_value());
    offsets.commit(group, partition, at(37, 4));
    EXPECT_EQ(offsets.committed(group, partition), at(37, 4));
    offsets.commit(group, partition, at(40, 5));
    EXPECT_EQ(offsets.committed(group, partition)->offset, 40);
}

TEST(GroupMetadataTest, TransactionBeatsConsumerOffsetCommit) {
    GroupOffsets offsets;
    offsets.commit(group, partition, at(37, 3));
    offsets.commit_pending(group, producer, partition, at(40, 4));
    EXPECT_TRUE(offsets.has_pending(group, partition));
    EXPECT_EQ(offsets.committed(group, partition)->offset, 37) << "pending offsets are not visible";
    offsets.end_transaction(producer, true);
    EXPECT_EQ(offsets.committed(group, partition)->offset, 40);
    EXPECT_FALSE(offsets.has_pending(group, partition));
}

TEST(GroupMetadataTest, ConsumerBeatsTransactionalOffsetCommit) {
    GroupOffsets offsets;
    offsets.commit_pending(group, producer, partition, at(40, 3));
    offsets.commit(group, partition, at(37, 4));  // logged after the transactional one
    offsets.end_transaction(producer, true);
    EXPECT_EQ(offsets.committed(group, partition), at(37, 4));
    EXPECT_FALSE(offsets.has_pending(group));
}

TEST(GroupMetadataTest, TransactionalCommitIsAbortedAndConsumerCommitWins) {
    GroupOffsets offsets;
    offsets.commit_pending(group, producer, partition, at(40, 3));
    offsets.commit(group, partition, at(37, 4));
    offsets.end_transaction(producer, false);
    EXPECT_EQ(offsets.committed(group, partition)->offset, 37);
    EXPECT_FALSE(offsets.has_pending(group, partition));
}

TEST(GroupMetadataTest, AbortedTransactionalOffsetCommitLeavesNothing) {
    GroupOffsets offsets;
    offsets.commit_pending(group, producer, partition, at(40, 3));
    offsets.end_transaction(producer, false);
    EXPECT_FALSE(offsets.committed(group, partition).has_value());
    EXPECT_FALSE(offsets.has_pending(group));
    EXPECT_TRUE(offsets.open_transactions(group).empty());
}

TEST(OffsetMetadataManagerTest, ReplayTransactionEndMarkerAppliesOnlyThatProducersOffsets) {
    GroupOffsets offsets;
    const ProducerId other{333};
    const TopicPartition bar{"bar", 0};
    offsets.commit_pending(group, producer, partition, at(10, 1));
    offsets.commit_pending(group, other, bar, at(20, 2));
    offsets.commit_pending("other-group", producer, bar, at(30, 3));
    EXPECT_EQ(offsets.open_transactions(group), (std::set<ProducerId>{producer, other}));
    offsets.end_transaction(producer, true);
    EXPECT_EQ(offsets.committed(group, partition)->offset, 10);
    EXPECT_EQ(offsets.committed("other-group", bar)->offset, 30);
    EXPECT_FALSE(offsets.committed(group, bar).has_value());
    EXPECT_TRUE(offsets.has_pending(group, bar));
    EXPECT_EQ(offsets.open_transactions(group), std::set<ProducerId>{other});
    offsets.end_transaction(ProducerId{999}, true);  // a marker of a producer with nothing pending
    EXPECT_TRUE(offsets.has_pending(group, bar));
}

TEST(OffsetMetadataManagerTest, DeletedGroupLosesItsPendingOffsets) {
    GroupOffsets offsets;
    offsets.commit(group, partition, at(5, 1));
    offsets.commit_pending(group, producer, partition, at(10, 2));
    offsets.remove_group(group);
    EXPECT_EQ(offsets.committed(group), nullptr);
    EXPECT_FALSE(offsets.has_pending(group));
    offsets.end_transaction(producer, true);
    EXPECT_EQ(offsets.committed(group), nullptr);
}

}  // namespace
}  // namespace eosim::broker_core
