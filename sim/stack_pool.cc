#include "sim/stack_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <new>

#include "sim/assert.h"

#if defined(EOSIM_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace eosim::sim {

StackPool::StackPool(std::size_t stack_bytes)
    : page_bytes_(static_cast<std::size_t>(::sysconf(_SC_PAGESIZE))) {
    stack_bytes_ = (stack_bytes + page_bytes_ - 1) / page_bytes_ * page_bytes_;
    EOSIM_ASSERT(stack_bytes_ >= 4 * page_bytes_);
}

StackPool::~StackPool() {
    for (void* mapping : free_) {
        ::munmap(mapping, stack_bytes_ + page_bytes_);
    }
}

boost::context::stack_context StackPool::allocate() {
    void* mapping = nullptr;
    if (!free_.empty()) {
        mapping = free_.back();
        free_.pop_back();
    } else {
        mapping = ::mmap(nullptr, stack_bytes_ + page_bytes_, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mapping == MAP_FAILED) {
            throw std::bad_alloc();
        }
        ::mprotect(mapping, page_bytes_, PROT_NONE);  // guard page: overflow faults, never corrupts
    }
    ++allocated_;
    boost::context::stack_context stack;
    stack.size = stack_bytes_;
    stack.sp = static_cast<char*>(mapping) + page_bytes_ + stack_bytes_;
    return stack;
}

void StackPool::deallocate(boost::context::stack_context& stack) {
    EOSIM_ASSERT(stack.size == stack_bytes_);
    EOSIM_ASSERT(allocated_ > 0);
    --allocated_;
#if defined(EOSIM_ASAN)
    // A fiber unwound by an exception may leave its frames' redzones poisoned: clear them for reuse.
    ASAN_UNPOISON_MEMORY_REGION(static_cast<char*>(stack.sp) - stack_bytes_, stack_bytes_);
#endif
    free_.push_back(static_cast<char*>(stack.sp) - stack_bytes_ - page_bytes_);
}

}  // namespace eosim::sim
