#include "faults/fault_plan.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

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
        {FaultKind::crash_instance, "crash-instance",
         "an application instance (group member, ctp or stream instance) crashes and restarts after a while "
         "(drawn from the workload's instance_faults_every_ms)"},
        {FaultKind::pause_instance, "pause-instance", "an application instance stops for a while"},
        {FaultKind::clock_jump, "clock-jump",
         "one node's clock steps forward or back (up to 30 s); it steps back after a while (an NTP correction)"},
        {FaultKind::clock_drift, "clock-drift", "one node's clock runs fast or slow (up to 20%) for a while"},
        {FaultKind::slow_disk, "slow-disk", "every fsync of one broker stalls (5-500 ms) for a while"},
        {FaultKind::disk_full, "disk-full",
         "one broker's disk fills up: a write fails and the broker takes its log directory offline (halts); "
         "room comes back and it restarts after a while"},
        {FaultKind::flap, "flap", "the link between two nodes goes down and up again and again for a while"},
        {FaultKind::slow_link, "slow-link", "one node's messages to another take longer (5 ms-1 s) for a while, one way"},
        {FaultKind::slow_node, "slow-node", "one node stalls for moments again and again for a while (GC pauses)"},
        {FaultKind::crash_rack, "crash-rack",
         "the brokers of one rack lose power at once (unsynced bytes as in power-loss); they restart after a while"},
        {FaultKind::narrow_link, "narrow-link",
         "one node's messages to another go through at 1 KiB/s-1 MiB/s for a while, one way (a saturated link)"},
        {FaultKind::corrupt_file, "corrupt-file",
         "one broker crashes and a bit flips in one of its other files (a checkpoint, a producer-state snapshot, "
         "a transaction index); it restarts after a while and must see the damage"},
    };
    return kinds;
}

bool on_instance(FaultKind kind) {
    return kind == FaultKind::crash_instance || kind == FaultKind::pause_instance;
}

bool targets_any_node(FaultKind kind) {
    switch (kind) {
        case FaultKind::partition:
        case FaultKind::partition_one_way:
        case FaultKind::isolate:
        case FaultKind::split:
        case FaultKind::bridge:
        case FaultKind::reset:
        case FaultKind::flap:
        case FaultKind::slow_link:
        case FaultKind::narrow_link:
        case FaultKind::clock_jump:
        case FaultKind::clock_drift:
        case FaultKind::slow_node: return true;
        default: return false;
    }
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
        case FaultKind::corrupt_file:
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
        case FaultKind::partition_one_way:
        case FaultKind::flap:
        case FaultKind::slow_link:
        case FaultKind::narrow_link: {
            const std::vector<std::string> pair = draw_subset(random, everyone, 2);
            action.targets = {pair[0]};
            action.other_side = {pair[1]};
            if (action.kind == FaultKind::flap) {
                action.period = random.duration_between(std::chrono::milliseconds(20), std::chrono::milliseconds(500));
            } else if (action.kind == FaultKind::slow_link) {
                action.extra_latency = random.duration_between(std::chrono::milliseconds(5), std::chrono::seconds(1));
            } else if (action.kind == FaultKind::narrow_link) {
                action.bytes_per_second = std::uint64_t{1024} << random.below(11);  // 1 KiB/s to 1 MiB/s
            }
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
        case FaultKind::crash_instance:
        case FaultKind::pause_instance:
            EOSIM_ASSERT_MSG(false, "instance faults are drawn by draw_instance_faults");
            break;
        case FaultKind::clock_jump: {
            action.targets = draw_subset(random, everyone, 1);
            // Mostly small steps (an NTP slew gone wrong), sometimes large ones (an operator, a VM resumed).
            const sim::Duration most = random.below(4) == 0 ? std::chrono::seconds(30) : std::chrono::seconds(2);
            action.clock_step = random.duration_between(std::chrono::milliseconds(10), most);
            if (random.below(2) == 0) {
                action.clock_step = -action.clock_step;
            }
            break;
        }
        case FaultKind::clock_drift:
            action.targets = draw_subset(random, everyone, 1);
            action.drift_ppm = random.between(1'000, 200'000) * (random.below(2) == 0 ? 1 : -1);
            break;
        case FaultKind::slow_disk:
            action.targets = draw_subset(random, brokers, 1);
            action.extra_latency = random.duration_between(std::chrono::milliseconds(5), std::chrono::milliseconds(500));
            break;
        case FaultKind::disk_full:
            action.targets = draw_subset(random, brokers, 1);
            action.free_bytes = random.below(2048);  // a batch or two: the next writes fail soon
            break;
        case FaultKind::slow_node:
            action.targets = draw_subset(random, everyone, 1);
            action.extra_latency = random.duration_between(std::chrono::milliseconds(5), std::chrono::milliseconds(200));
            action.period = random.duration_between(std::chrono::milliseconds(20), std::chrono::milliseconds(500));
            break;
        case FaultKind::crash_rack: {
            const std::size_t racks = std::max<std::size_t>(1, options.racks);
            const std::size_t rack = random.below(racks);
            for (std::size_t i = rack; i < brokers.size(); i += racks) {
                action.targets.push_back(brokers[i]);
            }
            action.unsynced = options.power_loss_unsynced;
            break;
        }
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

FaultPlan draw_instance_faults(sim::Random random, const InstanceFaultOptions& options,
                               const std::vector<std::string>& instances) {
    FaultPlan plan;
    if (instances.empty() || options.every_max <= sim::Duration::zero()) {
        return plan;
    }
    // Whole milliseconds, as a hand-written plan would have them.
    const auto draw_ms = [&random](sim::Duration least, sim::Duration most) {
        return sim::Duration(std::chrono::milliseconds(
            random.between(std::chrono::duration_cast<std::chrono::milliseconds>(least).count(),
                           std::chrono::duration_cast<std::chrono::milliseconds>(most).count())));
    };
    sim::Duration at{0};
    while (true) {
        at += draw_ms(options.every_min, options.every_max);
        if (at >= options.chaos) {
            return plan;
        }
        FaultAction action;
        action.at = at;
        action.targets = {instances[static_cast<std::size_t>(random.below(instances.size()))]};
        action.duration = draw_ms(options.length_min, options.length_max);
        action.kind = random.below(2) == 0 ? FaultKind::crash_instance : FaultKind::pause_instance;
        action.corrupt_state = action.kind == FaultKind::crash_instance && options.corrupt_state;
        action.unsynced = sim::UnsyncedFate::keep;
        plan.actions.push_back(std::move(action));
    }
}

FaultPlan merge(FaultPlan first, const FaultPlan& second) {
    first.actions.insert(first.actions.end(), second.actions.begin(), second.actions.end());
    std::stable_sort(first.actions.begin(), first.actions.end(),
                     [](const FaultAction& a, const FaultAction& b) { return a.at < b.at; });
    return first;
}

namespace {

nlohmann::json milliseconds(sim::Duration duration) {
    const std::int64_t ns = duration.count();
    if (ns % 1'000'000 == 0) {
        return ns / 1'000'000;
    }
    return static_cast<double>(ns) / 1e6;
}

bool crashes(FaultKind kind) {
    return kind == FaultKind::crash || kind == FaultKind::crash_several || kind == FaultKind::crash_controller ||
           kind == FaultKind::power_loss || kind == FaultKind::aimed_crash || kind == FaultKind::crash_instance ||
           kind == FaultKind::crash_rack;
}

bool takes_extra_latency(FaultKind kind) {
    return kind == FaultKind::latency_spike || kind == FaultKind::slow_disk || kind == FaultKind::slow_link ||
           kind == FaultKind::slow_node;
}

bool takes_period(FaultKind kind) { return kind == FaultKind::flap || kind == FaultKind::slow_node; }

}  // namespace

nlohmann::json to_json(const FaultAction& action) {
    nlohmann::json json{{"at_ms", milliseconds(action.at)},
                        {"kind", std::string(to_string(action.kind))},
                        {"targets", action.targets},
                        {"duration_ms", milliseconds(action.duration)}};
    if (!action.other_side.empty()) {
        json["other_side"] = action.other_side;
    }
    if (crashes(action.kind)) {
        json["unsynced"] = std::string(sim::to_string(action.unsynced));
    }
    if (aimed(action.kind)) {
        json["aim_at"] = std::string(action.aim_at);
        json["aim_window_ms"] = milliseconds(action.aim_window);
        json["aim_at_peer"] = action.aim_at_peer;
        json["aim_delay_ms"] = milliseconds(action.aim_delay);
    }
    if (takes_extra_latency(action.kind)) {
        json["extra_latency_ms"] = milliseconds(action.extra_latency);
    }
    if (action.kind == FaultKind::clock_jump) {
        json["clock_step_ms"] = milliseconds(action.clock_step);  // negative: back
    }
    if (action.kind == FaultKind::clock_drift) {
        json["drift_ppm"] = action.drift_ppm;
    }
    if (action.kind == FaultKind::disk_full) {
        json["free_bytes"] = action.free_bytes;
    }
    if (action.kind == FaultKind::narrow_link) {
        json["bytes_per_second"] = action.bytes_per_second;
    }
    if (takes_period(action.kind)) {
        json["period_ms"] = milliseconds(action.period);
    }
    if (action.kind == FaultKind::crash_instance) {
        json["corrupt_state"] = action.corrupt_state;
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

namespace {

// Reads one action's fields, naming the action and the field in every error.
class ActionReader {
public:
    ActionReader(const nlohmann::json& json, std::size_t index) : json_(json), index_(index) {
        if (!json.is_object()) {
            throw error("", "is not an object");
        }
        for (const auto& [key, value] : json.items()) {
            static const std::set<std::string> known{"at_ms",        "kind",          "targets",     "duration_ms",
                                                     "other_side",   "unsynced",      "aim_at",      "aim_window_ms",
                                                     "aim_at_peer",  "aim_delay_ms",  "extra_latency_ms",
                                                     "corrupt_state", "clock_step_ms", "drift_ppm",   "free_bytes",
                                                     "period_ms",    "bytes_per_second"};
            if (!known.contains(key)) {
                throw error(key, "is not a field of a fault action");
            }
        }
    }

    [[nodiscard]] PlanError error(const std::string& field, const std::string& what) const {
        return PlanError(fmt::format("action {}{}: {}", index_ + 1, field.empty() ? "" : " " + field, what));
    }
    [[nodiscard]] bool has(const char* field) const { return json_.contains(field); }

    sim::Duration duration(const char* field, bool required, sim::Duration otherwise = {}) const {
        return milliseconds_field(field, required, otherwise, Sign::positive);
    }
    // A step that may go back (clock_step_ms): required.
    sim::Duration signed_duration(const char* field) const {
        return milliseconds_field(field, true, {}, Sign::either);
    }
    enum class Sign : std::uint8_t { positive, either };
    sim::Duration milliseconds_field(const char* field, bool required, sim::Duration otherwise, Sign sign) const {
        if (!json_.contains(field)) {
            if (required) {
                throw error(field, "is missing");
            }
            return otherwise;
        }
        const nlohmann::json& value = json_.at(field);
        const double least = sign == Sign::either ? -86'400'000.0 : 0.0;
        if (!value.is_number() || value.get<double>() < least || value.get<double>() > 86'400'000.0) {
            throw error(field, sign == Sign::either ? "must be a number of milliseconds from -86400000 to 86400000"
                                                    : "must be a number of milliseconds from 0 to 86400000");
        }
        if (value.is_number_integer()) {
            return std::chrono::milliseconds(value.get<std::int64_t>());
        }
        return sim::Duration(std::llround(value.get<double>() * 1e6));
    }
    std::vector<std::string> names(const char* field, bool required) const {
        if (!json_.contains(field)) {
            if (required) {
                throw error(field, "is missing");
            }
            return {};
        }
        const nlohmann::json& value = json_.at(field);
        std::vector<std::string> names;
        for (const nlohmann::json& name : value.is_array() ? value : nlohmann::json::array({value})) {
            if (!name.is_string() || name.get<std::string>().empty()) {
                throw error(field, "must be a list of node names");
            }
            names.push_back(name.get<std::string>());
        }
        return names;
    }
    std::string text(const char* field) const {
        const nlohmann::json& value = json_.at(field);
        if (!value.is_string()) {
            throw error(field, "must be a string");
        }
        return value.get<std::string>();
    }
    std::int64_t integer(const char* field, std::int64_t least, std::int64_t most) const {
        if (!json_.contains(field)) {
            throw error(field, "is missing");
        }
        const nlohmann::json& value = json_.at(field);
        if (!value.is_number_integer() || value.get<std::int64_t>() < least || value.get<std::int64_t>() > most) {
            throw error(field, fmt::format("must be a whole number from {} to {}", least, most));
        }
        return value.get<std::int64_t>();
    }
    // A field only some kinds take: an error when `kind` is not among them.
    void only_for(const char* field, bool taken, const std::string& kind) const {
        if (!taken && json_.contains(field)) {
            throw error(field, fmt::format("{} takes no {}", kind, field));
        }
    }
    bool flag(const char* field) const {
        if (!json_.contains(field)) {
            return false;
        }
        if (!json_.at(field).is_boolean()) {
            throw error(field, "must be true or false");
        }
        return json_.at(field).get<bool>();
    }

private:
    const nlohmann::json& json_;
    std::size_t index_;
};

// How many targets (and far-side nodes) each kind takes: {least, most}.
constexpr std::size_t any_number = SIZE_MAX;
struct Arity {
    std::size_t targets_min, targets_max, other_min, other_max;
};

Arity arity(FaultKind kind) {
    switch (kind) {
        case FaultKind::partition:
        case FaultKind::partition_one_way:
        case FaultKind::flap:
        case FaultKind::slow_link:
        case FaultKind::narrow_link: return {1, 1, 1, 1};
        case FaultKind::split: return {1, any_number, 1, any_number};
        case FaultKind::bridge: return {2, any_number, 1, any_number};
        case FaultKind::crash_several:
        case FaultKind::crash_rack:
        case FaultKind::power_loss: return {1, any_number, 0, 0};
        default: return {1, 1, 0, 0};
    }
}

}  // namespace

FaultPlan plan_from_json(const nlohmann::json& json) {
    if (!json.is_object() || !json.contains("actions") || !json.at("actions").is_array()) {
        throw PlanError("a fault plan is an object with an array \"actions\"");
    }
    for (const auto& [key, value] : json.items()) {
        if (key != "actions") {
            throw PlanError(fmt::format("'{}' is not a field of a fault plan (only \"actions\")", key));
        }
    }
    FaultPlan plan;
    const nlohmann::json& actions = json.at("actions");
    for (std::size_t i = 0; i < actions.size(); ++i) {
        const ActionReader read(actions[i], i);
        FaultAction action;
        if (!read.has("kind")) {
            throw read.error("kind", "is missing");
        }
        const std::string kind = read.text("kind");
        if (!parse_fault_kind(kind, action.kind)) {
            throw read.error("kind", fmt::format("unknown fault kind '{}' (see eosim list --faults)", kind));
        }
        action.at = read.duration("at_ms", true);
        if (!plan.actions.empty() && action.at < plan.actions.back().at) {
            throw read.error("at_ms", "comes before the action above it (a plan is in time order)");
        }
        action.duration = read.duration("duration_ms", false, std::chrono::milliseconds(1000));
        action.targets = read.names("targets", action.kind != FaultKind::latency_spike);
        action.other_side = read.names("other_side", false);
        const Arity want = arity(action.kind);
        const auto count_ok = [](std::size_t n, std::size_t least, std::size_t most) { return n >= least && n <= most; };
        if (action.kind != FaultKind::latency_spike && !count_ok(action.targets.size(), want.targets_min, want.targets_max)) {
            throw read.error("targets", fmt::format("{} takes {} node{}", kind,
                                                    want.targets_max == want.targets_min
                                                        ? std::to_string(want.targets_min)
                                                        : fmt::format("at least {}", want.targets_min),
                                                    want.targets_min == 1 && want.targets_max == 1 ? "" : "s"));
        }
        if (!count_ok(action.other_side.size(), want.other_min, want.other_max)) {
            throw read.error("other_side", want.other_min == 0
                                               ? fmt::format("{} has no far side", kind)
                                               : fmt::format("{} needs the far side's node{}", kind,
                                                             want.other_max == 1 ? "" : "s"));
        }
        if (read.has("unsynced")) {
            const std::string fate = read.text("unsynced");
            if (!sim::parse_unsynced_fate(fate, action.unsynced)) {
                throw read.error("unsynced", fmt::format("'{}' is not keep, lose, tear or random", fate));
            }
        }
        if (aimed(action.kind)) {
            if (!read.has("aim_at")) {
                throw read.error("aim_at", "is missing (an aimed kind waits for a moment: see eosim list --faults)");
            }
            const std::string moment = read.text("aim_at");
            if (!parse_aim_moment(moment, action.aim_at)) {
                throw read.error("aim_at", fmt::format("unknown moment '{}' (see eosim list --faults)", moment));
            }
            action.aim_window = read.duration("aim_window_ms", false, std::chrono::milliseconds(2000));
            action.aim_at_peer = read.flag("aim_at_peer");
            action.aim_delay = read.duration("aim_delay_ms", false);
        } else if (read.has("aim_at") || read.has("aim_window_ms") || read.has("aim_at_peer") || read.has("aim_delay_ms")) {
            throw read.error("aim_at", fmt::format("{} is not an aimed kind", kind));
        }
        read.only_for("extra_latency_ms", takes_extra_latency(action.kind), kind);
        action.extra_latency = read.duration("extra_latency_ms", takes_extra_latency(action.kind));
        read.only_for("clock_step_ms", action.kind == FaultKind::clock_jump, kind);
        if (action.kind == FaultKind::clock_jump) {
            action.clock_step = read.signed_duration("clock_step_ms");
        }
        read.only_for("drift_ppm", action.kind == FaultKind::clock_drift, kind);
        if (action.kind == FaultKind::clock_drift) {
            action.drift_ppm = read.integer("drift_ppm", -500'000, 500'000);
        }
        read.only_for("free_bytes", action.kind == FaultKind::disk_full, kind);
        if (action.kind == FaultKind::disk_full) {
            action.free_bytes = static_cast<std::uint64_t>(read.integer("free_bytes", 0, std::int64_t{1} << 40));
        }
        read.only_for("bytes_per_second", action.kind == FaultKind::narrow_link, kind);
        if (action.kind == FaultKind::narrow_link) {
            action.bytes_per_second =
                static_cast<std::uint64_t>(read.integer("bytes_per_second", 1, std::int64_t{1} << 40));
        }
        read.only_for("period_ms", takes_period(action.kind), kind);
        if (takes_period(action.kind)) {
            action.period = read.duration("period_ms", true);
            if (action.period <= sim::Duration::zero()) {
                throw read.error("period_ms", "must be more than 0");
            }
        }
        action.corrupt_state = read.flag("corrupt_state");
        if (action.corrupt_state && action.kind != FaultKind::crash_instance) {
            throw read.error("corrupt_state", "only a crash-instance corrupts an instance's state");
        }
        plan.actions.push_back(std::move(action));
    }
    return plan;
}

}  // namespace eosim::faults
