#include <gtest/gtest.h>

#include "broker_core/batch_codec.h"
#include "broker_core/checkpoint_file.h"
#include "broker_core/byte_io.h"
#include "broker_core/partition_log.h"
#include "broker_core/transaction_index.h"
#include "sim/crc32c.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using protocol::Offset;
using protocol::ProducerId;
using protocol::RecordBatch;

std::vector<std::byte> bytes_of(const std::string& text) {
    const auto view = std::as_bytes(std::span(text.data(), text.size()));
    return {view.begin(), view.end()};
}

TEST(CheckpointFile, ASealedCheckpointOpensToItsText) {
    const std::string text = "events-0 17\nevents-1 4\n";
    EXPECT_EQ(open_checkpoint(bytes_of(seal_checkpoint(text))), text);
    EXPECT_EQ(open_checkpoint(bytes_of(seal_checkpoint(""))), "");
    EXPECT_FALSE(open_checkpoint(bytes_of(text)).has_value()) << "no seal";
    EXPECT_FALSE(open_checkpoint({}).has_value());
}

TEST(CheckpointFile, EveryBitFlipAndEveryTornPrefixIsSeen) {
    const std::vector<std::byte> sealed = bytes_of(seal_checkpoint("3 120\n5 300\n"));
    for (std::size_t i = 0; i < sealed.size(); ++i) {
        for (unsigned bit = 0; bit < 8; ++bit) {
            std::vector<std::byte> flipped = sealed;
            flipped[i] ^= static_cast<std::byte>(1U << bit);
            EXPECT_FALSE(open_checkpoint(flipped).has_value()) << "byte " << i << " bit " << bit;
            EXPECT_TRUE(detects_damage("t-0/leader-epoch-checkpoint", sealed, flipped));
        }
        EXPECT_FALSE(open_checkpoint(std::span(sealed).first(i)).has_value()) << "a prefix of " << i << " bytes";
    }
}

std::vector<std::byte> index_bytes(const std::vector<AbortedTransaction>& entries) {
    const sim::Simulation simulation{sim::SimulationOptions{.seed = 1}};
    sim::Disk disk{sim::DiskOptions{}, sim::Random(1)};
    TransactionIndex index(disk, "t-0/00000000000000000010.txnindex", Offset(10));
    index.rewrite(entries);
    return disk.read_all(index.path()).value();
}

// An index entry: version (2 bytes), producer id, first, last and last stable offsets (8 bytes each).
constexpr std::size_t producer_id_at = 2;
constexpr std::size_t last_offset_at = 2 + 8 + 8;
constexpr std::size_t last_stable_at = 2 + 8 + 8 + 8;

TEST(DetectsDamage, AnIndexFlipIsSeenWhereRecoveryLooksAndOnlyThere) {
    const std::string path = "t-0/00000000000000000010.txnindex";
    const std::vector<std::byte> before = index_bytes(
        {{ProducerId(7), Offset(10), Offset(14), Offset(10)}, {ProducerId(9), Offset(12), Offset(20), Offset(10)}});
    const auto flip = [&before](std::size_t at, unsigned bit) {
        std::vector<std::byte> after = before;
        after[at] ^= static_cast<std::byte>(1U << bit);
        return after;
    };
    // A moved last offset (20 to 16): recovery compares it with the segment's ABORT markers.
    EXPECT_TRUE(detects_damage(path, before, flip(TransactionIndex::entry_bytes + last_offset_at, 2)));
    // A last offset no longer increasing (20 to 4), or a version that is not 0: the file does not load.
    EXPECT_TRUE(detects_damage(path, before, flip(TransactionIndex::entry_bytes + last_offset_at, 4)));
    EXPECT_TRUE(detects_damage(path, before, flip(0, 0)));
    // A producer id or a last stable offset: nothing reads them against anything (nor does Kafka).
    EXPECT_FALSE(detects_damage(path, before, flip(producer_id_at, 0)));
    EXPECT_FALSE(detects_damage(path, before, flip(last_stable_at, 1)));
}

TEST(DetectsDamage, EverySnapshotFlipIsSeenAndOtherFilesAreNotJudged) {
    ByteWriter writer;
    writer.put<std::int64_t>(42);
    writer.put<std::int64_t>(43);
    writer.put<std::int32_t>(44);
    std::vector<std::byte> snapshot = writer.bytes();
    ByteWriter crc;
    crc.put<std::uint32_t>(sim::crc32c(snapshot));
    snapshot.insert(snapshot.end(), crc.bytes().begin(), crc.bytes().end());
    for (std::size_t i = 0; i < snapshot.size(); ++i) {
        std::vector<std::byte> flipped = snapshot;
        flipped[i] ^= std::byte{0x10};
        EXPECT_TRUE(detects_damage("t-0/00000000000000000005.snapshot", snapshot, flipped)) << "byte " << i;
        EXPECT_FALSE(detects_damage("meta.properties", snapshot, flipped));
        EXPECT_FALSE(detects_damage("t-0/00000000000000000005.snapshot.tmp", snapshot, flipped));
    }
}

RecordBatch make_batch(std::int64_t base_offset, int records, std::int32_t epoch) {
    RecordBatch batch;
    batch.base_offset = Offset(base_offset);
    batch.leader_epoch = protocol::LeaderEpoch(epoch);
    for (int i = 0; i < records; ++i) {
        batch.records.push_back(protocol::Record{std::nullopt, "v", 0});
    }
    return batch;
}

class DamagedCheckpoint : public ::testing::Test {
protected:
    // Flips one bit of the file's last byte but its newline: inside the seal.
    void damage(const std::string& path) {
        std::vector<std::byte> bytes = disk.read_all(path).value();
        ASSERT_GE(bytes.size(), 2U);
        bytes[bytes.size() - 2] ^= std::byte{0x01};
        ASSERT_TRUE(disk.remove(path).ok());
        ASSERT_TRUE(disk.create(path).ok());
        ASSERT_TRUE(disk.append(path, bytes).ok());
    }

    sim::Simulation simulation{sim::SimulationOptions{.seed = 5}};
    sim::Disk disk{sim::DiskOptions{}, sim::Random(5)};
};

TEST_F(DamagedCheckpoint, ALogWhoseLogStartCheckpointIsDamagedStartsAtItsFirstSegment) {
    {
        PartitionLog log(disk, "t-0", LogConfig{.segment_bytes = 200});
        (void)log.recover();
        for (std::int64_t base = 0; base < 30; base += 3) {
            ASSERT_TRUE(log.append(make_batch(base, 3, 0)).ok());
        }
        log.increment_log_start_offset(Offset(20));
        ASSERT_EQ(log.log_start_offset(), Offset(20));
        ASSERT_TRUE(log.flush().ok());
    }
    const std::int64_t first_segment = [this] {
        PartitionLog log(disk, "t-0", LogConfig{.segment_bytes = 200});
        (void)log.recover();
        return log.segment_bases().front();
    }();
    ASSERT_LT(first_segment, 20) << "the log start is inside a segment";
    damage("t-0/log-start-offset");
    PartitionLog recovered(disk, "t-0", LogConfig{.segment_bytes = 200});
    (void)recovered.recover();
    EXPECT_EQ(recovered.log_start_offset(), Offset(first_segment));
    EXPECT_EQ(recovered.log_end_offset(), Offset(30)) << "nothing is lost";
}

TEST_F(DamagedCheckpoint, ALogWhoseEpochCheckpointIsDamagedTakesItsEpochsFromTheBatches) {
    {
        PartitionLog log(disk, "t-0", LogConfig{});
        (void)log.recover();
        ASSERT_TRUE(log.append(make_batch(0, 2, 0)).ok());
        ASSERT_TRUE(log.append(make_batch(2, 2, 4)).ok());
        ASSERT_TRUE(log.flush().ok());
    }
    damage("t-0/leader-epoch-checkpoint");
    PartitionLog recovered(disk, "t-0", LogConfig{});
    (void)recovered.recover();
    EXPECT_EQ(recovered.epochs().entries(),
              (std::vector<EpochEntry>{{protocol::LeaderEpoch(0), Offset(0)}, {protocol::LeaderEpoch(4), Offset(2)}}));
}

}  // namespace
}  // namespace eosim::broker_core
