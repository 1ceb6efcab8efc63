#include "scenarios/bugs.h"

namespace eosim::scenarios {

const std::vector<BugSwitch>& bug_switches() {
    static const std::vector<BugSwitch> switches{
        {"kip101-hw-truncation", "re-creates KAFKA-1211, fixed by KIP-101",
         "lost-write, replica-divergence, inconsistent-offsets, vanished-read", "log-acks-all",
         "followers truncate their log to the high watermark on restart and on becoming follower, not by leader epoch"},
        {"ack-before-isr", "breaks the acks=all contract", "lost-write, inconsistent-offsets", "log-acks-all",
         "acks=all is answered as soon as the leader appended, before the ISR has the batch"},
        {"no-crc-check", "breaks record batch CRC validation",
         "inconsistent-offsets, lost-write, replica-divergence, vanished-read",
         "log-acks-all", "recovery and fetch skip the CRC check, so a flipped bit is served and replicated"},
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
    } else {
        return false;
    }
    return true;
}

}  // namespace eosim::scenarios
