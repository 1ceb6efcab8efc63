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
            std::fprintf(stderr, "\r  %zu/%zu seeds, %zu failed, %zu errors, %.1f seeds/s   ", done, total_, failed,
                         errors, seconds > 0 ? static_cast<double>(done) / seconds : 0.0);
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

std::vector<scenarios::Spec> sweep_specs(const SweepOptions& options) {
    std::vector<scenarios::Spec> specs;
    if (options.target == "all" && options.spec_path.empty()) {
        specs = scenarios::builtin_specs();
    } else {
        specs.push_back(resolve_spec(options.target, options.spec_path));
    }
    return specs;
}

std::deque<Task> sweep_tasks(std::size_t specs, std::uint64_t first, std::uint64_t last) {
    std::deque<Task> queue;
    for (std::size_t spec = 0; spec < specs; ++spec) {
        for (std::uint64_t seed = first;; ++seed) {
            queue.push_back(Task{spec, seed});
            if (seed == last) {
                break;
            }
        }
    }
    return queue;
}

// Runs the tasks, in this process or in worker processes, and gathers their results.
class Sweep {
public:
    Sweep(const SweepOptions& options, const std::vector<scenarios::Spec>& specs, std::deque<Task> queue)
        : options_(options), specs_(specs), queue_(std::move(queue)), total_(queue_.size()), progress_(total_) {}

    void run_here();
    void run_in_workers(int jobs);
    [[nodiscard]] double elapsed() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }
    void finish() const { progress_.finish(); }
    [[nodiscard]] std::vector<Timed>& results() { return results_; }
    [[nodiscard]] std::size_t total() const { return total_; }
    [[nodiscard]] std::size_t failed() const { return failed_; }
    [[nodiscard]] std::size_t errors() const { return errors_; }

private:
    void take(Timed timed);
    [[nodiscard]] std::vector<int> parent_fds() const;
    void assign(Worker& worker);
    // Reads what a worker wrote; a worker that died is replaced.
    void serve(Worker& worker);
    void replace_dead(Worker& worker);

    const SweepOptions& options_;
    const std::vector<scenarios::Spec>& specs_;
    std::deque<Task> queue_;
    std::size_t total_;
    std::vector<Timed> results_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    Progress progress_;
    std::size_t failed_ = 0;
    std::size_t errors_ = 0;
    bool stopping_ = false;
    std::vector<Worker> workers_;
};

void Sweep::take(Timed timed) {
    failed_ += timed.result.status == scenarios::RunStatus::fail ? 1 : 0;
    errors_ += timed.result.status == scenarios::RunStatus::error ? 1 : 0;
    if (timed.result.status != scenarios::RunStatus::pass) {
        progress_.finish();
        fmt::print("{} {} seed {}: {}{}\n  reproduce: {}\n",
                   timed.result.status == scenarios::RunStatus::fail ? "FAIL" : "ERROR", timed.result.scenario,
                   timed.result.seed, fmt::join(timed.result.anomalies, ", "), timed.result.error,
                   timed.result.reproduce);
        std::fflush(stdout);
        stopping_ = stopping_ || options_.stop_on_failure;
    }
    results_.push_back(std::move(timed));
    progress_.update(results_.size(), failed_, errors_, elapsed());
}

void Sweep::run_here() {
    while (!queue_.empty() && !stopping_) {
        const Task task = queue_.front();
        queue_.pop_front();
        scenarios::RunOptions run_options;
        run_options.seed = task.seed;
        run_options.bug = options_.bug;
        run_options.spec_path = options_.spec_path;
        take(timed_run(specs_[task.spec], run_options));
    }
}

std::vector<int> Sweep::parent_fds() const {
    std::vector<int> fds;
    for (const Worker& worker : workers_) {
        fds.push_back(worker.task_fd);
        fds.push_back(worker.result_fd);
    }
    return fds;
}

void Sweep::assign(Worker& worker) {
    if (queue_.empty() || stopping_) {
        return;
    }
    worker.busy = queue_.front();
    queue_.pop_front();
    const std::string line = fmt::format("{} {}\n", worker.busy->spec, worker.busy->seed);
    if (::write(worker.task_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        queue_.push_front(*worker.busy);
        worker.busy.reset();
    }
}

void Sweep::run_in_workers(int jobs) {
    ::signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < jobs; ++i) {
        workers_.push_back(spawn_worker(specs_, options_, parent_fds()));
    }
    for (Worker& worker : workers_) {
        assign(worker);
    }
    while (std::any_of(workers_.begin(), workers_.end(), [](const Worker& w) { return w.busy.has_value(); })) {
        std::vector<pollfd> fds;
        for (const Worker& worker : workers_) {
            fds.push_back(pollfd{worker.result_fd, POLLIN, 0});
        }
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            continue;
        }
        for (std::size_t i = 0; i < workers_.size(); ++i) {
            if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
                serve(workers_[i]);
            }
        }
    }
    for (Worker& worker : workers_) {
        ::close(worker.task_fd);
        ::close(worker.result_fd);
        if (stopping_) {
            ::kill(worker.pid, SIGKILL);  // --stop-on-failure: do not wait for runs in flight
        }
        ::waitpid(worker.pid, nullptr, 0);
    }
}

void Sweep::serve(Worker& worker) {
    char chunk[65536];
    const ssize_t n = ::read(worker.result_fd, chunk, sizeof chunk);
    if (n <= 0) {
        replace_dead(worker);
        return;
    }
    worker.buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t newline = 0;
    while ((newline = worker.buffer.find('\n')) != std::string::npos) {
        take(result_from_json(nlohmann::json::parse(worker.buffer.substr(0, newline))));
        worker.buffer.erase(0, newline + 1);
        worker.busy.reset();
        assign(worker);
    }
}

void Sweep::replace_dead(Worker& worker) {
    // The worker died (a crash outside the run's own error handling): its seed is an error.
    if (worker.busy) {
        Timed died;
        died.result.scenario = specs_[worker.busy->spec].name;
        died.result.seed = worker.busy->seed;
        died.result.bug = options_.bug;
        died.result.status = scenarios::RunStatus::error;
        died.result.error = "the worker process died";
        died.result.reproduce =
            scenarios::reproduce_command(died.result.scenario, died.result.seed, options_.bug, options_.spec_path);
        take(std::move(died));
    }
    ::close(worker.task_fd);
    ::close(worker.result_fd);
    ::kill(worker.pid, SIGKILL);
    ::waitpid(worker.pid, nullptr, 0);
    worker.task_fd = worker.result_fd = -1;
    worker = spawn_worker(specs_, options_, parent_fds());
    assign(worker);
}

// What a sweep's summary counts over its results.
struct Tally {
    std::map<std::string, std::pair<std::size_t, std::uint64_t>> by_anomaly;  // seeds, and the first seed
    std::map<std::string, std::size_t> weaknesses;                            // "scenario: weakness" -> seeds
    std::map<std::string, std::pair<std::int64_t, std::size_t>> counters;     // name -> total, seeds with any
    std::uint64_t events = 0;
    std::int64_t sim_ns = 0;
    std::size_t passed = 0;
};

Tally tally(const std::vector<Timed>& results) {
    Tally tally;
    for (const Timed& timed : results) {
        tally.passed += timed.result.status == scenarios::RunStatus::pass ? 1 : 0;
        tally.events += timed.result.events;
        tally.sim_ns += timed.result.sim_ns;
        for (const std::string& anomaly : timed.result.anomalies) {
            auto& entry = tally.by_anomaly[anomaly];
            if (entry.first++ == 0) {
                entry.second = timed.result.seed;
            }
        }
        for (const auto& [name, value] : timed.result.counters) {
            auto& counter = tally.counters[name];
            counter.first += value;
            counter.second += value > 0 ? 1 : 0;
        }
        for (const std::string& weakness : timed.result.weaknesses) {
            ++tally.weaknesses[timed.result.scenario + ": " + weakness];
        }
    }
    return tally;
}

// A scenario that demonstrates a weakness passes a sweep only if some seed showed it (DESIGN.md): how many
// did not, each reported.
std::size_t report_unshown_weaknesses(const std::vector<scenarios::Spec>& specs, const Tally& tally,
                                      std::uint64_t first, std::uint64_t last) {
    std::size_t unshown = 0;
    for (const scenarios::Spec& spec : specs) {
        const bool shown = std::any_of(
            spec.checks.weaknesses.begin(), spec.checks.weaknesses.end(),
            [&](const std::string& weakness) { return tally.weaknesses.contains(spec.name + ": " + weakness); });
        if (!spec.checks.weaknesses.empty() && !shown) {
            ++unshown;
            fmt::print("  weakness NOT observed: {} demonstrates {}, but no seed in {}..{} showed it\n", spec.name,
                       fmt::join(spec.checks.weaknesses, " or "), first, last);
        }
    }
    return unshown;
}

// Prints the summary; the exit status.
int summarize(const SweepOptions& options, const std::vector<scenarios::Spec>& specs, const Sweep& sweep,
              const std::vector<Timed>& results, std::pair<std::uint64_t, std::uint64_t> seeds, int jobs,
              double seconds) {
    const auto [first, last] = seeds;
    const Tally counts = tally(results);
    fmt::print("sweep {} seeds {}..{}{}: {} runs, {} passed, {} failed, {} errors ({} worker{})\n",
               specs.size() == 1 ? specs.front().name : "all", first, last,
               options.bug.empty() ? "" : " bug " + options.bug, results.size(), counts.passed, sweep.failed(),
               sweep.errors(), jobs, jobs == 1 ? "" : "s");
    for (const auto& [anomaly, entry] : counts.by_anomaly) {
        fmt::print("  failures by anomaly: {}: {} seeds (first: seed {})\n", anomaly, entry.first, entry.second);
    }
    for (const auto& [weakness, count] : counts.weaknesses) {
        fmt::print("  weakness observed: {} in {} seeds\n", weakness, count);
    }
    for (const auto& [name, counter] : counts.counters) {
        fmt::print("  {}: {} in {} seeds (reported, not failures)\n", name, counter.first, counter.second);
    }
    const std::size_t unshown =
        results.size() == sweep.total() ? report_unshown_weaknesses(specs, counts, first, last) : 0;
    fmt::print("  {:.1f} seeds/s, {:.0f} events/s, {:.0f} simulated s per wall s, {:.1f} s wall\n",
               static_cast<double>(results.size()) / seconds, static_cast<double>(counts.events) / seconds,
               static_cast<double>(counts.sim_ns) * 1e-9 / seconds, seconds);
    if (sweep.failed() > 0 || unshown > 0) {
        return exit_anomaly;
    }
    return sweep.errors() > 0 ? exit_internal : exit_ok;
}

int sweep_command(const SweepOptions& options) {
    if (options.jobs < 1 || options.jobs > 256) {
        throw UsageError(fmt::format("-j {}: the number of workers must be from 1 to 256", options.jobs));
    }
    const auto seeds = parse_seed_range(options.seeds);
    check_bug(options.bug);
    // Open --out first: a sweep must not run for an hour and then find it cannot write.
    std::ofstream out;
    if (!options.out_path.empty()) {
        out.open(options.out_path);
        if (!out) {
            throw UsageError(fmt::format("{}: cannot write", options.out_path));
        }
    }
    const std::vector<scenarios::Spec> specs = sweep_specs(options);
    Sweep sweep(options, specs, sweep_tasks(specs.size(), seeds.first, seeds.second));
    const int jobs = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(options.jobs), sweep.total()));
    if (jobs <= 1) {
        sweep.run_here();
    } else {
        sweep.run_in_workers(jobs);
    }
    sweep.finish();
    const double seconds = sweep.elapsed();
    std::vector<Timed>& results = sweep.results();
    std::sort(results.begin(), results.end(), [&](const Timed& a, const Timed& b) {
        return std::pair{a.result.scenario, a.result.seed} < std::pair{b.result.scenario, b.result.seed};
    });
    if (out.is_open()) {
        for (const Timed& timed : results) {
            out << result_json(timed).dump() << '\n';
        }
        out.flush();
    }
    return summarize(options, specs, sweep, results, seeds, jobs, seconds);
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
