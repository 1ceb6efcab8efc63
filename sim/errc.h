#pragma once

#include <system_error>
#include <utility>
#include <variant>

#include "sim/assert.h"

namespace eosim::sim {

// Errors of the runtime, as values.
enum class errc {
    ok = 0,
    timeout,           // a deadline passed before the awaited thing happened
    broken_promise,    // the promise was destroyed (its owner crashed) without a value
    connection_reset,  // the connection broke (crash, partition, reset) with the request pending
    channel_closed,    // the channel was closed and is empty
    disk_full,         // a write needed more room than the disk has
    no_such_file,      // the file does not exist
    node_down,         // the operation needs the node to be up
};

const std::error_category& sim_category() noexcept;

inline std::error_code make_error_code(errc code) noexcept {
    return {static_cast<int>(code), sim_category()};
}

// A value or an error. [[nodiscard]]: an ignored result is a bug.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::move(value)) {}                // NOLINT(google-explicit-constructor)
    Result(std::error_code error) : state_(error) {               // NOLINT(google-explicit-constructor)
        EOSIM_ASSERT(error);
    }
    Result(errc error) : Result(make_error_code(error)) {}       // NOLINT(google-explicit-constructor)

    [[nodiscard]] bool ok() const { return std::holds_alternative<T>(state_); }
    explicit operator bool() const { return ok(); }

    [[nodiscard]] std::error_code error() const {
        return ok() ? std::error_code{} : std::get<std::error_code>(state_);
    }
    [[nodiscard]] T& value() & {
        EOSIM_ASSERT_MSG(ok(), error().message());
        return std::get<T>(state_);
    }
    [[nodiscard]] const T& value() const& {
        EOSIM_ASSERT_MSG(ok(), error().message());
        return std::get<T>(state_);
    }
    [[nodiscard]] T&& value() && {
        EOSIM_ASSERT_MSG(ok(), error().message());
        return std::get<T>(std::move(state_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

private:
    std::variant<T, std::error_code> state_;
};

struct Unit {
    constexpr bool operator==(const Unit&) const = default;
};

// A result with no value: success or an error.
using Status = Result<Unit>;

inline Status ok_status() { return Unit{}; }

}  // namespace eosim::sim

template <>
struct std::is_error_code_enum<eosim::sim::errc> : std::true_type {};
