// The machinery of a sweep: seeds of scenarios run in this process or in worker processes, their results
// gathered (eosim sweep and eosim zoo).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "reports/style.h"
#include "faults/fault_plan.h"
#include "scenarios/spec.h"

namespace eosim::cli {

struct SweepOptions {
    std::string target;
    std::string spec_path;
    std::string seeds;
    int jobs = 1;
    std::string bug;
    bool stop_on_failure = false;
    SummaryPaths outputs;  // --out, --junit, --json, --html (the zoo writes its own)
    std::string shard;  // "K/N": run every N-th task of the range, from the K-th
    std::string plan_path;
    std::optional<faults::FaultPlan> plan;  // read from plan_path before the workers start
    bool quiet = false;                     // no line per failing seed, no progress line (the zoo's own)
    bool show_probes = false;               // the summary lists every code probe with its seeds
    bool errors_stop = true;                // stop_on_failure stops at an error too (the zoo: only at a failure)
};

// The options of one run of a sweep: its seed, and the sweep's bug switch, spec file and fault plan.
scenarios::RunOptions run_options_for(const SweepOptions& options, std::uint64_t seed);

struct Task {
    std::size_t spec = 0;
    std::uint64_t seed = 0;
};

// "A..B" (inclusive). Throws UsageError.
std::pair<std::uint64_t, std::uint64_t> parse_seed_range(const std::string& text);
// Every seed of every spec, spec by spec.
std::deque<Task> sweep_tasks(std::size_t specs, std::uint64_t first, std::uint64_t last);
// "K/N" (1 <= K <= N): K and N. Throws UsageError.
std::pair<std::uint64_t, std::uint64_t> parse_shard(const std::string& text);
// The tasks of shard K of N: the K-th, (K+N)-th, (K+2N)-th... task of `tasks` (1-based). The N shards
// of a range hold each of its tasks exactly once, whatever the range and N.
std::deque<Task> shard_tasks(const std::deque<Task>& tasks, std::uint64_t k, std::uint64_t n);

struct Worker {
    pid_t pid = -1;
    int task_fd = -1;
    int result_fd = -1;
    std::string buffer;
    std::optional<Task> busy;
    bool retired = false;  // killed by stop_after: not polled, not replaced, reaped at the end
};

class Progress {
public:
    Progress(std::size_t total, bool shown);
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

class Sweep {
public:
    Sweep(const SweepOptions& options, const std::vector<scenarios::Spec>& specs, std::deque<Task> queue)
        : options_(options), specs_(specs), queue_(std::move(queue)), total_(queue_.size()), progress_(total_, !options.quiet) {}

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
    // With stop_on_failure: the first run in the sweep's order that failed (or erred, with errors_stop), every
    // run before it done, if any.
    [[nodiscard]] const Timed* first_failure() const;
    // When (wall seconds into the sweep) every run up to and including `timed` in the sweep's order was done.
    [[nodiscard]] double settled_at(const Timed& timed) const;

private:
    void take(Timed timed);
    // The run's place in the sweep's order (spec, then seed).
    [[nodiscard]] Task task_of(const Timed& timed) const;
    // Drops every queued run after `failed` in the sweep's order (stop_on_failure): the runs before it,
    // queued or in flight, still finish, so the failure reported first is the first in order.
    void stop_after(const Task& failed);
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
    std::vector<Worker> workers_;
    reports::Style style_ = reports::Style::for_stream(stdout);
};

}  // namespace eosim::cli
