#include "streams_core/assignor.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <sstream>

namespace eosim::streams_core {

namespace {

std::string task_text(TaskId id) { return std::to_string(id.subtopology) + "_" + std::to_string(id.partition); }

template <typename Int>
std::optional<Int> number(std::string_view text) {
    Int value{};
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

std::optional<TaskId> parse_task(std::string_view text) {
    const std::size_t cut = text.find('_');
    if (cut == std::string_view::npos) {
        return std::nullopt;
    }
    const std::optional<std::int32_t> subtopology = number<std::int32_t>(text.substr(0, cut));
    const std::optional<std::int32_t> partition = number<std::int32_t>(text.substr(cut + 1));
    if (!subtopology || !partition || *subtopology < 0 || *partition < 0) {
        return std::nullopt;
    }
    return TaskId{*subtopology, *partition};
}

void put_tasks(std::string& out, const char* field, const std::set<TaskId>& tasks) {
    out += field;
    for (const TaskId id : tasks) {
        out += ' ';
        out += task_text(id);
    }
    out += '\n';
}

// The lines of `bytes` as (field, words); nothing when a line is empty.
std::optional<std::vector<std::pair<std::string, std::vector<std::string>>>> lines(const std::string& bytes) {
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    std::istringstream in(bytes);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string field;
        if (!(words >> field)) {
            return std::nullopt;
        }
        std::vector<std::string> rest;
        for (std::string word; words >> word;) {
            rest.push_back(std::move(word));
        }
        out.emplace_back(std::move(field), std::move(rest));
    }
    return out;
}

std::optional<std::set<TaskId>> parse_tasks(const std::vector<std::string>& words) {
    std::set<TaskId> tasks;
    for (const std::string& word : words) {
        const std::optional<TaskId> id = parse_task(word);
        if (!id || !tasks.insert(*id).second) {
            return std::nullopt;
        }
    }
    return tasks;
}

// An instance (Kafka's ClientState): its threads and what the assignment gives it so far.
struct Client {
    std::vector<std::string> members;  // its threads, by member id
    std::set<TaskId> active;
    std::set<TaskId> standby;
    [[nodiscard]] std::size_t capacity() const { return members.size(); }
};

// a.load / a.capacity < b.load / b.capacity, without division.
bool less_loaded(std::size_t a_load, std::size_t a_capacity, std::size_t b_load, std::size_t b_capacity) {
    return a_load * b_capacity < b_load * a_capacity;
}

}  // namespace

std::string encode(const SubscriptionInfo& info) {
    std::string out = "process " + info.process + "\n";
    put_tasks(out, "active", info.previous_active);
    put_tasks(out, "standby", info.previous_standby);
    out += "state";
    for (const auto& [id, sum] : info.offset_sums) {
        out += ' ' + task_text(id) + '=' + std::to_string(sum);
    }
    out += '\n';
    return out;
}

std::optional<SubscriptionInfo> decode_subscription_info(const std::string& bytes) {
    const auto parsed = lines(bytes);
    if (!parsed || parsed->size() != 4 || (*parsed)[0].first != "process" || (*parsed)[0].second.size() != 1 ||
        (*parsed)[1].first != "active" || (*parsed)[2].first != "standby" || (*parsed)[3].first != "state") {
        return std::nullopt;
    }
    SubscriptionInfo info;
    info.process = (*parsed)[0].second[0];
    std::optional<std::set<TaskId>> active = parse_tasks((*parsed)[1].second);
    std::optional<std::set<TaskId>> standby = parse_tasks((*parsed)[2].second);
    if (!active || !standby) {
        return std::nullopt;
    }
    info.previous_active = std::move(*active);
    info.previous_standby = std::move(*standby);
    for (const std::string& word : (*parsed)[3].second) {
        const std::size_t cut = word.find('=');
        const std::optional<TaskId> id =
            cut == std::string::npos ? std::nullopt : parse_task(std::string_view(word).substr(0, cut));
        const std::optional<std::int64_t> sum =
            id ? number<std::int64_t>(std::string_view(word).substr(cut + 1)) : std::nullopt;
        if (!sum || (*sum < 0 && *sum != SubscriptionInfo::latest) || !info.offset_sums.emplace(*id, *sum).second) {
            return std::nullopt;
        }
    }
    return info;
}

std::string encode(const AssignmentInfo& info) {
    std::string out;
    put_tasks(out, "active", info.active);
    put_tasks(out, "standby", info.standby);
    return out;
}

std::optional<AssignmentInfo> decode_assignment_info(const std::string& bytes) {
    const auto parsed = lines(bytes);
    if (!parsed || parsed->size() != 2 || (*parsed)[0].first != "active" || (*parsed)[1].first != "standby") {
        return std::nullopt;
    }
    std::optional<std::set<TaskId>> active = parse_tasks((*parsed)[0].second);
    std::optional<std::set<TaskId>> standby = parse_tasks((*parsed)[1].second);
    if (!active || !standby) {
        return std::nullopt;
    }
    for (const TaskId id : *standby) {
        if (active->contains(id)) {
            return std::nullopt;  // a thread never runs a task and stands by for it at once
        }
    }
    return AssignmentInfo{std::move(*active), std::move(*standby)};
}

std::vector<protocol::TopicPartition> task_partitions(const Subtopology& subtopology, TaskId id,
                                                      const std::map<std::string, std::int32_t>& partitions_per_topic) {
    std::vector<protocol::TopicPartition> out;
    for (const std::string& topic : subtopology.source_topics) {
        const auto count = partitions_per_topic.find(topic);
        if (count != partitions_per_topic.end() && id.partition < count->second) {
            out.push_back(protocol::TopicPartition{topic, id.partition});
        }
    }
    return out;
}

std::map<std::string, client_core::Assignment> assign_tasks(
    const std::vector<Subtopology>& subtopologies, const std::map<std::string, std::int32_t>& partitions_per_topic,
    const std::map<std::string, client_core::Subscription>& subscriptions, std::int32_t standby_replicas,
    bool cooperative) {
    // The members by instance, and what each said.
    std::map<std::string, SubscriptionInfo> infos;
    std::map<std::string, Client> clients;
    for (const auto& [member, subscription] : subscriptions) {
        SubscriptionInfo info = decode_subscription_info(subscription.user_data).value_or(SubscriptionInfo{});
        if (info.process.empty()) {
            info.process = member;
        }
        clients[info.process].members.push_back(member);  // in member id order: the map's
        infos.emplace(member, std::move(info));
    }
    std::map<std::string, client_core::Assignment> out;
    for (const auto& [member, subscription] : subscriptions) {
        out[member].user_data = encode(AssignmentInfo{});
    }
    if (clients.empty()) {
        return out;
    }
    // Every task: a partition number of a sub-topology whose source topics exist.
    std::vector<TaskId> tasks;
    for (const Subtopology& subtopology : subtopologies) {
        std::int32_t count = 0;
        for (const std::string& topic : subtopology.source_topics) {
            const auto found = partitions_per_topic.find(topic);
            count = std::max(count, found != partitions_per_topic.end() ? found->second : 0);
        }
        for (std::int32_t p = 0; p < count; ++p) {
            tasks.push_back(TaskId{subtopology.id, p});
        }
    }
    // What each instance knows of a task: it ran it (first), stood by for it, or has its state (by offset sum).
    const auto state_of = [&](const std::string& process, TaskId id) -> std::optional<std::int64_t> {
        std::optional<std::int64_t> best;
        for (const std::string& member : clients.at(process).members) {
            const SubscriptionInfo& info = infos.at(member);
            if (info.previous_active.contains(id) || info.previous_standby.contains(id)) {
                return std::numeric_limits<std::int64_t>::max();
            }
            const auto sum = info.offset_sums.find(id);
            if (sum != info.offset_sums.end()) {
                const std::int64_t value = sum->second == SubscriptionInfo::latest ? std::numeric_limits<std::int64_t>::max() - 1
                                                                                   : sum->second;
                best = std::max(best.value_or(value), value);
            }
        }
        return best;
    };
    std::size_t total_capacity = 0;
    for (const auto& [process, client] : clients) {
        total_capacity += client.capacity();
    }
    const std::size_t per_thread = (tasks.size() + total_capacity - 1) / total_capacity;
    const auto has_room = [&](const std::string& process) {
        const Client& client = clients.at(process);
        return client.active.size() < per_thread * client.capacity();
    };
    // Actives: the instance that ran the task, else the one with most of its state, else the least loaded.
    std::vector<TaskId> unassigned;
    for (const TaskId id : tasks) {
        std::optional<std::string> owner;
        for (const auto& [member, info] : infos) {
            if (info.previous_active.contains(id)) {
                owner = info.process;
                break;
            }
        }
        if (owner && has_room(*owner)) {
            clients.at(*owner).active.insert(id);
        } else {
            unassigned.push_back(id);
        }
    }
    for (const TaskId id : unassigned) {
        std::optional<std::string> chosen;
        std::int64_t chosen_state = -1;
        for (const auto& [process, client] : clients) {
            const std::optional<std::int64_t> state = state_of(process, id);
            if (state && *state > chosen_state && has_room(process)) {
                chosen = process;
                chosen_state = *state;
            }
        }
        if (!chosen) {
            for (const auto& [process, client] : clients) {
                if (!chosen || less_loaded(client.active.size(), client.capacity(), clients.at(*chosen).active.size(),
                                           clients.at(*chosen).capacity())) {
                    chosen = process;
                }
            }
        }
        clients.at(*chosen).active.insert(id);
    }
    // Standbys: up to `standby_replicas` other instances per task, those with its state first, then those
    // where it makes a pair of tasks no instance has together yet (Kafka's TaskPairs: no two instances end
    // up with the same tasks), then the least loaded (active and standby tasks per thread).
    std::set<std::pair<TaskId, TaskId>> pairs;
    const auto pair_of = [](TaskId a, TaskId b) { return a < b ? std::pair(a, b) : std::pair(b, a); };
    const auto add_pairs = [&](const Client& client, TaskId id) {
        for (const std::set<TaskId>* held : {&client.active, &client.standby}) {
            for (const TaskId other : *held) {
                if (other != id) {
                    pairs.insert(pair_of(id, other));
                }
            }
        }
    };
    const auto fresh = [&](const Client& client, TaskId id) {
        for (const std::set<TaskId>* held : {&client.active, &client.standby}) {
            for (const TaskId other : *held) {
                if (other != id && pairs.contains(pair_of(id, other))) {
                    return false;
                }
            }
        }
        return true;
    };
    for (const auto& [process, client] : clients) {
        for (const TaskId id : client.active) {
            add_pairs(client, id);
        }
    }
    for (std::int32_t replica = 0; replica < standby_replicas; ++replica) {
        for (const TaskId id : tasks) {
            const Client* chosen = nullptr;
            std::string chosen_process;
            std::int64_t chosen_state = -1;
            bool chosen_fresh = false;
            for (const auto& [process, client] : clients) {
                if (client.active.contains(id) || client.standby.contains(id)) {
                    continue;
                }
                const std::int64_t state = state_of(process, id).value_or(-1);
                const bool is_fresh = fresh(client, id);
                const std::size_t load = client.active.size() + client.standby.size();
                const bool better =
                    chosen == nullptr || state > chosen_state ||
                    (state == chosen_state &&
                     (is_fresh != chosen_fresh
                          ? is_fresh
                          : less_loaded(load, client.capacity(), chosen->active.size() + chosen->standby.size(),
                                        chosen->capacity())));
                if (better) {
                    chosen = &client;
                    chosen_process = process;
                    chosen_state = state;
                    chosen_fresh = is_fresh;
                }
            }
            if (chosen != nullptr) {
                Client& client = clients.at(chosen_process);
                add_pairs(client, id);
                client.standby.insert(id);
            }
        }
    }
    // Within an instance: a thread keeps what it ran or stood by for (up to an even share), the rest goes
    // to its least loaded thread.
    std::map<std::int32_t, const Subtopology*> by_id;
    for (const Subtopology& subtopology : subtopologies) {
        by_id.emplace(subtopology.id, &subtopology);
    }
    for (const auto& [process, client] : clients) {
        std::map<std::string, AssignmentInfo> given;
        const std::size_t active_share = (client.active.size() + client.capacity() - 1) / client.capacity();
        const std::size_t total_share = (client.active.size() + client.standby.size() + client.capacity() - 1) /
                                        client.capacity();
        const auto load = [&](const std::string& member) {
            return given[member].active.size() + given[member].standby.size();
        };
        const auto place = [&](const std::set<TaskId>& what, bool active) {
            std::vector<TaskId> rest;
            for (const TaskId id : what) {
                std::optional<std::string> keeper;
                for (const std::string& member : client.members) {
                    const SubscriptionInfo& info = infos.at(member);
                    if (info.previous_active.contains(id) || info.previous_standby.contains(id)) {
                        keeper = member;
                        break;
                    }
                }
                const bool room = keeper && (active ? given[*keeper].active.size() < active_share
                                                    : load(*keeper) < total_share);
                if (room) {
                    (active ? given[*keeper].active : given[*keeper].standby).insert(id);
                } else {
                    rest.push_back(id);
                }
            }
            for (const TaskId id : rest) {
                const std::string* chosen = nullptr;
                for (const std::string& member : client.members) {
                    const std::size_t mine = active ? given[member].active.size() : load(member);
                    if (chosen == nullptr || mine < (active ? given[*chosen].active.size() : load(*chosen))) {
                        chosen = &member;
                    }
                }
                (active ? given[*chosen].active : given[*chosen].standby).insert(id);
            }
        };
        place(client.active, true);
        place(client.standby, false);
        for (const std::string& member : client.members) {
            client_core::Assignment& assignment = out.at(member);
            if (cooperative) {
                // A task another member still owns waits for the next round.
                std::erase_if(given[member].active, [&](TaskId id) {
                    for (const protocol::TopicPartition& partition :
                         task_partitions(*by_id.at(id.subtopology), id, partitions_per_topic)) {
                        for (const auto& [other, subscription] : subscriptions) {
                            if (other != member && std::find(subscription.owned.begin(), subscription.owned.end(),
                                                             partition) != subscription.owned.end()) {
                                return true;
                            }
                        }
                    }
                    return false;
                });
            }
            for (const TaskId id : given[member].active) {
                for (protocol::TopicPartition& partition : task_partitions(*by_id.at(id.subtopology), id, partitions_per_topic)) {
                    assignment.partitions.push_back(std::move(partition));
                }
            }
            std::sort(assignment.partitions.begin(), assignment.partitions.end());
            assignment.user_data = encode(given[member]);
        }
    }
    return out;
}

}  // namespace eosim::streams_core
