// A stateful RapidCheck test of the broker's producer state against a model: appends with any producer
// id, epoch and sequence (in sequence, duplicates, gaps, old and new epochs), idle time and expiry,
// segment rolls with their snapshots, restarts (snapshot + replay) and truncations. The model holds
// only the log; the producer state it expects is a function of the log and of the last expiry.

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <fmt/format.h>

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "broker_core/partition_log.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using protocol::Offset;

constexpr std::int64_t expiration_ms = 1000;
constexpr std::size_t window = 5;

struct LoggedBatch {
    std::int64_t producer_id = 0;
    std::int16_t epoch = 0;
    std::int32_t first_sequence = 0;
    std::int32_t last_sequence = 0;
    std::int64_t first_offset = 0;
    std::int64_t last_offset = 0;
    std::int64_t timestamp_ms = 0;
};

struct Model {
    std::vector<LoggedBatch> log;  // every batch of the log, in offset order
    std::int64_t next_offset = 0;
    std::int64_t now_ms = 0;
    std::int64_t last_expiry_ms = -1'000'000;  // when expire() last ran

    // The producer state the log implies: per producer, the epoch of its last batch and the last few
    // batches of that epoch; gone if it was idle for the expiration at the last expiry.
    [[nodiscard]] std::map<std::int64_t, ProducerEntry> expected() const {
        std::map<std::int64_t, std::vector<const LoggedBatch*>> by_producer;
        for (const LoggedBatch& batch : log) {
            by_producer[batch.producer_id].push_back(&batch);
        }
        std::map<std::int64_t, ProducerEntry> entries;
        for (const auto& [id, batches] : by_producer) {
            const LoggedBatch& last = *batches.back();
            if (last_expiry_ms - last.timestamp_ms >= expiration_ms) {
                continue;
            }
            ProducerEntry entry;
            entry.epoch = protocol::ProducerEpoch(last.epoch);
            entry.last_timestamp_ms = last.timestamp_ms;
            for (auto it = batches.rbegin(); it != batches.rend() && (*it)->epoch == last.epoch && entry.batches.size() < window; ++it) {
                const LoggedBatch& b = **it;
                entry.batches.push_front(ProducerBatchMetadata{protocol::Sequence(b.first_sequence), protocol::Sequence(b.last_sequence),
                                                               Offset(b.first_offset), Offset(b.last_offset), b.timestamp_ms});
            }
            entries.emplace(id, entry);
        }
        return entries;
    }

    [[nodiscard]] std::optional<std::int16_t> last_logged_epoch(std::int64_t id) const {
        std::optional<std::int16_t> epoch;
        for (const LoggedBatch& batch : log) {
            if (batch.producer_id == id) {
                epoch = batch.epoch;
            }
        }
        return epoch;
    }
};

struct System {
    sim::Simulation simulation{sim::SimulationOptions{.seed = 7}};
    sim::Disk disk{sim::DiskOptions{}, sim::Random(7)};
    LogConfig config{.segment_bytes = 400, .producer_state = ProducerStateConfig{.expiration_ms = expiration_ms}};
    std::unique_ptr<PartitionLog> log;

    System() { restart(); }
    void restart() {
        log = std::make_unique<PartitionLog>(disk, "t-0", config);
        (void)log->recover();
    }
};

void expect_state(const Model& model, const System& system) {
    std::map<std::int64_t, ProducerEntry> actual;
    for (const auto& [id, entry] : system.log->producer_state().producers()) {
        actual.emplace(id.value(), entry);
    }
    RC_ASSERT(actual == model.expected());
}

// The model's verdict, stated from the rules in docs/idempotence.md.
SequenceCheck model_verdict(const Model& model, std::int64_t id, std::int16_t epoch, std::int32_t first, std::int32_t last) {
    const auto entries = model.expected();
    const auto found = entries.find(id);
    if (found == entries.end()) {
        return {first == 0 ? SequenceVerdict::append : SequenceVerdict::unknown_producer_id, {}};
    }
    const ProducerEntry& entry = found->second;
    if (epoch < entry.epoch.value()) {
        return {SequenceVerdict::invalid_producer_epoch, {}};
    }
    if (epoch > entry.epoch.value()) {
        return {first == 0 ? SequenceVerdict::append : SequenceVerdict::out_of_order_sequence, {}};
    }
    for (const ProducerBatchMetadata& cached : entry.batches) {
        if (cached.first_sequence.value() == first && cached.last_sequence.value() == last) {
            return {SequenceVerdict::duplicate, cached};
        }
    }
    const std::int32_t expected = entry.batches.back().last_sequence.value() + 1;
    return {first == expected ? SequenceVerdict::append : SequenceVerdict::out_of_order_sequence, {}};
}

using Command = rc::state::Command<Model, System>;

struct Append : Command {
    std::int64_t id = 0;
    std::int16_t epoch = 0;
    std::int32_t first = 0;
    std::int32_t count = 1;

    explicit Append(const Model& model) {
        id = *rc::gen::inRange<std::int64_t>(1, 4);
        count = *rc::gen::inRange<std::int32_t>(1, 4);
        const auto entries = model.expected();
        const auto entry = entries.find(id);
        const std::optional<std::int16_t> logged = model.last_logged_epoch(id);
        if (entry == entries.end() && logged) {
            // A producer whose state expired starts again with a new epoch (KIP-360).
            epoch = static_cast<std::int16_t>(*logged + *rc::gen::inRange<std::int16_t>(1, 3));
            first = *rc::gen::element<std::int32_t>(0, 0, 0, 3);
            return;
        }
        const std::int16_t current = entry != entries.end() ? entry->second.epoch.value() : 0;
        epoch = *rc::gen::weightedOneOf<std::int16_t>({{8, rc::gen::just(current)},
                                                       {1, rc::gen::just(static_cast<std::int16_t>(current + 1))},
                                                       {1, rc::gen::inRange<std::int16_t>(0, 4)}});
        const std::int32_t next = entry != entries.end() ? entry->second.batches.back().last_sequence.value() + 1 : 0;
        if (entry != entries.end() && *rc::gen::inRange(0, 4) == 0) {
            // The retry of a batch it may remember, or of one it forgot.
            const auto& cached = entry->second.batches;
            const ProducerBatchMetadata& again = cached[*rc::gen::inRange<std::size_t>(0, cached.size())];
            first = again.first_sequence.value();
            count = again.last_sequence.value() - first + 1;
            return;
        }
        first = *rc::gen::weightedOneOf<std::int32_t>(
            {{8, rc::gen::just(next)}, {1, rc::gen::just(0)}, {1, rc::gen::inRange<std::int32_t>(0, next + 8)}});
    }

    void apply(Model& model) const override {
        const SequenceCheck verdict = model_verdict(model, id, epoch, first, first + count - 1);
        if (verdict.verdict == SequenceVerdict::append) {
            model.log.push_back(LoggedBatch{id, epoch, first, first + count - 1, model.next_offset,
                                            model.next_offset + count - 1, model.now_ms});
            model.next_offset += count;
        }
    }

    void run(const Model& model, System& system) const override {
        protocol::RecordBatch batch;
        batch.base_offset = system.log->log_end_offset();
        batch.producer_id = protocol::ProducerId(id);
        batch.producer_epoch = protocol::ProducerEpoch(epoch);
        batch.base_sequence = protocol::Sequence(first);
        for (std::int32_t i = 0; i < count; ++i) {
            batch.records.push_back(protocol::Record{std::nullopt, fmt::format("p{}-{}", id, first + i), model.now_ms});
        }
        const SequenceCheck expected = model_verdict(model, id, epoch, first, first + count - 1);
        const SequenceCheck actual = system.log->producer_state().check(batch);
        RC_ASSERT(actual.verdict == expected.verdict);
        RC_ASSERT(actual.original == expected.original);
        if (actual.verdict == SequenceVerdict::append) {
            RC_ASSERT(system.log->append(batch).ok());
        }
        Model after = model;
        apply(after);
        expect_state(after, system);
    }

    void show(std::ostream& out) const override {
        out << "Append(producer " << id << ", epoch " << epoch << ", sequences " << first << ".." << first + count - 1 << ")";
    }
};

struct Idle : Command {
    std::int64_t ms = *rc::gen::inRange<std::int64_t>(1, 700);
    void apply(Model& model) const override { model.now_ms += ms; }
    void run(const Model& /*model*/, System& /*system*/) const override {}
    void show(std::ostream& out) const override { out << "Idle(" << ms << " ms)"; }
};

struct Expire : Command {
    void apply(Model& model) const override { model.last_expiry_ms = model.now_ms; }
    void run(const Model& model, System& system) const override {
        (void)system.log->producer_state().expire(model.now_ms);
        Model after = model;
        apply(after);
        expect_state(after, system);
    }
    void show(std::ostream& out) const override { out << "Expire"; }
};

// A restart rebuilds the state from the newest snapshot and the log after it; the broker then expires.
struct Restart : Command {
    void apply(Model& model) const override { model.last_expiry_ms = model.now_ms; }
    void run(const Model& model, System& system) const override {
        system.restart();
        (void)system.log->producer_state().expire(model.now_ms);
        Model after = model;
        apply(after);
        expect_state(after, system);
    }
    void show(std::ostream& out) const override { out << "Restart"; }
};

// A follower truncating its log (to a batch boundary) rebuilds the state for the shorter log.
struct Truncate : Command {
    std::size_t keep = 0;  // batches kept

    explicit Truncate(const Model& model) { keep = *rc::gen::inRange<std::size_t>(0, model.log.size() + 1); }

    void apply(Model& model) const override {
        if (keep < model.log.size()) {
            model.next_offset = model.log[keep].first_offset;
            model.log.resize(keep);
        }
        model.last_expiry_ms = model.now_ms;
    }
    void run(const Model& model, System& system) const override {
        const Offset end = keep < model.log.size() ? Offset(model.log[keep].first_offset) : Offset(model.next_offset);
        system.log->truncate_to(end);
        (void)system.log->producer_state().expire(model.now_ms);
        Model after = model;
        apply(after);
        RC_ASSERT(system.log->log_end_offset().value() == after.next_offset);
        expect_state(after, system);
    }
    void show(std::ostream& out) const override { out << "Truncate(keep " << keep << " batches)"; }
};

RC_GTEST_PROP(ProducerStateModel, MatchesTheModelThroughAppendsExpiryRestartsAndTruncation, ()) {
    Model model;
    System system;
    rc::state::check(model, system,
                     rc::state::gen::execOneOfWithArgs<Append, Append, Append, Append, Idle, Expire, Restart, Truncate>());
}

}  // namespace
}  // namespace eosim::broker_core
