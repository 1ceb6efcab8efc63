#include "client_core/assignors.h"

#include <algorithm>
#include <deque>
#include <iterator>
#include <set>
#include <tuple>

#include "protocol/control_record.h"

namespace eosim::client_core {

namespace {

using protocol::detail::get_big_endian;
using protocol::detail::put_big_endian;

constexpr std::int16_t version = 0;

void put_name(std::string& out, const std::string& name) {
    put_big_endian<std::int16_t>(out, static_cast<std::int16_t>(name.size()));
    out += name;
}

void put_user_data(std::string& out, const std::string& data) {
    if (!data.empty()) {
        put_big_endian<std::int32_t>(out, static_cast<std::int32_t>(data.size()));
        out += data;
    }
}

void put_partitions(std::string& out, const std::vector<protocol::TopicPartition>& partitions) {
    put_big_endian<std::int32_t>(out, static_cast<std::int32_t>(partitions.size()));
    for (const protocol::TopicPartition& partition : partitions) {
        put_name(out, partition.topic);
        put_big_endian<std::int32_t>(out, partition.partition);
    }
}

// Reads big-endian fields from a string, refusing any read past its end.
class Reader {
public:
    explicit Reader(const std::string& bytes) : bytes_(bytes) {}

    template <typename Int>
    std::optional<Int> get() {
        if (at_ + sizeof(Int) > bytes_.size()) {
            return std::nullopt;
        }
        const Int value = get_big_endian<Int>(bytes_, at_);
        at_ += sizeof(Int);
        return value;
    }
    std::optional<std::string> name() {
        const std::optional<std::int16_t> length = get<std::int16_t>();
        if (!length || *length < 0 || at_ + static_cast<std::size_t>(*length) > bytes_.size()) {
            return std::nullopt;
        }
        std::string text = bytes_.substr(at_, static_cast<std::size_t>(*length));
        at_ += static_cast<std::size_t>(*length);
        return text;
    }
    std::optional<std::vector<protocol::TopicPartition>> partitions() {
        const std::optional<std::int32_t> count = get<std::int32_t>();
        if (!count || *count < 0) {
            return std::nullopt;
        }
        std::vector<protocol::TopicPartition> read;
        for (std::int32_t i = 0; i < *count; ++i) {
            const std::optional<std::string> topic = name();
            const std::optional<std::int32_t> partition = topic ? get<std::int32_t>() : std::nullopt;
            if (!partition || *partition < 0) {
                return std::nullopt;
            }
            read.push_back(protocol::TopicPartition{*topic, *partition});
        }
        return read;
    }
    // User data, when any is left: an i32 length and that many bytes (empty when nothing is left).
    std::optional<std::string> user_data() {
        if (at_end()) {
            return std::string();
        }
        const std::optional<std::int32_t> length = get<std::int32_t>();
        if (!length || *length <= 0 || at_ + static_cast<std::size_t>(*length) > bytes_.size()) {
            return std::nullopt;
        }
        std::string data = bytes_.substr(at_, static_cast<std::size_t>(*length));
        at_ += static_cast<std::size_t>(*length);
        return data;
    }
    [[nodiscard]] bool at_end() const { return at_ == bytes_.size(); }

private:
    const std::string& bytes_;
    std::size_t at_ = 0;
};

}  // namespace

std::string encode_subscription(const Subscription& subscription) {
    std::string out;
    put_big_endian<std::int16_t>(out, version);
    put_big_endian<std::int32_t>(out, static_cast<std::int32_t>(subscription.topics.size()));
    for (const std::string& topic : subscription.topics) {
        put_name(out, topic);
    }
    put_partitions(out, subscription.owned);
    put_big_endian<std::int32_t>(out, subscription.generation_id);
    put_user_data(out, subscription.user_data);
    return out;
}

std::optional<Subscription> decode_subscription(const std::string& bytes) {
    Reader in(bytes);
    if (in.get<std::int16_t>() != version) {
        return std::nullopt;
    }
    const std::optional<std::int32_t> count = in.get<std::int32_t>();
    if (!count || *count < 0) {
        return std::nullopt;
    }
    Subscription subscription;
    for (std::int32_t i = 0; i < *count; ++i) {
        std::optional<std::string> topic = in.name();
        if (!topic || (!subscription.topics.empty() && subscription.topics.back() >= *topic)) {
            return std::nullopt;
        }
        subscription.topics.push_back(std::move(*topic));
    }
    std::optional<std::vector<protocol::TopicPartition>> owned = in.partitions();
    const std::optional<std::int32_t> generation = owned ? in.get<std::int32_t>() : std::nullopt;
    std::optional<std::string> data = generation ? in.user_data() : std::nullopt;
    if (!data || !in.at_end()) {
        return std::nullopt;
    }
    subscription.owned = std::move(*owned);
    subscription.generation_id = *generation;
    subscription.user_data = std::move(*data);
    return subscription;
}

std::string encode_assignment(const Assignment& assignment) {
    std::string out;
    put_big_endian<std::int16_t>(out, version);
    put_partitions(out, assignment.partitions);
    put_user_data(out, assignment.user_data);
    return out;
}

std::optional<Assignment> decode_assignment(const std::string& bytes) {
    Reader in(bytes);
    if (in.get<std::int16_t>() != version) {
        return std::nullopt;
    }
    std::optional<std::vector<protocol::TopicPartition>> partitions = in.partitions();
    std::optional<std::string> data = partitions ? in.user_data() : std::nullopt;
    if (!data || !in.at_end()) {
        return std::nullopt;
    }
    return Assignment{std::move(*partitions), std::move(*data)};
}

std::map<std::string, Assignment> range_assign(const std::map<std::string, std::int32_t>& partitions_per_topic,
                                               const std::map<std::string, Subscription>& subscriptions) {
    std::map<std::string, Assignment> assignment;
    std::map<std::string, std::vector<std::string>> members_of;  // topic -> subscribed members, in id order
    for (const auto& [member, subscription] : subscriptions) {
        assignment[member];
        for (const std::string& topic : subscription.topics) {
            members_of[topic].push_back(member);
        }
    }
    for (const auto& [topic, members] : members_of) {
        const auto count = partitions_per_topic.find(topic);
        if (count == partitions_per_topic.end()) {
            continue;  // not (yet) a topic
        }
        const auto size = static_cast<std::int32_t>(members.size());
        const std::int32_t each = count->second / size;
        const std::int32_t extra = count->second % size;
        for (std::int32_t i = 0; i < size; ++i) {
            const std::int32_t start = each * i + std::min(i, extra);
            const std::int32_t length = each + (i < extra ? 1 : 0);
            std::vector<protocol::TopicPartition>& partitions =
                assignment[members[static_cast<std::size_t>(i)]].partitions;
            for (std::int32_t p = start; p < start + length; ++p) {
                partitions.push_back(protocol::TopicPartition{topic, p});
            }
        }
    }
    for (auto& [member, given] : assignment) {
        std::sort(given.partitions.begin(), given.partitions.end());
    }
    return assignment;
}

namespace {

using protocol::TopicPartition;
using Partitions = std::vector<TopicPartition>;
using Members = std::map<std::string, Partitions>;

bool subscribes(const Subscription& subscription, const std::string& topic) {
    return std::binary_search(subscription.topics.begin(), subscription.topics.end(), topic);
}

bool exists(const std::map<std::string, std::int32_t>& partitions_per_topic, const TopicPartition& partition) {
    const auto count = partitions_per_topic.find(partition.topic);
    return count != partitions_per_topic.end() && partition.partition >= 0 && partition.partition < count->second;
}

// What each member may keep of what it claims to own: a partition that still exists, of a topic the
// member still subscribes to, and claimed by nobody of a higher generation. Two claimants of the same
// (highest) generation cannot both be right, so neither keeps it.
Members valid_ownership(const std::map<std::string, std::int32_t>& partitions_per_topic,
                        const std::map<std::string, Subscription>& subscriptions) {
    struct Claim {
        std::int32_t generation = 0;
        std::vector<std::string> members;
    };
    std::map<TopicPartition, Claim> claims;
    for (const auto& [member, subscription] : subscriptions) {
        for (const TopicPartition& partition : subscription.owned) {
            if (!exists(partitions_per_topic, partition) || !subscribes(subscription, partition.topic)) {
                continue;
            }
            const auto [claim, first] = claims.try_emplace(partition, Claim{subscription.generation_id, {}});
            Claim& it = claim->second;
            if (subscription.generation_id > it.generation) {
                it = Claim{subscription.generation_id, {}};
            }
            if (subscription.generation_id == it.generation &&
                (it.members.empty() || it.members.back() != member)) {  // a member listing it twice is one claim
                it.members.push_back(member);
            }
        }
    }
    Members owned;
    for (const auto& [member, subscription] : subscriptions) {
        owned[member];
    }
    for (const auto& [partition, claim] : claims) {
        if (claim.members.size() == 1) {
            owned[claim.members.front()].push_back(partition);
        }
    }
    return owned;
}

// The partitions of the topics somebody subscribes to and that exist, topic by topic.
Partitions subscribed_partitions(const std::map<std::string, std::int32_t>& partitions_per_topic,
                                 const std::map<std::string, Subscription>& subscriptions) {
    std::set<std::string> topics;
    for (const auto& [member, subscription] : subscriptions) {
        topics.insert(subscription.topics.begin(), subscription.topics.end());
    }
    Partitions all;
    for (const std::string& topic : topics) {
        const auto count = partitions_per_topic.find(topic);
        for (std::int32_t p = 0; count != partitions_per_topic.end() && p < count->second; ++p) {
            all.push_back(TopicPartition{topic, p});
        }
    }
    return all;
}

// Counts for the case where every member can take every partition: each ends with `min` or `min + 1`
// partitions, exactly `extra` of them with the larger count.
struct Quota {
    std::size_t min = 0;
    std::size_t extra = 0;
    std::size_t over = 0;  // members given min + 1 so far
};

// Keeps what each member owned, up to its share: all of it under `min`; `min + 1` while fewer than
// `extra` members have that many; `min` otherwise (the rest is revoked). Members left under `min` are
// `under`; members at `min` that may still take one more are `at_min`.
Members keep_owned(Members owned, Quota& quota, std::vector<std::string>& under, std::deque<std::string>& at_min) {
    Members assignment;
    for (auto& [member, mine] : owned) {
        // Kafka keeps the lowest partition numbers first, whatever their topic.
        std::sort(mine.begin(), mine.end(), [](const TopicPartition& a, const TopicPartition& b) {
            return std::tie(a.partition, a.topic) < std::tie(b.partition, b.topic);
        });
        std::size_t keep = quota.min;
        if (mine.size() < quota.min) {
            keep = mine.size();
            under.push_back(member);
        } else if (mine.size() > quota.min && quota.over < quota.extra) {
            keep = quota.min + 1;
            if (++quota.over == quota.extra) {
                at_min.clear();  // the members with one more are all chosen
            }
        } else if (quota.over < quota.extra) {
            at_min.push_back(member);
        }
        assignment[member].assign(mine.begin(), mine.begin() + static_cast<std::ptrdiff_t>(keep));
    }
    return assignment;
}

// Every member subscribes to the same topics (Kafka's constrained assignment): keep owned partitions
// within the quota, then deal the rest round-robin to the members under `min`, then one each to the
// members at `min` while members with one more are still missing.
Members constrained_assign(const Partitions& all, const Members& owned) {
    Quota quota{all.size() / owned.size(), all.size() % owned.size(), 0};
    std::vector<std::string> under;
    std::deque<std::string> at_min;
    Members assignment = keep_owned(owned, quota, under, at_min);
    std::set<TopicPartition> taken;
    for (const auto& [member, given] : assignment) {
        taken.insert(given.begin(), given.end());
    }
    std::size_t next = 0;
    for (const TopicPartition& partition : all) {
        if (taken.contains(partition)) {
            continue;
        }
        if (!under.empty()) {
            next = next < under.size() ? next : 0;
            Partitions& given = assignment[under[next]];
            given.push_back(partition);
            if (given.size() == quota.min) {
                at_min.push_back(under[next]);
                under.erase(under.begin() + static_cast<std::ptrdiff_t>(next));
            } else {
                ++next;
            }
        } else if (!at_min.empty()) {
            assignment[at_min.front()].push_back(partition);
            at_min.pop_front();
        }
    }
    return assignment;
}

// The member with the fewest partitions among those subscribed to `topic` (the first in id order on a
// tie), other than `except`; nothing when there is none.
const std::string* least_loaded(const Members& assignment, const std::map<std::string, Subscription>& subscriptions,
                                const std::string& topic, const std::string* except) {
    const std::string* best = nullptr;
    for (const auto& [member, given] : assignment) {
        if ((except != nullptr && member == *except) || !subscribes(subscriptions.at(member), topic)) {
            continue;
        }
        if (best == nullptr || given.size() < assignment.at(*best).size()) {
            best = &member;
        }
    }
    return best;
}

struct Step {
    std::string from;
    std::string to;
    TopicPartition partition;
};

// A chain of moves that takes one partition off `source` and adds one to a member with at least two
// fewer, every member in between giving one and taking one (a breadth-first search, so the shortest).
// With `only_new`, a member may only pass on partitions it did not own before. Empty when none exists.
std::vector<Step> find_chain(const Members& assignment, const Members& owned,
                             const std::map<std::string, Subscription>& subscriptions, const std::string& source,
                             bool only_new) {
    std::map<std::string, Step> reached_by{{source, Step{}}};
    std::deque<std::string> queue{source};
    while (!queue.empty()) {
        const std::string at = queue.front();
        queue.pop_front();
        const Partitions& kept = owned.at(at);
        for (const TopicPartition& partition : assignment.at(at)) {
            if (only_new && std::binary_search(kept.begin(), kept.end(), partition)) {
                continue;
            }
            for (const auto& [member, given] : assignment) {
                if (reached_by.contains(member) || !subscribes(subscriptions.at(member), partition.topic)) {
                    continue;
                }
                reached_by[member] = Step{at, member, partition};
                if (given.size() + 1 < assignment.at(source).size()) {
                    std::vector<Step> chain;
                    for (std::string end = member; end != source; end = reached_by.at(end).from) {
                        chain.push_back(reached_by.at(end));
                    }
                    return chain;
                }
                queue.push_back(member);
            }
        }
    }
    return {};
}

// Applies chains from the fullest members first until none is left. Each chain lowers the sum of the
// squared counts, so this ends; and with no chain left the counts are as even as subscriptions allow.
void balance(Members& assignment, const Members& owned, const std::map<std::string, Subscription>& subscriptions,
             bool only_new) {
    for (bool moved = true; moved;) {
        moved = false;
        std::vector<std::string> fullest;
        for (const auto& [member, given] : assignment) {
            fullest.push_back(member);
        }
        std::stable_sort(fullest.begin(), fullest.end(), [&](const std::string& a, const std::string& b) {
            return assignment.at(a).size() > assignment.at(b).size();
        });
        for (const std::string& source : fullest) {
            const std::vector<Step> chain = find_chain(assignment, owned, subscriptions, source, only_new);
            for (const Step& step : chain) {
                Partitions& from = assignment.at(step.from);
                from.erase(std::find(from.begin(), from.end(), step.partition));
                assignment.at(step.to).push_back(step.partition);
            }
            if (!chain.empty()) {
                moved = true;
                break;
            }
        }
    }
}

// Members subscribe to different topics (Kafka's general assignment): keep what each owned, give each
// other partition (those fewest members can take first) to the least loaded member that can take it,
// then even out the counts, first moving only partitions handed out this round and then, where that
// is not enough, partitions members owned. Evening out newly handed partitions first also means that
// the round after a cooperative one (what was withheld is now free) ends where the one before aimed.
Members general_assign(const Partitions& all, const Members& owned,
                       const std::map<std::string, Subscription>& subscriptions) {
    Members assignment = owned;
    std::set<TopicPartition> taken;
    for (const auto& [member, given] : owned) {
        taken.insert(given.begin(), given.end());
    }
    std::map<std::string, std::size_t> takers;  // topic -> members subscribed to it
    for (const auto& [member, subscription] : subscriptions) {
        for (const std::string& topic : subscription.topics) {
            ++takers[topic];
        }
    }
    Partitions rest;
    std::copy_if(all.begin(), all.end(), std::back_inserter(rest),
                 [&](const TopicPartition& partition) { return !taken.contains(partition); });
    std::stable_sort(rest.begin(), rest.end(), [&](const TopicPartition& a, const TopicPartition& b) {
        return takers[a.topic] < takers[b.topic];
    });
    for (const TopicPartition& partition : rest) {
        if (const std::string* to = least_loaded(assignment, subscriptions, partition.topic, nullptr)) {
            assignment.at(*to).push_back(partition);
        }
    }
    balance(assignment, owned, subscriptions, true);
    balance(assignment, owned, subscriptions, false);
    return assignment;
}

// The cooperative step: a partition given to a member that did not own it, while another member that
// owned it is not given it, is still held there; it is left out until that owner has revoked it.
void withhold_moving(Members& assignment, const std::map<std::string, Subscription>& subscriptions) {
    std::set<TopicPartition> revoked;
    for (const auto& [member, given] : assignment) {
        for (const TopicPartition& partition : subscriptions.at(member).owned) {
            if (std::find(given.begin(), given.end(), partition) == given.end()) {
                revoked.insert(partition);
            }
        }
    }
    for (auto& [member, given] : assignment) {
        const Partitions& mine = subscriptions.at(member).owned;
        std::erase_if(given, [&](const TopicPartition& partition) {
            return revoked.contains(partition) && std::find(mine.begin(), mine.end(), partition) == mine.end();
        });
    }
}

}  // namespace

std::map<std::string, Assignment> cooperative_sticky_assign(
    const std::map<std::string, std::int32_t>& partitions_per_topic,
    const std::map<std::string, Subscription>& subscriptions) {
    std::map<std::string, Assignment> result;
    if (subscriptions.empty()) {
        return result;
    }
    const Members owned = valid_ownership(partitions_per_topic, subscriptions);
    const Partitions all = subscribed_partitions(partitions_per_topic, subscriptions);
    const std::vector<std::string>& first_topics = subscriptions.begin()->second.topics;
    const bool same_topics = std::all_of(subscriptions.begin(), subscriptions.end(),
                                         [&](const auto& entry) { return entry.second.topics == first_topics; });
    Members assignment = same_topics ? constrained_assign(all, owned) : general_assign(all, owned, subscriptions);
    withhold_moving(assignment, subscriptions);
    for (auto& [member, given] : assignment) {
        std::sort(given.begin(), given.end());
        result[member].partitions = std::move(given);
    }
    return result;
}

}  // namespace eosim::client_core
