#include "streams_core/state_directory.h"

#include <charconv>
#include <cstring>
#include <sstream>

#include "sim/crc32c.h"
#include "sim/simulation.h"
#include "sim/trace.h"

namespace eosim::streams_core {

namespace {

constexpr std::uint8_t put_kind = 1;
// A checkpoint line that gives a store file's size, not a changelog offset ('#' is not in topic names).
constexpr std::string_view file_tag = "#file";
constexpr std::uint8_t delete_kind = 0;
// A store file is rewritten from its store when it holds this many entries more than the store does.
constexpr std::uint64_t rewrite_slack = 1000;

void put_u32(std::string& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) {
        out += static_cast<char>((value >> static_cast<unsigned>(shift)) & 0xFFU);
    }
}

std::uint32_t get_u32(std::span<const std::byte> bytes, std::size_t at) {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        value = (value << 8U) | std::to_integer<std::uint32_t>(bytes[at + i]);
    }
    return value;
}

std::span<const std::byte> as_bytes(const std::string& text) {
    return {reinterpret_cast<const std::byte*>(text.data()), text.size()};  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}

std::uint32_t checksum(const std::string& text) { return sim::crc32c(as_bytes(text)); }

// One entry: its checksum, then its body.
std::string entry(const std::string& key, const std::optional<std::string>& value) {
    std::string body;
    body += static_cast<char>(value ? put_kind : delete_kind);
    put_u32(body, static_cast<std::uint32_t>(key.size()));
    body += key;
    if (value) {
        put_u32(body, static_cast<std::uint32_t>(value->size()));
        body += *value;
    }
    std::string out;
    put_u32(out, checksum(body));
    return out + body;
}

std::string text_of(std::span<const std::byte> bytes, std::size_t at, std::size_t length) {
    return {reinterpret_cast<const char*>(bytes.data() + at), length};  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}

}  // namespace

StateDirectory::StateDirectory(sim::Disk& disk, const std::string& application_id)
    : disk_(disk), root_("streams/" + application_id + "/") {}

std::string StateDirectory::task_dir(TaskId id) const {
    return root_ + std::to_string(id.subtopology) + "_" + std::to_string(id.partition) + "/";
}

std::string StateDirectory::store_file(TaskId id, const std::string& store) const { return task_dir(id) + store + ".db"; }

bool StateDirectory::lock(TaskId id, const std::string& owner) {
    const auto [held, fresh] = locks_.try_emplace(id, owner);
    return fresh || held->second == owner;
}

void StateDirectory::unlock(TaskId id, const std::string& owner) {
    const auto held = locks_.find(id);
    if (held != locks_.end() && held->second == owner) {
        locks_.erase(held);
    }
}

std::optional<std::string> StateDirectory::checkpoint_body(TaskId id) const {
    const sim::Result<std::vector<std::byte>> bytes = disk_.read_all(checkpoint_file(id));
    if (!bytes) {
        return std::nullopt;
    }
    const std::string text = text_of(*bytes, 0, bytes->size());
    const std::size_t last = text.rfind("crc ");
    if (last == std::string::npos || (last != 0 && text[last - 1] != '\n')) {
        return std::nullopt;
    }
    const std::string body = text.substr(0, last);
    std::uint32_t stored = 0;
    const std::string crc = text.substr(last + 4);
    const auto [end, error] = std::from_chars(crc.data(), crc.data() + crc.size(), stored);
    if (error != std::errc() || std::string_view(end, crc.data() + crc.size()) != "\n" || stored != checksum(body)) {
        return std::nullopt;  // torn or corrupted: as if there were none
    }
    return body;
}

std::optional<StateDirectory::Offsets> StateDirectory::checkpoint(TaskId id) const {
    const std::optional<std::string> body = checkpoint_body(id);
    if (!body) {
        return std::nullopt;
    }
    Offsets offsets;
    std::istringstream in(*body);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string topic;
        std::int32_t partition = 0;
        std::int64_t offset = 0;
        if (fields >> topic >> partition >> offset && topic != file_tag) {
            offsets.emplace(protocol::TopicPartition{topic, partition}, protocol::Offset(offset));
        }
    }
    return offsets;
}

bool StateDirectory::intact(TaskId id) const {
    const std::optional<std::string> body = checkpoint_body(id);
    if (!body) {
        return true;
    }
    std::istringstream in(*body);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string tag;
        std::string name;
        std::uint64_t size = 0;
        if (!(fields >> tag >> name >> size) || tag != file_tag) {
            continue;
        }
        const sim::Result<std::vector<std::byte>> bytes = disk_.read_all(task_dir(id) + name);
        std::size_t good_end = 0;
        if (bytes) {
            (void)parse(*bytes, good_end);
        }
        if (good_end < size) {
            sim::trace("StreamsStateCorrupted").detail("file", task_dir(id) + name).detail("good", good_end).detail("checkpointed", size);
            return false;
        }
    }
    return true;
}

bool StateDirectory::write_checkpoint(TaskId id, const Offsets& offsets) {
    if (failed_.contains(id)) {
        return false;
    }
    std::string body;
    for (const auto& [partition, offset] : offsets) {
        body += partition.topic + " " + std::to_string(partition.partition) + " " + std::to_string(offset.value()) + "\n";
    }
    // How much of each store file the checkpoint vouches for (the caller flushed them just before).
    for (const std::string& path : disk_.list(task_dir(id))) {
        if (path.ends_with(".db")) {
            const sim::Result<std::uint64_t> size = disk_.size(path);
            body += std::string(file_tag) + " " + path.substr(task_dir(id).size()) + " " +
                    std::to_string(size ? *size : 0) + "\n";
        }
    }
    const std::string text = body + "crc " + std::to_string(checksum(body)) + "\n";
    const std::string temporary = checkpoint_file(id) + ".tmp";
    if (!disk_.create(temporary) || !disk_.truncate(temporary, 0) || !disk_.append(temporary, as_bytes(text)) ||
        !disk_.fsync(temporary) || !disk_.rename(temporary, checkpoint_file(id))) {
        sim::trace("StreamsCheckpointFailed").detail("task", task_dir(id));
        return false;
    }
    // The new name is durable only with its directory (the store files the flush made are in it too).
    return disk_.fsync_directory(sim::Disk::directory_of(checkpoint_file(id))).ok();
}

void StateDirectory::delete_checkpoint(TaskId id) {
    if (disk_.exists(checkpoint_file(id))) {
        (void)disk_.remove(checkpoint_file(id));
        // A removal the crash undoes would bring back a checkpoint vouching for stores that moved on.
        (void)disk_.fsync_directory(sim::Disk::directory_of(checkpoint_file(id)));
    }
}

bool StateDirectory::has_state(TaskId id) const {
    for (const std::string& path : disk_.list(task_dir(id))) {
        if (path.ends_with(".db")) {
            const sim::Result<std::uint64_t> size = disk_.size(path);
            if (size && *size > 0) {
                return true;
            }
        }
    }
    return false;
}

std::map<std::string, std::string> StateDirectory::load(TaskId id, const std::string& store) const {
    const sim::Result<std::vector<std::byte>> read = disk_.read_all(store_file(id, store));
    std::size_t good_end = 0;
    return read ? parse(*read, good_end) : std::map<std::string, std::string>{};
}

std::map<std::string, std::string> StateDirectory::parse(std::span<const std::byte> bytes, std::size_t& good_end) {
    std::map<std::string, std::string> entries;
    std::size_t at = 0;
    good_end = 0;
    while (at + 9 <= bytes.size()) {
        const std::uint32_t crc = get_u32(bytes, at);
        const auto kind = std::to_integer<std::uint8_t>(bytes[at + 4]);
        const std::size_t key_length = get_u32(bytes, at + 5);
        std::size_t end = at + 9 + key_length;
        if ((kind != put_kind && kind != delete_kind) || end > bytes.size()) {
            break;
        }
        std::size_t value_length = 0;
        if (kind == put_kind) {
            if (end + 4 > bytes.size()) {
                break;
            }
            value_length = get_u32(bytes, end);
            end += 4 + value_length;
            if (end > bytes.size()) {
                break;
            }
        }
        if (sim::crc32c(bytes.subspan(at + 4, end - at - 4)) != crc) {
            break;  // torn or corrupted: what follows is not trusted either
        }
        std::string key = text_of(bytes, at + 9, key_length);
        if (kind == put_kind) {
            entries.insert_or_assign(std::move(key), text_of(bytes, end - value_length, value_length));
        } else {
            entries.erase(key);
        }
        at = end;
        good_end = end;
    }
    return entries;
}

void StateDirectory::write(TaskId id, const std::string& store, const std::string& key,
                           const std::optional<std::string>& value) {
    const std::string path = store_file(id, store);
    if (!disk_.create(path) || !disk_.append(path, as_bytes(entry(key, value)))) {
        failed_.insert(id);
        return;
    }
    ++appended_[path];
}

bool StateDirectory::flush(TaskId id, const std::map<std::string, std::unique_ptr<KeyValueStore>>& stores) {
    for (const auto& [name, store] : stores) {
        const std::string path = store_file(id, name);
        if (!disk_.exists(path)) {
            continue;
        }
        if (appended_[path] > store->all().size() + rewrite_slack) {
            std::string text;
            for (const auto& [key, value] : store->all()) {
                text += entry(key, value);
            }
            const std::string temporary = path + ".tmp";
            if (!disk_.create(temporary) || !disk_.truncate(temporary, 0) || !disk_.append(temporary, as_bytes(text)) ||
                !disk_.fsync(temporary) || !disk_.rename(temporary, path)) {
                failed_.insert(id);
                return false;
            }
            appended_[path] = store->all().size();
            continue;
        }
        if (!disk_.fsync(path)) {
            failed_.insert(id);
            return false;
        }
    }
    return !failed_.contains(id);
}

void StateDirectory::wipe(TaskId id) {
    for (const std::string& path : disk_.list(task_dir(id))) {
        (void)disk_.remove(path);
        appended_.erase(path);
    }
    failed_.erase(id);
}

std::map<TaskId, std::int64_t> StateDirectory::offset_sums() const {
    std::map<TaskId, std::int64_t> sums;
    for (const std::string& path : disk_.list(root_)) {
        if (!path.ends_with("/.checkpoint")) {
            continue;
        }
        const std::string dir = path.substr(root_.size(), path.size() - root_.size() - std::strlen("/.checkpoint"));
        const std::size_t cut = dir.find('_');
        std::int32_t subtopology = 0;
        std::int32_t partition = 0;
        if (cut == std::string::npos ||
            std::from_chars(dir.data(), dir.data() + cut, subtopology).ec != std::errc() ||
            std::from_chars(dir.data() + cut + 1, dir.data() + dir.size(), partition).ec != std::errc()) {
            continue;
        }
        const TaskId id{subtopology, partition};
        if (const std::optional<Offsets> offsets = checkpoint(id)) {
            std::int64_t sum = 0;
            for (const auto& [changelog, offset] : *offsets) {
                sum += offset.value();
            }
            sums.emplace(id, sum);
        }
    }
    return sums;
}

}  // namespace eosim::streams_core
