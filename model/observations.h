#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "model/checkers.h"
#include "model/history.h"

// What the checkers share: a history's acknowledged sends, reads, committed logs and consumer timelines, each
// in a deterministic order. Internal to model/. Strings are views into the checked History, which outlives
// them; lookups go through hash tables with a specified hash (FNV-1a), never iterated, so no order depends
// on a hash.

namespace eosim::model {

using Text = std::string_view;

// XXH3 (libxxhash) over the bytes: specified, so the same on every build (std::hash of strings is not).
struct TextHash {
    [[nodiscard]] std::size_t operator()(Text text) const noexcept;
};

template <typename Value>
using TextMap = std::unordered_map<Text, Value, TextHash>;

// (partition, value) and the like: two texts, hashed together.
struct TextPairHash {
    [[nodiscard]] std::size_t operator()(const std::pair<Text, Text>& texts) const noexcept {
        return TextHash{}(texts.first) * 1099511628211ULL ^ TextHash{}(texts.second);
    }
};

template <typename Value>
using TextPairMap = std::unordered_map<std::pair<Text, Text>, Value, TextPairHash>;

// Sorted and without repeats: offsets held or known.
using OffsetSet = std::vector<std::int64_t>;
[[nodiscard]] bool contains(const OffsetSet& offsets, std::int64_t offset);

// An ok send and the index of the invoke it completes (its own index when no invoke matches).
struct AckedSend {
    std::uint64_t invoke_index = 0;
    std::uint64_t index = 0;
    Text process;
    Text partition;
    Text value;
    Acks acks = Acks::all;
    std::optional<std::int64_t> offset;
    std::optional<Text> key;
    // A send whose outcome was unknown (info, acknowledged without an offset, or never completed), placed
    // at the offset consumers read its value at: only nonmonotonic-send uses such sends.
    bool offset_read = false;
    std::optional<std::int64_t> attempts;  // produce requests that carried it, where the history says
    std::optional<Text> txn;               // the transaction it belongs to (its label), if any
    // It was retried, or its outcome was unknown: a non-idempotent producer may have written it twice.
    [[nodiscard]] bool retried() const { return offset_read || attempts.value_or(1) > 1; }
};

// Completion index -> invoke index: each completion takes the earliest pending invoke of its process with the
// same f (and the same partition and value where both have one), so pipelined sends pair up correctly.
using InvokeOf = std::map<std::uint64_t, std::uint64_t>;
InvokeOf invoke_of_completion(const History& history);

// In history order of the completions. Tombstones (sends without a value) are left out.
std::vector<AckedSend> acked_sends(const History& history, const InvokeOf& invoke_of);
std::vector<AckedSend> acked_sends(const History& history);

// One record of one ok poll.
struct Read {
    std::uint64_t index = 0;
    Text process;
    Text partition;
    std::int64_t offset = 0;
    Text value;
    std::optional<Text> key;
    bool read_committed = false;  // the poll's isolation was read_committed
};

// Every record of every ok poll, in history order then record order; tombstones are left out.
std::vector<Read> reads(const History& history);

// A committed log indexed by offset and by value. `log` has no records: they are `values`.
struct LogIndex {
    CommittedLog log;
    std::vector<std::pair<std::int64_t, Text>> values;  // by offset (replica order within one); no tombstones
    TextMap<std::vector<std::int64_t>> offsets_of;      // each value's offsets, ascending
    std::vector<Text> values_at_several_offsets;        // in order of their second offset
    OffsetSet offsets;                                  // of every record, tombstones included
    TextMap<std::int64_t> latest_offset_of_key;         // tombstones included

    [[nodiscard]] bool holds(std::int64_t offset, Text value) const;
    [[nodiscard]] std::optional<Text> first_value_at(std::int64_t offset) const;
    [[nodiscard]] bool holds_value(Text value) const { return offsets_of.contains(value); }
    // The (offset, value) entries with offsets in [from, to).
    [[nodiscard]] std::pair<const std::pair<std::int64_t, Text>*, const std::pair<std::int64_t, Text>*> values_in(
        std::int64_t from, std::int64_t to) const;
};

// By partition; only partitions that have at least one replica line.
std::map<Text, LogIndex> committed_logs(const History& history);

// What was written to each key of each compacted partition (one whose replica lines say so): a record
// may be gone because a later write of its key superseded it. Other partitions' writes are left out.
class KeyWrites {
public:
    KeyWrites(const History& history, const InvokeOf& invoke_of);
    // Whether a write of `key` at `offset` of `partition` may have been superseded: the committed log
    // holds the key at a higher offset, or a write of the key (tombstones included) was acknowledged at a
    // higher offset, or a tombstone of the key has an unknown outcome (it may have landed later and been
    // removed with what it deleted). A value with an unknown outcome excuses nothing.
    [[nodiscard]] bool superseded(const LogIndex& log, Text key, std::int64_t offset) const;
    // The acknowledged write of `key` with the highest offset: its offset and whether it was a tombstone.
    [[nodiscard]] std::optional<std::pair<std::int64_t, bool>> latest_acknowledged(Text partition, Text key) const;
    // Whether some write of `key` with an unknown outcome was a tombstone.
    [[nodiscard]] bool unknown_tombstone(Text partition, Text key) const;
    // The keys with an acknowledged write, per partition, in order.
    [[nodiscard]] std::vector<Text> keys(Text partition) const;

private:
    struct Writes {
        std::map<std::int64_t, bool> acknowledged;  // offset -> tombstone
        bool unknown_tombstone = false;  // some write of the key with an unknown outcome was a tombstone
    };
    std::map<std::pair<Text, Text>, Writes> writes_;
};

// (process, partition) -> its ok polls, assigns and seeks, in history order.
using ProcessPartition = std::pair<Text, Text>;
std::map<ProcessPartition, std::vector<const Operation*>> consumer_timelines(const History& history);

// Partition -> the offsets that exist in it: in its committed log, read by anyone, or acknowledged to a
// producer (acks 1 or all). On compacted partitions only the log says what exists.
std::map<Text, OffsetSet> known_offsets(const std::map<Text, LogIndex>& logs, const std::vector<Read>& all_reads,
                                        const std::vector<AckedSend>& sends);

// How a transaction ended, as its producer saw it: committed when a commit completed ok; aborted for certain
// when an abort completed ok, a commit failed, or no commit was ever invoked (a coordinator commits only on
// EndTxn(commit)); otherwise unknown (a commit ended info or never completed).
enum class TxnOutcome : std::uint8_t { committed, aborted, unknown };

std::string_view to_string(TxnOutcome outcome);

// One transaction, by its label (the ops' `txn`).
struct Transaction {
    Text label;
    Text process;
    std::optional<Text> transactional_id;
    const Operation* begin = nullptr;          // its begin ok, if recorded
    const Operation* commit_invoke = nullptr;  // its first commit invoke
    const Operation* end_invoke = nullptr;     // its first commit or abort invoke
    const Operation* end = nullptr;            // the completion that decided the outcome, if any
    TxnOutcome outcome = TxnOutcome::aborted;
    std::optional<std::int64_t> producer_id;     // as its begin (or first op) carries them
    std::optional<std::int64_t> producer_epoch;
    // An earlier transaction of the same transactional id ran at the same producer id and epoch: under
    // transaction version 1, which keeps the epoch from one transaction to the next, a late request of that
    // one (an EndTxn, or a marker the coordinator sent again) may end part or all of this one (KAFKA-17754).
    // One that asked for a commit may commit this one early; one that aborted (asked for it, or did not
    // commit for certain) may abort part of it.
    bool after_same_epoch_commit = false;
    bool after_same_epoch_abort = false;
};

// One send of a transaction: its first operation (the invoke) and its completion (null: none).
struct TxnSend {
    const Transaction* transaction = nullptr;
    Text partition;
    Text value;
    const Operation* invoke = nullptr;
    const Operation* completion = nullptr;
};

// The transactions of a history and their sends (transactional sends with a value, in invoke order).
class Transactions {
public:
    Transactions(const History& history, const InvokeOf& invoke_of);
    Transactions(const Transactions&) = delete;
    Transactions& operator=(const Transactions&) = delete;

    [[nodiscard]] bool empty() const { return by_label_.empty(); }
    [[nodiscard]] const std::map<Text, Transaction>& by_label() const { return by_label_; }
    [[nodiscard]] const std::vector<TxnSend>& sends() const { return sends_; }
    // The transactional send of `value` to `partition` (null: none; values are unique in a history).
    [[nodiscard]] const TxnSend* send_of(Text partition, Text value) const;
    // The outcome of the transaction labelled `label` (aborted for a label no op begins or ends).
    [[nodiscard]] TxnOutcome outcome(Text label) const;

private:
    void add_send(const Operation& op, const Transaction& transaction, const InvokeOf& invoke_of);

    std::map<Text, Transaction> by_label_;
    std::vector<TxnSend> sends_;
    TextPairMap<std::size_t> send_index_;  // (partition, value) -> position in sends_
};

// What every checker derives from a history, computed once: check() hands the same facts to each checker.
struct Facts {
    explicit Facts(const History& checked);

    const History& history;
    InvokeOf invoke_of;
    std::vector<AckedSend> sends;
    std::vector<Read> reads;
    std::map<Text, LogIndex> logs;
    KeyWrites key_writes;
    std::map<ProcessPartition, std::vector<const Operation*>> timelines;
    std::vector<const Operation*> failed_sends;  // completions of sends that certainly did not write
    std::unordered_set<std::uint64_t> completed_invokes;  // invokes that have a completion
    Transactions transactions;

    // An acknowledged send that counts as written: outside transactions, or in one that committed.
    [[nodiscard]] bool counts_as_written(const AckedSend& send) const {
        return !send.txn || transactions.outcome(*send.txn) == TxnOutcome::committed;
    }

    // A send operation (invoke or completion) whose outcome is unknown: info, or never completed.
    [[nodiscard]] bool outcome_unknown(const Operation& send) const {
        return send.type == OpType::info || (send.type == OpType::invoke && !completed_invokes.contains(send.index));
    }
};

// Sends whose outcome the producer did not learn (info, ok without an offset, never completed) but whose
// value a consumer read or the committed log holds, placed at the lowest such offset (offset_read set).
std::vector<AckedSend> sends_placed_by_reads(const Facts& facts);

// Partition -> offsets a consumer never returns: those of control batches (transaction markers) in the
// committed replica's batch headers. `invisible_to_read_committed` adds, for read_committed consumers, the
// offsets of records of transactions that did not commit for certain (aborted or unknown).
struct HiddenOffsets {
    std::map<Text, OffsetSet> control;
    std::map<Text, OffsetSet> invisible_to_read_committed;
};
HiddenOffsets hidden_offsets(const Facts& facts);

// Whether a completion's error says the producer instance was fenced: PRODUCER_FENCED or
// INVALID_PRODUCER_EPOCH (protocol/errors.h's spelling; any case, possibly within a longer message).
[[nodiscard]] bool fenced_error(const std::optional<std::string>& error);

// The transaction checkers that need facts (model/transactions.cc).
std::vector<Anomaly> check_uncommitted_reads(const Facts& facts);
std::vector<Anomaly> check_torn_transactions(const Facts& facts);
std::vector<Anomaly> check_spurious_fences(const Facts& facts);

}  // namespace eosim::model
