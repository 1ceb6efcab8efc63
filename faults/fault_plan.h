#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/disk.h"
#include "sim/random.h"
#include "sim/time.h"

namespace eosim::faults {

// The kinds of fault a plan can hold. `eosim list --faults` prints them with their descriptions.
enum class FaultKind : std::uint8_t {
    crash,              // one broker's process dies, restarts after the duration
    crash_several,      // two brokers die together, restart after the duration
    crash_controller,   // the controller dies, restarts after the duration
    power_loss,         // every broker loses power at once (unsynced bytes lost or torn)
    pause,              // a stop-the-world pause of one broker
    partition,          // two nodes cannot talk, both ways
    partition_one_way,  // one node's messages no longer reach another
    isolate,            // one node talks to nobody
    split,              // the brokers and the controller split into two halves
    bridge,             // two halves that both talk to one node in the middle
    reset,              // every connection of one node is reset
    latency_spike,      // every message takes longer for a while
    corrupt,            // one bit flips in a durable byte of a broker's log segment
    lose_segment,       // a broker crashes and its disk comes back without one sealed log segment
    aimed_crash,        // waits for a moment (sim::moments), then crashes the broker involved
    aimed_pause,        // waits for a moment, then pauses the broker involved
    aimed_partition,    // waits for a moment, then cuts the broker involved from its peer (or from everyone)
    crash_instance,     // a client application instance (group member, ctp instance, stream instance) crashes
    pause_instance,     // a client application instance stops for a while
    clock_jump,         // one node's clock steps forward or back, and steps back after the duration
    clock_drift,        // one node's clock runs fast or slow for the duration
    slow_disk,          // every fsync of one broker stalls for the duration
    disk_full,          // one broker's disk fills up (a failed write halts the broker); room comes back later
    flap,               // the link between two nodes goes down and up again and again
    slow_link,          // one node's messages to another take longer for the duration (one way)
    slow_node,          // one node stalls again and again for the duration (GC pauses, a starved CPU)
    crash_rack,         // the brokers of one rack lose power at once, restart after the duration
    narrow_link,        // one node's messages to another go through at a limited bandwidth (one way)
    corrupt_file,       // a broker crashes and a bit flips in one of its files that is no log segment
};

struct FaultKindInfo {
    FaultKind kind;
    std::string_view name;
    std::string_view description;
};

const std::vector<FaultKindInfo>& fault_kinds();
std::string_view to_string(FaultKind kind);
// The kind named `name`, or false.
bool parse_fault_kind(std::string_view name, FaultKind& kind);
// Whether the kind waits for a moment before it hurts the broker involved.
[[nodiscard]] bool aimed(FaultKind kind);
// Whether the kind hurts a client application instance (the runner applies these, not the nemesis).
[[nodiscard]] bool on_instance(FaultKind kind);
// Whether a plan may aim the kind at any node, clients included (links, clocks, slow nodes), rather than
// only at brokers or the controller.
[[nodiscard]] bool targets_any_node(FaultKind kind);

struct MomentInfo {
    std::string_view name;  // as the simulated code announces it (sim::moments)
    std::string_view description;
};

// The moments aimed kinds can wait for, with descriptions (`eosim list --faults`).
const std::vector<MomentInfo>& aim_moments();
// The moment named `name` (its name, with static storage), or false.
bool parse_aim_moment(std::string_view name, std::string_view& moment);

// One timed action of a plan. Targets are node names ("broker-2", "controller").
struct FaultAction {
    sim::Duration at{0};
    FaultKind kind = FaultKind::crash;
    std::vector<std::string> targets;
    std::vector<std::string> other_side;  // split, bridge, partition: the far side
    sim::Duration duration{0};            // how long until it heals (restart, unpause, reconnect)
    sim::UnsyncedFate unsynced = sim::UnsyncedFate::keep;  // crashes and power loss
    sim::Duration extra_latency{0};       // latency spikes, slow links; slow disks: each fsync's stall; slow nodes: each stall
    sim::Duration clock_step{0};          // clock jumps: the step (negative: back)
    std::int64_t drift_ppm = 0;           // clock drift: parts per million (negative: slow)
    std::uint64_t free_bytes = 0;         // disk-full: the room left when it fills
    std::uint64_t bytes_per_second = 0;   // narrow-link: the link's bandwidth
    sim::Duration period{0};              // flapping links: each down and up phase; slow nodes: between stalls
    // Aimed kinds: the moment waited for, how long at most (then the fault hits `targets` at once), and
    // whether it hits the moment's peer (when it has one) rather than the broker where it happened.
    std::string_view aim_at;
    sim::Duration aim_window{0};
    bool aim_at_peer = false;
    sim::Duration aim_delay{0};  // how long after the moment it hits (the moment's aftermath)
    bool corrupt_state = false;  // crash-instance: first flip a bit in a checkpointed state file
};

struct FaultPlan {
    std::vector<FaultAction> actions;  // in time order
};

// What a plan is drawn from (a scenario's [faults] table).
struct FaultPlanOptions {
    std::vector<FaultKind> kinds;
    sim::Duration chaos{std::chrono::seconds(10)};
    sim::Duration interval_min{std::chrono::milliseconds(200)};
    sim::Duration interval_max{std::chrono::milliseconds(2000)};
    sim::Duration duration_min{std::chrono::milliseconds(100)};
    sim::Duration duration_max{std::chrono::milliseconds(3000)};
    sim::UnsyncedFate crash_unsynced = sim::UnsyncedFate::random;
    sim::UnsyncedFate power_loss_unsynced = sim::UnsyncedFate::random;
    // Aimed kinds: the moments to draw from (empty: every moment of aim_moments()), and how long an
    // aimed fault waits for its moment.
    std::vector<std::string_view> aim_at;
    sim::Duration aim_window{std::chrono::milliseconds(2000)};
    // How long after its moment an aimed fault hits: a uniform draw per action.
    sim::Duration aim_delay_min{0};
    sim::Duration aim_delay_max{0};
    // How many racks the brokers stand in (crash-rack): broker i (from 0) in rack i mod racks.
    std::size_t racks = 2;
};

// Draws a plan: actions at random intervals over the chaos phase, each of a random kind among
// `options.kinds` with random targets among `brokers` (and `controller`).
FaultPlan draw_fault_plan(sim::Random random, const FaultPlanOptions& options, const std::vector<std::string>& brokers,
                          const std::string& controller);

// What the application instances' faults are drawn from (a scenario's workload table).
struct InstanceFaultOptions {
    sim::Duration chaos{std::chrono::seconds(10)};
    sim::Duration every_min{0};  // the gap between two faults: a uniform draw
    sim::Duration every_max{0};
    sim::Duration length_min{0};  // how long a crashed instance stays down, or a paused one stopped
    sim::Duration length_max{0};
    bool corrupt_state = false;  // every crash first flips a bit in the instance's checkpointed state
};

// Draws the instances' faults over the chaos phase: after each gap, one of `instances` crashes or pauses
// (even odds). Nothing when `instances` is empty or every_max is zero.
FaultPlan draw_instance_faults(sim::Random random, const InstanceFaultOptions& options,
                               const std::vector<std::string>& instances);
// Both plans' actions in one plan, in time order (stable: `first`'s before `second`'s at the same time).
FaultPlan merge(FaultPlan first, const FaultPlan& second);

// Times are written in milliseconds: whole numbers when whole, else with the nanoseconds as a fraction, so
// that a plan read back is the plan written, to the nanosecond.
nlohmann::json to_json(const FaultAction& action);
nlohmann::json to_json(const FaultPlan& plan);

// A plan file (or a result's fault plan) that cannot be read: what and where, in one line.
class PlanError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Reads a plan as to_json writes it ({"actions": [...]}); every field but at_ms, kind and targets may be
// left out (docs/faults.md gives the defaults). Throws PlanError naming the action and the field.
FaultPlan plan_from_json(const nlohmann::json& json);

}  // namespace eosim::faults
