#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

// Fixed-width little-endian encoding, shared by the record batch codec and the producer state
// snapshots. Internal to broker_core/.

namespace eosim::broker_core {

class ByteWriter {
public:
    template <typename T>
    void put(T value) {
        static_assert(std::is_integral_v<T>);
        const auto unsigned_value = static_cast<std::make_unsigned_t<T>>(value);
        for (std::size_t i = 0; i < sizeof(T); ++i) {
            bytes_.push_back(static_cast<std::byte>((unsigned_value >> (8 * i)) & 0xffU));
        }
    }
    void put_bytes(const std::string& text) {
        const auto* data = reinterpret_cast<const std::byte*>(text.data());
        bytes_.insert(bytes_.end(), data, data + text.size());
    }
    template <typename T>
    void patch(std::size_t position, T value) {
        const auto unsigned_value = static_cast<std::make_unsigned_t<T>>(value);
        for (std::size_t i = 0; i < sizeof(T); ++i) {
            bytes_[position + i] = static_cast<std::byte>((unsigned_value >> (8 * i)) & 0xffU);
        }
    }
    std::vector<std::byte>& bytes() { return bytes_; }

private:
    std::vector<std::byte> bytes_;
};

class ByteReader {
public:
    explicit ByteReader(std::span<const std::byte> bytes) : bytes_(bytes) {}
    template <typename T>
    std::optional<T> get() {
        if (position_ + sizeof(T) > bytes_.size()) {
            return std::nullopt;
        }
        std::make_unsigned_t<T> value = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i) {
            value = static_cast<std::make_unsigned_t<T>>(
                value | (static_cast<std::make_unsigned_t<T>>(std::to_integer<unsigned>(bytes_[position_ + i])) << (8 * i)));
        }
        position_ += sizeof(T);
        return static_cast<T>(value);
    }
    std::optional<std::string> get_string(std::int32_t length) {
        if (length < 0 || position_ + static_cast<std::size_t>(length) > bytes_.size()) {
            return std::nullopt;
        }
        std::string text(reinterpret_cast<const char*>(bytes_.data() + position_), static_cast<std::size_t>(length));
        position_ += static_cast<std::size_t>(length);
        return text;
    }
    [[nodiscard]] std::size_t position() const { return position_; }

private:
    std::span<const std::byte> bytes_;
    std::size_t position_ = 0;
};

// Record keys and values are strings: the bytes an encoder wrote as one, and a view of one's bytes.
inline std::string to_text(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}
inline std::span<const std::byte> bytes_of(const std::string& text) {
    return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

}  // namespace eosim::broker_core
