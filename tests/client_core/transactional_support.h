#pragma once

// Helpers for the transactional producer's tests against scripted brokers (transactional_producer_test.cc
// and tests/conformance/transaction_manager_test.cc).

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/partitioner.h"
#include "tests/client_core/scripted_broker.h"

namespace eosim::client_core::testing {

inline constexpr protocol::ProducerId txn_producer_id{1000};  // the scripted InitProducerId's answer
inline const std::string txn_topic = "t";

inline TransactionalProducerConfig txn_config() {
    TransactionalProducerConfig config;
    config.client_id = "c";
    config.transactional_id = "tx";
    config.batch_records_max = 1;
    return config;
}

// A key that Kafka's partitioner puts in `target` of `partitions`.
inline std::string txn_key_for(std::int32_t target, std::int32_t partitions) {
    for (int i = 0;; ++i) {
        const std::string key = "k" + std::to_string(i);
        if (protocol::kafka_partition(key, partitions) == target) {
            return key;
        }
    }
}

// Runs `body` in a fiber of the client node until it returns (false and a test failure if it does not
// within `limit` of simulated time).
inline bool run_app(ScriptedCluster& cluster, const std::function<void()>& body,
                    sim::Duration limit = std::chrono::seconds(120)) {
    bool done = false;
    cluster.client().spawn("app", [&done, body] {
        body();
        done = true;
    });
    return cluster.run_until([&done] { return done; }, limit);
}

// The history's operations of function `f` (all of them, or of one type).
inline std::vector<ClientOperation> ops_of(const HistoryRecorder& history, const std::string& f) {
    std::vector<ClientOperation> out;
    for (const ClientOperation& operation : history.operations()) {
        if (operation.f == f) {
            out.push_back(operation);
        }
    }
    return out;
}

inline std::vector<ClientOperation> ops_of(const HistoryRecorder& history, const std::string& f,
                                           ClientOperation::Type type) {
    std::vector<ClientOperation> out;
    for (const ClientOperation& operation : ops_of(history, f)) {
        if (operation.type == type) {
            out.push_back(operation);
        }
    }
    return out;
}

// The type names of the requests the brokers received, in order, for the transaction's kinds only.
inline std::vector<std::string> txn_requests(const Script& script) {
    std::vector<std::string> out;
    for (const Received& received : script.received()) {
        if (received.is<protocol::FindCoordinatorRequest>()) {
            out.emplace_back("FindCoordinator");
        } else if (received.is<protocol::InitProducerIdRequest>()) {
            out.emplace_back("InitProducerId");
        } else if (received.is<protocol::AddPartitionsToTxnRequest>()) {
            out.emplace_back("AddPartitionsToTxn");
        } else if (received.is<protocol::ProduceRequest>()) {
            out.emplace_back("Produce");
        } else if (received.is<protocol::EndTxnRequest>()) {
            out.emplace_back(received.as<protocol::EndTxnRequest>().committed ? "EndTxn(commit)" : "EndTxn(abort)");
        }
    }
    return out;
}

inline Reply produce_error(const protocol::ProduceRequest& request, protocol::ErrorCode error) {
    protocol::ProduceResponse response;
    for (const protocol::ProducePartition& data : request.partitions) {
        response.partitions.push_back(
            protocol::ProducePartitionResponse{data.partition, error, protocol::Offset(-1), protocol::Offset(-1)});
    }
    return Reply::answer(response);
}

inline Reply end_txn_answer(protocol::ErrorCode error, protocol::ProducerId id, std::int16_t epoch) {
    return Reply::answer(protocol::EndTxnResponse{error, id, protocol::ProducerEpoch(epoch)});
}

inline Reply init_answer(protocol::ErrorCode error, std::int16_t epoch = 0) {
    return Reply::answer(protocol::InitProducerIdResponse{error, txn_producer_id, protocol::ProducerEpoch(epoch)});
}

}  // namespace eosim::client_core::testing
