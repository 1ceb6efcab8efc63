// Consumer-group checkers (docs/anomalies.md): eos-output-mismatch for the consume-transform-produce loop.

#include "model/groups.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "model/observations.h"

namespace eosim::model {
namespace {

using Json = nlohmann::json;

constexpr std::size_t shown_max = 5;
constexpr std::size_t evidence_max = 100;

// FNV-1a: the number of outputs must not depend on the platform's std::hash.
std::uint64_t fnv1a(std::string_view text) {
    std::uint64_t hash = 1469598103934665603ULL;
    for (const char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ULL;
    }
    return hash;
}

std::string_view unpadded(std::string_view value) {
    const std::size_t end = value.find_last_not_of('.');
    return end == std::string_view::npos ? std::string_view() : value.substr(0, end + 1);
}

std::string input_name(const std::string& partition, std::int64_t offset) {
    return fmt::format("{}@{}", partition, offset);
}

std::string listed(const std::vector<std::string>& items) {
    std::string text;
    for (std::size_t i = 0; i < items.size() && i < shown_max; ++i) {
        text += (i == 0 ? "" : ", ") + items[i];
    }
    if (items.size() > shown_max) {
        text += fmt::format(" and {} more", items.size() - shown_max);
    }
    return text;
}

Json capped(const std::vector<std::string>& items) {
    Json out = Json::array();
    for (std::size_t i = 0; i < items.size() && i < evidence_max; ++i) {
        out.push_back(items[i]);
    }
    return out;
}

}  // namespace

std::vector<CtpOutput> ctp_outputs(std::string_view partition, std::int64_t offset, std::string_view value) {
    const std::string_view input = unpadded(value);
    const std::int64_t count = 1 + static_cast<std::int64_t>(fnv1a(input) % 3);
    std::vector<CtpOutput> outputs;
    for (std::int64_t j = 0; j < count; ++j) {
        outputs.push_back(CtpOutput{fmt::format("{}@{}#{}", partition, offset, j),
                                    fmt::format("{}@{}#{}/{}:{}", partition, offset, j, count, input)});
    }
    return outputs;
}

std::optional<CtpSource> ctp_source(std::string_view output_value) {
    const std::size_t at = output_value.rfind('@', output_value.find(':'));
    const std::size_t hash = output_value.find('#', at == std::string_view::npos ? 0 : at);
    const std::size_t slash = output_value.find('/', hash == std::string_view::npos ? 0 : hash);
    const std::size_t colon = output_value.find(':', slash == std::string_view::npos ? 0 : slash);
    if (at == std::string_view::npos || hash == std::string_view::npos || slash == std::string_view::npos ||
        colon == std::string_view::npos) {
        return std::nullopt;
    }
    try {
        return CtpSource{std::string(output_value.substr(0, at)),
                         std::stoll(std::string(output_value.substr(at + 1, hash - at - 1))),
                         std::stoll(std::string(output_value.substr(hash + 1, slash - hash - 1))),
                         std::stoll(std::string(output_value.substr(slash + 1, colon - slash - 1)))};
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// The committed output must be exactly f of the committed input: for every input partition, each record
// below the group's final committed offset processed once (all its outputs present, once each), nothing
// processed at or past it, and, in every output partition, the outputs of one input partition in input
// order. The output is what read_committed consumers read (after quiescence they read every output
// partition to its end).
std::vector<Anomaly> check_eos_output(const History& history) {
    std::vector<Anomaly> found;
    const Operation* final_line = nullptr;
    for (const Operation& op : history.operations) {
        if (op.f == "stuck") {
            return found;  // the output was not read to its end: stuck says what went wrong
        }
        if (op.f == "ctp-final" && op.type == OpType::ok && op.offsets && op.partitions) {
            final_line = &op;
        }
    }
    if (final_line == nullptr) {
        return found;
    }
    const std::set<std::string> outputs(final_line->partitions->begin(), final_line->partitions->end());
    // The committed output: every (partition, offset) a read_committed poll returned.
    std::map<std::string, std::map<std::int64_t, std::string>> output;
    for (const Operation& op : history.operations) {
        if (op.f != "poll" || op.type != OpType::ok || !op.records || op.isolation != "read_committed" ||
            !op.partition || !outputs.contains(*op.partition)) {
            continue;
        }
        for (const Record& record : *op.records) {
            const std::string value = record.value.value_or("");
            output[*op.partition].emplace(record.offset, value.substr(0, value.rfind('|')));  // the attempt's tag goes
        }
    }
    // How often each output value is in the output, and the order per output partition.
    std::map<std::string, int> seen;
    std::map<std::string, std::vector<std::string>> out_of_order;  // input partition -> descriptions
    for (const auto& [partition, records] : output) {
        std::map<std::string, std::int64_t> last_input;  // input partition -> last input offset seen
        for (const auto& [offset, value] : records) {
            ++seen[value];
            const std::optional<CtpSource> source = ctp_source(value);
            if (!source) {
                continue;
            }
            const auto [last, first] = last_input.try_emplace(source->partition, source->offset);
            if (!first && source->offset < last->second) {
                out_of_order[source->partition].push_back(
                    fmt::format("{}@{} ({} after {}@{})", partition, offset, input_name(source->partition, source->offset),
                                source->partition, last->second));
            }
            last->second = std::max(last->second, source->offset);
        }
    }
    std::set<std::string> expected_values;
    for (const auto& [input, committed_offset] : *final_line->offsets) {
        const std::int64_t committed = std::max<std::int64_t>(committed_offset, 0);
        const ReplicaState* replica = committed_replica(history, input);
        std::vector<std::string> lost;
        std::vector<std::string> duplicated;
        std::vector<std::string> beyond;
        if (replica != nullptr) {
            for (const Record& record : replica->records) {
                if (record.offset >= committed || !record.value) {
                    continue;
                }
                bool missing = false;
                bool twice = false;
                for (const CtpOutput& out : ctp_outputs(input, record.offset, *record.value)) {
                    expected_values.insert(out.value);
                    const auto count = seen.find(out.value);
                    missing = missing || count == seen.end();
                    twice = twice || (count != seen.end() && count->second > 1);
                }
                if (missing) {
                    lost.push_back(input_name(input, record.offset));
                }
                if (twice) {
                    duplicated.push_back(input_name(input, record.offset));
                }
            }
        }
        // Output of input at or past the committed offset, or that is not f of any input record.
        std::set<std::int64_t> beyond_offsets;
        for (const auto& [value, count] : seen) {
            const std::optional<CtpSource> source = ctp_source(value);
            if (source && source->partition == input && !expected_values.contains(value)) {
                beyond_offsets.insert(source->offset);
            }
        }
        for (const std::int64_t offset : beyond_offsets) {
            beyond.push_back(input_name(input, offset));
        }
        const std::vector<std::string>& disorder = out_of_order[input];
        if (lost.empty() && duplicated.empty() && beyond.empty() && disorder.empty()) {
            continue;
        }
        std::string what;
        const auto add = [&what](const std::vector<std::string>& items, const char* label) {
            if (!items.empty()) {
                what += fmt::format("{}{} {}: {}", what.empty() ? "" : "; ", items.size(), label, listed(items));
            }
        };
        add(lost, "input records below the committed offset missing from the output (lost processing)");
        add(duplicated, "input records processed more than once (duplicate processing)");
        add(beyond, "input records at or past the committed offset, or not in the input log, with committed output");
        add(disorder, "outputs out of input order");
        found.push_back(Anomaly{
            .name = "eos-output-mismatch",
            .partition = input,
            .description = fmt::format("the committed output of {} is not f of its input below the group's final "
                                       "committed offset {}: {}",
                                       input, committed, what),
            .evidence = {{"input_partition", input},
                         {"committed_offset", committed},
                         {"lost", capped(lost)},
                         {"duplicated", capped(duplicated)},
                         {"beyond_committed", capped(beyond)},
                         {"out_of_order", capped(disorder)}},
        });
    }
    return found;
}

}  // namespace eosim::model
