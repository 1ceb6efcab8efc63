#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "sim/disk.h"

namespace eosim::broker_core {

// A broker's checkpoint files (the high watermarks, a partition's leader epochs and log start) are text
// sealed by a last line "crc32c <decimal>": the CRC-32C of every byte before that line. Kafka's checkpoint
// files have no checksum (docs/kafka-differences.md): a bit flip that keeps the text well formed is silent
// there, and beyond what any broker recovers from. A file whose seal does not match is damaged: its reader
// takes it as absent, which each of these files may be (a broker that never wrote one).

// The names of a broker's files other than its segments, which corrupt-file may damage. The high watermarks'
// checkpoint is at the disk's root; the others are in a partition's directory ("<offset>" is 20 digits).
inline constexpr const char* high_watermark_checkpoint_name = "replication-offset-checkpoint";
inline constexpr std::string_view leader_epoch_checkpoint_name = "leader-epoch-checkpoint";
inline constexpr std::string_view log_start_checkpoint_name = "log-start-offset";
inline constexpr std::string_view snapshot_suffix = ".snapshot";             // <offset>.snapshot
inline constexpr std::string_view transaction_index_suffix = ".txnindex";    // <offset>.txnindex

// The offset a file named "<20 digits><suffix>" (a segment, snapshot or index) starts at; nothing for any
// other name.
[[nodiscard]] std::optional<std::int64_t> file_base_offset(std::string_view name, std::string_view suffix);

// The text with its seal.
[[nodiscard]] std::string seal_checkpoint(std::string text);
// The text of a sealed checkpoint's bytes, without the seal; nothing when the seal is missing or does not
// match (a torn or damaged file).
[[nodiscard]] std::optional<std::string> open_checkpoint(std::span<const std::byte> bytes);

// Writes `text` sealed to `path` as Kafka's atomic move does: a temporary file, fsynced, renamed over the
// old one, and the directory synced. A failure (a full disk) leaves the old file; false then.
bool write_checkpoint(sim::Disk& disk, const std::string& path, const std::string& text);
// The text of the checkpoint at `path`; nothing when it is missing, or damaged (which hits the probe
// damaged-checkpoint-ignored): the reader does without it.
[[nodiscard]] std::optional<std::string> read_checkpoint(const sim::Disk& disk, const std::string& path);

// Whether a broker that reads the file at `path` (relative to its disk's root) sees that its bytes `after`
// are not the `before` it wrote: a sealed checkpoint whose seal fails, a producer-state snapshot whose CRC
// fails, an aborted-transaction index that no longer loads or whose last offsets moved (which recovery
// checks against the segment). False for every other file, and for a flip that the file's reader cannot
// see (an index entry's producer id, say: Kafka's index format has no checksum either).
[[nodiscard]] bool detects_damage(const std::string& path, std::span<const std::byte> before,
                                  std::span<const std::byte> after);

}  // namespace eosim::broker_core
