// Kafka's TransactionIndexTest, against broker_core::TransactionIndex (the aborted-transaction index of
// one segment).
#include <gtest/gtest.h>

#include <vector>

#include "broker_core/transaction_index.h"
#include "sim/assert.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using protocol::Offset;
using protocol::ProducerId;

AbortedTransaction aborted(std::int64_t pid, std::int64_t first, std::int64_t last, std::int64_t last_stable) {
    return AbortedTransaction{ProducerId(pid), Offset(first), Offset(last), Offset(last_stable)};
}

const std::vector<AbortedTransaction> four = {aborted(0, 0, 10, 11), aborted(1, 5, 15, 13), aborted(2, 18, 35, 25),
                                              aborted(3, 32, 50, 40)};

class TransactionIndexTest : public ::testing::Test {
protected:
    sim::Simulation simulation{sim::SimulationOptions{.seed = 23}};
    sim::Disk disk{sim::DiskOptions{}, sim::Random(23)};
    const std::string path = "topic-0/00000000000000000000.txnindex";
    TransactionIndex index{disk, path, Offset(0)};

    void append_all(const std::vector<AbortedTransaction>& entries) {
        for (const AbortedTransaction& entry : entries) {
            index.append(entry);
        }
    }
    [[nodiscard]] std::vector<AbortedTransaction> collect(std::int64_t from, std::int64_t upto) const {
        std::vector<AbortedTransaction> out;
        index.collect(Offset(from), Offset(upto), out);
        return out;
    }
    static std::vector<AbortedTransaction> slice(std::size_t from, std::size_t to) {
        return {four.begin() + static_cast<std::ptrdiff_t>(from), four.begin() + static_cast<std::ptrdiff_t>(to)};
    }
};

// Kafka: TransactionIndexTest.testPositionSetCorrectlyWhenOpened
TEST_F(TransactionIndexTest, testPositionSetCorrectlyWhenOpened) {
    append_all(four);
    TransactionIndex reopened{disk, path, Offset(0)};
    ASSERT_TRUE(reopened.load());
    reopened.append(aborted(3, 50, 60, 55));
    std::vector<AbortedTransaction> expected = four;
    expected.push_back(aborted(3, 50, 60, 55));
    EXPECT_EQ(reopened.entries(), expected);
    TransactionIndex again{disk, path, Offset(0)};
    ASSERT_TRUE(again.load());
    EXPECT_EQ(again.entries(), expected);
}

// Kafka: TransactionIndexTest.testSanityCheck
TEST_F(TransactionIndexTest, testSanityCheck) {
    append_all(four);
    TransactionIndex reopened{disk, path, Offset(100)};  // entries below its segment's start: corrupt
    EXPECT_FALSE(reopened.load());
    EXPECT_TRUE(reopened.entries().empty());
}

// Kafka: TransactionIndexTest.testLastOffsetMustIncrease
TEST_F(TransactionIndexTest, testLastOffsetMustIncrease) {
    index.append(aborted(1, 5, 15, 13));
    EXPECT_THROW(index.append(aborted(0, 0, 15, 11)), sim::AssertionFailure);
}

// Kafka: TransactionIndexTest.testLastOffsetCannotDecrease
TEST_F(TransactionIndexTest, testLastOffsetCannotDecrease) {
    index.append(aborted(1, 5, 15, 13));
    EXPECT_THROW(index.append(aborted(0, 0, 10, 11)), sim::AssertionFailure);
}

// Kafka: TransactionIndexTest.testCollectAbortedTransactions
TEST_F(TransactionIndexTest, testCollectAbortedTransactions) {
    append_all(four);
    EXPECT_EQ(collect(0, 100), four);
    EXPECT_EQ(collect(0, 32), slice(0, 3));
    EXPECT_EQ(collect(0, 35), four);
    EXPECT_EQ(collect(10, 35), four);
    EXPECT_EQ(collect(11, 35), slice(1, 4));
    EXPECT_EQ(collect(20, 41), slice(2, 4));
}

// Kafka: TransactionIndexTest.testTruncate
TEST_F(TransactionIndexTest, testTruncate) {
    const std::vector<AbortedTransaction> entries = {aborted(0, 0, 10, 2), aborted(1, 5, 15, 16),
                                                     aborted(2, 18, 35, 25), aborted(3, 32, 50, 40)};
    append_all(entries);
    index.truncate_to(Offset(51));
    EXPECT_EQ(collect(0, 100), entries);
    index.truncate_to(Offset(50));
    EXPECT_EQ(collect(0, 100), std::vector<AbortedTransaction>(entries.begin(), entries.begin() + 3));
    TransactionIndex reopened{disk, path, Offset(0)};  // the file was cut too
    ASSERT_TRUE(reopened.load());
    EXPECT_EQ(reopened.entries().size(), 3U);
    index.truncate_to(Offset(0));  // Kafka's reset
    EXPECT_TRUE(collect(0, 100).empty());
}

// Kafka: TransactionIndexTest.testAbortedTxnSerde
TEST_F(TransactionIndexTest, testAbortedTxnSerde) {
    const AbortedTransaction entry = aborted(983'493, 137, 299, 200);
    const std::vector<std::byte> bytes = encode_aborted_transactions({entry});
    EXPECT_EQ(bytes.size(), TransactionIndex::entry_bytes);
    (void)disk.create(path);
    (void)disk.append(path, bytes);
    ASSERT_TRUE(index.load());
    EXPECT_EQ(index.entries(), std::vector<AbortedTransaction>{entry});
}

// Kafka: TransactionIndexTest.testFlush
TEST_F(TransactionIndexTest, testFlush) {
    EXPECT_TRUE(index.flush().ok());
    index.append(aborted(0, 0, 10, 2));
    EXPECT_TRUE(index.flush().ok());
    EXPECT_NE(disk.size(path).value(), 0U);
}

// Kafka: TransactionIndexTest.testDeleteIfExists
TEST_F(TransactionIndexTest, testDeleteIfExists) {
    index.append(aborted(0, 0, 10, 2));
    ASSERT_TRUE(disk.exists(path));
    index.remove();
    EXPECT_FALSE(disk.exists(path));
    EXPECT_TRUE(index.entries().empty());
}

// Kafka: TransactionIndexTest.testIsEmptyWhenFileDoesNotExist
TEST_F(TransactionIndexTest, testIsEmptyWhenFileDoesNotExist) {
    EXPECT_FALSE(index.load());  // eosim: a missing file is not a loaded index (recovery rebuilds it)
    EXPECT_TRUE(index.entries().empty());
}

// Kafka: TransactionIndexTest.testDoNotCreateFileUntilNeeded
TEST_F(TransactionIndexTest, testDoNotCreateFileUntilNeeded) {
    EXPECT_FALSE(disk.exists(path));
    index.truncate_to(Offset(0));
    EXPECT_FALSE(disk.exists(path));
    EXPECT_TRUE(index.flush().ok());
    EXPECT_FALSE(disk.exists(path));
    index.append(aborted(0, 0, 10, 2));
    EXPECT_TRUE(disk.exists(path));
}

// eosim: a torn or damaged file does not load.
TEST_F(TransactionIndexTest, tornOrDamagedFileDoesNotLoad) {
    append_all(four);
    (void)disk.truncate(path, 3 * TransactionIndex::entry_bytes + 7);
    TransactionIndex torn{disk, path, Offset(0)};
    EXPECT_FALSE(torn.load());
    std::vector<std::byte> bytes = encode_aborted_transactions({aborted(0, 0, 10, 2), aborted(1, 5, 9, 16)});
    (void)disk.remove(path);
    (void)disk.create(path);
    (void)disk.append(path, bytes);  // last offsets out of order
    EXPECT_FALSE(torn.load());
    bytes = encode_aborted_transactions({aborted(0, 0, 10, 2)});
    bytes[0] = std::byte{1};  // an unknown version
    (void)disk.remove(path);
    (void)disk.create(path);
    (void)disk.append(path, bytes);
    EXPECT_FALSE(torn.load());
}

}  // namespace
}  // namespace eosim::broker_core
