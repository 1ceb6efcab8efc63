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
    bool ack_before_isr = false;        // acks=all answered as soon as the leader appended
    bool no_crc_check = false;          // recovery and fetch skip the CRC check
    bool no_dedup = false;              // a retried batch of an idempotent producer is appended again
    bool dedup_window_1 = false;        // producer state keeps only the last batch (KAFKA-5494)
    bool producer_state_not_recovered = false;  // a restarted broker forgets every producer
    bool compaction_drops_latest = false;       // the log cleaner may remove a key's latest record
};

}  // namespace eosim::broker_core
