#include "streams_core/stream_thread.h"

#include <algorithm>
#include <string_view>

#include <fmt/format.h>

#include "sim/assert.h"
#include "sim/invariants.h"
#include "streams_core/assignor.h"
#include "sim/simulation.h"
#include "sim/trace.h"

namespace eosim::streams_core {

using client_core::ConsumedRecord;
using client_core::TxnResult;
using protocol::Offset;
using protocol::TopicPartition;

namespace {

std::int64_t local_ms() { return sim::to_ns(sim::local_now()) / 1'000'000; }

// A partition's time in its committed offset's metadata (Kafka encodes it in binary, base64).
constexpr std::string_view partition_time_prefix = "partition-time:";

std::string encode_partition_time(std::int64_t ms) { return std::string(partition_time_prefix) + std::to_string(ms); }

std::optional<std::int64_t> decode_partition_time(const std::string& metadata) {
    if (!metadata.starts_with(partition_time_prefix)) {
        return std::nullopt;  // nothing committed, or committed by someone else
    }
    try {
        return std::stoll(metadata.substr(partition_time_prefix.size()));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// Kafka's commit and abort retry a coordinator that did not answer in time; so does the thread.
template <typename Call>
TxnResult retried(Call call) {
    TxnResult result = call();
    for (int attempt = 0; attempt < 5 && result == TxnResult::timed_out; ++attempt) {
        result = call();
    }
    return result;
}

}  // namespace

StreamThread::StreamThread(sim::Node& node, const Topology& topology, StreamsConfig config,
                           const protocol::ClusterAddresses& addresses, client_core::HistoryRecorder& history,
                           StateDirectory& state_directory)
    : node_(node),
      topology_(topology),
      subtopologies_(topology.subtopologies()),
      config_(std::move(config)),
      addresses_(addresses),
      history_(history),
      state_directory_(state_directory) {
    EOSIM_ASSERT_MSG(!exactly_once() || !config_.transactional_id.empty(), "exactly_once_v2 needs a transactional id");
    for (const Subtopology& part : subtopologies_) {
        for (const std::string& store : part.stores) {
            if (topology_.store(store).logged) {
                changelogs_.emplace(changelog_topic(config_.application_id, store), Changelog{part.id, store});
            }
        }
    }
    client_core::GroupConsumerConfig group;
    group.group_id = config_.application_id;
    // Kafka Streams' own assignor: tasks, not partitions, kept where their state is; standbys elsewhere.
    group.assignor = "stream";
    group.custom = client_core::CustomAssignor{
        .cooperative = config_.cooperative,
        .subscription_data = [this] { return subscription_data(); },
        .assign =
            [this](const std::map<std::string, std::int32_t>& partitions_per_topic,
                   const std::map<std::string, client_core::Subscription>& subscriptions) {
                return assign_tasks(subtopologies_, partitions_per_topic, subscriptions, config_.standby_replicas,
                                    config_.cooperative);
            },
        .on_assignment = [this](const client_core::Assignment& assignment) { on_assignment(assignment); },
    };
    const std::set<std::string> sources = topology_.source_topics();
    group.topics.assign(sources.begin(), sources.end());
    group.session_timeout = config_.session_timeout;
    group.rebalance_timeout = config_.rebalance_timeout;
    group.heartbeat_interval = config_.heartbeat_interval;
    group.consumer.client_id = config_.client_id + "-consumer";
    group.consumer.isolation = protocol::IsolationLevel::read_committed;
    client_core::RebalanceListener listener;
    listener.on_assigned = [this](const std::vector<TopicPartition>& partitions) { assigned(partitions); };
    listener.on_revoked = [this](const std::vector<TopicPartition>& partitions) { revoked(partitions); };
    listener.on_lost = [this](const std::vector<TopicPartition>& partitions) { lost(partitions); };
    consumer_ = std::make_unique<client_core::GroupConsumer>(node_, std::move(group), protocol::ClusterAddresses(addresses_),
                                                             history_, std::move(listener));
    client_core::ConsumerConfig restore;
    restore.client_id = config_.client_id + "-restore";
    restore.isolation = protocol::IsolationLevel::read_committed;
    restore_consumer_ =
        std::make_unique<client_core::Consumer>(node_, std::move(restore), protocol::ClusterAddresses(addresses_), history_);
    if (!exactly_once()) {
        client_core::ProducerConfig plain;
        plain.client_id = config_.client_id;
        plain.idempotent = true;
        plain.acks = -1;  // all
        plain_producer_ =
            std::make_unique<client_core::Producer>(node_, std::move(plain), protocol::ClusterAddresses(addresses_), history_);
    }
}

StreamThread::~StreamThread() = default;

std::unique_ptr<StreamTask> StreamThread::make_task(TaskId id) {
    RecordCollector& collector = *this;
    auto task = std::make_unique<StreamTask>(topology_, subtopologies_.at(static_cast<std::size_t>(id.subtopology)), id,
                                             config_.application_id, collector, local_ms);
    task->initialize();
    return task;
}

std::optional<TaskId> StreamThread::task_of(const TopicPartition& partition) const {
    for (const Subtopology& part : subtopologies_) {
        if (part.source_topics.contains(partition.topic)) {
            return TaskId{part.id, partition.partition};
        }
    }
    return std::nullopt;
}

client_core::TransactionalProducer& StreamThread::producer() {
    while (!producer_ || producer_->fatal()) {
        if (producer_) {
            retired_.push_back(std::move(producer_));
            sim::sleep(std::chrono::milliseconds(100 + node_.random().below(400)));
        }
        client_core::TransactionalProducerConfig config;
        config.client_id = config_.client_id;
        config.transactional_id = config_.transactional_id;
        config.transaction_timeout = config_.transaction_timeout;
        config.first_transaction = transactions_ + 1;
        producer_ = std::make_unique<client_core::TransactionalProducer>(
            node_, std::move(config), protocol::ClusterAddresses(addresses_), history_);
        if (producer_->init_transactions() != TxnResult::ok) {
            retired_.push_back(std::move(producer_));  // another try with a new producer
            sim::sleep(std::chrono::milliseconds(100 + node_.random().below(400)));
        }
    }
    return *producer_;
}

void StreamThread::run() {
    while (true) {
        if (exactly_once()) {
            if (dirty_ && producer_ && producer_->fatal()) {
                close_all_dirty("the producer failed in a transaction");  // never carried into a new one
            }
            (void)producer();
        }
        const std::vector<ConsumedRecord> records = consumer_->poll();
        restore_tasks();
        const std::uint64_t wiped = wipes_;
        std::map<TopicPartition, Offset> unready;  // the first record of each partition whose task is restoring
        for (const ConsumedRecord& record : records) {
            const std::optional<TaskId> id = task_of(record.partition);
            const auto found = id ? tasks_.find(*id) : tasks_.end();
            if (found == tasks_.end()) {
                continue;  // a partition the thread no longer owns (revoked or lost during this poll)
            }
            if (!found->second.restored) {
                unready.try_emplace(record.partition, record.offset);  // read again once the task is restored
                continue;
            }
            found->second.queues[record.partition].push_back(Buffered{record, sim::now()});
        }
        process_queued();
        for (const auto& [partition, offset] : unready) {
            if (wipes_ == wiped && consumer_->assignment().contains(partition)) {
                consumer_->seek(partition, offset);  // read again once the task is restored
            }
        }
        if (dirty_ && sim::now() >= next_commit_) {
            (void)commit();
        }
        // Where the application stands: a poll in progress can move the consumer's positions past records
        // it has fetched but not yet returned.
        positions_.clear();
        for (const TopicPartition& partition : consumer_->assignment()) {
            if (const std::optional<Offset> at = consumer_->position(partition)) {
                positions_.emplace(partition, *at);
            }
        }
    }
}

bool StreamThread::process(const ConsumedRecord& record) {
    const std::optional<TaskId> id = task_of(record.partition);
    const auto found = id ? tasks_.find(*id) : tasks_.end();
    if (found == tasks_.end()) {
        return true;  // a partition the thread no longer owns (revoked or lost during this poll)
    }
    if (!found->second.restored) {
        return false;  // its task waits for another input's committed offset: read it again later
    }
    if (exactly_once()) {
        if (dirty_ && producer_ && producer_->fatal()) {
            // Fenced (or aborted by its timeout) with this transaction's records in the tasks: their output
            // is gone, so they must be processed again from the committed offsets, never carried on into a
            // new producer's transaction.
            close_all_dirty("the producer failed in a transaction");
            return true;
        }
        client_core::TransactionalProducer& txn = producer();
        if (!txn.in_transaction()) {
            txn.begin_transaction();
            ++transactions_;
            next_commit_ = sim::deadline_after(config_.commit_interval);
        }
    } else if (!dirty_) {
        next_commit_ = sim::deadline_after(config_.commit_interval);
    }
    dirty_ = true;
    ActiveTask& active = found->second;
    active.task->process(RecordOrigin{record.partition.topic, record.partition.partition, record.offset.value()},
                         Record{record.record.key, record.record.value, record.record.timestamp_ms});
    active.last_consumed.insert_or_assign(record.partition, record);
    std::int64_t& time = active.partition_time.try_emplace(record.partition, -1).first->second;
    time = std::max(time, record.record.timestamp_ms);
    return true;
}

void StreamThread::process_queued() {
    const std::uint64_t wiped = wipes_;
    for (auto& [id, active] : tasks_) {
        while (active.restored) {
            const std::optional<TopicPartition> next = next_partition(id, active);
            if (!next || wipes_ != wiped) {
                break;
            }
            std::deque<Buffered>& queue = active.queues.at(*next);
            const ConsumedRecord record = std::move(queue.front().record);
            queue.pop_front();
            (void)process(record);
            if (dirty_ && exactly_once() && sim::buggify("streams-task-corrupted") && node_.random().below(100) == 0) {
                // Kafka's TaskCorruptedException under exactly_once (a send that failed, a changelog out of
                // range): the transaction is aborted and every task closed dirty, in the middle of a poll's
                // records.
                close_all_dirty("task corrupted (buggify)");
            }
            if (wipes_ != wiped) {
                return;  // the tasks were closed dirty: the rest is read again from the committed offsets
            }
        }
    }
}

std::optional<TopicPartition> StreamThread::next_partition(TaskId id, ActiveTask& active) {
    std::optional<TopicPartition> best;
    for (const auto& [partition, queue] : active.queues) {
        if (!queue.empty() && (!best || queue.front().record.record.timestamp_ms <
                                            active.queues.at(*best).front().record.record.timestamp_ms)) {
            best = partition;
        }
    }
    if (!best) {
        return std::nullopt;
    }
    const sim::Time polled = active.queues.at(*best).front().polled;
    for (const TopicPartition& partition : consumer_->assignment()) {
        if (task_of(partition) != id || partition == *best) {
            continue;
        }
        const auto queue = active.queues.find(partition);
        if (queue != active.queues.end() && !queue->second.empty()) {
            continue;
        }
        // Nothing queued: the partition must be known to hold nothing more, by an answer asked after the
        // record was polled (KIP-695's lag, fresh): what was written before the record is then fetched
        // first. eosim waits as long as that takes (max.task.idle.ms unbounded).
        const auto known = active.caught_up.find(partition);
        if (known != active.caught_up.end() && known->second >= polled) {
            continue;
        }
        const sim::Time asked = sim::now();
        const std::optional<Offset> end = consumer_->end_offset(partition);
        const std::optional<Offset> position = consumer_->position(partition);
        if (!end || !position || *position < *end) {
            return std::nullopt;  // records are on their way, or the leader did not answer: poll first
        }
        if (!tasks_.contains(id)) {
            return std::nullopt;
        }
        active.caught_up[partition] = asked;
    }
    return best;
}

void StreamThread::send(const std::string& topic, std::optional<std::int32_t> partition, const Record& record) {
    sim::Future<client_core::SendOutcome> sent;
    if (!exactly_once()) {
        sent = plain_producer_->send(topic, record.key, record.value, record.timestamp_ms, partition);
        unacknowledged_.push_back(sent);
    } else {
        EOSIM_ASSERT_MSG(producer_ && producer_->in_transaction(), "a task wrote outside a transaction");
        // The outcome is the transaction's: a failed send makes the commit fail, and everything is redone.
        sent = producer_->send(client_core::TransactionalProducer::ProducerRecord{topic, partition, record.key,
                                                                                 record.value, record.timestamp_ms});
    }
    if (partition && changelogs_.contains(topic)) {
        changelog_sends_.emplace_back(TopicPartition{topic, *partition}, std::move(sent));
    }
}

std::vector<TopicPartition> StreamThread::changelogs(const StreamTask& task) const {
    std::vector<TopicPartition> out;
    for (const auto& [name, store] : task.stores()) {
        if (store->logged()) {
            out.push_back(TopicPartition{changelog_topic(config_.application_id, name), task.id().partition});
        }
    }
    return out;
}

bool StreamThread::open(TaskId id, StreamTask& task, StateDirectory::Offsets& positions, bool standby) {
    if (!state_directory_.lock(id, config_.client_id)) {
        return false;  // another thread of the instance still has it: asked again on the next turn
    }
    const auto wipe = [&](const char* why) {
        sim::trace("StreamsStateWiped")
            .detail("client", config_.client_id)
            .detail("subtopology", id.subtopology)
            .detail("partition", id.partition)
            .detail("why", why);
        state_directory_.wipe(id);
    };
    std::optional<StateDirectory::Offsets> checkpoint = state_directory_.checkpoint(id);
    if (checkpoint && !state_directory_.intact(id)) {
        // A store file the checkpoint vouches for is cut or corrupted below what it vouched for (Kafka's
        // TaskCorruptedException): under either guarantee, wiped and restored from the changelogs.
        sim::probe("streams-corrupted-state-wiped");
        wipe("corrupted");
        checkpoint.reset();
    }
    if (checkpoint) {
        for (const TopicPartition& changelog : changelogs(task)) {
            if (!checkpoint->contains(changelog)) {
                checkpoint.reset();  // a store it does not cover: as good as none
            }
        }
    }
    // Under EOS, store files without a checkpoint may hold writes of a transaction that never committed (an
    // instance that crashed, a flush before a commit that failed): Kafka's TaskCorruptedException, the
    // directory is wiped and the stores restored from their changelogs. (kafka-9891: standbys did not.)
    if (!checkpoint && exactly_once() && state_directory_.has_state(id) && !(standby && config_.bugs.kafka_9891)) {
        sim::probe(standby ? "streams-standby-without-checkpoint-wiped" : "streams-task-without-checkpoint-wiped");
        wipe("no checkpoint");
    }
    positions.clear();
    for (const auto& [name, store] : task.stores()) {
        if (!store->logged()) {
            continue;  // in memory only: nothing to restore it from
        }
        const TopicPartition changelog{changelog_topic(config_.application_id, name), id.partition};
        store->load(state_directory_.load(id, name));
        positions[changelog] = checkpoint ? checkpoint->at(changelog) : Offset(0);
        store->write_locally([this, id, name = name](const std::string& key, const std::optional<std::string>& value) {
            state_directory_.write(id, name, key, value);
        });
    }
    if (exactly_once() && !standby) {
        // From here on the files take uncommitted writes: a crash must leave no checkpoint that vouches for them.
        state_directory_.delete_checkpoint(id);
    }
    return true;
}

bool StreamThread::checkpoint(TaskId id, const StreamTask& task, const StateDirectory::Offsets& offsets) {
    return state_directory_.flush(id, task.stores()) && state_directory_.write_checkpoint(id, offsets);
}

StateDirectory::Offsets StreamThread::checkpoint_offsets(const ActiveTask& active) const {
    StateDirectory::Offsets offsets = active.positions;
    for (const auto& [changelog, offset] : active.written) {
        if (offsets.contains(changelog)) {
            offsets[changelog] = offset;
        }
    }
    return offsets;
}

bool StreamThread::commit(const std::set<TaskId>* only) {
    EOSIM_ASSERT(!exactly_once() || producer_ != nullptr);
    std::vector<protocol::OffsetCommitPartition> offsets;
    for (const auto& [id, active] : tasks_) {
        if (config_.bugs.partial_commit && !offsets.empty()) {
            break;  // streams-partial-commit: the other tasks' offsets stay out of the transaction
        }
        if (only != nullptr && !only->contains(id)) {
            continue;  // kafka-18943: the tasks it keeps have their output committed without their offsets
        }
        for (const auto& [partition, record] : active.last_consumed) {
            // With the epoch of the record, as Kafka Streams commits (KIP-320).
            const auto time = active.partition_time.find(partition);
            offsets.push_back(protocol::OffsetCommitPartition{
                partition, record.offset.value() + 1, record.leader_epoch.value(),
                encode_partition_time(time != active.partition_time.end() ? time->second : -1)});
        }
    }
    if (!exactly_once()) {
        return commit_at_least_once(offsets);
    }
    // Under EOS a running task's files may hold what no transaction committed yet; only the absence of a
    // checkpoint makes a crash wipe them (Kafka deletes an active task's checkpoint when it starts under
    // EOS, however it started: opened, or promoted from a standby).
    for (const auto& [id, active] : tasks_) {
        EOSIM_INVARIANT(!active.opened || !state_directory_.checkpoint(id).has_value(),
                        "eos-active-task-without-checkpoint",
                        fmt::format("{} commits task {}_{} whose directory still has a checkpoint", config_.client_id,
                                    id.subtopology, id.partition));
    }
    sim::witness().announce(sim::Moment{.name = sim::moments::streams_commit, .node = node_.name()});
    if (sim::buggify("streams-slow-commit")) {
        // A commit that takes long: a rebalance (an instance joins or leaves) may come in its middle.
        sim::sleep(std::chrono::milliseconds(node_.random().below(800)));
    }
    TxnResult result = TxnResult::ok;
    if (!offsets.empty()) {
        result = producer_->send_offsets_to_transaction(offsets, consumer_->group_metadata());
    }
    if (result == TxnResult::ok && sim::buggify("streams-offsets-then-pause")) {
        sim::sleep(std::chrono::milliseconds(node_.random().below(400)));  // offsets pending, the commit not sent
    }
    if (result == TxnResult::ok) {
        result = retried([this] { return producer_->commit_transaction(); });
    }
    if (result == TxnResult::ok) {
        dirty_ = false;
        committed_writes();
        return true;
    }
    sim::trace("StreamsCommitFailed").detail("client", config_.client_id).detail("result", static_cast<int>(result));
    close_all_dirty("the commit failed");
    return false;
}

bool StreamThread::commit_at_least_once(const std::vector<protocol::OffsetCommitPartition>& offsets) {
    // Every write acknowledged first (Kafka's flush): the offsets never run ahead of the output.
    bool written = true;
    for (const sim::Future<client_core::SendOutcome>& send : std::exchange(unacknowledged_, {})) {
        const sim::Result<client_core::SendOutcome> outcome = send.wait();
        written = written && outcome && outcome->status == client_core::SendOutcome::Status::ok;
    }
    if (written && (offsets.empty() || consumer_->commit_sync(offsets) == client_core::CommitResult::ok)) {
        dirty_ = false;
        committed_writes();
        maybe_checkpoint();
        return true;
    }
    sim::trace("StreamsCommitFailed").detail("client", config_.client_id).detail("written", written);
    close_all_dirty("the commit failed");
    return false;
}

void StreamThread::committed_writes() {
    for (const auto& [changelog, send] : std::exchange(changelog_sends_, {})) {
        const sim::Result<client_core::SendOutcome> outcome = send.wait();
        const auto found = tasks_.find(TaskId{changelogs_.at(changelog.topic).subtopology, changelog.partition});
        if (outcome && outcome->status == client_core::SendOutcome::Status::ok && found != tasks_.end()) {
            Offset& written = found->second.written.try_emplace(changelog, Offset(0)).first->second;
            written = std::max(written, Offset(outcome->offset.value() + 1));
        }
    }
}

void StreamThread::maybe_checkpoint() {
    for (auto& [id, active] : tasks_) {
        if (!active.restored) {
            continue;
        }
        const StateDirectory::Offsets offsets = checkpoint_offsets(active);
        std::int64_t moved = 0;
        for (const auto& [changelog, offset] : offsets) {
            const auto before = active.checkpointed.find(changelog);
            moved += offset.value() - (before != active.checkpointed.end() ? before->second.value() : 0);
        }
        if (moved >= config_.checkpoint_delta && checkpoint(id, *active.task, offsets)) {
            active.checkpointed = offsets;
        }
    }
}

void StreamThread::close_all_dirty(const char* why) {
    sim::trace("StreamsTasksClosedDirty").detail("client", config_.client_id).detail("why", why).detail("tasks", tasks_.size());
    if (exactly_once() && !tasks_.empty()) {
        sim::probe("streams-eos-dirty-close");
    }
    if (producer_ && producer_->in_transaction() && !producer_->fatal()) {
        if (retried([this] { return producer_->abort_transaction(); }) != TxnResult::ok) {
            retired_.push_back(std::move(producer_));  // the next producer fences whatever this one left open
        }
    }
    dirty_ = false;
    unacknowledged_.clear();  // at_least_once: what was sent stays sent
    changelog_sends_.clear();
    ++wipes_;
    // Under exactly_once_v2 a dirty close wipes the task's state: what the aborted transaction wrote to the
    // stores is gone from the changelog, so the store is restored from the changelog again. Under
    // at_least_once nothing is wiped.
    for (auto& [id, active] : tasks_) {
        active.last_consumed.clear();
        active.queues.clear();
        active.caught_up.clear();
        if (!config_.bugs.kafka_16017) {
            active.written.clear();  // KAFKA-16017's fix: what it wrote is no longer what its stores hold
        }
        if (config_.bugs.kafka_7192 || !exactly_once()) {
            continue;  // KAFKA-7192: the state stays, uncommitted writes and all
        }
        active.partition_time.clear();
        abandon_restore(active);
        active.task->close();
        active.task = make_task(id);
        active.restored = false;
        if (active.opened) {
            // Wiped and opened again at once (the thread holds the directory's lock): restored from scratch.
            state_directory_.wipe(id);
            active.opened = open(id, *active.task, active.positions, false);
        }
    }
    if (!in_rebalance_ || config_.cooperative) {
        // In an eager rebalance every partition is revoked and fetches its committed offset when assigned
        // again; in a cooperative one the partitions the thread keeps must go back too.
        consumer_->rewind_to_committed();
    }
}

void StreamThread::close_task(TaskId id, bool clean) {
    const auto found = tasks_.find(id);
    if (found == tasks_.end()) {
        return;
    }
    sim::trace("StreamsTaskClosed")
        .detail("client", config_.client_id)
        .detail("subtopology", id.subtopology)
        .detail("partition", id.partition)
        .detail("clean", clean);
    ActiveTask& active = found->second;
    if (active.restoring && active.restoring->assigned) {
        // What the store holds so far of the changelog being restored.
        const std::string& name = active.restoring->stores[active.restoring->next];
        const TopicPartition changelog{changelog_topic(config_.application_id, name), id.partition};
        if (restore_consumer_->assigned(changelog)) {
            active.positions[changelog] = restore_consumer_->position(changelog);
        }
    }
    abandon_restore(active);
    active.task->close();
    if (active.opened) {
        // A clean close leaves the stores' files synced and a checkpoint that says what they hold (Kafka's
        // suspend and close); a dirty one under EOS wipes them (they may hold what never committed).
        if (clean) {
            (void)checkpoint(id, *active.task, checkpoint_offsets(active));
        } else if (exactly_once() && !config_.bugs.kafka_7192) {
            state_directory_.wipe(id);
        }
        state_directory_.unlock(id, config_.client_id);
    }
    tasks_.erase(found);
}

void StreamThread::assigned(const std::vector<TopicPartition>& partitions) {
    for (const TopicPartition& partition : partitions) {
        const std::optional<TaskId> id = task_of(partition);
        if (!id || tasks_.contains(*id)) {
            continue;
        }
        ActiveTask active;
        const auto standby = standbys_.find(*id);
        if (standby != standbys_.end() && standby->second.opened) {
            // A standby promoted (Kafka recycles it): its stores are kept and restored from where it read to.
            sim::probe("streams-standby-promoted");
            stop_standby_reading();
            active.task = std::move(standby->second.task);
            active.positions = std::move(standby->second.positions);
            active.opened = true;
            if (exactly_once()) {
                state_directory_.delete_checkpoint(*id);
            }
            standbys_.erase(standby);
        } else {
            if (standby != standbys_.end()) {
                close_standby(*id);
            }
            active.task = make_task(*id);
        }
        tasks_.emplace(*id, std::move(active));
    }
}

void StreamThread::revoked(const std::vector<TopicPartition>& partitions) {
    in_rebalance_ = true;
    // The transaction is shared by every task: it commits with all their offsets before any is given up.
    std::set<TaskId> revoking;
    for (const TopicPartition& partition : partitions) {
        if (const std::optional<TaskId> id = task_of(partition); id && tasks_.contains(*id)) {
            revoking.insert(*id);
        }
    }
    const bool clean = !dirty_ || commit(config_.bugs.kafka_18943 ? &revoking : nullptr);
    for (const TaskId id : revoking) {
        if (!config_.cooperative) {
            previous_active_.insert(id);  // eager: what it ran before, for the next subscription
        }
        close_task(id, clean);
    }
    in_rebalance_ = false;
}

void StreamThread::lost(const std::vector<TopicPartition>& partitions) {
    in_rebalance_ = true;
    // Another member may own them already: nothing of the open transaction may commit.
    close_all_dirty("partitions lost");
    for (const TopicPartition& partition : partitions) {
        if (const std::optional<TaskId> id = task_of(partition)) {
            if (tasks_.contains(*id)) {
                previous_active_.insert(*id);
            }
            close_task(*id, false);
        }
    }
    in_rebalance_ = false;
}

void StreamThread::restore_tasks() {
    // Kafka restores between polls too (and since 3.x in a thread of its own): a long changelog never keeps
    // the thread from polling past max.poll.interval.ms.
    // One changelog at a time in the restore consumer: a restore under way goes on first.
    const sim::Time deadline = sim::deadline_after(std::chrono::milliseconds(200));
    bool restoring = false;
    for (auto& [id, active] : tasks_) {
        restoring = restoring || !active.restored;
    }
    if (restoring) {
        stop_standby_reading();  // restoration first (Kafka pauses standbys while actives restore)
    }
    for (auto& [id, active] : tasks_) {
        if (active.restoring && active.restoring->assigned && !restore(active, deadline)) {
            return;
        }
    }
    for (auto& [id, active] : tasks_) {
        if (active.restored || !inputs_positioned(id)) {
            continue;
        }
        if (!active.opened && !(active.opened = open(id, *active.task, active.positions, false))) {
            continue;  // another thread of the instance still holds its directory
        }
        if (!restore(active, deadline)) {
            return;
        }
    }
    for (auto& [id, active] : tasks_) {
        if (!active.restored) {
            return;
        }
    }
    update_standbys();
}

void StreamThread::stop_standby_reading() {
    if (!standbys_reading_) {
        return;
    }
    for (const auto& [id, standby] : standbys_) {
        if (standby.opened) {
            for (const auto& [changelog, position] : standby.positions) {
                restore_consumer_->unassign(changelog);
            }
        }
    }
    standbys_reading_ = false;
}

void StreamThread::update_standbys() {
    for (auto& [id, standby] : standbys_) {
        if (!standby.opened && (standby.opened = open(id, *standby.task, standby.positions, true))) {
            standby.checkpointed = standby.positions;
            stop_standby_reading();  // read again with this one too
        }
    }
    if (sim::now() < next_standby_update_) {
        return;
    }
    next_standby_update_ = sim::deadline_after(config_.commit_interval);
    if (!standbys_reading_) {
        for (const auto& [id, standby] : standbys_) {
            if (standby.opened) {
                for (const auto& [changelog, position] : standby.positions) {
                    restore_consumer_->assign(changelog, position);
                    standbys_reading_ = true;
                }
            }
        }
    }
    if (!standbys_reading_) {
        return;
    }
    for (const ConsumedRecord& record : restore_consumer_->poll()) {
        const auto changelog = changelogs_.find(record.partition.topic);
        EOSIM_ASSERT_MSG(changelog != changelogs_.end(), "the restore consumer read a topic not a changelog");
        const auto found = standbys_.find(TaskId{changelog->second.subtopology, record.partition.partition});
        if (found == standbys_.end() || !found->second.opened || !record.record.key) {
            continue;  // closed during the poll
        }
        found->second.task->store(changelog->second.store).restore(*record.record.key, record.record.value);
    }
    // Where each standby has read to (past markers and aborted records too), and a checkpoint when that moved
    // far enough: a standby's stores hold only what committed (read_committed), so it may checkpoint at any time.
    for (auto& [id, standby] : standbys_) {
        if (!standby.opened) {
            continue;
        }
        std::int64_t moved = 0;
        for (auto& [changelog, position] : standby.positions) {
            if (restore_consumer_->assigned(changelog)) {
                position = restore_consumer_->position(changelog);
            }
            const auto before = standby.checkpointed.find(changelog);
            moved += position.value() - (before != standby.checkpointed.end() ? before->second.value() : 0);
        }
        if (moved >= config_.checkpoint_delta && checkpoint(id, *standby.task, standby.positions)) {
            standby.checkpointed = standby.positions;
        }
    }
}

void StreamThread::close_standby(TaskId id) {
    const auto found = standbys_.find(id);
    if (found == standbys_.end()) {
        return;
    }
    stop_standby_reading();
    StandbyTask& standby = found->second;
    standby.task->close();
    if (standby.opened) {
        (void)checkpoint(id, *standby.task, standby.positions);
        state_directory_.unlock(id, config_.client_id);
    }
    standbys_.erase(found);
}

std::string StreamThread::subscription_data() {
    SubscriptionInfo info;
    info.process = config_.process.empty() ? config_.client_id : config_.process;
    info.previous_active = previous_active_;
    info.offset_sums = state_directory_.offset_sums();
    for (const auto& [id, active] : tasks_) {
        info.previous_active.insert(id);
    }
    for (const TaskId id : info.previous_active) {
        info.offset_sums[id] = SubscriptionInfo::latest;
    }
    for (const auto& [id, standby] : standbys_) {
        info.previous_standby.insert(id);
        std::int64_t sum = 0;
        for (const auto& [changelog, position] : standby.positions) {
            sum += position.value();
        }
        info.offset_sums[id] = sum;
    }
    return encode(info);
}

void StreamThread::on_assignment(const client_core::Assignment& assignment) {
    const AssignmentInfo info = decode_assignment_info(assignment.user_data).value_or(AssignmentInfo{});
    previous_active_.clear();
    std::vector<TaskId> gone;
    for (const auto& [id, standby] : standbys_) {
        if (!info.standby.contains(id) && !info.active.contains(id)) {
            gone.push_back(id);
        }
    }
    for (const TaskId id : gone) {
        close_standby(id);
    }
    for (const TaskId id : info.standby) {
        if (!standbys_.contains(id) && !tasks_.contains(id) &&
            static_cast<std::size_t>(id.subtopology) < subtopologies_.size()) {
            standbys_.emplace(id, StandbyTask{.task = make_task(id)});
        }
    }
    sim::trace("StreamsAssigned")
        .detail("client", config_.client_id)
        .detail("active", info.active.size())
        .detail("standby", info.standby.size());
}

bool StreamThread::inputs_positioned(TaskId id) const {
    // The committed offsets were fetched with require_stable: once each input has its position, the previous
    // owner's last transaction has completed (KIP-447), and its changelog writes are there to restore.
    for (const TopicPartition& partition : consumer_->assignment()) {
        if (task_of(partition) == id && !consumer_->position(partition)) {
            return false;
        }
    }
    return true;
}

std::optional<Offset> StreamThread::settled_end(const TopicPartition& changelog, sim::Time deadline) {
    while (true) {
        const std::optional<Offset> stable = restore_consumer_->end_offset(changelog);
        const std::optional<Offset> written =
            restore_consumer_->end_offset(changelog, protocol::IsolationLevel::read_uncommitted);
        if (stable && written && *stable == *written) {
            return *stable;
        }
        if (sim::now() >= deadline) {
            return std::nullopt;  // asked again on the next turn, after a poll
        }
        sim::sleep(std::chrono::milliseconds(100));
    }
}

bool StreamThread::restore(ActiveTask& active, sim::Time deadline) {
    const TaskId id = active.task->id();
    if (!active.restoring) {
        // Stream time from where the previous owner committed (Kafka's StreamTask initializes it from the
        // committed offsets' metadata): a record late for it is late for this owner too.
        for (const TopicPartition& partition : consumer_->assignment()) {
            if (task_of(partition) != id) {
                continue;
            }
            if (const std::optional<std::int64_t> time = decode_partition_time(consumer_->committed_metadata(partition))) {
                active.partition_time[partition] = *time;
                active.task->initialize_stream_time(*time);
            }
        }
        active.restoring.emplace();
        for (const auto& [name, store] : active.task->stores()) {
            if (store->logged()) {
                active.restoring->stores.push_back(name);
            }
        }
    }
    Restore& progress = *active.restoring;
    while (progress.next < progress.stores.size()) {
        const std::string& name = progress.stores[progress.next];
        KeyValueStore& store = active.task->store(name);
        // Every committed change, from the changelog's start to its read_committed end.
        const TopicPartition changelog{changelog_topic(config_.application_id, name), id.partition};
        if (!progress.assigned) {
            const auto from = active.positions.find(changelog);
            restore_consumer_->assign(changelog, from != active.positions.end() ? from->second : Offset(0));
            progress.assigned = true;
            sim::trace("StreamsStoreRestoring")
                .detail("client", config_.client_id)
                .detail("store", name)
                .detail("partition", id.partition)
                .detail("from", restore_consumer_->position(changelog).value());
        }
        if (!progress.end) {
            // Where to stop: the last stable offset, once it is the high watermark. A transaction of the
            // previous owner can be committed (its input offsets already applied, which is what let this
            // task start) while its marker has yet to reach the changelog: below it, the last stable offset
            // would stop the restore short of committed state. A zombie's open transaction is aborted
            // within its timeout.
            progress.end = settled_end(changelog, deadline);
            if (!progress.end) {
                return false;
            }
        }
        while (restore_consumer_->position(changelog) < *progress.end) {
            if (sim::now() >= deadline) {
                return false;  // the rest on the next turn, after a poll
            }
            for (const ConsumedRecord& record : restore_consumer_->poll()) {
                EOSIM_ASSERT_MSG(record.partition == changelog, "the restore consumer read another changelog");
                EOSIM_ASSERT_MSG(record.record.key.has_value(), "a changelog record without a key");
                if (!config_.bugs.restore_skips_tail) {
                    store.restore(*record.record.key, record.record.value);
                    ++progress.restored;
                    continue;
                }
                if (const std::optional<ConsumedRecord> previous = std::exchange(progress.held, record)) {
                    store.restore(*previous->record.key, previous->record.value);
                    ++progress.restored;
                }
            }
        }
        active.positions[changelog] = *progress.end;
        restore_consumer_->unassign(changelog);
        sim::trace("StreamsStoreRestored")
            .detail("client", config_.client_id)
            .detail("store", name)
            .detail("partition", id.partition)
            .detail("records", progress.restored);
        progress = Restore{.stores = std::move(progress.stores), .next = progress.next + 1};
    }
    active.restoring.reset();
    active.restored = true;
    if (!exactly_once() && checkpoint(id, *active.task, active.positions)) {
        active.checkpointed = active.positions;  // at_least_once: checkpointed once restored (KAFKA-12634)
    }
    return true;
}

void StreamThread::abandon_restore(ActiveTask& active) {
    if (active.restoring && active.restoring->assigned) {
        const std::string& name = active.restoring->stores[active.restoring->next];
        restore_consumer_->unassign(TopicPartition{changelog_topic(config_.application_id, name), active.task->id().partition});
    }
    active.restoring.reset();
}

std::vector<TaskId> StreamThread::running_tasks() const {
    std::vector<TaskId> out;
    for (const auto& [id, active] : tasks_) {
        if (active.restored) {
            out.push_back(id);
        }
    }
    return out;
}

std::vector<TaskId> StreamThread::standby_tasks() const {
    std::vector<TaskId> out;
    for (const auto& [id, standby] : standbys_) {
        if (standby.opened) {
            out.push_back(id);
        }
    }
    return out;
}

const StreamTask* StreamThread::standby(TaskId id) const {
    const auto found = standbys_.find(id);
    return found != standbys_.end() && found->second.opened ? found->second.task.get() : nullptr;
}

StateDirectory::Offsets StreamThread::standby_positions(TaskId id) const {
    const auto found = standbys_.find(id);
    return found != standbys_.end() ? found->second.positions : StateDirectory::Offsets{};
}

const StreamTask* StreamThread::task(TaskId id) const {
    const auto found = tasks_.find(id);
    return found != tasks_.end() && found->second.restored ? found->second.task.get() : nullptr;
}

bool StreamThread::idle() const {
    if (dirty_ || !unacknowledged_.empty() || !consumer_->stable() || (producer_ && producer_->in_transaction())) {
        return false;
    }
    for (const auto& [id, active] : tasks_) {
        if (!active.restored) {
            return false;
        }
        for (const auto& [partition, queue] : active.queues) {
            if (!queue.empty()) {
                return false;
            }
        }
    }
    return true;
}

std::optional<Offset> StreamThread::position(const TopicPartition& partition) const {
    const std::optional<TaskId> id = task_of(partition);
    if (!id || task(*id) == nullptr) {
        return std::nullopt;
    }
    // The next record to process: the first queued one, else where the consumer stood after the thread's
    // last turn (not its position now, which a poll under way moves past records not yet returned).
    const ActiveTask& active = tasks_.at(*id);
    const auto queue = active.queues.find(partition);
    if (queue != active.queues.end() && !queue->second.empty()) {
        return queue->second.front().record.offset;
    }
    const auto at = positions_.find(partition);
    return at != positions_.end() ? std::optional(at->second) : std::nullopt;
}

}  // namespace eosim::streams_core
