#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client_core/group_consumer.h"
#include "client_core/history.h"
#include "client_core/metadata_client.h"
#include "client_core/producer.h"
#include "sim/condition.h"
#include "sim/future.h"
#include "sim/rpc.h"

// A transactional producer (KIP-98, KIP-890): Kafka's KafkaProducer with a transactional.id and its
// TransactionManager. docs/transactions.md, "Producer".

namespace eosim::client_core {

struct TransactionalProducerConfig {
    std::string client_id = "txn-producer";
    std::string transactional_id;
    sim::Duration transaction_timeout{std::chrono::seconds(10)};  // transaction.timeout.ms
    std::size_t batch_records_max = 16;
    sim::Duration linger{std::chrono::milliseconds(2)};
    sim::Duration request_timeout{std::chrono::milliseconds(1000)};
    sim::Duration delivery_timeout{std::chrono::seconds(5)};
    sim::Duration retry_backoff{std::chrono::milliseconds(50)};
    // max.block.ms: how long init_transactions, commit and abort keep retrying the coordinator.
    sim::Duration max_block{std::chrono::seconds(10)};
    // The number of this producer's first transaction in its labels: a process that replaces its producer
    // goes on counting, so labels stay unique in the history.
    std::int32_t first_transaction = 1;
};

// How a transactional call ended, as Kafka's producer reports it.
enum class TxnResult : std::uint8_t {
    ok,
    // The transaction cannot commit (a send failed or its outcome is unknown, a request timed out): the
    // application must abort it (Kafka's TransactionAbortableException and the abortable errors).
    abortable,
    // Another instance took over the transactional id (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH) or the
    // producer hit a fatal error: it must be closed (Kafka's fatal errors). Every later call gives fatal.
    fatal,
    // The coordinator did not answer within max.block.ms: the outcome is unknown; the call may be
    // retried (Kafka's TimeoutException, which leaves the pending call to be resumed).
    timed_out,
};

std::string_view to_string(TxnResult result);

// One transactional producer, used from one fiber at a time (its owner's), as Kafka's is:
//
//   init_transactions();                  // find the coordinator, InitProducerId (fences older instances)
//   begin_transaction();
//   send(...); send(...);                 // AddPartitionsToTxn before a partition's first batch
//   commit_transaction() or abort_transaction();
//
// Batches carry the producer id, the epoch and per-partition sequences and are marked transactional.
// With transaction version 2 the epoch the coordinator returns from EndTxn is used for the next
// transaction (sequences start again at 0). A send that fails or ends with an unknown outcome makes the
// transaction abortable; an unknown outcome also needs an epoch bump before the next transaction
// (InitProducerId with the current producer id and epoch, KIP-360), which abort_transaction does.
//
// History (docs/history-format.md): "init-txn" (invoke, then ok with producer_id and producer_epoch, or
// fail/info with error), "begin" (ok), "send" (invoke, then ok with offset, fail or info, each with
// "txn"), "commit" and "abort" (invoke, then ok or info, with "txn"). Every op carries transactional_id;
// begin/commit/abort/send carry the txn label "<client_id>-t<n>", producer_id and producer_epoch.
// A commit whose outcome is unknown (timed out, fenced after it was sent) is recorded as info.
// "send-offsets" (invoke, then ok, fail or info, with txn, group, member_id, generation and offsets).
class TransactionalProducer {
public:
    TransactionalProducer(sim::Node& node, TransactionalProducerConfig config, protocol::ClusterAddresses addresses,
                          HistoryRecorder& history);
    TransactionalProducer(const TransactionalProducer&) = delete;
    TransactionalProducer& operator=(const TransactionalProducer&) = delete;
    ~TransactionalProducer();

    // In a fiber. Every call below blocks its fiber until done.
    TxnResult init_transactions();
    // Starts a transaction (asserts one is not already open and the producer is initialized).
    void begin_transaction();
    // Sends a record in the open transaction. The future completes when the record's batch is acknowledged
    // by the leader (ok, with its offset: written, but committed only with the transaction), definitely not
    // written (failed), or unknown.
    // A record to send with its own partition and timestamp (Kafka's ProducerRecord): by default the key's
    // partition and the producer's clock.
    struct ProducerRecord {
        std::string topic;
        std::optional<std::int32_t> partition;
        std::optional<std::string> key;
        std::optional<std::string> value;
        std::optional<std::int64_t> timestamp_ms;
    };
    sim::Future<SendOutcome> send(ProducerRecord record);
    sim::Future<SendOutcome> send(const std::string& topic, std::optional<std::string> key,
                                  std::optional<std::string> value);
    // Puts a consumer group's offsets in the open transaction (Kafka's sendOffsetsToTransaction, KIP-447):
    // AddOffsetsToTxn to the transaction coordinator, then TxnOffsetCommit with the consumer's group
    // metadata to the group coordinator. The offsets become the group's committed ones only if the
    // transaction commits. abortable when the group fenced the consumer (it lost its partitions:
    // UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION) or no answer came in time; fatal when the producer was fenced.
    TxnResult send_offsets_to_transaction(const std::map<protocol::TopicPartition, protocol::Offset>& offsets,
                                          const ConsumerGroupMetadata& group);
    // The same with each offset's leader epoch (GroupConsumer::commit_partitions).
    TxnResult send_offsets_to_transaction(const std::vector<protocol::OffsetCommitPartition>& offsets,
                                          const ConsumerGroupMetadata& group);
    // Waits for every send of the transaction, then EndTxn(commit). abortable when a send did not succeed
    // (nothing is sent to the coordinator; the application must abort).
    TxnResult commit_transaction();
    // Waits for (or gives up on) the transaction's sends, then EndTxn(abort) (or just ends the
    // transaction when no partition was added).
    TxnResult abort_transaction();

    [[nodiscard]] bool in_transaction() const;
    [[nodiscard]] bool fatal() const;
    [[nodiscard]] protocol::ProducerId producer_id() const;
    [[nodiscard]] protocol::ProducerEpoch producer_epoch() const;
    // The label of the open (or last) transaction in the history.
    [[nodiscard]] const std::string& transaction_label() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace eosim::client_core
