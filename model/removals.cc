// illegal-removal: what brokers removed on purpose (removal lines) was allowed, and every replica's log
// start is explained by such removals, so the checkers that exempt records below a log start exempt exactly
// what was removed on purpose (docs/anomalies.md).

#include <algorithm>

#include <fmt/format.h>

#include "model/checkers.h"

namespace eosim::model {
namespace {

nlohmann::json removal_evidence(const Removal& removal) {
    nlohmann::json json = {{"time", removal.time},           {"replica", removal.replica}, {"cause", removal.cause},
                           {"from", removal.from},           {"to", removal.to},
                           {"high_watermark", removal.high_watermark}};
    if (removal.limit >= 0) {
        json["limit"] = removal.limit;
    }
    if (removal.cause == "cleaner") {
        json["key"] = removal.key ? nlohmann::json(*removal.key) : nlohmann::json(nullptr);
        json["timestamp_ms"] = removal.timestamp_ms;
        json["removed_at_ms"] = removal.removed_at_ms;
        json["delete_retention_ms"] = removal.delete_retention_ms;
        json["latest"] = removal.latest;
    }
    return json;
}

Anomaly illegal(const Removal& removal, const std::string& why) {
    const std::string what =
        removal.cause == "cleaner"
            ? fmt::format("the cleaner on {} removed the tombstone at offset {} of {}", removal.replica, removal.from,
                          removal.partition)
            : fmt::format("{} on {} moved the log start of {} from {} to {}", removal.cause, removal.replica,
                          removal.partition, removal.from, removal.to);
    return Anomaly{.name = "illegal-removal",
                   .partition = removal.partition,
                   .description = fmt::format("{}: {}", what, why),
                   .evidence = {{"removal", removal_evidence(removal)}}};
}

// A removal by the partition's own rules (retention, DeleteRecords) on some replica reached `to`. Not
// necessarily before: a leader moves its log start in memory, and a follower may fetch it, before the
// leader's log start checkpoint is synced and the move announced.
bool primary_reached(const History& history, const Removal& follower) {
    return std::any_of(history.removals.begin(), history.removals.end(), [&follower](const Removal& removal) {
        return removal.partition == follower.partition &&
               (removal.cause == "retention" || removal.cause == "delete-records") && removal.to >= follower.to;
    });
}

// Why the removal was not allowed; empty when it was.
std::string disallowed(const History& history, const Removal& removal) {
    if (removal.cause == "retention") {
        return removal.to > removal.high_watermark
                   ? fmt::format("retention reached past the high watermark {}", removal.high_watermark)
                   : "";
    }
    if (removal.cause == "delete-records") {
        if (removal.limit > removal.high_watermark) {
            return fmt::format("DeleteRecords to {} was taken above the high watermark {}", removal.limit,
                               removal.high_watermark);
        }
        return removal.to > removal.limit ? fmt::format("past the offset {} DeleteRecords asked for", removal.limit)
                                          : "";
    }
    if (removal.cause == "follow-leader" || removal.cause == "fetch-out-of-range") {
        if (removal.to > removal.limit) {
            return fmt::format("past the leader's log start {}", removal.limit);
        }
        if (removal.cause == "follow-leader" && removal.to > removal.high_watermark) {
            return fmt::format("past its own high watermark {}", removal.high_watermark);
        }
        return primary_reached(history, removal) ? ""
                                                 : "no retention or DeleteRecords of the partition had reached it";
    }
    if (removal.cause == "cleaner") {
        if (removal.from >= removal.high_watermark) {
            return fmt::format("the cleaner removed a tombstone at or above the high watermark {}", removal.high_watermark);
        }
        if (removal.latest && removal.removed_at_ms - removal.timestamp_ms < removal.delete_retention_ms) {
            return fmt::format("the cleaner removed its key's latest tombstone {} ms after it was written, within "
                               "delete.retention.ms {}",
                               removal.removed_at_ms - removal.timestamp_ms, removal.delete_retention_ms);
        }
        return "";
    }
    return "an unknown cause";
}

// Every replica line's log start is reached by an allowed removal of that replica (a log starts at 0).
std::vector<Anomaly> unexplained_log_starts(const History& history, const std::vector<const Removal*>& allowed) {
    std::vector<Anomaly> found;
    for (const ReplicaState& replica : history.replicas) {
        std::int64_t explained = 0;
        for (const Removal* removal : allowed) {
            if (removal->partition == replica.partition && removal->replica == replica.replica &&
                removal->cause != "cleaner") {
                explained = std::max(explained, removal->to);
            }
        }
        if (replica.log_start_offset > explained) {
            found.push_back(Anomaly{
                .name = "illegal-removal",
                .partition = replica.partition,
                .description = fmt::format("{} of {} starts at {}, but its allowed removals reach only {}: records "
                                           "below its log start went without a recorded cause",
                                           replica.replica, replica.partition, replica.log_start_offset, explained),
                .evidence = {{"replica", replica.replica},
                             {"log_start_offset", replica.log_start_offset},
                             {"explained_to", explained}}});
        }
    }
    return found;
}

}  // namespace

// A history recorded outside eosim has neither removal nor replica lines: nothing to check.
std::vector<Anomaly> check_removals(const History& history) {
    std::vector<Anomaly> found;
    std::vector<const Removal*> allowed;
    for (const Removal& removal : history.removals) {
        const std::string why = disallowed(history, removal);
        if (why.empty()) {
            allowed.push_back(&removal);
        } else {
            found.push_back(illegal(removal, why));
        }
    }
    std::vector<Anomaly> unexplained = unexplained_log_starts(history, allowed);
    std::move(unexplained.begin(), unexplained.end(), std::back_inserter(found));
    return found;
}

}  // namespace eosim::model
