#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "sim/errc.h"
#include "sim/scheduler.h"

namespace eosim::sim {

namespace detail {

// Removes a fiber's wait registration when it stops waiting, however it stops (woken, timed out, killed).
class WaiterGuard {
public:
    WaiterGuard(std::vector<WaitRef>& waiters, WaitRef ref) : waiters_(waiters), ref_(ref) { waiters.push_back(ref); }
    WaiterGuard(const WaiterGuard&) = delete;
    WaiterGuard& operator=(const WaiterGuard&) = delete;
    ~WaiterGuard() {
        auto found = std::find_if(waiters_.begin(), waiters_.end(),
                                  [this](const WaitRef& w) { return w.slot == ref_.slot && w.token == ref_.token; });
        if (found != waiters_.end()) {
            waiters_.erase(found);
        }
    }

private:
    std::vector<WaitRef>& waiters_;
    WaitRef ref_;
};

inline void wake_all(Scheduler& scheduler, std::vector<WaitRef>& waiters) {
    std::vector<WaitRef> woken;
    woken.swap(waiters);
    for (const WaitRef& ref : woken) {
        scheduler.wake(ref);
    }
}

// Suspends the current fiber until `ready()` holds or `deadline` passes; false on timeout.
template <typename Ready>
bool wait_until(Scheduler& scheduler, std::vector<WaitRef>& waiters, Time deadline, Ready ready) {
    while (!ready()) {
        if (scheduler.now() >= deadline) {
            return false;
        }
        const WaitRef ref = scheduler.begin_wait();
        const WaiterGuard guard(waiters, ref);
        if (deadline != Time::max()) {
            scheduler.wake_at(ref, deadline);
        }
        scheduler.suspend();
    }
    return true;
}

template <typename T>
struct FutureState {
    explicit FutureState(Scheduler& s) : scheduler(&s) {}
    Scheduler* scheduler;
    std::optional<T> value;
    std::error_code error;
    bool ready = false;
    std::vector<WaitRef> waiters;

    void complete() {
        ready = true;
        wake_all(*scheduler, waiters);
    }
};

}  // namespace detail

// The reading side of a one-shot value. Copyable: several fibers may wait for one value.
// Futures and promises never cross nodes: a node learns of another's work only by messages.
template <typename T>
class Future {
public:
    Future() = default;

    [[nodiscard]] bool valid() const { return state_ != nullptr; }
    [[nodiscard]] bool ready() const { return state_ && state_->ready; }

    // The outcome, once ready.
    [[nodiscard]] Result<T> get() const {
        EOSIM_ASSERT(ready());
        if (state_->error) {
            return state_->error;
        }
        return *state_->value;
    }

    // Waits (in a fiber) until ready or until true time `deadline`: then errc::timeout.
    [[nodiscard]] Result<T> wait_until(Time deadline) const {
        EOSIM_ASSERT(valid());
        detail::FutureState<T>& state = *state_;
        if (!detail::wait_until(*state.scheduler, state.waiters, deadline, [&state] { return state.ready; })) {
            return errc::timeout;
        }
        return get();
    }
    [[nodiscard]] Result<T> wait() const { return wait_until(Time::max()); }

private:
    template <typename>
    friend class Promise;
    explicit Future(std::shared_ptr<detail::FutureState<T>> state) : state_(std::move(state)) {}

    std::shared_ptr<detail::FutureState<T>> state_;
};

// The writing side. Move-only; destroyed unfulfilled (its owner crashed, say), it breaks its future.
template <typename T>
class Promise {
public:
    explicit Promise(Scheduler& scheduler = current_scheduler())
        : state_(std::make_shared<detail::FutureState<T>>(scheduler)) {}
    Promise(Promise&&) noexcept = default;
    Promise& operator=(Promise&& other) noexcept {
        if (this != &other) {
            break_if_unfulfilled();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    Promise(const Promise&) = delete;
    Promise& operator=(const Promise&) = delete;
    ~Promise() { break_if_unfulfilled(); }

    [[nodiscard]] Future<T> future() const { return Future<T>(state_); }
    [[nodiscard]] bool fulfilled() const { return state_ == nullptr || state_->ready; }

    void set_value(T value) {
        EOSIM_ASSERT_MSG(!fulfilled(), "a promise is fulfilled once");
        state_->value.emplace(std::move(value));
        state_->complete();
    }
    void set_error(std::error_code error) {
        EOSIM_ASSERT_MSG(!fulfilled(), "a promise is fulfilled once");
        EOSIM_ASSERT(error);
        state_->error = error;
        state_->complete();
    }

private:
    void break_if_unfulfilled() noexcept {
        if (state_ && !state_->ready) {
            state_->error = make_error_code(errc::broken_promise);
            state_->ready = true;
            detail::wake_all(*state_->scheduler, state_->waiters);
        }
    }

    std::shared_ptr<detail::FutureState<T>> state_;
};

}  // namespace eosim::sim
