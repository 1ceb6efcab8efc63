// unavailable (model/availability.cc): a send may fail only while the cluster was unhealthy, or within the
// grace after it healed.

#include <gtest/gtest.h>

#include "model/checkers.h"

namespace eosim::model {
namespace {

constexpr std::int64_t second = 1'000'000'000;

class AvailabilityHistory {
public:
    void health(std::int64_t time, bool healthy) { history_.health.push_back(HealthChange{time, healthy}); }

    // A send of `value` invoked at `invoked`, completed at `ended` as `outcome`.
    void send(const std::string& value, std::int64_t invoked, std::int64_t ended, OpType outcome,
              const std::string& error = "UNKNOWN_PRODUCER_ID") {
        history_.operations.push_back(Operation{.index = next_++,
                                                .time = invoked,
                                                .process = "producer-1",
                                                .type = OpType::invoke,
                                                .f = "send",
                                                .partition = "events-0",
                                                .value = value,
                                                .acks = Acks::all});
        Operation done{.index = next_++,
                       .time = ended,
                       .process = "producer-1",
                       .type = outcome,
                       .f = "send",
                       .partition = "events-0",
                       .value = value,
                       .acks = Acks::all};
        if (outcome == OpType::ok) {
            done.offset = static_cast<std::int64_t>(next_);
        } else {
            done.error = error;
        }
        history_.operations.push_back(std::move(done));
    }

    [[nodiscard]] const History& history() const { return history_; }

private:
    History history_;
    std::uint64_t next_ = 1;
};

TEST(Unavailable, SilentForASendOfAFencedProducer) {
    // Another instance took over the transactional id: the send had to fail (spurious-fence judges the fence).
    AvailabilityHistory run;
    run.health(1 * second, true);
    run.send("p1-probe-0-0", 3 * second, 4 * second, OpType::fail, "PRODUCER_FENCED");
    run.send("p1-probe-0-1", 3 * second, 4 * second, OpType::fail, "INVALID_PRODUCER_EPOCH");
    EXPECT_TRUE(check_unavailable(run.history()).empty());
}

TEST(Unavailable, FiresForASendThatFailedWhileTheClusterWasHealthy) {
    AvailabilityHistory run;
    run.health(1 * second, true);
    run.send("p1-probe-0-0", 3 * second, 4 * second, OpType::fail);
    const std::vector<Anomaly> found = check_unavailable(run.history());
    ASSERT_EQ(found.size(), 1U);
    EXPECT_EQ(found[0].name, "unavailable");
    EXPECT_EQ(found[0].partition, "events-0");
    EXPECT_EQ(found[0].evidence["index"], 2);
    EXPECT_EQ(found[0].evidence["invoke_index"], 1);
    EXPECT_EQ(found[0].evidence["error"], "UNKNOWN_PRODUCER_ID");
    EXPECT_EQ(found[0].evidence["healthy_from"], 1 * second);
    EXPECT_EQ(found[0].description,
              "send op 2 (producer-1, invoked at op 1) to events-0 failed with UNKNOWN_PRODUCER_ID at 4.000 s, though "
              "the cluster was healthy from 1.000 s (more than 1.0 s before the send) until after it ended");
}

TEST(Unavailable, FiresForAnUnknownOutcomeToo) {
    AvailabilityHistory run;
    run.health(0, true);
    run.send("v", 2 * second, 3 * second, OpType::info);
    EXPECT_EQ(check_unavailable(run.history()).size(), 1U);
}

TEST(Unavailable, SilentForFailuresDuringOrJustAfterFaults) {
    AvailabilityHistory run;
    run.health(0, true);
    run.health(2 * second, false);
    run.health(5 * second, true);
    run.health(9 * second, false);
    run.send("ended-after-the-fault-began", 1 * second + 1, 2 * second + 1, OpType::fail);
    run.send("during-the-fault", 3 * second, 4 * second, OpType::fail);
    run.send("invoked-within-the-grace", 5 * second + second / 2, 6 * second, OpType::fail);
    run.send("ended-as-the-next-fault-began", 7 * second, 9 * second, OpType::info);
    run.send("acknowledged", 6 * second, 7 * second, OpType::ok);
    EXPECT_TRUE(check_unavailable(run.history()).empty());
}

TEST(Unavailable, TheGraceCountsFromTheLatestHealing) {
    AvailabilityHistory run;
    run.health(0, false);
    run.health(5 * second, true);
    run.send("exactly-the-grace-after", 6 * second, 7 * second, OpType::fail);
    EXPECT_EQ(check_unavailable(run.history()).size(), 1U);
}

TEST(Unavailable, SilentWithoutHealthLines) {
    // A history recorded outside the simulator says nothing about health: nothing can be proven.
    AvailabilityHistory run;
    run.send("v", 5 * second, 6 * second, OpType::fail);
    EXPECT_TRUE(check_unavailable(run.history()).empty());
}

TEST(Unavailable, RunsAsPartOfCheck) {
    AvailabilityHistory run;
    run.health(0, true);
    run.send("v", 2 * second, 3 * second, OpType::fail);
    const std::vector<Anomaly> found = check(run.history());
    EXPECT_TRUE(std::any_of(found.begin(), found.end(), [](const Anomaly& a) { return a.name == "unavailable"; }));
}

}  // namespace
}  // namespace eosim::model
