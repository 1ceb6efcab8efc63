#include "reports/html.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "scenarios/probes.h"

namespace eosim::reports {

// The page (reports/html/report.html), compiled in by embed_html.cmake.
extern const char* const html_template;

namespace {

nlohmann::json parse_line(const std::string& line) {
    return nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
}

// What family of fault a fault kind is (docs/faults.md): the colour of its spans.
std::string fault_family(const std::string& kind) {
    static const std::map<std::string, std::string, std::less<>> families{
        {"crash", "crash"},           {"crash-several", "crash"},    {"crash-controller", "crash"},
        {"power-loss", "crash"},      {"aimed-crash", "crash"},      {"crash-instance", "crash"},
        {"crash-rack", "crash"},      {"lose-segment", "disk"},      {"corrupt-file", "disk"},
        {"corrupt", "disk"},          {"slow-disk", "disk"},         {"disk-full", "disk"},
        {"pause", "pause"},           {"aimed-pause", "pause"},      {"pause-instance", "pause"},
        {"slow-node", "pause"},       {"partition", "partition"},    {"partition-one-way", "partition"},
        {"isolate", "partition"},     {"split", "partition"},        {"bridge", "partition"},
        {"aimed-partition", "partition"}, {"flap", "partition"},     {"clock-jump", "clock"},
        {"clock-drift", "clock"},     {"reset", "network"},          {"latency-spike", "network"},
        {"slow-link", "network"},     {"narrow-link", "network"}};
    const auto found = families.find(kind);
    return found == families.end() ? "network" : found->second;
}

std::string str(const nlohmann::json& json, const char* key) {
    const auto found = json.find(key);
    if (found == json.end()) {
        return "";
    }
    return found->is_string() ? found->get<std::string>() : found->dump();
}

std::int64_t int64(const nlohmann::json& json, const char* key, std::int64_t otherwise = 0) {
    const auto found = json.find(key);
    return found != json.end() && found->is_number() ? found->get<std::int64_t>() : otherwise;
}

std::string shortened(std::string text, std::size_t most) {
    if (text.size() > most) {
        text.resize(most);
        text += "...";
    }
    return text;
}

// Lanes in the order the page shows them: the faults, the controller, the brokers, then everyone else in
// the order they first appeared.
class Lanes {
public:
    std::size_t at(const std::string& name) {
        const auto [found, inserted] = index_.try_emplace(name, names_.size());
        if (inserted) {
            names_.push_back(name);
        }
        return found->second;
    }
    [[nodiscard]] bool has(const std::string& name) const { return index_.contains(name); }
    // The final order, and where each first-come index went.
    [[nodiscard]] std::pair<std::vector<std::string>, std::vector<std::size_t>> ordered() const {
        const auto rank = [](const std::string& name) {
            return name == "faults" ? 0 : name == "controller" ? 1 : name.rfind("broker-", 0) == 0 ? 2 : 3;
        };
        std::vector<std::size_t> order(names_.size());
        for (std::size_t i = 0; i < order.size(); ++i) {
            order[i] = i;
        }
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            const int ra = rank(names_[a]);
            const int rb = rank(names_[b]);
            if (ra != rb) {
                return ra < rb;
            }
            if (ra == 2 && names_[a].size() != names_[b].size()) {
                return names_[a].size() < names_[b].size();  // broker-2 before broker-10
            }
            return ra == 2 ? names_[a] < names_[b] : a < b;
        });
        std::vector<std::string> names;
        std::vector<std::size_t> moved(names_.size());
        for (std::size_t i = 0; i < order.size(); ++i) {
            names.push_back(names_[order[i]]);
            moved[order[i]] = i;
        }
        return {names, moved};
    }

private:
    std::vector<std::string> names_;
    std::map<std::string, std::size_t> index_;
};

// The first "op N" a piece of evidence names (the operation it is about), if any.
std::optional<std::uint64_t> first_op(const std::string& text) {
    for (std::size_t at = text.find("op "); at != std::string::npos; at = text.find("op ", at + 1)) {
        const bool word = at == 0 || text[at - 1] == ' ' || text[at - 1] == '(';
        std::size_t end = at + 3;
        while (end < text.size() && text[end] >= '0' && text[end] <= '9') {
            ++end;
        }
        if (word && end > at + 3) {
            return std::stoull(text.substr(at + 3, end - at - 3));
        }
    }
    return std::nullopt;
}

}  // namespace

nlohmann::json run_timeline(const Timed& timed, const RunRecording& recording) {
    const scenarios::RunResult& r = timed.result;
    Lanes lanes;
    lanes.at("faults");
    std::int64_t end_ns = r.sim_ns;
    nlohmann::json spans = nlohmann::json::array();
    nlohmann::json markers = nlohmann::json::array();
    nlohmann::json heals = nlohmann::json::array();
    const auto span = [&](const std::string& lane, const std::string& kind, const std::string& family,
                          std::int64_t start, std::int64_t end, const std::string& label) {
        spans.push_back({{"lane", lanes.at(lane)}, {"kind", kind}, {"family", family}, {"start", start},
                         {"end", std::max(end, start)}, {"label", label}});
    };
    const auto marker = [&](const std::string& lane, const std::string& kind, std::int64_t t, const std::string& label) {
        markers.push_back({{"lane", lanes.at(lane)}, {"kind", kind}, {"t", t}, {"label", label}});
    };
    std::map<std::string, std::pair<std::int64_t, std::string>> down;          // node -> since, why
    std::map<std::pair<std::string, std::string>, std::int64_t> blocked;       // from, to -> since
    std::vector<std::pair<std::int64_t, std::string>> invariants;              // when, on which node
    const auto unblock = [&](const std::pair<std::string, std::string>& link, std::int64_t since, std::int64_t until) {
        span(link.first, "partition", "partition", since, until,
             fmt::format("{}'s messages to {} are lost", link.first, link.second));
    };

    std::istringstream trace(recording.trace);
    for (std::string line; std::getline(trace, line);) {
        const nlohmann::json event = parse_line(line);
        if (!event.is_object()) {
            continue;
        }
        const std::int64_t t = int64(event, "t");
        end_ns = std::max(end_ns, t);
        const std::string node = str(event, "node");
        const std::string name = str(event, "event");
        const std::string target = str(event, "target");
        const std::string here = node == "world" ? "controller" : node;  // the world speaks for the controller
        if (name == "NodeStart") {
            if (target == "world") {
                continue;
            }
            lanes.at(target);
            if (const auto open = down.find(target); open != down.end()) {
                span(target, "down", "crash", open->second.first, t, open->second.second);
                down.erase(open);
            }
            if (int64(event, "incarnation", 1) > 1) {
                marker(target, "restart", t, fmt::format("{} restarts (incarnation {})", target, int64(event, "incarnation")));
            }
        } else if (name == "NodeCrash") {
            down.try_emplace(target, t, fmt::format("{} is down (crashed; unsynced writes: {})", target,
                                                    str(event, "unsynced")));
        } else if (name == "NodePause") {
            span(target, "pause", "pause", t, int64(event, "until", t), fmt::format("{} is paused", target));
        } else if (name == "NetworkBlock") {
            blocked.try_emplace({str(event, "from"), str(event, "to")}, t);
        } else if (name == "NetworkUnblock") {
            const auto link = std::pair{str(event, "from"), str(event, "to")};
            if (const auto open = blocked.find(link); open != blocked.end()) {
                unblock(link, open->second, t);
                blocked.erase(open);
            }
        } else if (name == "NetworkHeal") {
            for (const auto& [link, since] : blocked) {
                unblock(link, since, t);
            }
            blocked.clear();
        } else if (name == "NetworkReset") {
            marker(target, "reset", t, fmt::format("every connection of {} is reset", target));
        } else if (name == "FaultStart") {
            const nlohmann::json fault = nlohmann::json::parse(str(event, "fault"), nullptr, false);
            if (!fault.is_object()) {
                continue;
            }
            const std::string kind = str(fault, "kind");
            const std::string family = fault_family(kind);
            const double duration_ms = fault.value("duration_ms", 0.0);
            const auto until = t + static_cast<std::int64_t>(duration_ms * 1e6);
            std::vector<std::string> targets = fault.value("targets", std::vector<std::string>{});
            std::string label = kind;
            for (const std::string& victim : targets) {
                label += " " + victim;
            }
            if (const auto other = fault.find("other_side"); other != fault.end() && other->is_array()) {
                label += " | " + fmt::format("{}", other->dump());
            }
            span("faults", kind, family, t, until, label);
            if (family == "clock" || family == "disk" || family == "network") {
                for (const std::string& victim : targets) {
                    span(victim, kind, family, t, until, label);
                }
            }
        } else if (name == "FaultSkipped" || name == "FaultDeferred" || name == "FaultDowngraded") {
            marker("faults", "fault-note", t, name + ": " + str(event, "why") + str(event, "fault"));
        } else if (name == "ClockJump") {
            marker(target, "clock", t, fmt::format("{}'s clock steps {:.1f} ms", target,
                                                   static_cast<double>(int64(event, "step_ns")) * 1e-6));
        } else if (name == "ClockDrift") {
            marker(target, "clock", t, fmt::format("{}'s clock drifts {} ppm", target, str(event, "drift_ppm")));
        } else if (name == "DiskFull" || name == "DiskRoom" || name == "DiskCorrupted") {
            marker(target, "disk", t, fmt::format("{} {} {}", name, target, str(event, "file")));
        } else if (name == "BecomeLeader") {
            marker(here, "leader", t, fmt::format("{} leads {} (leader epoch {}, ISR {})", node, str(event, "partition"),
                                                  str(event, "leader_epoch"), str(event, "isr")));
        } else if (name == "PartitionChange") {
            marker(here, "isr", t, fmt::format("{}: leader {}, leader epoch {}, ISR {}", str(event, "partition"),
                                               str(event, "leader"), str(event, "leader_epoch"), str(event, "isr")));
        } else if (name == "LeaderElection") {
            marker(here, "election", t, fmt::format("{}: broker-{} elected{} (leader epoch {})", str(event, "partition"),
                                                    str(event, "leader"), str(event, "unclean") == "true" ? " UNCLEAN" : "",
                                                    str(event, "leader_epoch")));
        } else if (name == "TxnCoordinatorElected" || name == "GroupCoordinatorElected" ||
                   name == "TxnCoordinatorResigned" || name == "GroupCoordinatorResigned") {
            const bool txn = name.rfind("Txn", 0) == 0;
            const bool elected = name.find("Elected") != std::string::npos;
            marker(here, "coordinator", t, fmt::format("{} {} the {} coordinator of {}-{}", node,
                                                       elected ? "becomes" : "stops being", txn ? "transaction" : "group",
                                                       txn ? "__transaction_state" : "__consumer_offsets",
                                                       str(event, "partition")));
        } else if (name == "FollowerTruncate" || name == "FollowerTruncateFully") {
            marker(here, "truncate", t, fmt::format("{} truncates {} to {}", node, str(event, "partition"), str(event, "offset")));
        } else if (name == "BrokerFenced" || name == "BrokerHalt") {
            marker(here, "fenced", t, fmt::format("{}: broker {} {}", name, str(event, "broker"), str(event, "reason") + str(event, "why")));
        } else if (name == "Heal") {
            heals.push_back(t);
        } else if (name == "InvariantViolation") {
            invariants.emplace_back(t, node == "world" ? "faults" : node);
        }
    }

    // Operations: a completion belongs to the earliest pending invoke of the process with the same f,
    // partition and value (docs/history-format.md).
    std::map<std::uint64_t, std::pair<std::int64_t, std::string>> op_at;  // index -> time, process
    std::map<std::tuple<std::string, std::string, std::string, std::string>, std::deque<std::pair<std::uint64_t, std::int64_t>>>
        pending;
    nlohmann::json ops = nlohmann::json::array();
    const std::vector<std::string> types{"ok", "fail", "info", "pending"};
    const auto type_index = [&](const std::string& type) {
        return static_cast<std::size_t>(std::find(types.begin(), types.end(), type) - types.begin());
    };
    std::map<std::uint64_t, std::string> labels;  // invoke index -> label
    std::istringstream history(recording.history);
    for (std::string line; std::getline(history, line);) {
        const nlohmann::json op = parse_line(line);
        if (!op.is_object() || str(op, "kind") != "op") {
            continue;
        }
        const auto index = op.value("index", std::uint64_t{0});
        const std::int64_t time = int64(op, "time");
        const std::string process = str(op, "process");
        const std::string type = str(op, "type");
        const std::string f = str(op, "f");
        const std::string partition = str(op, "partition");
        const std::string value = op.contains("value") ? str(op, "value") : "";
        op_at[index] = {time, process};
        const auto key = std::tuple{process, f, partition, value};
        std::string outcome;
        if (op.contains("offset")) {
            outcome += fmt::format(" offset {}", str(op, "offset"));
        }
        if (op.contains("records")) {
            outcome += fmt::format(" ({} records)", op.at("records").size());
        }
        if (op.contains("error")) {
            outcome += " error " + str(op, "error");
        }
        std::string label = fmt::format("{} op {} {} {}{}", process, index, f, partition,
                                        value.empty() ? "" : " " + shortened(value, 40));
        if (type == "invoke") {
            pending[key].emplace_back(index, time);
            labels[index] = label;
            continue;
        }
        auto& waiting = pending[key];
        std::int64_t start = time;
        if (!waiting.empty()) {
            start = waiting.front().second;
            label = labels[waiting.front().first] + fmt::format(" -> {} (op {})", type, index);
            labels.erase(waiting.front().first);
            waiting.pop_front();
        } else {
            label += " -> " + type;
        }
        label += outcome;
        ops.push_back({lanes.at(process), start, time, type_index(type), label});
    }
    for (const auto& [key, waiting] : pending) {
        for (const auto& [index, time] : waiting) {
            ops.push_back({lanes.at(std::get<0>(key)), time, end_ns, type_index("pending"), labels[index] + " (never completed)"});
        }
    }
    for (const auto& [node, open] : down) {
        span(node, "down", "crash", open.first, end_ns, open.second);
    }
    for (const auto& [link, since] : blocked) {
        unblock(link, since, end_ns);
    }

    // Anomalies, each where its evidence points: the operation it names, the invariant's moment, or the end
    // of the run (what the final check found).
    nlohmann::json anomalies = nlohmann::json::array();
    const auto listed = [](const std::vector<std::string>& names, const std::string& name) {
        return std::find(names.begin(), names.end(), name) != names.end();
    };
    std::size_t invariant = 0;
    for (const scenarios::AnomalyReport& report : r.reports) {
        const std::string status = listed(r.anomalies, report.name)    ? "fail"
                                   : listed(r.weaknesses, report.name) ? "weakness"
                                                                       : "allowed";
        std::int64_t t = end_ns;
        std::string lane = "checks";
        std::string placed = "the final check";
        if (const auto op = first_op(report.description); op && op_at.contains(*op)) {
            t = op_at.at(*op).first;
            lane = op_at.at(*op).second;
            placed = fmt::format("op {}", *op);
        } else if (report.name == "invariant-violation" && invariant < invariants.size()) {
            t = invariants[invariant].first;
            lane = invariants[invariant].second;
            placed = "the invariant broke";
            ++invariant;
        }
        anomalies.push_back({{"name", report.name}, {"status", status}, {"partition", report.partition},
                             {"description", report.description}, {"lane", lanes.at(lane)}, {"t", t},
                             {"placed", placed}});
    }

    // Messages: [sent, arrival, from lane, to lane, kind, fate], kinds by index.
    nlohmann::json messages{{"kinds", nlohmann::json::array()}, {"items", nlohmann::json::array()}, {"left_out", 0}};
    if (recording.messages != nullptr) {
        std::map<std::string, std::size_t> kinds;
        for (const scenarios::MessageTrace& message : recording.messages->messages) {
            const auto [kind, inserted] = kinds.try_emplace(message.kind, kinds.size());
            if (inserted) {
                messages["kinds"].push_back(message.kind);
            }
            messages["items"].push_back({message.sent_ns, message.arrival_ns, lanes.at(message.from),
                                         lanes.at(message.to), kind->second, static_cast<int>(message.fate)});
        }
        messages["left_out"] = recording.messages->left_out;
    }

    // Lane indexes were handed out as lanes appeared; renumber everything to the page's order.
    const auto [names, moved] = lanes.ordered();
    for (nlohmann::json& item : spans) {
        item["lane"] = moved[item["lane"].get<std::size_t>()];
    }
    for (nlohmann::json& item : markers) {
        item["lane"] = moved[item["lane"].get<std::size_t>()];
    }
    for (nlohmann::json& item : anomalies) {
        item["lane"] = moved[item["lane"].get<std::size_t>()];
    }
    for (nlohmann::json& item : ops) {
        item[0] = moved[item[0].get<std::size_t>()];
    }
    for (nlohmann::json& item : messages["items"]) {
        item[2] = moved[item[2].get<std::size_t>()];
        item[3] = moved[item[3].get<std::size_t>()];
    }
    return nlohmann::json{
        {"kind", "run"},
        {"meta",
         {{"scenario", r.scenario}, {"seed", r.seed}, {"bug", r.bug},
          {"status", std::string(scenarios::to_string(r.status))}, {"anomalies", r.anomalies},
          {"weaknesses", r.weaknesses}, {"allowed", r.allowed}, {"fingerprint", fmt::format("{:016x}", r.fingerprint)},
          {"events", r.events}, {"sim_ns", r.sim_ns}, {"reproduce", r.reproduce}, {"error", r.error},
          {"faults", fault_summary(r.faults)}}},
        {"end_ns", end_ns},
        {"lanes", names},
        {"spans", spans},
        {"markers", markers},
        {"heals", heals},
        {"ops", ops},
        {"op_types", types},
        {"anomalies", anomalies},
        {"messages", messages}};
}

namespace {

// The page with `data` in it. Every '<', '>' and '&' of the JSON (they occur only inside its strings) is
// written as a \u escape, so that no string in the data can end the script element or open a comment in
// it. The placeholders are found in the template, never in what replaced them.
void write_page(std::ostream& out, const std::string& title, const nlohmann::json& data) {
    const std::string json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string safe;
    safe.reserve(json.size() + json.size() / 16);
    for (const char c : json) {
        switch (c) {
            case '<': safe += "\\u003c"; break;
            case '>': safe += "\\u003e"; break;
            case '&': safe += "\\u0026"; break;
            default: safe += c;
        }
    }
    std::string escaped_title;
    for (const char c : title) {
        escaped_title += c == '<' ? std::string("&lt;") : c == '&' ? std::string("&amp;") : std::string(1, c);
    }
    const std::string_view page = html_template;
    const std::string_view title_mark = "@EOSIM_TITLE@";
    const std::string_view data_mark = "@EOSIM_DATA@";
    const std::size_t title_at = page.find(title_mark);
    const std::size_t data_at = page.find(data_mark);
    if (title_at == std::string_view::npos || data_at == std::string_view::npos || title_at > data_at) {
        throw std::logic_error("reports/html/report.html lacks its placeholders");
    }
    out << page.substr(0, title_at) << escaped_title
        << page.substr(title_at + title_mark.size(), data_at - title_at - title_mark.size()) << safe
        << page.substr(data_at + data_mark.size());
}

}  // namespace

void write_run_html(std::ostream& out, const Timed& timed, const RunRecording& recording) {
    const scenarios::RunResult& r = timed.result;
    write_page(out,
               fmt::format("eosim: {} seed {}{}: {}", r.scenario, r.seed, r.bug.empty() ? "" : " bug " + r.bug,
                           scenarios::to_string(r.status)),
               run_timeline(timed, recording));
}

nlohmann::json sweep_page(const SweepInfo& info, const std::vector<Timed>& results, const Tally& counts,
                          const RunLinks& links) {
    nlohmann::json page = sweep_json(info, results, counts);
    page["kind"] = "sweep";
    nlohmann::json runs = nlohmann::json::array();
    for (const Timed& timed : results) {
        const scenarios::RunResult& r = timed.result;
        const auto link = links.find({r.scenario, r.seed, r.bug});
        runs.push_back({r.scenario, r.seed, r.bug, std::string(scenarios::to_string(r.status)), r.anomalies,
                        r.weaknesses, r.probes.size(), static_cast<std::int64_t>(timed.wall_ms), r.reproduce,
                        link == links.end() ? "" : link->second, r.error});
    }
    page["rows"] = runs;
    nlohmann::json probes = nlohmann::json::array();
    for (const scenarios::CodeProbe& probe : scenarios::code_probes()) {
        const auto hit = counts.probes.find(std::string(probe.name));
        probes.push_back({probe.name, hit == counts.probes.end() ? 0 : hit->second});
    }
    page["probe_counts"] = probes;
    page["title"] = fmt::format("eosim sweep {} seeds {}..{}{}{}", info.title, info.first, info.last,
                                info.shard.empty() ? "" : " shard " + info.shard,
                                info.bug.empty() ? "" : " bug " + info.bug);
    return page;
}

void write_sweep_html(std::ostream& out, const SweepInfo& info, const std::vector<Timed>& results,
                      const Tally& counts, const RunLinks& links) {
    nlohmann::json page = sweep_page(info, results, counts, links);
    const std::string title = page["title"].get<std::string>();
    write_page(out, title, page);
}

}  // namespace eosim::reports
