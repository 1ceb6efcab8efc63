#include "broker_core/controller.h"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>

#include "broker_core/invariants.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::PartitionState;

namespace {

constexpr const char* metadata_path = "metadata/cluster_metadata";

std::string join(const std::vector<BrokerId>& ids) {
    std::string text;
    for (const BrokerId id : ids) {
        if (!text.empty()) {
            text += ',';
        }
        text += std::to_string(id.value());
    }
    return text.empty() ? "-" : text;
}

std::vector<BrokerId> split(const std::string& text) {
    std::vector<BrokerId> ids;
    if (text == "-") {
        return ids;
    }
    std::istringstream in(text);
    std::string part;
    while (std::getline(in, part, ',')) {
        ids.emplace_back(std::stoi(part));
    }
    return ids;
}

bool contains(const std::vector<BrokerId>& ids, BrokerId id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

}  // namespace

Controller::Controller(sim::Node& node, ControllerConfig config)
    : node_(node), config_(std::move(config)), server_(node, controller_port, [this](const sim::Message& m) {
          return handle(m);
      }) {
    load_or_bootstrap();
    node.spawn("controller-sessions", [this] {
        wait_durable();
        while (true) {
            sim::sleep(config_.session_check_interval);
            check_sessions();
        }
    });
}

bool Controller::alive(BrokerId broker) const {
    const auto found = brokers_.find(broker);
    return found != brokers_.end() && !found->second.fenced && found->second.incarnation != 0;
}

std::uint32_t Controller::registered_incarnation(BrokerId broker) const {
    const auto found = brokers_.find(broker);
    return found != brokers_.end() ? found->second.incarnation : 0;
}

sim::Time Controller::last_heartbeat(BrokerId broker) const {
    const auto found = brokers_.find(broker);
    return found != brokers_.end() ? found->second.last_heartbeat : sim::Time{};
}

void Controller::load_or_bootstrap() {
    const std::size_t records = replay_metadata_log();
    const sim::Time now = sim::now();
    for (auto& [id, registration] : brokers_) {
        registration.last_heartbeat = now;  // every broker gets a full session after a controller restart
    }
    for (const BrokerId broker : config_.brokers) {
        brokers_.try_emplace(broker);
    }
    version_ = durable_version_ = static_cast<std::int64_t>(records);
    drop_incomplete_topics();
    bootstrap_topics();
    sim::trace("ControllerLoaded").detail("records", records).detail("partitions", partitions_.size());
    // Only durable metadata ever left a controller: a restarted one knows at least what any broker applied.
    const std::int64_t applied = sim::witness().highest(invariants::metadata_applied);
    EOSIM_INVARIANT(version_ >= applied, "controller-restart-keeps-published-metadata",
                    fmt::format("the restarted controller loaded metadata version {}, but a broker applied version {}",
                                version_, applied));
}

std::size_t Controller::replay_metadata_log() {
    sim::Disk& disk = node_.disk();
    if (!disk.exists(metadata_path)) {
        (void)disk.create(metadata_path);
        (void)disk.fsync_directory(sim::Disk::directory_of(metadata_path));
    }
    const std::vector<std::byte> bytes = disk.read_all(metadata_path).value();
    const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    std::size_t good = 0;
    std::size_t records = 0;
    while (good < text.size()) {
        const std::size_t end = text.find('\n', good);
        if (end == std::string::npos) {
            break;  // a torn last line
        }
        try {
            apply_line(text.substr(good, end - good));
        } catch (const std::exception&) {
            break;  // a garbled line: keep the consistent prefix
        }
        good = end + 1;
        ++records;
    }
    if (good < text.size()) {
        (void)disk.truncate(metadata_path, good);
    }
    return records;
}

void Controller::drop_incomplete_topics() {
    std::vector<std::string> incomplete;
    for (const auto& [name, topic] : topics_) {
        for (std::int32_t p = 0; p < topic.partitions; ++p) {
            if (!partitions_.contains(protocol::TopicPartition{name, p})) {
                incomplete.push_back(name);
                break;
            }
        }
    }
    for (const std::string& name : incomplete) {
        // Its records were appended together and published only once all were durable: a crash kept a
        // prefix of them, so no broker and no client ever saw this topic.
        std::erase_if(partitions_, [&name](const auto& entry) { return entry.first.topic == name; });
        topics_.erase(name);
        sim::trace("TopicIncomplete").detail("topic", name);
    }
}

void Controller::bootstrap_topics() {
    for (const TopicConfig& topic : config_.topics) {
        if (!topics_.contains(topic.name)) {
            create_topic(topic, config_.brokers);
        }
    }
}

void Controller::create_topic(protocol::TopicDescription topic, const std::vector<BrokerId>& brokers) {
    EOSIM_ASSERT(!brokers.empty() && topic.replication_factor >= 1 && topic.partitions >= 1);
    EOSIM_ASSERT_MSG(protocol::valid_topic_name(topic.name) && protocol::valid_configs(topic.configs),
                     "a topic is valid before it is recorded: " + topic.name);
    const auto broker_count = static_cast<std::int32_t>(brokers.size());
    topic.internal = protocol::is_internal_topic(topic.name);
    record_topic(topic);
    for (std::int32_t p = 0; p < topic.partitions; ++p) {
        PartitionState state;
        state.partition = protocol::TopicPartition{topic.name, p};
        for (std::int32_t r = 0; r < std::min(topic.replication_factor, broker_count); ++r) {
            state.replicas.push_back(brokers[static_cast<std::size_t>((p + r) % broker_count)]);
        }
        state.isr = state.replicas;
        state.leader = state.replicas.front();
        record_partition(state);
    }
    sim::trace("TopicCreated")
        .detail("topic", topic.name)
        .detail("partitions", topic.partitions)
        .detail("replication_factor", topic.replication_factor)
        .detail("internal", topic.internal);
}

void Controller::apply_line(const std::string& line) {
    std::istringstream in(line);
    std::string kind;
    in >> kind;
    if (kind == "B" || kind == "F") {
        std::int32_t id = 0;
        std::uint32_t incarnation = 0;
        in >> id;
        if (kind == "B") {
            in >> incarnation;
        }
        if (!in) {
            throw std::runtime_error("bad broker record");
        }
        BrokerRegistration& registration = brokers_[BrokerId(id)];
        if (kind == "B") {
            registration.incarnation = incarnation;
            registration.fenced = false;
        } else {
            registration.fenced = true;
        }
        return;
    }
    if (kind == "T") {
        apply_topic_record(in);
        return;
    }
    if (kind == "I") {
        std::int64_t next = 0;
        in >> next;
        if (!in || next < next_producer_id_) {
            throw std::runtime_error("bad producer id record");
        }
        next_producer_id_ = next;
        return;
    }
    if (kind != "P") {
        throw std::runtime_error("unknown record");
    }
    PartitionState state;
    std::int32_t leader = 0;
    std::int32_t leader_epoch = 0;
    std::string replicas;
    std::string isr;
    in >> state.partition.topic >> state.partition.partition >> leader >> leader_epoch >> state.partition_epoch >>
        replicas >> isr;
    if (!in) {
        throw std::runtime_error("bad partition record");
    }
    state.leader = BrokerId(leader);
    state.leader_epoch = protocol::LeaderEpoch(leader_epoch);
    state.replicas = split(replicas);
    state.isr = split(isr);
    partitions_[state.partition] = state;
}

void Controller::apply_topic_record(std::istringstream& in) {
    protocol::TopicDescription topic;
    int internal = 0;
    in >> topic.name >> internal >> topic.partitions >> topic.replication_factor;
    if (!in || topic.partitions < 1 || topic.replication_factor < 1) {
        throw std::runtime_error("bad topic record");
    }
    topic.internal = internal != 0;
    // A topic record starts the topic afresh: partitions of an earlier, incomplete creation of the same
    // name (dropped when loaded) are not its partitions.
    std::erase_if(partitions_, [&topic](const auto& entry) { return entry.first.topic == topic.name; });
    std::string entry;
    while (in >> entry) {
        const std::size_t equals = entry.find('=');
        if (equals == std::string::npos ||
            !protocol::set_config(topic.configs, std::string_view(entry).substr(0, equals),
                                  std::string_view(entry).substr(equals + 1))) {
            throw std::runtime_error("bad topic config");
        }
    }
    topics_[topic.name] = std::move(topic);
}

void Controller::append(const std::string& line) {
    const std::string text = line + "\n";
    const sim::Status written = node_.disk().append(metadata_path, std::as_bytes(std::span(text.data(), text.size())));
    EOSIM_ASSERT_MSG(written.ok(), "the controller's metadata log cannot be written");
    ++version_;
}

void Controller::record_partition(const PartitionState& state) {
    if (const auto previous = partitions_.find(state.partition); previous != partitions_.end()) {
        const PartitionState& before = previous->second;
        EOSIM_INVARIANT(state.leader_epoch >= before.leader_epoch &&
                            (state.leader == before.leader || state.leader_epoch > before.leader_epoch),
                        "leader-epoch-monotonic",
                        fmt::format("{}: leader {} in epoch {} recorded after leader {} in epoch {}",
                                    state.partition.name(), state.leader.value(), state.leader_epoch.value(),
                                    before.leader.value(), before.leader_epoch.value()));
    }
    EOSIM_INVARIANT(state.leader == protocol::no_broker || contains(state.isr, state.leader), "leader-in-isr",
                    fmt::format("{}: leader {} recorded outside the ISR {}", state.partition.name(),
                                state.leader.value(), join(state.isr)));
    partitions_[state.partition] = state;
    append(fmt::format("P {} {} {} {} {} {} {}", state.partition.topic, state.partition.partition,
                       state.leader.value(), state.leader_epoch.value(), state.partition_epoch,
                       join(state.replicas), join(state.isr)));
    sim::trace("PartitionChange")
        .detail("partition", state.partition.name())
        .detail("leader", state.leader.value())
        .detail("leader_epoch", state.leader_epoch.value())
        .detail("isr", join(state.isr))
        .detail("partition_epoch", state.partition_epoch);
}

// Kafka's TopicRecord and its ConfigRecords, as one line: "T name internal partitions replication-factor
// config=value ...". The partition records follow it.
void Controller::record_topic(const protocol::TopicDescription& topic) {
    std::string line = fmt::format("T {} {} {} {}", topic.name, topic.internal ? 1 : 0, topic.partitions,
                                   topic.replication_factor);
    for (const auto& [name, value] : protocol::config_entries(topic.configs)) {
        line += fmt::format(" {}={}", name, value);
    }
    topics_[topic.name] = topic;
    append(line);
}

void Controller::record_broker(BrokerId broker, std::uint32_t incarnation) {
    append(fmt::format("B {} {}", broker.value(), incarnation));
}

void Controller::wait_durable() {
    const std::int64_t target = version_;
    while (durable_version_ < target) {
        if (!syncing_) {
            syncing_ = true;
            const std::int64_t covered = version_;
            const sim::Status synced = node_.disk().fsync(metadata_path);
            EOSIM_ASSERT(synced.ok());
            syncing_ = false;
            durable_version_ = std::max(durable_version_, covered);
            durable_changed_.notify_all();
        } else {
            durable_changed_.wait_until(sim::Time::max(), [this, target] { return durable_version_ >= target || !syncing_; });
        }
    }
}

protocol::MetadataSnapshot Controller::snapshot() const {
    EOSIM_INVARIANT(durable_version_ == version_, "metadata-durable-before-published",
                    fmt::format("metadata version {} leaves the controller with only version {} durable", version_,
                                durable_version_));
    protocol::MetadataSnapshot metadata;
    metadata.version = version_;
    for (const auto& [id, registration] : brokers_) {
        if (alive(id)) {
            metadata.live_brokers.push_back(id);
        }
    }
    for (const auto& [name, topic] : topics_) {
        metadata.topics.push_back(topic);
    }
    for (const auto& [partition, state] : partitions_) {
        metadata.partitions.push_back(state);
    }
    return metadata;
}

bool Controller::elect(PartitionState& state) {
    const BrokerId previous = state.leader;
    BrokerId chosen = protocol::no_broker;
    for (const BrokerId replica : state.replicas) {
        if (contains(state.isr, replica) && alive(replica)) {
            chosen = replica;
            break;
        }
    }
    bool unclean = false;
    if (chosen == protocol::no_broker && config_.unclean_leader_election) {
        for (const BrokerId replica : state.replicas) {
            if (alive(replica)) {
                chosen = replica;
                unclean = true;
                break;
            }
        }
    }
    if (chosen == previous) {
        return false;
    }
    state.leader = chosen;
    state.leader_epoch = protocol::LeaderEpoch(state.leader_epoch.value() + 1);
    if (unclean) {
        sim::probe("unclean-leader-election");
        state.isr = {chosen};
        sim::witness().tally(invariants::unclean_elections);
    }
    ++state.partition_epoch;
    sim::trace("LeaderElection")
        .detail("partition", state.partition.name())
        .detail("leader", chosen.value())
        .detail("leader_epoch", state.leader_epoch.value())
        .detail("unclean", unclean);
    return true;
}

void Controller::fence(BrokerId broker, const char* reason) {
    BrokerRegistration& registration = brokers_[broker];
    registration.fenced = true;
    append(fmt::format("F {}", broker.value()));
    sim::trace("BrokerFenced").detail("broker", broker.value()).detail("reason", reason);
    for (auto& [partition, current] : partitions_) {
        PartitionState state = current;
        bool changed = false;
        if (contains(state.isr, broker) && state.isr.size() > 1) {
            std::erase(state.isr, broker);
            changed = true;
        }
        if (state.leader == broker) {
            changed = elect(state) || changed;
        }
        if (changed) {
            if (state.partition_epoch == current.partition_epoch) {
                ++state.partition_epoch;
            }
            record_partition(state);
        }
    }
}

void Controller::elect_leaderless() {
    for (auto& [partition, current] : partitions_) {
        if (current.leader != protocol::no_broker) {
            continue;
        }
        PartitionState state = current;
        if (elect(state)) {
            record_partition(state);
        }
    }
}

protocol::BrokerHeartbeatResponse Controller::heartbeat(const protocol::BrokerHeartbeatRequest& request) {
    protocol::BrokerHeartbeatResponse response;
    const auto found = brokers_.find(request.broker);
    if (found == brokers_.end()) {
        response.error = ErrorCode::broker_not_available;
        return response;
    }
    BrokerRegistration& registration = found->second;
    if (registration.incarnation != request.incarnation) {
        // A restarted broker: its old incarnation is fenced first, so every partition it led gets a
        // new leader epoch before it may lead again.
        if (registration.incarnation != 0 && !registration.fenced) {
            fence(request.broker, "restarted");
        }
        registration.incarnation = request.incarnation;
        registration.fenced = false;
        record_broker(request.broker, request.incarnation);
        elect_leaderless();
    } else if (registration.fenced) {
        registration.fenced = false;
        record_broker(request.broker, request.incarnation);
        elect_leaderless();
    }
    registration.last_heartbeat = sim::now();
    if (sim::buggify("slow-heartbeat-answer")) {
        sim::sleep(std::chrono::milliseconds(node_.random().below(200)));  // a slow controller: stale metadata races
    }
    // Only durable metadata leaves the controller.
    while (durable_version_ < version_) {
        wait_durable();
    }
    if (request.metadata_version != version_) {
        response.metadata = snapshot();
    }
    return response;
}

protocol::AlterPartitionResponse Controller::alter_partition(const protocol::AlterPartitionRequest& request) {
    protocol::AlterPartitionResponse response;
    const auto found = partitions_.find(request.partition);
    if (found == partitions_.end()) {
        response.error = ErrorCode::unknown_topic_or_partition;
        return response;
    }
    PartitionState state = found->second;
    if (request.leader != state.leader || request.leader_epoch != state.leader_epoch) {
        response.error = ErrorCode::fenced_leader_epoch;
    } else if (request.partition_epoch != state.partition_epoch) {
        response.error = ErrorCode::invalid_update_version;
    } else if (!contains(request.new_isr, state.leader) ||
               std::any_of(request.new_isr.begin(), request.new_isr.end(), [&](BrokerId id) {
                   return !contains(state.replicas, id) || (!contains(state.isr, id) && !alive(id));
               })) {
        response.error = ErrorCode::ineligible_replica;
    } else {
        state.isr = request.new_isr;
        ++state.partition_epoch;
        record_partition(state);
    }
    while (durable_version_ < version_) {
        wait_durable();
    }
    response.state = partitions_.at(request.partition);
    return response;
}

protocol::AllocateProducerIdsResponse Controller::allocate_producer_ids(
    const protocol::AllocateProducerIdsRequest& request) {
    protocol::AllocateProducerIdsResponse response;
    const auto found = brokers_.find(request.broker);
    if (found == brokers_.end() || found->second.incarnation != request.incarnation || found->second.fenced) {
        response.error = ErrorCode::stale_broker_epoch;
        return response;
    }
    const std::int64_t first = next_producer_id_;
    next_producer_id_ += config_.producer_id_block_size;
    append(fmt::format("I {}", next_producer_id_));
    // A block is handed out only once it is durable: a controller restart never hands it out again.
    while (durable_version_ < version_) {
        wait_durable();
    }
    response.first_producer_id = protocol::ProducerId(first);
    response.count = config_.producer_id_block_size;
    sim::trace("ProducerIdsAllocated").detail("broker", request.broker.value()).detail("first", first);
    return response;
}

protocol::CreateTopicsResponse Controller::create_topics(const protocol::CreateTopicsRequest& request) {
    std::map<std::string, int> named;
    for (const protocol::TopicDescription& topic : request.topics) {
        ++named[topic.name];
    }
    std::vector<BrokerId> live;
    for (const auto& [id, registration] : brokers_) {
        if (alive(id)) {
            live.push_back(id);
        }
    }
    protocol::CreateTopicsResponse response;
    for (const protocol::TopicDescription& topic : request.topics) {
        // A name given twice is refused both times, as Kafka does.
        const ErrorCode error = named.at(topic.name) > 1 ? ErrorCode::invalid_request : creation_error(topic);
        if (error == ErrorCode::none) {
            create_topic(topic, live);
        } else {
            sim::trace("CreateTopicRefused").detail("topic", topic.name).detail("error", protocol::error_name(error));
        }
        response.topics.push_back(protocol::CreatableTopicResult{topic.name, error});
    }
    // Answered once durable, also for refusals: a topic another request just created is durable before
    // anyone hears that it exists.
    while (durable_version_ < version_) {
        wait_durable();
    }
    return response;
}

ErrorCode Controller::creation_error(const protocol::TopicDescription& topic) const {
    if (!protocol::valid_topic_name(topic.name)) {
        return ErrorCode::invalid_topic_exception;
    }
    if (topics_.contains(topic.name)) {
        return ErrorCode::topic_already_exists;
    }
    if (!protocol::valid_configs(topic.configs)) {
        return ErrorCode::invalid_config;
    }
    if (topic.partitions < 1 || topic.partitions > config_.max_partitions_per_topic) {
        return ErrorCode::invalid_partitions;
    }
    const auto live = std::count_if(brokers_.begin(), brokers_.end(), [this](const auto& entry) {
        return alive(entry.first);
    });
    if (topic.replication_factor < 1 || topic.replication_factor > live) {
        return ErrorCode::invalid_replication_factor;  // Kafka: "only N broker(s) are registered"
    }
    return ErrorCode::none;
}

void Controller::check_sessions() {
    const sim::Time now = sim::now();
    std::vector<BrokerId> expired;
    for (const auto& [id, registration] : brokers_) {
        if (alive(id) && now - registration.last_heartbeat > config_.session_timeout) {
            expired.push_back(id);
        }
    }
    for (const BrokerId id : expired) {
        fence(id, "session expired");
    }
    if (!expired.empty()) {
        wait_durable();
    }
}

sim::Message Controller::handle(const sim::Message& request) {
    if (request.is<protocol::BrokerHeartbeatRequest>()) {
        return sim::make_message(heartbeat(request.as<protocol::BrokerHeartbeatRequest>()));
    }
    if (request.is<protocol::AlterPartitionRequest>()) {
        return sim::make_message(alter_partition(request.as<protocol::AlterPartitionRequest>()));
    }
    if (request.is<protocol::AllocateProducerIdsRequest>()) {
        return sim::make_message(allocate_producer_ids(request.as<protocol::AllocateProducerIdsRequest>()));
    }
    if (request.is<protocol::CreateTopicsRequest>()) {
        return sim::make_message(create_topics(request.as<protocol::CreateTopicsRequest>()));
    }
    EOSIM_ASSERT_MSG(false, "the controller got a request it does not serve");
    return {};
}

}  // namespace eosim::broker_core
