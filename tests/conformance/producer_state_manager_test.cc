// Kafka's ProducerStateManagerTest, against broker_core::ProducerStateManager. Kafka's "client" append
// (validated) is eosim's check() followed by update() when the verdict is append; its "replication"
// append (not validated, as on a follower or while loading the log) is update() alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "broker_core/producer_state.h"
#include "protocol/sequence.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using protocol::Offset;
using protocol::ProducerEpoch;
using protocol::ProducerId;
using protocol::RecordBatch;
using protocol::Sequence;

constexpr std::int64_t producer_id = 1;
constexpr std::int64_t expiration_ms = 60'000;

RecordBatch batch_of(std::int64_t pid, std::int16_t epoch, std::int32_t sequence, std::int64_t offset, int records = 1,
                     std::int64_t timestamp_ms = 0) {
    RecordBatch batch;
    batch.base_offset = Offset(offset);
    batch.producer_id = ProducerId(pid);
    batch.producer_epoch = ProducerEpoch(epoch);
    batch.base_sequence = Sequence(sequence);
    for (int i = 0; i < records; ++i) {
        batch.records.push_back(protocol::Record{std::nullopt, "v", timestamp_ms});
    }
    return batch;
}

class ProducerStateManagerTest : public ::testing::Test {
protected:
    sim::Simulation simulation{sim::SimulationOptions{.seed = 17}};
    sim::Disk disk{sim::DiskOptions{}, sim::Random(17)};
    ProducerStateManager state{disk, "topic-0", config()};

    static ProducerStateConfig config() { return ProducerStateConfig{.expiration_ms = expiration_ms}; }

    // Kafka's appendClientEntry: validated, appended only when in sequence.
    SequenceVerdict client(std::int16_t epoch, std::int32_t sequence, std::int64_t offset,
                           std::int64_t timestamp_ms = 0, std::int64_t pid = producer_id,
                           ProducerStateManager* manager = nullptr) {
        ProducerStateManager& target = manager != nullptr ? *manager : state;
        const RecordBatch batch = batch_of(pid, epoch, sequence, offset, 1, timestamp_ms);
        const SequenceVerdict verdict = target.check(batch).verdict;
        if (verdict == SequenceVerdict::append) {
            target.update(batch);
        }
        return verdict;
    }
    // Kafka's appendReplicationEntry: not validated.
    void replicate(std::int16_t epoch, std::int32_t sequence, std::int64_t offset, int records = 1,
                   std::int64_t timestamp_ms = 0, ProducerStateManager* manager = nullptr) {
        (manager != nullptr ? *manager : state)
            .update(batch_of(producer_id, epoch, sequence, offset, records, timestamp_ms));
    }
    const ProducerEntry& entry(std::int64_t pid = producer_id, const ProducerStateManager* manager = nullptr) const {
        return (manager != nullptr ? *manager : state).producers().at(ProducerId(pid));
    }
    std::string snapshot_file(std::int64_t offset) const { return fmt_path(offset); }
    static std::string fmt_path(std::int64_t offset) {
        std::string digits = std::to_string(offset);
        return "topic-0/" + std::string(20 - digits.size(), '0') + digits + ".snapshot";
    }
    // A snapshot damaged by `damage`: the reloaded state comes from the older one, the damaged one goes.
    void check_reload_after_damaging_the_latest_snapshot(const std::function<void(const std::string&)>& damage) {
        ASSERT_EQ(client(0, 0, 0), SequenceVerdict::append);
        state.take_snapshot();
        ASSERT_EQ(client(0, 1, 1), SequenceVerdict::append);
        state.take_snapshot();
        ASSERT_EQ(state.snapshot_offsets().back(), Offset(2));
        damage(snapshot_file(2));
        ProducerStateManager reloaded{disk, "topic-0", config()};
        EXPECT_EQ(reloaded.load_snapshot(Offset(20)), Offset(1));
        EXPECT_FALSE(disk.exists(snapshot_file(2)));
        EXPECT_EQ(entry(producer_id, &reloaded).batches.back().last_offset, Offset(0));
    }
};

// Kafka: ProducerStateManagerTest.testBasicIdMapping
TEST_F(ProducerStateManagerTest, testBasicIdMapping) {
    EXPECT_EQ(client(0, 0, 0), SequenceVerdict::append);
    EXPECT_EQ(client(0, 1, 1), SequenceVerdict::append);
    // Kafka finds duplicates in the log before this check; eosim's check answers them itself.
    EXPECT_EQ(client(0, 1, 1), SequenceVerdict::duplicate);
    EXPECT_EQ(client(0, 5, 2), SequenceVerdict::out_of_order_sequence);
    EXPECT_EQ(client(1, 0, 3), SequenceVerdict::append);  // a new epoch
    EXPECT_EQ(client(0, 0, 4), SequenceVerdict::invalid_producer_epoch);
}

// Kafka: ProducerStateManagerTest.testProducerSequenceWrapAround
TEST_F(ProducerStateManagerTest, testProducerSequenceWrapAround) {
    replicate(15, protocol::max_sequence, 735);
    EXPECT_EQ(client(15, 0, 1235), SequenceVerdict::append);  // 0 follows 2^31-1
    EXPECT_EQ(entry().epoch, ProducerEpoch(15));
    EXPECT_EQ(entry().batches.front().first_sequence, Sequence(protocol::max_sequence));
    EXPECT_EQ(entry().last_sequence(), Sequence(0));
}

// Kafka: ProducerStateManagerTest.testProducerSequenceWithWrapAroundBatchRecord
TEST_F(ProducerStateManagerTest, testProducerSequenceWithWrapAroundBatchRecord) {
    // 21 records from sequence 2^31-11: the last one is sequence 9.
    replicate(15, protocol::max_sequence - 10, 2000, 21);
    const ProducerBatchMetadata& last = entry().batches.back();
    EXPECT_EQ(last.first_sequence, Sequence(protocol::max_sequence - 10));
    EXPECT_EQ(last.last_sequence, Sequence(9));
    EXPECT_EQ(last.first_offset, Offset(2000));
    EXPECT_EQ(last.last_offset, Offset(2020));
    // Its retry is known, and the next batch starts at 10.
    EXPECT_EQ(state.check(batch_of(producer_id, 15, protocol::max_sequence - 10, 3000, 21)).verdict,
              SequenceVerdict::duplicate);
    EXPECT_EQ(client(15, 10, 2021), SequenceVerdict::append);
}

// Kafka: ProducerStateManagerTest.testProducerSequenceInvalidWrapAround
TEST_F(ProducerStateManagerTest, testProducerSequenceInvalidWrapAround) {
    replicate(15, protocol::max_sequence, 735);
    EXPECT_EQ(client(15, 1, 1235), SequenceVerdict::out_of_order_sequence);
}

// Kafka: ProducerStateManagerTest.testNoValidationOnFirstEntryWhenLoadingLog
TEST_F(ProducerStateManagerTest, testNoValidationOnFirstEntryWhenLoadingLog) {
    replicate(5, 16, 735);
    EXPECT_EQ(entry().epoch, ProducerEpoch(5));
    EXPECT_EQ(entry().batches.back(), (ProducerBatchMetadata{Sequence(16), Sequence(16), Offset(735), Offset(735), 0}));
}

// Kafka: ProducerStateManagerTest.testPrepareUpdateDoesNotMutate
TEST_F(ProducerStateManagerTest, testPrepareUpdateDoesNotMutate) {
    const RecordBatch first = batch_of(producer_id, 0, 0, 15, 6);
    ASSERT_EQ(state.check(first).verdict, SequenceVerdict::append);
    EXPECT_TRUE(state.producers().empty());  // checking changes nothing
    state.update(first);
    const RecordBatch next = batch_of(producer_id, 0, 6, 26, 5);
    ASSERT_EQ(state.check(next).verdict, SequenceVerdict::append);
    EXPECT_EQ(entry().last_sequence(), Sequence(5));
    EXPECT_EQ(entry().batches.back().last_offset, Offset(20));
    state.update(next);
    EXPECT_EQ(entry().batches.front().first_sequence, Sequence(0));
    EXPECT_EQ(entry().last_sequence(), Sequence(10));
    EXPECT_EQ(entry().batches.back().last_offset, Offset(30));
}

// Kafka: ProducerStateManagerTest.testTruncateAndReloadRemovesOutOfRangeSnapshots
TEST_F(ProducerStateManagerTest, testTruncateAndReloadRemovesOutOfRangeSnapshots) {
    for (std::int32_t sequence = 0; sequence < 5; ++sequence) {
        ASSERT_EQ(client(0, sequence, sequence), SequenceVerdict::append);
        state.take_snapshot();
    }
    // eosim keeps the two newest snapshots (Kafka keeps those above the log start).
    EXPECT_EQ(state.snapshot_offsets(), (std::vector<Offset>{Offset(4), Offset(5)}));
    EXPECT_EQ(state.load_snapshot(Offset(4)), Offset(4));
    EXPECT_EQ(state.snapshot_offsets(), std::vector<Offset>{Offset(4)});
    EXPECT_EQ(state.end_offset(), Offset(4));
}

// Kafka: ProducerStateManagerTest.testTakeSnapshot
TEST_F(ProducerStateManagerTest, testTakeSnapshot) {
    ASSERT_EQ(client(0, 0, 0, 0), SequenceVerdict::append);
    ASSERT_EQ(client(0, 1, 1, 1), SequenceVerdict::append);
    state.take_snapshot();
    EXPECT_EQ(disk.list("topic-0/"), std::vector<std::string>{snapshot_file(2)});
    EXPECT_GT(disk.read_all(snapshot_file(2))->size(), 0U);
}

// Kafka: ProducerStateManagerTest.testFetchSnapshotEmptySnapShot
TEST_F(ProducerStateManagerTest, testFetchSnapshotEmptySnapShot) {
    EXPECT_TRUE(state.snapshot_offsets().empty());
    EXPECT_EQ(state.load_snapshot(Offset(1)), std::nullopt);
}

// Kafka: ProducerStateManagerTest.testRemoveExpiredPidsOnReload
TEST_F(ProducerStateManagerTest, testRemoveExpiredPidsOnReload) {
    ASSERT_EQ(client(0, 0, 0, 0), SequenceVerdict::append);
    ASSERT_EQ(client(0, 1, 1, 1), SequenceVerdict::append);
    state.take_snapshot();
    ProducerStateManager recovered{disk, "topic-0", config()};
    EXPECT_EQ(recovered.load_snapshot(Offset(1)), std::nullopt);  // the snapshot at 2 is past the log end
    (void)recovered.expire(70'000);
    EXPECT_TRUE(recovered.producers().empty());
    // Kafka accepts a client's sequence 2 from a producer it has no state for; eosim answers
    // UNKNOWN_PRODUCER_ID and the producer bumps its epoch (docs/kafka-differences.md).
    EXPECT_EQ(client(0, 2, 2, 70'001, producer_id, &recovered), SequenceVerdict::unknown_producer_id);
    EXPECT_EQ(client(1, 0, 2, 70'001, producer_id, &recovered), SequenceVerdict::append);
    EXPECT_EQ(recovered.producers().size(), 1U);
    EXPECT_EQ(recovered.end_offset(), Offset(3));
}

// Kafka: ProducerStateManagerTest.testAcceptAppendWithoutProducerStateOnReplica
TEST_F(ProducerStateManagerTest, testAcceptAppendWithoutProducerStateOnReplica) {
    ASSERT_EQ(client(0, 0, 0, 0), SequenceVerdict::append);
    ASSERT_EQ(client(0, 1, 1, 1), SequenceVerdict::append);
    state.take_snapshot();
    ProducerStateManager recovered{disk, "topic-0", config()};
    (void)recovered.load_snapshot(Offset(1));
    (void)recovered.expire(70'000);
    ASSERT_TRUE(recovered.producers().empty());
    replicate(0, 2, 2, 1, 70'001, &recovered);
    EXPECT_EQ(entry(producer_id, &recovered).epoch, ProducerEpoch(0));
    EXPECT_EQ(entry(producer_id, &recovered).batches.back().first_sequence, Sequence(2));
    EXPECT_EQ(entry(producer_id, &recovered).last_sequence(), Sequence(2));
}

// Kafka: ProducerStateManagerTest.testAcceptAppendWithSequenceGapsOnReplica
TEST_F(ProducerStateManagerTest, testAcceptAppendWithSequenceGapsOnReplica) {
    ASSERT_EQ(client(0, 0, 0), SequenceVerdict::append);
    EXPECT_EQ(client(0, 3, 1), SequenceVerdict::out_of_order_sequence);
    EXPECT_EQ(entry().last_sequence(), Sequence(0));
    replicate(0, 3, 1);
    EXPECT_EQ(entry().last_sequence(), Sequence(3));
}

// Kafka: ProducerStateManagerTest.testTruncateFullyAndStartAt
TEST_F(ProducerStateManagerTest, testTruncateFullyAndStartAt) {
    ASSERT_EQ(client(0, 0, 0), SequenceVerdict::append);
    ASSERT_EQ(client(0, 1, 1), SequenceVerdict::append);
    state.take_snapshot();
    ASSERT_EQ(client(0, 2, 2), SequenceVerdict::append);
    state.take_snapshot();
    EXPECT_EQ(state.snapshot_offsets(), (std::vector<Offset>{Offset(2), Offset(3)}));
    state.remove_snapshots();
    state.reset(Offset(0));
    EXPECT_TRUE(disk.list("topic-0/").empty());
    EXPECT_TRUE(state.producers().empty());
    ASSERT_EQ(client(0, 0, 0), SequenceVerdict::append);
    state.take_snapshot();
    EXPECT_EQ(state.snapshot_offsets(), std::vector<Offset>{Offset(1)});
}

// Kafka: ProducerStateManagerTest.testLoadFromSnapshotRetainsNonExpiredProducers
TEST_F(ProducerStateManagerTest, testLoadFromSnapshotRetainsNonExpiredProducers) {
    ASSERT_EQ(client(0, 0, 0, 0, 1), SequenceVerdict::append);
    ASSERT_EQ(client(0, 0, 1, 0, 2), SequenceVerdict::append);
    state.take_snapshot();
    EXPECT_EQ(state.producers().size(), 2U);
    EXPECT_EQ(state.load_snapshot(Offset(2)), Offset(2));
    EXPECT_EQ(state.producers().size(), 2U);
    EXPECT_EQ(entry(1).last_sequence(), Sequence(0));
    EXPECT_EQ(entry(1).batches.back().last_offset, Offset(0));
    EXPECT_EQ(entry(2).last_sequence(), Sequence(0));
    EXPECT_EQ(entry(2).batches.back().last_offset, Offset(1));
}

// Kafka: ProducerStateManagerTest.testSkipSnapshotIfOffsetUnchanged
TEST_F(ProducerStateManagerTest, testSkipSnapshotIfOffsetUnchanged) {
    ASSERT_EQ(client(0, 0, 0), SequenceVerdict::append);
    state.take_snapshot();
    EXPECT_EQ(state.snapshot_offsets(), std::vector<Offset>{Offset(1)});
    state.take_snapshot();  // nothing changed: still the one snapshot
    EXPECT_EQ(state.snapshot_offsets(), std::vector<Offset>{Offset(1)});
    EXPECT_EQ(disk.list("topic-0/").size(), 1U);
}

// Kafka: ProducerStateManagerTest.testPidExpirationTimeout
TEST_F(ProducerStateManagerTest, testPidExpirationTimeout) {
    ASSERT_EQ(client(5, 0, 1, 0), SequenceVerdict::append);
    EXPECT_EQ(state.expire(expiration_ms + 1), 1U);
    // Kafka accepts sequence 1 from the expired producer; eosim asks for an epoch bump
    // (UNKNOWN_PRODUCER_ID, docs/kafka-differences.md), after which it goes on.
    EXPECT_EQ(client(5, 1, 2, expiration_ms + 1), SequenceVerdict::unknown_producer_id);
    EXPECT_EQ(client(6, 0, 2, expiration_ms + 1), SequenceVerdict::append);
    EXPECT_EQ(state.producers().size(), 1U);
    EXPECT_EQ(entry().last_sequence(), Sequence(0));
    EXPECT_EQ(state.end_offset(), Offset(3));
}

// Kafka: ProducerStateManagerTest.testLoadFromEmptySnapshotFile
TEST_F(ProducerStateManagerTest, testLoadFromEmptySnapshotFile) {
    check_reload_after_damaging_the_latest_snapshot([this](const std::string& path) { (void)disk.truncate(path, 0); });
}

// Kafka: ProducerStateManagerTest.testLoadFromTruncatedSnapshotFile
TEST_F(ProducerStateManagerTest, testLoadFromTruncatedSnapshotFile) {
    check_reload_after_damaging_the_latest_snapshot([this](const std::string& path) {
        const std::uint64_t size = disk.read_all(path)->size();
        ASSERT_GT(size, 2U);
        (void)disk.truncate(path, size / 2);
    });
}

// Kafka: ProducerStateManagerTest.testLoadFromCorruptSnapshotFile
TEST_F(ProducerStateManagerTest, testLoadFromCorruptSnapshotFile) {
    check_reload_after_damaging_the_latest_snapshot([this](const std::string& path) {
        // 37 zero bytes written over its start.
        std::vector<std::byte> bytes = *disk.read_all(path);
        ASSERT_GT(bytes.size(), 2U);
        bytes.resize(std::max<std::size_t>(bytes.size(), 37));
        std::fill_n(bytes.begin(), 37, std::byte{0});
        (void)disk.remove(path);
        (void)disk.create(path);
        (void)disk.append(path, bytes);
    });
}

// Kafka: ProducerStateManagerTest.testReadWriteSnapshot
TEST_F(ProducerStateManagerTest, testReadWriteSnapshot) {
    replicate(2, 1, 0, 3, 100);
    replicate(2, 4, 3, 2, 200);
    state.update(batch_of(11, 12, 13, 5, 1, 123'456));
    state.take_snapshot();
    ProducerStateManager reread{disk, "topic-0", config()};
    ASSERT_EQ(reread.load_snapshot(Offset(6)), Offset(6));
    EXPECT_EQ(reread.producers(), state.producers());
    EXPECT_EQ(entry(11, &reread).last_timestamp_ms, 123'456);
}

}  // namespace
}  // namespace eosim::broker_core
