#pragma once

#include <cstddef>
#include <vector>

#include <boost/context/stack_context.hpp>

namespace eosim::sim {

// Fiber stacks: mmap'd, with a guard page below, kept in a pool for reuse (a StackAllocator for
// Boost.Context). Pages are touched only as the fiber uses them.
class StackPool {
public:
    explicit StackPool(std::size_t stack_bytes);
    StackPool(const StackPool&) = delete;
    StackPool& operator=(const StackPool&) = delete;
    ~StackPool();

    boost::context::stack_context allocate();
    void deallocate(boost::context::stack_context& stack);

    [[nodiscard]] std::size_t stack_bytes() const { return stack_bytes_; }
    [[nodiscard]] std::size_t pooled() const { return free_.size(); }
    [[nodiscard]] std::size_t allocated() const { return allocated_; }

private:
    std::size_t stack_bytes_;
    std::size_t page_bytes_;
    std::size_t allocated_ = 0;
    std::vector<void*> free_;  // lowest address of each free mapping (its guard page)
};

// The allocator handle Boost.Context copies into each fiber: it points at the pool.
class PooledStackAllocator {
public:
    explicit PooledStackAllocator(StackPool& pool) : pool_(&pool) {}
    boost::context::stack_context allocate() { return pool_->allocate(); }
    void deallocate(boost::context::stack_context& stack) noexcept { pool_->deallocate(stack); }

private:
    StackPool* pool_;
};

}  // namespace eosim::sim
