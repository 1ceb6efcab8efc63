// Kafka's ProducerStateManagerTest, against broker_core::ProducerStateManager. Kafka's "client" append
// (validated) is eosim's check() followed by update() when the verdict is append; its "replication"
// append (not validated, as on a follower or while loading the log) is update() alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "broker_core/producer_state.h"
#include "protocol/control_record.h"
#include "protocol/sequence.h"
#include "sim/crc32c.h"
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

RecordBatch txn_batch_of(std::int64_t pid, std::int16_t epoch, std::int32_t sequence, std::int64_t offset,
                         std::int64_t timestamp_ms = 0) {
    RecordBatch batch = batch_of(pid, epoch, sequence, offset, 1, timestamp_ms);
    batch.transactional = true;
    return batch;
}

RecordBatch marker_of(std::int64_t pid, std::int16_t epoch, protocol::ControlType type, std::int64_t offset,
                      std::int32_t coordinator_epoch = 0, std::int64_t timestamp_ms = 0) {
    RecordBatch batch = protocol::marker_batch(ProducerId(pid), ProducerEpoch(epoch),
                                               protocol::TransactionMarker{type, coordinator_epoch}, timestamp_ms);
    batch.base_offset = Offset(offset);
    return batch;
}

// Little-endian bytes, as eosim's on-disk formats, with a CRC-32C trailer.
struct ByteWriterForTest {
    std::vector<std::byte> bytes;
    template <typename T>
    ByteWriterForTest& put(T value) {
        for (std::size_t i = 0; i < sizeof(T); ++i) {
            bytes.push_back(static_cast<std::byte>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xffU));
        }
        return *this;
    }
    ByteWriterForTest& u32(std::uint32_t value) { return put(value); }
    ByteWriterForTest& i64(std::int64_t value) { return put(value); }
    ByteWriterForTest& i32(std::int32_t value) { return put(value); }
    ByteWriterForTest& i16(std::int16_t value) { return put(value); }
    void crc() { u32(sim::crc32c(bytes)); }
};

constexpr auto commit = protocol::ControlType::commit;
constexpr auto abort_ = protocol::ControlType::abort;

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
    // Kafka's appendClientEntry of a transactional batch: both checks, appended when both pass. The
    // transaction check's refusal, if any, else the sequence check's verdict as a string.
    std::string client_txn(std::int64_t pid, std::int16_t epoch, std::int32_t sequence, std::int64_t offset,
                           bool transactional = true, ProducerStateManager* manager = nullptr) {
        ProducerStateManager& target = manager != nullptr ? *manager : state;
        RecordBatch batch = txn_batch_of(pid, epoch, sequence, offset);
        batch.transactional = transactional;
        const TransactionVerdict txn = target.check_transaction(batch);
        if (txn != TransactionVerdict::append) {
            return std::string(to_string(txn));
        }
        const SequenceVerdict verdict = target.check(batch).verdict;
        if (verdict == SequenceVerdict::append) {
            target.update(batch);
        }
        return std::string(to_string(verdict));
    }
    // Kafka's appendEndTxnMarker (client origin): checked, appended when allowed; the completed transaction.
    std::optional<CompletedTransaction> end_txn(std::int64_t pid, std::int16_t epoch, protocol::ControlType type,
                                                std::int64_t offset, std::int32_t coordinator_epoch = 0,
                                                TransactionVerdict expected = TransactionVerdict::append,
                                                ProducerStateManager* manager = nullptr) {
        ProducerStateManager& target = manager != nullptr ? *manager : state;
        const RecordBatch marker = marker_of(pid, epoch, type, offset, coordinator_epoch);
        EXPECT_EQ(target.check_transaction(marker), expected);
        if (expected != TransactionVerdict::append) {
            return std::nullopt;
        }
        return target.update(marker);
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

// Kafka: ProducerStateManagerTest.testAppendTxnMarkerWithNoProducerState
TEST_F(ProducerStateManagerTest, testAppendTxnMarkerWithNoProducerState) {
    (void)end_txn(producer_id, 2, commit, 27);
    EXPECT_EQ(entry().epoch, ProducerEpoch(2));
    EXPECT_EQ(entry().last_sequence(), std::nullopt);
    EXPECT_EQ(client(0, 0, 4), SequenceVerdict::invalid_producer_epoch);  // fencing still works
    EXPECT_EQ(client(2, 17, 4), SequenceVerdict::out_of_order_sequence);
    EXPECT_EQ(client(2, 0, 4, 39), SequenceVerdict::append);
    EXPECT_EQ(entry().epoch, ProducerEpoch(2));
    EXPECT_EQ(entry().last_sequence(), Sequence(0));
}

// Kafka: ProducerStateManagerTest.testControlRecordBumpsProducerEpoch
TEST_F(ProducerStateManagerTest, testControlRecordBumpsProducerEpoch) {
    ASSERT_EQ(client(0, 0, 0), SequenceVerdict::append);
    (void)end_txn(producer_id, 1, abort_, 1);
    EXPECT_EQ(entry().epoch, ProducerEpoch(1));
    EXPECT_EQ(entry().current_txn_first_offset, std::nullopt);
    EXPECT_TRUE(entry().batches.empty());  // markers stay out of the dedup window
    EXPECT_EQ(client(1, 0, 2), SequenceVerdict::append);
    EXPECT_EQ(entry().batches.back().first_sequence, Sequence(0));
}

// Kafka: ProducerStateManagerTest.updateProducerTransactionState
TEST_F(ProducerStateManagerTest, updateProducerTransactionState) {
    ASSERT_EQ(client(0, 0, 9), SequenceVerdict::append);
    state.update(txn_batch_of(producer_id, 0, 1, 16));
    EXPECT_EQ(entry().current_txn_first_offset, Offset(16));
    state.update(txn_batch_of(producer_id, 0, 2, 26));
    EXPECT_EQ(entry().current_txn_first_offset, Offset(16));
    const std::optional<CompletedTransaction> completed = end_txn(producer_id, 0, commit, 40, 15);
    EXPECT_EQ(completed, (CompletedTransaction{ProducerId(producer_id), Offset(16), Offset(40), false}));
    EXPECT_EQ(entry().last_sequence(), Sequence(2));  // the marker leaves the batches as they were
    EXPECT_EQ(entry().batches.back().last_offset, Offset(26));
    EXPECT_EQ(entry().current_txn_first_offset, std::nullopt);
    EXPECT_EQ(entry().coordinator_epoch, 15);
}

// Kafka: ProducerStateManagerTest.testOutOfSequenceAfterControlRecordEpochBump
TEST_F(ProducerStateManagerTest, testOutOfSequenceAfterControlRecordEpochBump) {
    ASSERT_EQ(client_txn(producer_id, 0, 0, 0), "append");
    ASSERT_EQ(client_txn(producer_id, 0, 1, 1), "append");
    (void)end_txn(producer_id, 1, abort_, 1);
    EXPECT_EQ(client_txn(producer_id, 1, 2, 2), "out-of-order-sequence");
    EXPECT_EQ(client_txn(producer_id, 2, 2, 2), "out-of-order-sequence");
    EXPECT_EQ(client_txn(producer_id, 1, 0, 0), "append");
    EXPECT_EQ(entry().epoch, ProducerEpoch(1));
    EXPECT_EQ(entry().last_sequence(), Sequence(0));
}

// Kafka: ProducerStateManagerTest.testNonTransactionalAppendWithOngoingTransaction
TEST_F(ProducerStateManagerTest, testNonTransactionalAppendWithOngoingTransaction) {
    ASSERT_EQ(client_txn(producer_id, 0, 0, 0), "append");
    EXPECT_EQ(client_txn(producer_id, 0, 1, 1, false), "invalid-txn-state");
}

// Kafka: ProducerStateManagerTest.testRecoverFromSnapshotUnfinishedTransaction
TEST_F(ProducerStateManagerTest, testRecoverFromSnapshotUnfinishedTransaction) {
    ASSERT_EQ(client_txn(producer_id, 0, 0, 0), "append");
    ASSERT_EQ(client_txn(producer_id, 0, 1, 1), "append");
    state.take_snapshot();
    ProducerStateManager recovered{disk, "topic-0", config()};
    ASSERT_EQ(recovered.load_snapshot(Offset(3)), Offset(2));
    EXPECT_EQ(entry(producer_id, &recovered).batches.back().first_offset, Offset(1));
    EXPECT_EQ(entry(producer_id, &recovered).last_sequence(), Sequence(1));
    EXPECT_EQ(entry(producer_id, &recovered).current_txn_first_offset, Offset(0));
    EXPECT_EQ(client_txn(producer_id, 0, 2, 2, true, &recovered), "append");
}

// Kafka: ProducerStateManagerTest.testRecoverFromSnapshotFinishedTransaction
TEST_F(ProducerStateManagerTest, testRecoverFromSnapshotFinishedTransaction) {
    ASSERT_EQ(client_txn(producer_id, 0, 0, 0), "append");
    ASSERT_EQ(client_txn(producer_id, 0, 1, 1), "append");
    (void)end_txn(producer_id, 0, abort_, 2);
    state.take_snapshot();
    ProducerStateManager recovered{disk, "topic-0", config()};
    ASSERT_EQ(recovered.load_snapshot(Offset(3)), Offset(3));
    EXPECT_EQ(entry(producer_id, &recovered).batches.back().first_offset, Offset(1));
    EXPECT_EQ(entry(producer_id, &recovered).last_sequence(), Sequence(1));
    EXPECT_EQ(entry(producer_id, &recovered).current_txn_first_offset, std::nullopt);
}

// Kafka: ProducerStateManagerTest.testRecoverFromSnapshotEmptyTransaction
TEST_F(ProducerStateManagerTest, testRecoverFromSnapshotEmptyTransaction) {
    state.update(marker_of(producer_id, 0, abort_, 0, 0, 1234));
    state.take_snapshot();
    ProducerStateManager recovered{disk, "topic-0", config()};
    ASSERT_EQ(recovered.load_snapshot(Offset(1)), Offset(1));
    EXPECT_EQ(entry(producer_id, &recovered).last_timestamp_ms, 1234);
    EXPECT_EQ(entry(producer_id, &recovered).current_txn_first_offset, std::nullopt);
}

// Kafka: ProducerStateManagerTest.testProducerStateAfterFencingAbortMarker
TEST_F(ProducerStateManagerTest, testProducerStateAfterFencingAbortMarker) {
    ASSERT_EQ(client_txn(producer_id, 0, 0, 0), "append");
    (void)end_txn(producer_id, 1, abort_, 1);
    EXPECT_EQ(entry().current_txn_first_offset, std::nullopt);
    EXPECT_TRUE(entry().batches.empty());
    EXPECT_EQ(state.expire(0), 0U);
    EXPECT_EQ(state.producers().size(), 1U);
}

// Kafka: ProducerStateManagerTest.testFirstUnstableOffsetAfterTruncation
TEST_F(ProducerStateManagerTest, testFirstUnstableOffsetAfterTruncation) {
    ASSERT_EQ(client_txn(producer_id, 0, 0, 99), "append");
    EXPECT_EQ(state.first_unstable_offset(Offset(0)), Offset(99));
    state.take_snapshot();  // at 100
    (void)end_txn(producer_id, 0, commit, 105);
    state.on_high_watermark(Offset(106));
    EXPECT_EQ(state.first_unstable_offset(Offset(106)), std::nullopt);
    state.take_snapshot();  // at 106
    ASSERT_EQ(client_txn(producer_id, 0, 1, 106, false), "append");
    EXPECT_EQ(state.load_snapshot(Offset(106)), Offset(106));
    EXPECT_EQ(state.first_unstable_offset(Offset(106)), std::nullopt);
    EXPECT_EQ(state.load_snapshot(Offset(100)), Offset(100));
    EXPECT_EQ(state.first_unstable_offset(Offset(100)), Offset(99));
}

// Kafka: ProducerStateManagerTest.testFirstUnstableOffset
TEST_F(ProducerStateManagerTest, testFirstUnstableOffset) {
    constexpr std::int64_t another = 2;
    EXPECT_EQ(state.first_undecided_offset(), std::nullopt);
    ASSERT_EQ(client_txn(producer_id, 5, 0, 99), "append");
    EXPECT_EQ(state.first_undecided_offset(), Offset(99));
    EXPECT_EQ(state.first_unstable_offset(Offset(0)), Offset(99));
    ASSERT_EQ(client_txn(another, 5, 0, 105), "append");
    EXPECT_EQ(state.first_undecided_offset(), Offset(99));
    EXPECT_EQ(state.first_unstable_offset(Offset(0)), Offset(99));
    (void)end_txn(producer_id, 5, commit, 109);
    EXPECT_EQ(state.first_undecided_offset(), Offset(105));
    EXPECT_EQ(state.first_unstable_offset(Offset(0)), Offset(99));
    state.on_high_watermark(Offset(100));
    EXPECT_EQ(state.first_unstable_offset(Offset(100)), Offset(99));
    state.on_high_watermark(Offset(110));
    EXPECT_EQ(state.first_unstable_offset(Offset(110)), Offset(105));
    (void)end_txn(another, 5, abort_, 112);
    EXPECT_EQ(state.first_undecided_offset(), std::nullopt);
    EXPECT_EQ(state.first_unstable_offset(Offset(110)), Offset(105));
    state.on_high_watermark(Offset(113));
    EXPECT_EQ(state.first_unstable_offset(Offset(113)), std::nullopt);
    EXPECT_TRUE(state.unreplicated_transactions().empty());
}

// Kafka: ProducerStateManagerTest.testProducersWithOngoingTransactionsDontExpire
TEST_F(ProducerStateManagerTest, testProducersWithOngoingTransactionsDontExpire) {
    ASSERT_EQ(client_txn(producer_id, 5, 0, 99), "append");
    EXPECT_EQ(state.first_undecided_offset(), Offset(99));
    EXPECT_EQ(state.expire(expiration_ms + 1), 0U);
    EXPECT_EQ(state.producers().count(ProducerId(producer_id)), 1U);
    EXPECT_EQ(state.first_undecided_offset(), Offset(99));
    (void)end_txn(producer_id, 5, commit, 100);
    EXPECT_EQ(state.expire(expiration_ms + 1), 1U);  // once its transaction ended, it may go
}

// Kafka: ProducerStateManagerTest.testSequenceNotValidatedForGroupMetadataTopic
TEST_F(ProducerStateManagerTest, testSequenceNotValidatedForGroupMetadataTopic) {
    // A coordinator's appends (transactional offset commits) carry no sequence and are not checked:
    // update() alone, as for replication.
    state.update(txn_batch_of(producer_id, 0, protocol::no_sequence.value(), 99));
    state.update(txn_batch_of(producer_id, 0, protocol::no_sequence.value(), 100));
    EXPECT_EQ(entry().current_txn_first_offset, Offset(99));
    EXPECT_EQ(state.end_offset(), Offset(101));
}

// Kafka: ProducerStateManagerTest.testOldEpochForControlRecord
TEST_F(ProducerStateManagerTest, testOldEpochForControlRecord) {
    EXPECT_EQ(state.first_undecided_offset(), std::nullopt);
    ASSERT_EQ(client_txn(producer_id, 5, 0, 99), "append");
    (void)end_txn(producer_id, 3, commit, 100, 0, TransactionVerdict::invalid_producer_epoch);
    EXPECT_EQ(state.first_undecided_offset(), Offset(99));
}

// Kafka: UnifiedLogTest.testEndTxnWithFencedProducerEpoch (KAFKA-19446), for both transaction versions: a
// marker of an older epoch is refused; one of the ongoing transaction's own epoch is taken under version 1,
// refused under version 2 (whose markers carry the bumped epoch: this one is a late copy of the last
// transaction's); one of a newer epoch is taken. eosim departs where no transaction is ongoing: a version 2
// marker of the current epoch ends nothing and is taken (docs/kafka-differences.md).
TEST_F(ProducerStateManagerTest, testEndTxnWithFencedProducerEpoch) {
    for (const bool bumped : {false, true}) {
        ProducerStateManager manager(disk, bumped ? "tv2-0" : "tv1-0", config());
        ASSERT_EQ(client_txn(producer_id, 5, 0, 99, true, &manager), "append");
        const auto check = [&](std::int16_t epoch, std::int64_t offset) {
            return manager.check_transaction(marker_of(producer_id, epoch, commit, offset, 0), bumped);
        };
        EXPECT_EQ(check(4, 100), TransactionVerdict::invalid_producer_epoch) << bumped;
        EXPECT_EQ(check(5, 100), bumped ? TransactionVerdict::invalid_producer_epoch : TransactionVerdict::append);
        EXPECT_EQ(check(6, 100), TransactionVerdict::append) << bumped;
        (void)manager.update(marker_of(producer_id, 6, commit, 100, 0));
        EXPECT_EQ(manager.first_undecided_offset(), std::nullopt);
        EXPECT_EQ(check(6, 101), TransactionVerdict::append) << "nothing ongoing: a repeated marker ends nothing";
    }
}

// Kafka: ProducerStateManagerTest.testCoordinatorFencing
TEST_F(ProducerStateManagerTest, testCoordinatorFencing) {
    ASSERT_EQ(client_txn(producer_id, 5, 0, 99), "append");
    (void)end_txn(producer_id, 5, commit, 100, 1);
    EXPECT_EQ(entry().coordinator_epoch, 1);
    (void)end_txn(producer_id, 5, commit, 101, 1);  // the current coordinator epoch is allowed
    (void)end_txn(producer_id, 5, commit, 102, 2);  // so is a newer one
    (void)end_txn(producer_id, 5, commit, 103, 1, TransactionVerdict::coordinator_fenced);
    EXPECT_EQ(entry().coordinator_epoch, 2);
}

// Kafka: ProducerStateManagerTest.testCoordinatorFencedAfterReload
TEST_F(ProducerStateManagerTest, testCoordinatorFencedAfterReload) {
    ASSERT_EQ(client_txn(producer_id, 0, 0, 0), "append");
    (void)end_txn(producer_id, 0, commit, 1, 1);
    state.take_snapshot();
    ProducerStateManager recovered{disk, "topic-0", config()};
    ASSERT_EQ(recovered.load_snapshot(Offset(2)), Offset(2));
    EXPECT_EQ(entry(producer_id, &recovered).coordinator_epoch, 1);
    (void)end_txn(producer_id, 0, commit, 2, 0, TransactionVerdict::coordinator_fenced, &recovered);
}

// Kafka: ProducerStateManagerTest.testAppendEmptyControlBatch
TEST_F(ProducerStateManagerTest, testAppendEmptyControlBatch) {
    RecordBatch empty = marker_of(23'423, 0, commit, 15);
    empty.records.clear();
    EXPECT_EQ(state.check_transaction(empty), TransactionVerdict::append);
    EXPECT_EQ(state.update(empty), std::nullopt);  // no marker: no transaction begins or ends
    EXPECT_EQ(entry(23'423).current_txn_first_offset, std::nullopt);
}

// Kafka: ProducerStateManagerTest.testLoadFromSnapshotRetainsNonExpiredProducers (with transactions)
TEST_F(ProducerStateManagerTest, testLoadFromSnapshotRetainsNonExpiredProducersWithTransactions) {
    ASSERT_EQ(client_txn(1, 0, 0, 0), "append");
    ASSERT_EQ(client_txn(2, 0, 0, 1), "append");
    (void)end_txn(1, 0, abort_, 2, 7);
    state.take_snapshot();
    EXPECT_EQ(state.load_snapshot(Offset(3)), Offset(3));
    EXPECT_EQ(state.producers().size(), 2U);
    EXPECT_EQ(entry(1).current_txn_first_offset, std::nullopt);
    EXPECT_EQ(entry(1).coordinator_epoch, 7);
    EXPECT_EQ(entry(2).current_txn_first_offset, Offset(1));
    // The aborted transaction is still unreplicated (no high watermark passed it): it stays unstable.
    EXPECT_EQ(state.unreplicated_transactions().size(), 1U);
    EXPECT_EQ(state.first_unstable_offset(Offset(0)), Offset(0));
    EXPECT_EQ(state.last_stable_offset(Offset(3)), Offset(1));
}

// Kafka: ProducerStateManagerTest.testTakeSnapshot (with an ongoing transaction; eosim: the snapshot round trip)
TEST_F(ProducerStateManagerTest, testTakeSnapshotWithOngoingTransactions) {
    ASSERT_EQ(client_txn(1, 3, 0, 0), "append");
    (void)end_txn(1, 3, commit, 1, 4);
    ASSERT_EQ(client_txn(1, 3, 1, 2), "append");
    ASSERT_EQ(client_txn(2, 0, 0, 3), "append");
    state.take_snapshot();
    ProducerStateManager reread{disk, "topic-0", config()};
    ASSERT_EQ(reread.load_snapshot(Offset(4)), Offset(4));
    EXPECT_EQ(reread.producers(), state.producers());
    EXPECT_EQ(reread.unreplicated_transactions(), state.unreplicated_transactions());
    EXPECT_EQ(reread.first_undecided_offset(), Offset(2));
}

// eosim: without transaction state a snapshot is written in format 1, as before transactions; with it, in
// format 2.
TEST_F(ProducerStateManagerTest, snapshotFormatFollowsTheTransactionState) {
    ASSERT_EQ(client(0, 0, 0), SequenceVerdict::append);
    state.take_snapshot();
    const auto magic = [this](std::int64_t offset) {
        const std::vector<std::byte> bytes = *disk.read_all(snapshot_file(offset));
        std::uint32_t value = 0;
        for (std::size_t i = 0; i < 4; ++i) {
            value |= std::to_integer<std::uint32_t>(bytes[i]) << (8U * i);
        }
        return value;
    };
    EXPECT_EQ(magic(1), 0x50534e31U);
    ASSERT_EQ(client_txn(producer_id, 0, 1, 1), "append");
    state.take_snapshot();
    EXPECT_EQ(magic(2), 0x50534e32U);
    (void)end_txn(producer_id, 0, commit, 2);
    state.on_high_watermark(Offset(3));
    state.take_snapshot();
    EXPECT_EQ(magic(3), 0x50534e32U);  // the coordinator epoch of its marker is transaction state
    ProducerStateManager reread{disk, "topic-0", config()};
    ASSERT_EQ(reread.load_snapshot(Offset(3)), Offset(3));
    EXPECT_EQ(reread.producers(), state.producers());
}

// eosim: a snapshot of format version 1 (before transactions) still loads, with no transaction state.
TEST_F(ProducerStateManagerTest, snapshotVersion1StillLoads) {
    // PSN1, offset 1, one producer (id 1, epoch 0, timestamp 5, one batch 0..0 at offset 0), CRC.
    ByteWriterForTest writer;
    writer.u32(0x50534e31).i64(1).i32(1).i64(1).i16(0).i64(5).i32(1).i32(0).i32(0).i64(0).i64(0).i64(5);
    writer.crc();
    (void)disk.create(snapshot_file(1));
    (void)disk.append(snapshot_file(1), writer.bytes);
    ASSERT_EQ(state.load_snapshot(Offset(1)), Offset(1));
    EXPECT_EQ(entry().coordinator_epoch, -1);
    EXPECT_EQ(entry().current_txn_first_offset, std::nullopt);
    EXPECT_EQ(entry().last_sequence(), Sequence(0));
    EXPECT_EQ(entry().last_timestamp_ms, 5);
}

}  // namespace
}  // namespace eosim::broker_core
