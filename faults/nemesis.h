#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "faults/cluster_probe.h"
#include "faults/fault_plan.h"
#include "sim/simulation.h"

namespace eosim::faults {

// The witness's count of power losses that lost unsynced bytes (a cause scenarios may name for allowed
// anomalies, docs/scenarios.md).
inline constexpr const char* lossy_power_losses = "power losses that lost unsynced bytes";

// The witness's counts of planned fault actions the guards held back: "deferred" (applied late, after a
// damaged replica repaired), "downgraded" (a lossy crash applied as a clean one) and "dropped" (never
// applied: the guard refused it, its target was down, or the chaos phase ended first).
inline constexpr const char* faults_deferred = "fault actions deferred";
inline constexpr const char* faults_downgraded = "fault actions downgraded";
inline constexpr const char* faults_dropped = "fault actions dropped";
// Records one dropped action: a FaultSkipped trace event saying why, and the witness's count.
void drop_fault(const char* why, std::int64_t actions = 1);

// The plain fault an aimed action stands for: a crash, pause or partition of the broker where `moment`
// happened, or of its peer when the action aims at the peer and the moment has one (a partition cuts the
// two apart, or isolates the one hit when there is no other); with no moment, of the action's own target.
[[nodiscard]] FaultAction aimed_fault(const FaultAction& action, const sim::Moment* moment);

struct NemesisOptions {
    // Faults that can lose what a replica acknowledged stay within the replication's tolerance: one at a
    // time, on a healthy cluster, spaced apart, and a damaged replica repairs before the next fault.
    bool within_tolerance = true;
    sim::Duration chaos{std::chrono::seconds(10)};  // the chaos phase: no fault starts after it
    std::vector<std::string> servers;               // the controller, then the brokers
    std::vector<std::string> clients;               // the producers, then the consumers
    // Within tolerance, a bit flip lands only where the system can see it (a checksum covers the byte):
    // a flip nothing can detect is beyond what a correct cluster recovers from. Unset: any byte.
    sim::Disk::ByteEligible detectable;
    // The files a lose-segment fault may take: log segments of logs whose recovery can tell a missing
    // segment (not compacted: a compacted log has gaps anyway). Unset: every file ending in ".log".
    std::function<bool(const std::string&)> losable;
    // Within tolerance, a corrupt-file flip lands only where the broker reading the file sees it (given the
    // file's path and its bytes before and after the flip). Unset: any bit of any file but a log segment.
    sim::Disk::FlipAccepted damage_detected;
};

// Carries out a fault plan on a simulation: crashes, restarts and pauses nodes, cuts and heals links,
// resets connections, spikes latency and flips bits on disks, each fault ending by itself after its
// duration. Its guards (docs/faults.md) ask the cluster's health of a ClusterProbe.
class Nemesis {
public:
    Nemesis(sim::Simulation& simulation, ClusterProbe& probe, NemesisOptions options);

    // Sleeps until each action's time and applies it (run it in a fiber of the world node).
    void run(const FaultPlan& plan);
    void apply(const FaultAction& action);
    // The heal phase begins: every link the nemesis cut opens, and extra latency goes.
    void heal();
    // Brokers that got a latent bit flip outside the tolerance guards: the final scrub restarts them.
    [[nodiscard]] const std::set<std::string>& corrupted() const { return corrupted_; }

    // No fault is under way or left behind (no cut link, no latency spike, no connection a partition broke
    // that an end still holds, no victim of a lossy fault still repairing) and the probe finds the cluster
    // healthy: what the availability check (`unavailable`) holds the
    // cluster to.
    [[nodiscard]] bool quiet();
    // When a fault last hit (a fault's start, or the runner's own restart of a node, noted with
    // note_fault): an instant fault such as a connection reset leaves no state for quiet() to see.
    [[nodiscard]] sim::Time last_fault() const { return last_fault_; }
    // Each change a clock fault made to a node's clock, in time order: from `time` on the node's clock read
    // true time plus `offset` plus `drift_ppm` of the time since (the history's clock lines).
    struct ClockChange {
        sim::Time time;
        std::string node;
        sim::Duration offset;
        std::int64_t drift_ppm = 0;
    };
    [[nodiscard]] const std::vector<ClockChange>& clock_changes() const { return clock_changes_; }
    void note_fault() { last_fault_ = sim::now(); }

private:
    using Links = std::vector<std::pair<sim::NodeId, sim::NodeId>>;

    [[nodiscard]] bool healthy();
    [[nodiscard]] bool repaired();
    // Whether a lossy fault may come now (and then it counts as the last one).
    bool lossy_allowed();
    // Whether lossy_allowed() would say yes now (without counting it as the last lossy fault).
    [[nodiscard]] bool lossy_allowed_soon();
    void crash(const FaultAction& action);
    void pause(const FaultAction& action);
    void partition(const FaultAction& action);
    void corrupt(const FaultAction& action);
    void lose_segment(const FaultAction& action);
    void corrupt_file(const FaultAction& action);
    // The process dies, unsynced bytes kept, and restarts after `duration`.
    void crash_for(sim::Node& victim, sim::Duration duration);
    void clock(const FaultAction& action);
    void slow_disk(const FaultAction& action);
    void disk_full(const FaultAction& action);
    void flap(const FaultAction& action);
    void slow_link(const FaultAction& action);
    void narrow_link(const FaultAction& action);
    void slow_node(const FaultAction& action);
    // An aimed action: waits (up to its window, within the chaos phase) for its moment, then applies the
    // plain fault it stands for to the broker involved or its peer; if the moment does not come, to the
    // action's own target.
    void aim(const FaultAction& action);

    // Restarts a victim of a latent bit flip after the latent window (within tolerance).
    void scrub_later(sim::Node& victim);
    // Runs `end` once the action's duration has passed.
    void later(sim::Duration duration, std::function<void()> end);
    void block(sim::NodeId from, sim::NodeId to, Links& blocked);
    void unblock(const Links& blocked);
    sim::Node& node(const std::string& name);

    sim::Simulation& simulation_;
    ClusterProbe& probe_;
    NemesisOptions options_;
    sim::Random random_;  // the nemesis's own draws (which segment a lose-segment fault takes)
    std::map<std::pair<std::uint32_t, std::uint32_t>, int> blocks_;  // link -> how many faults cut it
    std::set<std::string> corrupted_;
    sim::Time last_lossy_{};
    sim::Time last_fault_{};
    sim::Time spike_until_{};
    bool any_lossy_ = false;
    bool healed_ = false;  // the heal phase began: faults still running (flapping links, slow nodes) stop
    // Until when a fault of clocks, disks, link shapes or slow nodes is in force: quiet() waits for it.
    sim::Time shaped_until_{};
    std::vector<ClockChange> clock_changes_;
    void note_clock(sim::Node& victim);
    // Per node: how far its clock faults have stepped it and not stepped it back yet (heal() does).
    std::map<std::string, sim::Duration> clock_steps_;
    // Per node: until when its disk stalls (the last slow-disk fault's end).
    std::map<std::string, sim::Time> slow_disk_until_;
    // Per node whose disk a disk-full fault holds: its capacity before, and how many such faults hold it.
    struct FullDisk {
        std::uint64_t capacity_bytes = 0;
        int holders = 0;
    };
    std::map<std::string, FullDisk> full_disks_;
    // Per node: how many crashes the nemesis applied are still to restart it (their own restart comes later).
    std::map<std::string, int> restarts_pending_;
    void shaped_for(sim::Duration duration);
    // Per directed link that a slow-link fault holds: until when (the last such fault's end), and how slow
    // (the slowest of them).
    struct SlowLink {
        sim::Time until{};
        sim::Duration latency{};
    };
    std::map<std::pair<std::uint32_t, std::uint32_t>, SlowLink> slow_links_;
    struct NarrowLink {
        sim::Time until{};
        std::uint64_t bytes_per_second = 0;
    };
    std::map<std::pair<std::uint32_t, std::uint32_t>, NarrowLink> narrow_links_;
    // Victims of lossy faults (within tolerance) that have not rejoined every ISR with a new incarnation
    // yet, and whether a scrub is still to come.
    std::map<std::string, bool> repairing_;
};

}  // namespace eosim::faults
