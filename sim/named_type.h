#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

namespace eosim {

// A strong type over an integer: an offset can never be passed where an epoch is expected.
template <typename T, typename Tag>
class NamedType {
public:
    using value_type = T;

    constexpr NamedType() = default;
    constexpr explicit NamedType(T value) : value_(value) {}

    [[nodiscard]] constexpr T value() const { return value_; }

    constexpr auto operator<=>(const NamedType&) const = default;

    friend std::ostream& operator<<(std::ostream& out, const NamedType& named) {
        return out << named.value_;
    }

private:
    T value_{};
};

}  // namespace eosim
