#include "sim/disk.h"

#include <algorithm>
#include <cstring>

#include "sim/scheduler.h"

namespace eosim::sim {

std::string_view to_string(UnsyncedFate fate) {
    switch (fate) {
        case UnsyncedFate::lose: return "lose";
        case UnsyncedFate::keep: return "keep";
        case UnsyncedFate::tear: return "tear";
        case UnsyncedFate::random: return "random";
    }
    return "unknown";
}

bool parse_unsynced_fate(std::string_view name, UnsyncedFate& fate) {
    for (const UnsyncedFate candidate : {UnsyncedFate::lose, UnsyncedFate::keep, UnsyncedFate::tear, UnsyncedFate::random}) {
        if (to_string(candidate) == name) {
            fate = candidate;
            return true;
        }
    }
    return false;
}

Disk::Disk(DiskOptions options, Random random) : options_(options), random_(std::move(random)) {
    EOSIM_ASSERT(options_.sector_bytes > 0);
}

bool Disk::exists(const std::string& path) const { return files_.contains(path); }

Result<std::uint64_t> Disk::size(const std::string& path) const {
    const auto found = files_.find(path);
    if (found == files_.end()) {
        return errc::no_such_file;
    }
    return static_cast<std::uint64_t>(found->second->data.size());
}

std::vector<std::string> Disk::list(const std::string& prefix) const {
    std::vector<std::string> paths;
    for (auto it = files_.lower_bound(prefix); it != files_.end() && it->first.starts_with(prefix); ++it) {
        paths.push_back(it->first);
    }
    return paths;
}

std::string Disk::directory_of(const std::string& path) {
    const std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

void Disk::record(DirectoryOp op) {
    op.sequence = next_sequence_++;
    pending_[directory_of(op.path)].push_back(std::move(op));
}

void Disk::apply_durably(const DirectoryOp& op) {
    const auto unlink = [this](const std::string& path, const FilePtr& file) {
        if (const auto found = durable_files_.find(path); found != durable_files_.end() && found->second == file) {
            durable_files_.erase(found);
        }
    };
    switch (op.kind) {
        case DirectoryOp::Kind::link: durable_files_[op.path] = op.file; break;
        case DirectoryOp::Kind::unlink: unlink(op.path, op.file); break;
        case DirectoryOp::Kind::rename:
            unlink(op.from, op.file);
            durable_files_[op.path] = op.file;
            break;
    }
}

void Disk::apply_cut(File& file) const {
    if (file.unsynced_cut && file.durable.size() > *file.unsynced_cut) {
        file.durable.resize(*file.unsynced_cut);
    }
    file.unsynced_cut.reset();
}

void Disk::make_directory_durable(const std::string& directory, std::size_t count) {
    if (const auto found = pending_.find(directory); found != pending_.end()) {
        std::vector<DirectoryOp>& ops = found->second;
        EOSIM_ASSERT(count <= ops.size());
        for (std::size_t i = 0; i < count; ++i) {
            apply_durably(ops[i]);
        }
        ops.erase(ops.begin(), ops.begin() + static_cast<std::ptrdiff_t>(count));
        if (ops.empty()) {
            pending_.erase(found);
        }
    }
    for (auto& [path, file] : files_) {
        if (file->unsynced_cut && directory_of(path) == directory) {
            apply_cut(*file);
        }
    }
}

void Disk::make_all_directories_durable() {
    for (const auto& [directory, ops] : pending_) {
        for (const DirectoryOp& op : ops) {
            apply_durably(op);
        }
    }
    pending_.clear();
}

Status Disk::create(const std::string& path) {
    if (files_.contains(path)) {
        return ok_status();
    }
    FilePtr file = std::make_shared<File>();
    files_.emplace(path, file);
    if (options_.directory_ops_need_sync) {
        record(DirectoryOp{DirectoryOp::Kind::link, path, {}, std::move(file)});
    }
    return ok_status();
}

Status Disk::grow_to(File& file, std::uint64_t new_size) {
    if (new_size <= file.data.size()) {
        return ok_status();
    }
    const std::uint64_t growth = new_size - file.data.size();
    if (used_bytes_ + growth > options_.capacity_bytes) {
        if (on_full_) {
            on_full_();
        }
        return errc::disk_full;
    }
    used_bytes_ += growth;
    file.data.resize(new_size);
    return ok_status();
}

void Disk::mark_dirty(File& file, std::uint64_t offset, std::uint64_t length) const {
    if (length == 0) {
        return;
    }
    const std::uint64_t first = offset / options_.sector_bytes;
    const std::uint64_t last = (offset + length - 1) / options_.sector_bytes;
    for (std::uint64_t sector = first; sector <= last; ++sector) {
        file.dirty_sectors.insert(sector);
    }
}

Status Disk::write(const std::string& path, std::uint64_t offset, std::span<const std::byte> bytes) {
    const auto found = files_.find(path);
    if (found == files_.end()) {
        return errc::no_such_file;
    }
    File& file = *found->second;
    if (Status grown = grow_to(file, offset + bytes.size()); !grown) {
        return grown;
    }
    if (!bytes.empty()) {
        std::memcpy(file.data.data() + offset, bytes.data(), bytes.size());
    }
    mark_dirty(file, offset, bytes.size());
    return ok_status();
}

Status Disk::append(const std::string& path, std::span<const std::byte> bytes) {
    const auto found = files_.find(path);
    if (found == files_.end()) {
        return errc::no_such_file;
    }
    return write(path, found->second->data.size(), bytes);
}

Result<std::vector<std::byte>> Disk::read(const std::string& path, std::uint64_t offset, std::uint64_t length) const {
    const auto found = files_.find(path);
    if (found == files_.end()) {
        return errc::no_such_file;
    }
    const std::vector<std::byte>& data = found->second->data;
    if (offset >= data.size()) {
        return std::vector<std::byte>{};
    }
    const std::uint64_t end = std::min<std::uint64_t>(data.size(), offset + length);
    return std::vector<std::byte>(data.begin() + static_cast<std::ptrdiff_t>(offset),
                                  data.begin() + static_cast<std::ptrdiff_t>(end));
}

Result<std::vector<std::byte>> Disk::read_all(const std::string& path) const {
    return read(path, 0, UINT64_MAX);
}

Status Disk::truncate(const std::string& path, std::uint64_t new_size) {
    const auto found = files_.find(path);
    if (found == files_.end()) {
        return errc::no_such_file;
    }
    File& file = *found->second;
    if (new_size >= file.data.size()) {
        return grow_to(file, new_size);
    }
    used_bytes_ -= file.data.size() - new_size;
    file.data.resize(new_size);
    if (options_.directory_ops_need_sync) {
        file.unsynced_cut = std::min(file.unsynced_cut.value_or(new_size), new_size);
    } else if (file.durable.size() > new_size) {
        file.durable.resize(new_size);
    }
    // Sectors wholly past the end are gone; a sector cut in two stays dirty only if it was.
    const std::uint64_t first_gone = (new_size + options_.sector_bytes - 1) / options_.sector_bytes;
    file.dirty_sectors.erase(file.dirty_sectors.lower_bound(first_gone), file.dirty_sectors.end());
    return ok_status();
}

Status Disk::remove(const std::string& path) {
    const auto found = files_.find(path);
    if (found == files_.end()) {
        return errc::no_such_file;
    }
    used_bytes_ -= found->second->data.size();
    if (options_.directory_ops_need_sync) {
        record(DirectoryOp{DirectoryOp::Kind::unlink, path, {}, found->second});
    }
    files_.erase(found);
    return ok_status();
}

Status Disk::rename(const std::string& from, const std::string& to) {
    const auto found = files_.find(from);
    if (found == files_.end()) {
        return errc::no_such_file;
    }
    if (from == to) {
        return ok_status();
    }
    FilePtr moved = std::move(found->second);
    files_.erase(found);
    if (const auto existing = files_.find(to); existing != files_.end()) {
        used_bytes_ -= existing->second->data.size();
        files_.erase(existing);
    }
    if (options_.directory_ops_need_sync) {
        EOSIM_ASSERT_MSG(directory_of(from) == directory_of(to), "a rename stays in its directory: " + from + " -> " + to);
        record(DirectoryOp{DirectoryOp::Kind::rename, to, from, moved});
    }
    files_.emplace(to, std::move(moved));
    return ok_status();
}

void Disk::sync(File& file) const {
    apply_cut(file);  // the bytes past a cut are gone before the file grows again
    file.durable.resize(file.data.size());
    for (const std::uint64_t sector : file.dirty_sectors) {
        const std::uint64_t begin = sector * options_.sector_bytes;
        if (begin >= file.data.size()) {
            break;
        }
        const std::uint64_t end = std::min<std::uint64_t>(file.data.size(), begin + options_.sector_bytes);
        std::memcpy(file.durable.data() + begin, file.data.data() + begin, end - begin);
    }
    file.dirty_sectors.clear();
}

Duration Disk::draw_fsync_latency() {
    Duration latency = random_.duration_between(options_.fsync_latency_min, options_.fsync_latency_max);
    if (random_.chance(options_.slow_fsync_probability)) {
        latency = Duration(static_cast<std::int64_t>(static_cast<double>(latency.count()) * options_.slow_fsync_factor));
    }
    return latency + fsync_stall_;
}

Status Disk::fsync(const std::string& path) {
    if (!files_.contains(path)) {
        return errc::no_such_file;
    }
    Scheduler& scheduler = current_scheduler();
    if (scheduler.in_fiber()) {
        scheduler.sleep_until(scheduler.now() + draw_fsync_latency());
    }
    // Re-check after the suspension: the file may have gone meanwhile.
    const auto found = files_.find(path);
    if (found == files_.end()) {
        return errc::no_such_file;
    }
    sync(*found->second);
    return ok_status();
}

Status Disk::fsync_directory(const std::string& directory) {
    if (!options_.directory_ops_need_sync) {
        return ok_status();
    }
    Scheduler& scheduler = current_scheduler();
    const std::uint64_t made_before = next_sequence_;
    if (scheduler.in_fiber()) {
        scheduler.sleep_until(scheduler.now() + draw_fsync_latency());
    }
    // What was made before the call is durable; what was made during the wait may not be (another sync
    // or a crash meanwhile may have taken some of the earlier ones already).
    std::size_t count = 0;
    if (const auto found = pending_.find(directory); found != pending_.end()) {
        while (count < found->second.size() && found->second[count].sequence < made_before) {
            ++count;
        }
    }
    make_directory_durable(directory, count);
    return ok_status();
}

Status Disk::fsync_all() {
    Scheduler& scheduler = current_scheduler();
    if (scheduler.in_fiber()) {
        scheduler.sleep_until(scheduler.now() + draw_fsync_latency());
    }
    writeback();
    return ok_status();
}

std::uint64_t Disk::unsynced_sectors() const {
    std::uint64_t count = 0;
    for (const auto& [path, file] : files_) {
        count += file->dirty_sectors.size();
    }
    return count;
}

std::uint64_t Disk::unsynced_directory_ops() const {
    std::uint64_t count = 0;
    for (const auto& [directory, ops] : pending_) {
        count += ops.size();
    }
    for (const auto& [path, file] : files_) {
        count += file->unsynced_cut ? 1U : 0U;
    }
    return count;
}

DiskCrashReport Disk::crash(UnsyncedFate fate) {
    if (fate == UnsyncedFate::random) {
        constexpr UnsyncedFate fates[] = {UnsyncedFate::lose, UnsyncedFate::keep, UnsyncedFate::tear};
        fate = fates[random_.below(3)];
    }
    DiskCrashReport report{.fate = fate};
    if (options_.directory_ops_need_sync) {
        crash_directories(fate, report);
    }
    const std::uint64_t sector_bytes = options_.sector_bytes;
    used_bytes_ = 0;
    for (auto& [path, file] : files_) {
        std::vector<std::byte> survived = file->durable;
        for (const std::uint64_t sector : file->dirty_sectors) {
            const std::uint64_t begin = sector * sector_bytes;
            if (begin >= file->data.size()) {
                break;
            }
            const bool keep = fate == UnsyncedFate::keep || (fate == UnsyncedFate::tear && random_.chance(0.5));
            if (!keep) {
                ++report.sectors_lost;
                continue;
            }
            ++report.sectors_kept;
            const std::uint64_t end = std::min<std::uint64_t>(file->data.size(), begin + sector_bytes);
            if (survived.size() < end) {
                survived.resize(end);  // a lost sector below a kept one reads as zeros
            }
            std::memcpy(survived.data() + begin, file->data.data() + begin, end - begin);
        }
        used_bytes_ += survived.size();
        file->data = survived;
        file->durable = std::move(survived);
        file->dirty_sectors.clear();
    }
    return report;
}

void Disk::crash_directories(UnsyncedFate fate, DiskCrashReport& report) {
    const auto kept = [&](std::size_t pending) -> std::size_t {
        switch (fate) {
            case UnsyncedFate::keep: return pending;
            case UnsyncedFate::tear: return static_cast<std::size_t>(random_.below(pending + 1));
            default: return 0;
        }
    };
    // Each directory's journal keeps a prefix of its operations.
    for (const auto& [directory, ops] : pending_) {
        const std::size_t count = kept(ops.size());
        report.directory_ops_kept += count;
        report.directory_ops_lost += ops.size() - count;
        for (std::size_t i = 0; i < count; ++i) {
            apply_durably(ops[i]);
        }
    }
    pending_.clear();
    // The names that survive, and what became of their truncations.
    files_ = durable_files_;
    for (auto& [path, file] : files_) {
        if (!file->unsynced_cut) {
            continue;
        }
        if (kept(1) == 1) {
            ++report.directory_ops_kept;
            apply_cut(*file);
        } else {
            ++report.directory_ops_lost;
            file->unsynced_cut.reset();  // the bytes past the cut come back as the platter holds them
        }
    }
}

std::optional<std::pair<std::string, std::uint64_t>> Disk::corrupt_random_bit() {
    return corrupt_random_bit([](const std::string&) { return true; });
}

void Disk::writeback() {
    for (auto& [path, file] : files_) {
        sync(*file);  // its truncations too
    }
    make_all_directories_durable();
}

std::optional<std::pair<std::string, std::uint64_t>> Disk::corrupt_random_bit(
    const std::function<bool(const std::string&)>& eligible) {
    return corrupt_random_bit(eligible, [](std::span<const std::byte>, std::uint64_t) { return true; }, 1);
}

std::optional<std::pair<std::string, std::uint64_t>> Disk::corrupt_random_bit(
    const std::function<bool(const std::string&)>& eligible, const ByteEligible& byte_eligible, int attempts) {
    EOSIM_ASSERT(attempts > 0);
    std::uint64_t total = 0;
    for (const auto& [path, file] : files_) {
        total += eligible(path) ? file->durable.size() : 0;
    }
    if (total == 0) {
        return std::nullopt;
    }
    for (int attempt = 0; attempt < attempts; ++attempt) {
        if (auto flipped = flip_bit_at(eligible, byte_eligible, random_.below(total))) {
            return flipped;
        }
    }
    return std::nullopt;
}

std::optional<std::pair<std::string, std::uint64_t>> Disk::corrupt_random_bit_if(
    const std::function<bool(const std::string&)>& eligible, const FlipAccepted& accepted, int attempts) {
    EOSIM_ASSERT(attempts > 0);
    std::vector<std::pair<const std::string*, File*>> files;
    std::uint64_t total = 0;
    for (auto& [path, file] : files_) {
        if (eligible(path) && !file->durable.empty()) {
            files.emplace_back(&path, file.get());
            total += file->durable.size();
        }
    }
    if (total == 0) {
        return std::nullopt;
    }
    for (int attempt = 0; attempt < attempts; ++attempt) {
        std::uint64_t target = random_.below(total);
        const auto mask = static_cast<std::byte>(1U << random_.below(8));
        for (const auto& [path, file] : files) {
            if (target >= file->durable.size()) {
                target -= file->durable.size();
                continue;
            }
            std::vector<std::byte> flipped = file->durable;
            flipped[target] ^= mask;
            if (accepted(*path, file->durable, flipped)) {
                file->durable = std::move(flipped);
                if (target < file->data.size()) {
                    file->data[target] ^= mask;
                }
                return std::pair{*path, target};
            }
            break;
        }
    }
    return std::nullopt;
}

std::optional<std::pair<std::string, std::uint64_t>> Disk::flip_bit_at(
    const std::function<bool(const std::string&)>& eligible, const ByteEligible& byte_eligible, std::uint64_t target) {
    for (auto& [path, file] : files_) {
        if (!eligible(path)) {
            continue;
        }
        if (target < file->durable.size()) {
            if (!byte_eligible(file->durable, target)) {
                return std::nullopt;
            }
            const auto mask = static_cast<std::byte>(1U << random_.below(8));
            file->durable[target] ^= mask;
            if (target < file->data.size()) {
                file->data[target] ^= mask;
            }
            return std::pair{path, target};
        }
        target -= file->durable.size();
    }
    return std::nullopt;
}

}  // namespace eosim::sim
