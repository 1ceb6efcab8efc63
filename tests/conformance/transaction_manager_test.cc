// Kafka's TransactionManagerTest (clients/.../producer/internals), the cases that apply to eosim's
// client_core::TransactionalProducer, replayed against scripted brokers (tests/client_core/
// scripted_broker.h). Kafka drives its Sender step by step with a mock client; here the producer runs
// in a fiber and the scripted coordinator and leader answer as each case needs. Names ending in "Like"
// follow a Kafka case's idea where eosim's API or protocol differs (docs/transactions.md, "Producer").
#include <gtest/gtest.h>

#include "tests/client_core/transactional_support.h"

namespace eosim::client_core::testing {
namespace {

using namespace std::chrono_literals;
using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::Offset;
using protocol::ProduceRequest;
using Type = ClientOperation::Type;

const protocol::TopicPartition tp0{txn_topic, 0};

// A version 1 coordinator: EndTxn keeps the epoch; InitProducerId with an epoch bumps it.
void script_version1(Script& script) {
    script.on_end_txn = [](const protocol::EndTxnRequest& request, const Received&) {
        return end_txn_answer(ErrorCode::none, request.producer_id, request.producer_epoch.value());
    };
    script.on_init_producer_id = [](const Received& received) {
        const auto& request = received.as<protocol::InitProducerIdRequest>();
        const bool first = request.producer_epoch == protocol::no_producer_epoch;
        return init_answer(ErrorCode::none, first ? std::int16_t{0}
                                                  : static_cast<std::int16_t>(request.producer_epoch.value() + 1));
    };
}

TEST(TransactionManagerTest, testBasicTransactionLike) {
    ScriptedCluster cluster(101);
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    SendOutcome outcome;
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        EXPECT_TRUE(producer.in_transaction());
        outcome = *producer.send(txn_topic, std::nullopt, "v").wait();
        EXPECT_EQ(producer.commit_transaction(), TxnResult::ok);
    }));
    EXPECT_EQ(outcome.status, SendOutcome::Status::ok);
    EXPECT_EQ(outcome.offset, Offset(0));
    EXPECT_FALSE(producer.in_transaction());
    EXPECT_EQ(txn_requests(cluster.script),
              (std::vector<std::string>{"FindCoordinator", "InitProducerId", "AddPartitionsToTxn", "Produce",
                                        "EndTxn(commit)"}));
    EXPECT_EQ(producer.transaction_label(), "c-t1");
}

// A partition is added once per transaction, before its first batch, and again in the next transaction.
TEST(TransactionManagerTest, testMaybeAddPartitionToTransaction) {
    ScriptedCluster cluster(102);
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        (void)producer.send(txn_topic, std::nullopt, "a").wait();
        (void)producer.send(txn_topic, std::nullopt, "b").wait();
        ASSERT_EQ(producer.commit_transaction(), TxnResult::ok);
        producer.begin_transaction();
        (void)producer.send(txn_topic, std::nullopt, "c").wait();
        ASSERT_EQ(producer.commit_transaction(), TxnResult::ok);
    }));
    EXPECT_EQ(txn_requests(cluster.script),
              (std::vector<std::string>{"FindCoordinator", "InitProducerId", "AddPartitionsToTxn", "Produce", "Produce",
                                        "EndTxn(commit)", "AddPartitionsToTxn", "Produce", "EndTxn(commit)"}));
    for (const Received* add : cluster.script.received_of<protocol::AddPartitionsToTxnRequest>()) {
        EXPECT_EQ(add->as<protocol::AddPartitionsToTxnRequest>().partitions, std::vector<protocol::TopicPartition>{tp0});
    }
}

// A retriable error on AddPartitionsToTxn: NOT_COORDINATOR sends the producer to find the coordinator
// again, CONCURRENT_TRANSACTIONS just retries; the batch waits until its partition is added.
TEST(TransactionManagerTest, testLookupCoordinatorOnNotCoordinatorInAddPartitionsLike) {
    ScriptedCluster cluster(103);
    int adds = 0;
    cluster.script.on_add_partitions = [&adds](const protocol::AddPartitionsToTxnRequest& request, const Received&) {
        ++adds;
        const ErrorCode error = adds == 1   ? ErrorCode::not_coordinator
                                : adds == 2 ? ErrorCode::concurrent_transactions
                                            : ErrorCode::none;
        protocol::AddPartitionsToTxnResponse response;
        for (const auto& partition : request.partitions) {
            response.partitions.push_back(protocol::PartitionError{partition, error});
        }
        return Reply::answer(response);
    };
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        EXPECT_EQ(producer.send(txn_topic, std::nullopt, "v").wait()->status, SendOutcome::Status::ok);
        EXPECT_EQ(producer.commit_transaction(), TxnResult::ok);
    }));
    EXPECT_EQ(txn_requests(cluster.script),
              (std::vector<std::string>{"FindCoordinator", "InitProducerId", "AddPartitionsToTxn", "FindCoordinator",
                                        "AddPartitionsToTxn", "AddPartitionsToTxn", "Produce", "EndTxn(commit)"}));
}

// An error of AddPartitionsToTxn that is neither retriable nor fatal makes the transaction abortable:
// the send fails without a produce, commit answers abortable, abort ends it at the coordinator.
TEST(TransactionManagerTest, testAbortableErrorInAddPartitionsLike) {
    ScriptedCluster cluster(104);
    cluster.script.on_add_partitions = [](const protocol::AddPartitionsToTxnRequest& request, const Received&) {
        return Reply::answer(protocol::AddPartitionsToTxnResponse{
            ErrorCode::none, {protocol::PartitionError{request.partitions.at(0), ErrorCode::invalid_request}}});
    };
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        const SendOutcome outcome = *producer.send(txn_topic, std::nullopt, "v").wait();
        EXPECT_EQ(outcome.status, SendOutcome::Status::failed);
        EXPECT_EQ(outcome.error, ErrorCode::invalid_request);
        EXPECT_EQ(producer.commit_transaction(), TxnResult::abortable);
        EXPECT_EQ(producer.abort_transaction(), TxnResult::ok);
    }));
    EXPECT_TRUE(cluster.script.received_of<ProduceRequest>().empty());
    EXPECT_EQ(txn_requests(cluster.script).back(), "EndTxn(abort)");
}

// INVALID_PRODUCER_EPOCH on EndTxn is fencing (Kafka turns it into ProducerFencedException): fatal.
TEST(TransactionManagerTest, testInvalidProducerEpochConvertToProducerFencedInEndTxn) {
    ScriptedCluster cluster(105);
    cluster.script.on_end_txn = [](const protocol::EndTxnRequest& request, const Received&) {
        return end_txn_answer(ErrorCode::invalid_producer_epoch, request.producer_id, -1);
    };
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        (void)producer.send(txn_topic, std::nullopt, "v").wait();
        EXPECT_EQ(producer.commit_transaction(), TxnResult::fatal);
        EXPECT_EQ(producer.abort_transaction(), TxnResult::fatal);
    }));
    EXPECT_TRUE(producer.fatal());
    EXPECT_EQ(cluster.script.received_of<protocol::EndTxnRequest>().size(), 1U) << "the abort never reaches it";
    const auto commits = ops_of(cluster.history, "commit", Type::info);
    ASSERT_EQ(commits.size(), 1U);
    EXPECT_EQ(commits[0].error, "INVALID_PRODUCER_EPOCH");
}

// An abortable error of a batch that arrives while the abort waits for it changes nothing: the abort
// goes on, and since it was a sequence error a version 1 coordinator gets an epoch bump after it.
TEST(TransactionManagerTest, testAbortableErrorWhileAbortInProgress) {
    ScriptedCluster cluster(106);
    script_version1(cluster.script);
    cluster.script.on_produce = [](const ProduceRequest&, const Received&) { return Reply::hold(); };
    TransactionalProducerConfig config = txn_config();
    config.request_timeout = 30s;
    config.delivery_timeout = 60s;
    TransactionalProducer& producer = cluster.make_transactional_producer(config);
    sim::Future<SendOutcome> future;
    TxnResult abort = TxnResult::fatal;
    bool aborted = false;
    cluster.client().spawn("app", [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        future = producer.send(txn_topic, std::nullopt, "v");
        sim::sleep(1s);
        abort = producer.abort_transaction();
        aborted = true;
    });
    cluster.run_for(2s);
    ASSERT_EQ(cluster.script.received_of<ProduceRequest>().size(), 1U);
    EXPECT_FALSE(aborted);
    cluster.answer(cluster.script.received_of<ProduceRequest>()[0]->index,
                   protocol::ProduceResponse{.partitions = {{tp0, ErrorCode::out_of_order_sequence_number, Offset(-1), Offset(-1)}}});
    ASSERT_TRUE(cluster.run_until([&] { return aborted; }));
    EXPECT_EQ(abort, TxnResult::ok);
    EXPECT_EQ(future.get()->status, SendOutcome::Status::failed);
    const std::vector<std::string> requests = txn_requests(cluster.script);
    ASSERT_GE(requests.size(), 2U);
    EXPECT_EQ(requests[requests.size() - 2], "EndTxn(abort)");
    EXPECT_EQ(requests.back(), "InitProducerId");
    EXPECT_EQ(producer.producer_epoch(), protocol::ProducerEpoch(1));
    EXPECT_FALSE(producer.in_transaction());
}

// A batch that expires in flight has an unknown outcome: the transaction is abortable, and after the
// abort (a version 1 coordinator) the producer bumps its epoch with its current id and epoch (KIP-360)
// and numbers its batches from 0 again.
TEST(TransactionManagerTest, testBumpEpochAfterTimeoutWithoutPendingInflightRequestsLike) {
    ScriptedCluster cluster(107);
    script_version1(cluster.script);
    cluster.script.on_produce = [&cluster](const ProduceRequest& request, const Received&) {
        return request.partitions.at(0).batch.producer_epoch == protocol::ProducerEpoch(0)
                   ? Reply::never()
                   : cluster.script.append(request);
    };
    TransactionalProducerConfig config = txn_config();
    config.request_timeout = 500ms;
    config.delivery_timeout = 2s;
    TransactionalProducer& producer = cluster.make_transactional_producer(config);
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        EXPECT_EQ(producer.send(txn_topic, std::nullopt, "lost").wait()->status, SendOutcome::Status::unknown);
        EXPECT_EQ(producer.commit_transaction(), TxnResult::abortable);
        EXPECT_EQ(producer.abort_transaction(), TxnResult::ok);
        producer.begin_transaction();
        EXPECT_EQ(producer.send(txn_topic, std::nullopt, "next").wait()->status, SendOutcome::Status::ok);
        EXPECT_EQ(producer.commit_transaction(), TxnResult::ok);
    }));
    const auto inits = cluster.script.received_of<protocol::InitProducerIdRequest>();
    ASSERT_EQ(inits.size(), 2U);
    EXPECT_EQ(inits[1]->as<protocol::InitProducerIdRequest>().producer_id, txn_producer_id);
    EXPECT_EQ(inits[1]->as<protocol::InitProducerIdRequest>().producer_epoch, protocol::ProducerEpoch(0));
    const auto& batch = cluster.script.received_of<ProduceRequest>().back()->as<ProduceRequest>().partitions.at(0).batch;
    EXPECT_EQ(batch.producer_epoch, protocol::ProducerEpoch(1));
    EXPECT_EQ(batch.base_sequence, protocol::Sequence(0));
}

// UNKNOWN_PRODUCER_ID on a batch: the send fails, the transaction is abortable, and the epoch is bumped
// (a version 1 coordinator: by InitProducerId after the abort); sequences start again at 0.
TEST(TransactionManagerTest, testBumpEpochAndResetSequenceNumbersAfterUnknownProducerId) {
    ScriptedCluster cluster(108);
    script_version1(cluster.script);
    cluster.script.on_produce = [&cluster](const ProduceRequest& request, const Received&) {
        return request.partitions.at(0).batch.producer_epoch == protocol::ProducerEpoch(0) &&
                       request.partitions.at(0).batch.base_sequence == protocol::Sequence(1)
                   ? produce_error(request, ErrorCode::unknown_producer_id)
                   : cluster.script.append(request);
    };
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        EXPECT_EQ(producer.send(txn_topic, std::nullopt, "a").wait()->status, SendOutcome::Status::ok);
        EXPECT_EQ(producer.send(txn_topic, std::nullopt, "b").wait()->status, SendOutcome::Status::failed);
        EXPECT_EQ(producer.commit_transaction(), TxnResult::abortable);
        EXPECT_EQ(producer.abort_transaction(), TxnResult::ok);
        producer.begin_transaction();
        EXPECT_EQ(producer.send(txn_topic, std::nullopt, "c").wait()->status, SendOutcome::Status::ok);
        EXPECT_EQ(producer.commit_transaction(), TxnResult::ok);
    }));
    std::vector<std::pair<std::int16_t, std::int32_t>> batches;
    for (const Received* received : cluster.script.received_of<ProduceRequest>()) {
        const auto& batch = received->as<ProduceRequest>().partitions.at(0).batch;
        batches.emplace_back(batch.producer_epoch.value(), batch.base_sequence.value());
    }
    EXPECT_EQ(batches, (std::vector<std::pair<std::int16_t, std::int32_t>>{{0, 0}, {0, 1}, {1, 0}}));
}

// A batch that expires before it could be sent (no leader): failed, not unknown; abortable, no bump.
TEST(TransactionManagerTest, testTransitionToAbortableErrorOnBatchExpiry) {
    ScriptedCluster cluster(109);
    script_version1(cluster.script);
    cluster.script.metadata.partitions.at(0).leader = protocol::no_broker;
    ++cluster.script.metadata.version;
    TransactionalProducerConfig config = txn_config();
    config.delivery_timeout = 2s;
    TransactionalProducer& producer = cluster.make_transactional_producer(config);
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        const SendOutcome outcome = *producer.send(txn_topic, std::nullopt, "v").wait();
        EXPECT_EQ(outcome.status, SendOutcome::Status::failed);
        EXPECT_EQ(producer.commit_transaction(), TxnResult::abortable);
        EXPECT_EQ(producer.abort_transaction(), TxnResult::ok);
    }));
    EXPECT_TRUE(cluster.script.received_of<ProduceRequest>().empty());
    EXPECT_EQ(cluster.script.received_of<protocol::InitProducerIdRequest>().size(), 1U) << "nothing to bump";
    EXPECT_EQ(txn_requests(cluster.script).back(), "EndTxn(abort)");
}

// EndTxn without an answer is retried until max.block: the commit times out (its outcome unknown,
// recorded info); committing again resends it, and a coordinator that had completed it answers NONE.
TEST(TransactionManagerTest, testRetryCommitTransactionAfterTimeoutLike) {
    ScriptedCluster cluster(110);
    bool answering = false;
    cluster.script.on_end_txn = [&answering](const protocol::EndTxnRequest& request, const Received&) {
        return answering ? end_txn_answer(ErrorCode::none, request.producer_id,
                                          static_cast<std::int16_t>(request.producer_epoch.value() + 1))
                         : Reply::never();
    };
    TransactionalProducerConfig config = txn_config();
    config.max_block = 3s;
    TransactionalProducer& producer = cluster.make_transactional_producer(config);
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        (void)producer.send(txn_topic, std::nullopt, "v").wait();
        EXPECT_EQ(producer.commit_transaction(), TxnResult::timed_out);
        EXPECT_TRUE(producer.in_transaction());
        answering = true;
        EXPECT_EQ(producer.commit_transaction(), TxnResult::ok);
    }));
    const auto commits = ops_of(cluster.history, "commit");
    ASSERT_EQ(commits.size(), 4U);
    EXPECT_EQ(commits[1].type, Type::info);
    EXPECT_EQ(commits[1].error, "timed_out");
    EXPECT_EQ(commits[3].type, Type::ok);
    EXPECT_EQ(producer.producer_epoch(), protocol::ProducerEpoch(1));
}

}  // namespace
}  // namespace eosim::client_core::testing
