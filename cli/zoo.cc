// eosim zoo: every bug switch against the scenario that must catch it, timed to its first failure.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "cli/sweep_pool.h"
#include "scenarios/bugs.h"

namespace eosim::cli {

namespace {

struct ZooOptions {
    std::string seeds = "1..300";
    int jobs = 2;
    std::vector<std::string> bugs;  // empty: every switch
    std::string out_path;
    bool swarm = true;  // also hunt each switch in the swarm scenario
};

// One switch's line of the scoreboard.
struct Entry {
    const scenarios::BugSwitch* bug = nullptr;
    bool caught = false;
    std::uint64_t seed = 0;   // the first failing seed
    std::uint64_t seeds = 0;  // seeds run up to and including it (or all, when not caught)
    double wall_s = 0;        // wall seconds until it was known to be the first
    std::vector<std::string> anomalies;
    std::string reproduce;
    std::size_t errors = 0;  // seeds that erred on the way (an internal error of eosim, never a catch)
};

// Sweeps `target` with the switch on until its first failure.
Entry hunt(const scenarios::BugSwitch& bug, std::string_view target, const ZooOptions& options,
           std::pair<std::uint64_t, std::uint64_t> seeds) {
    SweepOptions sweep_options;
    sweep_options.target = std::string(target);
    sweep_options.seeds = options.seeds;
    sweep_options.jobs = options.jobs;
    sweep_options.bug = std::string(bug.name);
    sweep_options.stop_on_failure = true;
    sweep_options.errors_stop = false;  // a seed that errs is no catch: the hunt goes on
    sweep_options.quiet = true;
    const std::vector<scenarios::Spec> specs{resolve_spec(sweep_options.target, "")};
    Sweep sweep(sweep_options, specs, sweep_tasks(1, seeds.first, seeds.second));
    const int jobs = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(options.jobs), sweep.total()));
    if (jobs <= 1) {
        sweep.run_here();
    } else {
        sweep.run_in_workers(jobs);
    }
    Entry entry{.bug = &bug, .errors = sweep.errors()};
    const Timed* first = sweep.first_failure();
    if (first == nullptr) {
        entry.seeds = sweep.total();
        entry.wall_s = sweep.elapsed();
        return entry;
    }
    entry.caught = true;
    entry.seed = first->result.seed;
    entry.seeds = first->result.seed - seeds.first + 1;
    entry.wall_s = sweep.settled_at(*first);
    entry.anomalies = first->result.anomalies;
    entry.reproduce = first->result.reproduce;
    return entry;
}

double median(std::vector<double> values) {
    if (values.empty()) {
        return 0;
    }
    std::sort(values.begin(), values.end());
    const std::size_t middle = values.size() / 2;
    return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

int zoo_command(const ZooOptions& options) {
    if (options.jobs < 1 || options.jobs > 256) {
        throw UsageError(fmt::format("-j {}: the number of workers must be from 1 to 256", options.jobs));
    }
    const auto seeds = parse_seed_range(options.seeds);
    std::vector<const scenarios::BugSwitch*> bugs;
    for (const std::string& name : options.bugs) {
        check_bug(name);
        bugs.push_back(scenarios::find_bug(name));
    }
    if (bugs.empty()) {
        for (const scenarios::BugSwitch& bug : scenarios::bug_switches()) {
            bugs.push_back(&bug);
        }
    }
    std::ofstream out = open_output(options.out_path);
    fmt::print("zoo: {} switch{} against their scenarios{}, seeds {}..{}, {} worker{}\n", bugs.size(),
               bugs.size() == 1 ? "" : "es", options.swarm ? " and swarm" : "", seeds.first, seeds.second,
               options.jobs, options.jobs == 1 ? "" : "s");
    fmt::print("{:<34} {:<30} {:<6} {:>5} {:>7}  {}{}\n", "switch", "scenario", "caught", "seeds", "wall s",
               options.swarm ? fmt::format("{:<24}", "swarm (seeds, wall s)") : "", "anomalies of the first failing seed");
    std::vector<Entry> entries;
    std::vector<Entry> in_swarm;
    double total_s = 0;
    for (const scenarios::BugSwitch* bug : bugs) {
        Entry entry = hunt(*bug, bug->scenario, options, seeds);
        total_s += entry.wall_s;
        std::string swarm_column;
        nlohmann::json swarm_json;
        if (options.swarm) {
            Entry swarm = hunt(*bug, "swarm", options, seeds);
            total_s += swarm.wall_s;
            swarm_column = swarm.caught ? fmt::format("{:<22}  ", fmt::format("yes ({}, {:.1f})", swarm.seeds, swarm.wall_s))
                                        : fmt::format("{:<22}  ", fmt::format("no ({})", swarm.seeds));
            swarm_json = nlohmann::json{{"caught", swarm.caught},
                                        {"first_seed", swarm.seed},
                                        {"seeds", swarm.seeds},
                                        {"wall_s", std::round(swarm.wall_s * 100) / 100},
                                        {"anomalies", swarm.anomalies},
                                        {"reproduce", swarm.reproduce}};
            in_swarm.push_back(std::move(swarm));
        }
        fmt::print("{:<34} {:<30} {:<6} {:>5} {:>7.1f}  {}{}\n", bug->name, bug->scenario, entry.caught ? "yes" : "NO",
                   entry.seeds, entry.wall_s, swarm_column,
                   entry.caught ? fmt::format("{}", fmt::join(entry.anomalies, ", ")) : "-");
        std::fflush(stdout);
        if (out.is_open()) {
            nlohmann::json line{{"bug", std::string(bug->name)},
                                {"origin", std::string(bug->origin)},
                                {"scenario", std::string(bug->scenario)},
                                {"caught", entry.caught},
                                {"first_seed", entry.seed},
                                {"seeds", entry.seeds},
                                {"wall_s", std::round(entry.wall_s * 100) / 100},
                                {"anomalies", entry.anomalies},
                                {"reproduce", entry.reproduce}};
            if (options.swarm) {
                line["swarm"] = swarm_json;
            }
            out << line.dump() << '\n';
        }
        entries.push_back(std::move(entry));
    }
    close_output(out, options.out_path);
    std::vector<double> walls;
    std::vector<double> counts;
    std::size_t caught = 0;
    for (const Entry& entry : entries) {
        caught += entry.caught ? 1 : 0;
        // A switch not caught counts as never: the median is over every switch.
        walls.push_back(entry.caught ? entry.wall_s : INFINITY);
        counts.push_back(entry.caught ? static_cast<double>(entry.seeds) : INFINITY);
    }
    const auto shown = [](double value, const char* format) {
        return std::isinf(value) ? std::string("never") : fmt::format(fmt::runtime(format), value);
    };
    fmt::print("caught {} of {}; to the first failure: median {} seeds, {} s wall (max {} s); {:.0f} s in all\n",
               caught, entries.size(), shown(median(counts), "{:.0f}"), shown(median(walls), "{:.1f}"),
               shown(*std::max_element(walls.begin(), walls.end()), "{:.1f}"), total_s);
    if (options.swarm) {
        const auto swarm_caught = std::count_if(in_swarm.begin(), in_swarm.end(), [](const Entry& e) { return e.caught; });
        fmt::print("in swarm: caught {} of {} (reported, not required: a switch may need its own scenario's "
                   "workload or faults)\n",
                   swarm_caught, in_swarm.size());
    }
    std::size_t errors = 0;
    for (const Entry& entry : in_swarm) {
        if (entry.errors > 0) {
            fmt::print("  ERRORS: {} seed{} of swarm erred (eosim sweep swarm --bug {} shows them)\n", entry.errors,
                       entry.errors == 1 ? "" : "s", entry.bug->name);
        }
        errors += entry.errors;
    }
    for (const Entry& entry : entries) {
        if (!entry.caught) {
            fmt::print("  NOT caught: {} in {} seeds of {}\n", entry.bug->name, entry.seeds, entry.bug->scenario);
        }
        if (entry.errors > 0) {
            fmt::print("  ERRORS: {} seed{} of {} erred (eosim sweep {} --bug {} shows them)\n", entry.errors,
                       entry.errors == 1 ? "" : "s", entry.bug->scenario, entry.bug->scenario, entry.bug->name);
        }
        errors += entry.errors;
    }
    if (caught != entries.size()) {
        return exit_anomaly;
    }
    return errors > 0 ? exit_internal : exit_ok;
}

}  // namespace

Command add_zoo(CLI::App& app) {
    auto options = std::make_shared<ZooOptions>();
    CLI::App* zoo = app.add_subcommand(
        "zoo", "Run every bug switch against the scenario that must catch it: the scoreboard of seeds and wall "
               "seconds to the first failure");
    zoo->add_option("--seeds", options->seeds, "Seed range A..B searched for each switch (default 1..300)");
    zoo->add_option("-j,--jobs", options->jobs, "Worker processes (default 2)");
    zoo->add_option("--bug", options->bugs, "Only this switch (repeatable)");
    zoo->add_option("--out", options->out_path, "Write one JSON object per switch to FILE");
    zoo->add_flag("!--no-swarm", options->swarm, "Hunt each switch in its own scenario only, not also in swarm");
    return Command{zoo, [options] { return zoo_command(*options); }};
}

}  // namespace eosim::cli
