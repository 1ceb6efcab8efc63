#include "sim/scheduler.h"

#include <algorithm>

#include "sim/assert.h"
#include "sim/hash.h"
#include "sim/node.h"
#include "sim/trace.h"

#if defined(EOSIM_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif

namespace eosim::sim {

namespace detail {

struct Fiber {
    std::uint32_t slot = 0;
    std::uint64_t id = 0;
    std::string name;
    Node* node = nullptr;
    std::function<void()> body;
    boost::context::fiber context;  // the fiber itself, while it is suspended
    boost::context::fiber caller;   // whoever resumed it, while it runs
    std::uint32_t wait_token = 0;   // non-zero while it waits to be woken
    bool kill_requested = false;
    bool finished = false;
    std::exception_ptr error;
    Fiber* previous_in_node = nullptr;
    Fiber* next_in_node = nullptr;
    // For AddressSanitizer's fiber-switch annotations.
    const void* stack_bottom = nullptr;
    std::size_t stack_size = 0;
    void* fake_stack = nullptr;
    const void* caller_bottom = nullptr;
    std::size_t caller_size = 0;
};

}  // namespace detail

namespace {

// ASan must be told of every switch between stacks, or it reports false errors when fibers unwind.
inline void start_switch([[maybe_unused]] void** fake_stack_save, [[maybe_unused]] const void* bottom,
                         [[maybe_unused]] std::size_t size) {
#if defined(EOSIM_ASAN)
    __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#endif
}

inline void finish_switch([[maybe_unused]] void* fake_stack_save, [[maybe_unused]] const void** bottom_old,
                          [[maybe_unused]] std::size_t* size_old) {
#if defined(EOSIM_ASAN)
    __sanitizer_finish_switch_fiber(fake_stack_save, bottom_old, size_old);
#endif
}

// Allocates from the pool and tells the fiber where its stack is.
class FiberStackAllocator {
public:
    FiberStackAllocator(StackPool& pool, detail::Fiber& fiber) : pool_(&pool), fiber_(&fiber) {}
    boost::context::stack_context allocate() {
        boost::context::stack_context stack = pool_->allocate();
        fiber_->stack_bottom = static_cast<char*>(stack.sp) - stack.size;
        fiber_->stack_size = stack.size;
        return stack;
    }
    void deallocate(boost::context::stack_context& stack) noexcept { pool_->deallocate(stack); }

private:
    StackPool* pool_;
    detail::Fiber* fiber_;
};

}  // namespace

std::string_view to_string(RunStatus status) {
    switch (status) {
        case RunStatus::done: return "done";
        case RunStatus::idle: return "idle";
        case RunStatus::time_bound: return "time-bound";
        case RunStatus::event_bound: return "event-bound";
    }
    return "unknown";
}

Scheduler* detail::current_scheduler = nullptr;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)

Scheduler::Scheduler(Trace& trace, std::size_t stack_bytes)
    : trace_(trace), stacks_(stack_bytes), previous_current_(detail::current_scheduler) {
    detail::current_scheduler = this;
}

Scheduler::~Scheduler() {
    detail::current_scheduler = previous_current_;
    // Nodes kill their fibers before they go; whatever is left (world fibers) unwinds here.
    for (auto& fiber : fibers_) {
        if (fiber) {
            kill(FiberRef{fiber->slot, fiber->id});
        }
    }
}

FiberRef Scheduler::spawn(Node& node, std::string name, std::function<void()> body) {
    EOSIM_ASSERT_MSG(node.up(), "spawn on a node that is down: " + node.name());
    std::uint32_t slot = 0;
    if (!free_fiber_slots_.empty()) {
        slot = free_fiber_slots_.back();
        free_fiber_slots_.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(fibers_.size());
        EOSIM_ASSERT(slot < (1U << 31U));
        fibers_.emplace_back();
        fiber_generations_.push_back(0);
    }
    auto fiber = std::make_unique<Fiber>();
    Fiber& f = *fiber;
    f.slot = slot;
    f.id = next_fiber_id_++;
    f.name = std::move(name);
    f.node = &node;
    f.body = std::move(body);
    f.context = boost::context::fiber(std::allocator_arg, FiberStackAllocator(stacks_, f),
                                      [this, &f](boost::context::fiber&& caller) {
                                          f.caller = std::move(caller);
                                          finish_switch(nullptr, &f.caller_bottom, &f.caller_size);
                                          fiber_main(*this, f);
                                          f.finished = true;
                                          start_switch(nullptr, f.caller_bottom, f.caller_size);
                                          return std::move(f.caller);
                                      });
    detail::FiberList& list = node.fibers_;
    f.previous_in_node = list.last;
    if (list.last != nullptr) {
        list.last->next_in_node = &f;
    } else {
        list.first = &f;
    }
    list.last = &f;
    fibers_[slot] = std::move(fiber);
    ++live_fibers_;
    f.wait_token = next_token(fiber_generations_[slot]);
    push(to_ns(now_), f.wait_token, slot, EventKind::wake_fiber);
    return FiberRef{slot, f.id};
}

void Scheduler::fiber_main(Scheduler& scheduler, Fiber& fiber) {
    (void)scheduler;
    try {
        if (!fiber.kill_requested) {
            fiber.body();
        }
    } catch (const FiberKilled&) {
        // The normal end of a killed fiber: its stack has unwound.
    } catch (...) {
        fiber.error = std::current_exception();
    }
    fiber.body = nullptr;
}

detail::Fiber* Scheduler::fiber_at(FiberRef ref) const {
    if (ref.slot >= fibers_.size()) {
        return nullptr;
    }
    Fiber* fiber = fibers_[ref.slot].get();
    return fiber != nullptr && fiber->id == ref.id ? fiber : nullptr;
}

bool Scheduler::alive(FiberRef fiber) const { return fiber_at(fiber) != nullptr; }

FiberRef Scheduler::current_fiber() const {
    EOSIM_ASSERT(current_ != nullptr);
    return FiberRef{current_->slot, current_->id};
}

const std::string& Scheduler::current_fiber_name() const {
    static const std::string none = "(scheduler)";
    return current_ != nullptr ? current_->name : none;
}

void Scheduler::switch_to(Fiber& fiber) {
    Fiber* previous = current_;
    Node* previous_node = current_node_;
    current_ = &fiber;
    current_node_ = fiber.node;
    void* fake_stack = nullptr;
    start_switch(&fake_stack, fiber.stack_bottom, fiber.stack_size);
    fiber.context = std::move(fiber.context).resume();
    finish_switch(fake_stack, nullptr, nullptr);
    current_ = previous;
    current_node_ = previous_node;
    if (fiber.finished) {
        finish(fiber);
    }
}

void Scheduler::finish(Fiber& fiber) {
    std::exception_ptr error = fiber.error;
    detail::FiberList& list = fiber.node->fibers_;
    (fiber.previous_in_node != nullptr ? fiber.previous_in_node->next_in_node : list.first) = fiber.next_in_node;
    (fiber.next_in_node != nullptr ? fiber.next_in_node->previous_in_node : list.last) = fiber.previous_in_node;
    const std::uint32_t slot = fiber.slot;
    fibers_[slot].reset();
    free_fiber_slots_.push_back(slot);
    --live_fibers_;
    if (error) {
        std::rethrow_exception(error);
    }
}

void Scheduler::kill(FiberRef ref) {
    Fiber* fiber = fiber_at(ref);
    if (fiber == nullptr) {
        return;
    }
    EOSIM_ASSERT_MSG(fiber != current_, "a fiber cannot kill itself; throw FiberKilled instead");
    fiber->kill_requested = true;
    fiber->wait_token = 0;
    const std::uint64_t id = fiber->id;
    switch_to(*fiber);
    EOSIM_ASSERT_MSG(!alive(FiberRef{ref.slot, id}), "a killed fiber swallowed FiberKilled and suspended again");
}

void Scheduler::kill_all(Node& node) {
    while (node.fibers_.first != nullptr) {
        Fiber* fiber = node.fibers_.first;
        if (fiber == current_) {
            // The current fiber is last to go: its caller unwinds it by throwing FiberKilled.
            fiber = fiber->next_in_node;
            if (fiber == nullptr) {
                return;
            }
        }
        kill(FiberRef{fiber->slot, fiber->id});
    }
}

std::size_t Scheduler::count_fibers(const Node& node) const {
    std::size_t count = 0;
    for (const Fiber* fiber = node.fibers_.first; fiber != nullptr; fiber = fiber->next_in_node) {
        ++count;
    }
    return count;
}

WaitRef Scheduler::begin_wait() {
    EOSIM_ASSERT_MSG(current_ != nullptr, "only a fiber can wait");
    current_->wait_token = next_token(fiber_generations_[current_->slot]);
    return WaitRef{current_->slot, current_->wait_token};
}

void Scheduler::wake_at(WaitRef ref, Time when) {
    if (ref.slot >= fibers_.size()) {
        return;
    }
    const Fiber* fiber = fibers_[ref.slot].get();
    if (fiber == nullptr || fiber->wait_token != ref.token) {
        return;
    }
    push(to_ns(std::max(when, now_)), ref.token, ref.slot, EventKind::wake_fiber);
}

void Scheduler::suspend() {
    EOSIM_ASSERT_MSG(current_ != nullptr, "only a fiber can suspend");
    Fiber& fiber = *current_;
    if (fiber.kill_requested) {
        throw FiberKilled{};
    }
    EOSIM_ASSERT_MSG(fiber.wait_token != 0, "suspend without begin_wait would never wake");
    start_switch(&fiber.fake_stack, fiber.caller_bottom, fiber.caller_size);
    fiber.caller = std::move(fiber.caller).resume();
    finish_switch(fiber.fake_stack, &fiber.caller_bottom, &fiber.caller_size);
    if (fiber.kill_requested) {
        throw FiberKilled{};
    }
}

void Scheduler::sleep_until(Time when) {
    const WaitRef ref = begin_wait();
    wake_at(ref, when);
    suspend();
}

void Scheduler::yield() { sleep_until(now_); }

TimerId Scheduler::call_at(Time when, Node* owner, std::function<void()> callback) {
    std::uint32_t slot = 0;
    if (!free_callback_slots_.empty()) {
        slot = free_callback_slots_.back();
        free_callback_slots_.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(callbacks_.size());
        EOSIM_ASSERT(slot < (1U << 31U));
        callbacks_.emplace_back();
    }
    Callback& entry = callbacks_[slot];
    entry.function = std::move(callback);
    entry.token = next_token(entry.generation);
    entry.owner = owner;
    entry.incarnation = owner != nullptr ? owner->incarnation() : 0;
    push(to_ns(std::max(when, now_)), entry.token, slot, EventKind::callback);
    return TimerId{slot, entry.token};
}

void Scheduler::cancel(TimerId timer) {
    if (timer.slot >= callbacks_.size() || timer.token == 0) {
        return;
    }
    if (callbacks_[timer.slot].token == timer.token) {
        free_callback(timer.slot);
    }
}

void Scheduler::heap_push(const Event& event) {
    const Key event_key = key(event);
    std::size_t hole = heap_.size();
    heap_.push_back(event);
    while (hole > 0) {
        const std::size_t parent = (hole - 1) / 4;
        if (key(heap_[parent]) <= event_key) {
            break;
        }
        heap_[hole] = heap_[parent];
        hole = parent;
    }
    heap_[hole] = event;
}

Scheduler::Event Scheduler::heap_pop() {
    const Event top = heap_.front();
    const Event last = heap_.back();
    heap_.pop_back();
    const std::size_t size = heap_.size();
    if (size == 0) {
        return top;
    }
    const Key last_key = key(last);
    std::size_t hole = 0;
    while (true) {
        const std::size_t first_child = hole * 4 + 1;
        if (first_child >= size) {
            break;
        }
        std::size_t best = first_child;
        Key best_key = key(heap_[first_child]);
        const std::size_t end = std::min(first_child + 4, size);
        for (std::size_t child = first_child + 1; child < end; ++child) {
            const Key child_key = key(heap_[child]);
            if (child_key < best_key) {
                best = child;
                best_key = child_key;
            }
        }
        if (last_key <= best_key) {
            break;
        }
        heap_[hole] = heap_[best];
        hole = best;
    }
    heap_[hole] = last;
    return top;
}

bool Scheduler::stale(const Event& event) const {
    const std::uint32_t slot = event.slot();
    if (event.kind() == EventKind::wake_fiber) {
        const Fiber* fiber = fibers_[slot].get();
        return fiber == nullptr || fiber->wait_token != event.token;
    }
    return callbacks_[slot].token != event.token;
}

void Scheduler::compact() {
    // Timeouts that lost the race stay in the heap until their time: drop them all now and then, so
    // the heap stays proportional to what can still happen. Order is (time, sequence): unchanged.
    std::erase_if(heap_, [this](const Event& event) { return stale(event); });
    std::vector<Event> live;
    live.swap(heap_);
    for (const Event& event : live) {
        heap_push(event);
    }
    compact_threshold_ = std::max<std::size_t>(4096, heap_.size() * 2);
}

void Scheduler::push(std::int64_t time_ns, std::uint32_t token, std::uint32_t slot, EventKind kind) {
    EOSIM_ASSERT(time_ns >= 0);
    if (heap_.size() >= compact_threshold_) [[unlikely]] {
        compact();
    }
    heap_push(Event{time_ns, next_sequence_++, slot | static_cast<std::uint32_t>(kind), token});
}

void Scheduler::free_callback(std::uint32_t slot) {
    Callback& entry = callbacks_[slot];
    entry.function = nullptr;
    entry.token = 0;
    entry.owner = nullptr;
    free_callback_slots_.push_back(slot);
}

void Scheduler::defer(const Event& event, Time until) {
    Event deferred = event;
    deferred.time_ns = to_ns(until);
    heap_push(deferred);
}

bool Scheduler::dispatch(const Event& event) {
    const std::uint32_t slot = event.slot();
    if (event.kind() == EventKind::wake_fiber) {
        Fiber* fiber = fibers_[slot].get();
        if (fiber == nullptr || fiber->wait_token != event.token) {
            return false;  // stale: the fiber was woken otherwise, or is gone
        }
        if (fiber->node->paused_until_ > now_) [[unlikely]] {
            defer(event, fiber->node->paused_until_);
            return false;
        }
        fiber->wait_token = 0;
        switch_to(*fiber);
        return true;
    }
    Callback& entry = callbacks_[slot];
    if (entry.token != event.token) {
        return false;  // cancelled
    }
    Node* owner = entry.owner;
    if (owner != nullptr) {
        if (!owner->up() || owner->incarnation() != entry.incarnation) {
            free_callback(slot);
            return false;  // its node crashed since
        }
        if (owner->paused_until_ > now_) {
            defer(event, owner->paused_until_);
            return false;
        }
    }
    std::function<void()> function = std::move(entry.function);
    free_callback(slot);
    Node* previous_node = current_node_;
    current_node_ = owner;
    try {
        function();
    } catch (...) {
        current_node_ = previous_node;
        throw;
    }
    current_node_ = previous_node;
    return true;
}

RunOutcome Scheduler::run(const RunBounds& bounds, const std::function<bool()>& done) {
    EOSIM_ASSERT_MSG(current_ == nullptr, "run() is for the scheduler's own context");
    const std::int64_t time_limit_ns = to_ns(bounds.time_limit);
    while (true) {
        if (done && done()) {
            return RunOutcome{RunStatus::done, now_, events_dispatched_};
        }
        if (heap_.empty()) {
            return RunOutcome{RunStatus::idle, now_, events_dispatched_};
        }
        if (heap_.front().time_ns > time_limit_ns) {
            now_ = bounds.time_limit;
            return RunOutcome{RunStatus::time_bound, now_, events_dispatched_};
        }
        if (events_dispatched_ >= bounds.max_events) {
            return RunOutcome{RunStatus::event_bound, now_, events_dispatched_};
        }
        const Event event = heap_pop();
        now_ = Time(Duration(event.time_ns));
        if (dispatch(event)) {
            ++events_dispatched_;
            trace_.mix(hash_combine(static_cast<std::uint64_t>(event.time_ns), event.sequence));
        }
    }
}

}  // namespace eosim::sim
