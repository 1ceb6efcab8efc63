#pragma once

#include <chrono>
#include <cstdint>

namespace eosim::sim {

using namespace std::chrono_literals;

// The simulated clock: nanoseconds since the start of the run. Never the wall clock.
struct SimClock {
    using rep = std::int64_t;
    using period = std::nano;
    using duration = std::chrono::nanoseconds;
    using time_point = std::chrono::time_point<SimClock>;
    static constexpr bool is_steady = true;
};

using Duration = std::chrono::nanoseconds;
using Time = SimClock::time_point;

constexpr Time time_zero{};

inline std::int64_t to_ns(Time time) { return time.time_since_epoch().count(); }
inline std::int64_t to_ns(Duration duration) { return duration.count(); }
inline double to_seconds(Duration duration) { return static_cast<double>(duration.count()) * 1e-9; }

// A node's own clock: true time plus an offset (skew and jumps) plus a drift in parts per million.
// Code on a node reads time and sets timers through its local clock, so clock faults reach the code.
class LocalClock {
public:
    LocalClock() = default;
    LocalClock(Duration offset, double drift_ppm) : offset_(offset), drift_ppm_(drift_ppm) {}

    // Local reading at true time `now`.
    [[nodiscard]] Time local_time(Time now) const {
        const auto since_anchor = static_cast<double>((now - anchor_).count());
        const auto drifted = static_cast<std::int64_t>(since_anchor * drift_ppm_ * 1e-6);
        return now + offset_ + Duration(drifted);
    }

    // True duration that passes while this clock advances by `local`.
    [[nodiscard]] Duration true_duration(Duration local) const {
        if (drift_ppm_ == 0.0 || local <= Duration::zero()) {
            return local;
        }
        const double scaled = static_cast<double>(local.count()) / (1.0 + drift_ppm_ * 1e-6);
        return Duration(static_cast<std::int64_t>(scaled));
    }

    // Step the clock by `delta` (an NTP step or an operator's mistake); timers already set are not moved.
    void jump(Duration delta) { offset_ += delta; }

    // Change the drift from true time `now` on, keeping the current reading continuous.
    void set_drift(Time now, double drift_ppm) {
        offset_ = local_time(now) - now;
        anchor_ = now;
        drift_ppm_ = drift_ppm;
    }

    [[nodiscard]] Duration offset() const { return offset_; }
    [[nodiscard]] double drift_ppm() const { return drift_ppm_; }

private:
    Duration offset_{0};
    double drift_ppm_ = 0.0;
    Time anchor_{};
};

}  // namespace eosim::sim
