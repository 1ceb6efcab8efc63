#include "scenarios/bugs.h"

namespace eosim::scenarios {

const std::vector<BugSwitch>& bug_switches() {
    static const std::vector<BugSwitch> switches{
        {"kip101-hw-truncation", "re-creates KAFKA-1211, fixed by KIP-101",
         "lost-write, replica-divergence, inconsistent-offsets, vanished-read", "log-acks-all",
         "followers truncate their log to the high watermark on restart and on becoming follower, not by leader epoch"},
        {"ack-before-isr", "breaks the acks=all contract", "invariant-violation, lost-write, inconsistent-offsets",
         "log-acks-all",
         "acks=all is answered as soon as the leader appended, before the ISR has the batch"},
        {"no-crc-check", "breaks record batch CRC validation",
         "inconsistent-offsets, lost-write, replica-divergence, vanished-read",
         "log-acks-all", "recovery and fetch skip the CRC check, so a flipped bit is served and replicated"},
        {"no-dedup", "breaks KIP-98's deduplication", "duplicate, nonmonotonic-send", "idempotent-acks-all",
         "the leader appends a retried batch of an idempotent producer again instead of answering with its offsets"},
        {"dedup-window-1", "re-creates KAFKA-5494", "duplicate, nonmonotonic-send", "idempotent-acks-all",
         "producer state keeps only each producer's last batch while 5 may be in flight, so the retry of an "
         "older one is taken for a gap and written again under a new epoch"},
        {"producer-state-not-recovered", "breaks producer state recovery (snapshot and log replay)",
         "duplicate, nonmonotonic-send",
         "idempotent-acks-all",
         "a restarted broker forgets every producer, so a retry of a batch it already has is written again"},
        {"compaction-drops-latest", "breaks log compaction's guarantee", "compaction-consistency, lost-write",
         "compaction", "the log cleaner takes a key's latest record for superseded and removes it"},
    };
    return switches;
}

const BugSwitch* find_bug(std::string_view name) {
    for (const BugSwitch& bug : bug_switches()) {
        if (bug.name == name) {
            return &bug;
        }
    }
    return nullptr;
}

bool apply_bug(std::string_view name, broker_core::BrokerBugs& bugs) {
    if (name.empty()) {
        return true;
    }
    if (name == "kip101-hw-truncation") {
        bugs.kip101_hw_truncation = true;
    } else if (name == "ack-before-isr") {
        bugs.ack_before_isr = true;
    } else if (name == "no-crc-check") {
        bugs.no_crc_check = true;
    } else if (name == "no-dedup") {
        bugs.no_dedup = true;
    } else if (name == "dedup-window-1") {
        bugs.dedup_window_1 = true;
    } else if (name == "producer-state-not-recovered") {
        bugs.producer_state_not_recovered = true;
    } else if (name == "compaction-drops-latest") {
        bugs.compaction_drops_latest = true;
    } else {
        return false;
    }
    return true;
}

}  // namespace eosim::scenarios
