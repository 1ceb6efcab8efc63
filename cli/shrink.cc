// eosim shrink: the smallest fault plan under which a failing seed still fails with the same anomaly.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "cli/commands.h"
#include "scenarios/bugs.h"
#include "scenarios/spec.h"

namespace eosim::cli {

namespace {

struct ShrinkOptions {
    std::string scenario;
    std::string spec_path;
    std::uint64_t seed = 0;
    std::string bug;
    std::string plan_path;
    std::string anomaly;
    std::string out_path;
    double budget_s = 300;
};

// The anomaly a shrink keeps: the one asked for, else the first the bug switch is documented to be caught by,
// else the first the run showed.
std::string target_anomaly(const ShrinkOptions& options, const scenarios::RunResult& original) {
    const auto showed = [&original](const std::string& name) {
        return std::find(original.anomalies.begin(), original.anomalies.end(), name) != original.anomalies.end();
    };
    if (!options.anomaly.empty()) {
        if (!showed(options.anomaly)) {
            throw UsageError(fmt::format("--anomaly {}: seed {} of {} does not show it (it shows {})", options.anomaly,
                                         options.seed, original.scenario, fmt::join(original.anomalies, ", ")));
        }
        return options.anomaly;
    }
    if (const scenarios::BugSwitch* bug = scenarios::find_bug(options.bug); bug != nullptr) {
        std::string documented(bug->caught_by);
        std::size_t start = 0;
        while (start < documented.size()) {
            std::size_t end = documented.find(", ", start);
            end = end == std::string::npos ? documented.size() : end;
            if (const std::string name = documented.substr(start, end - start); showed(name)) {
                return name;
            }
            start = end + 2;
        }
    }
    return original.anomalies.front();
}

// One way to make the scenario smaller: whether it applies to the spec as it is now, and the edit of its TOML.
struct KnobEdit {
    std::string shown;  // "workload.producers = 1"
    std::function<bool(const scenarios::Spec&)> applies;
    std::function<void(toml::table&)> apply;
};

toml::table& subtable(toml::table& root, std::string_view name) {
    if (root.get_as<toml::table>(name) == nullptr) {
        root.insert_or_assign(name, toml::table{});
    }
    return *root.get_as<toml::table>(name);
}

// The edits a shrink tries after the plan's, biggest first: buggify off, fewer clients of each sort, no
// aborts, stalls or leaves on purpose, one partition per topic, three brokers or more, a chaos phase that ends
// after the plan's last fault. Each keeps the scenario one the semantics hold a correct cluster to; none
// touches what decides which anomalies are failures (acks, idempotence, isolation, tolerance, allowances).
std::vector<KnobEdit> knob_edits(const faults::FaultPlan& plan) {
    using scenarios::Spec;
    using scenarios::WorkloadSpec;
    std::vector<KnobEdit> edits;
    edits.push_back({"buggify = false", [](const Spec& s) { return s.buggify; },
                     [](toml::table& root) { root.insert_or_assign("buggify", false); }});
    // Fewer clients: none, one, two, four or eight, the first of these below the count that still fails.
    const std::vector<std::pair<std::string_view, std::int32_t WorkloadSpec::*>> counts{
        {"producers", &WorkloadSpec::producers},
        {"consumers", &WorkloadSpec::consumers},
        {"read_committed_consumers", &WorkloadSpec::read_committed_consumers},
        {"transactional_producers", &WorkloadSpec::transactional_producers},
        {"txn_instances", &WorkloadSpec::txn_instances},
        {"group_members", &WorkloadSpec::group_members},
        {"ctp_instances", &WorkloadSpec::ctp_instances},
        {"stream_instances", &WorkloadSpec::stream_instances},
        {"stream_threads", &WorkloadSpec::stream_threads},
        {"stream_standby_replicas", &WorkloadSpec::stream_standby_replicas},
    };
    for (const auto& [key, field] : counts) {
        for (const std::int32_t fewer : {0, 1, 2, 4, 8}) {
            edits.push_back({fmt::format("workload.{} = {}", key, fewer),
                             [field = field, fewer](const Spec& s) { return s.workload.*field > fewer; },
                             [key = std::string(key), fewer](toml::table& root) {
                                 subtable(root, "workload").insert_or_assign(key, std::int64_t{fewer});
                             }});
        }
    }
    // No aborts, stalls or leaves on purpose, where there are clients that make them.
    const std::vector<std::tuple<std::string_view, std::int32_t WorkloadSpec::*, std::int32_t WorkloadSpec::*>> percents{
        {"txn_abort_percent", &WorkloadSpec::txn_abort_percent, &WorkloadSpec::transactional_producers},
        {"txn_stall_percent", &WorkloadSpec::txn_stall_percent, &WorkloadSpec::transactional_producers},
        {"group_leave_percent", &WorkloadSpec::group_leave_percent, &WorkloadSpec::group_members},
        {"ctp_abort_percent", &WorkloadSpec::ctp_abort_percent, &WorkloadSpec::ctp_instances},
        {"tombstone_percent", &WorkloadSpec::tombstone_percent, &WorkloadSpec::producers},
    };
    for (const auto& [key, field, clients] : percents) {
        edits.push_back({fmt::format("workload.{} = 0", key),
                         [field = field, clients = clients](const Spec& s) {
                             return s.workload.*field > 0 && s.workload.*clients > 0;
                         },
                         [key = std::string(key)](toml::table& root) {
                             subtable(root, "workload").insert_or_assign(key, std::int64_t{0});
                         }});
    }
    const auto never = [](std::initializer_list<std::string_view> keys) {
        return [keys = std::vector<std::string>(keys.begin(), keys.end())](toml::table& root) {
            for (const std::string& key : keys) {
                subtable(root, "workload").insert_or_assign(key, toml::array{std::int64_t{0}, std::int64_t{0}});
            }
        };
    };
    edits.push_back({"workload.pause_every_ms = pause_ms = [0, 0]",
                     [](const Spec& s) { return s.workload.pause_every_max_ms > 0; }, never({"pause_every_ms", "pause_ms"})});
    edits.push_back({"workload.delete_records_every_ms = [0, 0]",
                     [](const Spec& s) { return s.workload.delete_records_every_max_ms > 0; },
                     never({"delete_records_every_ms"})});
    edits.push_back({"workload.instance_corrupt_state = false", [](const Spec& s) { return s.workload.instance_corrupt_state; },
                     [](toml::table& root) { subtable(root, "workload").insert_or_assign("instance_corrupt_state", false); }});
    edits.push_back({"faults.directory_ops_need_sync = false",
                     [](const Spec& s) { return s.faults.directory_ops_need_sync; },
                     [](toml::table& root) { subtable(root, "faults").insert_or_assign("directory_ops_need_sync", false); }});
    // One partition per topic (a topic of [[topics]] with its own count too, and the stream application's).
    edits.push_back({"partitions = 1",
                     [](const Spec& s) {
                         return std::any_of(s.topics.begin(), s.topics.end(), [](const auto& t) { return t.partitions > 1; });
                     },
                     [](toml::table& root) {
                         subtable(root, "cluster").insert_or_assign("partitions", std::int64_t{1});
                         if (toml::array* topics = root.get_as<toml::array>("topics")) {
                             for (toml::node& topic : *topics) {
                                 if (toml::table* t = topic.as_table(); t != nullptr && t->contains("partitions")) {
                                     t->insert_or_assign("partitions", std::int64_t{1});
                                 }
                             }
                         }
                         if (toml::table* workload = root.get_as<toml::table>("workload");
                             workload != nullptr && workload->contains("stream_app")) {
                             workload->insert_or_assign("stream_partitions", std::int64_t{1});
                         }
                     }});
    // Three brokers or more (the plan's names allow it): replication and min ISR stay as they are.
    edits.push_back({"cluster.brokers = 3", [](const Spec& s) { return s.cluster.brokers > 3; },
                     [](toml::table& root) { subtable(root, "cluster").insert_or_assign("brokers", std::int64_t{3}); }});
    // The chaos phase (which the workload sends through) ends 1 to 2 s after the last fault does (whole seconds).
    sim::Duration end{0};
    for (const faults::FaultAction& action : plan.actions) {
        end = std::max(end, action.at + action.aim_window + action.aim_delay + action.duration);
    }
    const std::int64_t chaos_ms = std::chrono::ceil<std::chrono::seconds>(end).count() * 1000 + 1000;
    edits.push_back({fmt::format("faults.chaos_ms = {}", chaos_ms),
                     [chaos_ms](const Spec& s) { return s.faults.plan.chaos > std::chrono::milliseconds(chaos_ms); },
                     [chaos_ms](toml::table& root) { subtable(root, "faults").insert_or_assign("chaos_ms", chaos_ms); }});
    return edits;
}

// Runs candidate plans against the budget and tells whether each still fails with the anomaly.
class Shrinker {
public:
    Shrinker(scenarios::Spec spec, const ShrinkOptions& options, std::string anomaly)
        : spec_(std::move(spec)), options_(options), anomaly_(std::move(anomaly)), tty_(::isatty(STDERR_FILENO) == 1) {}

    [[nodiscard]] bool out_of_time() const { return elapsed() > options_.budget_s; }
    [[nodiscard]] double elapsed() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }
    [[nodiscard]] std::size_t runs() const { return runs_; }

    [[nodiscard]] const scenarios::Spec& spec() const { return spec_; }

    // Whether the run under `plan` fails with the anomaly (false once the budget is spent).
    bool fails(const faults::FaultPlan& plan) { return fails(spec_, plan); }
    // The same, on the cluster and workload of `spec`.
    bool fails(const scenarios::Spec& spec, const faults::FaultPlan& plan) {
        if (out_of_time()) {
            return false;
        }
        scenarios::RunOptions run_options;
        run_options.seed = options_.seed;
        run_options.bug = options_.bug;
        run_options.spec_path = options_.spec_path;
        run_options.plan = plan;
        const scenarios::RunResult result = scenarios::run(spec, run_options);
        ++runs_;
        const bool kept = result.status == scenarios::RunStatus::fail &&
                          std::find(result.anomalies.begin(), result.anomalies.end(), anomaly_) != result.anomalies.end();
        if (kept) {
            best_ = std::min(best_, plan.actions.size());
        }
        progress();
        return kept;
    }

    void progress() const {
        if (tty_) {
            std::fprintf(stderr, "\r  shrinking: %zu runs, %zu fault actions so far, %.0f of %.0f s   ", runs_, best_,
                         elapsed(), options_.budget_s);
            std::fflush(stderr);
        }
    }
    void finish_progress() const {
        if (tty_) {
            std::fprintf(stderr, "\r%80s\r", "");
        }
    }
    void start_from(std::size_t actions) { best_ = actions; }

    // Drops actions (delta debugging: halves, then quarters, ... down to single actions).
    faults::FaultPlan drop_actions(faults::FaultPlan plan) {
        if (plan.actions.empty()) {
            return plan;
        }
        if (fails(faults::FaultPlan{})) {
            return faults::FaultPlan{};  // no fault needed at all
        }
        std::size_t chunks = 2;
        while (plan.actions.size() >= 2 && !out_of_time()) {
            const std::size_t size = plan.actions.size();
            chunks = std::min(chunks, size);
            bool reduced = false;
            // A chunk on its own, then everything but a chunk.
            for (const bool alone : {true, false}) {
                for (std::size_t c = 0; c < chunks && !reduced; ++c) {
                    const std::size_t from = c * size / chunks;
                    const std::size_t to = (c + 1) * size / chunks;
                    faults::FaultPlan candidate;
                    for (std::size_t i = 0; i < size; ++i) {
                        if ((i >= from && i < to) == alone) {
                            candidate.actions.push_back(plan.actions[i]);
                        }
                    }
                    if (candidate.actions.size() < size && fails(candidate)) {
                        plan = std::move(candidate);
                        chunks = alone ? 2 : std::max<std::size_t>(chunks - 1, 2);
                        reduced = true;
                    }
                }
                if (reduced) {
                    break;
                }
            }
            if (!reduced) {
                if (chunks >= size) {
                    break;
                }
                chunks = std::min(chunks * 2, size);
            }
        }
        return plan;
    }

    // Makes each action smaller: one target instead of several, a shorter fault, no delay after its moment,
    // whole milliseconds.
    faults::FaultPlan simplify_actions(faults::FaultPlan plan) {
        for (std::size_t i = 0; i < plan.actions.size() && !out_of_time(); ++i) {
            const auto attempt = [&](const std::function<bool(faults::FaultAction&)>& change) {
                faults::FaultPlan candidate = plan;
                if (change(candidate.actions[i]) && fails(candidate)) {
                    plan = std::move(candidate);
                    return true;
                }
                return false;
            };
            const faults::FaultAction& action = plan.actions[i];
            if ((action.kind == faults::FaultKind::crash_several || action.kind == faults::FaultKind::power_loss ||
                 action.kind == faults::FaultKind::crash_rack) &&
                action.targets.size() > 1) {
                for (std::size_t t = 0; t < plan.actions[i].targets.size(); ++t) {
                    if (attempt([t](faults::FaultAction& a) {
                            a.targets = {a.targets[t]};
                            a.kind = faults::FaultKind::crash;
                            return true;
                        })) {
                        break;
                    }
                }
            }
            if (faults::aimed(plan.actions[i].kind)) {
                (void)attempt([](faults::FaultAction& a) {
                    const bool changed = a.aim_delay != sim::Duration::zero();
                    a.aim_delay = sim::Duration::zero();
                    return changed;
                });
            }
            (void)attempt([](faults::FaultAction& a) {
                if (a.unsynced == sim::UnsyncedFate::random) {
                    a.unsynced = sim::UnsyncedFate::keep;
                    return true;
                }
                return false;
            });
            // Shorter faults: halve while it still fails (at most a few times), down to 1 ms.
            for (int halvings = 0; halvings < 4; ++halvings) {
                if (!attempt([](faults::FaultAction& a) {
                        const sim::Duration half = std::max<sim::Duration>(a.duration / 2, std::chrono::milliseconds(1));
                        const bool changed = half < a.duration;
                        a.duration = half;
                        return changed;
                    })) {
                    break;
                }
            }
        }
        // Whole milliseconds read better in a plan file.
        faults::FaultPlan rounded = plan;
        bool changed = false;
        const auto round = [&changed](sim::Duration& d) {
            const sim::Duration whole = std::chrono::round<std::chrono::milliseconds>(d);
            changed = changed || whole != d;
            d = whole;
        };
        for (faults::FaultAction& action : rounded.actions) {
            round(action.at);
            round(action.duration);
            round(action.extra_latency);
            round(action.clock_step);
            const bool periodic = action.period > sim::Duration::zero();
            round(action.period);
            if (periodic && action.period == sim::Duration::zero()) {
                action.period = std::chrono::milliseconds(1);  // a flap or a slow node needs a period
            }
            round(action.aim_delay);
            round(action.aim_window);
        }
        if (changed && fails(rounded)) {
            plan = std::move(rounded);
        }
        return plan;
    }

    // Makes the scenario smaller under `plan`: each knob of knob_edits in turn, kept where the run still
    // fails. Returns the edits kept, as shown ("workload.producers = 1").
    std::vector<std::string> shrink_knobs(toml::table& root, const faults::FaultPlan& plan) {
        std::vector<std::string> kept;
        std::ostringstream original;
        original << root;
        scenarios::Spec current = scenarios::parse_spec(original.str(), "the scenario shrunk");
        for (const KnobEdit& edit : knob_edits(plan)) {
            if (out_of_time() || !edit.applies(current)) {
                continue;
            }
            toml::table candidate = root;
            edit.apply(candidate);
            std::ostringstream text;
            text << candidate;
            std::ostringstream now;
            now << root;
            if (text.str() == now.str()) {
                continue;  // nothing changed: not a smaller scenario
            }
            scenarios::Spec spec;
            try {
                spec = scenarios::parse_spec(text.str(), "the shrunk spec");
            } catch (const scenarios::SpecError&) {
                continue;  // a combination the spec's rules refuse: not a smaller scenario
            }
            if (!scenarios::check_plan(spec, plan, options_.seed).empty() || !fails(spec, plan)) {
                continue;
            }
            root = std::move(candidate);
            current = spec;
            spec_ = std::move(spec);
            kept.push_back(edit.shown);
        }
        return kept;
    }

private:
    scenarios::Spec spec_;
    const ShrinkOptions& options_;
    std::string anomaly_;
    bool tty_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    std::size_t runs_ = 0;
    std::size_t best_ = 0;
};

// The scenario's TOML text: the --spec file's (read once, at the start), or the built-in's; "" for swarm, whose
// seed draws its own (RunResult::drawn_spec).
std::string scenario_text(const scenarios::Spec& spec, const ShrinkOptions& options) {
    if (!options.spec_path.empty()) {
        std::ifstream in(options.spec_path);
        std::stringstream read;
        read << in.rdbuf();
        if (!in && !in.eof()) {
            throw UsageError(fmt::format("{}: cannot read", options.spec_path));
        }
        return read.str();
    }
    return spec.swarm ? std::string() : std::string(scenarios::builtin_spec_text(spec.name));
}

// The text as a TOML table (it parsed as a spec already; a file changed since is a clear error).
toml::table scenario_toml(const std::string& text, const std::string& source) {
    try {
        toml::table table = toml::parse(text, source);
        (void)scenarios::parse_spec(text, source);
        return table;
    } catch (const toml::parse_error& error) {
        throw UsageError(fmt::format("{}: not the spec it was: {}", source, error.description()));
    } catch (const scenarios::SpecError& error) {
        throw UsageError(error.what());
    }
}

// Where the shrunk scenario goes: beside the plan, "X.plan.json" -> "X.spec.toml".
std::string spec_out_path(const std::string& plan_path) {
    const std::string_view suffix = ".plan.json";
    const std::string stem = plan_path.ends_with(suffix) ? plan_path.substr(0, plan_path.size() - suffix.size()) : plan_path;
    return stem + ".spec.toml";
}

std::string default_out_path(const scenarios::Spec& spec, const ShrinkOptions& options) {
    return fmt::format("{}-seed{}{}.plan.json", spec.name, options.seed, options.bug.empty() ? "" : "-" + options.bug);
}

int shrink_command(const ShrinkOptions& options) {
    const scenarios::Spec spec = resolve_spec(options.scenario, options.spec_path);
    check_bug(options.bug);
    if (options.budget_s <= 0) {
        throw UsageError(fmt::format("--budget {}: give the seconds the shrink may take (more than 0)", options.budget_s));
    }
    const std::string out_path = options.out_path.empty() ? default_out_path(spec, options) : options.out_path;
    scenarios::RunOptions run_options;
    run_options.seed = options.seed;
    run_options.bug = options.bug;
    run_options.spec_path = options.spec_path;
    if (!options.plan_path.empty()) {
        run_options.plan = read_plan(options.plan_path, spec, options.seed);  // before anything is written:
        run_options.plan_path = options.plan_path;                           // it may be the file to write
    }
    const std::string text = scenario_text(spec, options);
    // The plan and the shrunk scenario go to temporary files renamed at the end (opened now: a shrink must not
    // run for minutes and then find it cannot write), so a shrink that stops early leaves the files as they
    // were (the scenario's may be the --spec file itself, read above).
    const std::string temporary = out_path + ".tmp";
    const std::string spec_path = spec_out_path(out_path);
    const std::string spec_temporary = spec_path + ".tmp";
    std::ofstream out(temporary);
    std::ofstream spec_out(spec_temporary);
    if (!out || !spec_out) {
        throw UsageError(fmt::format("{}: cannot write", !out ? out_path : spec_path));
    }
    struct RemoveUnlessRenamed {
        const std::string& path;
        bool renamed = false;
        ~RemoveUnlessRenamed() {
            if (!renamed) {
                std::remove(path.c_str());
            }
        }
    } cleanup{temporary}, spec_cleanup{spec_temporary};
    const Timed original = timed_run(spec, run_options);
    if (original.result.status != scenarios::RunStatus::fail) {
        throw UsageError(fmt::format("{} seed {}{}: {}, so there is nothing to shrink (shrink takes a failing seed)",
                                     spec.name, options.seed, options.bug.empty() ? "" : " bug " + options.bug,
                                     original.result.status == scenarios::RunStatus::pass
                                         ? "passes"
                                         : "is an error: " + original.result.error));
    }
    const std::string anomaly = target_anomaly(options, original.result);
    const faults::FaultPlan start = run_options.plan ? *run_options.plan : faults::plan_from_json(original.result.fault_plan);
    fmt::print("shrink {} seed {}{}: fails with {} under {} fault actions (budget {:.0f} s)\n", spec.name, options.seed,
               options.bug.empty() ? "" : " bug " + options.bug, anomaly, start.actions.size(), options.budget_s);
    std::fflush(stdout);

    Shrinker shrinker(spec, options, anomaly);
    shrinker.start_from(start.actions.size());
    // Dropping and simplifying until neither helps: a shorter fault can make another one unneeded.
    faults::FaultPlan plan = start;
    const auto shrink_plan = [&shrinker, &plan] {
        for (std::size_t before = plan.actions.size() + 1; plan.actions.size() < before && !shrinker.out_of_time();) {
            before = plan.actions.size();
            plan = shrinker.simplify_actions(shrinker.drop_actions(std::move(plan)));
        }
    };
    shrink_plan();
    // Then the scenario (the knobs the seed drew, for swarm), and the plan again on what is left: fewer
    // clients can leave a fault unneeded.
    toml::table scenario = scenario_toml(spec.swarm ? original.result.drawn_spec : text,
                                         spec.swarm ? fmt::format("swarm seed {}", options.seed) : spec.name);
    const std::vector<std::string> knobs = shrinker.shrink_knobs(scenario, plan);
    if (!knobs.empty()) {
        shrink_plan();
    }
    shrinker.finish_progress();

    if (!knobs.empty()) {
        // The smaller scenario, written beside the plan and run from there by the reproduce command.
        scenario.insert_or_assign("description", fmt::format("{} seed {}{}, shrunk by eosim shrink: {}", spec.name,
                                                             options.seed, options.bug.empty() ? "" : " bug " + options.bug,
                                                             fmt::join(knobs, ", ")));
        spec_out << scenario << '\n';
    }
    spec_out.close();
    out << faults::to_json(plan).dump(2) << '\n';
    out.close();
    if (!spec_out || !out) {
        throw UsageError(fmt::format("{}: cannot write", !out ? out_path : spec_path));
    }
    if (!knobs.empty()) {
        if (std::rename(spec_temporary.c_str(), spec_path.c_str()) != 0) {
            throw UsageError(fmt::format("{}: cannot write", spec_path));
        }
        spec_cleanup.renamed = true;
    }
    if (std::rename(temporary.c_str(), out_path.c_str()) != 0) {
        throw UsageError(fmt::format("{}: cannot write", out_path));
    }
    cleanup.renamed = true;
    fmt::print("shrunk to {} fault action{} in {} runs, {:.1f} s{}\n", plan.actions.size(),
               plan.actions.size() == 1 ? "" : "s", shrinker.runs(), shrinker.elapsed(),
               shrinker.out_of_time() ? " (the budget ran out: the plan may shrink further)" : "");
    for (const faults::FaultAction& action : plan.actions) {
        fmt::print("  {}\n", faults::to_json(action).dump());
    }
    scenarios::RunOptions replay = run_options;
    // The scenario and the plan as written, read back and run: the reproduce command's run.
    scenarios::Spec shrunk = spec;
    if (!knobs.empty()) {
        fmt::print("shrunk the scenario: {}\nwrote {}\n", fmt::join(knobs, ", "), spec_path);
        shrunk = resolve_spec("", spec_path);
        replay.spec_path = spec_path;
    }
    replay.plan = read_plan(out_path, shrunk, options.seed);
    replay.plan_path = out_path;
    const Timed check = timed_run(shrunk, replay);
    const bool kept = check.result.status == scenarios::RunStatus::fail &&
                      std::find(check.result.anomalies.begin(), check.result.anomalies.end(), anomaly) !=
                          check.result.anomalies.end();
    fmt::print("wrote {}\n", out_path);
    fmt::print("{} seed {}: {} ({}), as the shrunk plan runs\n", spec.name, options.seed,
               scenarios::to_string(check.result.status), fmt::join(check.result.anomalies, ", "));
    fmt::print("reproduce: {}\n", check.result.reproduce);
    if (!kept) {
        fmt::print(stderr, "eosim: internal error: the shrunk plan no longer fails with {} (seed {})\n", anomaly,
                   options.seed);
        return exit_internal;
    }
    return exit_ok;
}

}  // namespace

Command add_shrink(CLI::App& app) {
    auto options = std::make_shared<ShrinkOptions>();
    CLI::App* shrink = app.add_subcommand(
        "shrink", "Shrink a failing seed's fault plan to the fewest, smallest faults that still fail the same way");
    shrink->add_option("scenario", options->scenario, "Scenario name (see eosim list)");
    shrink->add_option("--spec", options->spec_path, "A scenario spec file (TOML) instead of a built-in one");
    shrink->add_option("--seed", options->seed, "The failing seed")->required();
    shrink->add_option("--bug", options->bug, "The bug switch the seed fails with (see eosim list --bugs)");
    shrink->add_option("--plan", options->plan_path, "Start from the fault plan in FILE instead of the seed's own");
    shrink->add_option("--anomaly", options->anomaly,
                       "The anomaly to keep (default: the first the bug switch is documented to be caught by, else "
                       "the first the run shows)");
    shrink->add_option("--out", options->out_path,
                       "Write the shrunk plan to FILE (default: SCENARIO-seedN[-BUG].plan.json here)");
    shrink->add_option("--budget", options->budget_s, "Give up shrinking further after this many seconds (default 300)");
    return Command{shrink, [options] { return shrink_command(*options); }};
}

}  // namespace eosim::cli
