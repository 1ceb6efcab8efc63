#include "client_core/assignors.h"

#include <algorithm>
#include <set>

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
    if (!generation || !in.at_end()) {
        return std::nullopt;
    }
    subscription.owned = std::move(*owned);
    subscription.generation_id = *generation;
    return subscription;
}

std::string encode_assignment(const Assignment& assignment) {
    std::string out;
    put_big_endian<std::int16_t>(out, version);
    put_partitions(out, assignment.partitions);
    return out;
}

std::optional<Assignment> decode_assignment(const std::string& bytes) {
    Reader in(bytes);
    if (in.get<std::int16_t>() != version) {
        return std::nullopt;
    }
    std::optional<std::vector<protocol::TopicPartition>> partitions = in.partitions();
    if (!partitions || !in.at_end()) {
        return std::nullopt;
    }
    return Assignment{std::move(*partitions)};
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

}  // namespace eosim::client_core
