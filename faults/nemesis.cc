#include "faults/nemesis.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "sim/assert.h"

namespace eosim::faults {

namespace {

// How long a bit flip stays latent in a within-tolerance scenario before its scrub: under the brokers'
// replica lag bound (1 s), so the ISR cannot have shrunk to the damaged replica meanwhile.
constexpr sim::Duration latent_corruption_window = std::chrono::milliseconds(500);

// Lossy faults within tolerance come at least this far apart.
constexpr sim::Duration lossy_fault_spacing = std::chrono::seconds(3);

// How long a lose-segment fault waits for a cluster healthy enough to take it.
constexpr sim::Duration lose_segment_patience = std::chrono::seconds(3);

// Hears the witness's moments while it lives (so also when its fiber is unwound at the end of a run).
class Listening {
public:
    Listening(sim::Witness& witness, sim::Witness::MomentListener listener)
        : witness_(witness), id_(witness.listen(std::move(listener))) {}
    Listening(const Listening&) = delete;
    Listening& operator=(const Listening&) = delete;
    ~Listening() { witness_.unlisten(id_); }

private:
    sim::Witness& witness_;
    std::uint64_t id_;
};

}  // namespace

Nemesis::Nemesis(sim::Simulation& simulation, ClusterProbe& probe, NemesisOptions options)
    : simulation_(simulation), probe_(probe), options_(std::move(options)), random_(simulation.random().fork("nemesis")) {}

void drop_fault(const char* why, std::int64_t actions) {
    sim::trace("FaultSkipped").detail("why", why).detail("actions", actions);
    for (std::int64_t i = 0; i < actions; ++i) {
        sim::witness().tally(faults_dropped);
    }
}

sim::Node& Nemesis::node(const std::string& name) {
    sim::Node* found = simulation_.find_node(name);
    EOSIM_ASSERT_MSG(found != nullptr, "no node " + name);
    return *found;
}

void Nemesis::run(const FaultPlan& plan) {
    const sim::Time chaos_end(options_.chaos);
    for (const FaultAction& action : plan.actions) {
        if (on_instance(action.kind)) {
            continue;  // the runner's, on its own timeline
        }
        const sim::Time at(action.at);
        if (at > sim::now()) {
            sim::sleep(at - sim::now());
        }
        if (!repairing_.empty()) {
            // A replica that lost data is still in the ISR until the controller fences it and it
            // catches up again; another fault meanwhile could leave it the last in-sync replica, which
            // would lead with what it lost. Within tolerance, the next fault waits for full health.
            sim::trace("FaultDeferred").detail("why", "a replica is repairing after a lossy fault");
            sim::witness().tally(faults_deferred);
            while (!repaired() && sim::now() < chaos_end) {
                sim::sleep(std::chrono::milliseconds(50));
            }
            repairing_.clear();
            if (sim::now() >= chaos_end) {
                const auto left = std::count_if(&action, plan.actions.data() + plan.actions.size(),
                                                [](const FaultAction& a) { return !on_instance(a.kind); });
                drop_fault("the chaos phase ended while the action waited for a repair", left);
                break;
            }
        }
        apply(action);
    }
}

void Nemesis::apply(const FaultAction& action) {
    sim::trace("FaultStart").detail("fault", to_json(action).dump());
    if (!aimed(action.kind)) {
        note_fault();  // an aimed action hurts only once its moment comes, through apply() again
    }
    switch (action.kind) {
        case FaultKind::crash:
        case FaultKind::crash_several:
        case FaultKind::crash_controller:
        case FaultKind::power_loss:
            crash(action);
            break;
        case FaultKind::pause:
            pause(action);
            break;
        case FaultKind::partition:
        case FaultKind::partition_one_way:
        case FaultKind::isolate:
        case FaultKind::split:
        case FaultKind::bridge:
            partition(action);
            break;
        case FaultKind::reset:
            simulation_.network().reset_connections(node(action.targets.front()).id());
            break;
        case FaultKind::latency_spike:
            simulation_.network().set_latency_spike(action.extra_latency, sim::now() + action.duration);
            spike_until_ = std::max(spike_until_, sim::now() + action.duration);
            break;
        case FaultKind::corrupt:
            corrupt(action);
            break;
        case FaultKind::lose_segment:
            lose_segment(action);
            break;
        case FaultKind::corrupt_file:
            corrupt_file(action);
            break;
        case FaultKind::aimed_crash:
        case FaultKind::aimed_pause:
        case FaultKind::aimed_partition:
            aim(action);
            break;
        case FaultKind::crash_instance:
        case FaultKind::pause_instance:
            EOSIM_ASSERT_MSG(false, "the runner applies faults of application instances");
            break;
        case FaultKind::crash_rack:
            crash(action);
            break;
        case FaultKind::clock_jump:
        case FaultKind::clock_drift:
            clock(action);
            break;
        case FaultKind::slow_disk:
            slow_disk(action);
            break;
        case FaultKind::disk_full:
            disk_full(action);
            break;
        case FaultKind::flap:
            flap(action);
            break;
        case FaultKind::slow_link:
            slow_link(action);
            break;
        case FaultKind::narrow_link:
            narrow_link(action);
            break;
        case FaultKind::slow_node:
            slow_node(action);
            break;
    }
}

void Nemesis::heal() {
    sim::trace("Heal");
    note_fault();
    healed_ = true;
    blocks_.clear();
    simulation_.network().heal();
    simulation_.network().clear_extra_latency();
    slow_links_.clear();
    simulation_.network().clear_bandwidth();
    narrow_links_.clear();
    spike_until_ = sim::now();
    for (const auto& [name, until] : slow_disk_until_) {
        node(name).disk().set_fsync_stall(sim::Duration::zero());
    }
    slow_disk_until_.clear();
    for (const auto& [name, full] : full_disks_) {
        node(name).disk().set_capacity(full.capacity_bytes);  // the runner restarts a broker still down
    }
    full_disks_.clear();
    // Clocks step back and stop drifting (a fault of a hand-written plan may outlast the chaos phase).
    for (const auto& [name, step] : clock_steps_) {
        sim::Node& victim = node(name);
        if (step != sim::Duration::zero() || victim.clock().drift_ppm() != 0.0) {
            victim.clock().jump(-step);
            victim.clock().set_drift(sim::now(), 0.0);
            note_clock(victim);
        }
    }
    clock_steps_.clear();
    shaped_until_ = sim::now();
}

bool Nemesis::quiet() {
    return blocks_.empty() && sim::now() >= spike_until_ && sim::now() >= shaped_until_ &&
           !simulation_.network().silently_broken() && repaired();
}

void Nemesis::shaped_for(sim::Duration duration) {
    shaped_until_ = std::max(shaped_until_, sim::now() + duration);
}

// ---- Guards --------------------------------------------------------------------------------------

bool Nemesis::healthy() {
    return blocks_.empty() && probe_.healthy();
}

bool Nemesis::repaired() {
    if (!healthy()) {
        return false;
    }
    for (const auto& [name, scrub_pending] : repairing_) {
        // The controller has seen its new incarnation (so fenced the old one out of every ISR), and,
        // the cluster being healthy, it has caught up and rejoined.
        if (scrub_pending || !probe_.incarnation_registered(name)) {
            return false;
        }
    }
    return true;
}

// Faults that can lose what a replica acknowledged stay within the replication's tolerance in
// must-pass scenarios: one at a time, on a healthy cluster, spaced apart.
bool Nemesis::lossy_allowed() {
    if (!options_.within_tolerance) {
        return true;
    }
    const bool allowed = lossy_allowed_soon();
    if (allowed) {
        any_lossy_ = true;
        last_lossy_ = sim::now();
    }
    return allowed;
}

bool Nemesis::lossy_allowed_soon() {
    return !options_.within_tolerance ||
           (healthy() && (!any_lossy_ || sim::now() - last_lossy_ > lossy_fault_spacing));
}

// ---- Faults --------------------------------------------------------------------------------------

void Nemesis::later(sim::Duration duration, std::function<void()> end) {
    simulation_.world().spawn("fault-end", [duration, end = std::move(end)] {
        sim::sleep(duration);
        end();
    });
}

void Nemesis::crash(const FaultAction& action) {
    std::vector<sim::Node*> crashed;
    sim::UnsyncedFate fate = action.unsynced;
    // The controller is no replica: it publishes only fsynced metadata, so losing its unsynced tail is
    // always within tolerance. A broker's loss may take what it acknowledged as a replica.
    const bool replica_loss = fate != sim::UnsyncedFate::keep && action.kind != FaultKind::crash_controller;
    if (replica_loss && options_.within_tolerance && (action.kind != FaultKind::crash || !lossy_allowed())) {
        fate = sim::UnsyncedFate::keep;
        sim::trace("FaultDowngraded").detail("why", "a lossy crash now could exceed the fault tolerance");
        sim::witness().tally(faults_downgraded);
    }
    const bool repair = replica_loss && options_.within_tolerance && fate != sim::UnsyncedFate::keep;
    for (const std::string& target : action.targets) {
        sim::Node& victim = node(target);
        if (victim.up()) {
            if (repair) {
                repairing_.emplace(victim.name(), false);
            }
            (void)victim.crash(sim::CrashOptions{fate});
            crashed.push_back(&victim);
            ++restarts_pending_[victim.name()];
        }
    }
    if (crashed.empty() && !action.targets.empty()) {
        drop_fault("every target is already down");
    }
    if ((action.kind == FaultKind::power_loss || action.kind == FaultKind::crash_rack) &&
        fate != sim::UnsyncedFate::keep && !crashed.empty()) {
        sim::witness().tally(lossy_power_losses);
    }
    later(action.duration, [this, crashed] {
        for (sim::Node* victim : crashed) {
            --restarts_pending_[victim->name()];
            if (!victim->up()) {
                victim->restart();
            }
        }
    });
}

void Nemesis::pause(const FaultAction& action) {
    bool paused = false;
    for (const std::string& target : action.targets) {
        if (node(target).up()) {
            node(target).pause(action.duration);
            paused = true;
        }
    }
    if (!paused) {
        drop_fault("every target is down");
    }
}

void Nemesis::partition(const FaultAction& action) {
    auto blocked = std::make_shared<Links>();
    const auto cut = [&](const std::string& a, const std::string& b, bool both) {
        block(node(a).id(), node(b).id(), *blocked);
        if (both) {
            block(node(b).id(), node(a).id(), *blocked);
        }
    };
    if (action.kind == FaultKind::partition || action.kind == FaultKind::partition_one_way) {
        cut(action.targets.front(), action.other_side.front(), action.kind == FaultKind::partition);
    } else if (action.kind == FaultKind::isolate) {
        for (const auto* names : {&options_.servers, &options_.clients}) {
            for (const std::string& other : *names) {
                cut(action.targets.front(), other, true);
            }
        }
    } else if (action.kind == FaultKind::split) {
        for (const std::string& a : action.targets) {
            for (const std::string& b : action.other_side) {
                cut(a, b, true);
            }
        }
    } else {
        // targets[0] is the bridge; targets[1..] and other_side are the two halves.
        for (std::size_t i = 1; i < action.targets.size(); ++i) {
            for (const std::string& b : action.other_side) {
                cut(action.targets[i], b, true);
            }
        }
    }
    later(action.duration, [this, blocked] { unblock(*blocked); });
}

void Nemesis::corrupt(const FaultAction& action) {
    if (!lossy_allowed()) {
        drop_fault("corruption now could exceed the fault tolerance");
        return;
    }
    sim::Node& victim = node(action.targets.front());
    const auto segment = [](const std::string& path) { return path.ends_with(".log"); };
    const auto flipped = options_.within_tolerance && options_.detectable
                             ? victim.disk().corrupt_random_bit(segment, options_.detectable)
                             : victim.disk().corrupt_random_bit(segment);
    if (!flipped) {
        drop_fault("no byte to flip");
        return;
    }
    sim::trace("DiskCorrupted")
        .detail("target", victim.name())
        .detail("file", flipped->first)
        .detail("offset", flipped->second);
    if (!options_.within_tolerance) {
        corrupted_.insert(victim.name());  // latent until the final scrub
        return;
    }
    // A damaged replica left in the ISR uses up the replication's tolerance: if the ISR later
    // shrank to it alone, its recovery would cut committed records and it would still be elected
    // (Kafka has no defence here before KIP-966). So within tolerance the damage stays latent only
    // while the ISR cannot have shrunk (less than the lag bound) and is then scrubbed: a restart
    // whose recovery checks every batch. No other fault comes before the cluster is healthy again.
    repairing_[victim.name()] = true;
    scrub_later(victim);
}

namespace {

// A segment with a segment of the same log before and after it: losing it leaves a gap that recovery
// can see (the first one's loss would only move the log start; the last one is being written).
std::vector<std::string> sealed_middle_segments(const sim::Disk& disk,
                                                const std::function<bool(const std::string&)>& losable) {
    std::map<std::string, std::vector<std::string>> by_directory;  // lexicographic: numeric within a log
    for (const std::string& path : disk.list()) {
        if (path.ends_with(".log") && (!losable || losable(path)) && disk.size(path).value() > 0) {
            by_directory[path.substr(0, path.rfind('/'))].push_back(path);
        }
    }
    std::vector<std::string> middle;
    for (const auto& [directory, segments] : by_directory) {
        for (std::size_t i = 1; i + 1 < segments.size(); ++i) {
            middle.push_back(segments[i]);
        }
    }
    return middle;
}

}  // namespace

void Nemesis::lose_segment(const FaultAction& action) {
    sim::Node& victim = node(action.targets.front());
    if (!victim.up()) {
        drop_fault("the target is down");
        return;
    }
    const std::vector<std::string> candidates = sealed_middle_segments(victim.disk(), options_.losable);
    if (candidates.empty()) {
        drop_fault("no sealed segment between two others");
        return;
    }
    // Within tolerance it waits a while for a healthy cluster (it would mostly be skipped otherwise).
    const sim::Time give_up = std::min(sim::now() + lose_segment_patience, sim::Time(options_.chaos));
    while (options_.within_tolerance && !lossy_allowed_soon() && sim::now() < give_up) {
        sim::sleep(std::chrono::milliseconds(50));
    }
    if (!victim.up() || !lossy_allowed()) {
        drop_fault("losing a segment now could exceed the fault tolerance");
        return;
    }
    // The process dies first (a running broker would only see the file vanish under it as an I/O error);
    // the disk comes back without the segment, and the restart's recovery finds the gap. The segments are
    // looked at again after the crash: retention may have taken some while the fault waited.
    if (options_.within_tolerance) {
        repairing_.emplace(victim.name(), false);
    }
    note_fault();
    crash_for(victim, action.duration);
    const std::vector<std::string> now_sealed = sealed_middle_segments(victim.disk(), options_.losable);
    if (!now_sealed.empty()) {
        const std::string& lost = now_sealed[static_cast<std::size_t>(random_.below(now_sealed.size()))];
        (void)victim.disk().remove(lost);
        sim::trace("SegmentLost").detail("target", victim.name()).detail("file", lost);
    } else {
        // The crash happened, the loss did not: a milder fault than planned.
        sim::trace("FaultDowngraded").detail("why", "no sealed segment left to lose after the crash");
        sim::witness().tally(faults_downgraded);
    }
}

void Nemesis::crash_for(sim::Node& victim, sim::Duration duration) {
    (void)victim.crash(sim::CrashOptions{sim::UnsyncedFate::keep});
    ++restarts_pending_[victim.name()];
    later(duration, [this, &victim] {
        --restarts_pending_[victim.name()];
        if (!victim.up()) {
            victim.restart();
        }
    });
}

void Nemesis::corrupt_file(const FaultAction& action) {
    sim::Node& victim = node(action.targets.front());
    if (!victim.up()) {
        drop_fault("the target is down");
        return;
    }
    // The flip is read at the restart (a checkpoint, a snapshot and an index are read when a broker starts):
    // the process dies first, unsynced bytes kept, and nothing durable is lost. A correct broker sees the
    // damage and does without the file, so the fault needs no guard beyond a crash's.
    crash_for(victim, action.duration);
    const auto not_segment = [](const std::string& path) {
        return !path.ends_with(".log") && !path.ends_with(".tmp");
    };
    const auto flipped =
        options_.within_tolerance && options_.damage_detected
            ? victim.disk().corrupt_random_bit_if(not_segment, options_.damage_detected)
            : victim.disk().corrupt_random_bit(not_segment);
    if (flipped) {
        sim::trace("DiskCorrupted")
            .detail("target", victim.name())
            .detail("file", flipped->first)
            .detail("offset", flipped->second);
    } else {
        sim::trace("FaultDowngraded").detail("why", "no file to damage that the broker would see");
        sim::witness().tally(faults_downgraded);
    }
}

void Nemesis::scrub_later(sim::Node& victim) {
    simulation_.world().spawn("scrub", [this, &victim] {
        sim::sleep(latent_corruption_window);
        sim::trace("Scrub").detail("broker", victim.name());
        note_fault();
        if (victim.up()) {
            (void)victim.crash(sim::CrashOptions{sim::UnsyncedFate::keep});
            victim.restart();
        }
        if (const auto pending = repairing_.find(victim.name()); pending != repairing_.end()) {
            pending->second = false;
        }
    });
}

// ---- Clocks, slow disks and nodes, full disks ---------------------------------------------------

void Nemesis::note_clock(sim::Node& victim) {
    const sim::Time now = sim::now();
    const sim::LocalClock& clock = victim.clock();
    clock_changes_.push_back(ClockChange{now, victim.name(), clock.local_time(now) - now,
                                         static_cast<std::int64_t>(clock.drift_ppm())});
}

void Nemesis::clock(const FaultAction& action) {
    sim::Node& victim = node(action.targets.front());
    if (action.kind == FaultKind::clock_jump) {
        // The step back comes after the duration (an NTP correction), so that a run ends on one timeline;
        // what read the clock meanwhile saw time jump both ways.
        victim.clock().jump(action.clock_step);
        clock_steps_[victim.name()] += action.clock_step;
        shaped_for(action.duration);
        note_clock(victim);
        sim::trace("ClockJump").detail("target", victim.name()).detail("step_ns", sim::to_ns(action.clock_step));
        later(action.duration, [this, &victim, step = action.clock_step] {
            if (healed_) {
                return;  // heal() stepped it back
            }
            victim.clock().jump(-step);
            clock_steps_[victim.name()] -= step;
            note_clock(victim);
            sim::trace("ClockJump").detail("target", victim.name()).detail("step_ns", -sim::to_ns(step));
        });
        return;
    }
    // Drift for a while: the skew it builds up stays (nothing corrects a clock that ran fast or slow).
    victim.clock().set_drift(sim::now(), static_cast<double>(action.drift_ppm));
    clock_steps_.try_emplace(victim.name(), sim::Duration::zero());  // heal() ends the drift
    shaped_for(action.duration);
    note_clock(victim);
    sim::trace("ClockDrift").detail("target", victim.name()).detail("drift_ppm", action.drift_ppm);
    later(action.duration, [this, &victim, ppm = action.drift_ppm] {
        if (!healed_ && victim.clock().drift_ppm() == static_cast<double>(ppm)) {
            victim.clock().set_drift(sim::now(), 0.0);
            note_clock(victim);
            sim::trace("ClockDrift").detail("target", victim.name()).detail("drift_ppm", 0);
        }
    });
}

void Nemesis::slow_disk(const FaultAction& action) {
    const std::string name = action.targets.front();
    sim::Time& until = slow_disk_until_[name];
    until = std::max(until, sim::now() + action.duration);
    shaped_for(action.duration);
    node(name).disk().set_fsync_stall(std::max(node(name).disk().fsync_stall(), action.extra_latency));
    later(action.duration, [this, name] {
        const auto found = slow_disk_until_.find(name);
        if (found != slow_disk_until_.end() && sim::now() >= found->second) {
            node(name).disk().set_fsync_stall(sim::Duration::zero());
            slow_disk_until_.erase(found);
        }
    });
}

void Nemesis::disk_full(const FaultAction& action) {
    const std::string name = action.targets.front();
    sim::Node& victim = node(name);
    sim::Disk& disk = victim.disk();
    FullDisk& full = full_disks_.try_emplace(name, FullDisk{disk.options().capacity_bytes, 0}).first->second;
    ++full.holders;
    shaped_for(action.duration);
    // The room left: what the disk holds now and a little more. The broker halts at the first write that
    // does not fit (its log directory failure channel), keeping its page cache: no acknowledged byte is lost.
    disk.set_capacity(std::min(full.capacity_bytes, disk.used_bytes() + action.free_bytes));
    sim::trace("DiskFull").detail("target", name).detail("free_bytes", action.free_bytes);
    later(action.duration, [this, name, &victim] {
        const auto found = full_disks_.find(name);
        if (found == full_disks_.end() || --found->second.holders > 0) {
            return;  // healed already, or another disk-full fault still holds it
        }
        victim.disk().set_capacity(found->second.capacity_bytes);
        full_disks_.erase(found);
        sim::trace("DiskRoom").detail("target", name);
        if (!victim.up() && restarts_pending_[name] == 0) {
            victim.restart();  // it halted: the operator made room and started it again (a crash restarts itself)
        }
    });
}

void Nemesis::slow_node(const FaultAction& action) {
    sim::Node& victim = node(action.targets.front());
    const sim::Time end = sim::now() + action.duration;
    shaped_for(action.duration);
    simulation_.world().spawn("slow-node", [this, &victim, end, stall = action.extra_latency, gap = action.period] {
        while (!healed_ && sim::now() + stall <= end) {
            if (victim.up()) {
                victim.pause(stall);
            }
            sim::sleep(stall + gap);
        }
    });
}

// ---- Aimed faults ------------------------------------------------------------------------------

void Nemesis::aim(const FaultAction& action) {
    EOSIM_ASSERT(aimed(action.kind));
    EOSIM_ASSERT(!action.aim_at.empty());
    const sim::Time started = sim::now();
    const sim::Time deadline = std::min(sim::deadline_after(action.aim_window), sim::Time(options_.chaos));
    std::optional<sim::Moment> caught;
    sim::Condition heard;
    const Listening listening(simulation_.witness(), [&](const sim::Moment& moment) {
        if (!caught && moment.name == action.aim_at) {
            caught = moment;
            heard.notify_all();
        }
    });
    (void)heard.wait_until(deadline, [&caught] { return caught.has_value(); });
    const auto waited_ms = (sim::now() - started).count() / 1'000'000;
    if (caught) {
        sim::trace("FaultAimed")
            .detail("moment", action.aim_at)
            .detail("node", caught->node)
            .detail("peer", caught->peer)
            .detail("partition", caught->partition)
            .detail("waited_ms", waited_ms)
            .detail("delay_ms", action.aim_delay.count() / 1'000'000);
        if (action.aim_delay > sim::Duration::zero()) {
            sim::sleep(action.aim_delay);  // the moment's aftermath
        }
    } else if (sim::now() >= sim::Time(options_.chaos)) {
        drop_fault("the chaos phase ended before the moment came");
        return;
    } else {
        sim::trace("FaultAimMissed").detail("moment", action.aim_at).detail("waited_ms", waited_ms);
    }
    FaultAction fault = aimed_fault(action, caught ? &*caught : nullptr);
    if (fault.kind == FaultKind::crash && !options_.servers.empty() && fault.targets.front() == options_.servers.front()) {
        fault.kind = FaultKind::crash_controller;  // a moment's peer may be the controller, which is no replica
    }
    apply(fault);
}

FaultAction aimed_fault(const FaultAction& action, const sim::Moment* moment) {
    FaultAction fault;
    fault.at = action.at;
    fault.duration = action.duration;
    fault.unsynced = action.unsynced;
    std::string hit = action.targets.front();
    std::string other;
    if (moment != nullptr) {
        const bool peer = action.aim_at_peer && !moment->peer.empty();
        hit = peer ? moment->peer : moment->node;
        other = peer ? moment->node : moment->peer;
    }
    fault.targets = {hit};
    switch (action.kind) {
        case FaultKind::aimed_crash: fault.kind = FaultKind::crash; break;
        case FaultKind::aimed_pause: fault.kind = FaultKind::pause; break;
        default:
            EOSIM_ASSERT(action.kind == FaultKind::aimed_partition);
            fault.kind = other.empty() ? FaultKind::isolate : FaultKind::partition;
            if (!other.empty()) {
                fault.other_side = {other};
            }
            break;
    }
    return fault;
}

// ---- Links ---------------------------------------------------------------------------------------

void Nemesis::block(sim::NodeId from, sim::NodeId to, Links& blocked) {
    if (from == to) {
        return;
    }
    if (blocks_[{from.value(), to.value()}]++ == 0) {
        simulation_.network().block(from, to);
    }
    blocked.emplace_back(from, to);
}

void Nemesis::flap(const FaultAction& action) {
    const sim::NodeId a = node(action.targets.front()).id();
    const sim::NodeId b = node(action.other_side.front()).id();
    const sim::Time end = sim::now() + action.duration;
    shaped_for(action.duration);
    simulation_.world().spawn("flap", [this, a, b, end, period = action.period] {
        // Down for a period, up for a period, until the fault ends: connections the cut breaks stay broken,
        // so each flap makes both ends reconnect.
        while (!healed_ && sim::now() < end) {
            Links blocked;
            block(a, b, blocked);
            block(b, a, blocked);
            sim::sleep(std::min(period, end - sim::now()));
            if (healed_) {
                return;  // heal() opened every link
            }
            unblock(blocked);
            if (sim::now() >= end) {
                return;
            }
            sim::sleep(std::min(period, end - sim::now()));
        }
    });
}

void Nemesis::slow_link(const FaultAction& action) {
    const sim::NodeId from = node(action.targets.front()).id();
    const sim::NodeId to = node(action.other_side.front()).id();
    const std::pair<std::uint32_t, std::uint32_t> link{from.value(), to.value()};
    SlowLink& slow = slow_links_[link];
    slow.until = std::max(slow.until, sim::now() + action.duration);
    shaped_for(action.duration);
    // Overlapping slow-link faults on one link: the slowest holds until the last ends (as slow disks).
    slow.latency = std::max(slow.latency, action.extra_latency);
    simulation_.network().set_extra_latency(from, to, slow.latency);
    later(action.duration, [this, link, from, to] {
        const auto found = slow_links_.find(link);
        if (found != slow_links_.end() && sim::now() >= found->second.until) {
            simulation_.network().set_extra_latency(from, to, sim::Duration::zero());
            slow_links_.erase(found);
        }
    });
}

void Nemesis::narrow_link(const FaultAction& action) {
    const sim::NodeId from = node(action.targets.front()).id();
    const sim::NodeId to = node(action.other_side.front()).id();
    const std::pair<std::uint32_t, std::uint32_t> link{from.value(), to.value()};
    NarrowLink& narrow = narrow_links_[link];
    narrow.until = std::max(narrow.until, sim::now() + action.duration);
    shaped_for(action.duration);
    // Overlapping narrow-link faults on one link: the narrowest holds until the last ends.
    narrow.bytes_per_second = narrow.bytes_per_second == 0 ? action.bytes_per_second
                                                           : std::min(narrow.bytes_per_second, action.bytes_per_second);
    simulation_.network().set_bandwidth(from, to, narrow.bytes_per_second);
    later(action.duration, [this, link, from, to] {
        const auto found = narrow_links_.find(link);
        if (found != narrow_links_.end() && sim::now() >= found->second.until) {
            simulation_.network().set_bandwidth(from, to, 0);
            narrow_links_.erase(found);
        }
    });
}

void Nemesis::unblock(const Links& blocked) {
    for (const auto& [from, to] : blocked) {
        const auto found = blocks_.find({from.value(), to.value()});
        if (found != blocks_.end() && --found->second == 0) {
            blocks_.erase(found);
            simulation_.network().unblock(from, to);
        }
    }
}

}  // namespace eosim::faults
