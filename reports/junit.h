// JUnit XML (`sweep --junit FILE`, `report --junit FILE`), the format CI systems show as tests.
#pragma once

#include <ostream>
#include <vector>

#include "reports/result.h"
#include "reports/summary.h"

namespace eosim::reports {

// <testsuites> with a <testsuite> per scenario and a <testcase> per seed. A failed seed's <failure> carries
// its anomalies (message), its evidence and its reproduce command; a seed that ended in error has an <error>.
// Results must be sorted (sort_results).
void write_junit(std::ostream& out, const SweepInfo& info, const std::vector<Timed>& results);

}  // namespace eosim::reports
