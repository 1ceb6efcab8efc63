#include <fmt/format.h>

#include <algorithm>
#include <ranges>

#include "cli/commands.h"
#include "faults/fault_plan.h"
#include "scenarios/bugs.h"
#include "scenarios/probes.h"
#include "scenarios/spec.h"
#include "scenarios/stream_apps.h"

namespace eosim::cli {

namespace {
struct ListOptions {
    bool bugs = false;
    bool faults = false;
    bool apps = false;
};
}  // namespace

Command add_list(CLI::App& app) {
    auto options = std::make_shared<ListOptions>();
    CLI::App* list = app.add_subcommand("list", "List the built-in scenarios, bug switches, fault kinds or stream applications");
    list->add_flag("--bugs", options->bugs, "List the bug switches");
    list->add_flag("--faults", options->faults, "List the fault kinds");
    list->add_flag("--apps", options->apps, "List the built-in stream applications");
    return Command{list, [options] {
                       if (options->bugs) {
                           std::size_t width = 0;
                           for (const scenarios::BugSwitch& bug : scenarios::bug_switches()) {
                               width = std::max(width, bug.name.size());
                           }
                           for (const scenarios::BugSwitch& bug : scenarios::bug_switches()) {
                               fmt::print("{:<{}} {} [{}; caught by {} in {}]\n", bug.name, width, bug.description,
                                          bug.origin, bug.caught_by, bug.scenario);
                           }
                       } else if (options->apps) {
                           for (const scenarios::StreamApp& stream_app : scenarios::stream_apps()) {
                               fmt::print("{:<26} {} [reads {}; writes {}]\n", stream_app.name, stream_app.description,
                                          fmt::join(stream_app.inputs, ", "), fmt::join(stream_app.outputs, ", "));
                           }
                       } else if (options->faults) {
                           for (const faults::FaultKindInfo& kind : faults::fault_kinds()) {
                               fmt::print("{:<18} {}\n", kind.name, kind.description);
                           }
                           fmt::print("\nmoments aimed kinds wait for (aim_at):\n");
                           for (const faults::MomentInfo& moment : faults::aim_moments()) {
                               fmt::print("{:<18} {}\n", moment.name, moment.description);
                           }
                       } else {
                           for (const scenarios::Spec& spec : scenarios::builtin_specs()) {
                               const std::string weakness = spec.checks.weaknesses.empty()
                                                                ? "must pass"
                                                                : "weakness " + fmt::format("{}", fmt::join(spec.checks.weaknesses, ", "));
                               fmt::print("{:<22} {} [{}]\n", spec.name, spec.description, weakness);
                           }
                           fmt::print("\nstream applications (eosim list --apps; docs/apps.md): {}\n",
                                      fmt::join(scenarios::stream_apps() | std::views::transform(
                                                                               [](const auto& a) { return a.name; }),
                                                ", "));
                       }
                       return int{exit_ok};
                   }};
}

Command add_probes(CLI::App& app) {
    CLI::App* probes = app.add_subcommand(
        "probes", "List the code probes: rare paths whose reach every sweep reports (eosim sweep --probes)");
    auto buggify = std::make_shared<bool>(false);
    probes->add_flag("--buggify", *buggify, "List the buggify sites instead");
    return Command{probes, [buggify] {
                       const std::vector<scenarios::CodeProbe>& listed =
                           *buggify ? scenarios::buggify_sites() : scenarios::code_probes();
                       std::size_t width = 0;
                       for (const scenarios::CodeProbe& probe : listed) {
                           width = std::max(width, probe.name.size());
                       }
                       for (const scenarios::CodeProbe& probe : listed) {
                           fmt::print("{:<{}} {} [{}]\n", probe.name, width, probe.description, probe.where);
                       }
                       return int{exit_ok};
                   }};
}

}  // namespace eosim::cli
