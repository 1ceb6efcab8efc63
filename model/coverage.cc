// Which checkers a history gives something to check (checker_families).
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "model/checkers.h"

namespace eosim::model {

std::vector<CheckerFamily> checker_families(const History& history) {
    std::map<std::string, std::size_t> ops;  // f -> completions and single-line ops
    std::set<std::string> groups;
    std::set<std::string> transactions;
    for (const Operation& op : history.operations) {
        // Sends by their invocations, everything else by its completions (and single-line operations).
        if ((op.f == "send") == (op.type == OpType::invoke)) {
            ++ops[op.f];
        }
        if (op.group) {
            groups.insert(*op.group);
        }
        if (op.f == "begin" && op.txn) {
            transactions.insert(*op.txn);
        }
    }
    const auto count = [&ops](const std::string& f) {
        const auto found = ops.find(f);
        return found == ops.end() ? std::size_t{0} : found->second;
    };
    std::set<std::string> partitions;
    std::map<std::string, std::size_t> replicas_of;
    std::size_t with_batches = 0;
    std::size_t compacted = 0;
    for (const ReplicaState& replica : history.replicas) {
        partitions.insert(replica.partition);
        ++replicas_of[replica.partition];
        with_batches += replica.batches.empty() ? 0U : 1U;
        compacted += replica.compacted ? 1U : 0U;
    }
    const bool several = std::any_of(replicas_of.begin(), replicas_of.end(), [](const auto& entry) { return entry.second > 1; });
    std::vector<CheckerFamily> families;
    const auto family = [&families](std::string name, std::vector<std::string> anomalies, std::string found) {
        families.push_back(CheckerFamily{std::move(name), std::move(anomalies), std::move(found)});
    };
    const std::size_t sends = count("send");
    const std::size_t polls = count("poll");
    family("log", {"duplicate", "inconsistent-offsets", "nonmonotonic-send", "nonmonotonic-poll", "poll-skip", "stuck"},
           sends + polls == 0 ? "" : fmt::format("{} sends, {} polls", sends, polls));
    family("committed logs", {"lost-write", "vanished-read", "compaction-consistency"},
           partitions.empty() ? "" : fmt::format("{} partitions{}", partitions.size(),
                                                 compacted > 0 ? fmt::format(", {} compacted replicas", compacted) : ""));
    family("replicas", {"replica-divergence"},
           several ? fmt::format("{} replicas of {} partitions", history.replicas.size(), partitions.size()) : "");
    family("batch headers", {"zombie-write", "hanging-transaction"},
           with_batches == 0 ? "" : fmt::format("{} replicas with batch headers", with_batches));
    family("transactions", {"aborted-read", "uncommitted-read", "torn-transaction", "spurious-fence"},
           transactions.empty() ? "" : fmt::format("{} transactions", transactions.size()));
    family("groups", {"split-ownership", "nonmonotonic-commit", "zombie-commit", "skipped-delivery"},
           groups.empty() ? "" : fmt::format("{} groups", groups.size()));
    const std::size_t apps = count("ctp-final") + count("stream-final");
    family("applications", {"eos-output-mismatch", "state-mismatch"},
           apps == 0 ? "" : fmt::format("{} consume-transform-produce or stream applications", apps));
    const std::size_t deletes = count("delete-records");
    family("removals", {"illegal-removal", "undone-delete"},
           history.removals.empty() && deletes == 0
               ? ""
               : fmt::format("{} removal lines, {} DeleteRecords", history.removals.size(), deletes));
    family("health", {"unavailable"}, history.health.empty() ? "" : fmt::format("{} health lines", history.health.size()));
    return families;
}

}  // namespace eosim::model
