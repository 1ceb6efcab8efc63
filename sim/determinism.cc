#include "sim/determinism.h"

#include <sstream>

namespace eosim::sim {

DeterminismCheck check_determinism(const std::function<std::uint64_t(std::ostream* trace)>& run) {
    DeterminismCheck check;
    check.first_fingerprint = run(nullptr);
    check.second_fingerprint = run(nullptr);
    check.deterministic = check.first_fingerprint == check.second_fingerprint;
    if (check.deterministic) {
        return check;
    }
    std::ostringstream first_trace;
    std::ostringstream second_trace;
    (void)run(&first_trace);
    (void)run(&second_trace);
    std::istringstream first(first_trace.str());
    std::istringstream second(second_trace.str());
    std::string first_line;
    std::string second_line;
    for (std::uint64_t line = 1;; ++line) {
        const bool first_more = static_cast<bool>(std::getline(first, first_line));
        const bool second_more = static_cast<bool>(std::getline(second, second_line));
        if (!first_more && !second_more) {
            break;  // the traces agree: the divergence is in untraced scheduling
        }
        if (!first_more) {
            first_line.clear();
        }
        if (!second_more) {
            second_line.clear();
        }
        if (first_line != second_line) {
            check.divergence_line = line;
            check.first_line = first_line;
            check.second_line = second_line;
            break;
        }
    }
    return check;
}

}  // namespace eosim::sim
