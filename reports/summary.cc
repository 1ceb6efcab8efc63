#include "reports/summary.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "scenarios/probes.h"

namespace eosim::reports {

Tally tally(const SweepInfo& info, const std::vector<Timed>& results) {
    Tally tally;
    for (const Timed& timed : results) {
        const scenarios::RunResult& r = timed.result;
        ++tally.runs;
        tally.passed += r.status == scenarios::RunStatus::pass ? 1 : 0;
        tally.failed += r.status == scenarios::RunStatus::fail ? 1 : 0;
        tally.errors += r.status == scenarios::RunStatus::error ? 1 : 0;
        tally.events += r.events;
        tally.sim_ns += r.sim_ns;
        for (const std::string& anomaly : r.anomalies) {
            auto& entry = tally.by_anomaly[anomaly];
            if (entry.first++ == 0 || std::pair{r.scenario, r.seed} <
                                          std::pair{entry.second->result.scenario, entry.second->result.seed}) {
                entry.second = &timed;
            }
        }
        tally.faults += r.faults;
        if (r.recovery_ns >= 0) {
            tally.recoveries.emplace_back(r.recovery_ns, fmt::format("{} seed {}", r.scenario, r.seed));
        }
        tally.liveness_bound_ns = std::max(tally.liveness_bound_ns, r.liveness_bound_ns);
        for (const auto& [name, value] : r.counters) {
            auto& counter = tally.counters[name];
            counter.first += value;
            counter.second += value > 0 ? 1 : 0;
        }
        for (const std::string& weakness : r.weaknesses) {
            ++tally.weaknesses[r.scenario + ": " + weakness];
        }
        for (const std::string& probe : r.probes) {
            ++tally.probes[probe];
        }
    }
    std::sort(tally.recoveries.begin(), tally.recoveries.end());
    for (const scenarios::CodeProbe& probe : scenarios::code_probes()) {
        if (!tally.probes.contains(std::string(probe.name))) {
            tally.probes_never_hit.emplace_back(probe.name);
        }
    }
    if (info.complete) {
        for (const auto& [scenario, weaknesses] : info.demonstrations) {
            const bool shown = std::any_of(weaknesses.begin(), weaknesses.end(), [&](const std::string& weakness) {
                return tally.weaknesses.contains(scenario + ": " + weakness);
            });
            if (!weaknesses.empty() && !shown) {
                tally.unshown.emplace_back(scenario, fmt::format("{}", fmt::join(weaknesses, " or ")));
            }
        }
    }
    return tally;
}

nlohmann::json sweep_json(const SweepInfo& info, const std::vector<Timed>& results, const Tally& counts) {
    nlohmann::json json{{"format", 1},
                        {"scenario", info.title},
                        {"seeds", {{"first", info.first}, {"last", info.last}}},
                        {"bug", info.bug},
                        {"shard", info.shard.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.shard)},
                        {"complete", info.complete},
                        {"runs", counts.runs},
                        {"passed", counts.passed},
                        {"failed", counts.failed},
                        {"errors", counts.errors},
                        {"exit_status", counts.exit_status()}};
    nlohmann::json by_anomaly = nlohmann::json::object();
    for (const auto& [anomaly, entry] : counts.by_anomaly) {
        by_anomaly[anomaly] = {{"seeds", entry.first},
                               {"first", {{"scenario", entry.second->result.scenario},
                                          {"seed", entry.second->result.seed},
                                          {"reproduce", entry.second->result.reproduce}}}};
    }
    json["failures_by_anomaly"] = by_anomaly;
    nlohmann::json failing = nlohmann::json::array();
    for (const Timed& timed : results) {
        if (timed.result.status != scenarios::RunStatus::pass) {
            nlohmann::json run{{"scenario", timed.result.scenario},
                               {"seed", timed.result.seed},
                               {"status", std::string(scenarios::to_string(timed.result.status))},
                               {"anomalies", timed.result.anomalies},
                               {"reproduce", timed.result.reproduce}};
            if (!timed.result.error.empty()) {
                run["error"] = timed.result.error;
            }
            failing.push_back(std::move(run));
        }
    }
    json["not_passed"] = failing;
    nlohmann::json weaknesses = nlohmann::json::object();
    for (const auto& [weakness, seeds] : counts.weaknesses) {
        weaknesses[weakness] = seeds;
    }
    json["weaknesses_observed"] = weaknesses;
    nlohmann::json unshown = nlohmann::json::array();
    for (const auto& [scenario, weaknesses_named] : counts.unshown) {
        unshown.push_back({{"scenario", scenario}, {"weaknesses", weaknesses_named}});
    }
    json["weaknesses_not_observed"] = unshown;
    nlohmann::json counters = nlohmann::json::object();
    for (const auto& [name, counter] : counts.counters) {
        counters[name] = {{"total", counter.first}, {"seeds", counter.second}};
    }
    json["counters"] = counters;
    json["faults"] = {{"planned", counts.faults.planned},
                      {"applied", counts.faults.applied()},
                      {"deferred", counts.faults.deferred},
                      {"downgraded", counts.faults.downgraded},
                      {"dropped", counts.faults.dropped}};
    json["probes"] = {{"hit", scenarios::code_probes().size() - counts.probes_never_hit.size()},
                      {"of", scenarios::code_probes().size()},
                      {"never_hit", counts.probes_never_hit}};
    json["events"] = counts.events;
    json["sim_ns"] = counts.sim_ns;
    if (info.seconds > 0) {
        json["wall_s"] = info.seconds;
    }
    return json;
}

}  // namespace eosim::reports
