#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "sim/errc.h"
#include "sim/random.h"
#include "sim/time.h"

namespace eosim::sim {

class Scheduler;
class Trace;

struct DiskOptions {
    std::uint64_t capacity_bytes = 64ULL << 30U;
    std::uint32_t sector_bytes = 512;
    Duration fsync_latency_min = 100us;
    Duration fsync_latency_max = 2ms;
    double slow_fsync_probability = 0.0;  // a slow fsync takes slow_fsync_factor times as long
    double slow_fsync_factor = 50.0;
    // False: directory operations are durable at once (a file system that journals them synchronously).
    // True: create, rename and remove become durable only when their directory is synced (or the kernel
    // writes back), and a truncation only then or when the file is synced; a crash keeps or loses the
    // rest as it does unsynced bytes (see Disk::crash).
    bool directory_ops_need_sync = false;
};

// What becomes of the bytes written since the last fsync when the node loses power or crashes.
enum class UnsyncedFate : std::uint8_t {
    lose,    // every unsynced sector reverts to its durable content
    keep,    // the page cache made it to the platter after all
    tear,    // each unsynced sector independently survives or not (a torn write)
    random,  // one of the above, drawn per crash
};

std::string_view to_string(UnsyncedFate fate);
// The fate named `name` (lose, keep, tear, random), or false.
bool parse_unsynced_fate(std::string_view name, UnsyncedFate& fate);

// What a crash did to the disk, for the trace and for tests.
struct DiskCrashReport {
    UnsyncedFate fate = UnsyncedFate::lose;
    std::uint64_t sectors_lost = 0;
    std::uint64_t sectors_kept = 0;
    std::uint64_t directory_ops_lost = 0;  // creates, renames, removes and truncations undone
    std::uint64_t directory_ops_kept = 0;
};

// A node's disk: files of real bytes. A write lands in the page cache and is visible to reads at
// once; fsync makes a file's bytes durable. On a crash durable bytes survive and unsynced sectors are
// lost, kept or torn. Directory operations (create, rename, remove, truncate) are durable at once
// unless DiskOptions::directory_ops_need_sync: then they wait for fsync_directory, and a crash keeps
// all of them (keep), none (lose), or per directory the first few in the order they were made (tear),
// as a journaling file system commits them in order. A directory is the path up to its last '/'.
class Disk {
public:
    Disk(DiskOptions options, Random random);

    [[nodiscard]] bool exists(const std::string& path) const;
    [[nodiscard]] Result<std::uint64_t> size(const std::string& path) const;
    // Paths that start with `prefix`, in lexicographic order.
    [[nodiscard]] std::vector<std::string> list(const std::string& prefix = "") const;

    Status create(const std::string& path);  // no-op if it exists
    Status write(const std::string& path, std::uint64_t offset, std::span<const std::byte> bytes);
    Status append(const std::string& path, std::span<const std::byte> bytes);
    [[nodiscard]] Result<std::vector<std::byte>> read(const std::string& path, std::uint64_t offset,
                                                      std::uint64_t length) const;
    [[nodiscard]] Result<std::vector<std::byte>> read_all(const std::string& path) const;
    Status truncate(const std::string& path, std::uint64_t new_size);
    Status remove(const std::string& path);
    Status rename(const std::string& from, const std::string& to);  // replaces `to` atomically

    // Makes the file's bytes durable. In a fiber it first waits the fsync latency (a crash meanwhile
    // leaves the bytes unsynced); elsewhere it completes at once.
    Status fsync(const std::string& path);
    // fsync of every file with unsynced bytes, and of every directory.
    Status fsync_all();
    // Makes the directory operations on the files directly in `directory` (a path without its trailing
    // '/') durable, with the fsync latency in a fiber. At once and a no-op when directory operations are
    // durable anyway.
    Status fsync_directory(const std::string& directory);
    // The directory a path's entry lives in: everything before the last '/' ("" for none).
    [[nodiscard]] static std::string directory_of(const std::string& path);

    // The node crashed: apply the fate of unsynced bytes. Called by Node::crash.
    DiskCrashReport crash(UnsyncedFate fate);
    // Latent corruption: flips one bit of a durable byte of a random non-empty file. Returns the file
    // and offset, or nothing when the disk holds no bytes.
    std::optional<std::pair<std::string, std::uint64_t>> corrupt_random_bit();
    // The same, among the files `eligible` accepts.
    std::optional<std::pair<std::string, std::uint64_t>> corrupt_random_bit(
        const std::function<bool(const std::string&)>& eligible);
    // The same, at a byte `byte_eligible` accepts (given the file's durable bytes and the byte's offset):
    // up to `attempts` random bytes are tried; nothing when none was accepted.
    using ByteEligible = std::function<bool(std::span<const std::byte>, std::uint64_t)>;
    std::optional<std::pair<std::string, std::uint64_t>> corrupt_random_bit(
        const std::function<bool(const std::string&)>& eligible, const ByteEligible& byte_eligible,
        int attempts = 64);
    // The same, where `accepted` takes the flip (given the file's path, its durable bytes before the flip and
    // after it): up to `attempts` random bits are tried; nothing when none was taken.
    using FlipAccepted =
        std::function<bool(const std::string&, std::span<const std::byte>, std::span<const std::byte>)>;
    std::optional<std::pair<std::string, std::uint64_t>> corrupt_random_bit_if(
        const std::function<bool(const std::string&)>& eligible, const FlipAccepted& accepted, int attempts = 64);
    // The kernel's background writeback: every unsynced byte becomes durable now (no latency).
    void writeback();

    [[nodiscard]] std::uint64_t used_bytes() const { return used_bytes_; }
    [[nodiscard]] std::uint64_t unsynced_sectors() const;
    // Directory operations (and truncations) not durable yet.
    [[nodiscard]] std::uint64_t unsynced_directory_ops() const;
    [[nodiscard]] const DiskOptions& options() const { return options_; }
    // Shrink or grow the capacity (a full-disk fault).
    void set_capacity(std::uint64_t capacity_bytes) { options_.capacity_bytes = capacity_bytes; }
    // Every fsync takes `stall` longer than drawn (a slow or stalling disk); zero: back to normal.
    void set_fsync_stall(Duration stall) { fsync_stall_ = stall; }
    [[nodiscard]] Duration fsync_stall() const { return fsync_stall_; }
    // Called (in the writer's context, after the write failed) whenever a write or append fails for want
    // of room: the owner's log directory failure channel. Empty: nothing is called.
    void on_full(std::function<void()> callback) { on_full_ = std::move(callback); }

private:
    // Flips a random bit of the `target`-th durable byte among the eligible files, if byte_eligible takes it.
    std::optional<std::pair<std::string, std::uint64_t>> flip_bit_at(
        const std::function<bool(const std::string&)>& eligible, const ByteEligible& byte_eligible,
        std::uint64_t target);

    struct File {
        std::vector<std::byte> data;     // what reads see (page cache)
        std::vector<std::byte> durable;  // what survives a crash
        std::set<std::uint64_t> dirty_sectors;
        // The shortest size a truncation not yet durable cut the file to (directory_ops_need_sync only).
        std::optional<std::uint64_t> unsynced_cut;
    };
    using FilePtr = std::shared_ptr<File>;
    // A directory operation not durable yet: `path` now names `file` (link), or no longer does (unlink).
    // A rename is an unlink of the old name and a link of the new one, made together.
    struct DirectoryOp {
        enum class Kind : std::uint8_t { link, unlink, rename } kind = Kind::link;
        std::string path;
        std::string from;  // rename only
        FilePtr file;
        std::uint64_t sequence = 0;  // the order operations were made in, across directories
    };

    void record(DirectoryOp op);
    void apply_durably(const DirectoryOp& op);
    void apply_cut(File& file) const;
    // Applies the first `count` pending operations of `directory`, and its files' truncations.
    void make_directory_durable(const std::string& directory, std::size_t count);
    // Applies every pending operation (truncations: sync() does).
    void make_all_directories_durable();
    // The crash's fate for the directory operations not durable yet; leaves files_ the durable names.
    void crash_directories(UnsyncedFate fate, DiskCrashReport& report);
    Status grow_to(File& file, std::uint64_t new_size);
    void mark_dirty(File& file, std::uint64_t offset, std::uint64_t length) const;
    void sync(File& file) const;
    Duration draw_fsync_latency();

    DiskOptions options_;
    Random random_;
    std::map<std::string, FilePtr> files_;          // the names reads and writes see
    std::map<std::string, FilePtr> durable_files_;  // the names a crash keeps (directory_ops_need_sync only)
    std::map<std::string, std::vector<DirectoryOp>> pending_;  // by directory, oldest first
    std::uint64_t next_sequence_ = 0;
    std::uint64_t used_bytes_ = 0;
    Duration fsync_stall_{0};
    std::function<void()> on_full_;
};

}  // namespace eosim::sim
