#include "cli/sweep_pool.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "reports/text.h"

namespace eosim::cli {

namespace {

// A worker process: reads "spec seed" lines, writes one JSON result line for each.
[[noreturn]] void worker_main(int task_fd, int result_fd, const std::vector<scenarios::Spec>& specs,
                              const SweepOptions& options) {
    std::FILE* tasks = ::fdopen(task_fd, "r");
    std::FILE* results = ::fdopen(result_fd, "w");
    std::size_t spec = 0;
    unsigned long long seed = 0;
    while (tasks != nullptr && results != nullptr && std::fscanf(tasks, "%zu %llu", &spec, &seed) == 2) {
        const Timed timed = timed_run(specs[spec], run_options_for(options, seed));
        std::fputs((reports::result_line(timed) + "\n").c_str(), results);
        std::fflush(results);
    }
    std::_Exit(0);
}

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

}  // namespace

scenarios::RunOptions run_options_for(const SweepOptions& options, std::uint64_t seed) {
    scenarios::RunOptions run_options;
    run_options.seed = seed;
    run_options.bug = options.bug;
    run_options.spec_path = options.spec_path;
    run_options.plan = options.plan;
    run_options.plan_path = options.plan_path;
    return run_options;
}

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

std::pair<std::uint64_t, std::uint64_t> parse_shard(const std::string& text) {
    const std::size_t slash = text.find('/');
    const auto bad = [&](const std::string& why) { return UsageError(fmt::format("bad shard '{}': {}", text, why)); };
    if (slash == std::string::npos) {
        throw bad("expected K/N, e.g. 2/4 (the second of four shards)");
    }
    const auto parse = [&](const std::string& part) {
        if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos || part.size() > 9) {
            throw bad("K and N are whole numbers");
        }
        return static_cast<std::uint64_t>(std::stoull(part));
    };
    const std::uint64_t k = parse(text.substr(0, slash));
    const std::uint64_t n = parse(text.substr(slash + 1));
    if (n == 0 || k == 0 || k > n) {
        throw bad("K must be from 1 to N");
    }
    return {k, n};
}

std::deque<Task> shard_tasks(const std::deque<Task>& tasks, std::uint64_t k, std::uint64_t n) {
    std::deque<Task> mine;
    for (std::size_t i = k - 1; i < tasks.size(); i += n) {
        mine.push_back(tasks[i]);
    }
    return mine;
}

Progress::Progress(std::size_t total, bool shown) : total_(total), tty_(shown && ::isatty(STDERR_FILENO) == 1) {}

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

Task Sweep::task_of(const Timed& timed) const {
    for (std::size_t spec = 0; spec < specs_.size(); ++spec) {
        if (specs_[spec].name == timed.result.scenario) {
            return Task{spec, timed.result.seed};
        }
    }
    return Task{specs_.size(), timed.result.seed};
}

namespace {

bool before(const Task& a, const Task& b) {
    return std::pair{a.spec, a.seed} < std::pair{b.spec, b.seed};
}

}  // namespace

void Sweep::take(Timed timed) {
    timed.finished_s = elapsed();
    failed_ += timed.result.status == scenarios::RunStatus::fail ? 1 : 0;
    errors_ += timed.result.status == scenarios::RunStatus::error ? 1 : 0;
    if (timed.result.status != scenarios::RunStatus::pass) {
        progress_.finish();
        if (!options_.quiet) {
            reports::print_failure(stdout, timed, style_);
            std::fflush(stdout);
        }
        if (options_.stop_on_failure &&
            (options_.errors_stop || timed.result.status == scenarios::RunStatus::fail)) {
            stop_after(task_of(timed));
        }
    }
    results_.push_back(std::move(timed));
    progress_.update(results_.size(), failed_, errors_, elapsed());
}

void Sweep::stop_after(const Task& failed) {
    const auto after = [&failed](const Task& task) { return before(failed, task); };
    std::erase_if(queue_, after);
    for (Worker& worker : workers_) {
        if (worker.busy && after(*worker.busy)) {
            ::kill(worker.pid, SIGKILL);  // its run comes after the failure: not needed
            worker.busy.reset();
            worker.retired = true;
        }
    }
}

const Timed* Sweep::first_failure() const {
    const Timed* first = nullptr;
    for (const Timed& timed : results_) {
        const bool counts = timed.result.status == scenarios::RunStatus::fail ||
                            (options_.errors_stop && timed.result.status == scenarios::RunStatus::error);
        if (counts && (first == nullptr || before(task_of(timed), task_of(*first)))) {
            first = &timed;
        }
    }
    return first;
}

double Sweep::settled_at(const Timed& timed) const {
    const Task last = task_of(timed);
    double settled = timed.finished_s;
    for (const Timed& other : results_) {
        if (!before(last, task_of(other))) {
            settled = std::max(settled, other.finished_s);
        }
    }
    return settled;
}

void Sweep::run_here() {
    while (!queue_.empty()) {
        const Task task = queue_.front();
        queue_.pop_front();
        take(timed_run(specs_[task.spec], run_options_for(options_, task.seed)));
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
    if (queue_.empty()) {
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
        std::vector<std::size_t> polled;
        for (std::size_t i = 0; i < workers_.size(); ++i) {
            if (!workers_[i].retired) {
                fds.push_back(pollfd{workers_[i].result_fd, POLLIN, 0});
                polled.push_back(i);
            }
        }
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            continue;
        }
        for (std::size_t k = 0; k < fds.size(); ++k) {
            if ((fds[k].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !workers_[polled[k]].retired) {
                serve(workers_[polled[k]]);
            }
        }
    }
    for (Worker& worker : workers_) {
        ::close(worker.task_fd);
        ::close(worker.result_fd);
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
        take(reports::result_from_json(nlohmann::json::parse(worker.buffer.substr(0, newline))));
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
            scenarios::reproduce_command(died.result.scenario, died.result.seed, options_.bug, options_.spec_path, {},
                                         options_.plan_path);
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

}  // namespace eosim::cli
