// Loading a transaction coordinator's state from its records in __transaction_state (broker_core/transaction_log.h).

#include <gtest/gtest.h>

#include "broker_core/transaction_log.h"

namespace eosim::broker_core {
namespace {

using protocol::ProducerEpoch;
using protocol::ProducerId;
using protocol::TopicPartition;

TransactionTransit transit(std::int64_t producer, std::int16_t epoch, TransactionState state,
                           std::set<TopicPartition> partitions = {}) {
    TransactionTransit t;
    t.producer_id = ProducerId(producer);
    t.producer_epoch = ProducerEpoch(epoch);
    t.transaction_timeout_ms = 60000;
    t.state = state;
    t.transaction_start_ms = state == TransactionState::empty ? no_timestamp : 100;
    t.partitions = std::move(partitions);
    t.last_update_ms = 200;
    return t;
}

const std::set<TopicPartition> two{TopicPartition{"events", 0}, TopicPartition{"events", 1}};

TEST(TransactionLog, TheLastRecordOfEachIdWins) {
    const std::vector<protocol::Record> records{
        transaction_log_record("a", transit(1, 0, TransactionState::empty), 10),
        transaction_log_record("b", transit(2, 0, TransactionState::empty), 11),
        transaction_log_record("a", transit(1, 0, TransactionState::ongoing, two), 12),
        transaction_log_record("a", transit(1, 0, TransactionState::prepare_commit, two), 13),
    };
    const LoadedTransactions loaded = load_transactions(records);
    EXPECT_EQ(loaded.records, 4U);
    EXPECT_EQ(loaded.refused, 0U);
    ASSERT_EQ(loaded.transactions.size(), 2U);
    const TransactionMetadata& a = loaded.transactions.at("a");
    EXPECT_EQ(a.transactional_id(), "a");
    EXPECT_EQ(a.state(), TransactionState::prepare_commit);
    EXPECT_EQ(a.partitions(), two);
    EXPECT_FALSE(a.pending_transition_in_progress());
    EXPECT_EQ(loaded.transactions.at("b").state(), TransactionState::empty);
    EXPECT_EQ(transactions_to_complete(loaded), std::vector<std::string>{"a"});
}

TEST(TransactionLog, ATombstoneRemovesTheId) {
    const std::vector<protocol::Record> records{
        transaction_log_record("a", transit(1, 0, TransactionState::empty), 10),
        transaction_log_tombstone("a", 11),
        transaction_log_record("b", transit(2, 3, TransactionState::prepare_abort, two), 12),
    };
    const LoadedTransactions loaded = load_transactions(records);
    EXPECT_FALSE(loaded.transactions.contains("a"));
    EXPECT_EQ(transactions_to_complete(loaded), std::vector<std::string>{"b"});
}

TEST(TransactionLog, UnreadableRecordsAreSkippedAndCounted) {
    std::vector<protocol::Record> records{
        transaction_log_record("a", transit(1, 0, TransactionState::empty), 10),
        protocol::Record{.key = std::nullopt, .value = "x"},
        protocol::Record{.key = "a", .value = "not a transit"},
    };
    const LoadedTransactions loaded = load_transactions(records);
    EXPECT_EQ(loaded.refused, 2U);
    ASSERT_TRUE(loaded.transactions.contains("a"));
    EXPECT_EQ(loaded.transactions.at("a").state(), TransactionState::empty);  // the readable record stands
}

TEST(TransactionLog, RecordRoundTrip) {
    const TransactionTransit original = transit(9, 4, TransactionState::ongoing, two);
    const protocol::Record record = transaction_log_record("id", original, 77);
    EXPECT_EQ(record.key, "id");
    EXPECT_EQ(record.timestamp_ms, 77);
    const LoadedTransactions loaded = load_transactions(std::vector<protocol::Record>{record});
    EXPECT_EQ(loaded.transactions.at("id").prepare_no_transit(), original);
}

}  // namespace
}  // namespace eosim::broker_core
