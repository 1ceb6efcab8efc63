#include <exception>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/version.h"

int main(int argc, char** argv) {
    using namespace eosim::cli;
    CLI::App app{"eosim: a deterministic simulator and test harness for a replicated log with exactly-once "
                 "semantics (the Kafka model)",
                 "eosim"};
    app.set_version_flag("--version", std::string("eosim ") + eosim_version);
    app.require_subcommand(1);
    std::vector<Command> commands{add_list(app), add_run(app), add_sweep(app), add_check(app), add_shrink(app), add_zoo(app), add_probes(app),
                                  add_report(app)};
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        fmt::print(stderr, "eosim: {} (see eosim --help)\n", e.what());
        return exit_usage;
    }
    try {
        for (const Command& command : commands) {
            if (command.app->parsed()) {
                return command.run();
            }
        }
    } catch (const UsageError& e) {
        fmt::print(stderr, "eosim: {}\n", e.what());
        return exit_usage;
    } catch (const std::exception& e) {
        fmt::print(stderr, "eosim: internal error: {}\n", e.what());
        return exit_internal;
    }
    return exit_usage;
}
