#include "broker_core/transaction_log.h"

#include "broker_core/byte_io.h"

namespace eosim::broker_core {

protocol::Record transaction_log_record(const std::string& transactional_id, const TransactionTransit& transit,
                                        std::int64_t timestamp_ms) {
    return protocol::Record{
        .key = transactional_id, .value = to_text(encode_transaction_record(transit)), .timestamp_ms = timestamp_ms};
}

protocol::Record transaction_log_tombstone(const std::string& transactional_id, std::int64_t timestamp_ms) {
    return protocol::Record{.key = transactional_id, .value = std::nullopt, .timestamp_ms = timestamp_ms};
}

LoadedTransactions load_transactions(std::span<const protocol::Record> records) {
    LoadedTransactions loaded;
    for (const protocol::Record& record : records) {
        ++loaded.records;
        if (!record.key) {
            ++loaded.refused;
            continue;
        }
        if (!record.value) {
            loaded.transactions.erase(*record.key);
            continue;
        }
        const sim::Result<TransactionTransit> transit = decode_transaction_record(bytes_of(*record.value));
        if (!transit) {
            ++loaded.refused;
            continue;
        }
        loaded.transactions.insert_or_assign(*record.key, TransactionMetadata(*record.key, *transit));
    }
    return loaded;
}

std::vector<std::string> transactions_to_complete(const LoadedTransactions& loaded) {
    std::vector<std::string> ids;
    for (const auto& [id, metadata] : loaded.transactions) {
        if (metadata.state() == TransactionState::prepare_commit || metadata.state() == TransactionState::prepare_abort) {
            ids.push_back(id);
        }
    }
    return ids;
}

}  // namespace eosim::broker_core
