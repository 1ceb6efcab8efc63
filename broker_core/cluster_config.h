#pragma once

#include <map>
#include <string>
#include <vector>

#include "protocol/addresses.h"
#include "protocol/topics.h"
#include "protocol/types.h"
#include "sim/network.h"
#include "sim/node.h"
#include "sim/time.h"

namespace eosim::broker_core {

using protocol::broker_port;
using protocol::controller_port;
using protocol::ClusterAddresses;

// A topic the controller creates when it starts with an empty metadata log (name, partitions,
// replication factor, config overrides).
using TopicConfig = protocol::TopicDescription;

// The defects a bug switch re-creates (see docs/bug-switches.md). All off: a correct broker.
struct BrokerBugs {
    bool kip101_hw_truncation = false;  // followers truncate to their high watermark, not by leader epoch
    bool kafka_15583 = false;  // the high watermark advances while the ISR is below min.insync.replicas
    bool kafka_7164 = false;  // a follower whose leader stays the same in a new epoch does not truncate
    bool kafka_6361 = false;  // a follower truncates to the leader's answer for an epoch it may not have, once
    bool kafka_6683 = false;  // a roll's producer-state snapshot already holds the batch being appended
    bool ack_before_isr = false;        // acks=all answered as soon as the leader appended
    bool no_crc_check = false;          // recovery and fetch skip the CRC check
    bool no_dedup = false;              // a retried batch of an idempotent producer is appended again
    bool dedup_window_1 = false;        // producer state keeps only the last batch (KAFKA-5494)
    bool producer_state_not_recovered = false;  // a restarted broker forgets every producer
    bool compaction_drops_latest = false;       // the log cleaner may remove a key's latest record
    // Transactions (docs/bug-switches.md).
    bool no_zombie_fencing = false;     // appends of a fenced producer epoch are taken
    bool lso_ignores_open_txn = false;  // the last stable offset is the high watermark
    bool kafka_5376 = false;            // a delayed (long-poll) read_committed fetch drops its aborted transactions
    bool kafka_12671 = false;           // no leader-side verification before a producer's first transactional append
    bool kafka_14884 = false;           // verification without the guard: a marker between it and the append is overtaken
    bool kafka_17754 = false;           // transaction version 1: no epoch bump per transaction
    bool kafka_19446 = false;           // a late marker of the last transaction (same epoch) ends the next one
    bool kafka_18464 = false;           // EndTxn checks the producer epoch before the pending transition
    bool coordinator_forgets_markers = false;  // a new coordinator does not finish a loaded Prepare*
    bool txn_load_uncommitted = false;  // a new coordinator acts on its log above the high watermark (Kafka's way)
    bool kafka_9144 = false;  // producer expiry ignores marker timestamps; an unknown producer is taken at any sequence
    // Groups (docs/bug-switches.md).
    bool kip447_no_generation_fence = false;        // TxnOffsetCommit is not checked against member and generation
    bool offset_fetch_ignores_pending = false;      // OffsetFetch(require_stable) ignores pending transactional offsets
    bool kafka_17507 = false;                       // a marker on an offsets partition is answered before it is applied
    bool pending_offsets_lost_on_failover = false;  // a new group coordinator drops pending transactional offsets
    bool coordinator_without_lease = false;  // a group coordinator cut off from the controller answers (Kafka's way)
};

}  // namespace eosim::broker_core
