#include "broker_core/checkpoint_file.h"

#include <algorithm>
#include <charconv>
#include <string_view>

#include <fmt/format.h>

#include "broker_core/producer_state.h"
#include "broker_core/transaction_index.h"
#include "sim/crc32c.h"
#include "sim/simulation.h"

namespace eosim::broker_core {

namespace {

constexpr std::string_view seal_prefix = "crc32c ";

std::uint32_t crc_of(std::string_view text) {
    return sim::crc32c(std::as_bytes(std::span(text.data(), text.size())));
}

std::string_view name_of(const std::string& path) {
    const std::size_t slash = path.rfind('/');
    return std::string_view(path).substr(slash == std::string::npos ? 0 : slash + 1);
}

}  // namespace

std::optional<std::int64_t> file_base_offset(std::string_view name, std::string_view suffix) {
    std::int64_t base = 0;
    if (name.size() != 20 + suffix.size() || !name.ends_with(suffix)) {
        return std::nullopt;
    }
    const auto parsed = std::from_chars(name.data(), name.data() + 20, base);
    if (parsed.ec != std::errc() || parsed.ptr != name.data() + 20) {
        return std::nullopt;
    }
    return base;
}

std::string seal_checkpoint(std::string text) {
    const std::uint32_t crc = crc_of(text);
    text += fmt::format("{}{}\n", seal_prefix, crc);
    return text;
}

std::optional<std::string> open_checkpoint(std::span<const std::byte> bytes) {
    const std::string_view all(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (all.empty() || all.back() != '\n') {
        return std::nullopt;
    }
    const std::size_t line = all.rfind('\n', all.size() - 2);
    const std::size_t seal_start = line == std::string_view::npos ? 0 : line + 1;
    const std::string_view seal = all.substr(seal_start, all.size() - 1 - seal_start);
    if (!seal.starts_with(seal_prefix)) {
        return std::nullopt;
    }
    const std::string_view digits = seal.substr(seal_prefix.size());
    std::uint32_t crc = 0;
    const auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), crc);
    if (digits.empty() || parsed.ec != std::errc() || parsed.ptr != digits.data() + digits.size() ||
        crc != crc_of(all.substr(0, seal_start))) {
        return std::nullopt;
    }
    return std::string(all.substr(0, seal_start));
}

bool write_checkpoint(sim::Disk& disk, const std::string& path, const std::string& text) {
    const std::string sealed = seal_checkpoint(text);
    const std::string temporary = path + ".tmp";
    (void)disk.remove(temporary);
    if (disk.create(temporary) && disk.append(temporary, std::as_bytes(std::span(sealed.data(), sealed.size()))) &&
        disk.fsync(temporary) && disk.rename(temporary, path)) {
        (void)disk.fsync_directory(sim::Disk::directory_of(path));
        return true;
    }
    return false;
}

std::optional<std::string> read_checkpoint(const sim::Disk& disk, const std::string& path) {
    const auto bytes = disk.read_all(path);
    if (!bytes) {
        return std::nullopt;
    }
    std::optional<std::string> text = open_checkpoint(*bytes);
    if (!text) {
        sim::probe("damaged-checkpoint-ignored");
    }
    return text;
}

bool detects_damage(const std::string& path, std::span<const std::byte> before, std::span<const std::byte> after) {
    const std::string_view name = name_of(path);
    if (name == high_watermark_checkpoint_name || name == leader_epoch_checkpoint_name ||
        name == log_start_checkpoint_name) {
        return !open_checkpoint(after).has_value();
    }
    if (file_base_offset(name, snapshot_suffix)) {
        return !ProducerStateManager::snapshot_intact(after);
    }
    if (const std::optional<std::int64_t> base = file_base_offset(name, transaction_index_suffix)) {
        const auto was = TransactionIndex::decode(before, protocol::Offset(*base));
        const auto is = TransactionIndex::decode(after, protocol::Offset(*base));
        if (!was) {
            return false;  // a file recovery rebuilds anyway
        }
        if (!is) {
            return true;
        }
        // Recovery compares the entries' last offsets with the segment's ABORT markers.
        return !std::equal(was->begin(), was->end(), is->begin(), is->end(),
                           [](const AbortedTransaction& a, const AbortedTransaction& b) {
                               return a.last_offset == b.last_offset;
                           });
    }
    return false;
}

}  // namespace eosim::broker_core
