#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"

namespace eosim::cli {

namespace {
struct RunOptions {
    std::string scenario;
    std::uint64_t seed = 0;
    bool check_determinism = false;
    bool verbose = false;
};
}  // namespace

Command add_run(CLI::App& app) {
    auto options = std::make_shared<RunOptions>();
    CLI::App* run = app.add_subcommand("run", "Run one scenario with one seed");
    run->add_option("scenario", options->scenario, "Scenario name (see `eosim list`)")->required();
    run->add_option("--seed", options->seed, "The seed that drives the whole run")->required();
    run->add_flag("--check-determinism", options->check_determinism, "Run twice and compare fingerprints");
    run->add_flag("-v,--verbose", options->verbose, "Print the parameters drawn from the seed");
    return Command{run, [options] {
                       fmt::print(stderr, "eosim: unknown scenario '{}': no scenarios are built in yet\n",
                                  options->scenario);
                       return int{exit_usage};
                   }};
}

}  // namespace eosim::cli
