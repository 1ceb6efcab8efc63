#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "sim/invariants.h"
#include "sim/simulation.h"

namespace eosim::sim {
namespace {

TEST(Invariants, ABrokenInvariantThrowsWithItsNameAndDetail) {
    int evaluated = 0;
    const auto detail = [&evaluated] {
        ++evaluated;
        return std::string("the detail");
    };
    EXPECT_NO_THROW(EOSIM_INVARIANT(1 + 1 == 2, "arithmetic", detail()));
    EXPECT_EQ(evaluated, 0) << "the detail is built only when the invariant breaks";
    try {
        EOSIM_INVARIANT(1 + 1 == 3, "arithmetic", detail());
        FAIL() << "no throw";
    } catch (const InvariantViolation& violation) {
        EXPECT_EQ(violation.name(), "arithmetic");
        EXPECT_STREQ(violation.what(), "invariant arithmetic broken: the detail");
    }
    EXPECT_EQ(evaluated, 1);
}

TEST(Invariants, AViolationInAFiberEndsTheRunAndKeepsItsType) {
    Simulation simulation(SimulationOptions{.seed = 1});
    simulation.world().spawn("checker", [] {
        sleep(1ms);
        EOSIM_INVARIANT(false, "never", std::string("broken in a fiber"));
    });
    EXPECT_THROW((void)simulation.run(RunBounds{}), InvariantViolation);
}

TEST(Witness, OneOwnerPerClaim) {
    Witness witness;
    witness.claim("one-leader-per-epoch", "leadership of t-0 in epoch 3", "broker 1");
    witness.claim("one-leader-per-epoch", "leadership of t-0 in epoch 3", "broker 1");  // the same owner again
    witness.claim("one-leader-per-epoch", "leadership of t-0 in epoch 4", "broker 2");
    try {
        witness.claim("one-leader-per-epoch", "leadership of t-0 in epoch 3", "broker 2");
        FAIL() << "a second owner of one claim must break the invariant";
    } catch (const InvariantViolation& violation) {
        EXPECT_EQ(violation.name(), "one-leader-per-epoch");
        EXPECT_NE(std::string(violation.what()).find("already claimed by broker 1"), std::string::npos);
    }
}

TEST(Witness, KeepsTheHighestValueReached) {
    Witness witness;
    EXPECT_EQ(witness.highest("version"), std::numeric_limits<std::int64_t>::min());
    EXPECT_EQ(witness.raise("version", 5), 5);
    EXPECT_EQ(witness.raise("version", 3), 5);
    EXPECT_EQ(witness.raise("version", 9), 9);
    EXPECT_EQ(witness.highest("version"), 9);
    EXPECT_EQ(witness.highest("other"), std::numeric_limits<std::int64_t>::min());
}

TEST(Witness, TalliesCountFromZero) {
    Witness witness;
    EXPECT_EQ(witness.tallied("power losses"), 0);
    witness.tally("power losses");
    witness.tally("power losses");
    EXPECT_EQ(witness.tallied("power losses"), 2);
    EXPECT_EQ(witness.tallied("unclean elections"), 0);
}

}  // namespace
}  // namespace eosim::sim
