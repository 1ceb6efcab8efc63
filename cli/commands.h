#pragma once

#include <CLI/CLI.hpp>

namespace eosim::cli {

// Exit statuses of the eosim command.
enum ExitStatus : int {
    exit_ok = 0,        // every check held
    exit_anomaly = 1,   // an anomaly was found
    exit_usage = 2,     // bad usage or bad input (one-line reason on stderr)
    exit_internal = 3,  // an internal error of eosim
};

// Each subcommand registers itself on the app and sets the function that runs it.
struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;
};

Command add_list(CLI::App& app);
Command add_run(CLI::App& app);

}  // namespace eosim::cli
