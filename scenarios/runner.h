#pragma once

#include <cstdint>
#include <ostream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "faults/fault_plan.h"
#include "scenarios/spec.h"
#include "scenarios/stream_io.h"
#include "sim/network.h"

namespace eosim::scenarios {

// The messages of a run, for the HTML report (RunOptions::messages): each as the network saw it.
struct MessageTrace {
    std::int64_t sent_ns = 0;
    std::int64_t arrival_ns = 0;  // sent: when it arrives; cut or lost: when it was dropped
    std::string from;
    std::string to;
    std::string kind;  // the message's type: "ProduceRequest", "FetchResponse", ...
    sim::MessageFate fate = sim::MessageFate::sent;
};
struct MessageLog {
    std::size_t limit = 200'000;  // keeps the first `limit` messages
    std::vector<MessageTrace> messages;
    std::size_t left_out = 0;  // messages past the limit
};

struct RunOptions {
    std::uint64_t seed = 1;
    std::string bug;                      // a bug switch name, or ""
    std::string spec_path;                // when the spec came from --spec (for the reproduce command)
    std::ostream* trace = nullptr;        // every trace event as a JSON line
    std::ostream* history = nullptr;      // the history (docs/history-format.md)
    // --input: the records the first producer sends to the stream application's inputs, in this order,
    // each acknowledged before the next, instead of the generator's (the other producers send nothing, and
    // no probe follows the healing). Empty: the generator.
    std::vector<InputRecord> input;
    std::vector<std::string> input_files;  // the --input arguments as given (TOPIC=FILE), for the reproduce command
    // --dump: each topic's committed records, written as JSON lines after the run (docs/apps.md).
    std::vector<std::pair<std::string, std::ostream*>> dumps;
    // --plan: run this fault plan instead of the one the seed draws (the instances' faults included).
    std::optional<faults::FaultPlan> plan;
    std::string plan_path;  // the --plan argument, for the reproduce command
    // Every message the network carried or dropped (reports only: observing changes nothing in the run).
    MessageLog* messages = nullptr;
};

enum class RunStatus : std::uint8_t { pass, fail, error };
std::string_view to_string(RunStatus status);

struct AnomalyReport {
    std::string name;
    std::string partition;
    std::string description;
};

// What became of the fault plan's actions (docs/faults.md, "The nemesis and its guards"): applied =
// planned - dropped. Deferred (waited for a repair) and downgraded (a lossy crash made clean) actions may
// still have been dropped afterwards.
struct FaultCounts {
    std::int64_t planned = 0;
    std::int64_t deferred = 0;
    std::int64_t downgraded = 0;
    std::int64_t dropped = 0;
    [[nodiscard]] std::int64_t applied() const { return planned - dropped; }
    FaultCounts& operator+=(const FaultCounts& other) {
        planned += other.planned;
        deferred += other.deferred;
        downgraded += other.downgraded;
        dropped += other.dropped;
        return *this;
    }
};

struct RunResult {
    std::string scenario;
    std::uint64_t seed = 0;
    std::string bug;
    RunStatus status = RunStatus::pass;
    std::vector<std::string> anomalies;   // failures, by name (sorted, unique)
    std::vector<std::string> weaknesses;  // expected anomalies that showed
    std::vector<std::string> allowed;     // permitted anomalies that showed
    std::vector<AnomalyReport> reports;   // every anomaly found, with its evidence
    std::string error;                    // status error: what went wrong
    std::uint64_t fingerprint = 0;
    std::uint64_t events = 0;
    std::int64_t sim_ns = 0;
    std::string reproduce;
    nlohmann::json fault_plan;
    std::vector<std::pair<std::string, std::string>> params;
    // Figures reported, never failures: "redeliveries" (records the members of a group polled again,
    // which at least once allows after a rebalance).
    std::map<std::string, std::int64_t> counters;
    FaultCounts faults;
    // Liveness (docs/scenarios.md): simulated time from the heal to the end of the probes, and the bound it
    // must keep (the spec's quiesce_ms). -1: the run never got there (stuck, or cut short).
    std::int64_t recovery_ns = -1;
    std::int64_t liveness_bound_ns = 0;
    // The code probes the run reached (scenarios/probes.h), sorted.
    std::vector<std::string> probes;
    // The swarm scenario: the spec the seed drew (TOML); its knobs are in params ("swarm.*").
    std::string drawn_spec;
};

// Runs one scenario with one seed: builds the cluster and its clients, carries out the fault plan over
// the chaos phase, heals, waits for quiescence, reads the final logs, and checks the history.
// Deterministic: the same spec, seed and bug give the same result and fingerprint.
RunResult run(const Spec& spec, const RunOptions& options);
// The same, with the seed given apart (options.seed is ignored): run(spec, 42, {.bug = "ack-before-isr"}).
RunResult run(const Spec& spec, std::uint64_t seed, RunOptions options = {});

// The command that reproduces a run (with its --input files, when it read any).
std::string reproduce_command(const std::string& scenario, std::uint64_t seed, const std::string& bug,
                              const std::string& spec_path, const std::vector<std::string>& input_files = {},
                              const std::string& plan_path = "");

// Why `plan` cannot run on `spec`'s cluster (for the swarm scenario, the one `seed` draws) (an action names a node the scenario lacks, or a node of the
// wrong sort), in one line; "" when it can.
std::string check_plan(const Spec& spec, const faults::FaultPlan& plan, std::uint64_t seed);

}  // namespace eosim::scenarios
