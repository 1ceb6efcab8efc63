#include "broker_core/invariants.h"

#include <algorithm>

#include <fmt/format.h>

#include "sim/invariants.h"
#include "sim/simulation.h"

namespace eosim::broker_core::invariants {
namespace {

std::string where(const Replica& replica) {
    return fmt::format("{} on {} (leader epoch {})", replica.partition.name(), sim::this_node().name(),
                       replica.leader_epoch.value());
}

}  // namespace

void leader_high_watermark(Replica& replica) {
    const protocol::Offset high_watermark = replica.high_watermark;
    const protocol::Offset log_end = replica.log.log_end_offset();
    EOSIM_INVARIANT(high_watermark <= log_end, "high-watermark-within-log-end",
                    fmt::format("{}: high watermark {} above the log end {}", where(replica), high_watermark.value(),
                                log_end.value()));
    EOSIM_INVARIANT(high_watermark >= replica.shown_high_watermark, "high-watermark-monotonic",
                    fmt::format("{}: high watermark {} below {}, shown before in this leadership", where(replica),
                                high_watermark.value(), replica.shown_high_watermark.value()));
    replica.shown_high_watermark = high_watermark;
}

void high_watermark_advanced(const Replica& replica, std::int32_t min_isr) {
    EOSIM_INVARIANT(std::ssize(replica.isr) >= min_isr, "high-watermark-under-min-isr",
                    fmt::format("{}: high watermark advanced to {} with {} ISR member(s), min.insync.replicas {}",
                                where(replica), replica.high_watermark.value(), replica.isr.size(), min_isr));
}

void acknowledged(const Replica& replica, protocol::Offset last, std::int32_t min_insync_replicas) {
    EOSIM_INVARIANT(replica.high_watermark > last, "acks-all-after-high-watermark",
                    fmt::format("{}: acks=all answered for offsets up to {} with the high watermark at {}",
                                where(replica), last.value(), replica.high_watermark.value()));
    EOSIM_INVARIANT(std::ssize(replica.isr) >= min_insync_replicas, "acks-all-with-min-isr",
                    fmt::format("{}: acks=all answered with {} ISR member(s), min.insync.replicas {}", where(replica),
                                replica.isr.size(), min_insync_replicas));
}

void leadership(const Replica& replica, protocol::BrokerId self, const protocol::PartitionState& state) {
    EOSIM_INVARIANT(std::find(state.isr.begin(), state.isr.end(), self) != state.isr.end(), "leader-in-isr",
                    fmt::format("{}: broker {} leads epoch {} outside the ISR", state.partition.name(), self.value(),
                                state.leader_epoch.value()));
    epoch_not_behind(replica, state);
    sim::witness().claim("one-leader-per-epoch",
                         fmt::format("leadership of {} in epoch {}", state.partition.name(), state.leader_epoch.value()),
                         fmt::format("broker {}", self.value()));
}

void epoch_not_behind(const Replica& replica, const protocol::PartitionState& state) {
    EOSIM_INVARIANT(state.leader_epoch >= replica.leader_epoch, "leader-epoch-monotonic",
                    fmt::format("{}: metadata with leader epoch {} applied after epoch {}", where(replica),
                                state.leader_epoch.value(), replica.leader_epoch.value()));
}

void truncated_follower(const Replica& replica, const protocol::DivergingEpoch& diverging) {
    if (diverging.epoch.value() < 0) {
        return;  // the leader has no such epoch: the follower starts again at its log start
    }
    EOSIM_INVARIANT(replica.log.log_end_offset() <= diverging.end_offset, "follower-truncated-below-leader-end",
                    fmt::format("{}: after truncation the log ends at {}, above the leader's end {} of epoch {}",
                                where(replica), replica.log.log_end_offset().value(), diverging.end_offset.value(),
                                diverging.epoch.value()));
}

void producer_state_within_log(const Replica& replica) {
    const protocol::Offset log_end = replica.log.log_end_offset();
    for (const auto& [id, entry] : replica.log.producer_state().producers()) {
        for (const ProducerBatchMetadata& batch : entry.batches) {
            EOSIM_INVARIANT(batch.last_offset < log_end, "producer-state-within-log",
                            fmt::format("{}: producer {} remembers sequences {}..{} at offsets {}..{}, but the log "
                                        "ends at {}",
                                        where(replica), id.value(), batch.first_sequence.value(),
                                        batch.last_sequence.value(), batch.first_offset.value(),
                                        batch.last_offset.value(), log_end.value()));
        }
    }
}

void consumer_fetch(const Replica& replica, const protocol::FetchPartitionResponse& response) {
    for (const protocol::RecordBatch& batch : response.batches) {
        EOSIM_INVARIANT(batch.last_offset() < replica.high_watermark, "consumer-reads-below-high-watermark",
                        fmt::format("{}: a consumer fetch returned offsets up to {} with the high watermark at {}",
                                    where(replica), batch.last_offset().value(), replica.high_watermark.value()));
    }
}

std::string tombstone_outran_replica(const std::string& partition, const std::string& key) {
    return fmt::format("tombstone of key {} of {} removed before every replica had it", key, partition);
}

std::string removed_tombstones(const std::string& partition) {
    return fmt::format("tombstones removed from {}", partition);
}

namespace {

// The witness's list of the gaps followers of `partition` appended across (from, and to as text).
std::string skipped_ranges(const std::string& partition) {
    return fmt::format("gaps followers of {} skipped", partition);
}

}  // namespace

void note_skipped_tombstones(const Replica& replica, protocol::Offset from, protocol::Offset to) {
    const std::string partition = replica.partition.name();
    sim::witness().note(skipped_ranges(partition), from.value(), std::to_string(to.value()));
    for (const auto& [offset, key] : sim::witness().notes(removed_tombstones(partition))) {
        if (offset >= from.value() && offset < to.value()) {
            sim::witness().tally(tombstone_outran_replica(partition, key));
        }
    }
}

void note_removed_tombstone(const std::string& partition, std::int64_t offset, const std::string& key) {
    sim::witness().note(removed_tombstones(partition), offset, key);
    for (const auto& [from, to] : sim::witness().notes(skipped_ranges(partition))) {
        if (offset >= from && offset < std::stoll(to)) {
            sim::witness().tally(tombstone_outran_replica(partition, key));
        }
    }
}

void note_lost_tombstones(const Replica& replica) {
    const std::string partition = replica.partition.name();
    for (const auto& [offset, key] : sim::witness().notes(removed_tombstones(partition))) {
        if (offset >= replica.log.log_end_offset().value()) {
            sim::witness().tally(tombstone_outran_replica(partition, key));
        }
    }
}

}  // namespace eosim::broker_core::invariants
