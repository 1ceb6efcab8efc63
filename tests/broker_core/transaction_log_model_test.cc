// A stateful RapidCheck test of a partition's transaction state against a model that holds only the log:
// data batches of producers (transactional or not) and of plain producers, COMMIT and ABORT markers with
// any coordinator epoch, high watermark moves, truncations, restarts (snapshot + replay) and lost or torn
// aborted-transaction index files. After every step the log's first unstable offset, last stable offset,
// aborted transactions (over several ranges) and the leader's transaction verdicts equal what the model
// derives from the log alone (docs/transactions.md, "Partitions").

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
#include "protocol/control_record.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using protocol::Offset;
using protocol::ProducerId;

enum class Kind : std::uint8_t { plain, data, transactional, commit, abort };

struct LoggedBatch {
    Kind kind = Kind::plain;
    std::int64_t producer_id = -1;
    std::int32_t coordinator_epoch = 0;  // markers
    std::int64_t first_offset = 0;
    std::int64_t last_offset = 0;
};

// What the log implies, derived by reading it from the start.
struct Derived {
    std::map<std::int64_t, std::int64_t> ongoing;             // producer -> first offset of its ongoing transaction
    std::map<std::int64_t, std::int32_t> coordinator_epochs;  // producer -> of its last marker
    std::vector<CompletedTransaction> completed;              // in marker order
    std::vector<AbortedTransaction> aborted;                  // in marker order
};

struct Model {
    std::vector<LoggedBatch> log;
    std::int64_t next_offset = 0;
    std::int64_t high_watermark = 0;
    std::int64_t log_start = 0;  // moved up by DeleteRecords (to a batch boundary at most the high watermark)

    [[nodiscard]] Derived derive() const {
        Derived derived;
        for (const LoggedBatch& batch : log) {
            if (batch.kind == Kind::transactional) {
                derived.ongoing.try_emplace(batch.producer_id, batch.first_offset);
            }
            if (batch.kind != Kind::commit && batch.kind != Kind::abort) {
                continue;
            }
            const auto found = derived.ongoing.find(batch.producer_id);
            const std::int64_t first = found != derived.ongoing.end() ? found->second : batch.first_offset;
            const bool aborted = batch.kind == Kind::abort;
            if (found != derived.ongoing.end()) {
                derived.ongoing.erase(found);
            }
            derived.coordinator_epochs[batch.producer_id] = batch.coordinator_epoch;
            derived.completed.push_back(CompletedTransaction{ProducerId(batch.producer_id), Offset(first),
                                                             Offset(batch.first_offset), aborted});
            if (aborted) {
                std::int64_t last_stable = batch.first_offset + 1;
                for (const auto& [id, other_first] : derived.ongoing) {
                    last_stable = std::min(last_stable, other_first);  // the producer's own was erased above
                }
                derived.aborted.push_back(AbortedTransaction{ProducerId(batch.producer_id), Offset(first),
                                                             Offset(batch.first_offset), Offset(last_stable)});
            }
        }
        return derived;
    }
    [[nodiscard]] std::optional<std::int64_t> first_unstable_offset() const {
        const Derived derived = derive();
        std::optional<std::int64_t> lowest;
        const auto lower = [&lowest](std::int64_t offset) { lowest = lowest ? std::min(*lowest, offset) : offset; };
        for (const auto& [id, first] : derived.ongoing) {
            lower(first);
        }
        for (const CompletedTransaction& completed : derived.completed) {
            if (completed.last_offset.value() >= high_watermark) {
                lower(completed.first_offset.value());
            }
        }
        return lowest;
    }
};

struct System {
    sim::Simulation simulation{sim::SimulationOptions{.seed = 11}};
    sim::Disk disk{sim::DiskOptions{}, sim::Random(11)};
    LogConfig config{.segment_bytes = 300};
    std::unique_ptr<PartitionLog> log;

    System() { restart(0); }
    void restart(std::int64_t high_watermark) {
        log = std::make_unique<PartitionLog>(disk, "t-0", config);
        (void)log->recover();
        log->on_high_watermark(Offset(high_watermark));  // as the broker does from its checkpoint
    }
};

std::vector<AbortedTransaction> overlapping(const std::vector<AbortedTransaction>& all, std::int64_t from,
                                            std::int64_t upto) {
    std::vector<AbortedTransaction> selected;
    for (const AbortedTransaction& aborted : all) {
        if (aborted.last_offset.value() >= from && aborted.first_offset.value() < upto) {
            selected.push_back(aborted);
        }
    }
    return selected;
}

void expect_state(const Model& model, const System& system) {
    const PartitionLog& log = *system.log;
    RC_ASSERT(log.log_end_offset().value() == model.next_offset);
    const Offset high_watermark(model.high_watermark);
    const std::optional<std::int64_t> unstable = model.first_unstable_offset();
    const std::optional<Offset> actual_unstable = log.producer_state().first_unstable_offset(high_watermark);
    RC_ASSERT(actual_unstable.has_value() == unstable.has_value());
    const bool same_unstable = !unstable || actual_unstable->value() == *unstable;
    RC_ASSERT(same_unstable);
    const std::int64_t last_stable =
        unstable ? std::min(std::max(*unstable, model.log_start), model.high_watermark) : model.high_watermark;
    RC_ASSERT(log.last_stable_offset(high_watermark).value() == last_stable);
    const std::vector<AbortedTransaction> all = model.derive().aborted;
    const std::int64_t end = model.next_offset;
    // A fetch starts at or above the log start; the indexes of deleted segments held only entries below it.
    const std::int64_t start = model.log_start;
    for (const auto& [from, upto] : std::vector<std::pair<std::int64_t, std::int64_t>>{
             {start, INT64_MAX},
             {start, last_stable},
             {last_stable, end},
             {std::max(start, end / 2), end},
             {std::max(start, end / 3), 2 * end / 3}}) {
        RC_ASSERT(log.aborted_transactions(Offset(from), Offset(upto)) == overlapping(all, from, upto));
    }
}

using Command = rc::state::Command<Model, System>;

// A batch as a follower appends it (no checks); the leader's transaction verdict on it is checked first.
struct Append : Command {
    Kind kind = Kind::plain;
    std::int64_t id = -1;
    std::int32_t coordinator_epoch = 0;
    std::int32_t count = 1;

    Append() {
        kind = *rc::gen::weightedOneOf<Kind>({{1, rc::gen::just(Kind::plain)},
                                              {2, rc::gen::just(Kind::data)},
                                              {5, rc::gen::just(Kind::transactional)},
                                              {2, rc::gen::just(Kind::commit)},
                                              {2, rc::gen::just(Kind::abort)}});
        id = kind == Kind::plain ? -1 : *rc::gen::inRange<std::int64_t>(1, 4);
        const bool marker = kind == Kind::commit || kind == Kind::abort;
        coordinator_epoch = marker ? *rc::gen::inRange<std::int32_t>(0, 3) : 0;
        count = marker ? 1 : *rc::gen::inRange<std::int32_t>(1, 4);
    }

    void apply(Model& model) const override {
        model.log.push_back(LoggedBatch{kind, id, coordinator_epoch, model.next_offset, model.next_offset + count - 1});
        model.next_offset += count;
    }

    [[nodiscard]] protocol::RecordBatch batch(std::int64_t base) const {
        protocol::RecordBatch batch;
        if (kind == Kind::commit || kind == Kind::abort) {
            const auto type = kind == Kind::commit ? protocol::ControlType::commit : protocol::ControlType::abort;
            batch = protocol::marker_batch(ProducerId(id), protocol::ProducerEpoch(0),
                                           protocol::TransactionMarker{type, coordinator_epoch}, 0);
        } else {
            batch.producer_id = ProducerId(id);
            batch.producer_epoch = protocol::ProducerEpoch(id < 0 ? -1 : 0);
            batch.base_sequence = protocol::Sequence(id < 0 ? -1 : 0);
            batch.transactional = kind == Kind::transactional;
            for (std::int32_t i = 0; i < count; ++i) {
                batch.records.push_back(protocol::Record{std::nullopt, fmt::format("v{}", base + i), 0});
            }
        }
        batch.base_offset = Offset(base);
        return batch;
    }

    [[nodiscard]] TransactionVerdict expected_verdict(const Model& model) const {
        const Derived derived = model.derive();
        if (kind == Kind::data && derived.ongoing.contains(id)) {
            return TransactionVerdict::invalid_txn_state;
        }
        const auto epoch = derived.coordinator_epochs.find(id);
        if ((kind == Kind::commit || kind == Kind::abort) && epoch != derived.coordinator_epochs.end() &&
            coordinator_epoch < epoch->second) {
            return TransactionVerdict::coordinator_fenced;
        }
        return TransactionVerdict::append;
    }

    void run(const Model& model, System& system) const override {
        const protocol::RecordBatch appended = batch(model.next_offset);
        // Once the log start moved, a truncation that leaves no snapshot at or above it forgets the coordinator
        // epochs of markers below it (docs/transactions.md, "Partitions"): markers are then not compared.
        const bool marker = kind == Kind::commit || kind == Kind::abort;
        if (id >= 0 && (model.log_start == 0 || !marker)) {
            RC_ASSERT(system.log->producer_state().check_transaction(appended) == expected_verdict(model));
        }
        RC_ASSERT(system.log->append(appended).ok());
        Model after = model;
        apply(after);
        expect_state(after, system);
    }

    void show(std::ostream& out) const override {
        constexpr std::array<std::string_view, 5> names{"plain", "data", "transactional", "COMMIT", "ABORT"};
        out << "Append(" << names[static_cast<std::size_t>(kind)] << ", producer " << id << ", records " << count
            << ", coordinator epoch " << coordinator_epoch << ")";
    }
};

struct MoveHighWatermark : Command {
    std::int64_t to = 0;
    explicit MoveHighWatermark(const Model& model) {
        to = *rc::gen::inRange<std::int64_t>(model.high_watermark, model.next_offset + 1);
    }
    void checkPreconditions(const Model& model) const override {
        const bool valid = to >= model.high_watermark && to <= model.next_offset;
        RC_PRE(valid);
    }
    void apply(Model& model) const override { model.high_watermark = to; }
    void run(const Model& model, System& system) const override {
        system.log->on_high_watermark(Offset(to));
        Model after = model;
        apply(after);
        expect_state(after, system);
    }
    void show(std::ostream& out) const override { out << "MoveHighWatermark(" << to << ")"; }
};

struct Restart : Command {
    void apply(Model& /*model*/) const override {}
    void run(const Model& model, System& system) const override {
        system.restart(model.high_watermark);
        expect_state(model, system);
    }
    void show(std::ostream& out) const override { out << "Restart"; }
};

// An index file lost or torn (a crash before its bytes were synced), then a restart.
struct DamageIndex : Command {
    std::size_t which = *rc::gen::inRange<std::size_t>(0, 8);
    bool torn = *rc::gen::arbitrary<bool>();
    void apply(Model& /*model*/) const override {}
    void run(const Model& model, System& system) const override {
        const std::map<std::int64_t, TransactionIndex>& indexes = system.log->transaction_indexes();
        // Once the log start moved, a rebuilt entry may know a transaction only from its first batch still in
        // the log (docs/kafka-differences.md): then this is a plain restart.
        if (!indexes.empty() && model.log_start == 0) {
            auto it = indexes.begin();
            std::advance(it, static_cast<std::ptrdiff_t>(which % indexes.size()));
            const std::string path = it->second.path();
            if (torn && system.disk.exists(path) && system.disk.size(path).value() > 0) {
                (void)system.disk.truncate(path, system.disk.size(path).value() - 1);
            } else {
                (void)system.disk.remove(path);
            }
        }
        system.restart(model.high_watermark);
        expect_state(model, system);
    }
    void show(std::ostream& out) const override { out << "DamageIndex(" << which << (torn ? ", torn)" : ", lost)"); }
};

// A follower truncating its log to a batch boundary; its high watermark is at most its new end.
struct Truncate : Command {
    std::size_t keep = 0;
    // Not below the log start; and once it moved, not below the high watermark either (committed records
    // are never truncated; the state of completed transactions below the high watermark is forgotten).
    static std::int64_t lowest_end(const Model& model) {
        return model.log_start == 0 ? 0 : std::max(model.log_start, model.high_watermark);
    }
    explicit Truncate(const Model& model) {
        std::size_t first_kept = 0;
        while (first_kept < model.log.size() && model.log[first_kept].first_offset < lowest_end(model)) {
            ++first_kept;
        }
        keep = *rc::gen::inRange<std::size_t>(first_kept, model.log.size() + 1);
    }
    void checkPreconditions(const Model& model) const override {
        // RapidCheck's assertion macros capture their operands, so no short circuit inside them.
        const bool valid =
            keep == model.log.size() || (keep < model.log.size() && model.log[keep].first_offset >= lowest_end(model));
        RC_PRE(valid);
    }
    void apply(Model& model) const override {
        if (keep < model.log.size()) {
            model.next_offset = model.log[keep].first_offset;
            model.log.resize(keep);
        }
        model.high_watermark = std::min(model.high_watermark, model.next_offset);
    }
    void run(const Model& model, System& system) const override {
        const Offset end = keep < model.log.size() ? Offset(model.log[keep].first_offset) : Offset(model.next_offset);
        system.log->truncate_to(end);
        Model after = model;
        apply(after);
        expect_state(after, system);
    }
    void show(std::ostream& out) const override { out << "Truncate(keep " << keep << " batches)"; }
};

// DeleteRecords: the log start moves up to a batch boundary at most the high watermark; segments below
// go with their indexes. The producer state keeps every producer and transaction (KIP-360).
struct DeleteRecords : Command {
    std::int64_t to = 0;
    explicit DeleteRecords(const Model& model) {
        std::vector<std::int64_t> boundaries{model.log_start};
        for (const LoggedBatch& batch : model.log) {
            if (batch.first_offset > model.log_start && batch.first_offset <= model.high_watermark) {
                boundaries.push_back(batch.first_offset);
            }
        }
        to = *rc::gen::elementOf(boundaries);
    }
    void checkPreconditions(const Model& model) const override {
        bool boundary = to == model.log_start;
        for (const LoggedBatch& batch : model.log) {
            boundary = boundary || batch.first_offset == to;
        }
        const bool valid = boundary && to >= model.log_start && to <= model.high_watermark;
        RC_PRE(valid);
    }
    void apply(Model& model) const override { model.log_start = to; }
    void run(const Model& model, System& system) const override {
        system.log->increment_log_start_offset(Offset(to));
        Model after = model;
        apply(after);
        RC_ASSERT(system.log->log_start_offset().value() == to);
        expect_state(after, system);
    }
    void show(std::ostream& out) const override { out << "DeleteRecords(" << to << ")"; }
};

RC_GTEST_PROP(TransactionLogModel, LastStableOffsetAndAbortedIndexFollowTheLog, ()) {
    Model model;
    System system;
    rc::state::check(model, system,
                     rc::state::gen::execOneOfWithArgs<Append, Append, Append, Append, Append, MoveHighWatermark,
                                                       MoveHighWatermark, Restart, DamageIndex, Truncate, DeleteRecords>());
}

}  // namespace
}  // namespace eosim::broker_core
