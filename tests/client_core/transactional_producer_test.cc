// The transactional producer against scripted brokers: coordinator discovery, InitProducerId, the
// partitions it adds, the batches it writes, EndTxn and the epochs it uses, and its history
// (docs/transactions.md, "Producer").

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

const protocol::TopicPartition p0{txn_topic, 0};
const protocol::TopicPartition p1{txn_topic, 1};

// ---- init_transactions -----------------------------------------------------------------------------

TEST(TransactionalProducerInit, FindsTheCoordinatorAndGetsAnId) {
    ScriptedCluster cluster(1, 2);
    cluster.script.on_find_coordinator = [](const protocol::FindCoordinatorRequest&, const Received&) {
        return Reply::answer(protocol::FindCoordinatorResponse{ErrorCode::none, BrokerId(2)});
    };
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    TxnResult result = TxnResult::fatal;
    ASSERT_TRUE(run_app(cluster, [&] { result = producer.init_transactions(); }));
    EXPECT_EQ(result, TxnResult::ok);
    EXPECT_EQ(producer.producer_id(), txn_producer_id);
    EXPECT_EQ(producer.producer_epoch(), protocol::ProducerEpoch(0));

    const auto finds = cluster.script.received_of<protocol::FindCoordinatorRequest>();
    ASSERT_EQ(finds.size(), 1U);
    EXPECT_EQ(finds[0]->as<protocol::FindCoordinatorRequest>().key, "tx");
    EXPECT_EQ(finds[0]->as<protocol::FindCoordinatorRequest>().key_type, protocol::CoordinatorType::transaction);
    const auto inits = cluster.script.received_of<protocol::InitProducerIdRequest>();
    ASSERT_EQ(inits.size(), 1U);
    EXPECT_EQ(inits[0]->broker, BrokerId(2)) << "InitProducerId goes to the coordinator";
    const auto& init = inits[0]->as<protocol::InitProducerIdRequest>();
    EXPECT_EQ(init.transactional_id, "tx");
    EXPECT_EQ(init.transaction_timeout_ms, 10'000);
    EXPECT_EQ(init.producer_id, protocol::no_producer_id);
    EXPECT_EQ(init.producer_epoch, protocol::no_producer_epoch);

    const auto ops = ops_of(cluster.history, "init-txn");
    ASSERT_EQ(ops.size(), 2U);
    EXPECT_EQ(ops[0].type, Type::invoke);
    EXPECT_EQ(ops[0].transactional_id, "tx");
    EXPECT_EQ(ops[0].timeout_ms, 10'000);
    EXPECT_EQ(ops[1].type, Type::ok);
    EXPECT_EQ(ops[1].producer_id, 1000);
    EXPECT_EQ(ops[1].producer_epoch, 0);
}

TEST(TransactionalProducerInit, NotCoordinatorLeadsToANewFindCoordinator) {
    ScriptedCluster cluster(2, 2);
    int finds = 0;
    cluster.script.on_find_coordinator = [&finds](const protocol::FindCoordinatorRequest&, const Received&) {
        ++finds;
        return Reply::answer(protocol::FindCoordinatorResponse{ErrorCode::none, BrokerId(finds == 1 ? 1 : 2)});
    };
    cluster.script.on_init_producer_id = [](const Received& received) {
        return received.broker == BrokerId(1) ? init_answer(ErrorCode::not_coordinator) : init_answer(ErrorCode::none);
    };
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    TxnResult result = TxnResult::fatal;
    ASSERT_TRUE(run_app(cluster, [&] { result = producer.init_transactions(); }));
    EXPECT_EQ(result, TxnResult::ok);
    EXPECT_EQ(txn_requests(cluster.script),
              (std::vector<std::string>{"FindCoordinator", "InitProducerId", "FindCoordinator", "InitProducerId"}));
    EXPECT_EQ(cluster.script.received_of<protocol::InitProducerIdRequest>().back()->broker, BrokerId(2));
}

TEST(TransactionalProducerInit, ConcurrentTransactionsIsRetriedAfterTheBackoff) {
    ScriptedCluster cluster(3);
    int inits = 0;
    cluster.script.on_init_producer_id = [&inits](const Received&) {
        return ++inits <= 2 ? init_answer(ErrorCode::concurrent_transactions) : init_answer(ErrorCode::none);
    };
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    TxnResult result = TxnResult::fatal;
    ASSERT_TRUE(run_app(cluster, [&] { result = producer.init_transactions(); }));
    EXPECT_EQ(result, TxnResult::ok);
    EXPECT_EQ(txn_requests(cluster.script),
              (std::vector<std::string>{"FindCoordinator", "InitProducerId", "InitProducerId", "InitProducerId"}));
    const auto requests = cluster.script.received_of<protocol::InitProducerIdRequest>();
    EXPECT_GE(requests[1]->time - requests[0]->time, txn_config().retry_backoff);
}

TEST(TransactionalProducerInit, FencedIsFatalAndRecordedAsFail) {
    ScriptedCluster cluster(4);
    cluster.script.on_init_producer_id = [](const Received&) { return init_answer(ErrorCode::producer_fenced); };
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    TxnResult result = TxnResult::ok;
    ASSERT_TRUE(run_app(cluster, [&] { result = producer.init_transactions(); }));
    EXPECT_EQ(result, TxnResult::fatal);
    EXPECT_TRUE(producer.fatal());
    const auto failed = ops_of(cluster.history, "init-txn", Type::fail);
    ASSERT_EQ(failed.size(), 1U);
    EXPECT_EQ(failed[0].error, "PRODUCER_FENCED");
}

TEST(TransactionalProducerInit, NoAnswerUntilMaxBlockTimesOut) {
    ScriptedCluster cluster(5);
    cluster.script.on_init_producer_id = [](const Received&) { return Reply::never(); };
    TransactionalProducerConfig config = txn_config();
    config.max_block = 3s;
    TransactionalProducer& producer = cluster.make_transactional_producer(config);
    TxnResult result = TxnResult::ok;
    ASSERT_TRUE(run_app(cluster, [&] { result = producer.init_transactions(); }));
    EXPECT_EQ(result, TxnResult::timed_out);
    EXPECT_GE(cluster.script.received_of<protocol::InitProducerIdRequest>().size(), 2U) << "retried until max_block";
    EXPECT_EQ(ops_of(cluster.history, "init-txn", Type::info).size(), 1U);
}

// ---- Sends -----------------------------------------------------------------------------------------

TEST(TransactionalProducerSend, AddsEachPartitionOncePerTransactionBeforeItsFirstProduce) {
    ScriptedCluster cluster(6);
    cluster.script.set_leaders(txn_topic, {BrokerId(1), BrokerId(1)});
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    const std::string a = txn_key_for(0, 2);
    const std::string b = txn_key_for(1, 2);
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        for (int transaction = 0; transaction < 2; ++transaction) {
            producer.begin_transaction();
            for (int i = 0; i < 3; ++i) {
                (void)producer.send(txn_topic, a, "a" + std::to_string(i));
                (void)producer.send(txn_topic, b, "b" + std::to_string(i));
            }
            ASSERT_EQ(producer.commit_transaction(), TxnResult::ok);
        }
    }));
    // Per transaction: each partition is in exactly one AddPartitionsToTxn, which comes before its produces.
    std::map<protocol::TopicPartition, int> adds;
    std::map<protocol::TopicPartition, std::size_t> added_at;
    int transaction = 0;
    for (const Received& received : cluster.script.received()) {
        if (received.is<protocol::EndTxnRequest>()) {
            for (const auto& [partition, count] : adds) {
                EXPECT_EQ(count, 1) << partition.name() << " in transaction " << transaction;
            }
            EXPECT_EQ(adds.size(), 2U);
            adds.clear();
            added_at.clear();
            ++transaction;
        } else if (received.is<protocol::AddPartitionsToTxnRequest>()) {
            for (const auto& partition : received.as<protocol::AddPartitionsToTxnRequest>().partitions) {
                ++adds[partition];
                added_at[partition] = received.index;
            }
        } else if (received.is<ProduceRequest>()) {
            const auto& partition = received.as<ProduceRequest>().partitions.at(0).partition;
            EXPECT_TRUE(added_at.contains(partition)) << "a produce to " << partition.name() << " before its add";
        }
    }
    EXPECT_EQ(transaction, 2);
}

TEST(TransactionalProducerSend, BatchesAreTransactionalWithTheIdEpochAndSequencesPerPartition) {
    ScriptedCluster cluster(7);
    cluster.script.set_leaders(txn_topic, {BrokerId(1), BrokerId(1)});
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    const std::string a = txn_key_for(0, 2);
    const std::string b = txn_key_for(1, 2);
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        std::vector<sim::Future<SendOutcome>> futures;
        for (int i = 0; i < 3; ++i) {
            futures.push_back(producer.send(txn_topic, a, "a" + std::to_string(i)));
            futures.push_back(producer.send(txn_topic, b, "b" + std::to_string(i)));
        }
        ASSERT_EQ(producer.commit_transaction(), TxnResult::ok);
        for (const auto& future : futures) {
            EXPECT_EQ(future.get()->status, SendOutcome::Status::ok);
        }
    }));
    std::map<protocol::TopicPartition, std::vector<std::int32_t>> sequences;
    for (const Received* received : cluster.script.received_of<ProduceRequest>()) {
        const auto& request = received->as<ProduceRequest>();
        EXPECT_EQ(request.acks, -1);
        const auto& batch = request.partitions.at(0).batch;
        EXPECT_TRUE(batch.transactional);
        EXPECT_EQ(batch.producer_id, txn_producer_id);
        EXPECT_EQ(batch.producer_epoch, protocol::ProducerEpoch(0));
        sequences[request.partitions.at(0).partition].push_back(batch.base_sequence.value());
    }
    EXPECT_EQ(sequences[p0], (std::vector<std::int32_t>{0, 1, 2}));
    EXPECT_EQ(sequences[p1], (std::vector<std::int32_t>{0, 1, 2}));
}

// ---- Commit ----------------------------------------------------------------------------------------

TEST(TransactionalProducerCommit, WaitsForTheSendsThenSendsEndTxnCommit) {
    ScriptedCluster cluster(8);
    cluster.script.on_produce = [](const ProduceRequest&, const Received&) { return Reply::hold(); };
    TransactionalProducerConfig config = txn_config();
    config.request_timeout = 30s;
    config.delivery_timeout = 60s;
    TransactionalProducer& producer = cluster.make_transactional_producer(config);
    TxnResult result = TxnResult::fatal;
    bool committed = false;
    cluster.client().spawn("app", [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        (void)producer.send(txn_topic, std::nullopt, "v0");
        result = producer.commit_transaction();
        committed = true;
    });
    cluster.run_for(2s);
    ASSERT_EQ(cluster.script.received_of<ProduceRequest>().size(), 1U);
    EXPECT_TRUE(cluster.script.received_of<protocol::EndTxnRequest>().empty()) << "EndTxn before the send completed";
    EXPECT_FALSE(committed);
    const Received& produce = *cluster.script.received_of<ProduceRequest>()[0];
    cluster.answer(produce.index, protocol::ProduceResponse{.partitions = {{p0, ErrorCode::none, Offset(7), Offset(0)}}});
    ASSERT_TRUE(cluster.run_until([&] { return committed; }));
    EXPECT_EQ(result, TxnResult::ok);
    const auto ends = cluster.script.received_of<protocol::EndTxnRequest>();
    ASSERT_EQ(ends.size(), 1U);
    const auto& end = ends[0]->as<protocol::EndTxnRequest>();
    EXPECT_TRUE(end.committed);
    EXPECT_EQ(end.transactional_id, "tx");
    EXPECT_EQ(end.producer_id, txn_producer_id);
    EXPECT_EQ(end.producer_epoch, protocol::ProducerEpoch(0));
    EXPECT_FALSE(producer.in_transaction());

    const auto commits = ops_of(cluster.history, "commit");
    ASSERT_EQ(commits.size(), 2U);
    EXPECT_EQ(commits[0].type, Type::invoke);
    EXPECT_EQ(commits[1].type, Type::ok);
    EXPECT_EQ(commits[1].txn, "c-t1");
    const auto sent = ops_of(cluster.history, "send", Type::ok);
    ASSERT_EQ(sent.size(), 1U);
    EXPECT_EQ(sent[0].offset, 7);
}

TEST(TransactionalProducerCommit, TheEpochFromEndTxnIsUsedNextAndSequencesRestartAtZero) {
    ScriptedCluster cluster(9);
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        for (int transaction = 0; transaction < 2; ++transaction) {
            producer.begin_transaction();
            (void)producer.send(txn_topic, std::nullopt, "x");
            (void)producer.send(txn_topic, std::nullopt, "y");
            ASSERT_EQ(producer.commit_transaction(), TxnResult::ok);
        }
    }));
    std::vector<std::pair<std::int16_t, std::int32_t>> batches;
    for (const Received* received : cluster.script.received_of<ProduceRequest>()) {
        const auto& batch = received->as<ProduceRequest>().partitions.at(0).batch;
        batches.emplace_back(batch.producer_epoch.value(), batch.base_sequence.value());
    }
    EXPECT_EQ(batches, (std::vector<std::pair<std::int16_t, std::int32_t>>{{0, 0}, {0, 1}, {1, 0}, {1, 1}}));
    EXPECT_EQ(producer.producer_epoch(), protocol::ProducerEpoch(2));
    const auto ends = cluster.script.received_of<protocol::EndTxnRequest>();
    ASSERT_EQ(ends.size(), 2U);
    EXPECT_EQ(ends[1]->as<protocol::EndTxnRequest>().producer_epoch, protocol::ProducerEpoch(1));
}

TEST(TransactionalProducerCommit, AFailedSendMakesCommitAbortableWithoutEndTxnThenAbortEndsIt) {
    ScriptedCluster cluster(10);
    cluster.script.on_produce = [](const ProduceRequest& request, const Received&) {
        return produce_error(request, ErrorCode::message_too_large);
    };
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    TxnResult commit = TxnResult::ok;
    TxnResult abort = TxnResult::fatal;
    SendOutcome outcome;
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        const sim::Future<SendOutcome> future = producer.send(txn_topic, std::nullopt, "v0");
        commit = producer.commit_transaction();
        outcome = *future.get();
        EXPECT_TRUE(cluster.script.received_of<protocol::EndTxnRequest>().empty());
        abort = producer.abort_transaction();
    }));
    EXPECT_EQ(outcome.status, SendOutcome::Status::failed);
    EXPECT_EQ(commit, TxnResult::abortable);
    EXPECT_EQ(abort, TxnResult::ok);
    EXPECT_EQ(txn_requests(cluster.script),
              (std::vector<std::string>{"FindCoordinator", "InitProducerId", "AddPartitionsToTxn", "Produce",
                                        "EndTxn(abort)"}));
    const auto commits = ops_of(cluster.history, "commit", Type::fail);
    ASSERT_EQ(commits.size(), 1U);
    EXPECT_EQ(commits[0].error, "abortable");
    EXPECT_EQ(ops_of(cluster.history, "abort", Type::ok).size(), 1U);
    const auto failed = ops_of(cluster.history, "send", Type::fail);
    ASSERT_EQ(failed.size(), 1U);
    EXPECT_EQ(failed[0].error, "MESSAGE_TOO_LARGE");
}

TEST(TransactionalProducerCommit, AnEmptyTransactionNeedsNoEndTxn) {
    ScriptedCluster cluster(11);
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        EXPECT_EQ(producer.commit_transaction(), TxnResult::ok);
        producer.begin_transaction();
        EXPECT_EQ(producer.abort_transaction(), TxnResult::ok);
    }));
    EXPECT_TRUE(cluster.script.received_of<protocol::EndTxnRequest>().empty());
    EXPECT_EQ(ops_of(cluster.history, "commit", Type::ok).size(), 1U);
    EXPECT_EQ(ops_of(cluster.history, "abort", Type::ok).size(), 1U);
}

// ---- Abort -----------------------------------------------------------------------------------------

TEST(TransactionalProducerAbort, QueuedSendsFailAtOnceInFlightOnesFinishThenEndTxnAbort) {
    ScriptedCluster cluster(17);
    cluster.script.on_produce = [](const ProduceRequest&, const Received&) { return Reply::hold(); };
    TransactionalProducerConfig config = txn_config();
    config.request_timeout = 30s;
    config.delivery_timeout = 60s;
    TransactionalProducer& producer = cluster.make_transactional_producer(config);
    std::vector<sim::Future<SendOutcome>> futures;
    TxnResult result = TxnResult::fatal;
    bool aborted = false;
    cluster.client().spawn("app", [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        futures.push_back(producer.send(txn_topic, std::nullopt, "v0"));
        sim::sleep(1s);  // v0 is in flight; v1 waits behind it (one batch of a partition at a time)
        futures.push_back(producer.send(txn_topic, std::nullopt, "v1"));
        result = producer.abort_transaction();
        aborted = true;
    });
    cluster.run_for(3s);
    ASSERT_EQ(futures.size(), 2U);
    ASSERT_TRUE(futures[1].ready());
    EXPECT_EQ(futures[1].get()->status, SendOutcome::Status::failed);
    EXPECT_EQ(futures[1].get()->error, ErrorCode::transaction_abortable);
    EXPECT_FALSE(futures[0].ready());
    EXPECT_FALSE(aborted) << "the abort waits for the send in flight";
    EXPECT_TRUE(cluster.script.received_of<protocol::EndTxnRequest>().empty());
    const Received& produce = *cluster.script.received_of<ProduceRequest>().at(0);
    cluster.answer(produce.index, protocol::ProduceResponse{.partitions = {{p0, ErrorCode::none, Offset(0), Offset(0)}}});
    ASSERT_TRUE(cluster.run_until([&] { return aborted; }));
    EXPECT_EQ(result, TxnResult::ok);
    EXPECT_EQ(futures[0].get()->status, SendOutcome::Status::ok);
    EXPECT_EQ(cluster.script.received_of<ProduceRequest>().size(), 1U);
    EXPECT_EQ(txn_requests(cluster.script).back(), "EndTxn(abort)");
}

// ---- Unknown outcomes and epoch bumps --------------------------------------------------------------

TransactionalProducerConfig short_delivery() {
    TransactionalProducerConfig config = txn_config();
    config.request_timeout = 500ms;
    config.delivery_timeout = 2s;
    return config;
}

TEST(TransactionalProducerUnknown, ASendTimingOutIsInfoAndMakesTheTransactionAbortable) {
    ScriptedCluster cluster(12);
    cluster.script.on_produce = [](const ProduceRequest&, const Received&) { return Reply::never(); };
    TransactionalProducer& producer = cluster.make_transactional_producer(short_delivery());
    SendOutcome outcome;
    TxnResult commit = TxnResult::ok;
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        const sim::Future<SendOutcome> future = producer.send(txn_topic, std::nullopt, "v0");
        outcome = *future.wait();
        // A later send into the doomed transaction fails at once.
        const sim::Future<SendOutcome> later = producer.send(txn_topic, std::nullopt, "v1");
        EXPECT_TRUE(later.ready());
        commit = producer.commit_transaction();
        EXPECT_EQ(producer.abort_transaction(), TxnResult::ok);
    }));
    EXPECT_EQ(outcome.status, SendOutcome::Status::unknown);
    EXPECT_EQ(commit, TxnResult::abortable);
    const auto info = ops_of(cluster.history, "send", Type::info);
    ASSERT_EQ(info.size(), 1U);
    EXPECT_EQ(info[0].value, "v0");
    EXPECT_EQ(info[0].txn, "c-t1");
    EXPECT_GE(info[0].attempts.value_or(0), 2);
    EXPECT_EQ(ops_of(cluster.history, "send", Type::fail).size(), 1U);
    // Version 2 bumped the epoch in EndTxn: no InitProducerId after the abort.
    EXPECT_EQ(cluster.script.received_of<protocol::InitProducerIdRequest>().size(), 1U);
}

TEST(TransactionalProducerUnknown, AVersion1CoordinatorGetsAnInitProducerIdBumpBeforeTheNextTransaction) {
    ScriptedCluster cluster(13);
    // Batches of the first epoch are never answered; those of the bumped one are written.
    cluster.script.on_produce = [&](const ProduceRequest& request, const Received&) {
        return request.partitions.at(0).batch.producer_epoch == protocol::ProducerEpoch(0) ? Reply::never()
                                                                                           : cluster.script.append(request);
    };
    cluster.script.on_end_txn = [](const protocol::EndTxnRequest& request, const Received&) {
        return end_txn_answer(ErrorCode::none, request.producer_id, request.producer_epoch.value());  // version 1
    };
    cluster.script.on_init_producer_id = [](const Received& received) {
        const auto& request = received.as<protocol::InitProducerIdRequest>();
        return init_answer(ErrorCode::none,
                           request.producer_epoch == protocol::no_producer_epoch
                               ? std::int16_t{0}
                               : static_cast<std::int16_t>(request.producer_epoch.value() + 1));
    };
    TransactionalProducer& producer = cluster.make_transactional_producer(short_delivery());
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        EXPECT_EQ(producer.send(txn_topic, std::nullopt, "v0").wait()->status, SendOutcome::Status::unknown);
        EXPECT_EQ(producer.abort_transaction(), TxnResult::ok);
        producer.begin_transaction();
        EXPECT_EQ(producer.send(txn_topic, std::nullopt, "v1").wait()->status, SendOutcome::Status::ok);
        EXPECT_EQ(producer.commit_transaction(), TxnResult::ok);
    }));
    const auto inits = cluster.script.received_of<protocol::InitProducerIdRequest>();
    ASSERT_EQ(inits.size(), 2U);
    EXPECT_EQ(inits[1]->as<protocol::InitProducerIdRequest>().producer_id, txn_producer_id);
    EXPECT_EQ(inits[1]->as<protocol::InitProducerIdRequest>().producer_epoch, protocol::ProducerEpoch(0));
    const std::vector<std::string> requests = txn_requests(cluster.script);
    const auto abort = std::find(requests.begin(), requests.end(), "EndTxn(abort)");
    ASSERT_NE(abort, requests.end());
    EXPECT_EQ(*(abort + 1), "InitProducerId") << "the bump right after the abort";
    const auto& last = cluster.script.received_of<ProduceRequest>().back()->as<ProduceRequest>().partitions.at(0).batch;
    EXPECT_EQ(last.producer_epoch, protocol::ProducerEpoch(1));
    EXPECT_EQ(last.base_sequence, protocol::Sequence(0));
    const auto begins = ops_of(cluster.history, "begin");
    ASSERT_EQ(begins.size(), 2U);
    EXPECT_EQ(begins[1].producer_epoch, 1);
    EXPECT_EQ(begins[1].txn, "c-t2");
}

// ---- Fencing ---------------------------------------------------------------------------------------

TEST(TransactionalProducerFenced, FencedOnEndTxnIsFatalTheCommitIsInfoAndLaterCallsAreFatal) {
    ScriptedCluster cluster(14);
    cluster.script.on_end_txn = [](const protocol::EndTxnRequest& request, const Received&) {
        return end_txn_answer(ErrorCode::producer_fenced, request.producer_id, -1);
    };
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        (void)producer.send(txn_topic, std::nullopt, "v0");
        EXPECT_EQ(producer.commit_transaction(), TxnResult::fatal);
        EXPECT_TRUE(producer.fatal());
        const sim::Future<SendOutcome> later = producer.send(txn_topic, std::nullopt, "v1");
        ASSERT_TRUE(later.ready());
        EXPECT_EQ(later.get()->status, SendOutcome::Status::failed);
        EXPECT_EQ(producer.commit_transaction(), TxnResult::fatal);
        EXPECT_EQ(producer.abort_transaction(), TxnResult::fatal);
        EXPECT_EQ(producer.init_transactions(), TxnResult::fatal);
    }));
    EXPECT_EQ(cluster.script.received_of<protocol::EndTxnRequest>().size(), 1U);
    const auto commits = ops_of(cluster.history, "commit");
    ASSERT_GE(commits.size(), 2U);
    EXPECT_EQ(commits[1].type, Type::info);
    EXPECT_EQ(commits[1].error, "PRODUCER_FENCED");
}

TEST(TransactionalProducerFenced, FencedOnProduceFailsTheSendAndTheProducer) {
    ScriptedCluster cluster(15);
    cluster.script.on_produce = [](const ProduceRequest& request, const Received&) {
        return produce_error(request, ErrorCode::producer_fenced);
    };
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        EXPECT_EQ(producer.send(txn_topic, std::nullopt, "v0").wait()->status, SendOutcome::Status::failed);
        EXPECT_EQ(producer.commit_transaction(), TxnResult::fatal);
    }));
    EXPECT_TRUE(producer.fatal());
    EXPECT_TRUE(cluster.script.received_of<protocol::EndTxnRequest>().empty());
}

// ---- History ---------------------------------------------------------------------------------------

TEST(TransactionalProducerHistory, OperationsCarryTheTransactionLabelIdAndEpoch) {
    ScriptedCluster cluster(16);
    TransactionalProducer& producer = cluster.make_transactional_producer(txn_config());
    ASSERT_TRUE(run_app(cluster, [&] {
        ASSERT_EQ(producer.init_transactions(), TxnResult::ok);
        producer.begin_transaction();
        (void)producer.send(txn_topic, "k", "v0").wait();
        ASSERT_EQ(producer.commit_transaction(), TxnResult::ok);
        producer.begin_transaction();
        (void)producer.send(txn_topic, std::nullopt, "v1").wait();
        ASSERT_EQ(producer.abort_transaction(), TxnResult::ok);
    }));
    std::vector<std::string> steps;
    for (const ClientOperation& op : cluster.history.operations()) {
        steps.push_back(op.f + ":" + std::string(op.type == Type::invoke ? "invoke" : op.type == Type::ok ? "ok" : "other"));
        EXPECT_EQ(op.process, "c");
        EXPECT_EQ(op.transactional_id, "tx");
        if (op.f != "init-txn") {
            EXPECT_TRUE(op.txn.has_value()) << op.f;
            EXPECT_EQ(op.producer_id, 1000) << op.f;
        }
    }
    EXPECT_EQ(steps, (std::vector<std::string>{"init-txn:invoke", "init-txn:ok", "begin:ok", "send:invoke", "send:ok",
                                               "commit:invoke", "commit:ok", "begin:ok", "send:invoke", "send:ok",
                                               "abort:invoke", "abort:ok"}));
    const auto sends = ops_of(cluster.history, "send", Type::ok);
    ASSERT_EQ(sends.size(), 2U);
    EXPECT_EQ(sends[0].txn, "c-t1");
    EXPECT_EQ(sends[0].key, "k");
    EXPECT_EQ(sends[0].acks, "all");
    EXPECT_EQ(sends[0].partition, "t-0");
    EXPECT_EQ(sends[0].attempts, 1);
    EXPECT_EQ(sends[0].producer_epoch, 0);
    EXPECT_EQ(sends[1].txn, "c-t2");
    EXPECT_EQ(sends[1].producer_epoch, 1) << "the epoch the first EndTxn returned";
    EXPECT_EQ(ops_of(cluster.history, "abort", Type::ok)[0].txn, "c-t2");
}

}  // namespace
}  // namespace eosim::client_core::testing
