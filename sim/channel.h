#pragma once

#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "sim/errc.h"
#include "sim/future.h"
#include "sim/scheduler.h"

namespace eosim::sim {

// An unbounded FIFO queue between fibers of one node (or from the network into a node).
// Receivers wait with a deadline; a closed channel yields what it holds, then its close reason.
template <typename T>
class Channel {
public:
    explicit Channel(Scheduler& scheduler = current_scheduler()) : scheduler_(&scheduler) {}
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    // Adds an item (dropped if the channel is closed) and wakes the receivers.
    void push(T item) {
        if (closed_) {
            return;
        }
        items_.push_back(std::move(item));
        detail::wake_all(*scheduler_, waiters_);
    }

    [[nodiscard]] std::optional<T> try_receive() {
        if (items_.empty()) {
            return std::nullopt;
        }
        T item = std::move(items_.front());
        items_.pop_front();
        return item;
    }

    // Waits (in a fiber) for an item until true time `deadline`: errc::timeout, or the close reason.
    [[nodiscard]] Result<T> receive_until(Time deadline) {
        if (!detail::wait_until(*scheduler_, waiters_, deadline, [this] { return !items_.empty() || closed_; })) {
            return errc::timeout;
        }
        if (items_.empty()) {
            return close_reason_;
        }
        return *try_receive();
    }
    [[nodiscard]] Result<T> receive() { return receive_until(Time::max()); }

    void close(std::error_code reason = make_error_code(errc::channel_closed)) {
        if (closed_) {
            return;
        }
        closed_ = true;
        close_reason_ = reason;
        detail::wake_all(*scheduler_, waiters_);
    }

    [[nodiscard]] bool closed() const { return closed_; }
    [[nodiscard]] std::size_t size() const { return items_.size(); }
    [[nodiscard]] bool empty() const { return items_.empty(); }

private:
    Scheduler* scheduler_;
    std::deque<T> items_;
    std::vector<WaitRef> waiters_;
    bool closed_ = false;
    std::error_code close_reason_;
};

}  // namespace eosim::sim
