#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "broker_core/transaction_metadata.h"
#include "protocol/types.h"

// The transaction coordinator's records in its partitions of `__transaction_state`: one record per
// transition of a transactional id (key: the id; value: the transit, encode_transaction_record), a
// tombstone (no value) when the id is removed. A coordinator that becomes the leader of such a partition
// loads the state from its records (Kafka's TransactionStateManager.loadTransactionsForTxnTopicPartition).
// docs/transactions.md.

namespace eosim::broker_core {

// The record of `transit` for `transactional_id`, stamped `timestamp_ms`.
[[nodiscard]] protocol::Record transaction_log_record(const std::string& transactional_id,
                                                      const TransactionTransit& transit, std::int64_t timestamp_ms);
// The tombstone that removes `transactional_id`.
[[nodiscard]] protocol::Record transaction_log_tombstone(const std::string& transactional_id,
                                                         std::int64_t timestamp_ms);

struct LoadedTransactions {
    std::map<std::string, TransactionMetadata> transactions;  // by transactional id
    std::size_t records = 0;  // records read
    std::size_t refused = 0;  // records without a key or whose value does not decode (skipped)
};

// The state the records of one partition describe, read in log order: the last record of each id wins,
// a tombstone removes it. A record that cannot be read is skipped and counted (the log's batch CRC
// already refuses damaged bytes; such a record is a bug of the writer).
[[nodiscard]] LoadedTransactions load_transactions(std::span<const protocol::Record> records);

// The ids whose loaded state is PrepareCommit or PrepareAbort: their markers may not all be written, so a
// new coordinator writes them again and then completes the transaction.
[[nodiscard]] std::vector<std::string> transactions_to_complete(const LoadedTransactions& loaded);

}  // namespace eosim::broker_core
