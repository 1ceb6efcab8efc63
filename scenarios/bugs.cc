#include "scenarios/bugs.h"

namespace eosim::scenarios {

const std::vector<BugSwitch>& bug_switches() {
    static const std::vector<BugSwitch> switches{
        {"kip101-hw-truncation", "re-creates KAFKA-1211, fixed by KIP-101",
         "lost-write, replica-divergence, inconsistent-offsets, vanished-read", "log-acks-all",
         "followers truncate their log to the high watermark on restart and on becoming follower, not by leader epoch"},
        {"kafka-6361", "re-creates KAFKA-6361, fixed by KIP-279",
         "replica-divergence, inconsistent-offsets, lost-write", "txn-basic",
         "a follower truncates to the end offset the leader gives for the leader's own epoch, though the follower "
         "never had that epoch or ended it earlier, and then fetches without epoch checks: records of an epoch "
         "the leader lacks stay in its log under the leader's later records"},
        {"kafka-6683", "re-creates KAFKA-6683", "invariant-violation", "idempotent-acks-all",
         "a segment roll snapshots the producer state at the new segment's base after the batch being appended "
         "was already put in it: a replica that truncates to that offset, or loses the batch in a crash, "
         "reloads a producer state that remembers a batch its log does not have"},
        {"kafka-7164", "re-creates KAFKA-7164", "replica-divergence, inconsistent-offsets, vanished-read", "log-acks-all",
         "a follower whose leader is the same broker in a new leader epoch does not truncate: what the leader lost "
         "in a crash and wrote again in the new epoch stays different in the follower's log"},
        {"kafka-15583", "re-creates KAFKA-15583, fixed in Kafka 3.7 (KIP-966)", "invariant-violation", "log-acks-1",
         "the high watermark advances while the ISR is below min.insync.replicas, so records count as committed "
         "(and consumers read them) with fewer copies than the topic asks for"},
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
        {"no-zombie-fencing", "breaks KIP-98's producer fencing", "zombie-write", "txn-zombie",
         "a partition leader appends a transactional batch of an epoch older than the producer's newest one (and "
         "does not verify it with the coordinator either)"},
        {"lso-ignores-open-txn", "breaks the last stable offset", "uncommitted-read, aborted-read", "txn-basic",
         "the last stable offset is the high watermark, so read_committed readers read open transactions"},
        {"kafka-5376", "re-creates KAFKA-5376", "aborted-read", "txn-basic",
         "a read_committed fetch that waited (the delayed fetch path) is answered without its aborted transactions"},
        {"kafka-12671", "re-creates KAFKA-12671 (before KIP-890)",
         "hanging-transaction, aborted-read, torn-transaction, stuck", "txn-basic",
         "transaction version 1 and no verification: a produce that arrives after its transaction ended opens a "
         "transaction nobody ends, or joins the next one"},
        {"kafka-14884", "re-creates KAFKA-14884 (KIP-890 part 1 without its guard)",
         "hanging-transaction, aborted-read, torn-transaction, stuck",
         "txn-basic",
         "transaction version 1 and verification without the guard: an abort marker that lands between the "
         "verification and the append is overtaken by the append"},
        {"kafka-17754", "re-creates KAFKA-17754 (transaction version 1)", "aborted-read, torn-transaction", "txn-basic",
         "no epoch bump per transaction: a late produce or EndTxn of one transaction lands in the next one"},
        {"kafka-18464", "re-creates KAFKA-18464 (Kafka 4.0 before the fix)", "spurious-fence", "txn-basic",
         "EndTxn checks the producer epoch before the pending completion, so an abort of the next transaction "
         "that reaches the coordinator while the last commit's markers are still being written is fenced"},
        {"kafka-19446", "re-creates KAFKA-19446 (transaction version 2 before the fix)", "aborted-read, poll-skip, torn-transaction, uncommitted-read", "txn-basic",
         "a partition leader takes a coordinator's marker whose epoch equals its producer's ongoing transaction's: "
         "a copy of the last transaction's marker that arrives late (its first request timed out, the retry "
         "completed the transaction) ends the next transaction on that partition, which its consumers then "
         "read as committed when the transaction aborts"},
        {"kafka-9144", "re-creates KAFKA-9144 (before KIP-890)", "zombie-write, hanging-transaction, stuck", "txn-zombie",
         "producer-state expiry counts from a producer's last data batch, not its last marker, and a producer "
         "with no state is taken at any sequence: once a transaction aborted by its timeout expires, the "
         "zombie's late batch opens a transaction nobody ends"},
        {"coordinator-forgets-markers", "breaks the coordinator's failover", "hanging-transaction, stuck, spurious-fence",
         "txn-coordinator-failover",
         "a new transaction coordinator does not write the markers of the PrepareCommit and PrepareAbort it loaded"},
        {"kip447-no-generation-fence", "breaks KIP-447's fencing of transactional offset commits",
         "eos-output-mismatch, zombie-commit, nonmonotonic-commit", "ctp-eos",
         "TxnOffsetCommit is not checked against the group's member and generation, so an instance that lost its "
         "partitions (a zombie) commits offsets for them"},
        {"offset-fetch-ignores-pending", "breaks KIP-447's require_stable OffsetFetch",
         "eos-output-mismatch, nonmonotonic-commit", "ctp-eos",
         "OffsetFetch answers the committed offset while a transaction holds pending offsets for the partition, so "
         "the new owner starts from the old position and the old transaction then commits"},
        {"kafka-17507", "re-creates KAFKA-17507", "eos-output-mismatch, nonmonotonic-commit", "ctp-eos",
         "a WriteTxnMarkers on an offsets partition is answered before the group coordinator applied the marker, so "
         "the producer's next transaction's offsets are applied with the last one's commit"},
        {"kafka-17582", "re-creates the application defect of KAFKA-17582", "eos-output-mismatch, stuck", "ctp-eos",
         "the application does not seek back to its committed offsets after an abort, so the input it consumed in "
         "the aborted transaction is never processed"},
        {"pending-offsets-lost-on-failover", "breaks the group coordinator's failover",
         "eos-output-mismatch, nonmonotonic-commit", "ctp-eos",
         "a new group coordinator drops the pending transactional offsets it loads, so a transaction that then "
         "commits has its output committed but not its offsets"},
        {"kafka-7192", "re-creates KAFKA-7192", "state-mismatch, eos-output-mismatch", "word-count-eos",
         "a stream thread's dirty close under exactly_once keeps the task's local state instead of wiping and "
         "restoring it, so what the aborted transaction wrote to the store stays and later counts build on it"},
        {"kafka-9891", "re-creates KAFKA-9891", "state-mismatch, eos-output-mismatch", "fraud-window-standby-eos",
         "a standby task takes over a task directory that has no checkpoint under exactly_once as it is, instead "
         "of wiping it: what an instance that crashed left uncommitted in the store's file stays, and is carried "
         "into the active task when the standby is promoted"},
        {"kafka-16017", "re-creates KAFKA-16017", "state-mismatch, eos-output-mismatch", "word-count-eos",
         "a task closed dirty keeps the changelog offsets it had written; closed cleanly while it restores again, "
         "it checkpoints them instead of what it restored, so when it opens again on that instance its restore "
         "starts past records its store never got"},
        {"kafka-18943", "re-creates KAFKA-18943", "eos-output-mismatch, state-mismatch", "eos-echo-sum-cooperative-eos",
         "when a cooperative rebalance revokes some of a thread's tasks, the thread commits the transaction its "
         "tasks share with the revoked tasks' input offsets only: the output of the tasks it keeps commits "
         "without their offsets, and is made again when their input is processed again after a failure"},
        {"streams-partial-commit", "breaks exactly_once_v2's commit", "eos-output-mismatch", "eos-echo-sum-eos",
         "a stream thread's transaction carries the input offsets of one of its tasks only, so the others' output "
         "is committed ahead of their offsets"},
        {"restore-skips-tail", "breaks the restore", "state-mismatch, eos-output-mismatch", "account-balance-eos",
         "a task's restore leaves out the changelog's last record, so the store misses the last committed change "
         "and later updates build on an older value"},
        {"coordinator-without-lease", "re-creates Kafka's stale group coordinator (KIP-343's stale broker)",
         "eos-output-mismatch, nonmonotonic-commit", "ctp-stale-coordinator",
         "a broker cut off from the controller but not from clients keeps coordinating the groups of the "
         "offsets partitions it led after the controller moved them, and answers OffsetFetch from its stale "
         "cache: an instance that rewinds there processes input again"},
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
    } else if (name == "kafka-6361") {
        bugs.kafka_6361 = true;
    } else if (name == "kafka-6683") {
        bugs.kafka_6683 = true;
    } else if (name == "kafka-7164") {
        bugs.kafka_7164 = true;
    } else if (name == "kafka-15583") {
        bugs.kafka_15583 = true;
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
    } else if (name == "no-zombie-fencing") {
        bugs.no_zombie_fencing = true;
    } else if (name == "lso-ignores-open-txn") {
        bugs.lso_ignores_open_txn = true;
    } else if (name == "kafka-5376") {
        bugs.kafka_5376 = true;
    } else if (name == "kafka-12671") {
        bugs.kafka_12671 = true;
        bugs.kafka_17754 = true;  // before KIP-890 part 2 too: a late produce keeps its epoch
    } else if (name == "kafka-14884") {
        bugs.kafka_14884 = true;
        bugs.kafka_17754 = true;
    } else if (name == "kafka-17754") {
        bugs.kafka_17754 = true;
    } else if (name == "kafka-18464") {
        bugs.kafka_18464 = true;
    } else if (name == "kafka-19446") {
        bugs.kafka_19446 = true;
    } else if (name == "kafka-9144") {
        bugs.kafka_9144 = true;
        bugs.kafka_12671 = true;  // before KIP-890: no verification, version 1
        bugs.kafka_17754 = true;
    } else if (name == "coordinator-forgets-markers") {
        bugs.coordinator_forgets_markers = true;
    } else if (name == "kip447-no-generation-fence") {
        bugs.kip447_no_generation_fence = true;
    } else if (name == "offset-fetch-ignores-pending") {
        bugs.offset_fetch_ignores_pending = true;
    } else if (name == "kafka-17507") {
        bugs.kafka_17507 = true;
    } else if (name == "kafka-17582") {
        // The application's defect: the runner's consume-transform-produce instances do not rewind.
    } else if (name == "pending-offsets-lost-on-failover") {
        bugs.pending_offsets_lost_on_failover = true;
    } else if (name == "coordinator-without-lease") {
        bugs.coordinator_without_lease = true;
    } else if (name == "kafka-7192" || name == "streams-partial-commit" || name == "restore-skips-tail" ||
               name == "kafka-9891" || name == "kafka-16017" || name == "kafka-18943") {
        // A stream thread's defect: stream_bugs() turns it on in the runner's stream instances.
    } else {
        return false;
    }
    return true;
}

streams_core::StreamsConfig::Bugs stream_bugs(std::string_view name) {
    streams_core::StreamsConfig::Bugs bugs;
    bugs.kafka_7192 = name == "kafka-7192";
    bugs.partial_commit = name == "streams-partial-commit";
    bugs.restore_skips_tail = name == "restore-skips-tail";
    bugs.kafka_9891 = name == "kafka-9891";
    bugs.kafka_16017 = name == "kafka-16017";
    bugs.kafka_18943 = name == "kafka-18943";
    return bugs;
}

}  // namespace eosim::scenarios
