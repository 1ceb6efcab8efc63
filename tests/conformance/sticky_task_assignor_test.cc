// Kafka Streams' StickyTaskAssignorTest (the cases that do not depend on spreading a client's tasks over
// sub-topologies, which eosim's assignor does not do), against streams_core's assign_tasks. Kafka's
// clients are eosim's instances (processes); a client's capacity is its number of stream threads, each a
// member of the group. Plus the parts of StreamsPartitionAssignorTest that hold for eosim: co-partitioned
// topics go to one member together, and the subscription and assignment user data round-trip.
#include <gtest/gtest.h>

#include <set>

#include "streams_core/assignor.h"

namespace eosim::streams_core {
namespace {

using client_core::Assignment;
using client_core::Subscription;

constexpr TaskId task_0_0{0, 0};
constexpr TaskId task_0_1{0, 1};
constexpr TaskId task_0_2{0, 2};
constexpr TaskId task_0_3{0, 3};
constexpr TaskId task_0_4{0, 4};
constexpr TaskId task_0_5{0, 5};

// Kafka's ClientState as a test builds it.
struct Client {
    std::string process;
    int capacity = 1;
    std::set<TaskId> previous_active;
    std::set<TaskId> previous_standby;
    std::map<TaskId, std::int64_t> offset_sums;
};

// What a process got: the union of its members' assignments.
struct Given {
    std::set<TaskId> active;
    std::set<TaskId> standby;
    std::size_t members = 0;
    [[nodiscard]] std::size_t load() const { return active.size() + standby.size(); }
};

// One sub-topology reading `topic0` with `partitions` partitions (Kafka's tasks 0_0 .. 0_n).
std::vector<Subtopology> one_subtopology() {
    Subtopology part;
    part.id = 0;
    part.source_topics = {"topic0"};
    return {part};
}

std::map<std::string, Given> assign(const std::vector<Client>& clients, std::int32_t partitions,
                                    std::int32_t standby_replicas = 0) {
    std::map<std::string, Subscription> subscriptions;
    for (const Client& client : clients) {
        for (int t = 0; t < client.capacity; ++t) {
            SubscriptionInfo info;
            info.process = client.process;
            if (t == 0) {  // the process's first thread ran its tasks
                info.previous_active = client.previous_active;
                info.previous_standby = client.previous_standby;
            }
            info.offset_sums = client.offset_sums;
            subscriptions.emplace(client.process + "-thread-" + std::to_string(t),
                                  Subscription{.topics = {"topic0"}, .user_data = encode(info)});
        }
    }
    const std::map<std::string, Assignment> result =
        assign_tasks(one_subtopology(), {{"topic0", partitions}}, subscriptions, standby_replicas);
    EXPECT_EQ(result.size(), subscriptions.size());
    std::map<std::string, Given> out;
    for (const Client& client : clients) {
        out[client.process];
    }
    for (const auto& [member, assignment] : result) {
        const std::string process = member.substr(0, member.find("-thread-"));
        const std::optional<AssignmentInfo> info = decode_assignment_info(assignment.user_data);
        EXPECT_TRUE(info.has_value());
        Given& given = out[process];
        ++given.members;
        for (const TaskId id : info->active) {
            EXPECT_TRUE(given.active.insert(id).second);
            // The member reads exactly its active tasks' partitions.
            EXPECT_NE(std::find(assignment.partitions.begin(), assignment.partitions.end(),
                                protocol::TopicPartition{"topic0", id.partition}),
                      assignment.partitions.end());
        }
        given.standby.insert(info->standby.begin(), info->standby.end());
        EXPECT_EQ(assignment.partitions.size(), info->active.size());
    }
    return out;
}

// Every task active exactly once, and no process stands by for a task it runs.
void expect_valid(const std::map<std::string, Given>& given, std::int32_t partitions) {
    std::map<TaskId, int> actives;
    for (const auto& [process, tasks] : given) {
        for (const TaskId id : tasks.active) {
            ++actives[id];
            EXPECT_FALSE(tasks.standby.contains(id)) << process;
        }
    }
    EXPECT_EQ(actives.size(), static_cast<std::size_t>(partitions));
    for (const auto& [id, count] : actives) {
        EXPECT_EQ(count, 1);
    }
}

TEST(StickyTaskAssignorTest, shouldAssignOneActiveTaskToEachProcessWhenTaskCountSameAsProcessCount) {
    const auto given = assign({{"p1"}, {"p2"}, {"p3"}}, 3);
    expect_valid(given, 3);
    for (const auto& [process, tasks] : given) {
        EXPECT_EQ(tasks.active.size(), 1U) << process;
    }
}

TEST(StickyTaskAssignorTest, shouldNotMigrateActiveTaskToOtherProcess) {
    const auto given = assign({{"p1", 1, {task_0_0}}, {"p2", 1, {task_0_1}}, {"p3"}}, 3);
    expect_valid(given, 3);
    EXPECT_EQ(given.at("p1").active, std::set<TaskId>{task_0_0});
    EXPECT_EQ(given.at("p2").active, std::set<TaskId>{task_0_1});
    EXPECT_EQ(given.at("p3").active, std::set<TaskId>{task_0_2});
}

TEST(StickyTaskAssignorTest, shouldMigrateActiveTasksToNewProcessWithoutChangingAllAssignments) {
    const auto given = assign({{"p1", 1, {task_0_0, task_0_1}}, {"p2", 1, {task_0_2}}, {"p3"}}, 3);
    expect_valid(given, 3);
    EXPECT_EQ(given.at("p1").active.size(), 1U);
    EXPECT_TRUE(given.at("p1").active.contains(task_0_0) || given.at("p1").active.contains(task_0_1));
    EXPECT_EQ(given.at("p2").active, std::set<TaskId>{task_0_2});
    EXPECT_EQ(given.at("p3").active.size(), 1U);
}

TEST(StickyTaskAssignorTest, shouldAssignBasedOnCapacity) {
    const auto given = assign({{"p1", 1}, {"p2", 2}}, 3);
    expect_valid(given, 3);
    EXPECT_EQ(given.at("p1").active.size(), 1U);
    EXPECT_EQ(given.at("p2").active.size(), 2U);
}

TEST(StickyTaskAssignorTest, shouldKeepActiveTaskStickinessWhenMoreClientThanActiveTasks) {
    const auto given =
        assign({{"p1", 1, {task_0_0}}, {"p2", 1, {task_0_1}}, {"p3", 1, {task_0_2}}, {"p4"}, {"p5"}}, 3);
    expect_valid(given, 3);
    EXPECT_EQ(given.at("p1").active, std::set<TaskId>{task_0_0});
    EXPECT_EQ(given.at("p2").active, std::set<TaskId>{task_0_1});
    EXPECT_EQ(given.at("p3").active, std::set<TaskId>{task_0_2});
    EXPECT_TRUE(given.at("p4").active.empty());
    EXPECT_TRUE(given.at("p5").active.empty());
}

TEST(StickyTaskAssignorTest, shouldAssignTasksToClientWithPreviousStandbyTasks) {
    const auto given =
        assign({{"p1", 1, {}, {task_0_2}}, {"p2", 1, {}, {task_0_1}}, {"p3", 1, {}, {task_0_0}}}, 3);
    expect_valid(given, 3);
    EXPECT_EQ(given.at("p1").active, std::set<TaskId>{task_0_2});
    EXPECT_EQ(given.at("p2").active, std::set<TaskId>{task_0_1});
    EXPECT_EQ(given.at("p3").active, std::set<TaskId>{task_0_0});
}

TEST(StickyTaskAssignorTest, shouldAssignBasedOnCapacityWhenMultipleClientHaveStandbyTasks) {
    const auto given = assign({{"p1", 1, {task_0_0}, {task_0_1}}, {"p2", 2, {task_0_2}, {task_0_1}}}, 3);
    expect_valid(given, 3);
    EXPECT_EQ(given.at("p1").active, std::set<TaskId>{task_0_0});
    EXPECT_EQ(given.at("p2").active, (std::set<TaskId>{task_0_1, task_0_2}));
}

TEST(StickyTaskAssignorTest, shouldAssignStandbyTasksToDifferentClientThanCorrespondingActiveTaskIsAssignedTo) {
    const auto given =
        assign({{"p1", 1, {task_0_0}}, {"p2", 1, {task_0_1}}, {"p3", 1, {task_0_2}}, {"p4", 1, {task_0_3}}}, 4, 1);
    expect_valid(given, 4);
    std::size_t standbys = 0;
    for (const auto& [process, tasks] : given) {
        EXPECT_LE(tasks.standby.size(), 2U) << process;
        standbys += tasks.standby.size();
    }
    EXPECT_EQ(standbys, 4U);
}

TEST(StickyTaskAssignorTest, shouldAssignMultipleReplicasOfStandbyTask) {
    const auto given = assign({{"p1", 1, {task_0_0}}, {"p2", 1, {task_0_1}}, {"p3", 1, {task_0_2}}}, 3, 2);
    expect_valid(given, 3);
    EXPECT_EQ(given.at("p1").standby, (std::set<TaskId>{task_0_1, task_0_2}));
    EXPECT_EQ(given.at("p2").standby, (std::set<TaskId>{task_0_0, task_0_2}));
    EXPECT_EQ(given.at("p3").standby, (std::set<TaskId>{task_0_0, task_0_1}));
}

TEST(StickyTaskAssignorTest, shouldNotAssignStandbyTaskReplicasWhenNoClientAvailableWithoutHavingTheTaskAssigned) {
    const auto given = assign({{"p1"}}, 1, 1);
    expect_valid(given, 1);
    EXPECT_TRUE(given.at("p1").standby.empty());
}

TEST(StickyTaskAssignorTest, shouldAssignActiveAndStandbyTasks) {
    const auto given = assign({{"p1"}, {"p2"}, {"p3"}}, 3, 1);
    expect_valid(given, 3);
    std::map<TaskId, int> standbys;
    for (const auto& [process, tasks] : given) {
        for (const TaskId id : tasks.standby) {
            ++standbys[id];
        }
    }
    EXPECT_EQ(standbys, (std::map<TaskId, int>{{task_0_0, 1}, {task_0_1, 1}, {task_0_2, 1}}));
}

TEST(StickyTaskAssignorTest, shouldAssignEachActiveTaskToOneClientWhenMoreClientsThanTasks) {
    const auto given = assign({{"p1"}, {"p2"}, {"p3"}, {"p4"}, {"p5"}, {"p6"}}, 3);
    expect_valid(given, 3);
    int idle = 0;
    for (const auto& [process, tasks] : given) {
        idle += tasks.active.empty() ? 1 : 0;
    }
    EXPECT_EQ(idle, 3);
}

TEST(StickyTaskAssignorTest, shouldBalanceActiveAndStandbyTasksAcrossAvailableClients) {
    const auto given = assign({{"p1"}, {"p2"}, {"p3"}, {"p4"}, {"p5"}, {"p6"}}, 3, 1);
    expect_valid(given, 3);
    for (const auto& [process, tasks] : given) {
        EXPECT_EQ(tasks.load(), 1U) << process;
    }
}

TEST(StickyTaskAssignorTest, shouldNotHaveSameAssignmentOnAnyTwoHosts) {
    const auto given = assign({{"p1"}, {"p2"}, {"p3"}, {"p4"}}, 4, 1);
    expect_valid(given, 4);
    std::set<std::set<TaskId>> seen;
    for (const auto& [process, tasks] : given) {
        std::set<TaskId> all = tasks.active;
        all.insert(tasks.standby.begin(), tasks.standby.end());
        EXPECT_TRUE(seen.insert(all).second) << process;
    }
}

TEST(StickyTaskAssignorTest, shouldReBalanceTasksAcrossClientsWhenCapacityLessThanTaskCount) {
    const auto given = assign({{"p1"}}, 3);
    expect_valid(given, 3);
    EXPECT_EQ(given.at("p1").active.size(), 3U);
}

TEST(StickyTaskAssignorTest, shouldRebalanceTasksToClientsBasedOnCapacity) {
    const auto given = assign({{"p2", 1, {task_0_0, task_0_3, task_0_2}}, {"p3", 2}}, 3);
    expect_valid(given, 3);
    EXPECT_EQ(given.at("p2").active.size(), 1U);
    EXPECT_EQ(given.at("p3").active.size(), 2U);
}

TEST(StickyTaskAssignorTest, shouldAssignTasksToNewClientWithoutFlippingAssignmentBetweenExistingClients) {
    const auto given = assign({{"p1", 1, {task_0_0, task_0_1, task_0_2}}, {"p2", 1, {task_0_3, task_0_4, task_0_5}},
                               {"p3"}},
                              6);
    expect_valid(given, 6);
    for (const TaskId id : given.at("p1").active) {
        EXPECT_TRUE(id == task_0_0 || id == task_0_1 || id == task_0_2);
    }
    for (const TaskId id : given.at("p2").active) {
        EXPECT_TRUE(id == task_0_3 || id == task_0_4 || id == task_0_5);
    }
    EXPECT_EQ(given.at("p3").active.size(), 2U);
}

// eosim: a task nobody ran goes to the instance with the most of its state (the highest checkpointed
// offset sum, KIP-441's lag), where balance allows.
TEST(StickyTaskAssignorTest, TaskGoesToTheInstanceWithMostOfItsState) {
    const auto given = assign({{"p1", 1, {}, {}, {{task_0_1, 10}}}, {"p2", 1, {}, {}, {{task_0_1, 500}}}}, 2);
    expect_valid(given, 2);
    EXPECT_EQ(given.at("p2").active, std::set<TaskId>{task_0_1});
    EXPECT_EQ(given.at("p1").active, std::set<TaskId>{task_0_0});
}

// eosim: a standby goes where the task's state is.
TEST(StickyTaskAssignorTest, StandbyGoesToTheInstanceWithTheTasksState) {
    const auto given = assign({{"p1", 1, {task_0_0}}, {"p2"}, {"p3", 1, {}, {}, {{task_0_0, 40}}}}, 1, 1);
    expect_valid(given, 1);
    EXPECT_EQ(given.at("p3").standby, std::set<TaskId>{task_0_0});
    EXPECT_TRUE(given.at("p2").standby.empty());
}

// Within an instance, a thread keeps the task it ran.
TEST(StickyTaskAssignorTest, ThreadKeepsItsTaskWithinTheInstance) {
    std::map<std::string, Subscription> subscriptions;
    SubscriptionInfo first{.process = "p1", .previous_active = {task_0_1}};
    SubscriptionInfo second{.process = "p1", .previous_active = {task_0_0}};
    subscriptions.emplace("a", Subscription{.topics = {"topic0"}, .user_data = encode(first)});
    subscriptions.emplace("b", Subscription{.topics = {"topic0"}, .user_data = encode(second)});
    const auto result = assign_tasks(one_subtopology(), {{"topic0", 2}}, subscriptions, 0);
    EXPECT_EQ(decode_assignment_info(result.at("a").user_data)->active, std::set<TaskId>{task_0_1});
    EXPECT_EQ(decode_assignment_info(result.at("b").user_data)->active, std::set<TaskId>{task_0_0});
}

// StreamsPartitionAssignorTest: co-partitioned topics of one sub-topology (a join) are one task, so the
// same partition number of each goes to one member.
TEST(StreamsPartitionAssignorTest, CoPartitionedTopicsGoTogether) {
    Subtopology join;
    join.id = 0;
    join.source_topics = {"clicks", "users"};
    std::map<std::string, Subscription> subscriptions;
    for (const char* member : {"m1", "m2", "m3"}) {
        subscriptions.emplace(member, Subscription{.topics = {"clicks", "users"},
                                                   .user_data = encode(SubscriptionInfo{.process = member})});
    }
    const auto result = assign_tasks({join}, {{"clicks", 3}, {"users", 3}}, subscriptions, 0);
    for (const auto& [member, assignment] : result) {
        ASSERT_EQ(assignment.partitions.size(), 2U) << member;
        EXPECT_EQ(assignment.partitions[0].partition, assignment.partitions[1].partition) << member;
    }
}

TEST(StreamsPartitionAssignorTest, UserDataRoundTrips) {
    const SubscriptionInfo info{.process = "app-1.2",
                                .previous_active = {task_0_1, TaskId{1, 3}},
                                .previous_standby = {task_0_2},
                                .offset_sums = {{task_0_1, SubscriptionInfo::latest}, {task_0_5, 1234}}};
    EXPECT_EQ(decode_subscription_info(encode(info)), info);
    const AssignmentInfo assignment{.active = {task_0_0}, .standby = {task_0_1, task_0_2}};
    EXPECT_EQ(decode_assignment_info(encode(assignment)), assignment);
    EXPECT_EQ(decode_assignment_info(encode(AssignmentInfo{})), AssignmentInfo{});
    // Malformed user data is refused, not guessed at.
    EXPECT_FALSE(decode_subscription_info("process a\nactive 0_x\nstandby\nstate\n").has_value());
    EXPECT_FALSE(decode_subscription_info("process a\nactive\nstandby\nstate 0_1=-7\n").has_value());
    EXPECT_FALSE(decode_subscription_info("process a\nactive\n").has_value());
    EXPECT_FALSE(decode_assignment_info("active 0_1\nstandby 0_1\n").has_value());
    // The consumer protocol carries it, and leaves old encodings as they were.
    const client_core::Subscription subscription{.topics = {"t"}, .user_data = encode(info)};
    EXPECT_EQ(client_core::decode_subscription(client_core::encode_subscription(subscription)), subscription);
    const client_core::Assignment given{.partitions = {{"t", 1}}, .user_data = encode(assignment)};
    EXPECT_EQ(client_core::decode_assignment(client_core::encode_assignment(given)), given);
    EXPECT_EQ(client_core::encode_assignment(client_core::Assignment{.partitions = {{"t", 1}}}).size(), 2U + 4U + 2U + 1U + 4U);
}

}  // namespace
}  // namespace eosim::streams_core
