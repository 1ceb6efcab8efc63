#include "cli/report.h"

#include <fmt/format.h>

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
                        {"fingerprint", fmt::format("{:016x}", r.fingerprint)},
                        {"events", r.events},
                        {"sim_ns", r.sim_ns},
                        {"wall_ms", static_cast<std::int64_t>(timed.wall_ms)},
                        {"reproduce", r.reproduce}};
    if (!r.error.empty()) {
        json["error"] = r.error;
    }
    return json;
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
    r.fingerprint = std::stoull(json.at("fingerprint").get<std::string>(), nullptr, 16);
    r.events = json.at("events").get<std::uint64_t>();
    r.sim_ns = json.at("sim_ns").get<std::int64_t>();
    r.reproduce = json.at("reproduce").get<std::string>();
    if (json.contains("error")) {
        r.error = json.at("error").get<std::string>();
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
    std::size_t shown = 0;
    for (const scenarios::AnomalyReport& report : r.reports) {
        const bool failure = std::find(r.anomalies.begin(), r.anomalies.end(), report.name) != r.anomalies.end();
        if (!failure && !verbose) {
            continue;
        }
        if (++shown > 10) {
            fmt::print(out, "... and {} more (see --history)\n", r.reports.size() - 10);
            break;
        }
        fmt::print(out, "{} {}: {}\n", failure ? "anomaly" : "allowed", report.name, report.description);
    }
    if (r.status != scenarios::RunStatus::pass) {
        fmt::print(out, "reproduce: {}\n", r.reproduce);
    }
}

}  // namespace eosim::cli
