#include "broker_core/broker.h"

#include <algorithm>

#include <fmt/format.h>

#include "broker_core/invariants.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::Offset;
using protocol::TopicPartition;

// A follower's side of replication (Kafka's ReplicaFetcherThread): one fetcher per leader fetches every
// partition this broker follows there in one request, in a fetch session (KIP-227); per partition it
// truncates by leader epoch where the logs diverged, appends, and follows the leader's high watermark
// and log start.

void Broker::add_to_fetcher(BrokerId leader, const TopicPartition& partition, std::uint64_t generation) {
    std::unique_ptr<Fetcher>& fetcher = fetchers_[leader];
    if (!fetcher) {
        fetcher = std::make_unique<Fetcher>();
        node_.spawn(fmt::format("replica-fetcher-{}", leader.value()), [this, leader] { run_fetcher(leader); });
    }
    fetcher->partitions[partition] = Fetcher::Partition{.generation = generation};
    // A full request next: what the session answered for the partition before may never have been applied
    // in this generation, and an incremental answer would not say it again.
    fetcher->session.handle_error();
    fetcher->changed.notify_all();
}

void Broker::run_fetcher(BrokerId leader) {
    Fetcher& fetcher = *fetchers_.at(leader);
    sim::RpcClient client(node_, config_.addresses.brokers.at(leader), broker_port);
    protocol::FetchRequest base;
    base.replica = config_.id;
    base.max_wait = config_.replica_fetch_max_wait;
    base.max_bytes = config_.replica_fetch_response_max_bytes;
    while (true) {
        const std::vector<protocol::FetchPartition> wanted = fetcher_partitions(fetcher);
        if (fetcher.partitions.empty()) {
            fetchers_.erase(leader);  // idle: the next partition to follow here starts a new one
            return;
        }
        if (wanted.empty()) {  // every partition sits out a backoff
            sim::sleep(config_.replica_fetch_backoff);
            continue;
        }
        const protocol::FetchRequest request = fetcher.session.build(wanted, base);
        sim::Result<sim::Message> result =
            client.call(sim::make_message(request), config_.replica_fetch_max_wait + config_.request_timeout);
        if (!result) {
            fetcher.session.handle_error();
            sim::sleep(config_.replica_fetch_backoff);
            continue;
        }
        const auto& response = result->as<protocol::FetchResponse>();
        if (!fetcher.session.handle_response(response)) {
            sim::sleep(config_.replica_fetch_backoff);
            continue;
        }
        for (const protocol::FetchPartitionResponse& answer : response.partitions) {
            const auto requested = std::find_if(wanted.begin(), wanted.end(),
                                                [&answer](const auto& w) { return w.partition == answer.partition; });
            apply_fetched(fetcher, *requested, answer);
        }
        if (sim::buggify("slow-follower")) {
            sim::sleep(
                std::chrono::milliseconds(node_.random().below(400)));  // a slow follower: the ISR bound is tested
        }
    }
}

std::vector<protocol::FetchPartition> Broker::fetcher_partitions(Fetcher& fetcher) {
    std::erase_if(fetcher.partitions, [this](const auto& entry) {
        return following(entry.first, entry.second.generation) == nullptr;
    });
    std::vector<protocol::FetchPartition> wanted;
    const sim::Time now = sim::now();
    for (const auto& [partition, state] : fetcher.partitions) {
        if (state.delayed_until <= now) {
            wanted.push_back(replica_fetch_partition(*following(partition, state.generation)));
        }
    }
    return wanted;
}

void Broker::apply_fetched(Fetcher& fetcher, const protocol::FetchPartition& requested,
                           const protocol::FetchPartitionResponse& response) {
    const auto entry = fetcher.partitions.find(requested.partition);
    if (entry == fetcher.partitions.end()) {
        return;
    }
    const std::uint64_t generation = entry->second.generation;
    Replica* replica = following(requested.partition, generation);
    if (replica == nullptr || replica->log.log_end_offset() != requested.fetch_offset) {
        return;  // the role changed, or the log did, since the request went out: fetch again
    }
    if (handled_fetch_error(*replica, entry->second, requested, response)) {
        return;
    }
    if (response.diverging_epoch) {
        // The leader's offsets go with it: an incremental session answers them once, not again.
        handle_divergence(*replica, *response.diverging_epoch);
        if ((replica = following(requested.partition, generation)) != nullptr) {
            follow_leader_offsets(*replica, response);
        }
        return;
    }
    if ((replica = append_fetched(*replica, generation, response.batches)) != nullptr) {
        follow_leader_offsets(*replica, response);
    }
}

Replica* Broker::following(const TopicPartition& partition, std::uint64_t generation) {
    Replica* replica = find(partition);
    return replica != nullptr && replica->generation == generation && !replica->halted ? replica : nullptr;
}

protocol::FetchPartition Broker::replica_fetch_partition(const Replica& replica) const {
    protocol::FetchPartition request;
    request.partition = replica.partition;
    request.current_leader_epoch = replica.leader_epoch;
    request.fetch_offset = replica.log.log_end_offset();
    request.log_start_offset = replica.log.log_start_offset();
    if (!config_.bugs.kip101_hw_truncation && !replica.trusts_leader) {
        const auto latest = replica.log.epochs().latest();
        request.last_fetched_epoch = latest ? latest->epoch : protocol::no_leader_epoch;
    }
    request.max_bytes = config_.replica_fetch_max_bytes;
    return request;
}

bool Broker::handled_fetch_error(Replica& replica, Fetcher::Partition& state, const protocol::FetchPartition& request,
                                 const protocol::FetchPartitionResponse& response) {
    if (response.error == ErrorCode::offset_out_of_range && request.fetch_offset > response.log_end_offset &&
        response.log_end_offset.value() >= 0) {
        // Only without leader epochs (the KIP-101 bug switch): cut back to the leader's end.
        truncate(replica, response.log_end_offset);
        return true;
    }
    if (response.error == ErrorCode::offset_out_of_range && request.fetch_offset < response.log_start_offset) {
        // The leader no longer has what this follower needs next (retention, DeleteRecords): start
        // again at the leader's log start.
        sim::probe("follower-restarts-at-leader-log-start");
        sim::trace("FollowerTruncateFully")
            .detail("partition", replica.partition.name())
            .detail("from", request.fetch_offset)
            .detail("to", response.log_start_offset);
        replica.log.truncate_fully_and_start_at(
            response.log_start_offset, removal_announcer(replica, "fetch-out-of-range", response.log_start_offset,
                                                         response.log_start_offset));
        replica.high_watermark = response.log_start_offset;
        return true;
    }
    if (response.error != ErrorCode::none) {
        state.delayed_until = sim::now() + config_.replica_fetch_backoff;
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
            sim::probe("follower-starts-inside-leader-batch");
            replica->log.truncate_fully_and_start_at(batch.base_offset);
            if ((replica = following(partition, generation)) == nullptr) {
                return nullptr;  // it suspended (fsync): the role may have changed meanwhile
            }
            replica->high_watermark = std::min(replica->high_watermark, batch.base_offset);
        } else if (batch.base_offset < end) {
            // Batch boundaries disagree: only when the logs diverged. Truncation never splits a
            // batch, so it may cut below this one; then fetch again from the new end.
            sim::probe("follower-truncates-on-batch-boundary");
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

void Broker::follow_leader_offsets(Replica& replica, const protocol::FetchPartitionResponse& response) {
    const Offset high_watermark(std::min(response.high_watermark.value(), replica.log.log_end_offset().value()));
    if (high_watermark > replica.high_watermark) {
        replica.high_watermark = high_watermark;
        replica.log.on_high_watermark(high_watermark);
    }
    if (response.log_start_offset > replica.log.log_start_offset()) {
        // The leader's log start moved (retention, DeleteRecords): so does this one, within what
        // is committed here.
        replica.log.increment_log_start_offset(
            std::min(response.log_start_offset, replica.high_watermark),
            removal_announcer(replica, "follow-leader", replica.high_watermark, response.log_start_offset));
    }
    replica.notify_changed();
}

void Broker::handle_divergence(Replica& replica, const protocol::DivergingEpoch& diverging) {
    Offset target =
        truncation_offset(replica.log.epochs(), replica.log.log_start_offset(), replica.log.log_end_offset(),
                          EpochEndOffset{diverging.epoch, diverging.end_offset});
    const Offset trusted(std::min(diverging.end_offset.value(), replica.log.log_end_offset().value()));
    if (diverging.epoch.value() >= 0 && target < trusted) {
        sim::probe("truncation-below-leaders-epoch-end");  // where KAFKA-6361's follower kept too much
    }
    if (config_.bugs.kafka_6361 && diverging.epoch.value() >= 0) {
        // KAFKA-6361 (before KIP-279): the leader's end for its epoch is taken as it is, though the follower
        // may not have that epoch or may have ended it earlier, and the follower checks no further: its
        // later fetches carry no epoch, as fetches before KIP-320 did not.
        target = trusted;
        replica.trusts_leader = true;
    }
    sim::trace("FollowerTruncate")
        .detail("partition", replica.partition.name())
        .detail("reason", "diverging-epoch")
        .detail("leader_epoch", diverging.epoch)
        .detail("leader_end_offset", diverging.end_offset)
        .detail("from", replica.log.log_end_offset())
        .detail("to", target);
    if (target < replica.log.log_end_offset()) {
        sim::probe("truncation-by-diverging-epoch");
    }
    truncate(replica, target);
    invariants::truncated_follower(replica, diverging);
}

void Broker::truncate(Replica& replica, Offset end) {
    replica.log.truncate_to(end);
    invariants::producer_state_within_log(replica);
    invariants::note_lost_tombstones(replica);
    if (replica.high_watermark > replica.log.log_end_offset()) {
        replica.high_watermark = replica.log.log_end_offset();
    }
}

}  // namespace eosim::broker_core
