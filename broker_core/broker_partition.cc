#include "broker_core/broker.h"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>

#include "broker_core/broker_internal.h"
#include "broker_core/checkpoint_file.h"
#include "broker_core/invariants.h"
#include "broker_core/topic_config.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using detail::contains;
using detail::hw_checkpoint_path;
using detail::join;
using detail::now_ms;
using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::Offset;
using protocol::TopicPartition;

// A replica's partition state: its role from the controller's metadata (Kafka's Partition.makeLeader,
// makeFollower), the ISR it keeps while it leads (shrink, expand, AlterPartition), its high watermark,
// and the high watermark checkpoint.

Replica& Broker::replica_for(const protocol::PartitionState& state) {
    if (Replica* existing = find(state.partition)) {
        return *existing;
    }
    // The topic's configs over this broker's defaults (the metadata that named this replica describes it).
    const protocol::TopicDescription* topic = topic_description(state.partition.topic);
    const LogConfig log_config = topic != nullptr ? topic_log_config(config_.log, topic->configs) : config_.log;
    auto replica = std::make_unique<Replica>(node_.disk(), state.partition, log_config);
    replica->broker_changed = &replicas_changed_;
    const RecoveryReport report = replica->log.recover(verify_crc());
    const auto hw = recovered_hw_.find(state.partition.name());
    const std::int64_t checkpointed = hw != recovered_hw_.end() ? hw->second : 0;
    // Between the log start and the log end, as Kafka's UnifiedLog.updateHighWatermark bounds it.
    replica->high_watermark = Offset(std::clamp(checkpointed, replica->log.log_start_offset().value(),
                                                replica->log.log_end_offset().value()));
    sim::trace("ReplicaRecovered")
        .detail("partition", state.partition.name())
        .detail("batches", report.batches)
        .detail("truncated_bytes", report.truncated_bytes)
        .detail("corrupt", report.corrupt)
        .detail("log_end_offset", replica->log.log_end_offset())
        .detail("high_watermark", replica->high_watermark)
        .detail("producers", replica->log.producer_state().producers().size());
    (void)replica->log.producer_state().expire(now_ms());
    if (config_.bugs.kip101_hw_truncation) {
        // KAFKA-1211: on restart a follower cut its log back to its high watermark.
        replica->log.truncate_to(replica->high_watermark);
    }
    Replica& created = *replica;
    replicas_.emplace(state.partition, std::move(replica));
    invariants::producer_state_within_log(created);
    invariants::note_lost_tombstones(created);  // recovery may have cut below tombstones a leader removed
    announce(sim::moments::recovery, state.partition);
    return created;
}

void Broker::apply_metadata(const protocol::MetadataSnapshot& metadata) {
    if (metadata.version <= metadata_.version) {
        return;
    }
    metadata_ = metadata;
    (void)sim::witness().raise(invariants::metadata_applied, metadata.version);
    for (const protocol::PartitionState& state : metadata.partitions) {
        if (!contains(state.replicas, config_.id)) {
            continue;
        }
        Replica& replica = replica_for(state);
        if (replica.halted) {
            continue;
        }
        if (state.leader == config_.id) {
            if (replica.role != ReplicaRole::leader || state.leader_epoch > replica.leader_epoch) {
                become_leader(replica, state);
            } else if (state.partition_epoch > replica.partition_epoch) {
                invariants::leadership(replica, config_.id, state);
                replica.isr = state.isr;
                replica.partition_epoch = state.partition_epoch;
                replica.isr_in_doubt.clear();
                maybe_advance_high_watermark(replica);
            }
        } else if (replica.role != ReplicaRole::follower || state.leader_epoch > replica.leader_epoch ||
                   state.leader != replica.leader) {
            become_follower(replica, state);
        } else {
            replica.isr = state.isr;
            replica.partition_epoch = state.partition_epoch;
        }
    }
}

// A new role in a new partition state: a new generation, and nothing of the old role's ISR work.
void Broker::take_role(Replica& replica, ReplicaRole role, const protocol::PartitionState& state) {
    replica.role = role;
    replica.leader = state.leader;
    replica.leader_epoch = state.leader_epoch;
    replica.partition_epoch = state.partition_epoch;
    replica.replicas = state.replicas;
    replica.isr = state.isr;
    ++replica.generation;
    replica.trusts_leader = false;
    replica.alter_in_flight = false;
    replica.proposed_isr.clear();
    replica.isr_in_doubt.clear();
    replica.followers.clear();
}

void Broker::become_leader(Replica& replica, const protocol::PartitionState& state) {
    invariants::leadership(replica, config_.id, state);
    take_role(replica, ReplicaRole::leader, state);
    replica.shown_high_watermark = Offset(-1);
    replica.leader_epoch_start_offset = replica.log.log_end_offset();
    const sim::Time now = sim::local_now();  // the wall clock, as Kafka's lastCaughtUpTimeMs
    for (const BrokerId broker : state.replicas) {
        if (broker != config_.id) {
            replica.followers[broker] = Replica::FollowerState{Offset(-1), now, Offset(0), now};
        }
    }
    sim::trace("BecomeLeader")
        .detail("partition", state.partition.name())
        .detail("leader_epoch", state.leader_epoch)
        .detail("log_end_offset", replica.log.log_end_offset())
        .detail("high_watermark", replica.high_watermark)
        .detail("isr", join(state.isr));
    replica.notify_changed();
    replica.log.epochs().assign(state.leader_epoch, replica.log.log_end_offset());
    // As Kafka's Partition.makeLeader: the ISR may be the leader alone, whose log end is then the high
    // watermark. No follower's fetch would move it (a one-broker cluster, or every follower out of the ISR).
    maybe_advance_high_watermark(replica);
    announce(sim::moments::leader_elected, state.partition);
    if (const std::int32_t partition = transaction_state_partition(replica); partition >= 0) {
        transaction_coordinator_.on_election(partition, state.leader_epoch.value());
    }
    if (const std::int32_t partition = offsets_partition(replica); partition >= 0) {
        group_coordinator_.on_election(partition, state.leader_epoch.value());
    }
}

void Broker::become_follower(Replica& replica, const protocol::PartitionState& state) {
    invariants::epoch_not_behind(replica, state);
    // Broader than Kafka's defect (docs/bug-switches.md): a truncation still owed from an earlier change of
    // leader is skipped too.
    const bool same_leader = replica.role == ReplicaRole::follower && replica.leader == state.leader &&
                             replica.leader_epoch < state.leader_epoch;
    take_role(replica, ReplicaRole::follower, state);
    if (config_.bugs.kafka_7164 && same_leader) {
        // KAFKA-7164: a new leader epoch with the same leader was not a reason to truncate; the follower
        // fetches on without an epoch check, whatever the leader lost and wrote again meanwhile.
        replica.trusts_leader = true;
    }
    if (const std::int32_t partition = transaction_state_partition(replica); partition >= 0) {
        transaction_coordinator_.on_resignation(partition);
    }
    if (const std::int32_t partition = offsets_partition(replica); partition >= 0) {
        group_coordinator_.on_resignation(partition);
    }
    sim::trace("BecomeFollower")
        .detail("partition", state.partition.name())
        .detail("leader", state.leader)
        .detail("leader_epoch", state.leader_epoch)
        .detail("log_end_offset", replica.log.log_end_offset());
    if (config_.bugs.kip101_hw_truncation) {
        replica.log.truncate_to(replica.high_watermark);  // KAFKA-1211
    }
    replica.notify_changed();
    if (state.leader != protocol::no_broker) {
        add_to_fetcher(state.leader, state.partition, replica.generation);
    }
}

void Broker::maybe_advance_high_watermark(Replica& replica) {
    if (replica.role != ReplicaRole::leader) {
        return;
    }
    std::int64_t candidate = replica.log.log_end_offset().value();
    std::vector<BrokerId> members = replica.isr;
    for (const auto* more : {&replica.proposed_isr, &replica.isr_in_doubt}) {
        for (const BrokerId member : *more) {
            if (!contains(members, member)) {
                members.push_back(member);
            }
        }
    }
    for (const BrokerId member : members) {
        if (member == config_.id) {
            continue;
        }
        const auto follower = replica.followers.find(member);
        candidate =
            std::min(candidate, follower != replica.followers.end() ? follower->second.log_end_offset.value() : -1);
    }
    // KAFKA-15583 (Kafka 3.7, for KIP-966): never while the ISR is below min.insync.replicas (at most the
    // replication factor), so that every committed record has at least that many copies.
    const auto min_isr = std::min<std::ptrdiff_t>(config_.min_insync_replicas, std::ssize(replica.replicas));
    const bool under_min_isr = std::ssize(replica.isr) < min_isr;
    if (under_min_isr && candidate > replica.high_watermark.value() && !config_.bugs.kafka_15583) {
        sim::probe("high-watermark-held-under-min-isr");
    }
    if (candidate > replica.high_watermark.value() && (!under_min_isr || config_.bugs.kafka_15583)) {
        replica.high_watermark = Offset(candidate);
        invariants::high_watermark_advanced(replica, static_cast<std::int32_t>(min_isr));
        replica.log.on_high_watermark(replica.high_watermark);
        replica.notify_changed();
    }
    invariants::leader_high_watermark(replica);
}

void Broker::propose_isr(Replica& replica, std::vector<BrokerId> new_isr) {
    replica.alter_in_flight = true;
    replica.proposed_isr = new_isr;
    const protocol::AlterPartitionRequest request{config_.id, replica.partition, replica.leader_epoch,
                                                  replica.partition_epoch, std::move(new_isr)};
    sim::trace("AlterPartitionProposed")
        .detail("partition", replica.partition.name())
        .detail("from", join(replica.isr))
        .detail("to", join(request.new_isr));
    const std::uint64_t generation = replica.generation;
    const TopicPartition partition = replica.partition;
    node_.spawn("alter-partition", [this, request, generation, partition] {
        if (sim::buggify("slow-alter-partition")) {
            sim::sleep(std::chrono::milliseconds(node_.random().below(500)));  // the ISR change is in flight longer
        }
        sim::Result<sim::Message> result = controller_->call(sim::make_message(request), config_.request_timeout);
        Replica* proposer = find(partition);
        if (proposer == nullptr || proposer->generation != generation) {
            return;
        }
        proposer->alter_in_flight = false;
        if (!result) {
            // The controller may or may not have applied it.
            for (const BrokerId member : proposer->proposed_isr) {
                if (!contains(proposer->isr_in_doubt, member)) {
                    proposer->isr_in_doubt.push_back(member);
                }
            }
        } else {
            const auto& response = result->as<protocol::AlterPartitionResponse>();
            if (response.error == ErrorCode::none && response.state.partition_epoch > proposer->partition_epoch) {
                const std::vector<BrokerId> before = proposer->isr;
                proposer->isr = response.state.isr;
                proposer->partition_epoch = response.state.partition_epoch;
                proposer->isr_in_doubt.clear();
                for (const BrokerId member : proposer->isr) {
                    if (!contains(before, member)) {
                        announce(sim::moments::isr_expanded, partition, member);
                    }
                }
            }
        }
        proposer->proposed_isr.clear();
        maybe_advance_high_watermark(*proposer);
        proposer->notify_changed();
    });
}

void Broker::maybe_expand_isr(Replica& replica, BrokerId follower) {
    if (replica.role != ReplicaRole::leader || replica.alter_in_flight || contains(replica.isr, follower)) {
        return;
    }
    const Replica::FollowerState& state = replica.followers.at(follower);
    const auto epoch_start = replica.log.epochs().latest();
    const Offset epoch_start_offset = epoch_start ? epoch_start->start_offset : Offset(0);
    // The follower must also have taken the leader's log start: it could be elected as soon as it is in
    // the ISR, and must not bring back records a DeleteRecords deleted while its broker was fenced (and so
    // left out of the low watermark). Kafka does not ask this (docs/kafka-differences.md).
    if (state.log_end_offset >= replica.high_watermark && state.log_end_offset >= epoch_start_offset &&
        state.log_start_offset >= replica.log.log_start_offset() && !sim::buggify("isr-expansion-put-off")) {
        std::vector<BrokerId> expanded = replica.isr;
        expanded.push_back(follower);
        propose_isr(replica, std::move(expanded));
    }
}

void Broker::isr_loop() {
    while (true) {
        sim::sleep(config_.isr_check_interval);
        // The wall clock, as Kafka's replica lag check: a leader whose clock jumps forward shrinks its ISRs.
        const sim::Time now = sim::local_now();
        // Now and then a follower counts as lagging after a quarter of the lag bound: the ISR shrinks early.
        const sim::Duration lag_bound =
            sim::buggify("early-isr-shrink") ? config_.replica_lag_time_max / 4 : config_.replica_lag_time_max;
        for (auto& [partition, replica] : replicas_) {
            if (replica->role != ReplicaRole::leader || replica->alter_in_flight || replica->halted) {
                continue;
            }
            std::vector<BrokerId> kept;
            for (const BrokerId member : replica->isr) {
                const auto follower = replica->followers.find(member);
                const bool lagging = member != config_.id && follower != replica->followers.end() &&
                                     now - follower->second.last_caught_up > lag_bound;
                if (!lagging) {
                    kept.push_back(member);
                }
            }
            if (kept.size() < replica->isr.size()) {
                propose_isr(*replica, std::move(kept));
            }
        }
    }
}

void Broker::write_hw_checkpoint() {
    std::string text;
    for (const auto& [partition, replica] : replicas_) {
        text += fmt::format("{} {}\n", partition.name(), replica->high_watermark.value());
    }
    // A write that failed (a full disk) leaves the checkpoint as it was: the broker is going offline.
    (void)write_checkpoint(node_.disk(), hw_checkpoint_path, text);
}

std::map<std::string, std::int64_t> Broker::read_hw_checkpoint() const {
    std::map<std::string, std::int64_t> checkpoint;
    // Missing or damaged: every high watermark starts at its log start (a lower high watermark is always
    // safe; the leader moves it up again). Kafka takes the log directory offline for a damaged one.
    const std::optional<std::string> text = read_checkpoint(node_.disk(), hw_checkpoint_path);
    if (!text) {
        return checkpoint;
    }
    std::istringstream lines(*text);
    std::string name;
    std::int64_t high_watermark = 0;
    while (lines >> name >> high_watermark) {
        checkpoint[name] = high_watermark;
    }
    return checkpoint;
}

}  // namespace eosim::broker_core
