#pragma once

#include <bit>
#include <concepts>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>

#include "sim/time.h"

namespace eosim::sim {

enum class Severity : std::uint8_t { debug, info, warn, error };

std::string_view to_string(Severity severity);

// The run's structured event log. Every event is folded into a running 64-bit hash, the run's
// fingerprint: same seed + same options + same source = same fingerprint, in every build.
// An error-severity event fails the run.
class Trace {
public:
    Trace() = default;
    Trace(const Trace&) = delete;
    Trace& operator=(const Trace&) = delete;

    // Write every event as a JSON line to `out` (not owned), or stop writing with nullptr.
    void set_sink(std::ostream* out) { sink_ = out; }
    [[nodiscard]] bool has_sink() const { return sink_ != nullptr; }

    // Fold a value into the fingerprint (the scheduler folds every event it dispatches): a
    // multiply-rotate step, cheap enough for every event; trace events fold in a full XXH64-based hash.
    void mix(std::uint64_t value) {
        fingerprint_ = (std::rotl(fingerprint_, 29) ^ value) * 0x9e3779b97f4a7c15ULL;
    }

    [[nodiscard]] std::uint64_t fingerprint() const { return fingerprint_; }
    [[nodiscard]] std::uint64_t event_count() const { return event_count_; }
    [[nodiscard]] std::uint64_t error_count() const { return error_count_; }
    [[nodiscard]] const std::string& first_error() const { return first_error_; }

private:
    friend class TraceEvent;
    void finish(std::uint64_t event_hash, Severity severity, std::string_view name, std::string* line);

    std::ostream* sink_ = nullptr;
    std::uint64_t fingerprint_ = 0x6e6f2d6f6e652d21ULL;
    std::uint64_t event_count_ = 0;
    std::uint64_t error_count_ = 0;
    std::string first_error_;
};

// One trace event under construction: trace("Name").detail("key", value)... It is recorded when it
// goes out of scope.
class TraceEvent {
public:
    TraceEvent(Trace& trace, Severity severity, std::string_view name, Time now, std::string_view node);
    TraceEvent(const TraceEvent&) = delete;
    TraceEvent& operator=(const TraceEvent&) = delete;
    ~TraceEvent();

    TraceEvent& detail(std::string_view key, std::string_view value);
    TraceEvent& detail(std::string_view key, const char* value) { return detail(key, std::string_view(value)); }
    TraceEvent& detail(std::string_view key, const std::string& value) {
        return detail(key, std::string_view(value));
    }
    TraceEvent& detail(std::string_view key, bool value);
    TraceEvent& detail(std::string_view key, double value);
    TraceEvent& detail(std::string_view key, Duration value);
    TraceEvent& detail(std::string_view key, Time value);

    template <std::integral T>
        requires(!std::same_as<T, bool>)
    TraceEvent& detail(std::string_view key, T value) {
        if constexpr (std::is_signed_v<T>) {
            return detail_signed(key, static_cast<std::int64_t>(value));
        } else {
            return detail_unsigned(key, static_cast<std::uint64_t>(value));
        }
    }

    template <typename T>
        requires requires(const T& named) {
            { named.value() } -> std::integral;
        }
    TraceEvent& detail(std::string_view key, const T& named) {
        return detail(key, named.value());
    }

private:
    TraceEvent& detail_signed(std::string_view key, std::int64_t value);
    TraceEvent& detail_unsigned(std::string_view key, std::uint64_t value);
    void add_key(std::string_view key);

    Trace& trace_;
    Severity severity_;
    std::string_view name_;
    std::uint64_t hash_;
    std::unique_ptr<std::string> line_;  // JSON text, only when the trace has a sink
};

}  // namespace eosim::sim
