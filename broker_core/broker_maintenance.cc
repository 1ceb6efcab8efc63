#include "broker_core/broker.h"

#include "broker_core/broker_internal.h"
#include "broker_core/invariants.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using detail::now_ms;
using protocol::Offset;

// The broker's background loops over its logs: retention and cleaning, producer id expiration, and the
// high watermark checkpoint.

void Broker::retention_loop() {
    while (true) {
        sim::sleep(config_.retention_check_interval);
        for (auto& [partition, replica] : replicas_) {
            if (replica->halted) {
                continue;
            }
            const Offset before = replica->log.log_start_offset();
            if (const std::size_t deleted = replica->log.apply_retention(
                    now_ms(), replica->high_watermark,
                    removal_announcer(*replica, "retention", replica->high_watermark));
                deleted > 0) {
                sim::trace("RetentionDeleted")
                    .detail("partition", partition.name())
                    .detail("segments", deleted)
                    .detail("from", before)
                    .detail("to", replica->log.log_start_offset());
                replica->notify_changed();
            }
            const Offset cleaned_below = replica->high_watermark;
            const std::int64_t cleaned_at = now_ms();
            if (const CleanReport cleaned = replica->log.compact(cleaned_at, cleaned_below);
                cleaned.batches_removed > 0) {
                sim::trace("LogCleaned")
                    .detail("partition", partition.name())
                    .detail("segments", cleaned.segments_rewritten)
                    .detail("batches", cleaned.batches_removed);
                record_removed_tombstones(*replica, cleaned, cleaned_at, cleaned_below);
                announce(sim::moments::cleaner_pass, partition);
            }
        }
    }
}

void Broker::record_removed_tombstones(const Replica& replica, const CleanReport& cleaned, std::int64_t cleaned_at_ms,
                                       Offset high_watermark) const {
    // Any replica may lead later, and its followers then fetch around what it cleaned: the witness learns
    // which replica skips or loses a removed tombstone (invariants::note_skipped_tombstones, note_lost_tombstones).
    // The harness records each removal as a removal line (docs/history-format.md).
    for (const RemovedTombstone& tombstone : cleaned.tombstones_removed) {
        invariants::note_removed_tombstone(replica.partition.name(), tombstone.offset, tombstone.key);
        sim::witness().announce(
            sim::Moment{.name = sim::moments::tombstone_removed,
                        .node = node_.name(),
                        .partition = replica.partition.name(),
                        .cause = "cleaner",
                        .subject = tombstone.key,
                        .numbers = {{"offset", tombstone.offset},
                                    {"timestamp_ms", tombstone.timestamp_ms},
                                    {"removed_at_ms", cleaned_at_ms},
                                    {"delete_retention_ms", replica.log.config().delete_retention_ms},
                                    {"high_watermark", high_watermark.value()},
                                    {"latest", tombstone.latest ? 1 : 0}}});
    }
}

void Broker::producer_expiration_loop() {
    while (true) {
        sim::sleep(config_.producer_expiration_check_interval);
        for (auto& [partition, replica] : replicas_) {
            if (const std::size_t expired = replica->log.producer_state().expire(now_ms()); expired > 0) {
                sim::trace("ProducersExpired").detail("partition", partition.name()).detail("count", expired);
            }
        }
    }
}

void Broker::hw_checkpoint_loop() {
    while (true) {
        sim::sleep(config_.hw_checkpoint_interval);
        write_hw_checkpoint();
    }
}

}  // namespace eosim::broker_core
