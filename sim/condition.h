#pragma once

#include <vector>

#include "sim/future.h"
#include "sim/scheduler.h"

namespace eosim::sim {

// Fibers wait for a predicate over state they share on one node; whoever changes that state notifies.
class Condition {
public:
    explicit Condition(Scheduler& scheduler = current_scheduler()) : scheduler_(&scheduler) {}
    Condition(const Condition&) = delete;
    Condition& operator=(const Condition&) = delete;

    void notify_all() { detail::wake_all(*scheduler_, waiters_); }

    // Waits (in a fiber) until `ready()` holds or true time `deadline` passes; false on timeout.
    template <typename Ready>
    bool wait_until(Time deadline, Ready ready) {
        return detail::wait_until(*scheduler_, waiters_, deadline, ready);
    }

private:
    Scheduler* scheduler_;
    std::vector<WaitRef> waiters_;
};

}  // namespace eosim::sim
