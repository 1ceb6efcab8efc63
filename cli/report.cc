#include "cli/report.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace eosim::cli {

Timed timed_run(const scenarios::Spec& spec, const scenarios::RunOptions& options) {
    const auto start = std::chrono::steady_clock::now();  // the report's wall time: never read by the simulation
    Timed timed{scenarios::run(spec, options), 0};
    timed.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return timed;
}

nlohmann::json result_json(const Timed& timed) {
    const scenarios::RunResult& r = timed.result;
    nlohmann::json json{{"scenario", r.scenario},
                        {"seed", r.seed},
                        {"bug", r.bug},
                        {"status", std::string(scenarios::to_string(r.status))},
                        {"anomalies", r.anomalies},
                        {"weaknesses", r.weaknesses},
                        {"allowed", r.allowed},
                        {"fingerprint", fmt::format("{:016x}", r.fingerprint)},
                        {"events", r.events},
                        {"sim_ns", r.sim_ns},
                        {"wall_ms", static_cast<std::int64_t>(timed.wall_ms)},
                        {"reproduce", r.reproduce}};
    if (!r.error.empty()) {
        json["error"] = r.error;
    }
    if (!r.counters.empty()) {
        json["counters"] = r.counters;
    }
    json["faults"] = {{"planned", r.faults.planned},
                      {"applied", r.faults.applied()},
                      {"deferred", r.faults.deferred},
                      {"downgraded", r.faults.downgraded},
                      {"dropped", r.faults.dropped}};
    json["recovery_ns"] = r.recovery_ns;
    json["liveness_bound_ns"] = r.liveness_bound_ns;
    json["probes"] = r.probes;
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [name, value] : r.params) {
        params[name] = value;
    }
    json["params"] = params;
    return json;
}

std::string fault_summary(const scenarios::FaultCounts& faults) {
    return fmt::format("faults: {} planned, {} applied ({} deferred, {} downgraded), {} dropped",
                       faults.planned, faults.applied(), faults.deferred, faults.downgraded, faults.dropped);
}

Timed result_from_json(const nlohmann::json& json) {
    Timed timed;
    scenarios::RunResult& r = timed.result;
    r.scenario = json.at("scenario").get<std::string>();
    r.seed = json.at("seed").get<std::uint64_t>();
    r.bug = json.at("bug").get<std::string>();
    const std::string status = json.at("status").get<std::string>();
    r.status = status == "pass" ? scenarios::RunStatus::pass
                                : (status == "fail" ? scenarios::RunStatus::fail : scenarios::RunStatus::error);
    r.anomalies = json.at("anomalies").get<std::vector<std::string>>();
    r.weaknesses = json.at("weaknesses").get<std::vector<std::string>>();
    r.allowed = json.value("allowed", std::vector<std::string>{});
    r.fingerprint = std::stoull(json.at("fingerprint").get<std::string>(), nullptr, 16);
    r.events = json.at("events").get<std::uint64_t>();
    r.sim_ns = json.at("sim_ns").get<std::int64_t>();
    r.reproduce = json.at("reproduce").get<std::string>();
    if (json.contains("error")) {
        r.error = json.at("error").get<std::string>();
    }
    r.counters = json.value("counters", std::map<std::string, std::int64_t>{});
    r.probes = json.value("probes", std::vector<std::string>{});
    r.recovery_ns = json.value("recovery_ns", std::int64_t{-1});
    r.liveness_bound_ns = json.value("liveness_bound_ns", std::int64_t{0});
    if (const auto faults = json.find("faults"); faults != json.end()) {
        r.faults = scenarios::FaultCounts{.planned = faults->value("planned", std::int64_t{0}),
                                          .deferred = faults->value("deferred", std::int64_t{0}),
                                          .downgraded = faults->value("downgraded", std::int64_t{0}),
                                          .dropped = faults->value("dropped", std::int64_t{0})};
    }
    const nlohmann::json params = json.value("params", nlohmann::json::object());
    for (const auto& [name, value] : params.items()) {
        r.params.emplace_back(name, value.get<std::string>());
    }
    timed.wall_ms = static_cast<double>(json.at("wall_ms").get<std::int64_t>());
    return timed;
}

void print_run(std::FILE* out, const Timed& timed, bool verbose) {
    const scenarios::RunResult& r = timed.result;
    if (verbose) {
        for (const auto& [name, value] : r.params) {
            fmt::print(out, "param {} = {}\n", name, value);
        }
        fmt::print(out, "fault plan: {}\n", r.fault_plan.dump());
        if (!r.drawn_spec.empty()) {
            fmt::print(out, "swarm spec (eosim run --spec FILE runs it as it is):\n{}\n", r.drawn_spec);
        }
    }
    fmt::print(out, "{} seed {}{}: {} (fingerprint {:016x}, {} events, {:.1f} s simulated, {:.2f} s wall)\n", r.scenario,
               r.seed, r.bug.empty() ? "" : " bug " + r.bug, scenarios::to_string(r.status), r.fingerprint, r.events,
               static_cast<double>(r.sim_ns) * 1e-9, timed.wall_ms / 1000.0);
    if (!r.error.empty()) {
        fmt::print(out, "error: {}\n", r.error);
    }
    for (const std::string& name : r.weaknesses) {
        fmt::print(out, "weakness observed: {}\n", name);
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
    const auto listed = [](const std::vector<std::string>& names, const std::string& name) {
        return std::find(names.begin(), names.end(), name) != names.end();
    };
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
        const char* label = listed(r.anomalies, report.name) ? "anomaly"
                            : listed(r.weaknesses, report.name) ? "weakness"
                                                                : "allowed";
        fmt::print(out, "{} {}: {}\n", label, report.name, report.description);
    }
    if (r.status != scenarios::RunStatus::pass) {
        if (!r.anomalies.empty()) {
            fmt::print(out, "anomalies: {}\n", fmt::join(r.anomalies, ", "));
        }
        fmt::print(out, "reproduce: {}\n", r.reproduce);
    }
}

}  // namespace eosim::cli
