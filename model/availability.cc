// unavailable: a send failed although the cluster had been healthy from well before it was invoked until
// it ended (health lines, written by the runner; docs/anomalies.md). Safety checkers cannot see a cluster
// or client that refuses to work while nothing is wrong: this one does.

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "model/checkers.h"
#include "model/observations.h"

namespace eosim::model {
namespace {

// A healthy stretch [from, to) of the run; `to` is the next unhealthy line (or the end of time).
struct HealthySpan {
    std::int64_t from = 0;
    std::int64_t to = 0;
};

std::vector<HealthySpan> healthy_spans(const std::vector<HealthChange>& health) {
    std::vector<HealthySpan> spans;
    for (std::size_t i = 0; i < health.size(); ++i) {
        if (!health[i].healthy) {
            continue;
        }
        std::size_t next = i + 1;
        while (next < health.size() && health[next].healthy) {
            ++next;  // repeated healthy lines extend the same span
        }
        spans.push_back(HealthySpan{health[i].time,
                                    next < health.size() ? health[next].time : std::numeric_limits<std::int64_t>::max()});
        i = next - 1;
    }
    return spans;
}

const Operation* operation_at(const History& history, std::uint64_t index) {
    const auto found = std::lower_bound(history.operations.begin(), history.operations.end(), index,
                                        [](const Operation& op, std::uint64_t wanted) { return op.index < wanted; });
    return found != history.operations.end() && found->index == index ? &*found : nullptr;
}

// A transactional send that failed because of its transaction, not the cluster: its producer was fenced
// (another instance, or its transaction outlived its timeout), or the transaction was already doomed and
// the send never went out.
bool doomed_by_its_transaction(const Operation& op) {
    if (!op.txn || op.type != OpType::fail) {
        return false;
    }
    const std::string error = op.error.value_or("");
    return !op.attempts || error == "PRODUCER_FENCED" || error == "INVALID_PRODUCER_EPOCH" ||
           error == "TRANSACTION_ABORTABLE" || error == "INVALID_TXN_STATE" || error == "INVALID_PRODUCER_ID_MAPPING";
}

}  // namespace

std::vector<Anomaly> check_unavailable(const History& history) {
    std::vector<Anomaly> found;
    const std::vector<HealthySpan> spans = healthy_spans(history.health);
    if (spans.empty()) {
        return found;
    }
    const InvokeOf invoke_of = invoke_of_completion(history);
    for (const Operation& op : history.operations) {
        if (op.f != "send" || (op.type != OpType::fail && op.type != OpType::info) || doomed_by_its_transaction(op)) {
            continue;
        }
        if (fenced_error(op.error)) {
            continue;  // another instance took over its transactional id: spurious-fence judges that
        }
        const auto invoke = invoke_of.find(op.index);
        const Operation* invoked = invoke == invoke_of.end() ? nullptr : operation_at(history, invoke->second);
        if (invoked == nullptr) {
            continue;
        }
        const std::int64_t since = invoked->time - availability_grace_ns;
        const auto span = std::find_if(spans.begin(), spans.end(), [&](const HealthySpan& s) {
            return s.from <= since && op.time < s.to;
        });
        if (span == spans.end()) {
            continue;
        }
        const std::string partition = op.partition.value_or("");
        found.push_back(Anomaly{
            .name = "unavailable",
            .partition = partition,
            .description = fmt::format(
                "send op {} ({}, invoked at op {}) to {} {} with {} at {:.3f} s, though the cluster was healthy from "
                "{:.3f} s (more than {:.1f} s before the send) until after it ended",
                op.index, op.process, invoked->index, partition, op.type == OpType::fail ? "failed" : "ended unknown",
                op.error.value_or("no error"), static_cast<double>(op.time) / 1e9, static_cast<double>(span->from) / 1e9,
                static_cast<double>(availability_grace_ns) / 1e9),
            .evidence = {{"index", op.index},
                         {"invoke_index", invoked->index},
                         {"process", op.process},
                         {"value", op.value ? nlohmann::json(*op.value) : nlohmann::json(nullptr)},
                         {"type", to_string(op.type)},
                         {"error", op.error ? nlohmann::json(*op.error) : nlohmann::json(nullptr)},
                         {"invoked_at", invoked->time},
                         {"ended_at", op.time},
                         {"healthy_from", span->from}},
        });
    }
    return found;
}

}  // namespace eosim::model
