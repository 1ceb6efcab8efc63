#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker_core/transaction_log.h"
#include "broker_core/transaction_metadata.h"
#include "protocol/group_messages.h"
#include "protocol/messages.h"
#include "sim/node.h"
#include "sim/rpc.h"

// The transaction coordinator of one broker (Kafka's TransactionCoordinator, TransactionStateManager and
// TransactionMarkerChannelManager): it coordinates the transactional ids of the `__transaction_state`
// partitions its broker leads, keeps their state in those partitions (acks=all), answers InitProducerId,
// AddPartitionsToTxn (also verify-only, for partition leaders) and EndTxn, writes the markers of each
// ended transaction to its partitions' leaders until every one is acknowledged, and aborts transactions
// that outlive their timeout. A broker that becomes leader of such a partition reloads its ids from the
// log and finishes the transactions it finds in PrepareCommit or PrepareAbort. docs/transactions.md,
// "Coordinator".

namespace eosim::broker_core {

struct TransactionCoordinatorConfig {
    std::int32_t max_timeout_ms = 900'000;  // transaction.max.timeout.ms
    // transaction.abort.timed.out.transaction.cleanup.interval.ms (Kafka: 10 s).
    sim::Duration abort_timed_out_interval{std::chrono::milliseconds(500)};
    sim::Duration request_timeout{std::chrono::milliseconds(1000)};
    sim::Duration marker_retry_backoff{std::chrono::milliseconds(50)};
    // Version 2 (KIP-890 part 2) bumps the epoch at every EndTxn; version 1 is the kafka-17754 bug switch.
    TransactionVersion version = TransactionVersion::v2;
    std::int32_t offsets_topic_partitions = 3;  // offsets.topic.num.partitions: where AddOffsetsToTxn points
    bool forgets_markers = false;  // coordinator-forgets-markers: a loaded Prepare* is never finished
    bool kafka_18464 = false;      // EndTxn checks the epoch before the pending transition
};

// What the coordinator needs of its broker.
struct TransactionLogAccess {
    // Appends `record` to partition `partition` of `__transaction_state`, which the broker must lead in
    // leader epoch `coordinator_epoch`, and waits until it is replicated: NONE, NOT_COORDINATOR (no longer
    // its leader in that epoch) or COORDINATOR_NOT_AVAILABLE (not replicated in time, too few replicas).
    std::function<protocol::ErrorCode(std::int32_t partition, std::int32_t coordinator_epoch, protocol::Record record)>
        append;
    // The records of the partition, from its log start to its log end, if the broker still leads it in
    // that epoch.
    std::function<std::optional<std::vector<protocol::Record>>(std::int32_t partition, std::int32_t coordinator_epoch)>
        read;
    // A new producer id (from the broker's block), or the error.
    std::function<protocol::InitProducerIdResponse()> new_producer_id;
    // The partition's leader by the broker's metadata (no_broker: none known).
    std::function<protocol::BrokerId(const protocol::TopicPartition&)> leader_of;
    // The partition count of `__transaction_state` (0: the topic does not exist yet).
    std::function<std::int32_t()> partition_count;
    // A connection to `broker` for markers.
    std::function<sim::RpcClient&(protocol::BrokerId)> marker_client;
};

class TransactionCoordinator {
public:
    TransactionCoordinator(sim::Node& node, TransactionCoordinatorConfig config, TransactionLogAccess access);

    // The answer to a request the coordinator serves (InitProducerId with a transactional id,
    // AddPartitionsToTxn, EndTxn); nothing for any other request.
    std::optional<sim::Message> handle(const sim::Message& request);
    // The broker leads `partition` of `__transaction_state` in `coordinator_epoch`: load it.
    void on_election(std::int32_t partition, std::int32_t coordinator_epoch);
    // The broker no longer leads `partition`: forget its ids (work under way for them stops).
    void on_resignation(std::int32_t partition);

    // For tests and traces: the state of `transactional_id`, if this coordinator holds it loaded.
    [[nodiscard]] const TransactionMetadata* find(const std::string& transactional_id) const;
    // Nothing left to do: every partition it leads is loaded and no transaction awaits its markers (the
    // harness waits for this before it checks that no transaction hangs).
    [[nodiscard]] bool idle() const;

private:
    struct Partition {
        std::int32_t coordinator_epoch = -1;
        std::uint64_t generation = 0;  // changes with every election and resignation
        bool loading = true;
        std::map<std::string, TransactionMetadata> transactions;
    };
    // Where a request's id lives: its partition and that partition's generation when the request came.
    struct Place {
        std::int32_t partition = -1;
        std::uint64_t generation = 0;
        std::int32_t coordinator_epoch = -1;
    };

    protocol::InitProducerIdResponse init_producer_id(const protocol::InitProducerIdRequest& request);
    protocol::AddPartitionsToTxnResponse add_partitions(const protocol::AddPartitionsToTxnRequest& request);
    // The group's partition of `__consumer_offsets` joins the transaction, so that its markers reach the
    // group coordinator (Kafka's handleAddOffsetsToTransaction).
    protocol::AddOffsetsToTxnResponse add_offsets(const protocol::AddOffsetsToTxnRequest& request);
    protocol::AddPartitionsToTxnResponse verify_partitions(const protocol::AddPartitionsToTxnRequest& request,
                                                           TransactionMetadata& metadata) const;
    protocol::EndTxnResponse end_txn(const protocol::EndTxnRequest& request);

    // Finds the place of `transactional_id`: NONE, or the error to answer (NOT_COORDINATOR,
    // COORDINATOR_LOAD_IN_PROGRESS).
    protocol::ErrorCode place_error(const std::string& transactional_id, Place& place) const;
    // The metadata of `transactional_id` if its partition is still loaded in `place`'s generation.
    TransactionMetadata* lookup(const Place& place, const std::string& transactional_id);
    // The metadata of `transactional_id`, created (with a new producer id, epoch -1) when absent.
    protocol::ErrorCode get_or_create(const Place& place, const std::string& transactional_id,
                                      std::int32_t timeout_ms);
    // The InitProducerId transition Kafka's prepareInitProducerIdTransit chooses (fence, bump, rotation);
    // `rotate_to`: the new producer id a rotation takes (none yet: it is asked for, and the choice made again).
    std::optional<TransactionTransit> prepare_init(const Place& place, const std::string& transactional_id,
                                                   const protocol::InitProducerIdRequest& request,
                                                   protocol::ErrorCode& error,
                                                   protocol::ProducerId rotate_to = protocol::no_producer_id);
    // Appends `transit` for `transactional_id` and completes the transition (or cancels it): the error.
    protocol::ErrorCode log_transition(const Place& place, const std::string& transactional_id,
                                       const TransactionTransit& transit);

    // Ends the transaction of `transactional_id`: EndTxn from its producer (`from_client`) or an abort
    // the coordinator starts (a fence or a timeout). The answer for a client.
    protocol::EndTxnResponse end_transaction(const Place& place, const std::string& transactional_id,
                                             protocol::ProducerId producer_id, protocol::ProducerEpoch producer_epoch,
                                             bool commit, bool from_client);
    struct EndingProducer {
        protocol::ProducerId producer_id = protocol::no_producer_id;
        protocol::ProducerEpoch producer_epoch = protocol::no_producer_epoch;
        protocol::ProducerId next_producer_id = protocol::no_producer_id;  // v2, when this end exhausts the epochs
    };
    // Kafka's endTransaction checks before the transition: the transit to log, or nothing and the answer.
    std::optional<TransactionTransit> prepare_end(const Place& place, const std::string& transactional_id,
                                                  const EndingProducer& producer, bool commit, bool from_client,
                                                  protocol::EndTxnResponse& answer);
    // The transition EndTxn asks for in the metadata's state (or the answer: a retry's NONE, an error).
    std::optional<TransactionTransit> transition_for_end(TransactionMetadata& metadata,
                                                         protocol::ProducerId next_producer_id, bool commit, bool retry,
                                                         protocol::EndTxnResponse& answer) const;
    // The fence of an ongoing transaction (a newer producer, a timeout) and its abort.
    void fence_and_abort(const Place& place, const std::string& transactional_id);

    // After a PrepareCommit or PrepareAbort `prepared` was logged (or loaded): the completion becomes the
    // pending transition at once, as in Kafka, and a fiber writes the markers and logs the completion.
    void start_markers(const Place& place, const std::string& transactional_id, const TransactionTransit& prepared);
    // Writes the markers of the transaction ended by `prepared` to every partition, then logs `complete`;
    // gives up when the partition moves away.
    void write_markers(Place place, std::string transactional_id, TransactionTransit prepared,
                       TransactionTransit complete);
    // One round: a WriteTxnMarkers to each leader of the partitions left; the partitions still left.
    std::set<protocol::TopicPartition> send_markers(const Place& place, const std::string& transactional_id,
                                                    const TransactionTransit& transit,
                                                    std::set<protocol::TopicPartition> left, bool& give_up);
    void complete_transaction(const Place& place, const std::string& transactional_id, TransactionTransit complete);

    void load(std::int32_t partition, std::uint64_t generation);
    void abort_timed_out_loop();
    [[nodiscard]] bool current(const Place& place) const;

    sim::Node& node_;
    TransactionCoordinatorConfig config_;
    TransactionLogAccess access_;
    std::map<std::int32_t, Partition> partitions_;
    std::uint64_t next_generation_ = 1;
};

}  // namespace eosim::broker_core
