#include "broker_core/broker.h"

#include <algorithm>

#include "broker_core/invariants.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::Offset;

// The leader's side of reads: Fetch (from followers and consumers), ListOffsets, OffsetsForLeaderEpoch,
// DeleteRecords, and the request dispatch.

sim::Message Broker::handle(const sim::Message& request) {
    if (request.is<protocol::ProduceRequest>()) {
        return sim::make_message(produce(request.as<protocol::ProduceRequest>()));
    }
    if (request.is<protocol::FetchRequest>()) {
        return sim::make_message(fetch(request.as<protocol::FetchRequest>()));
    }
    if (request.is<protocol::MetadataRequest>()) {
        return sim::make_message(protocol::MetadataResponse{metadata_});
    }
    if (request.is<protocol::ListOffsetsRequest>()) {
        return sim::make_message(list_offsets(request.as<protocol::ListOffsetsRequest>()));
    }
    if (request.is<protocol::DeleteRecordsRequest>()) {
        return sim::make_message(delete_records(request.as<protocol::DeleteRecordsRequest>()));
    }
    if (request.is<protocol::InitProducerIdRequest>()) {
        return sim::make_message(init_producer_id());
    }
    if (request.is<protocol::OffsetsForLeaderEpochRequest>()) {
        return sim::make_message(offsets_for_leader_epoch(request.as<protocol::OffsetsForLeaderEpochRequest>()));
    }
    if (request.is<protocol::CreateTopicsRequest>()) {
        return sim::make_message(create_topics(request.as<protocol::CreateTopicsRequest>()));
    }
    if (request.is<protocol::FindCoordinatorRequest>()) {
        return sim::make_message(find_coordinator(request.as<protocol::FindCoordinatorRequest>()));
    }
    EOSIM_ASSERT_MSG(false, "a broker got a request it does not serve");
    return {};
}

namespace {

// What a fetch may read up to: the log end for a follower, the high watermark for a consumer.
Offset visible_end(const Replica& replica, bool from_follower) {
    return from_follower ? replica.log.log_end_offset() : replica.high_watermark;
}

// The leader's offsets every fetch answer carries.
void fill_fetch_offsets(Replica& replica, protocol::FetchResponse& response) {
    invariants::leader_high_watermark(replica);
    response.high_watermark = replica.high_watermark;
    response.log_start_offset = replica.log.log_start_offset();
    response.log_end_offset = replica.log.log_end_offset();
    response.leader_epoch = replica.leader_epoch;
}

ErrorCode fetch_precheck(const Replica* replica, const protocol::FetchRequest& request) {
    if (replica == nullptr) {
        return ErrorCode::unknown_topic_or_partition;
    }
    if (replica->role != ReplicaRole::leader || replica->halted) {
        return ErrorCode::not_leader_or_follower;
    }
    if (request.current_leader_epoch.value() >= 0 && request.current_leader_epoch != replica->leader_epoch) {
        return request.current_leader_epoch < replica->leader_epoch ? ErrorCode::fenced_leader_epoch
                                                                    : ErrorCode::unknown_leader_epoch;
    }
    return ErrorCode::none;
}

}  // namespace

protocol::FetchResponse Broker::fetch(const protocol::FetchRequest& request) {
    protocol::FetchResponse response;
    Replica* replica = find(request.partition);
    response.error = fetch_precheck(replica, request);
    if (response.error != ErrorCode::none) {
        return response;
    }
    const std::uint64_t generation = replica->generation;
    const bool from_follower = request.replica != protocol::consumer_replica_id;
    if (from_follower) {
        if (const auto diverging = find_divergence(replica->log.epochs(), replica->log.log_end_offset(),
                                                   request.last_fetched_epoch, request.fetch_offset)) {
            response.diverging_epoch = protocol::DivergingEpoch{diverging->epoch, diverging->end_offset};
            fill_fetch_offsets(*replica, response);
            return response;
        }
    }
    if (request.fetch_offset > replica->log.log_end_offset() ||
        request.fetch_offset < replica->log.log_start_offset()) {
        response.error = ErrorCode::offset_out_of_range;
        fill_fetch_offsets(*replica, response);
        return response;
    }
    if (from_follower) {
        record_follower_fetch(*replica, request);
    }
    if (!await_fetchable(*replica, generation, request, from_follower)) {
        response.error = ErrorCode::not_leader_or_follower;
        return response;
    }
    const ReadResult read =
        replica->log.read(request.fetch_offset, visible_end(*replica, from_follower), request.max_bytes, verify_crc());
    if (read.status == ReadStatus::corrupt) {
        halt(*replica, "corrupt batch on read");
    }
    response.batches = read.batches;
    if (!from_follower && response.batches.size() > 1 && sim::buggify("short-consumer-read")) {
        response.batches.resize(1);  // a short read, as with a small fetch.max.bytes
    }
    fill_fetch_offsets(*replica, response);
    if (!from_follower) {
        invariants::consumer_fetch(*replica, response);
    }
    return response;
}

void Broker::record_follower_fetch(Replica& replica, const protocol::FetchRequest& request) {
    const auto follower = replica.followers.find(request.replica);
    if (follower == replica.followers.end()) {
        return;
    }
    Replica::FollowerState& state = follower->second;
    const sim::Time now = sim::now();
    if (request.fetch_offset >= replica.log.log_end_offset()) {
        state.last_caught_up = now;
    } else if (request.fetch_offset >= state.leader_end_at_last_fetch) {
        state.last_caught_up = std::max(state.last_caught_up, state.last_fetch);
    }
    state.leader_end_at_last_fetch = replica.log.log_end_offset();
    state.last_fetch = now;
    state.log_end_offset = request.fetch_offset;
    if (request.log_start_offset != state.log_start_offset) {
        state.log_start_offset = request.log_start_offset;
        replica.changed.notify_all();  // a DeleteRecords may be waiting for it
    }
    maybe_expand_isr(replica, request.replica);
    maybe_advance_high_watermark(replica);
}

bool Broker::await_fetchable(Replica& replica, std::uint64_t generation, const protocol::FetchRequest& request,
                             bool from_follower) {
    if (request.fetch_offset < visible_end(replica, from_follower)) {
        return true;
    }
    const Replica* waiting = &replica;
    (void)replica.changed.wait_until(
        sim::deadline_after(request.max_wait), [waiting, generation, &request, from_follower] {
            return waiting->generation != generation || visible_end(*waiting, from_follower) > request.fetch_offset;
        });
    return replica.generation == generation && !replica.halted;
}

protocol::ListOffsetsResponse Broker::list_offsets(const protocol::ListOffsetsRequest& request) {
    protocol::ListOffsetsResponse response;
    Replica* replica = find(request.partition);
    if (replica == nullptr || replica->role != ReplicaRole::leader || replica->halted) {
        response.error = replica == nullptr ? ErrorCode::unknown_topic_or_partition : ErrorCode::not_leader_or_follower;
        return response;
    }
    response.offset =
        request.timestamp == protocol::earliest_timestamp ? replica->log.log_start_offset() : replica->high_watermark;
    response.leader_epoch = replica->leader_epoch;
    return response;
}

protocol::OffsetsForLeaderEpochResponse Broker::offsets_for_leader_epoch(
    const protocol::OffsetsForLeaderEpochRequest& request) {
    protocol::OffsetsForLeaderEpochResponse response;
    Replica* replica = find(request.partition);
    if (replica == nullptr || replica->role != ReplicaRole::leader || replica->halted) {
        response.error = replica == nullptr ? ErrorCode::unknown_topic_or_partition : ErrorCode::not_leader_or_follower;
        return response;
    }
    const EpochEndOffset end =
        replica->log.epochs().end_offset_for(request.requested_epoch, replica->log.log_end_offset());
    response.epoch = end.epoch;
    response.end_offset = end.end_offset;
    return response;
}

Offset Broker::low_watermark(const Replica& replica) const {
    // Every replica on a live broker counts, in the ISR or not (Kafka's Partition.lowWatermarkIfLeader): a
    // replica that joins the ISR later, or is elected, must not bring deleted records back.
    Offset low = replica.log.log_start_offset();
    const std::vector<BrokerId>& live = metadata_.live_brokers;
    for (const BrokerId member : replica.replicas) {
        if (member == config_.id || std::find(live.begin(), live.end(), member) == live.end()) {
            continue;
        }
        const auto follower = replica.followers.find(member);
        low = std::min(low, follower != replica.followers.end() ? follower->second.log_start_offset : Offset(-1));
    }
    return low;
}

protocol::DeleteRecordsResponse Broker::delete_records(const protocol::DeleteRecordsRequest& request) {
    protocol::DeleteRecordsResponse response;
    Replica* replica = find(request.partition);
    if (replica == nullptr || replica->role != ReplicaRole::leader || replica->halted) {
        response.error = replica == nullptr ? ErrorCode::unknown_topic_or_partition : ErrorCode::not_leader_or_follower;
        return response;
    }
    if (replica->log.config().compacted) {
        response.error = ErrorCode::policy_violation;  // Kafka: only cleanup.policy=delete allows it
        return response;
    }
    const Offset target =
        request.offset == protocol::delete_to_high_watermark ? replica->high_watermark : request.offset;
    if (target.value() < 0 || target > replica->high_watermark) {
        response.error = ErrorCode::offset_out_of_range;  // only committed records can be deleted
        return response;
    }
    replica->log.increment_log_start_offset(target);
    sim::trace("DeleteRecords")
        .detail("partition", request.partition.name())
        .detail("log_start_offset", replica->log.log_start_offset());
    replica->changed.notify_all();
    announce(sim::moments::log_start_moved, request.partition);
    const std::uint64_t generation = replica->generation;
    const bool reached =
        replica->changed.wait_until(sim::deadline_after(request.timeout), [this, replica, generation, target] {
            return replica->generation != generation || low_watermark(*replica) >= target;
        });
    if (replica->generation != generation) {
        response.error = ErrorCode::not_leader_or_follower;
    } else if (!reached) {
        response.error = ErrorCode::request_timed_out;
    }
    response.low_watermark = low_watermark(*replica);
    return response;
}

}  // namespace eosim::broker_core
