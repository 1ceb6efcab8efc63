#pragma once

#include <cstdint>
#include <string_view>

namespace eosim::protocol {

// Kafka's wire error codes, with Kafka's numbers, for the requests eosim simulates. Inside brokers
// and clients errors are these values; they never cross into sim/.
enum class ErrorCode : std::int16_t {
    unknown_server_error = -1,
    none = 0,
    offset_out_of_range = 1,
    corrupt_message = 2,
    unknown_topic_or_partition = 3,
    leader_not_available = 5,
    not_leader_or_follower = 6,
    request_timed_out = 7,
    broker_not_available = 8,
    replica_not_available = 9,
    message_too_large = 10,
    stale_controller_epoch = 11,
    network_exception = 13,
    coordinator_load_in_progress = 14,
    coordinator_not_available = 15,
    not_coordinator = 16,
    invalid_topic_exception = 17,
    not_enough_replicas = 19,
    not_enough_replicas_after_append = 20,
    invalid_required_acks = 21,
    illegal_generation = 22,
    inconsistent_group_protocol = 23,
    unknown_member_id = 25,
    invalid_session_timeout = 26,
    rebalance_in_progress = 27,
    topic_already_exists = 36,
    invalid_partitions = 37,
    invalid_replication_factor = 38,
    invalid_config = 40,
    invalid_request = 42,
    policy_violation = 44,
    out_of_order_sequence_number = 45,
    duplicate_sequence_number = 46,
    invalid_producer_epoch = 47,
    invalid_txn_state = 48,
    invalid_producer_id_mapping = 49,
    invalid_transaction_timeout = 50,
    concurrent_transactions = 51,
    transaction_coordinator_fenced = 52,
    kafka_storage_error = 56,
    non_empty_group = 68,
    group_id_not_found = 69,
    unknown_producer_id = 59,
    fetch_session_id_not_found = 70,
    invalid_fetch_session_epoch = 71,
    fenced_leader_epoch = 74,
    unknown_leader_epoch = 75,
    stale_broker_epoch = 77,
    offset_not_available = 78,
    member_id_required = 79,
    group_max_size_reached = 81,
    unstable_offset_commit = 88,
    producer_fenced = 90,
    invalid_update_version = 95,
    ineligible_replica = 107,
    transaction_abortable = 120,
};

// Kafka's name for the code, e.g. "NOT_LEADER_OR_FOLLOWER".
constexpr std::string_view error_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::unknown_server_error: return "UNKNOWN_SERVER_ERROR";
        case ErrorCode::none: return "NONE";
        case ErrorCode::offset_out_of_range: return "OFFSET_OUT_OF_RANGE";
        case ErrorCode::corrupt_message: return "CORRUPT_MESSAGE";
        case ErrorCode::unknown_topic_or_partition: return "UNKNOWN_TOPIC_OR_PARTITION";
        case ErrorCode::leader_not_available: return "LEADER_NOT_AVAILABLE";
        case ErrorCode::not_leader_or_follower: return "NOT_LEADER_OR_FOLLOWER";
        case ErrorCode::request_timed_out: return "REQUEST_TIMED_OUT";
        case ErrorCode::broker_not_available: return "BROKER_NOT_AVAILABLE";
        case ErrorCode::replica_not_available: return "REPLICA_NOT_AVAILABLE";
        case ErrorCode::message_too_large: return "MESSAGE_TOO_LARGE";
        case ErrorCode::stale_controller_epoch: return "STALE_CONTROLLER_EPOCH";
        case ErrorCode::network_exception: return "NETWORK_EXCEPTION";
        case ErrorCode::coordinator_load_in_progress: return "COORDINATOR_LOAD_IN_PROGRESS";
        case ErrorCode::coordinator_not_available: return "COORDINATOR_NOT_AVAILABLE";
        case ErrorCode::not_coordinator: return "NOT_COORDINATOR";
        case ErrorCode::invalid_topic_exception: return "INVALID_TOPIC_EXCEPTION";
        case ErrorCode::not_enough_replicas: return "NOT_ENOUGH_REPLICAS";
        case ErrorCode::not_enough_replicas_after_append: return "NOT_ENOUGH_REPLICAS_AFTER_APPEND";
        case ErrorCode::invalid_required_acks: return "INVALID_REQUIRED_ACKS";
        case ErrorCode::illegal_generation: return "ILLEGAL_GENERATION";
        case ErrorCode::inconsistent_group_protocol: return "INCONSISTENT_GROUP_PROTOCOL";
        case ErrorCode::unknown_member_id: return "UNKNOWN_MEMBER_ID";
        case ErrorCode::invalid_session_timeout: return "INVALID_SESSION_TIMEOUT";
        case ErrorCode::rebalance_in_progress: return "REBALANCE_IN_PROGRESS";
        case ErrorCode::topic_already_exists: return "TOPIC_ALREADY_EXISTS";
        case ErrorCode::invalid_partitions: return "INVALID_PARTITIONS";
        case ErrorCode::invalid_replication_factor: return "INVALID_REPLICATION_FACTOR";
        case ErrorCode::invalid_config: return "INVALID_CONFIG";
        case ErrorCode::invalid_request: return "INVALID_REQUEST";
        case ErrorCode::policy_violation: return "POLICY_VIOLATION";
        case ErrorCode::out_of_order_sequence_number: return "OUT_OF_ORDER_SEQUENCE_NUMBER";
        case ErrorCode::duplicate_sequence_number: return "DUPLICATE_SEQUENCE_NUMBER";
        case ErrorCode::invalid_producer_epoch: return "INVALID_PRODUCER_EPOCH";
        case ErrorCode::invalid_txn_state: return "INVALID_TXN_STATE";
        case ErrorCode::invalid_producer_id_mapping: return "INVALID_PRODUCER_ID_MAPPING";
        case ErrorCode::invalid_transaction_timeout: return "INVALID_TRANSACTION_TIMEOUT";
        case ErrorCode::concurrent_transactions: return "CONCURRENT_TRANSACTIONS";
        case ErrorCode::transaction_coordinator_fenced: return "TRANSACTION_COORDINATOR_FENCED";
        case ErrorCode::kafka_storage_error: return "KAFKA_STORAGE_ERROR";
        case ErrorCode::non_empty_group: return "NON_EMPTY_GROUP";
        case ErrorCode::group_id_not_found: return "GROUP_ID_NOT_FOUND";
        case ErrorCode::unknown_producer_id: return "UNKNOWN_PRODUCER_ID";
        case ErrorCode::fetch_session_id_not_found: return "FETCH_SESSION_ID_NOT_FOUND";
        case ErrorCode::invalid_fetch_session_epoch: return "INVALID_FETCH_SESSION_EPOCH";
        case ErrorCode::fenced_leader_epoch: return "FENCED_LEADER_EPOCH";
        case ErrorCode::unknown_leader_epoch: return "UNKNOWN_LEADER_EPOCH";
        case ErrorCode::stale_broker_epoch: return "STALE_BROKER_EPOCH";
        case ErrorCode::offset_not_available: return "OFFSET_NOT_AVAILABLE";
        case ErrorCode::member_id_required: return "MEMBER_ID_REQUIRED";
        case ErrorCode::group_max_size_reached: return "GROUP_MAX_SIZE_REACHED";
        case ErrorCode::unstable_offset_commit: return "UNSTABLE_OFFSET_COMMIT";
        case ErrorCode::producer_fenced: return "PRODUCER_FENCED";
        case ErrorCode::invalid_update_version: return "INVALID_UPDATE_VERSION";
        case ErrorCode::ineligible_replica: return "INELIGIBLE_REPLICA";
        case ErrorCode::transaction_abortable: return "TRANSACTION_ABORTABLE";
    }
    return "UNKNOWN_SERVER_ERROR";
}

// Whether a client may retry the request that got this error (Kafka's RetriableException). Of the
// transaction errors only CONCURRENT_TRANSACTIONS is; PRODUCER_FENCED, INVALID_TXN_STATE,
// INVALID_PRODUCER_ID_MAPPING, TRANSACTION_COORDINATOR_FENCED and TRANSACTION_ABORTABLE are not (the
// producer aborts, or gives up its transactional id).
constexpr bool retriable(ErrorCode code) {
    switch (code) {
        case ErrorCode::corrupt_message:
        case ErrorCode::unknown_topic_or_partition:
        case ErrorCode::leader_not_available:
        case ErrorCode::not_leader_or_follower:
        case ErrorCode::request_timed_out:
        case ErrorCode::replica_not_available:
        case ErrorCode::network_exception:
        case ErrorCode::coordinator_load_in_progress:
        case ErrorCode::coordinator_not_available:
        case ErrorCode::not_coordinator:
        case ErrorCode::concurrent_transactions:
        case ErrorCode::not_enough_replicas:
        case ErrorCode::not_enough_replicas_after_append:
        case ErrorCode::kafka_storage_error:
        case ErrorCode::fenced_leader_epoch:
        case ErrorCode::unknown_leader_epoch:
        case ErrorCode::offset_not_available:
        case ErrorCode::fetch_session_id_not_found:
        case ErrorCode::invalid_fetch_session_epoch:
        case ErrorCode::unstable_offset_commit:
            return true;
        default:
            return false;
    }
}

}  // namespace eosim::protocol
