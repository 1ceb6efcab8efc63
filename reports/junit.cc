#include "reports/junit.h"

#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace eosim::reports {

namespace {

// The length of the valid UTF-8 sequence at text[at], or 0 when it is not one.
std::size_t utf8_length(std::string_view text, std::size_t at) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(at);
    const std::size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 0;
    if (length == 0 || at + length > text.size() || (length == 2 && lead < 0xc2)) {
        return 0;
    }
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(at + i) >> 6) != 0x2) {
            return 0;
        }
    }
    return length;
}

// Text fit for an XML attribute or element: the five special characters escaped, and what XML 1.0 forbids
// (control characters other than tab, newline and carriage return, bytes that are not UTF-8) replaced by '?'.
std::string xml(std::string_view text) {
    std::string escaped;
    escaped.reserve(text.size());
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t length = utf8_length(text, at);
        if (length == 0) {
            escaped += '?';
            ++at;
            continue;
        }
        if (length > 1) {
            escaped.append(text.substr(at, length));
            at += length;
            continue;
        }
        const char c = text[at++];
        switch (c) {
            case '&': escaped += "&amp;"; break;
            case '<': escaped += "&lt;"; break;
            case '>': escaped += "&gt;"; break;
            case '"': escaped += "&quot;"; break;
            case '\'': escaped += "&apos;"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
                    escaped += '?';
                } else {
                    escaped += c;
                }
        }
    }
    return escaped;
}

std::string seconds(double wall_ms) {
    return fmt::format("{:.3f}", wall_ms / 1000.0);
}

// The body of a failure: each piece of evidence on a line, then the reproduce command.
std::string failure_text(const scenarios::RunResult& r) {
    std::string text;
    for (const scenarios::AnomalyReport& report : r.reports) {
        if (failing(r, report)) {
            text += fmt::format("{}{}: {}\n", report.name, report.partition.empty() ? "" : " " + report.partition,
                                report.description);
        }
    }
    if (!r.error.empty()) {
        text += "error: " + r.error + "\n";
    }
    text += "reproduce: " + r.reproduce + "\n";
    return text;
}

}  // namespace

void write_junit(std::ostream& out, const SweepInfo& info, const std::vector<Timed>& results) {
    // Suites in the results' order (sorted by scenario).
    std::vector<std::pair<std::string, std::vector<const Timed*>>> suites;
    for (const Timed& timed : results) {
        if (suites.empty() || suites.back().first != timed.result.scenario) {
            suites.emplace_back(timed.result.scenario, std::vector<const Timed*>{});
        }
        suites.back().second.push_back(&timed);
    }
    const auto count = [](const std::vector<const Timed*>& runs, scenarios::RunStatus status) {
        return std::count_if(runs.begin(), runs.end(), [status](const Timed* t) { return t->result.status == status; });
    };
    const auto total_ms = [](const std::vector<const Timed*>& runs) {
        double ms = 0;
        for (const Timed* t : runs) {
            ms += t->wall_ms;
        }
        return ms;
    };
    std::vector<const Timed*> all;
    for (const Timed& timed : results) {
        all.push_back(&timed);
    }
    const std::string name = fmt::format("eosim sweep {} seeds {}..{}{}{}", info.title, info.first, info.last,
                                         info.shard.empty() ? "" : " shard " + info.shard,
                                         info.bug.empty() ? "" : " bug " + info.bug);
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out << fmt::format("<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">\n", xml(name),
                       all.size(), count(all, scenarios::RunStatus::fail), count(all, scenarios::RunStatus::error),
                       seconds(total_ms(all)));
    for (const auto& [scenario, runs] : suites) {
        out << fmt::format(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{}\">\n",
            xml(scenario), runs.size(), count(runs, scenarios::RunStatus::fail),
            count(runs, scenarios::RunStatus::error), seconds(total_ms(runs)));
        out << "    <properties>\n";
        out << fmt::format("      <property name=\"seeds\" value=\"{}..{}\"/>\n", info.first, info.last);
        if (!info.bug.empty()) {
            out << fmt::format("      <property name=\"bug\" value=\"{}\"/>\n", xml(info.bug));
        }
        if (!info.shard.empty()) {
            out << fmt::format("      <property name=\"shard\" value=\"{}\"/>\n", xml(info.shard));
        }
        out << "    </properties>\n";
        for (const Timed* timed : runs) {
            const scenarios::RunResult& r = timed->result;
            // With a bug switch the case says so: merged reports may hold one seed under several switches.
            const std::string head =
                fmt::format("    <testcase name=\"seed {}{}\" classname=\"eosim.{}\" time=\"{}\"", r.seed,
                            r.bug.empty() ? "" : " bug " + xml(r.bug), xml(scenario), seconds(timed->wall_ms));
            if (r.status == scenarios::RunStatus::pass) {
                out << head << "/>\n";
                continue;
            }
            const bool failed = r.status == scenarios::RunStatus::fail;
            const std::string message = failed ? fmt::format("{}", fmt::join(r.anomalies, ", ")) : r.error;
            out << head << ">\n";
            out << fmt::format("      <{} message=\"{}\" type=\"{}\">{}</{}>\n", failed ? "failure" : "error",
                               xml(message), failed ? (r.anomalies.empty() ? "anomaly" : xml(r.anomalies.front())) : "error",
                               xml(failure_text(r)), failed ? "failure" : "error");
            out << "    </testcase>\n";
        }
        out << "  </testsuite>\n";
    }
    out << "</testsuites>\n";
}

}  // namespace eosim::reports
