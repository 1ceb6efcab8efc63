// Transaction checkers that read the final logs alone (replica lines with batch headers): zombie-write
// and hanging-transaction (docs/anomalies.md). Histories without batch headers give them nothing to read.

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "model/checkers.h"

namespace eosim::model {
namespace {

// The batches of `replica` below its high watermark, in log order.
std::vector<const BatchHeader*> committed_batches(const ReplicaState& replica) {
    std::vector<const BatchHeader*> batches;
    for (const BatchHeader& batch : replica.batches) {
        if (batch.last_offset < replica.high_watermark) {
            batches.push_back(&batch);
        }
    }
    return batches;
}

nlohmann::json batch_json(const BatchHeader& batch) {
    return {{"base_offset", batch.base_offset},       {"last_offset", batch.last_offset},
            {"producer_id", batch.producer_id},       {"producer_epoch", batch.producer_epoch},
            {"transactional", batch.transactional},   {"control", batch.control}};
}

std::string batch_text(const BatchHeader& batch) {
    return fmt::format("{} batch {}..{} of producer {} epoch {}", batch.control ? "control" : "data",
                       batch.base_offset, batch.last_offset, batch.producer_id, batch.producer_epoch);
}

}  // namespace

// A partition takes a transactional producer's batches only from its newest epoch on: once a batch or
// marker of epoch e is in the log, a batch of an older epoch is a write of a fenced instance (a zombie). On
// the committed replica of each partition, every transactional batch (data or marker) of a producer id is
// at an epoch at least that of every earlier one. Plain idempotent batches are left out: a broker that
// forgot an idle producer takes its old epoch again (Kafka does too).
std::vector<Anomaly> check_zombie_writes(const History& history) {
    std::vector<Anomaly> found;
    for (const ReplicaState& replica : history.replicas) {
        if (committed_replica(history, replica.partition) != &replica) {
            continue;
        }
        std::map<std::int64_t, const BatchHeader*> newest;  // producer id -> its batch of the highest epoch so far
        for (const BatchHeader* batch : committed_batches(replica)) {
            if (batch->producer_id < 0 || !batch->transactional) {
                continue;  // an idempotent producer's state may expire, and its old epoch then be taken again
            }
            const auto [entry, first] = newest.try_emplace(batch->producer_id, batch);
            if (first) {
                continue;
            }
            if (batch->producer_epoch < entry->second->producer_epoch) {
                found.push_back(Anomaly{
                    .name = "zombie-write",
                    .partition = replica.partition,
                    .description = fmt::format("{} on {} ({}) comes after {}: a fenced epoch wrote after the fence",
                                               batch_text(*batch), replica.partition, replica.replica,
                                               batch_text(*entry->second)),
                    .evidence = {{"replica", replica.replica},
                                 {"batch", batch_json(*batch)},
                                 {"fenced_by", batch_json(*entry->second)}},
                });
            } else {
                entry->second = batch;
            }
        }
    }
    return found;
}

// After healing and quiescence every transaction has ended: on the committed replica of each partition,
// every transactional data batch is followed by a marker (a control batch) of its producer. A batch with
// none holds the last stable offset below the high watermark for good, and read_committed readers stop
// there.
std::vector<Anomaly> check_hanging_transactions(const History& history) {
    std::vector<Anomaly> found;
    const bool stuck = std::any_of(history.operations.begin(), history.operations.end(),
                                   [](const Operation& op) { return op.f == "stuck"; });
    if (stuck) {
        return found;  // the run never quiesced: `stuck` says so, open transactions prove nothing more
    }
    for (const ReplicaState& replica : history.replicas) {
        if (committed_replica(history, replica.partition) != &replica) {
            continue;
        }
        std::map<std::int64_t, const BatchHeader*> open;  // producer id -> first batch of its open transaction
        for (const BatchHeader* batch : committed_batches(replica)) {
            if (batch->control) {
                open.erase(batch->producer_id);
            } else if (batch->transactional) {
                open.try_emplace(batch->producer_id, batch);
            }
        }
        for (const auto& [producer, first] : open) {
            found.push_back(Anomaly{
                .name = "hanging-transaction",
                .partition = replica.partition,
                .description = fmt::format("the transaction of producer {} on {} ({}) that began with {} has no "
                                           "marker below the high watermark {} after healing",
                                           producer, replica.partition, replica.replica, batch_text(*first),
                                           replica.high_watermark),
                .evidence = {{"replica", replica.replica},
                             {"producer_id", producer},
                             {"first_batch", batch_json(*first)},
                             {"high_watermark", replica.high_watermark}},
            });
        }
    }
    return found;
}

}  // namespace eosim::model
