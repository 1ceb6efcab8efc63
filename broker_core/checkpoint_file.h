#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

namespace eosim::broker_core {

// A broker's checkpoint files (the high watermarks, a partition's leader epochs and log start) are text
// sealed by a last line "crc32c <decimal>": the CRC-32C of every byte before that line. Kafka's checkpoint
// files have no checksum (docs/kafka-differences.md): a bit flip that keeps the text well formed is silent
// there, and beyond what any broker recovers from. A file whose seal does not match is damaged: its reader
// takes it as absent, which each of these files may be (a broker that never wrote one).

// The text with its seal.
[[nodiscard]] std::string seal_checkpoint(std::string text);
// The text of a sealed checkpoint's bytes, without the seal; nothing when the seal is missing or does not
// match (a torn or damaged file).
[[nodiscard]] std::optional<std::string> open_checkpoint(std::span<const std::byte> bytes);

// Whether a broker that reads the file at `path` (relative to its disk's root) sees that its bytes `after`
// are not the `before` it wrote: a sealed checkpoint whose seal fails, a producer-state snapshot whose CRC
// fails, an aborted-transaction index that no longer loads or whose last offsets moved (which recovery
// checks against the segment). False for every other file, and for a flip that the file's reader cannot
// see (an index entry's producer id, say: Kafka's index format has no checksum either).
[[nodiscard]] bool detects_damage(const std::string& path, std::span<const std::byte> before,
                                  std::span<const std::byte> after);

}  // namespace eosim::broker_core
