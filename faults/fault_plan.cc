#include "faults/fault_plan.h"

#include <algorithm>

#include "sim/invariants.h"

namespace eosim::faults {

const std::vector<FaultKindInfo>& fault_kinds() {
    static const std::vector<FaultKindInfo> kinds{
        {FaultKind::crash, "crash", "one broker's process dies; it restarts after a while (unsynced bytes: per scenario)"},
        {FaultKind::crash_several, "crash-several", "two brokers die at once and restart after a while"},
        {FaultKind::crash_controller, "crash-controller", "the controller dies and restarts after a while"},
        {FaultKind::power_loss, "power-loss", "every broker loses power at once: unsynced bytes are lost or torn"},
        {FaultKind::pause, "pause", "a stop-the-world pause of one broker (a zombie in the making)"},
        {FaultKind::partition, "partition", "two nodes cannot talk to each other, both ways"},
        {FaultKind::partition_one_way, "partition-one-way", "one node's messages no longer reach another"},
        {FaultKind::isolate, "isolate", "one node talks to nobody"},
        {FaultKind::split, "split", "the brokers and the controller split into two halves"},
        {FaultKind::bridge, "bridge", "two halves that cannot talk, both talking to one node in the middle"},
        {FaultKind::reset, "reset", "every connection of one node is reset"},
        {FaultKind::latency_spike, "latency-spike", "every message takes longer for a while"},
        {FaultKind::corrupt, "corrupt", "a bit flips in a durable byte of one broker's log segment (latent corruption)"},
        {FaultKind::lose_segment, "lose-segment",
         "one broker crashes and its disk comes back without a sealed log segment (between two others); restarts "
         "after a while"},
        {FaultKind::aimed_crash, "aimed-crash",
         "waits for a moment (see below), then crashes the broker involved or its peer (unsynced bytes: per scenario)"},
        {FaultKind::aimed_pause, "aimed-pause", "waits for a moment, then pauses the broker involved or its peer"},
        {FaultKind::aimed_partition, "aimed-partition",
         "waits for a moment, then cuts the broker involved from its peer (no peer: from everyone)"},
    };
    return kinds;
}

bool aimed(FaultKind kind) {
    return kind == FaultKind::aimed_crash || kind == FaultKind::aimed_pause || kind == FaultKind::aimed_partition;
}

const std::vector<MomentInfo>& aim_moments() {
    static const std::vector<MomentInfo> moments{
        {sim::moments::leader_elected, "a broker just became a partition's leader (peer: none)"},
        {sim::moments::isr_expanded, "a leader's ISR just grew (peer: the follower added)"},
        {sim::moments::recovery, "a restarted broker just recovered a partition's log from disk (peer: none)"},
        {sim::moments::cleaner_pass, "the cleaner just rewrote segments of a compacted log (peer: none)"},
        {sim::moments::txn_prepared,
         "a transaction coordinator just logged PrepareCommit or PrepareAbort, its markers not yet written (peer: none)"},
        {sim::moments::txn_marker_written, "a partition leader just appended a transaction marker (peer: none)"},
        {sim::moments::group_offsets_committed,
         "a group coordinator just applied a committed transaction's offsets (peer: the controller)"},
        {sim::moments::streams_commit,
         "a stream thread is about to commit its transaction, its stores' files holding what it wrote (peer: none)"},
        {sim::moments::log_start_moved,
         "retention, DeleteRecords or a follower taking its leader's just moved a log start (peer: the leader, on a follower)"},
    };
    return moments;
}

bool parse_aim_moment(std::string_view name, std::string_view& moment) {
    for (const MomentInfo& info : aim_moments()) {
        if (info.name == name) {
            moment = info.name;
            return true;
        }
    }
    return false;
}

std::string_view to_string(FaultKind kind) {
    for (const FaultKindInfo& info : fault_kinds()) {
        if (info.kind == kind) {
            return info.name;
        }
    }
    return "unknown";
}

bool parse_fault_kind(std::string_view name, FaultKind& kind) {
    for (const FaultKindInfo& info : fault_kinds()) {
        if (info.name == name) {
            kind = info.kind;
            return true;
        }
    }
    return false;
}

namespace {

std::vector<std::string> draw_subset(sim::Random& random, std::vector<std::string> names, std::size_t count) {
    random.shuffle(names);
    names.resize(std::min(count, names.size()));
    return names;
}

}  // namespace

namespace {

// An aimed action's moment (uniform among the options' moments, or among all of them) and whether it
// hits the moment's peer.
void draw_aim(sim::Random& random, const FaultPlanOptions& options, FaultAction& action) {
    std::vector<std::string_view> moments = options.aim_at;
    if (moments.empty()) {
        for (const MomentInfo& info : aim_moments()) {
            moments.push_back(info.name);
        }
    }
    action.aim_at = random.pick(moments);
    action.aim_window = options.aim_window;
    action.aim_at_peer = random.below(2) == 1;
    action.aim_delay = random.duration_between(options.aim_delay_min, options.aim_delay_max);
}

// The targets (and kind-specific parameters) of an action whose time, kind and duration are drawn.
void draw_targets(sim::Random& random, const FaultPlanOptions& options, const std::vector<std::string>& brokers,
                  const std::vector<std::string>& everyone, FaultAction& action) {
    switch (action.kind) {
        case FaultKind::crash:
        case FaultKind::pause:
        case FaultKind::corrupt:
        case FaultKind::lose_segment:
            action.targets = draw_subset(random, brokers, 1);
            action.unsynced = options.crash_unsynced;
            break;
        case FaultKind::crash_several:
            action.targets = draw_subset(random, brokers, 2);
            action.unsynced = options.crash_unsynced;
            break;
        case FaultKind::crash_controller:
            action.targets = {everyone.back()};
            action.unsynced = options.crash_unsynced;  // the controller loses its unsynced tail like a broker
            break;
        case FaultKind::power_loss:
            action.targets = brokers;
            action.unsynced = options.power_loss_unsynced;
            break;
        case FaultKind::partition:
        case FaultKind::partition_one_way: {
            const std::vector<std::string> pair = draw_subset(random, everyone, 2);
            action.targets = {pair[0]};
            action.other_side = {pair[1]};
            break;
        }
        case FaultKind::isolate:
        case FaultKind::reset: action.targets = draw_subset(random, everyone, 1); break;
        case FaultKind::split: {
            std::vector<std::string> shuffled = draw_subset(random, everyone, everyone.size());
            const std::size_t cut = 1 + random.below(shuffled.size() - 1);
            action.targets.assign(shuffled.begin(), shuffled.begin() + static_cast<std::ptrdiff_t>(cut));
            action.other_side.assign(shuffled.begin() + static_cast<std::ptrdiff_t>(cut), shuffled.end());
            break;
        }
        case FaultKind::bridge: {
            std::vector<std::string> shuffled = draw_subset(random, everyone, everyone.size());
            action.targets = {shuffled.front()};  // the bridge
            for (std::size_t i = 1; i < shuffled.size(); ++i) {
                (i % 2 == 0 ? action.other_side : action.targets).push_back(shuffled[i]);
            }
            break;
        }
        case FaultKind::latency_spike:
            action.extra_latency = random.duration_between(std::chrono::milliseconds(5), std::chrono::milliseconds(300));
            break;
        case FaultKind::aimed_crash:
        case FaultKind::aimed_pause:
        case FaultKind::aimed_partition:
            action.targets = draw_subset(random, brokers, 1);  // if the moment does not come in time
            action.unsynced = options.crash_unsynced;
            draw_aim(random, options, action);
            break;
    }
}

}  // namespace

FaultPlan draw_fault_plan(sim::Random random, const FaultPlanOptions& options, const std::vector<std::string>& brokers,
                          const std::string& controller) {
    FaultPlan plan;
    if (options.kinds.empty() || brokers.empty()) {
        return plan;
    }
    std::vector<std::string> everyone = brokers;
    everyone.push_back(controller);  // last
    sim::Duration at = random.duration_between(options.interval_min, options.interval_max);
    while (at < options.chaos) {
        FaultAction action;
        action.at = at;
        action.kind = random.pick(options.kinds);
        action.duration = random.duration_between(options.duration_min, options.duration_max);
        draw_targets(random, options, brokers, everyone, action);
        plan.actions.push_back(std::move(action));
        at += random.duration_between(options.interval_min, options.interval_max);
    }
    return plan;
}

nlohmann::json to_json(const FaultAction& action) {
    nlohmann::json json{{"at_ms", action.at.count() / 1'000'000},
                        {"kind", std::string(to_string(action.kind))},
                        {"targets", action.targets},
                        {"duration_ms", action.duration.count() / 1'000'000}};
    if (!action.other_side.empty()) {
        json["other_side"] = action.other_side;
    }
    if (action.kind == FaultKind::crash || action.kind == FaultKind::crash_several ||
        action.kind == FaultKind::crash_controller || action.kind == FaultKind::power_loss ||
        action.kind == FaultKind::aimed_crash) {
        json["unsynced"] = std::string(sim::to_string(action.unsynced));
    }
    if (aimed(action.kind)) {
        json["aim_at"] = std::string(action.aim_at);
        json["aim_window_ms"] = action.aim_window.count() / 1'000'000;
        json["aim_at_peer"] = action.aim_at_peer;
        json["aim_delay_ms"] = action.aim_delay.count() / 1'000'000;
    }
    if (action.kind == FaultKind::latency_spike) {
        json["extra_latency_ms"] = action.extra_latency.count() / 1'000'000;
    }
    return json;
}

nlohmann::json to_json(const FaultPlan& plan) {
    nlohmann::json actions = nlohmann::json::array();
    for (const FaultAction& action : plan.actions) {
        actions.push_back(to_json(action));
    }
    return nlohmann::json{{"actions", actions}};
}

}  // namespace eosim::faults
