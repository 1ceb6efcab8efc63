// Loading a group coordinator's groups and offsets from its batches in __consumer_offsets
// (broker_core/offsets_log.h): plain and transactional offset commits, markers, tombstones, group
// metadata, and records that do not decode.

#include <gtest/gtest.h>

#include "broker_core/offsets_log.h"
#include "protocol/control_record.h"

namespace eosim::broker_core {
namespace {

using protocol::ProducerEpoch;
using protocol::ProducerId;
using protocol::TopicPartition;

const TopicPartition input{"input", 0};
const TopicPartition other{"input", 1};

GroupMember member(const std::string& id, std::vector<GroupProtocol> protocols, bool awaiting_join = false) {
    GroupMember made;
    made.member_id = id;
    made.client_id = "client";
    made.rebalance_timeout_ms = 3000;
    made.session_timeout_ms = 1000;
    made.protocol_type = "consumer";
    made.protocols = std::move(protocols);
    made.awaiting_join = awaiting_join;
    return made;
}

OffsetAndMetadata offset(std::int64_t value) {
    return OffsetAndMetadata{.offset = value, .leader_epoch = 3, .metadata = "m", .commit_timestamp_ms = 77};
}

// Batches laid out from offset 0 in order, as a leader would assign them.
std::vector<protocol::RecordBatch> laid_out(std::vector<protocol::RecordBatch> batches) {
    std::int64_t next = 0;
    for (protocol::RecordBatch& batch : batches) {
        batch.base_offset = protocol::Offset(next);
        next += static_cast<std::int64_t>(batch.records.size());
    }
    return batches;
}

protocol::RecordBatch plain(std::vector<protocol::Record> records) {
    return protocol::RecordBatch{.records = std::move(records)};
}

protocol::RecordBatch transactional(std::int64_t producer, std::vector<protocol::Record> records) {
    return protocol::RecordBatch{.producer_id = ProducerId(producer),
                                 .producer_epoch = ProducerEpoch(0),
                                 .base_sequence = protocol::Sequence(0),
                                 .transactional = true,
                                 .records = std::move(records)};
}

protocol::RecordBatch marker(std::int64_t producer, bool commit) {
    return protocol::marker_batch(ProducerId(producer), ProducerEpoch(0),
                                  protocol::TransactionMarker{commit ? protocol::ControlType::commit
                                                                     : protocol::ControlType::abort,
                                                              1},
                                  5);
}

TEST(OffsetsLog, PlainCommitsRoundTripAndTheLastWins) {
    const auto loaded = load_groups(laid_out({plain({offset_commit_record("g", input, offset(5), 1)}),
                                              plain({offset_commit_record("g", input, offset(9), 2),
                                                     offset_commit_record("g", other, offset(1), 2)})}));
    EXPECT_EQ(loaded.records, 3U);
    EXPECT_EQ(loaded.refused, 0U);
    OffsetAndMetadata expected = offset(9);
    expected.record_offset = 1;
    EXPECT_EQ(loaded.offsets.committed("g", input), expected);
    EXPECT_EQ(loaded.offsets.committed("g", other)->offset, 1);
}

TEST(OffsetsLog, TransactionalCommitsWaitForTheirMarker) {
    const auto open = load_groups(laid_out({transactional(7, {offset_commit_record("g", input, offset(5), 1)})}));
    EXPECT_FALSE(open.offsets.committed("g", input).has_value());
    EXPECT_TRUE(open.offsets.has_pending("g", input));

    const auto committed = load_groups(laid_out({transactional(7, {offset_commit_record("g", input, offset(5), 1)}),
                                                 transactional(8, {offset_commit_record("g", other, offset(6), 1)}),
                                                 marker(7, true), marker(8, false)}));
    EXPECT_EQ(committed.offsets.committed("g", input)->offset, 5);
    EXPECT_FALSE(committed.offsets.committed("g", other).has_value()) << "aborted";
    EXPECT_FALSE(committed.offsets.has_pending("g"));
}

TEST(OffsetsLog, APlainCommitLoggedAfterATransactionalOneWins) {
    const auto loaded = load_groups(laid_out({transactional(7, {offset_commit_record("g", input, offset(5), 1)}),
                                              plain({offset_commit_record("g", input, offset(3), 2)}),
                                              marker(7, true)}));
    EXPECT_EQ(loaded.offsets.committed("g", input)->offset, 3);
}

TEST(OffsetsLog, TombstonesRemoveOffsetsAndGroups) {
    GroupMetadata group("g");
    ASSERT_TRUE(group.add(member("m1", {GroupProtocol{"range", "sub"}})));
    const auto loaded = load_groups(laid_out({plain({offset_commit_record("g", input, offset(5), 1),
                                                     group_metadata_record(group, 1)}),
                                              plain({offset_commit_tombstone("g", input, 2),
                                                     group_metadata_tombstone("g", 2)})}));
    EXPECT_FALSE(loaded.offsets.committed("g", input).has_value());
    EXPECT_FALSE(loaded.groups.contains("g"));
}

TEST(OffsetsLog, GroupMetadataRoundTrips) {
    GroupMetadata group("g");
    ASSERT_TRUE(group.transition_to(GroupState::preparing_rebalance));
    for (const char* id : {"m2", "m1"}) {
        ASSERT_TRUE(group.add(
            member(id, {GroupProtocol{"range", std::string("sub-") + id}, GroupProtocol{"sticky", "other"}}, true)));
    }
    group.init_next_generation();
    group.member("m1")->assignment = "a1";
    group.member("m2")->assignment = "a2";
    ASSERT_TRUE(group.transition_to(GroupState::stable));
    const auto loaded = load_groups(laid_out({plain({group_metadata_record(group, 1)})}));
    ASSERT_TRUE(loaded.groups.contains("g"));
    const GroupMetadata& back = loaded.groups.at("g");
    EXPECT_EQ(back.state(), GroupState::stable);
    EXPECT_EQ(back.generation_id(), 1);
    EXPECT_EQ(back.protocol_type(), "consumer");
    EXPECT_EQ(back.protocol_name(), "range");
    EXPECT_EQ(back.leader_id(), "m2") << "the first member to join leads";
    ASSERT_EQ(back.members().size(), 2U);
    const GroupMember& m1 = back.members().at("m1");
    EXPECT_EQ(m1.assignment, "a1");
    EXPECT_EQ(m1.session_timeout_ms, 1000);
    EXPECT_EQ(m1.rebalance_timeout_ms, 3000);
    ASSERT_EQ(m1.protocols.size(), 1U) << "only the chosen protocol's subscription is kept";
    EXPECT_EQ(m1.protocols[0], (GroupProtocol{"range", "sub-m1"}));
    EXPECT_FALSE(m1.awaiting_join);

    GroupMetadata empty("e");
    const auto loaded_empty = load_groups(laid_out({plain({group_metadata_record(empty, 1)})}));
    EXPECT_EQ(loaded_empty.groups.at("e").state(), GroupState::empty);
    EXPECT_FALSE(loaded_empty.groups.at("e").leader_id().has_value());
}

TEST(OffsetsLog, RecordsThatDoNotDecodeAreSkippedAndCounted) {
    protocol::Record truncated = offset_commit_record("g", input, offset(5), 1);
    truncated.value->pop_back();
    protocol::Record bad_key = offset_commit_record("g", input, offset(5), 1);
    bad_key.key->push_back('x');
    protocol::Record no_key = offset_commit_record("g", input, offset(5), 1);
    no_key.key.reset();
    const auto loaded = load_groups(laid_out({plain({truncated, bad_key, no_key,
                                                     offset_commit_record("g", other, offset(2), 1)})}));
    EXPECT_EQ(loaded.records, 4U);
    EXPECT_EQ(loaded.refused, 3U);
    EXPECT_FALSE(loaded.offsets.committed("g", input).has_value());
    EXPECT_EQ(loaded.offsets.committed("g", other)->offset, 2);
}

}  // namespace
}  // namespace eosim::broker_core
