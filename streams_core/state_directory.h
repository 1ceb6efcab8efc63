#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "protocol/types.h"
#include "sim/disk.h"
#include "streams_core/record.h"
#include "streams_core/state_store.h"

// An instance's local state (Kafka Streams' StateDirectory with its task directories, the stores' files
// and OffsetCheckpoint), on the node's simulated disk, so that it meets crashes as files do: what was
// not synced is lost, kept or torn.
//
//   streams/<application>/<subtopology>_<partition>/<store>.db    every change, appended (no sync)
//   streams/<application>/<subtopology>_<partition>/.checkpoint   the changelog offsets the files hold
//
// A store file is a sequence of entries `u32 crc32c | u8 kind | u32 key length | key | u32 value length |
// value` (kind 1 a put, 0 a delete, without a value); reading stops at the first entry that is torn or
// fails its checksum. Appends are not synced: like RocksDB without its write-ahead log, a store's file
// is durable only up to its last flush. The checkpoint is written to a temporary file, synced and renamed
// over the old one; it holds `topic partition offset` lines, a `#file <name> <bytes>` line per store
// file (how much of it the checkpoint vouches for: it was synced just before) and a checksum line. A
// store file whose good entries end short of that is corrupted, not torn. A thread of the
// instance locks a task's directory before it touches it (one thread at a time). docs/streams.md,
// "State directory".
namespace eosim::streams_core {

class StateDirectory {
public:
    using Offsets = std::map<protocol::TopicPartition, protocol::Offset>;

    StateDirectory(sim::Disk& disk, const std::string& application_id);
    StateDirectory(const StateDirectory&) = delete;
    StateDirectory& operator=(const StateDirectory&) = delete;

    // The task directory's lock (Kafka's StateDirectory.lock): false while another thread holds it.
    bool lock(TaskId id, const std::string& owner);
    void unlock(TaskId id, const std::string& owner);

    // The task's checkpoint: nothing when there is none or it cannot be read.
    [[nodiscard]] std::optional<Offsets> checkpoint(TaskId id) const;
    // Writes it durably (temporary file, sync, rename); false when a write failed or a store file of the
    // task missed a write since it was last wiped (the files no longer match the stores).
    bool write_checkpoint(TaskId id, const Offsets& offsets);
    void delete_checkpoint(TaskId id);
    // Any store file of the task holds an entry.
    [[nodiscard]] bool has_state(TaskId id) const;
    // Every store file the checkpoint covers has good entries up to the size the checkpoint gives it (a
    // file cut or corrupted there is not: Kafka's TaskCorruptedException). True without a checkpoint.
    [[nodiscard]] bool intact(TaskId id) const;
    // The entries of `store`'s file, up to its first bad entry.
    [[nodiscard]] std::map<std::string, std::string> load(TaskId id, const std::string& store) const;
    // Appends one change of `store` (value none: a delete), unsynced.
    void write(TaskId id, const std::string& store, const std::string& key, const std::optional<std::string>& value);
    // Makes the task's store files durable (Kafka's flush of its stores). A file that grew well past the
    // entries of its store is rewritten from them first (temporary file, sync, rename).
    bool flush(TaskId id, const std::map<std::string, std::unique_ptr<KeyValueStore>>& stores);
    // Deletes the task's files, checkpoint and all (Kafka's wipe of a corrupted task's state).
    void wipe(TaskId id);
    // Every task with a checkpoint: the sum of its offsets (Kafka's task offset sums).
    [[nodiscard]] std::map<TaskId, std::int64_t> offset_sums() const;

private:
    // The checkpoint file's lines without its checksum line (none: no checkpoint, or a bad one).
    [[nodiscard]] std::optional<std::string> checkpoint_body(TaskId id) const;
    // The entries of a file's bytes up to the first bad one, and where that good prefix ends.
    static std::map<std::string, std::string> parse(std::span<const std::byte> bytes, std::size_t& good_end);
    [[nodiscard]] std::string task_dir(TaskId id) const;
    [[nodiscard]] std::string store_file(TaskId id, const std::string& store) const;
    [[nodiscard]] std::string checkpoint_file(TaskId id) const { return task_dir(id) + ".checkpoint"; }

    sim::Disk& disk_;
    std::string root_;  // streams/<application>/
    std::map<TaskId, std::string> locks_;
    std::map<std::string, std::uint64_t> appended_;  // per store file: entries appended since it was rewritten
    std::set<TaskId> failed_;                        // a write failed since the task was last wiped
};

}  // namespace eosim::streams_core
