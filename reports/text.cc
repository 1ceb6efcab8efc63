#include "reports/text.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "scenarios/probes.h"

namespace eosim::reports {

namespace {

bool listed(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

std::string status_word(scenarios::RunStatus status, Style style) {
    switch (status) {
        case scenarios::RunStatus::pass: return style.good("pass");
        case scenarios::RunStatus::fail: return style.bad("fail");
        case scenarios::RunStatus::error: return style.bad("error");
    }
    return "?";
}

}  // namespace

void print_run(std::FILE* out, const Timed& timed, bool verbose, Style style, bool quiet) {
    const scenarios::RunResult& r = timed.result;
    if (verbose && !quiet) {
        for (const auto& [name, value] : r.params) {
            fmt::print(out, "param {} = {}\n", name, value);
        }
        fmt::print(out, "fault plan: {}\n", r.fault_plan.dump());
        if (!r.drawn_spec.empty()) {
            fmt::print(out, "swarm spec (eosim run --spec FILE runs it as it is):\n{}\n", r.drawn_spec);
        }
    }
    fmt::print(out, "{} seed {}{}: {} (fingerprint {:016x}, {} events, {:.1f} s simulated, {:.2f} s wall)\n", r.scenario,
               r.seed, r.bug.empty() ? "" : " bug " + r.bug, status_word(r.status, style), r.fingerprint, r.events,
               static_cast<double>(r.sim_ns) * 1e-9, timed.wall_ms / 1000.0);
    if (quiet) {
        if (r.status != scenarios::RunStatus::pass) {
            if (!r.anomalies.empty()) {
                fmt::print(out, "anomalies: {}\n", style.bad(fmt::format("{}", fmt::join(r.anomalies, ", "))));
            }
            fmt::print(out, "reproduce: {}\n", r.reproduce);
        }
        return;
    }
    if (!r.error.empty()) {
        fmt::print(out, "error: {}\n", r.error);
    }
    for (const std::string& name : r.weaknesses) {
        fmt::print(out, "weakness observed: {}\n", style.note(name));
    }
    for (const auto& [name, value] : r.counters) {
        if (value > 0) {
            fmt::print(out, "{}: {} (reported, not a failure)\n", name, value);
        }
    }
    if (r.faults.planned > 0) {
        fmt::print(out, "{}\n", fault_summary(r.faults));
    }
    if (r.liveness_bound_ns > 0) {
        if (r.recovery_ns >= 0) {
            fmt::print(out, "recovery: {:.1f} s from the heal to the last probe (bound {:.0f} s)\n",
                       static_cast<double>(r.recovery_ns) * 1e-9, static_cast<double>(r.liveness_bound_ns) * 1e-9);
        } else {
            fmt::print(out, "recovery: none within the bound ({:.0f} s after the heal)\n",
                       static_cast<double>(r.liveness_bound_ns) * 1e-9);
        }
    }
    // Failures always; weaknesses and allowed anomalies with -v. At most 10 lines.
    std::vector<const scenarios::AnomalyReport*> shown;
    for (const scenarios::AnomalyReport& report : r.reports) {
        if (verbose || listed(r.anomalies, report.name)) {
            shown.push_back(&report);
        }
    }
    for (std::size_t i = 0; i < shown.size(); ++i) {
        if (i == 10) {
            fmt::print(out, "... and {} more (see --history)\n", shown.size() - 10);
            break;
        }
        const scenarios::AnomalyReport& report = *shown[i];
        const bool failed = listed(r.anomalies, report.name);
        const char* label = failed ? "anomaly" : listed(r.weaknesses, report.name) ? "weakness" : "allowed";
        fmt::print(out, "{} {}: {}\n", failed ? style.bad(label) : style.note(label), report.name, report.description);
    }
    if (r.status != scenarios::RunStatus::pass) {
        if (!r.anomalies.empty()) {
            fmt::print(out, "anomalies: {}\n", style.bad(fmt::format("{}", fmt::join(r.anomalies, ", "))));
        }
        fmt::print(out, "reproduce: {}\n", r.reproduce);
    }
}

void print_failure(std::FILE* out, const Timed& timed, Style style) {
    const scenarios::RunResult& r = timed.result;
    fmt::print(out, "{} {} seed {}: {}{}\n  reproduce: {}\n",
               style.bad(r.status == scenarios::RunStatus::fail ? "FAIL" : "ERROR"), r.scenario, r.seed,
               fmt::join(r.anomalies, ", "), r.error, r.reproduce);
}

void print_sweep(std::FILE* out, const SweepInfo& info, const std::vector<Timed>& results, const Tally& counts,
                 Style style, bool quiet) {
    const std::string workers = info.workers == 0 ? "merged"
                                                  : fmt::format("{} worker{}", info.workers, info.workers == 1 ? "" : "s");
    fmt::print(out, "sweep {} seeds {}..{}{}{}: {} runs, {} passed, {} failed, {} errors ({})\n", info.title,
               info.first, info.last, info.shard.empty() ? "" : " shard " + info.shard,
               info.bug.empty() ? "" : " bug " + info.bug, counts.runs, style.good(std::to_string(counts.passed)),
               counts.failed > 0 ? style.bad(std::to_string(counts.failed)) : "0",
               counts.errors > 0 ? style.bad(std::to_string(counts.errors)) : "0", workers);
    for (const auto& [anomaly, entry] : counts.by_anomaly) {
        const scenarios::RunResult& first = entry.second->result;
        fmt::print(out, "  failures by anomaly: {}: {} seeds (first: {}seed {})\n", style.bad(anomaly), entry.first,
                   info.title == first.scenario ? "" : first.scenario + " ", first.seed);
    }
    for (const auto& [scenario, weaknesses] : counts.unshown) {
        fmt::print(out, "  weakness NOT observed: {} demonstrates {}, but no seed in {}..{} showed it\n", scenario,
                   weaknesses, info.first, info.last);
    }
    if (quiet) {
        return;
    }
    for (const auto& [weakness, count] : counts.weaknesses) {
        fmt::print(out, "  weakness observed: {} in {} seeds\n", weakness, count);
    }
    for (const auto& [name, counter] : counts.counters) {
        fmt::print(out, "  {}: {} in {} seeds (reported, not failures)\n", name, counter.first, counter.second);
    }
    if (counts.faults.planned > 0) {
        fmt::print(out, "  {}\n", fault_summary(counts.faults));
    }
    if (!counts.recoveries.empty()) {
        const auto& sorted = counts.recoveries;
        const auto at = [&sorted](double q) {
            return static_cast<double>(sorted[static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1))].first) * 1e-9;
        };
        fmt::print(out,
                   "  recovery after the heal: median {:.1f} s, 99th percentile {:.1f} s, max {:.1f} s ({}); "
                   "bound {:.0f} s; {} of {} runs recovered\n",
                   at(0.5), at(0.99), static_cast<double>(sorted.back().first) * 1e-9, sorted.back().second,
                   static_cast<double>(counts.liveness_bound_ns) * 1e-9, sorted.size(), results.size());
    }
    const std::size_t probes = scenarios::code_probes().size();
    fmt::print(out, "  code probes: {} of {} hit (eosim probes lists them){}{}\n", probes - counts.probes_never_hit.size(),
               probes, counts.probes_never_hit.empty() ? "" : "; never hit: ", fmt::join(counts.probes_never_hit, ", "));
    if (info.show_probes) {
        for (const scenarios::CodeProbe& probe : scenarios::code_probes()) {
            const auto hit = counts.probes.find(std::string(probe.name));
            fmt::print(out, "    {:<52} {:>6} seeds\n", probe.name, hit == counts.probes.end() ? 0 : hit->second);
        }
    }
    if (!info.complete && !info.demonstrations.empty()) {
        fmt::print(out, "  weaknesses not judged: {}\n", info.incomplete_why);
    }
    if (info.seconds > 0) {
        fmt::print(out, "  {:.1f} seeds/s, {:.0f} events/s, {:.0f} simulated s per wall s, {:.1f} s wall\n",
                   static_cast<double>(results.size()) / info.seconds, static_cast<double>(counts.events) / info.seconds,
                   static_cast<double>(counts.sim_ns) * 1e-9 / info.seconds, info.seconds);
    }
}

}  // namespace eosim::reports
