#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/context/fiber.hpp>

#include "sim/assert.h"
#include "sim/named_type.h"
#include "sim/stack_pool.h"
#include "sim/time.h"

namespace eosim::sim {

class Node;
class Trace;

namespace detail {
struct Fiber;
// A node's fibers in spawn order (intrusive, owned by the scheduler).
struct FiberList {
    Fiber* first = nullptr;
    Fiber* last = nullptr;
};
}  // namespace detail

// Thrown at a fiber's suspension point when the fiber is killed (its node crashed): it unwinds the
// stack so that destructors run. Not a std::exception; simulated code never swallows it.
struct FiberKilled {};

// A fiber's claim to be woken: valid while the fiber still waits with this token. Tokens count the
// waits of a fiber slot (32 bits, never reset when the slot is reused), so a stale wake-up finds a
// different token.
struct WaitRef {
    std::uint32_t slot = 0;
    std::uint32_t token = 0;
};

// Names a fiber; stays safe to use after the fiber ends (then it is simply not alive).
struct FiberRef {
    std::uint32_t slot = 0;
    std::uint64_t id = 0;
};

// Names a scheduled callback, for cancel().
struct TimerId {
    std::uint32_t slot = 0;
    std::uint32_t token = 0;
};

struct RunBounds {
    Time time_limit = Time::max();
    std::uint64_t max_events = UINT64_MAX;
};

enum class RunStatus : std::uint8_t {
    done,          // the run's goal was reached
    idle,          // nothing is left to happen and the goal was not reached
    time_bound,    // simulated time passed its bound: a liveness failure
    event_bound,   // the event count passed its bound: a liveness failure
};

std::string_view to_string(RunStatus status);

struct RunOutcome {
    RunStatus status = RunStatus::done;
    Time end_time{};
    std::uint64_t events = 0;
    [[nodiscard]] bool liveness_failure() const { return status != RunStatus::done; }
};

// The single-threaded event loop: events ordered by (time, sequence number); when nothing is runnable,
// time jumps to the next event. Actor code runs on Boost.Context fibers with pooled stacks.
class Scheduler {
public:
    Scheduler(Trace& trace, std::size_t stack_bytes);
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;
    ~Scheduler();

    [[nodiscard]] Time now() const { return now_; }
    [[nodiscard]] std::uint64_t events_dispatched() const { return events_dispatched_; }
    [[nodiscard]] std::size_t pending_events() const { return heap_.size(); }

    // Fibers. A new fiber starts at the current time, after the events already due now.
    FiberRef spawn(Node& node, std::string name, std::function<void()> body);
    [[nodiscard]] bool alive(FiberRef fiber) const;
    [[nodiscard]] bool in_fiber() const { return current_ != nullptr; }
    [[nodiscard]] FiberRef current_fiber() const;
    [[nodiscard]] const std::string& current_fiber_name() const;
    // The node whose code runs now: the current fiber's, or the node of the callback being dispatched.
    [[nodiscard]] Node* current_node() const { return current_node_; }
    [[nodiscard]] std::size_t live_fibers() const { return live_fibers_; }
    [[nodiscard]] std::size_t count_fibers(const Node& node) const;

    // Unwinds the fiber now (its destructors run); it never runs again. Not the current fiber.
    void kill(FiberRef fiber);
    // Kills every fiber of `node`, in the order they were spawned.
    void kill_all(Node& node);

    // Suspension, only inside a fiber. begin_wait() gives the current fiber a fresh token; whoever holds
    // it may wake the fiber (wake, wake_at); suspend() returns once it is woken.
    WaitRef begin_wait();
    void wake(WaitRef ref) { wake_at(ref, now_); }
    void wake_at(WaitRef ref, Time when);
    void suspend();
    void sleep_until(Time when);
    void yield();

    // Callbacks run in the scheduler's own context and must not suspend. A callback owned by a node is
    // dropped if the node crashes first and is held back while the node is paused.
    TimerId call_at(Time when, Node* owner, std::function<void()> callback);
    void cancel(TimerId timer);

    // Runs events until `done` holds (checked after every event), nothing is left, or a bound passes.
    // An exception escaping a fiber or a callback (a failed assertion, say) propagates out of here.
    RunOutcome run(const RunBounds& bounds, const std::function<bool()>& done = {});

private:
    using Fiber = detail::Fiber;
    struct Callback {
        std::function<void()> function;
        std::uint32_t token = 0;       // of the pending call; 0 when the slot is free
        std::uint32_t generation = 0;  // last token handed out for this slot
        std::uint32_t incarnation = 0;
        Node* owner = nullptr;
    };
    enum class EventKind : std::uint32_t { wake_fiber = 0, callback = 1U << 31U };
    // 24 bytes: the heap moves these around on every event.
    struct Event {
        std::int64_t time_ns;
        std::uint64_t sequence;
        std::uint32_t slot_and_kind;
        std::uint32_t token;
        [[nodiscard]] std::uint32_t slot() const { return slot_and_kind & ~(1U << 31U); }
        [[nodiscard]] EventKind kind() const { return static_cast<EventKind>(slot_and_kind & (1U << 31U)); }
    };
    static std::uint32_t next_token(std::uint32_t& generation) {
        ++generation;
        if (generation == 0) {
            ++generation;
        }
        return generation;
    }
    // (time, sequence) as one unsigned 128-bit key: time is never negative.
    __extension__ using Key = unsigned __int128;
    static Key key(const Event& event) {
        return (static_cast<Key>(static_cast<std::uint64_t>(event.time_ns)) << 64U) | event.sequence;
    }
    // A 4-ary min-heap on key(): half the depth of a binary heap, so fewer moves per pop.
    void heap_push(const Event& event);
    Event heap_pop();

    void push(std::int64_t time_ns, std::uint32_t token, std::uint32_t slot, EventKind kind);
    // Holds an event of a paused node back to the pause's end. It keeps its sequence number, so it
    // still goes before every later event of that time (messages stay FIFO across a pause).
    void defer(const Event& event, Time until);
    bool dispatch(const Event& event);
    [[nodiscard]] bool stale(const Event& event) const;
    void compact();
    void free_callback(std::uint32_t slot);
    void switch_to(Fiber& fiber);
    void finish(Fiber& fiber);
    static void fiber_main(Scheduler& scheduler, Fiber& fiber);
    Fiber* fiber_at(FiberRef ref) const;

    Trace& trace_;
    StackPool stacks_;
    Time now_{};
    std::uint64_t next_sequence_ = 1;
    std::uint64_t next_fiber_id_ = 1;
    std::uint64_t events_dispatched_ = 0;
    std::vector<Event> heap_;
    std::size_t compact_threshold_ = 4096;
    std::vector<std::unique_ptr<Fiber>> fibers_;  // by slot; null when free
    std::vector<std::uint32_t> fiber_generations_;  // by slot: last wait token handed out
    std::vector<std::uint32_t> free_fiber_slots_;
    std::vector<Callback> callbacks_;             // by slot; token 0 when free
    std::vector<std::uint32_t> free_callback_slots_;
    std::size_t live_fibers_ = 0;
    Fiber* current_ = nullptr;
    Node* current_node_ = nullptr;
    Scheduler* previous_current_;
};

namespace detail {
extern Scheduler* current_scheduler;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
}

// The scheduler of the simulation being built or run (set by its constructor).
inline Scheduler& current_scheduler() {
    EOSIM_ASSERT_MSG(detail::current_scheduler != nullptr, "no simulation exists");
    return *detail::current_scheduler;
}

}  // namespace eosim::sim
