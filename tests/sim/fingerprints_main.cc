// Prints "seed fingerprint" for each seed of the workload: the cross-build determinism test compares
// the release build's output with the asan build's own runs.
#include <cstdio>
#include <cstdlib>

#include "tests/sim/workload.h"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: sim_fingerprints FIRST_SEED LAST_SEED\n");
        return 2;
    }
    const std::uint64_t first = std::strtoull(argv[1], nullptr, 10);
    const std::uint64_t last = std::strtoull(argv[2], nullptr, 10);
    for (std::uint64_t seed = first; seed <= last; ++seed) {
        const auto result = eosim::sim::testing::run_workload(seed);
        std::printf("%llu %016llx\n", static_cast<unsigned long long>(seed),
                    static_cast<unsigned long long>(result.fingerprint));
    }
    return 0;
}
