#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sim/assert.h"

// Invariants of the simulated system, checked during the run where they must hold, as a real
// implementation's assertions are. A broken one ends the run at once as a failure of its seed, reported
// as the anomaly `invariant-violation` with the invariant's name (docs/anomalies.md).

namespace eosim::sim {

class InvariantViolation : public AssertionFailure {
public:
    InvariantViolation(std::string name, const std::string& detail);

    [[nodiscard]] const std::string& name() const { return name_; }

private:
    std::string name_;
};

[[noreturn]] void invariant_failed(std::string_view name, const std::string& detail);

// The moments the simulated system announces (Witness::announce), where defects hide and aimed faults
// land (docs/faults.md).
namespace moments {
inline constexpr std::string_view leader_elected = "leader-elected";    // a broker just became a partition's leader
inline constexpr std::string_view isr_expanded = "isr-expand";          // a leader's ISR just grew by a follower (peer)
inline constexpr std::string_view recovery = "recovery";                // a restarted broker just recovered a log
inline constexpr std::string_view cleaner_pass = "cleaner-pass";        // the cleaner just rewrote segments of a log
// a transaction coordinator just logged PrepareCommit or PrepareAbort: its markers are about to go out
inline constexpr std::string_view txn_prepared = "txn-prepared";
// a partition leader just appended a transaction marker (peer: none)
inline constexpr std::string_view txn_marker_written = "txn-marker-written";
// a group coordinator just applied the offsets a committed transaction sent (peer: the controller, whose
// loss makes a stale coordinator)
inline constexpr std::string_view group_offsets_committed = "group-offsets-committed";
// a stream thread is about to commit its transaction: its tasks' stores and their files hold what it wrote
// (peer: none)
inline constexpr std::string_view streams_commit = "streams-commit";
// a replica's log start moved (records below it are gone): retention, DeleteRecords, or a follower after its leader
inline constexpr std::string_view log_start_moved = "log-start-moved";
// the cleaner removed a tombstone (subject: its key; numbers: offset, timestamp_ms, removed_at_ms,
// delete_retention_ms, high_watermark, latest): not a moment to aim at, a fact for the history
inline constexpr std::string_view tombstone_removed = "tombstone-removed";
}  // namespace moments

// A moment the simulated code announced: which, on which node, and the other node involved, if any.
struct Moment {
    std::string_view name;  // one of moments::
    std::string node;       // the node where it happened ("broker-2")
    std::string peer;       // the other node involved (the follower added to the ISR), or empty
    std::string partition;  // the partition it concerns, or empty
    std::string_view cause;  // why, for moments with several causes (log-start-moved: retention, ...)
    std::string subject;     // what it is about within the partition, if anything (tombstone-removed: the key)
    // Numbers that describe it, by name (log-start-moved: from, to, high_watermark, limit).
    std::vector<std::pair<std::string_view, std::int64_t>> numbers;
};

// What the harness saw across nodes, for invariants no single node can check: who claimed what (one
// leader per partition and epoch) and the highest value anyone reached (the newest metadata any broker
// applied). Harness state, not simulated state: it survives crashes and never steers a run.
class Witness {
public:
    // `owner` claims `what` (for example "leader of t-0 in epoch 3"); another owner's claim of the same
    // thing breaks the invariant `invariant`. The same owner may claim it again.
    void claim(std::string_view invariant, const std::string& what, const std::string& owner);
    // Records that `value` of `what` was reached; returns the highest so far.
    std::int64_t raise(const std::string& what, std::int64_t value);
    [[nodiscard]] std::int64_t highest(const std::string& what) const;
    // Counts one more `what` (a power loss, an unclean election); how many so far (0 for none).
    void tally(const std::string& what) { ++tallies_[what]; }
    // A list of facts under a name (offset and text), in the order noted: for example the tombstones
    // leaders' cleaners removed from a partition.
    void note(const std::string& list, std::int64_t number, std::string text) {
        notes_[list].emplace_back(number, std::move(text));
    }
    [[nodiscard]] const std::vector<std::pair<std::int64_t, std::string>>& notes(const std::string& list) const {
        static const std::vector<std::pair<std::int64_t, std::string>> none;
        const auto found = notes_.find(list);
        return found != notes_.end() ? found->second : none;
    }
    [[nodiscard]] std::int64_t tallied(const std::string& what) const {
        const auto found = tallies_.find(what);
        return found != tallies_.end() ? found->second : 0;
    }

    // The simulated code announces a moment; every listener hears it at once, in the announcing fiber
    // (a listener only takes note: it never suspends, and never steers the simulated code).
    void announce(const Moment& moment);
    using MomentListener = std::function<void(const Moment&)>;
    // Starts listening; the id to stop with.
    [[nodiscard]] std::uint64_t listen(MomentListener listener);
    void unlisten(std::uint64_t id);

private:
    std::map<std::string, std::string, std::less<>> claims_;
    std::map<std::string, std::int64_t, std::less<>> highest_;
    std::map<std::string, std::int64_t, std::less<>> tallies_;
    std::map<std::string, std::vector<std::pair<std::int64_t, std::string>>, std::less<>> notes_;
    std::map<std::uint64_t, MomentListener> listeners_;  // by id: heard in the order they listened
    std::uint64_t next_listener_ = 1;
};

}  // namespace eosim::sim

// Checks an invariant; `detail` (a std::string expression) is evaluated only when it is broken.
#define EOSIM_INVARIANT(condition, name, detail)                  \
    do {                                                          \
        if (!(condition)) [[unlikely]] {                          \
            ::eosim::sim::invariant_failed((name), (detail));     \
        }                                                         \
    } while (false)
