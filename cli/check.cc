#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "model/checkers.h"
#include "model/history.h"

namespace eosim::cli {

Command add_check(CLI::App& app) {
    auto path = std::make_shared<std::string>();
    CLI::App* check = app.add_subcommand("check", "Run the checkers over a recorded history (docs/history-format.md)");
    check->add_option("history", *path, "The history file (JSON lines)")->required();
    return Command{check, [path] {
                       std::ifstream in(*path);
                       if (!in) {
                           throw UsageError(fmt::format("{}: cannot read", *path));
                       }
                       model::History history;
                       try {
                           history = model::read_history(in);
                       } catch (const model::HistoryError& error) {
                           throw UsageError(fmt::format("{}: {}", *path, error.what()));
                       }
                       const std::vector<model::Anomaly> anomalies = model::check(history);
                       for (const model::Anomaly& anomaly : anomalies) {
                           fmt::print("{} {}: {}\n", anomaly.name, anomaly.partition, anomaly.description);
                       }
                       // Which checkers had something to go on, and which had nothing (a history recorded
                       // outside eosim has no replica bytes, removals or health: docs/real-clusters.md).
                       std::vector<std::string> checked;
                       std::vector<std::string> idle;
                       for (const model::CheckerFamily& family : model::checker_families(history)) {
                           if (family.found.empty()) {
                               idle.push_back(fmt::format("{} ({})", family.name, fmt::join(family.anomalies, ", ")));
                           } else {
                               checked.push_back(fmt::format("{} ({})", family.name, family.found));
                           }
                       }
                       fmt::print("checked: {}\n", checked.empty() ? "nothing" : fmt::format("{}", fmt::join(checked, "; ")));
                       if (!idle.empty()) {
                           fmt::print("nothing to check for: {}\n", fmt::join(idle, "; "));
                       }
                       fmt::print("{}: {} operations, {} replicas, {} anomalies\n", *path, history.operations.size(),
                                  history.replicas.size(), anomalies.size());
                       return anomalies.empty() ? int{exit_ok} : int{exit_anomaly};
                   }};
}

}  // namespace eosim::cli
