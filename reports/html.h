// The HTML reports (docs/reports.md, "HTML"): one self-contained file each, that works offline.
//  - a run: a timeline with a lane per node, the faults as spans, the messages as arrows, leadership, ISR
//    and coordinator changes, each client's operations, and every anomaly with its evidence;
//  - a sweep: a table of seeds with their outcomes, anomalies and probes, links to the failing runs'
//    reports, and a chart of failures by anomaly.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/result.h"
#include "reports/summary.h"

namespace eosim::reports {

// What a run left besides its result, for its timeline.
struct RunRecording {
    std::string trace;    // the trace, JSON lines (as --trace writes it)
    std::string history;  // the history, JSON lines (docs/history-format.md)
    const scenarios::MessageLog* messages = nullptr;
};

// The timeline of a run as the page draws it (docs/reports.md, "HTML"): lanes, spans, markers, messages,
// operations and anomalies, every time in simulated nanoseconds.
nlohmann::json run_timeline(const Timed& timed, const RunRecording& recording);
// The run's report: the page with its timeline.
void write_run_html(std::ostream& out, const Timed& timed, const RunRecording& recording);

// A run of a sweep -> the path (relative to the sweep's page) of its own report, for the links.
using RunLinks = std::map<std::tuple<std::string, std::uint64_t, std::string>, std::string>;
// The sweep's page data: counts, failures by anomaly, probes, and a row per run.
nlohmann::json sweep_page(const SweepInfo& info, const std::vector<Timed>& results, const Tally& counts,
                          const RunLinks& links);
void write_sweep_html(std::ostream& out, const SweepInfo& info, const std::vector<Timed>& results,
                      const Tally& counts, const RunLinks& links);

}  // namespace eosim::reports
