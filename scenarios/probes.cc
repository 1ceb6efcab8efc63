#include "scenarios/probes.h"

namespace eosim::scenarios {

const std::vector<CodeProbe>& code_probes() {
    static const std::vector<CodeProbe> probes{
        // Replication
        {"truncation-below-leaders-epoch-end", "broker_core Broker::handle_divergence",
         "a follower truncated below the leader's end for the answered epoch: it never had that epoch or ended it "
         "earlier (the case KAFKA-6361 got wrong)"},
        {"high-watermark-held-under-min-isr", "broker_core Broker::maybe_advance_high_watermark",
         "every ISR member had more, but the ISR was below min.insync.replicas: the high watermark stayed "
         "(KAFKA-15583's fix)"},
        {"truncation-by-diverging-epoch", "broker_core Broker::handle_divergence",
         "a follower cut its log back where its leader epochs diverge from the leader's (KIP-101, KIP-279)"},
        {"follower-truncates-on-batch-boundary", "broker_core Broker::append_fetched",
         "a fetched batch began inside the follower's log: the logs diverged and the follower cut back"},
        {"follower-restarts-at-leader-log-start", "broker_core Broker::handled_fetch_error",
         "a follower fetched below its leader's log start and started over there"},
        {"follower-starts-inside-leader-batch", "broker_core Broker::append_fetched",
         "an empty follower log started inside the leader's first batch (a log start from DeleteRecords)"},
        {"unclean-leader-election", "broker_core Controller (leader election)", "the controller elected a leader from outside the ISR"},
        {"isr-shrank-below-min-isr-after-append", "broker_core Broker::await_replication",
         "an acks=all append was replicated after the ISR shrank below min.insync.replicas: answered "
         "NOT_ENOUGH_REPLICAS_AFTER_APPEND"},
        {"request-with-stale-leader-epoch-fenced", "broker_core Broker::leader_precheck",
         "a request carried an older leader epoch than the leader's (KIP-320): FENCED_LEADER_EPOCH"},
        {"request-with-newer-leader-epoch-retried", "broker_core Broker::leader_precheck",
         "a request carried a newer leader epoch than the leader knows yet: UNKNOWN_LEADER_EPOCH"},
        {"recovery-cuts-torn-or-corrupt-tail", "broker_core PartitionLog::recover",
         "a restarted broker's recovery found a torn or corrupt batch and cut the log there"},
        // Idempotence
        {"duplicate-answered-from-producer-state", "broker_core Broker::answer_rejected",
         "a retried batch the log already has was answered with its original offsets"},
        {"out-of-order-sequence-refused", "broker_core Broker::answer_rejected",
         "a batch with a sequence gap was refused: OUT_OF_ORDER_SEQUENCE_NUMBER"},
        {"unknown-producer-id-refused", "broker_core Broker::answer_rejected",
         "a batch of a producer the partition no longer knows was refused: UNKNOWN_PRODUCER_ID"},
        {"stale-producer-epoch-refused", "broker_core Broker::answer_rejected",
         "an idempotent batch of an older producer epoch was refused"},
        {"idempotent-producer-bumps-epoch", "client_core Producer::bump_epoch",
         "the producer bumped its epoch to reset a partition's sequences (KIP-360)"},
        {"producer-gives-up-on-maybe-written-batch", "client_core Producer::give_up",
         "a batch timed out after a send that may have been written: its outcome is unknown"},
        {"damaged-checkpoint-ignored", "broker_core (high watermarks, leader epochs, log start)",
         "a restarting broker found a checkpoint whose seal fails (corrupt-file) and did without it"},
        {"damaged-snapshot-skipped", "broker_core ProducerStateManager::load_snapshot",
         "recovery found a producer-state snapshot it could not read or decode (its CRC fails after corrupt-file) "
         "and used an older one or the log"},
        {"producer-state-replayed-after-snapshot", "broker_core PartitionLog::rebuild_producer_state",
         "recovery rebuilt producer state from a snapshot and the log after it"},
        {"producer-state-replayed-without-snapshot", "broker_core PartitionLog::rebuild_producer_state",
         "recovery found no snapshot and rebuilt producer state from the log start"},
        // Transactions
        {"late-marker-refused", "broker_core ProducerStateManager::check_transaction",
         "a coordinator's marker whose epoch does not top the producer's ongoing transaction (a late copy of the "
         "last transaction's marker) was refused (KAFKA-19446)"},
        {"zombie-fenced-by-partition-leader", "broker_core Broker::answer_rejected",
         "a transactional batch of a fenced (older) producer epoch was refused by the partition leader"},
        {"produce-refused-by-transaction-verification", "broker_core Broker::verify_transaction",
         "the coordinator did not vouch for a transactional produce (KIP-890 verification)"},
        {"verified-append-overtaken-by-marker", "broker_core Broker::verify_transaction",
         "a marker landed between a produce's verification and its append: the append was refused (KAFKA-14884's "
         "guard)"},
        {"txn-coordinator-loads-above-high-watermark", "broker_core Broker::read_transaction_log",
         "a new transaction coordinator's log had records above the high watermark when it loaded (it waits for them "
         "to commit)"},
        {"coordinator-failover-in-prepare-commit", "broker_core TransactionCoordinator::load",
         "a new transaction coordinator loaded a transaction in PrepareCommit and wrote its markers"},
        {"coordinator-failover-in-prepare-abort", "broker_core TransactionCoordinator::load",
         "a new transaction coordinator loaded a transaction in PrepareAbort and wrote its markers"},
        {"transaction-aborted-by-timeout", "broker_core TransactionCoordinator::abort_timed_out_loop",
         "the coordinator aborted a transaction that outlived its timeout"},
        {"init-producer-id-fences-ongoing-transaction", "broker_core TransactionCoordinator::init_producer_id",
         "InitProducerId found the transactional id's last transaction ongoing: fenced and aborted it"},
        {"end-txn-retry-answered-after-completion", "broker_core TransactionCoordinator::end_transaction",
         "a retried EndTxn(commit) came after the commit completed and was answered as done"},
        {"commit-after-coordinator-abort-fenced", "broker_core TransactionCoordinator::end_transaction",
         "a commit came for a transaction the coordinator had aborted (a timeout, a fence)"},
        {"read-committed-fetch-carries-aborted-transactions", "broker_core Broker::read_partitions",
         "a read_committed fetch answered with aborted transactions in its range"},
        {"consumer-detects-log-truncation", "client_core Consumer",
         "a consumer's position was past the new leader's end for its epoch (KIP-320): it went back"},
        {"consumer-offset-out-of-range-reset", "client_core Consumer",
         "a consumer's fetch position was out of range and it reset"},
        // Groups
        {"txn-offset-commit-fenced-by-generation", "broker_core GroupCoordinator::txn_commit_offsets",
         "a TxnOffsetCommit of a member or generation no longer current was fenced (KIP-447)"},
        {"offset-fetch-waits-for-pending-transaction", "broker_core GroupCoordinator::fetch_offsets",
         "an OffsetFetch with require_stable met pending transactional offsets: UNSTABLE_OFFSET_COMMIT"},
        {"group-coordinator-loads-pending-offsets", "broker_core GroupCoordinator::load",
         "a new group coordinator loaded offsets of transactions still open"},
        {"group-member-session-expired", "broker_core GroupCoordinator::expire",
         "a group member's session expired and it was removed"},
        // Streams
        {"streams-eos-dirty-close", "streams_core StreamThread::close_all_dirty",
         "a stream thread under exactly_once closed its tasks dirty (an abort): their state is wiped and restored"},
        {"streams-corrupted-state-wiped", "streams_core StreamThread::open",
         "a task's store files were corrupted below what its checkpoint vouched for: wiped and restored"},
        {"streams-task-without-checkpoint-wiped", "streams_core StreamThread::open",
         "an active task under exactly_once found state without a checkpoint: wiped and restored"},
        {"streams-standby-without-checkpoint-wiped", "streams_core StreamThread::open",
         "a standby under exactly_once found state without a checkpoint: wiped (KAFKA-9891's fix)"},
        {"streams-standby-promoted", "streams_core StreamThread",
         "a standby task became the active one, its stores kept"},
    };
    return probes;
}

const std::vector<CodeProbe>& buggify_sites() {
    static const std::vector<CodeProbe> sites{
        // Brokers: replication and requests
        {"slow-follower", "broker_core Broker fetcher", "a follower waits before its next fetch: the ISR's lag bound is tested"},
        {"early-isr-shrink", "broker_core Broker::isr_loop", "a follower counts as lagging after a quarter of the lag bound: the ISR shrinks early"},
        {"isr-expansion-put-off", "broker_core Broker::maybe_expand_isr", "a caught-up follower is not added to the ISR this time"},
        {"slow-alter-partition", "broker_core Broker::propose_isr", "an ISR change waits before it reaches the controller"},
        {"slow-heartbeat-answer", "broker_core Controller", "the controller answers a broker's heartbeat late: stale metadata races"},
        {"slow-metadata-answer", "broker_core Broker::handle", "a Metadata answer is taken now and delivered late: the client acts on a stale view"},
        {"slow-produce-answer", "broker_core Broker::produce", "an acks=all answer is delivered late: client timeouts race it"},
        {"produce-backlog", "broker_core Broker::produce", "a transactional produce waits in the queue past the client's timeout and is appended late"},
        {"delayed-verified-append", "broker_core Broker::verify_transaction", "a verified transactional produce waits before it appends: a marker may overtake it"},
        {"slow-marker-append", "broker_core Broker::write_txn_markers", "transaction markers wait in the queue: produces and fetches go first"},
        {"fetch-session-evicted", "broker_core Broker::fetch", "an incremental fetch finds its session evicted (a full cache): the fetcher starts over"},
        {"fetch-wait-cut-short", "broker_core Broker::fetch", "a fetch waits a tenth of its max wait: an empty answer, asked again"},
        {"short-consumer-read", "broker_core Broker::read_partitions", "a consumer fetch returns one batch of several (a small fetch.max.bytes)"},
        {"slow-fetch-answer", "broker_core Broker::fetch", "a fetch answer is built now and delivered late: the leader may have moved on"},
        {"slow-list-offsets", "broker_core Broker::list_offsets", "ListOffsets waits before it answers: leadership may change meanwhile"},
        {"slow-offsets-for-leader-epoch", "broker_core Broker::offsets_for_leader_epoch", "OffsetsForLeaderEpoch waits before it answers"},
        // Coordinators
        {"slow-find-coordinator", "broker_core Broker::find_coordinator", "FindCoordinator waits: the coordinator it names may be about to move"},
        {"slow-add-partitions", "broker_core TransactionCoordinator::add_partitions", "AddPartitionsToTxn waits: the client's timeout races it"},
        {"end-txn-backlog", "broker_core TransactionCoordinator::end_txn", "an EndTxn waits in the queue past the client's timeout (KAFKA-17754's late EndTxn)"},
        {"delayed-txn-markers", "broker_core TransactionCoordinator::write_markers", "the coordinator sends its markers late: they race the next transaction"},
        {"slow-coordinator-load", "broker_core TransactionCoordinator::load", "a new transaction coordinator loads its partition late"},
        {"slow-join-group", "broker_core GroupCoordinator::join_group", "JoinGroup waits: the others may have joined already"},
        {"slow-sync-group", "broker_core GroupCoordinator::sync_group", "SyncGroup waits: a new rebalance may begin meanwhile"},
        {"slow-offset-fetch", "broker_core GroupCoordinator::fetch_offsets", "OffsetFetch waits: a transaction may end meanwhile"},
        {"slow-txn-offset-commit", "broker_core GroupCoordinator::txn_commit_offsets", "TxnOffsetCommit waits in the queue: it may come after its transaction was aborted"},
        {"slow-group-load", "broker_core GroupCoordinator::load", "a new group coordinator loads its partition late"},
        // Clients and streams
        {"producer-linger", "client_core Producer::drain", "the producer lingers before a request: batches pile up (linger.ms)"},
        {"streams-slow-commit", "streams_core StreamThread::commit", "a commit takes long: a rebalance may come in its middle"},
        {"streams-offsets-then-pause", "streams_core StreamThread::commit", "the offsets are in the transaction but the commit waits"},
        {"streams-task-corrupted", "streams_core StreamThread", "a task is found corrupted in the middle of a poll (TaskCorruptedException): every task closes dirty"},
    };
    return sites;
}

const CodeProbe* find_probe(std::string_view name) {
    for (const CodeProbe& probe : code_probes()) {
        if (probe.name == name) {
            return &probe;
        }
    }
    return nullptr;
}

}  // namespace eosim::scenarios
