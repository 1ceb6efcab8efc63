#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "tests/sim/workload.h"

namespace eosim::sim::testing {
namespace {

constexpr std::uint64_t seed_count = 200;

TEST(Determinism, SameSeedSameFingerprintDifferentSeedsDiffer) {
    std::set<std::uint64_t> fingerprints;
    std::uint64_t crashes = 0;
    std::uint64_t rpc_ok = 0;
    std::uint64_t rpc_failed = 0;
    for (std::uint64_t seed = 1; seed <= seed_count; ++seed) {
        const WorkloadResult first = run_workload(seed);
        const WorkloadResult second = run_workload(seed);
        ASSERT_EQ(first.fingerprint, second.fingerprint) << "seed " << seed;
        ASSERT_EQ(first.events, second.events) << "seed " << seed;
        fingerprints.insert(first.fingerprint);
        crashes += first.crashes;
        rpc_ok += first.rpc_ok;
        rpc_failed += first.rpc_failed;
    }
    EXPECT_EQ(fingerprints.size(), seed_count) << "different seeds must give different fingerprints";
    // The workload must really exercise faults and traffic, or the test proves nothing.
    EXPECT_GT(crashes, seed_count / 2);
    EXPECT_GT(rpc_ok, seed_count * 10);
    EXPECT_GT(rpc_failed, seed_count);
}

// The release and asan builds give every seed the same fingerprint. This test runs in the asan build,
// which knows where the release build is (EOSIM_PEER_BUILD_DIR); it runs the release build's
// sim_fingerprints over the same seeds and compares.
TEST(Determinism, SameFingerprintAcrossBuilds) {
#if !defined(EOSIM_PEER_FINGERPRINTS)
    GTEST_SKIP() << "no peer build configured (the asan preset compares with build/release)";
#else
    const std::string tool = EOSIM_PEER_FINGERPRINTS;
    std::ifstream exists(tool);
    if (!exists) {
        GTEST_SKIP() << "peer build has no " << tool << " (build the release preset first)";
    }
    constexpr std::uint64_t first_seed = 1;
    constexpr std::uint64_t last_seed = 20;
    const std::string command = tool + " " + std::to_string(first_seed) + " " + std::to_string(last_seed);
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::map<std::uint64_t, std::uint64_t> peer;
    unsigned long long seed = 0;
    unsigned long long fingerprint = 0;
    while (std::fscanf(pipe, "%llu %llx", &seed, &fingerprint) == 2) {
        peer[seed] = fingerprint;
    }
    ASSERT_EQ(::pclose(pipe), 0) << command;
    ASSERT_EQ(peer.size(), last_seed - first_seed + 1);
    for (const auto& [peer_seed, peer_fingerprint] : peer) {
        EXPECT_EQ(run_workload(peer_seed).fingerprint, peer_fingerprint) << "seed " << peer_seed;
    }
#endif
}

}  // namespace
}  // namespace eosim::sim::testing
