#pragma once

#include <stdexcept>
#include <string>

namespace eosim::sim {

// Thrown by a failed EOSIM_ASSERT. Assertions stay on in every build; a failed one inside a run ends
// that run as a failure of its seed (the run reports it with the reproduce command).
class AssertionFailure : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

[[noreturn]] void assertion_failed(const char* expression, const char* file, int line,
                                   const std::string& message);

}  // namespace eosim::sim

#define EOSIM_ASSERT(condition)                                                           \
    do {                                                                                  \
        if (!(condition)) [[unlikely]] {                                                  \
            ::eosim::sim::assertion_failed(#condition, __FILE__, __LINE__, std::string{}); \
        }                                                                                 \
    } while (false)

#define EOSIM_ASSERT_MSG(condition, message)                                          \
    do {                                                                              \
        if (!(condition)) [[unlikely]] {                                              \
            ::eosim::sim::assertion_failed(#condition, __FILE__, __LINE__, (message)); \
        }                                                                             \
    } while (false)
