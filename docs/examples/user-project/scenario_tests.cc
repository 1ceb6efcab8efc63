// Tests of a project of your own, against an installed eosim: a RapidCheck property over scenario seeds,
// and a bug switch the harness must catch.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cstdint>

#include "scenarios/runner.h"
#include "scenarios/spec.h"

namespace {

const eosim::scenarios::Spec& log_acks_all() {
    const eosim::scenarios::Spec* spec = eosim::scenarios::find_builtin("log-acks-all");
    if (spec == nullptr) {
        throw std::runtime_error("log-acks-all is not a built-in scenario");
    }
    return *spec;
}

// RapidCheck draws the seed; a failing case logs the command that reproduces it.
RC_GTEST_PROP(LogAcksAll, AnySeedPassesAndRunsTheSameTwice, ()) {
    const auto seed = *rc::gen::inRange<std::uint64_t>(1, 1'000'000'000);
    const eosim::scenarios::RunResult result = eosim::scenarios::run(log_acks_all(), seed);
    RC_LOG() << "reproduce: " << result.reproduce << '\n';
    RC_ASSERT(result.status == eosim::scenarios::RunStatus::pass);
    RC_ASSERT(eosim::scenarios::run(log_acks_all(), seed).fingerprint == result.fingerprint);
}

// A bug switch is a regression test for the harness: it must be caught.
TEST(LogAcksAll, AckBeforeIsrIsCaught) {
    const eosim::scenarios::RunResult result = eosim::scenarios::run(log_acks_all(), 1, {.bug = "ack-before-isr"});
    EXPECT_EQ(result.status, eosim::scenarios::RunStatus::fail) << result.reproduce;
    EXPECT_FALSE(result.anomalies.empty());
}

}  // namespace
