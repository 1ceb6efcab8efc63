#include <gtest/gtest.h>

#include "broker_core/batch_codec.h"
#include "broker_core/partition_log.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using protocol::LeaderEpoch;
using protocol::Offset;
using protocol::RecordBatch;

RecordBatch make_batch(std::int64_t base_offset, int records, std::int32_t epoch = 0, const std::string& tag = "v") {
    RecordBatch batch;
    batch.base_offset = Offset(base_offset);
    batch.leader_epoch = LeaderEpoch(epoch);
    for (int i = 0; i < records; ++i) {
        batch.records.push_back(protocol::Record{
            i % 2 == 0 ? std::optional<std::string>("k" + std::to_string(i)) : std::nullopt,
            tag + "-" + std::to_string(base_offset + i), base_offset + i});
    }
    return batch;
}

TEST(BatchCodec, RoundTripsEveryField) {
    RecordBatch batch = make_batch(42, 3, 7);
    batch.producer_id = protocol::ProducerId(1001);
    batch.producer_epoch = protocol::ProducerEpoch(3);
    batch.base_sequence = protocol::Sequence(17);
    batch.transactional = true;
    const std::vector<std::byte> bytes = encode_batch(batch);
    const DecodedBatch decoded = decode_batch(bytes);
    ASSERT_EQ(decoded.status, DecodeStatus::ok);
    EXPECT_EQ(decoded.size_bytes, bytes.size());
    EXPECT_EQ(decoded.batch, batch);
}

TEST(BatchCodec, DetectsTornAndCorruptBatches) {
    const std::vector<std::byte> bytes = encode_batch(make_batch(0, 4));
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
        EXPECT_EQ(decode_batch(std::span(bytes).first(cut)).status, DecodeStatus::truncated) << cut;
    }
    for (std::size_t at = batch_header_bytes; at < bytes.size(); ++at) {
        std::vector<std::byte> flipped = bytes;
        flipped[at] ^= std::byte{0x10};
        EXPECT_EQ(decode_batch(flipped).status, DecodeStatus::corrupt) << "bit flip at " << at;
    }
}

TEST(BatchCodec, WithoutTheCrcCheckAFlippedValueGoesUnnoticed) {
    const std::vector<std::byte> bytes = encode_batch(make_batch(0, 1));
    std::vector<std::byte> flipped = bytes;
    flipped.back() ^= std::byte{0x01};  // the last byte of the value
    EXPECT_EQ(decode_batch(flipped, true).status, DecodeStatus::corrupt);
    const DecodedBatch unchecked = decode_batch(flipped, false);
    ASSERT_EQ(unchecked.status, DecodeStatus::ok);
    EXPECT_NE(unchecked.batch.records[0].value, make_batch(0, 1).records[0].value);
}

// The bytes a CRC covers are exactly those where a flip is seen: from the crc field to the end of each batch.
TEST(BatchCodec, CrcCoversFromTheCrcFieldToTheBatchEnd) {
    std::vector<std::byte> segment = encode_batch(make_batch(0, 2, 3));
    const std::size_t first = segment.size();
    const std::vector<std::byte> second = encode_batch(make_batch(2, 1, 4));
    segment.insert(segment.end(), second.begin(), second.end());
    for (std::size_t at = 0; at < segment.size(); ++at) {
        const std::size_t in_batch = at < first ? at : at - first;
        EXPECT_EQ(crc_covers(segment, at), in_batch >= 17) << "byte " << at;
        std::vector<std::byte> flipped = segment;
        flipped[at] ^= std::byte{0x01};
        const std::span<const std::byte> batch = at < first ? std::span<const std::byte>(flipped).first(first)
                                                            : std::span<const std::byte>(flipped).subspan(first);
        if (crc_covers(segment, at)) {
            EXPECT_NE(decode_batch(batch).status, DecodeStatus::ok) << "a covered flip at " << at << " goes unseen";
        }
    }
    // The leader epoch (bytes 12..15) is not covered, as in Kafka: a flip there decodes.
    std::vector<std::byte> epoch_flipped = segment;
    epoch_flipped[12] ^= std::byte{0x10};
    EXPECT_EQ(decode_batch(epoch_flipped).status, DecodeStatus::ok);
    EXPECT_FALSE(crc_covers(segment, 12));
    EXPECT_FALSE(crc_covers(std::span<const std::byte>(segment).first(first + 20), first + 18)) << "a torn batch";
}

class LogTest : public ::testing::Test {
protected:
    sim::Simulation simulation{sim::SimulationOptions{.seed = 5}};
    sim::Disk disk{sim::DiskOptions{}, sim::Random(5)};
};

TEST_F(LogTest, AppendsReadsAndRollsSegments) {
    PartitionLog log(disk, "t-0", LogConfig{.segment_bytes = 500});
    (void)log.recover();
    std::int64_t next = 0;
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(log.append(make_batch(next, 1 + i % 3, i / 5)).ok());
        next += 1 + i % 3;
    }
    EXPECT_EQ(log.log_end_offset(), Offset(next));
    EXPECT_GT(disk.list("t-0/").size(), 3U) << "segments should have rolled";
    // From the middle of a batch: that whole batch comes first.
    const ReadResult all = log.read(Offset(4), Offset(next), 1U << 20U);
    ASSERT_EQ(all.status, ReadStatus::ok);
    ASSERT_FALSE(all.batches.empty());
    EXPECT_LE(all.batches.front().base_offset, Offset(4));
    EXPECT_GE(all.batches.front().last_offset(), Offset(4));
    EXPECT_EQ(all.batches.back().next_offset(), Offset(next));
    // Bounded by an end offset (a high watermark) and by size (but always one batch).
    const ReadResult bounded = log.read(Offset(0), Offset(10), 1U << 20U);
    for (const RecordBatch& batch : bounded.batches) {
        EXPECT_LT(batch.base_offset, Offset(10));
    }
    EXPECT_EQ(log.read(Offset(0), Offset(next), 1).batches.size(), 1U);
    EXPECT_EQ(log.epoch_at(Offset(0)), LeaderEpoch(0));
    EXPECT_EQ(log.epochs().latest()->epoch, LeaderEpoch(3));
}

TEST_F(LogTest, RecoveryRebuildsTheSameLog) {
    PartitionLog log(disk, "t-0", LogConfig{.segment_bytes = 300});
    (void)log.recover();
    for (std::int64_t offset = 0; offset < 30; offset += 2) {
        ASSERT_TRUE(log.append(make_batch(offset, 2, static_cast<std::int32_t>(offset / 10))).ok());
    }
    ASSERT_TRUE(log.flush().ok());
    (void)disk.crash(sim::UnsyncedFate::lose);
    PartitionLog recovered(disk, "t-0", LogConfig{.segment_bytes = 300});
    const RecoveryReport report = recovered.recover();
    EXPECT_EQ(report.batches, 15U);
    EXPECT_FALSE(report.corrupt);
    EXPECT_EQ(recovered.log_end_offset(), Offset(30));
    EXPECT_EQ(recovered.read(Offset(0), Offset(30), 1U << 20U).batches,
              log.read(Offset(0), Offset(30), 1U << 20U).batches);
    EXPECT_EQ(recovered.epochs().entries(), log.epochs().entries());
}

TEST_F(LogTest, RecoveryCutsACorruptBatchAndEverythingAfterIt) {
    PartitionLog log(disk, "t-0", LogConfig{});
    (void)log.recover();
    for (std::int64_t offset = 0; offset < 10; ++offset) {
        ASSERT_TRUE(log.append(make_batch(offset, 1)).ok());
    }
    ASSERT_TRUE(log.flush().ok());
    // Flip a bit in the value of the sixth batch's record.
    const std::uint64_t batch_size = encode_batch(make_batch(0, 1)).size();
    auto bytes = disk.read_all("t-0/00000000000000000000.log").value();
    bytes[5 * batch_size + batch_size - 1] ^= std::byte{0x04};
    ASSERT_TRUE(disk.write("t-0/00000000000000000000.log", 0, bytes).ok());

    PartitionLog checked(disk, "t-0", LogConfig{});
    PartitionLog unchecked_view(disk, "t-0", LogConfig{});
    // Without the CRC check (the no-crc-check bug) the corrupt batch is taken as good.
    EXPECT_EQ(unchecked_view.recover(false).batches, 10U);
    const RecoveryReport report = checked.recover(true);
    EXPECT_TRUE(report.corrupt);
    EXPECT_EQ(report.batches, 5U);
    EXPECT_EQ(checked.log_end_offset(), Offset(5));
}

TEST_F(LogTest, TruncationRemovesWholeBatchesAndTheirEpochs) {
    PartitionLog log(disk, "t-0", LogConfig{.segment_bytes = 200});
    (void)log.recover();
    ASSERT_TRUE(log.append(make_batch(0, 3, 1)).ok());
    ASSERT_TRUE(log.append(make_batch(3, 3, 2)).ok());
    ASSERT_TRUE(log.append(make_batch(6, 3, 3)).ok());
    log.truncate_to(Offset(4));  // inside the second batch
    EXPECT_EQ(log.log_end_offset(), Offset(3));
    EXPECT_EQ(log.epochs().latest()->epoch, LeaderEpoch(1));
    ASSERT_TRUE(log.append(make_batch(3, 1, 4)).ok());
    EXPECT_EQ(log.read(Offset(3), Offset(4), 100).batches.front().records.front().value, "v-3");
    ASSERT_TRUE(log.flush().ok());
    PartitionLog recovered(disk, "t-0", LogConfig{.segment_bytes = 200});
    EXPECT_EQ(recovered.recover().batches, 2U);
    EXPECT_EQ(recovered.log_end_offset(), Offset(4));
}

// make_batch stamps each record with its offset as its timestamp (ms), so retention by time can be
// steered by the `now` given to apply_retention.
TEST_F(LogTest, RetentionDeletesOldSegmentsBelowTheUpperBoundOnly) {
    PartitionLog log(disk, "t-0", LogConfig{.segment_bytes = 200, .retention_ms = 100});
    (void)log.recover();
    for (std::int64_t offset = 0; offset < 40; offset += 2) {
        ASSERT_TRUE(log.append(make_batch(offset, 2)).ok());
    }
    const std::size_t segments = disk.list("t-0/").size();
    ASSERT_GT(segments, 4U);
    // At 1000 ms every record is old, but an upper bound (a high watermark) of 0 keeps everything.
    EXPECT_EQ(log.apply_retention(1000, Offset(0)), 0U);
    EXPECT_EQ(log.log_start_offset(), Offset(0));
    // With the bound at 20 only segments that end at or below 20 go.
    const std::size_t deleted = log.apply_retention(1000, Offset(20));
    EXPECT_GT(deleted, 0U);
    EXPECT_GT(log.log_start_offset(), Offset(0));
    EXPECT_LE(log.log_start_offset(), Offset(20));
    // A segment whose newest record is younger than retention_ms stays.
    const Offset start = log.log_start_offset();
    EXPECT_EQ(log.apply_retention(start.value() + 50, Offset(40)), 0U);
    // The active segment always stays.
    (void)log.apply_retention(1'000'000, Offset(40));
    EXPECT_LT(log.log_start_offset(), Offset(40));
    EXPECT_EQ(log.log_end_offset(), Offset(40));
    const ReadResult rest = log.read(log.log_start_offset(), Offset(40), UINT64_MAX);
    ASSERT_FALSE(rest.batches.empty());
    EXPECT_EQ(rest.batches.front().base_offset, log.log_start_offset());

    PartitionLog recovered(disk, "t-0", LogConfig{.segment_bytes = 200});
    (void)recovered.recover();
    EXPECT_EQ(recovered.log_start_offset(), log.log_start_offset());
    EXPECT_EQ(recovered.log_end_offset(), Offset(40));
}

TEST_F(LogTest, RetentionBySizeKeepsAtMostTheLimit) {
    PartitionLog log(disk, "t-0", LogConfig{.segment_bytes = 200, .retention_bytes = 450});
    (void)log.recover();
    for (std::int64_t offset = 0; offset < 40; offset += 2) {
        ASSERT_TRUE(log.append(make_batch(offset, 2)).ok());
    }
    EXPECT_GT(log.apply_retention(0, Offset(40)), 0U);
    // As in Kafka, a segment goes only while the rest is still at least the limit.
    EXPECT_GE(log.size_bytes(), 450U);
    EXPECT_LT(log.size_bytes(), 450U + 300U);  // a segment is 200 bytes and a batch more
}

TEST_F(LogTest, TheLogStartOffsetMovesUpOnlyAndSurvivesARestart) {
    PartitionLog log(disk, "t-0", LogConfig{.segment_bytes = 200});
    (void)log.recover();
    for (std::int64_t offset = 0; offset < 30; offset += 3) {
        ASSERT_TRUE(log.append(make_batch(offset, 3, static_cast<std::int32_t>(offset / 10))).ok());
    }
    log.increment_log_start_offset(Offset(13));  // inside a batch: the batch stays, its head is gone
    EXPECT_EQ(log.log_start_offset(), Offset(13));
    log.increment_log_start_offset(Offset(5));  // never down
    EXPECT_EQ(log.log_start_offset(), Offset(13));
    EXPECT_EQ(log.epochs().entries().front(), (EpochEntry{LeaderEpoch(1), Offset(13)}));
    log.increment_log_start_offset(Offset(100));  // never past the end
    EXPECT_EQ(log.log_start_offset(), Offset(30));

    PartitionLog recovered(disk, "t-0", LogConfig{.segment_bytes = 200});
    (void)recovered.recover();
    EXPECT_EQ(recovered.log_start_offset(), Offset(30));
    EXPECT_EQ(recovered.log_end_offset(), Offset(30));
}

TEST_F(LogTest, ALogEmptiedAndStartedAgainKeepsItsNewStart) {
    PartitionLog log(disk, "t-0", LogConfig{.segment_bytes = 200});
    (void)log.recover();
    ASSERT_TRUE(log.append(make_batch(0, 5)).ok());
    log.truncate_fully_and_start_at(Offset(50));
    EXPECT_EQ(log.log_start_offset(), Offset(50));
    EXPECT_EQ(log.log_end_offset(), Offset(50));
    EXPECT_TRUE(log.epochs().entries().empty());
    ASSERT_TRUE(log.append(make_batch(50, 2, 3)).ok());

    PartitionLog recovered(disk, "t-0", LogConfig{.segment_bytes = 200});
    (void)recovered.recover();
    EXPECT_EQ(recovered.log_start_offset(), Offset(50));
    EXPECT_EQ(recovered.log_end_offset(), Offset(52));
}

// A crash between an append and the epoch checkpoint's rename leaves the checkpoint behind the log;
// recovery takes the epochs from the batches as well.
TEST_F(LogTest, RecoveryTakesEpochsFromTheBatchesWhenTheCheckpointLags) {
    {
        PartitionLog log(disk, "t-0", LogConfig{});
        (void)log.recover();
        ASSERT_TRUE(log.append(make_batch(0, 2, 0)).ok());
        ASSERT_TRUE(log.append(make_batch(2, 2, 4)).ok());
        ASSERT_TRUE(log.flush().ok());
    }
    ASSERT_TRUE(disk.remove("t-0/leader-epoch-checkpoint").ok());
    PartitionLog recovered(disk, "t-0", LogConfig{});
    (void)recovered.recover();
    EXPECT_EQ(recovered.epochs().entries(),
              (std::vector<EpochEntry>{{LeaderEpoch(0), Offset(0)}, {LeaderEpoch(4), Offset(2)}}));
}

// A batch of keyed records (`key`, value) starting at `base`, with timestamps `timestamp_ms`; a value of
// nothing is a tombstone.
RecordBatch keyed_batch(std::int64_t base, const std::vector<std::pair<std::string, std::optional<std::string>>>& records,
                        std::int64_t timestamp_ms = 0) {
    RecordBatch batch;
    batch.base_offset = Offset(base);
    for (const auto& [key, value] : records) {
        batch.records.push_back(protocol::Record{key, value, timestamp_ms});
    }
    return batch;
}

std::vector<std::pair<std::int64_t, std::string>> keyed_contents(const PartitionLog& log) {
    std::vector<std::pair<std::int64_t, std::string>> contents;
    for (const RecordBatch& batch : log.read(log.log_start_offset(), log.log_end_offset(), UINT64_MAX).batches) {
        for (std::size_t i = 0; i < batch.records.size(); ++i) {
            contents.emplace_back(batch.base_offset.value() + static_cast<std::int64_t>(i),
                                  *batch.records[i].key + "=" + batch.records[i].value.value_or("<tombstone>"));
        }
    }
    return contents;
}

class CompactionTest : public LogTest {
protected:
    LogConfig config{.segment_bytes = 60, .compacted = true, .delete_retention_ms = 100};
};

// The first batch of a log starts leader epoch 0, which the cleaner keeps (below); these cases begin with
// a batch of a key written once, which would stay anyway.
TEST_F(CompactionTest, SupersededBatchesGoAndEveryKeysLatestStays) {
    PartitionLog log(disk, "t-0", config);
    (void)log.recover();
    // One batch per segment (segments are tiny).
    ASSERT_TRUE(log.append(keyed_batch(0, {{"x", "x0"}})).ok());
    ASSERT_TRUE(log.append(keyed_batch(1, {{"a", "a1"}, {"b", "b1"}})).ok());
    ASSERT_TRUE(log.append(keyed_batch(3, {{"a", "a2"}})).ok());
    ASSERT_TRUE(log.append(keyed_batch(4, {{"b", "b2"}, {"c", "c1"}})).ok());
    ASSERT_TRUE(log.append(keyed_batch(6, {{"c", "c2"}})).ok());  // the active segment
    // Nothing at or past the upper bound is cleaned, nor read as superseding.
    EXPECT_EQ(log.compact(0, Offset(0)).batches_removed, 0U);
    const CleanReport report = log.compact(0, Offset(6));
    EXPECT_EQ(report.batches_removed, 1U);  // the batch at 1: a and b were written again
    EXPECT_EQ(keyed_contents(log), (std::vector<std::pair<std::int64_t, std::string>>{
                                       {0, "x=x0"}, {3, "a=a2"}, {4, "b=b2"}, {5, "c=c1"}, {6, "c=c2"}}));
    // Offsets stay; the log has a gap, and so does its recovery.
    PartitionLog recovered(disk, "t-0", config);
    (void)recovered.recover();
    EXPECT_EQ(keyed_contents(recovered), keyed_contents(log));
    EXPECT_EQ(recovered.log_start_offset(), Offset(0));
    EXPECT_EQ(recovered.log_end_offset(), Offset(7));
}

TEST_F(CompactionTest, ATombstoneGoesAfterDeleteRetentionOnlyOnceNothingOlderOfItsKeyStays) {
    PartitionLog log(disk, "t-0", config);
    (void)log.recover();
    ASSERT_TRUE(log.append(keyed_batch(0, {{"x", "x0"}}, 0)).ok());
    ASSERT_TRUE(log.append(keyed_batch(1, {{"a", "a1"}, {"b", "b1"}}, 0)).ok());
    ASSERT_TRUE(log.append(keyed_batch(3, {{"a", std::nullopt}}, 10)).ok());  // deletes a
    ASSERT_TRUE(log.append(keyed_batch(4, {{"z", "z1"}}, 10)).ok());            // the active segment
    // The batch at 1 stays (b1 is b's latest), so a's tombstone must stay too, however old, or a1
    // would come back.
    (void)log.compact(1000, Offset(4));
    EXPECT_EQ(keyed_contents(log), (std::vector<std::pair<std::int64_t, std::string>>{
                                       {0, "x=x0"}, {1, "a=a1"}, {2, "b=b1"}, {3, "a=<tombstone>"}, {4, "z=z1"}}));
    // Once b is written again that batch goes, and then the tombstone, after delete retention.
    ASSERT_TRUE(log.append(keyed_batch(5, {{"b", "b2"}}, 20)).ok());
    ASSERT_TRUE(log.append(keyed_batch(6, {{"z", "z2"}}, 20)).ok());
    (void)log.compact(50, Offset(6));  // the tombstone is 40 ms old: it stays
    EXPECT_EQ(keyed_contents(log), (std::vector<std::pair<std::int64_t, std::string>>{
                                       {0, "x=x0"}, {3, "a=<tombstone>"}, {4, "z=z1"}, {5, "b=b2"}, {6, "z=z2"}}));
    (void)log.compact(1000, Offset(6));
    // z1 stays: z2 is past the cleaned range (the upper bound), so within it z1 is z's latest.
    EXPECT_EQ(keyed_contents(log), (std::vector<std::pair<std::int64_t, std::string>>{
                                       {0, "x=x0"}, {4, "z=z1"}, {5, "b=b2"}, {6, "z=z2"}}));
}

// The batch where a leader epoch starts stays, superseded or not: a follower learns where an epoch began
// only from the batches it fetches (compaction seed 641 of 301..1200: a leader whose epoch cache began
// epoch 1 late did not see a follower's diverged epoch-0 tail).
TEST_F(CompactionTest, TheBatchWhereALeaderEpochStartsStays) {
    PartitionLog log(disk, "t-0", config);
    (void)log.recover();
    RecordBatch epoch_0 = keyed_batch(0, {{"a", "a1"}});
    RecordBatch epoch_1 = keyed_batch(1, {{"a", "a2"}});
    epoch_1.leader_epoch = protocol::LeaderEpoch(1);
    RecordBatch later = keyed_batch(2, {{"a", "a3"}});
    later.leader_epoch = protocol::LeaderEpoch(1);
    RecordBatch active = keyed_batch(3, {{"a", "a4"}});
    active.leader_epoch = protocol::LeaderEpoch(1);
    for (const RecordBatch& batch : {epoch_0, epoch_1, later, active}) {
        ASSERT_TRUE(log.append(batch).ok());
    }
    (void)log.compact(0, Offset(3));
    EXPECT_EQ(keyed_contents(log), (std::vector<std::pair<std::int64_t, std::string>>{
                                       {0, "a=a1"}, {1, "a=a2"}, {2, "a=a3"}, {3, "a=a4"}}))
        << "a3 is a's latest below the upper bound; a1 and a2 start epochs 0 and 1";
    RecordBatch epoch_2 = keyed_batch(4, {{"a", "a5"}});
    epoch_2.leader_epoch = protocol::LeaderEpoch(2);
    ASSERT_TRUE(log.append(epoch_2).ok());
    (void)log.compact(0, Offset(4));
    EXPECT_EQ(keyed_contents(log), (std::vector<std::pair<std::int64_t, std::string>>{
                                       {0, "a=a1"}, {1, "a=a2"}, {3, "a=a4"}, {4, "a=a5"}}))
        << "a3 goes: superseded, and no epoch starts there";
}

TEST_F(CompactionTest, EachProducersLastBatchStays) {
    PartitionLog log(disk, "t-0", config);
    (void)log.recover();
    RecordBatch first = keyed_batch(0, {{"a", "a1"}});
    first.producer_id = protocol::ProducerId(7);
    first.producer_epoch = protocol::ProducerEpoch(0);
    first.base_sequence = protocol::Sequence(0);
    ASSERT_TRUE(log.append(first).ok());
    ASSERT_TRUE(log.append(keyed_batch(1, {{"a", "a2"}})).ok());
    ASSERT_TRUE(log.append(keyed_batch(2, {{"z", "z1"}})).ok());
    EXPECT_EQ(log.compact(0, Offset(2)).batches_removed, 0U);  // a1 is superseded but producer 7's last batch
    EXPECT_EQ(keyed_contents(log).size(), 3U);
}

TEST_F(CompactionTest, TheBugSwitchDropsAKeysLatestRecord) {
    LogConfig buggy = config;
    buggy.cleaner_drops_latest = true;
    PartitionLog log(disk, "t-0", buggy);
    (void)log.recover();
    ASSERT_TRUE(log.append(keyed_batch(0, {{"x", "x0"}})).ok());  // starts epoch 0: kept all the same
    ASSERT_TRUE(log.append(keyed_batch(1, {{"a", "a1"}})).ok());
    ASSERT_TRUE(log.append(keyed_batch(2, {{"z", "z1"}})).ok());
    (void)log.compact(0, Offset(2));
    EXPECT_EQ(keyed_contents(log), (std::vector<std::pair<std::int64_t, std::string>>{{0, "x=x0"}, {2, "z=z1"}}));
}

TEST_F(CompactionTest, AFollowerCopiesBatchesAcrossTheGaps) {
    PartitionLog follower(disk, "f-0", config);
    (void)follower.recover();
    ASSERT_TRUE(follower.append(keyed_batch(2, {{"a", "a2"}})).ok());
    ASSERT_TRUE(follower.append(keyed_batch(7, {{"b", "b1"}})).ok());
    EXPECT_EQ(follower.log_end_offset(), Offset(8));
    const ReadResult from_gap = follower.read(Offset(4), Offset(8), UINT64_MAX);
    ASSERT_EQ(from_gap.batches.size(), 1U);
    EXPECT_EQ(from_gap.batches.front().base_offset, Offset(7));
}

TEST(LeaderEpochCache, AnswersOffsetsForLeaderEpochLikeKip101) {
    sim::Simulation simulation(sim::SimulationOptions{.seed = 1});
    sim::Disk disk(sim::DiskOptions{}, sim::Random(1));
    LeaderEpochCache cache(disk, "epochs");
    cache.load();
    EXPECT_EQ(cache.end_offset_for(LeaderEpoch(0), Offset(0)), EpochEndOffset{});
    cache.assign(LeaderEpoch(1), Offset(0));
    cache.assign(LeaderEpoch(2), Offset(10));
    cache.assign(LeaderEpoch(2), Offset(12));  // same epoch: ignored
    cache.assign(LeaderEpoch(4), Offset(20));
    const Offset log_end(30);
    EXPECT_EQ(cache.end_offset_for(LeaderEpoch(4), log_end), (EpochEndOffset{LeaderEpoch(4), Offset(30)}));
    // Newer than the latest: unknown here, as Kafka answers (tests/conformance/ has its other cases,
    // and an older epoch assigned after a newer one).
    EXPECT_EQ(cache.end_offset_for(LeaderEpoch(5), log_end), EpochEndOffset{});
    EXPECT_EQ(cache.end_offset_for(LeaderEpoch(2), log_end), (EpochEndOffset{LeaderEpoch(2), Offset(20)}));
    // An epoch this replica never saw: the largest below it, ending where the next one starts.
    EXPECT_EQ(cache.end_offset_for(LeaderEpoch(3), log_end), (EpochEndOffset{LeaderEpoch(2), Offset(20)}));
    EXPECT_EQ(cache.end_offset_for(LeaderEpoch(1), log_end), (EpochEndOffset{LeaderEpoch(1), Offset(10)}));
    // Older than every epoch kept: itself, ending where the first kept one starts.
    EXPECT_EQ(cache.end_offset_for(LeaderEpoch(0), log_end), (EpochEndOffset{LeaderEpoch(0), Offset(0)}));
    LeaderEpochCache reloaded(disk, "epochs");
    reloaded.load();
    EXPECT_EQ(reloaded.entries(), cache.entries());
    cache.truncate_from_end(Offset(10));
    EXPECT_EQ(cache.entries().size(), 1U);
}

}  // namespace
}  // namespace eosim::broker_core
