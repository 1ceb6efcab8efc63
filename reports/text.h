// The text reports: one run (what `eosim run` prints) and a sweep's summary (what `eosim sweep` and
// `eosim report` print).
#pragma once

#include <cstdio>
#include <vector>

#include "reports/result.h"
#include "reports/style.h"
#include "reports/summary.h"

namespace eosim::reports {

// One run: its status line; with `verbose` the parameters, the fault plan and every anomaly report; the
// failing anomalies' evidence and the reproduce command when it did not pass. `quiet`: the status line, and
// the reproduce command when it did not pass.
void print_run(std::FILE* out, const Timed& timed, bool verbose, Style style, bool quiet = false);
// The line a sweep prints when a seed fails or errs: "FAIL scenario seed N: anomalies" and the reproduce
// command.
void print_failure(std::FILE* out, const Timed& timed, Style style);
// A sweep's summary; `quiet` keeps its first line and the failures by anomaly.
void print_sweep(std::FILE* out, const SweepInfo& info, const std::vector<Timed>& results, const Tally& counts,
                 Style style, bool quiet);

}  // namespace eosim::reports
