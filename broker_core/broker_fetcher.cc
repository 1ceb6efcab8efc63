#include "broker_core/broker.h"

#include <algorithm>

#include "broker_core/invariants.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::ErrorCode;
using protocol::Offset;
using protocol::TopicPartition;

// A follower's side of replication (Kafka's ReplicaFetcherThread): fetch from the leader, truncate
// by leader epoch where the logs diverged, append, and follow the leader's high watermark and log start.

void Broker::follow(TopicPartition partition, std::uint64_t generation) {
    Replica* replica = following(partition, generation);
    if (replica == nullptr) {
        return;
    }
    sim::RpcClient client(node_, config_.addresses.brokers.at(replica->leader), broker_port);
    while ((replica = following(partition, generation)) != nullptr) {
        const protocol::FetchRequest request = replica_fetch_request(*replica);
        sim::Result<sim::Message> result =
            client.call(sim::make_message(request), config_.replica_fetch_max_wait + config_.request_timeout);
        if ((replica = following(partition, generation)) == nullptr) {
            return;
        }
        if (!result) {
            sim::sleep(config_.replica_fetch_backoff);
            continue;
        }
        const auto& response = result->as<protocol::FetchResponse>();
        if (handled_fetch_error(*replica, request, response)) {
            continue;
        }
        if (response.diverging_epoch) {
            handle_divergence(*replica, *response.diverging_epoch);
            continue;
        }
        if ((replica = append_fetched(*replica, generation, response.batches)) == nullptr) {
            return;
        }
        follow_leader_offsets(*replica, response);
        if (sim::buggify("slow-follower")) {
            sim::sleep(
                std::chrono::milliseconds(node_.random().below(400)));  // a slow follower: the ISR bound is tested
        }
    }
}

Replica* Broker::following(const TopicPartition& partition, std::uint64_t generation) {
    Replica* replica = find(partition);
    return replica != nullptr && replica->generation == generation && !replica->halted ? replica : nullptr;
}

protocol::FetchRequest Broker::replica_fetch_request(const Replica& replica) const {
    protocol::FetchRequest request;
    request.replica = config_.id;
    request.partition = replica.partition;
    request.current_leader_epoch = replica.leader_epoch;
    request.fetch_offset = replica.log.log_end_offset();
    request.log_start_offset = replica.log.log_start_offset();
    if (!config_.bugs.kip101_hw_truncation) {
        const auto latest = replica.log.epochs().latest();
        request.last_fetched_epoch = latest ? latest->epoch : protocol::no_leader_epoch;
    }
    request.max_wait = config_.replica_fetch_max_wait;
    request.max_bytes = config_.replica_fetch_max_bytes;
    return request;
}

bool Broker::handled_fetch_error(Replica& replica, const protocol::FetchRequest& request,
                                 const protocol::FetchResponse& response) {
    if (response.error == ErrorCode::offset_out_of_range && request.fetch_offset > response.log_end_offset &&
        response.log_end_offset.value() >= 0) {
        // Only without leader epochs (the KIP-101 bug switch): cut back to the leader's end.
        truncate(replica, response.log_end_offset);
        return true;
    }
    if (response.error == ErrorCode::offset_out_of_range && request.fetch_offset < response.log_start_offset) {
        // The leader no longer has what this follower needs next (retention, DeleteRecords): start
        // again at the leader's log start.
        sim::trace("FollowerTruncateFully")
            .detail("partition", replica.partition.name())
            .detail("from", request.fetch_offset)
            .detail("to", response.log_start_offset);
        replica.log.truncate_fully_and_start_at(response.log_start_offset);
        replica.high_watermark = response.log_start_offset;
        return true;
    }
    if (response.error != ErrorCode::none) {
        sim::sleep(config_.replica_fetch_backoff);
        return true;
    }
    return false;
}

Replica* Broker::append_fetched(Replica& follower, std::uint64_t generation,
                                const std::vector<protocol::RecordBatch>& batches) {
    const TopicPartition partition = follower.partition;
    Replica* replica = &follower;
    for (const protocol::RecordBatch& batch : batches) {
        const Offset end = replica->log.log_end_offset();
        if (batch.last_offset() < end) {
            continue;
        }
        if (batch.base_offset < end && replica->log.log_start_offset() == end) {
            // An empty log that starts inside the leader's first batch (the leader's log start came
            // from DeleteRecords): start it at that batch, as Kafka does.
            replica->log.truncate_fully_and_start_at(batch.base_offset);
            if ((replica = following(partition, generation)) == nullptr) {
                return nullptr;  // it suspended (fsync): the role may have changed meanwhile
            }
            replica->high_watermark = std::min(replica->high_watermark, batch.base_offset);
        } else if (batch.base_offset < end) {
            // Batch boundaries disagree: only when the logs diverged. Truncation never splits a
            // batch, so it may cut below this one; then fetch again from the new end.
            truncate(*replica, batch.base_offset);
            if (replica->log.log_end_offset() != batch.base_offset) {
                break;
            }
        }
        if (batch.base_offset > replica->log.log_end_offset()) {
            // A gap the leader's cleaner left: tombstones removed there never reach this replica.
            invariants::note_skipped_tombstones(*replica, replica->log.log_end_offset(), batch.base_offset);
        }
        if (!replica->log.append(batch)) {
            halt(*replica, "append failed");
        }
        if ((replica = following(partition, generation)) == nullptr) {
            return nullptr;
        }
    }
    return replica;
}

void Broker::follow_leader_offsets(Replica& replica, const protocol::FetchResponse& response) {
    const Offset high_watermark(std::min(response.high_watermark.value(), replica.log.log_end_offset().value()));
    if (high_watermark > replica.high_watermark) {
        replica.high_watermark = high_watermark;
    }
    if (response.log_start_offset > replica.log.log_start_offset()) {
        // The leader's log start moved (retention, DeleteRecords): so does this one, within what
        // is committed here.
        const Offset before = replica.log.log_start_offset();
        replica.log.increment_log_start_offset(std::min(response.log_start_offset, replica.high_watermark));
        if (replica.log.log_start_offset() > before) {
            announce(sim::moments::log_start_moved, replica.partition, replica.leader);
        }
    }
    replica.changed.notify_all();
}

void Broker::handle_divergence(Replica& replica, const protocol::DivergingEpoch& diverging) {
    const Offset target =
        truncation_offset(replica.log.epochs(), replica.log.log_start_offset(), replica.log.log_end_offset(),
                          EpochEndOffset{diverging.epoch, diverging.end_offset});
    sim::trace("FollowerTruncate")
        .detail("partition", replica.partition.name())
        .detail("reason", "diverging-epoch")
        .detail("leader_epoch", diverging.epoch)
        .detail("leader_end_offset", diverging.end_offset)
        .detail("from", replica.log.log_end_offset())
        .detail("to", target);
    truncate(replica, target);
    invariants::truncated_follower(replica, diverging);
}

void Broker::truncate(Replica& replica, Offset end) {
    replica.log.truncate_to(end);
    invariants::note_lost_tombstones(replica);
    if (replica.high_watermark > replica.log.log_end_offset()) {
        replica.high_watermark = replica.log.log_end_offset();
    }
}

}  // namespace eosim::broker_core
