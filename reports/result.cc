#include "reports/result.h"

#include <algorithm>
#include <fstream>
#include <tuple>

#include <fmt/format.h>

namespace eosim::reports {

bool failing(const scenarios::RunResult& result, const scenarios::AnomalyReport& report) {
    return std::find(result.anomalies.begin(), result.anomalies.end(), report.name) != result.anomalies.end();
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
    nlohmann::json evidence = nlohmann::json::array();
    for (const scenarios::AnomalyReport& report : r.reports) {
        if (failing(r, report) && evidence.size() < evidence_kept) {
            evidence.push_back(
                {{"anomaly", report.name}, {"partition", report.partition}, {"description", report.description}});
        }
    }
    if (!evidence.empty()) {
        json["evidence"] = evidence;
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

std::string json_text(const nlohmann::json& json, int indent) {
    return json.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string result_line(const Timed& timed) {
    return json_text(result_json(timed));
}

std::string fault_summary(const scenarios::FaultCounts& faults) {
    return fmt::format("faults: {} planned, {} applied ({} deferred, {} downgraded), {} dropped",
                       faults.planned, faults.applied(), faults.deferred, faults.downgraded, faults.dropped);
}

Timed result_from_json(const nlohmann::json& json) try {
    if (!json.is_object()) {
        throw ResultsError("a result must be a JSON object");
    }
    Timed timed;
    scenarios::RunResult& r = timed.result;
    r.scenario = json.at("scenario").get<std::string>();
    r.seed = json.at("seed").get<std::uint64_t>();
    r.bug = json.at("bug").get<std::string>();
    const std::string status = json.at("status").get<std::string>();
    if (status != "pass" && status != "fail" && status != "error") {
        throw ResultsError(fmt::format("status '{}' is none of pass, fail, error", status));
    }
    r.status = status == "pass" ? scenarios::RunStatus::pass
                                : (status == "fail" ? scenarios::RunStatus::fail : scenarios::RunStatus::error);
    r.anomalies = json.at("anomalies").get<std::vector<std::string>>();
    r.weaknesses = json.at("weaknesses").get<std::vector<std::string>>();
    r.allowed = json.value("allowed", std::vector<std::string>{});
    const std::string fingerprint = json.at("fingerprint").get<std::string>();
    if (fingerprint.empty() || fingerprint.size() > 16 ||
        fingerprint.find_first_not_of("0123456789abcdef") != std::string::npos) {
        throw ResultsError(fmt::format("fingerprint '{}' is not 16 hexadecimal digits", fingerprint));
    }
    r.fingerprint = std::stoull(fingerprint, nullptr, 16);
    r.events = json.at("events").get<std::uint64_t>();
    r.sim_ns = json.at("sim_ns").get<std::int64_t>();
    r.reproduce = json.at("reproduce").get<std::string>();
    if (json.contains("error")) {
        r.error = json.at("error").get<std::string>();
    }
    r.counters = json.value("counters", std::map<std::string, std::int64_t>{});
    for (const nlohmann::json& item : json.value("evidence", nlohmann::json::array())) {
        r.reports.push_back(scenarios::AnomalyReport{.name = item.at("anomaly").get<std::string>(),
                                                     .partition = item.value("partition", std::string{}),
                                                     .description = item.at("description").get<std::string>()});
    }
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
} catch (const nlohmann::json::exception& e) {
    // nlohmann's messages start "[json.exception.out_of_range.403] key 'seed' not found": keep the reason.
    std::string what = e.what();
    if (const auto close = what.find("] "); close != std::string::npos) {
        what = what.substr(close + 2);
    }
    throw ResultsError(what);
}

std::vector<Timed> read_results(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        throw ResultsError(fmt::format("{}: cannot read", path));
    }
    std::vector<Timed> results;
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        try {
            results.push_back(result_from_json(nlohmann::json::parse(line)));
        } catch (const nlohmann::json::parse_error& e) {
            std::string what = e.what();
            if (const auto close = what.find("] "); close != std::string::npos) {
                what = what.substr(close + 2);
            }
            throw ResultsError(fmt::format("{}:{}: not a JSON result line: {}", path, number, what));
        } catch (const ResultsError& e) {
            throw ResultsError(fmt::format("{}:{}: {}", path, number, e.what()));
        }
    }
    return results;
}

void sort_results(std::vector<Timed>& results) {
    std::stable_sort(results.begin(), results.end(), [](const Timed& a, const Timed& b) {
        return std::tie(a.result.scenario, a.result.seed, a.result.bug) <
               std::tie(b.result.scenario, b.result.seed, b.result.bug);
    });
}

}  // namespace eosim::reports
