#include "broker_core/broker.h"

#include <algorithm>

#include "broker_core/broker_internal.h"
#include "broker_core/invariants.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using detail::contains;
using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::Offset;

// The leader's side of reads: Fetch (from followers and consumers), ListOffsets, OffsetsForLeaderEpoch,
// DeleteRecords, and the request dispatch.

sim::Message Broker::handle(const sim::Message& request) {
    if (auto coordinated = transaction_coordinator_.handle(request)) {
        return std::move(*coordinated);
    }
    if (auto coordinated = group_coordinator_.handle(request)) {
        return std::move(*coordinated);
    }
    if (request.is<protocol::ProduceRequest>()) {
        return sim::make_message(produce(request.as<protocol::ProduceRequest>()));
    }
    if (request.is<protocol::FetchRequest>()) {
        return sim::make_message(fetch(request.as<protocol::FetchRequest>()));
    }
    if (request.is<protocol::MetadataRequest>()) {
        protocol::MetadataResponse response{metadata_};
        if (sim::buggify("slow-metadata-answer")) {
            // The answer is a snapshot taken now and delivered late: the client acts on a stale view.
            sim::sleep(std::chrono::milliseconds(node_.random().below(300)));
        }
        return sim::make_message(std::move(response));
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
    if (request.is<protocol::WriteTxnMarkersRequest>()) {
        return sim::make_message(write_txn_markers(request.as<protocol::WriteTxnMarkersRequest>()));
    }

    EOSIM_ASSERT_MSG(false, "a broker got a request it does not serve");
    return {};
}

namespace {


// The read may go on: the replica still leads in the generation the fetch began in.
bool still_leading(const PartitionRead& read) {
    return read.replica->generation == read.generation && !read.replica->halted;
}

}  // namespace

Offset Broker::last_stable_offset(const Replica& replica) const {
    if (config_.bugs.lso_ignores_open_txn) {
        return replica.high_watermark;
    }
    return replica.log.last_stable_offset(replica.high_watermark);
}

Offset Broker::visible_end(const Replica& replica, Reader reader) const {
    switch (reader) {
        case Reader::follower: return replica.log.log_end_offset();
        case Reader::uncommitted: return replica.high_watermark;
        case Reader::committed: return last_stable_offset(replica);
    }
    return replica.high_watermark;
}

void Broker::fill_fetch_offsets(Replica& replica, protocol::FetchPartitionResponse& response) const {
    invariants::leader_high_watermark(replica);
    response.high_watermark = replica.high_watermark;
    response.log_start_offset = replica.log.log_start_offset();
    response.log_end_offset = replica.log.log_end_offset();
    response.leader_epoch = replica.leader_epoch;
    response.last_stable_offset = last_stable_offset(replica);
}

protocol::FetchResponse Broker::fetch(const protocol::FetchRequest& request) {
    protocol::FetchResponse response;
    if (request.session_epoch > 0 && sim::buggify("fetch-session-evicted")) {
        fetch_sessions_.evict(request.session_id);  // as under a full cache: the fetcher must start over
    }
    const FetchSessionCache::Context context = fetch_sessions_.open(request, node_.random(), sim::now());
    response.session_id = context.session_id;
    if (context.error != ErrorCode::none) {
        response.error = context.error;
        return response;
    }
    const bool from_follower = request.replica != protocol::consumer_replica_id;
    const Reader reader = from_follower                                                  ? Reader::follower
                          : request.isolation == protocol::IsolationLevel::read_committed ? Reader::committed
                                                                                         : Reader::uncommitted;
    std::vector<PartitionRead> reads;
    reads.reserve(context.partitions.size());
    for (const protocol::FetchPartition& partition : context.partitions) {
        reads.push_back(prepare_read(partition, request.replica));
    }
    // A fetch that waits less than it may (an empty answer the fetcher must ask again for).
    const sim::Duration max_wait = sim::buggify("fetch-wait-cut-short") ? request.max_wait / 10 : request.max_wait;
    const bool delayed = await_fetchable(reads, reader, max_wait);
    read_partitions(reads, reader, request.max_bytes, delayed);
    for (PartitionRead& read : reads) {
        response.partitions.push_back(std::move(read.answer));
    }
    fetch_sessions_.finish(context, response.partitions);
    if (sim::buggify("slow-fetch-answer")) {
        // Built now, delivered late: the leader may have moved on (a new epoch, a new high watermark).
        sim::sleep(std::chrono::milliseconds(node_.random().below(200)));
    }
    return response;
}

PartitionRead Broker::prepare_read(const protocol::FetchPartition& partition, BrokerId from) {
    PartitionRead read{.request = partition, .replica = find(partition.partition)};
    read.answer.partition = partition.partition;
    read.answer.error = leader_precheck(read.replica, partition.current_leader_epoch);
    if (read.answer.error == ErrorCode::none && from == protocol::consumer_replica_id && !holds_leader_lease()) {
        read.answer.error = ErrorCode::not_leader_or_follower;  // possibly deposed: no stale reads for clients
    }
    read.answered = read.answer.error != ErrorCode::none;
    if (read.answered) {
        return read;
    }
    Replica& replica = *read.replica;
    read.generation = replica.generation;
    const bool from_follower = from != protocol::consumer_replica_id;
    if (from_follower) {
        if (const auto diverging = find_divergence(replica.log.epochs(), replica.log.log_end_offset(),
                                                   partition.last_fetched_epoch, partition.fetch_offset)) {
            read.answer.diverging_epoch = protocol::DivergingEpoch{diverging->epoch, diverging->end_offset};
            read.answered = true;
        }
    }
    if (!read.answered && (partition.fetch_offset > replica.log.log_end_offset() ||
                           partition.fetch_offset < replica.log.log_start_offset())) {
        read.answer.error = ErrorCode::offset_out_of_range;
        read.answered = true;
    }
    if (read.answered) {
        fill_fetch_offsets(replica, read.answer);
    } else if (from_follower) {
        record_follower_fetch(replica, from, partition);
    }
    return read;
}

void Broker::record_follower_fetch(Replica& replica, BrokerId follower_id, const protocol::FetchPartition& fetch) {
    const auto follower = replica.followers.find(follower_id);
    if (follower == replica.followers.end()) {
        return;
    }
    Replica::FollowerState& state = follower->second;
    const sim::Time now = sim::local_now();  // the wall clock, as Kafka's lastCaughtUpTimeMs
    if (fetch.fetch_offset >= replica.log.log_end_offset()) {
        state.last_caught_up = now;
    } else if (fetch.fetch_offset >= state.leader_end_at_last_fetch) {
        state.last_caught_up = std::max(state.last_caught_up, state.last_fetch);
    }
    state.leader_end_at_last_fetch = replica.log.log_end_offset();
    state.last_fetch = now;
    state.log_end_offset = fetch.fetch_offset;
    if (fetch.log_start_offset != state.log_start_offset) {
        state.log_start_offset = fetch.log_start_offset;
        replica.notify_changed();  // a DeleteRecords may be waiting for it
    }
    maybe_expand_isr(replica, follower_id);
    maybe_advance_high_watermark(replica);
}

bool Broker::await_fetchable(std::vector<PartitionRead>& reads, Reader reader, sim::Duration max_wait) {
    const auto ready = [this, &reads, reader] {
        return std::any_of(reads.begin(), reads.end(), [this, reader](const PartitionRead& read) {
            return read.answered || !still_leading(read) ||
                   visible_end(*read.replica, reader) > read.request.fetch_offset;
        });
    };
    const bool delayed = !ready();  // Kafka's DelayedFetch: the answer is built when the wait ends
    (void)replicas_changed_.wait_until(sim::deadline_after(max_wait), ready);
    for (PartitionRead& read : reads) {
        if (!read.answered && !still_leading(read)) {
            read.answer.error = ErrorCode::not_leader_or_follower;
            read.answered = true;
        }
    }
    return delayed;
}

void Broker::read_partitions(std::vector<PartitionRead>& reads, Reader reader, std::uint64_t max_bytes, bool delayed) {
    const bool from_follower = reader == Reader::follower;
    std::uint64_t budget = max_bytes;
    bool any_read = false;
    for (PartitionRead& read : reads) {
        if (read.answered) {
            continue;
        }
        Replica& replica = *read.replica;
        const ReadResult result = budget == 0 && any_read ? ReadResult{}
                                  : replica.log.read(read.request.fetch_offset, visible_end(replica, reader),
                                                     std::min(budget, read.request.max_bytes), verify_crc(), !any_read);
        if (result.status == ReadStatus::corrupt) {
            halt(replica, "corrupt batch on read");
        }
        read.answer.batches = result.batches;
        budget -= std::min(budget, result.bytes);
        any_read = any_read || !result.batches.empty();
        if (!from_follower && read.answer.batches.size() > 1 && sim::buggify("short-consumer-read")) {
            read.answer.batches.resize(1);  // a short read, as with a small fetch.max.bytes
        }
        fill_fetch_offsets(replica, read.answer);
        if (reader == Reader::committed && !(delayed && config_.bugs.kafka_5376)) {
            // The aborted transactions of the range read (KAFKA-5376: the delayed path once left them out).
            const Offset upto = read.answer.batches.empty() ? read.request.fetch_offset
                                                            : read.answer.batches.back().next_offset();
            for (const AbortedTransaction& aborted : replica.log.aborted_transactions(read.request.fetch_offset, upto)) {
                sim::probe("read-committed-fetch-carries-aborted-transactions");
                read.answer.aborted_transactions.push_back(
                    protocol::AbortedTransaction{aborted.producer_id, aborted.first_offset});
            }
        }
        if (!from_follower) {
            invariants::consumer_fetch(replica, read.answer);
        }
    }
}

// The leader a request for `partition` in `current_epoch` (-1: not checked) may be answered by, or the
// error to answer with (KIP-320: a client with an older epoch is fenced, one with a newer epoch retries).
ErrorCode Broker::leader_precheck(const Replica* replica, protocol::LeaderEpoch current_epoch) const {
    if (replica == nullptr) {
        return ErrorCode::unknown_topic_or_partition;
    }
    if (replica->role != ReplicaRole::leader || replica->halted) {
        return ErrorCode::not_leader_or_follower;
    }
    if (current_epoch.value() >= 0 && current_epoch != replica->leader_epoch) {
        sim::probe(current_epoch < replica->leader_epoch ? "request-with-stale-leader-epoch-fenced"
                                                         : "request-with-newer-leader-epoch-retried");
        return current_epoch < replica->leader_epoch ? ErrorCode::fenced_leader_epoch : ErrorCode::unknown_leader_epoch;
    }
    return ErrorCode::none;
}

protocol::ListOffsetsResponse Broker::list_offsets(const protocol::ListOffsetsRequest& request) {
    protocol::ListOffsetsResponse response;
    if (sim::buggify("slow-list-offsets")) {
        sim::sleep(std::chrono::milliseconds(node_.random().below(300)));  // leadership may change meanwhile
    }
    Replica* replica = find(request.partition);
    response.error = leader_precheck(replica, request.current_leader_epoch);
    if (response.error == ErrorCode::none && !holds_leader_lease()) {
        response.error = ErrorCode::not_leader_or_follower;  // possibly deposed: its ends may be stale
    }
    if (response.error != ErrorCode::none) {
        return response;
    }
    response.leader_epoch = replica->leader_epoch;
    if (request.timestamp == protocol::earliest_timestamp) {
        response.offset = replica->log.log_start_offset();
        return response;
    }
    if (replica->high_watermark < replica->leader_epoch_start_offset) {
        // KIP-207: until the high watermark reaches the log end this leader was elected with, it may be
        // below the high watermark the previous leader showed: the latest offset would go back.
        response.error = ErrorCode::offset_not_available;
        return response;
    }
    invariants::leader_high_watermark(*replica);
    response.offset = request.isolation == protocol::IsolationLevel::read_committed ? last_stable_offset(*replica)
                                                                                   : replica->high_watermark;
    return response;
}

protocol::OffsetsForLeaderEpochResponse Broker::offsets_for_leader_epoch(
    const protocol::OffsetsForLeaderEpochRequest& request) {
    protocol::OffsetsForLeaderEpochResponse response;
    if (sim::buggify("slow-offsets-for-leader-epoch")) {
        sim::sleep(std::chrono::milliseconds(node_.random().below(300)));
    }
    Replica* replica = find(request.partition);
    response.error = leader_precheck(replica, request.current_leader_epoch);
    if (response.error != ErrorCode::none) {
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
    // A member of the ISR (committed, proposed or in doubt) counts even if this broker's metadata says its
    // broker is not alive: it could be elected (the metadata may be older than the ISR).
    Offset low = replica.log.log_start_offset();
    const std::vector<BrokerId>& live = metadata_.live_brokers;
    for (const BrokerId member : replica.replicas) {
        const bool electable =
            contains(replica.isr, member) || contains(replica.proposed_isr, member) || contains(replica.isr_in_doubt, member);
        if (member == config_.id || (!electable && std::find(live.begin(), live.end(), member) == live.end())) {
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
    replica->log.increment_log_start_offset(target,
                                            removal_announcer(*replica, "delete-records", replica->high_watermark, target));
    sim::trace("DeleteRecords")
        .detail("partition", request.partition.name())
        .detail("log_start_offset", replica->log.log_start_offset());
    replica->notify_changed();
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
