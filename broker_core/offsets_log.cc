#include "broker_core/offsets_log.h"

#include <algorithm>
#include <vector>

#include "broker_core/byte_io.h"
#include "protocol/control_record.h"
#include "sim/assert.h"

namespace eosim::broker_core {

namespace {

constexpr std::int16_t offset_key_kind = 1;  // Kafka's offset commit key (versions 0 and 1)
constexpr std::int16_t group_key_kind = 2;   // Kafka's group metadata key (version 2)
constexpr std::int16_t value_format = 1;

void put_string(ByteWriter& out, const std::string& text) {
    out.put(static_cast<std::int32_t>(text.size()));
    out.put_bytes(text);
}

void put_optional(ByteWriter& out, const std::optional<std::string>& text) {
    if (text) {
        put_string(out, *text);
    } else {
        out.put(std::int32_t{-1});
    }
}

std::string text_of(ByteWriter& out) { return to_text(out.bytes()); }

std::optional<std::string> get_string(ByteReader& in) {
    const std::optional<std::int32_t> length = in.get<std::int32_t>();
    return length ? in.get_string(*length) : std::nullopt;
}

// An absent string reads as nullopt inside a present optional; a truncated one as nullopt outside.
std::optional<std::optional<std::string>> get_optional(ByteReader& in) {
    const std::optional<std::int32_t> length = in.get<std::int32_t>();
    if (!length) {
        return std::nullopt;
    }
    if (*length == -1) {
        return std::optional<std::string>();
    }
    const std::optional<std::string> text = in.get_string(*length);
    return text ? std::optional(text) : std::nullopt;
}

ByteReader reader_of(const std::string& text) { return ByteReader(bytes_of(text)); }

std::string offset_key(const std::string& group, const protocol::TopicPartition& partition) {
    ByteWriter out;
    out.put(offset_key_kind);
    put_string(out, group);
    put_string(out, partition.topic);
    out.put(partition.partition);
    return text_of(out);
}

std::string group_key(const std::string& group) {
    ByteWriter out;
    out.put(group_key_kind);
    put_string(out, group);
    return text_of(out);
}

struct Key {
    std::int16_t kind = 0;
    std::string group;
    protocol::TopicPartition partition;
};

std::optional<Key> decode_key(const std::string& text) {
    ByteReader in = reader_of(text);
    Key key;
    const std::optional<std::int16_t> kind = in.get<std::int16_t>();
    const std::optional<std::string> group = kind ? get_string(in) : std::nullopt;
    if (!group) {
        return std::nullopt;
    }
    key.kind = *kind;
    key.group = *group;
    if (key.kind == offset_key_kind) {
        const std::optional<std::string> topic = get_string(in);
        const std::optional<std::int32_t> partition = topic ? in.get<std::int32_t>() : std::nullopt;
        if (!partition || topic->empty() || *partition < 0) {
            return std::nullopt;
        }
        key.partition = protocol::TopicPartition{*topic, *partition};
    } else if (key.kind != group_key_kind) {
        return std::nullopt;
    }
    return in.position() == text.size() ? std::optional(key) : std::nullopt;
}

std::optional<OffsetAndMetadata> decode_offset(const std::string& text) {
    ByteReader in = reader_of(text);
    OffsetAndMetadata value;
    const std::optional<std::int16_t> format = in.get<std::int16_t>();
    const std::optional<std::int64_t> offset = format == value_format ? in.get<std::int64_t>() : std::nullopt;
    const std::optional<std::int32_t> epoch = offset ? in.get<std::int32_t>() : std::nullopt;
    const std::optional<std::string> metadata = epoch ? get_string(in) : std::nullopt;
    const std::optional<std::int64_t> timestamp = metadata ? in.get<std::int64_t>() : std::nullopt;
    if (!timestamp || *offset < 0 || *epoch < -1 || in.position() != text.size()) {
        return std::nullopt;
    }
    value.offset = *offset;
    value.leader_epoch = *epoch;
    value.metadata = *metadata;
    value.commit_timestamp_ms = *timestamp;
    return value;
}

struct GroupValue {
    std::string protocol_type;
    std::int32_t generation_id = 0;
    std::optional<std::string> protocol_name;
    std::optional<std::string> leader_id;
    std::vector<GroupMember> members;
};

std::optional<GroupMember> decode_member(ByteReader& in, const std::string& protocol_type,
                                         const std::optional<std::string>& protocol_name) {
    GroupMember member;
    const std::optional<std::string> id = get_string(in);
    const std::optional<std::string> client = id ? get_string(in) : std::nullopt;
    const std::optional<std::int32_t> rebalance = client ? in.get<std::int32_t>() : std::nullopt;
    const std::optional<std::int32_t> session = rebalance ? in.get<std::int32_t>() : std::nullopt;
    const std::optional<std::string> subscription = session ? get_string(in) : std::nullopt;
    const std::optional<std::string> assignment = subscription ? get_string(in) : std::nullopt;
    if (!assignment || id->empty() || *rebalance <= 0 || *session <= 0) {
        return std::nullopt;
    }
    member.member_id = *id;
    member.client_id = *client;
    member.rebalance_timeout_ms = *rebalance;
    member.session_timeout_ms = *session;
    member.protocol_type = protocol_type;
    if (protocol_name) {
        member.protocols.push_back(GroupProtocol{*protocol_name, *subscription});
    }
    member.assignment = *assignment;
    return member;
}

std::optional<GroupValue> decode_group(const std::string& text) {
    ByteReader in = reader_of(text);
    GroupValue value;
    const std::optional<std::int16_t> format = in.get<std::int16_t>();
    const std::optional<std::string> type = format == value_format ? get_string(in) : std::nullopt;
    const std::optional<std::int32_t> generation = type ? in.get<std::int32_t>() : std::nullopt;
    const auto protocol = generation ? get_optional(in) : std::nullopt;
    const auto leader = protocol ? get_optional(in) : std::nullopt;
    const std::optional<std::int32_t> count = leader ? in.get<std::int32_t>() : std::nullopt;
    if (!count || *generation < 0 || *count < 0) {
        return std::nullopt;
    }
    value.protocol_type = *type;
    value.generation_id = *generation;
    value.protocol_name = *protocol;
    value.leader_id = *leader;
    for (std::int32_t i = 0; i < *count; ++i) {
        std::optional<GroupMember> member = decode_member(in, value.protocol_type, value.protocol_name);
        if (!member) {
            return std::nullopt;
        }
        value.members.push_back(std::move(*member));
    }
    const bool leads = !value.leader_id || std::any_of(value.members.begin(), value.members.end(),
                                                       [&value](const GroupMember& m) { return m.member_id == *value.leader_id; });
    if (!leads || value.members.empty() != !value.leader_id || in.position() != text.size()) {
        return std::nullopt;  // a leader that is not a member, or members without a leader
    }
    return value;
}

GroupMetadata group_of(const std::string& id, GroupValue value) {
    GroupMetadata group(id, value.members.empty() ? GroupState::empty : GroupState::stable);
    group.restore(value.generation_id, value.protocol_type, value.protocol_name);
    for (GroupMember& member : value.members) {
        const bool added = group.add(std::move(member));
        EOSIM_ASSERT_MSG(added, "a group record with a member twice");
    }
    if (value.leader_id) {
        const bool leads = group.set_leader(*value.leader_id);
        EOSIM_ASSERT_MSG(leads, "decode_group checks that the leader is a member");
    }
    return group;
}

}  // namespace

protocol::Record offset_commit_record(const std::string& group, const protocol::TopicPartition& partition,
                                      const OffsetAndMetadata& value, std::int64_t timestamp_ms) {
    ByteWriter out;
    out.put(value_format);
    out.put(value.offset);
    out.put(value.leader_epoch);
    put_string(out, value.metadata);
    out.put(value.commit_timestamp_ms);
    return protocol::Record{.key = offset_key(group, partition), .value = text_of(out), .timestamp_ms = timestamp_ms};
}

protocol::Record offset_commit_tombstone(const std::string& group, const protocol::TopicPartition& partition,
                                         std::int64_t timestamp_ms) {
    return protocol::Record{.key = offset_key(group, partition), .value = std::nullopt, .timestamp_ms = timestamp_ms};
}

protocol::Record group_metadata_record(const GroupMetadata& group, std::int64_t timestamp_ms) {
    ByteWriter out;
    out.put(value_format);
    put_string(out, group.protocol_type().value_or(""));
    out.put(group.generation_id());
    put_optional(out, group.protocol_name());
    put_optional(out, group.members().empty() ? std::nullopt : group.leader_id());
    out.put(static_cast<std::int32_t>(group.members().size()));
    for (const auto& [id, member] : group.members()) {
        put_string(out, member.member_id);
        put_string(out, member.client_id);
        out.put(member.rebalance_timeout_ms);
        out.put(member.session_timeout_ms);
        const std::string* subscription = group.protocol_name() ? member.metadata(*group.protocol_name()) : nullptr;
        put_string(out, subscription != nullptr ? *subscription : std::string());
        put_string(out, member.assignment);
    }
    return protocol::Record{.key = group_key(group.group_id()), .value = text_of(out), .timestamp_ms = timestamp_ms};
}

protocol::Record group_metadata_tombstone(const std::string& group, std::int64_t timestamp_ms) {
    return protocol::Record{.key = group_key(group), .value = std::nullopt, .timestamp_ms = timestamp_ms};
}

LoadedGroups load_groups(std::span<const protocol::RecordBatch> batches) {
    LoadedGroups loaded;
    for (const protocol::RecordBatch& batch : batches) {
        if (batch.control) {
            if (const std::optional<protocol::TransactionMarker> marker = protocol::marker_of(batch)) {
                loaded.offsets.end_transaction(batch.producer_id, marker->type == protocol::ControlType::commit);
            }
            continue;
        }
        for (std::size_t i = 0; i < batch.records.size(); ++i) {
            const protocol::Record& record = batch.records[i];
            const std::int64_t record_offset = batch.base_offset.value() + static_cast<std::int64_t>(i);
            ++loaded.records;
            const std::optional<Key> key = record.key ? decode_key(*record.key) : std::nullopt;
            if (!key) {
                ++loaded.refused;
                continue;
            }
            if (key->kind == group_key_kind) {
                std::optional<GroupValue> value = record.value ? decode_group(*record.value) : std::nullopt;
                if (!record.value) {
                    loaded.groups.erase(key->group);
                } else if (!value) {
                    ++loaded.refused;
                } else {
                    loaded.groups.insert_or_assign(key->group, group_of(key->group, std::move(*value)));
                }
                continue;
            }
            if (!record.value) {
                loaded.offsets.remove(key->group, key->partition);
                continue;
            }
            std::optional<OffsetAndMetadata> value = decode_offset(*record.value);
            if (!value) {
                ++loaded.refused;
                continue;
            }
            value->record_offset = record_offset;
            if (batch.transactional) {
                loaded.offsets.commit_pending(key->group, batch.producer_id, key->partition, std::move(*value));
            } else {
                loaded.offsets.commit(key->group, key->partition, std::move(*value));
            }
        }
    }
    return loaded;
}

}  // namespace eosim::broker_core
