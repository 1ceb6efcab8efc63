// The consumer-group workloads: at-least-once group members and the consume-transform-produce
// application (docs/groups.md, "Workloads").

#include <algorithm>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "model/groups.h"
#include "scenarios/workloads.h"
#include "sim/simulation.h"

namespace eosim::scenarios {

using client_core::ConsumedRecord;
using client_core::GroupConsumer;
using client_core::TransactionalProducer;
using client_core::TxnResult;
using protocol::Offset;
using protocol::TopicPartition;

namespace {

client_core::GroupConsumerConfig group_config(const Spec& spec, std::string group, std::vector<std::string> topics,
                                              std::string client_id) {
    const WorkloadSpec& workload = spec.workload;
    client_core::GroupConsumerConfig config;
    config.group_id = std::move(group);
    config.topics = std::move(topics);
    config.assignor = workload.group_assignor;
    config.session_timeout = std::chrono::milliseconds(workload.group_session_timeout_ms);
    config.rebalance_timeout = std::chrono::milliseconds(workload.group_rebalance_timeout_ms);
    config.heartbeat_interval = std::chrono::milliseconds(workload.group_heartbeat_ms);
    config.consumer.client_id = std::move(client_id);
    return config;
}

// The next offset of each partition after `records`.
std::map<TopicPartition, Offset> next_offsets(const std::vector<ConsumedRecord>& records) {
    std::map<TopicPartition, Offset> offsets;
    for (const ConsumedRecord& record : records) {
        Offset& next = offsets[record.partition];
        next = std::max(next, Offset(record.offset.value() + 1));
    }
    return offsets;
}

// The offsets after `records` as Kafka Streams commits them: each with the leader epoch of the last record
// processed (KIP-320), so that a consumer starting there does not trust a deposed leader whose log ends
// below it (and reset to the earliest offset on its OFFSET_OUT_OF_RANGE).
std::vector<protocol::OffsetCommitPartition> next_commits(const std::vector<ConsumedRecord>& records) {
    std::map<TopicPartition, protocol::OffsetCommitPartition> last;
    for (const ConsumedRecord& record : records) {
        protocol::OffsetCommitPartition& commit = last[record.partition];
        if (record.offset.value() + 1 > commit.offset) {
            commit = protocol::OffsetCommitPartition{record.partition, record.offset.value() + 1,
                                                     record.leader_epoch.value()};
        }
    }
    std::vector<protocol::OffsetCommitPartition> commits;
    for (auto& [partition, commit] : last) {
        commits.push_back(std::move(commit));
    }
    return commits;
}

}  // namespace

// ---- At-least-once group members ------------------------------------------------------------------

GroupMemberWorkload::GroupMemberWorkload(sim::Node& node, const broker_core::ClusterAddresses& addresses,
                                         client_core::HistoryRecorder& history, const Spec& spec, int index,
                                         sim::Time stop_at)
    : node_(node), addresses_(addresses), history_(history), spec_(spec), index_(index) {
    node.spawn("group-member", [this, stop_at] { run(stop_at); });
}

GroupConsumer& GroupMemberWorkload::new_consumer() {
    std::vector<std::string> topics = spec_.workload.group_topics;
    if (topics.empty()) {  // none named: every topic
        for (const protocol::TopicDescription& topic : spec_.topics) {
            topics.push_back(topic.name);
        }
    }
    const std::string name = fmt::format("member-{}.{}.{}", index_, node_.incarnation(), consumers_.size() + 1);
    client_core::GroupConsumerConfig config = group_config(spec_, "members", std::move(topics), name);
    consumers_.push_back(std::make_unique<GroupConsumer>(node_, std::move(config),
                                                         protocol::ClusterAddresses(addresses_), history_));
    return *consumers_.back();
}

void GroupMemberWorkload::run(sim::Time stop_at) {
    GroupConsumer* consumer = &new_consumer();
    std::map<TopicPartition, Offset> committed;  // what this consumer committed last, per partition
    while (true) {
        const std::vector<ConsumedRecord> records = consumer->poll();
        // Processing is instant; the positions after the poll are committed, as Kafka's commitSync() does (at
        // least once: a failed commit is read again by whoever owns the partition next). A position passes
        // the transaction markers too, which no poll returns: a fetch of a marker alone moves it.
        std::map<TopicPartition, Offset> positions = next_offsets(records);
        for (const TopicPartition& partition : consumer->assignment()) {
            const std::optional<Offset> at = consumer->position(partition);
            const auto last = committed.find(partition);
            if (at && (positions.contains(partition) || last == committed.end() || last->second != *at)) {
                positions[partition] = std::max(positions[partition], *at);
            }
        }
        // What this consumer committed last needs no commit again; a position that moved back (a truncation
        // the consumer detected, a reset to the log start) is committed as it is, as commitSync() does.
        std::erase_if(positions, [&committed](const auto& entry) {
            const auto last = committed.find(entry.first);
            return last != committed.end() && last->second == entry.second;
        });
        if (positions.empty()) {
            continue;
        }
        if (consumer->commit_sync(positions) == client_core::CommitResult::ok) {
            for (const auto& [partition, offset] : positions) {
                committed[partition] = offset;
            }
        }
        if (sim::now() < stop_at &&
            node_.random().below(100) < static_cast<std::uint64_t>(spec_.workload.group_leave_percent)) {
            consumer->close();
            sim::sleep(std::chrono::milliseconds(100 + node_.random().below(2000)));
            consumer = &new_consumer();
            committed.clear();
        }
    }
}

// ---- Consume-transform-produce --------------------------------------------------------------------

CtpWorkload::CtpWorkload(sim::Node& node, const broker_core::ClusterAddresses& addresses,
                         client_core::HistoryRecorder& history, const Spec& spec, int index, bool no_rewind)
    : node_(node),
      addresses_(addresses),
      history_(history),
      spec_(spec),
      index_(index),
      no_rewind_(no_rewind),
      name_(fmt::format("ctp-{}.{}", index, node.incarnation())) {
    client_core::GroupConsumerConfig config =
        group_config(spec, "ctp", {spec.workload.ctp_input}, name_ + "-consumer");
    config.consumer.isolation = protocol::IsolationLevel::read_committed;
    consumer_ = std::make_unique<GroupConsumer>(node, std::move(config), protocol::ClusterAddresses(addresses),
                                                history);
    node.spawn("ctp", [this] { run(); });
}

bool CtpWorkload::done_with(const TopicPartition& partition, Offset end) const {
    const std::optional<Offset> position = consumer_->position(partition);
    return !busy_ && consumer_->stable() && consumer_->assignment().contains(partition) && position &&
           *position >= end;
}

TransactionalProducer* CtpWorkload::ready_producer() {
    if (ready_ && !producers_.back()->fatal()) {
        return producers_.back().get();
    }
    while (true) {
        if (!producers_.empty()) {
            sim::sleep(std::chrono::milliseconds(100 + node_.random().below(900)));
        }
        client_core::TransactionalProducerConfig config;
        config.client_id = name_;
        config.transactional_id = fmt::format("ctp-{}", index_);  // one per instance (KIP-447)
        config.transaction_timeout = std::chrono::milliseconds(spec_.workload.txn_timeout_ms);
        config.delivery_timeout = std::chrono::milliseconds(spec_.workload.delivery_timeout_ms);
        config.first_transaction = transactions_ + 1;
        producers_.push_back(std::make_unique<TransactionalProducer>(node_, std::move(config),
                                                                     protocol::ClusterAddresses(addresses_), history_));
        if (producers_.back()->init_transactions() == TxnResult::ok) {
            ready_ = true;
            return producers_.back().get();
        }
    }
}

TxnResult CtpWorkload::finish_commit(TransactionalProducer& producer) {
    TxnResult result = producer.commit_transaction();
    for (int attempt = 0; attempt < 5 && result == TxnResult::timed_out; ++attempt) {
        result = producer.commit_transaction();  // resumes the commit under way
    }
    return result;
}

bool CtpWorkload::transaction(TransactionalProducer& producer, const std::vector<ConsumedRecord>& records) {
    const WorkloadSpec& workload = spec_.workload;
    producer.begin_transaction();
    ++transactions_;
    for (const ConsumedRecord& record : records) {
        for (const model::CtpOutput& output :
             model::ctp_outputs(record.partition.name(), record.offset.value(), record.record.value.value_or(""))) {
            // Each attempt's values are its own (the transaction's label after '|'): a value written by an
            // aborted attempt and again by the next is two sends, not a duplicate of one.
            (void)producer.send(workload.ctp_output, output.key, output.value + "|" + producer.transaction_label());
        }
    }
    const std::map<TopicPartition, Offset> offsets = next_offsets(records);
    const bool abort = node_.random().below(100) < static_cast<std::uint64_t>(workload.ctp_abort_percent);
    TxnResult result = TxnResult::ok;
    if (!abort && workload.ctp_exactly_once) {
        result = producer.send_offsets_to_transaction(next_commits(records), consumer_->group_metadata());
    }
    if (!abort && result == TxnResult::ok) {
        result = finish_commit(producer);
        if (result == TxnResult::ok) {
            if (!workload.ctp_exactly_once) {
                (void)consumer_->commit_sync(offsets);  // at least once: after the output is committed
            }
            return true;
        }
    }
    if (result != TxnResult::fatal && !producer.fatal()) {
        result = producer.abort_transaction();
        for (int attempt = 0; attempt < 5 && result == TxnResult::timed_out; ++attempt) {
            result = producer.abort_transaction();
        }
    }
    if (result != TxnResult::ok) {
        ready_ = false;  // fenced, or the outcome is unknown: a new producer ends what was left
    }
    // The consumer's position is past what was aborted: the application goes back to the committed offsets.
    if (!no_rewind_) {
        consumer_->rewind_to_committed();
    }
    return false;
}

void CtpWorkload::run() {
    while (true) {
        TransactionalProducer* producer = ready_producer();
        std::vector<ConsumedRecord> records = consumer_->poll();
        if (records.empty()) {
            continue;
        }
        if (std::ssize(records) > spec_.workload.ctp_max_records) {
            // The rest is read again by the next poll.
            std::map<TopicPartition, Offset> resume;
            for (std::size_t i = static_cast<std::size_t>(spec_.workload.ctp_max_records); i < records.size(); ++i) {
                resume.try_emplace(records[i].partition, records[i].offset);
            }
            records.resize(static_cast<std::size_t>(spec_.workload.ctp_max_records));
            for (const auto& [partition, offset] : resume) {
                consumer_->seek(partition, offset);
            }
        }
        busy_ = true;
        (void)transaction(*producer, records);
        busy_ = false;
    }
}

}  // namespace eosim::scenarios
