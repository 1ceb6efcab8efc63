// eosim sweep: many seeds of one scenario (or all), in worker processes.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/report.h"
#include "scenarios/spec.h"

namespace eosim::cli {

namespace {

struct SweepOptions {
    std::string target;
    std::string spec_path;
    std::string seeds;
    int jobs = 1;
    std::string bug;
    bool stop_on_failure = false;
    std::string out_path;
};

struct Task {
    std::size_t spec = 0;
    std::uint64_t seed = 0;
};

std::pair<std::uint64_t, std::uint64_t> parse_seed_range(const std::string& text) {
    const std::size_t dots = text.find("..");
    const auto bad = [&](const std::string& why) {
        return UsageError(fmt::format("bad seed range '{}': {}", text, why));
    };
    if (dots == std::string::npos) {
        throw bad("expected A..B, e.g. 1..100");
    }
    const auto parse = [&](const std::string& part) {
        if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos || part.size() > 19) {
            throw bad("seeds are whole numbers");
        }
        return std::stoull(part);
    };
    const std::uint64_t first = parse(text.substr(0, dots));
    const std::uint64_t last = parse(text.substr(dots + 2));
    if (first > last) {
        throw bad("the first seed must not exceed the last");
    }
    return {first, last};
}

// A worker process: reads "spec seed" lines, writes one JSON result line for each.
[[noreturn]] void worker_main(int task_fd, int result_fd, const std::vector<scenarios::Spec>& specs,
                              const SweepOptions& options) {
    std::FILE* tasks = ::fdopen(task_fd, "r");
    std::FILE* results = ::fdopen(result_fd, "w");
    std::size_t spec = 0;
    unsigned long long seed = 0;
    while (tasks != nullptr && results != nullptr && std::fscanf(tasks, "%zu %llu", &spec, &seed) == 2) {
        scenarios::RunOptions run_options;
        run_options.seed = seed;
        run_options.bug = options.bug;
        run_options.spec_path = options.spec_path;
        const Timed timed = timed_run(specs[spec], run_options);
        std::fputs((result_json(timed).dump() + "\n").c_str(), results);
        std::fflush(results);
    }
    std::_Exit(0);
}

struct Worker {
    pid_t pid = -1;
    int task_fd = -1;
    int result_fd = -1;
    std::string buffer;
    std::optional<Task> busy;
};

Worker spawn_worker(const std::vector<scenarios::Spec>& specs, const SweepOptions& options,
                    const std::vector<int>& others) {
    int to_worker[2];
    int from_worker[2];
    if (::pipe(to_worker) != 0 || ::pipe(from_worker) != 0) {
        throw std::runtime_error("cannot create a pipe for a worker");
    }
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::runtime_error("cannot fork a worker");
    }
    if (pid == 0) {
        ::close(to_worker[1]);
        ::close(from_worker[0]);
        for (const int fd : others) {
            ::close(fd);  // the other workers' pipes: holding them would keep those workers from seeing EOF
        }
        worker_main(to_worker[0], from_worker[1], specs, options);
    }
    ::close(to_worker[0]);
    ::close(from_worker[1]);
    return Worker{pid, to_worker[1], from_worker[0], {}, std::nullopt};
}

class Progress {
public:
    Progress(std::size_t total) : total_(total), tty_(::isatty(STDERR_FILENO) == 1) {}
    void update(std::size_t done, std::size_t failed, std::size_t errors, double seconds) const {
        if (tty_) {
            std::fprintf(stderr, "\r  %zu/%zu seeds, %zu failed, %zu errors, %.1f seeds/s   ", done, total_, failed, errors,
                         seconds > 0 ? static_cast<double>(done) / seconds : 0.0);
            std::fflush(stderr);
        }
    }
    void finish() const {
        if (tty_) {
            std::fprintf(stderr, "\r%80s\r", "");
        }
    }

private:
    std::size_t total_;
    bool tty_;
};

int sweep_command(const SweepOptions& options) {
    if (options.jobs < 1 || options.jobs > 256) {
        throw UsageError(fmt::format("-j {}: the number of workers must be from 1 to 256", options.jobs));
    }
    const auto [first, last] = parse_seed_range(options.seeds);
    check_bug(options.bug);
    // Open --out first: a sweep must not run for an hour and then find it cannot write.
    std::ofstream out;
    if (!options.out_path.empty()) {
        out.open(options.out_path);
        if (!out) {
            throw UsageError(fmt::format("{}: cannot write", options.out_path));
        }
    }
    std::vector<scenarios::Spec> specs;
    if (options.target == "all" && options.spec_path.empty()) {
        specs = scenarios::builtin_specs();
    } else {
        specs.push_back(resolve_spec(options.target, options.spec_path));
    }
    std::deque<Task> queue;
    for (std::size_t spec = 0; spec < specs.size(); ++spec) {
        for (std::uint64_t seed = first;; ++seed) {
            queue.push_back(Task{spec, seed});
            if (seed == last) {
                break;
            }
        }
    }
    const std::size_t total = queue.size();
    std::vector<Timed> results;
    const auto start = std::chrono::steady_clock::now();
    const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    const Progress progress(total);
    std::size_t failed = 0;
    std::size_t errors = 0;
    bool stopping = false;
    const auto take = [&](Timed timed) {
        failed += timed.result.status == scenarios::RunStatus::fail ? 1 : 0;
        errors += timed.result.status == scenarios::RunStatus::error ? 1 : 0;
        if (timed.result.status != scenarios::RunStatus::pass) {
            progress.finish();
            fmt::print("{} {} seed {}: {}{}\n  reproduce: {}\n",
                       timed.result.status == scenarios::RunStatus::fail ? "FAIL" : "ERROR", timed.result.scenario,
                       timed.result.seed, fmt::join(timed.result.anomalies, ", "), timed.result.error,
                       timed.result.reproduce);
            std::fflush(stdout);
            stopping = stopping || options.stop_on_failure;
        }
        results.push_back(std::move(timed));
        progress.update(results.size(), failed, errors, elapsed());
    };

    const int jobs = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(options.jobs), total));
    if (jobs <= 1) {
        while (!queue.empty() && !stopping) {
            const Task task = queue.front();
            queue.pop_front();
            scenarios::RunOptions run_options;
            run_options.seed = task.seed;
            run_options.bug = options.bug;
            run_options.spec_path = options.spec_path;
            take(timed_run(specs[task.spec], run_options));
        }
    } else {
        ::signal(SIGPIPE, SIG_IGN);
        std::vector<Worker> workers;
        const auto parent_fds = [&workers] {
            std::vector<int> fds;
            for (const Worker& worker : workers) {
                fds.push_back(worker.task_fd);
                fds.push_back(worker.result_fd);
            }
            return fds;
        };
        for (int i = 0; i < jobs; ++i) {
            workers.push_back(spawn_worker(specs, options, parent_fds()));
        }
        const auto assign = [&](Worker& worker) {
            if (queue.empty() || stopping) {
                return;
            }
            worker.busy = queue.front();
            queue.pop_front();
            const std::string line = fmt::format("{} {}\n", worker.busy->spec, worker.busy->seed);
            if (::write(worker.task_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
                queue.push_front(*worker.busy);
                worker.busy.reset();
            }
        };
        for (Worker& worker : workers) {
            assign(worker);
        }
        while (std::any_of(workers.begin(), workers.end(), [](const Worker& w) { return w.busy.has_value(); })) {
            std::vector<pollfd> fds;
            for (const Worker& worker : workers) {
                fds.push_back(pollfd{worker.result_fd, POLLIN, 0});
            }
            if (::poll(fds.data(), fds.size(), -1) < 0) {
                continue;
            }
            for (std::size_t i = 0; i < workers.size(); ++i) {
                if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
                    continue;
                }
                Worker& worker = workers[i];
                char chunk[65536];
                const ssize_t n = ::read(worker.result_fd, chunk, sizeof chunk);
                if (n > 0) {
                    worker.buffer.append(chunk, static_cast<std::size_t>(n));
                    std::size_t newline = 0;
                    while ((newline = worker.buffer.find('\n')) != std::string::npos) {
                        take(result_from_json(nlohmann::json::parse(worker.buffer.substr(0, newline))));
                        worker.buffer.erase(0, newline + 1);
                        worker.busy.reset();
                        assign(worker);
                    }
                    continue;
                }
                // The worker died (a crash outside the run's own error handling): its seed is an error.
                if (worker.busy) {
                    Timed died;
                    died.result.scenario = specs[worker.busy->spec].name;
                    died.result.seed = worker.busy->seed;
                    died.result.bug = options.bug;
                    died.result.status = scenarios::RunStatus::error;
                    died.result.error = "the worker process died";
                    died.result.reproduce = scenarios::reproduce_command(died.result.scenario, died.result.seed,
                                                                         options.bug, options.spec_path);
                    take(std::move(died));
                }
                ::close(worker.task_fd);
                ::close(worker.result_fd);
                ::kill(worker.pid, SIGKILL);
                ::waitpid(worker.pid, nullptr, 0);
                worker.task_fd = worker.result_fd = -1;
                worker = spawn_worker(specs, options, parent_fds());
                assign(worker);
            }
        }
        for (Worker& worker : workers) {
            ::close(worker.task_fd);
            ::close(worker.result_fd);
            if (stopping) {
                ::kill(worker.pid, SIGKILL);  // --stop-on-failure: do not wait for runs in flight
            }
            ::waitpid(worker.pid, nullptr, 0);
        }
    }
    progress.finish();
    const double seconds = elapsed();

    std::sort(results.begin(), results.end(), [&](const Timed& a, const Timed& b) {
        return std::pair{a.result.scenario, a.result.seed} < std::pair{b.result.scenario, b.result.seed};
    });
    if (out.is_open()) {
        for (const Timed& timed : results) {
            out << result_json(timed).dump() << '\n';
        }
        out.flush();
    }
    std::map<std::string, std::pair<std::size_t, std::uint64_t>> by_anomaly;
    std::map<std::string, std::size_t> weaknesses;
    std::uint64_t events = 0;
    std::int64_t sim_ns = 0;
    std::size_t passed = 0;
    for (const Timed& timed : results) {
        passed += timed.result.status == scenarios::RunStatus::pass ? 1 : 0;
        events += timed.result.events;
        sim_ns += timed.result.sim_ns;
        for (const std::string& anomaly : timed.result.anomalies) {
            auto& entry = by_anomaly[anomaly];
            if (entry.first++ == 0) {
                entry.second = timed.result.seed;
            }
        }
        for (const std::string& weakness : timed.result.weaknesses) {
            ++weaknesses[timed.result.scenario + ": " + weakness];
        }
    }
    fmt::print("sweep {} seeds {}..{}{}: {} runs, {} passed, {} failed, {} errors ({} worker{})\n",
               specs.size() == 1 ? specs.front().name : "all", first, last, options.bug.empty() ? "" : " bug " + options.bug,
               results.size(), passed, failed, errors, jobs, jobs == 1 ? "" : "s");
    for (const auto& [anomaly, entry] : by_anomaly) {
        fmt::print("  failures by anomaly: {}: {} seeds (first: seed {})\n", anomaly, entry.first, entry.second);
    }
    for (const auto& [weakness, count] : weaknesses) {
        fmt::print("  weakness observed: {} in {} seeds\n", weakness, count);
    }
    // A scenario that demonstrates a weakness passes a sweep only if some seed showed it (DESIGN.md).
    std::size_t unshown = 0;
    if (results.size() == total) {
        for (const scenarios::Spec& spec : specs) {
            const bool shown = std::any_of(spec.checks.weaknesses.begin(), spec.checks.weaknesses.end(),
                                           [&](const std::string& weakness) {
                                               return weaknesses.contains(spec.name + ": " + weakness);
                                           });
            if (!spec.checks.weaknesses.empty() && !shown) {
                ++unshown;
                fmt::print("  weakness NOT observed: {} demonstrates {}, but no seed in {}..{} showed it\n", spec.name,
                           fmt::join(spec.checks.weaknesses, " or "), first, last);
            }
        }
    }
    fmt::print("  {:.1f} seeds/s, {:.0f} events/s, {:.0f} simulated s per wall s, {:.1f} s wall\n",
               static_cast<double>(results.size()) / seconds, static_cast<double>(events) / seconds,
               static_cast<double>(sim_ns) * 1e-9 / seconds, seconds);
    if (failed > 0 || unshown > 0) {
        return exit_anomaly;
    }
    return errors > 0 ? exit_internal : exit_ok;
}

}  // namespace

Command add_sweep(CLI::App& app) {
    auto options = std::make_shared<SweepOptions>();
    CLI::App* sweep = app.add_subcommand("sweep", "Run a scenario (or all) over a range of seeds");
    sweep->add_option("scenario", options->target, "Scenario name, or all (or give --spec FILE)");
    sweep->add_option("--seeds", options->seeds, "Seed range A..B (inclusive)")->required();
    sweep->add_option("-j,--jobs", options->jobs, "Worker processes");
    sweep->add_option("--bug", options->bug, "Turn a bug switch on (see eosim list --bugs)");
    sweep->add_option("--spec", options->spec_path, "A scenario spec file (TOML) instead of a built-in one");
    sweep->add_flag("--stop-on-failure", options->stop_on_failure, "Stop at the first failing seed");
    sweep->add_option("--out", options->out_path, "Write one JSON object per seed to FILE");
    return Command{sweep, [options] { return sweep_command(*options); }};
}

}  // namespace eosim::cli
