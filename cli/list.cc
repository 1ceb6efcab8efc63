#include <fmt/format.h>

#include "cli/commands.h"

namespace eosim::cli {

namespace {
struct ListOptions {
    bool bugs = false;
    bool faults = false;
};
}  // namespace

Command add_list(CLI::App& app) {
    auto options = std::make_shared<ListOptions>();
    CLI::App* list = app.add_subcommand("list", "List the built-in scenarios, bug switches or fault kinds");
    list->add_flag("--bugs", options->bugs, "List the bug switches");
    list->add_flag("--faults", options->faults, "List the fault kinds");
    return Command{list, [options] {
                       if (options->bugs) {
                           fmt::print("no bug switches yet: they come with the replicated log\n");
                       } else if (options->faults) {
                           fmt::print("no fault kinds yet: they come with the replicated log\n");
                       } else {
                           fmt::print("no scenarios yet: they come with the replicated log\n");
                       }
                       return int{exit_ok};
                   }};
}

}  // namespace eosim::cli
