// Kafka's AbstractStickyAssignorTest and CooperativeStickyAssignorTest (without racks and static members),
// against client_core's cooperative_sticky_assign. Like Kafka's cooperative test, a rebalance that revokes
// something is followed by more rounds (members then owning what they were given) before the result is
// checked for validity and balance.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "client_core/assignors.h"

namespace eosim::client_core {
namespace {

using protocol::TopicPartition;
using Partitions = std::vector<TopicPartition>;
using Topics = std::map<std::string, std::int32_t>;
using Subscriptions = std::map<std::string, Subscription>;
using Result = std::map<std::string, Assignment>;

const std::string topic = "topic";
const std::string topic1 = "topic1";
const std::string topic2 = "topic2";
const std::string topic3 = "topic3";
const std::string consumer1 = "consumer1";
const std::string consumer2 = "consumer2";
const std::string consumer3 = "consumer3";
const std::string consumer4 = "consumer4";
constexpr std::int32_t generation_id = 1;
constexpr std::int32_t no_generation = -1;

// Kafka's subscription(topics, i): nothing owned, no generation.
Subscription subscribed(std::vector<std::string> topics) {
    std::sort(topics.begin(), topics.end());
    return Subscription{.topics = std::move(topics)};
}

// Kafka's buildSubscriptionV2Above.
Subscription owning(std::vector<std::string> topics, Partitions owned, std::int32_t generation = generation_id) {
    std::sort(topics.begin(), topics.end());
    return Subscription{.topics = std::move(topics), .owned = std::move(owned), .generation_id = generation};
}

TopicPartition tp(const std::string& name, std::int32_t partition) {
    return TopicPartition{name, partition};
}

Partitions sorted(Partitions partitions) {
    std::sort(partitions.begin(), partitions.end());
    return partitions;
}

// Kafka's getTopicName / getConsumerName: a prefix and the number, zero-padded to the width of `max`.
std::string name(const std::string& prefix, int i, int max) {
    std::string number = std::to_string(i);
    const std::size_t width = std::to_string(max).size();
    return prefix + std::string(width > number.size() ? width - number.size() : 0, '0') + number;
}

bool fully_balanced(const Result& result) {
    std::size_t min = SIZE_MAX;
    std::size_t max = 0;
    for (const auto& [member, given] : result) {
        min = std::min(min, given.partitions.size());
        max = std::max(max, given.partitions.size());
    }
    return result.empty() || max - min <= 1;
}

// Kafka's verifyCooperativeValidity: no partition is handed to one member in the round another revokes
// it. True when the round revokes something, so that another round follows.
bool revokes(const Subscriptions& subscriptions, const Result& result) {
    std::set<TopicPartition> added;
    std::set<TopicPartition> revoked;
    for (const auto& [member, given] : result) {
        const Partitions& owned = subscriptions.at(member).owned;
        const Partitions& now = given.partitions;
        for (const TopicPartition& partition : now) {
            if (std::find(owned.begin(), owned.end(), partition) == owned.end()) {
                added.insert(partition);
            }
        }
        for (const TopicPartition& partition : owned) {
            if (std::find(now.begin(), now.end(), partition) == now.end()) {
                revoked.insert(partition);
            }
        }
    }
    for (const TopicPartition& partition : added) {
        EXPECT_FALSE(revoked.contains(partition)) << partition.name() << " given while being revoked";
    }
    return !revoked.empty();
}

// Kafka's AbstractStickyAssignorTest.verifyValidityAndBalance: each member gets only partitions of
// topics it subscribes to, no partition goes to two members, every partition of a subscribed topic is
// assigned, and a member never holds two more than another that could take one of its partitions.
void expect_valid_and_balanced(const Topics& topics, const Subscriptions& subscriptions, const Result& result) {
    ASSERT_EQ(result.size(), subscriptions.size());
    std::set<TopicPartition> assigned;
    std::set<std::string> subscribed_topics;
    for (const auto& [member, given] : result) {
        const std::vector<std::string>& mine = subscriptions.at(member).topics;
        subscribed_topics.insert(mine.begin(), mine.end());
        for (const TopicPartition& partition : given.partitions) {
            EXPECT_TRUE(std::binary_search(mine.begin(), mine.end(), partition.topic)) << member;
            EXPECT_TRUE(assigned.insert(partition).second) << partition.name() << " assigned twice";
        }
    }
    std::size_t expected = 0;
    for (const std::string& name_of_topic : subscribed_topics) {
        const auto count = topics.find(name_of_topic);
        expected += count == topics.end() ? 0 : static_cast<std::size_t>(count->second);
    }
    EXPECT_EQ(assigned.size(), expected);
    for (const auto& [fuller, more] : result) {
        for (const auto& [emptier, fewer] : result) {
            if (more.partitions.size() <= fewer.partitions.size() + 1) {
                continue;
            }
            const std::vector<std::string>& can_take = subscriptions.at(emptier).topics;
            for (const TopicPartition& partition : more.partitions) {
                EXPECT_FALSE(std::binary_search(can_take.begin(), can_take.end(), partition.topic))
                    << fuller << " could give " << partition.name() << " to " << emptier;
            }
        }
    }
}

// Kafka's CooperativeStickyAssignorTest.verifyValidityAndBalance: while a round revokes something, the
// members rejoin owning what they were given and the assignor runs again (at most four more rounds);
// then the final result must be valid and balanced. `subscriptions` is left as of the last round;
// `follow_ups` (if given) counts the extra rounds.
Result settle(const Topics& topics, Subscriptions& subscriptions, Result result, int* follow_ups = nullptr) {
    int rounds = 0;
    while (revokes(subscriptions, result)) {
        for (auto& [member, subscription] : subscriptions) {
            subscription = owning(subscription.topics, result.at(member).partitions);
        }
        result = cooperative_sticky_assign(topics, subscriptions);
        EXPECT_LE(++rounds, 4);
        if (rounds > 4) {
            break;
        }
    }
    expect_valid_and_balanced(topics, subscriptions, result);
    if (follow_ups != nullptr) {
        *follow_ups = rounds;
    }
    return result;
}

// The next generation: every member rejoins owning what it was given.
void rejoin(Subscriptions& subscriptions, const Result& result) {
    for (auto& [member, subscription] : subscriptions) {
        subscription = owning(subscription.topics, result.at(member).partitions);
    }
}

TEST(AbstractStickyAssignorTest, OneConsumerNoTopic) {
    // Kafka: AbstractStickyAssignorTest.testOneConsumerNoTopic
    const Result assigned = cooperative_sticky_assign({}, {{consumer1, subscribed({})}});
    ASSERT_EQ(assigned.size(), 1U);
    EXPECT_TRUE(assigned.at(consumer1).partitions.empty());
}

TEST(AbstractStickyAssignorTest, OneConsumerNonexistentTopic) {
    // Kafka: AbstractStickyAssignorTest.testOneConsumerNonexistentTopic
    const Result assigned = cooperative_sticky_assign({}, {{consumer1, subscribed({topic})}});
    ASSERT_EQ(assigned.size(), 1U);
    EXPECT_TRUE(assigned.at(consumer1).partitions.empty());
}

TEST(AbstractStickyAssignorTest, OneConsumerOneTopic) {
    // Kafka: AbstractStickyAssignorTest.testOneConsumerOneTopic
    const Topics topics{{topic, 3}};
    Subscriptions subscriptions{{consumer1, subscribed({topic})}};
    const Result assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic, 0), tp(topic, 1), tp(topic, 2)}));
    EXPECT_TRUE(fully_balanced(assigned));
}

TEST(AbstractStickyAssignorTest, OnlyAssignsPartitionsFromSubscribedTopics) {
    // Kafka: AbstractStickyAssignorTest.testOnlyAssignsPartitionsFromSubscribedTopics
    const Topics topics{{topic, 3}, {"other", 3}};
    Subscriptions subscriptions{{consumer1, subscribed({topic})}};
    const Result assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic, 0), tp(topic, 1), tp(topic, 2)}));
}

TEST(AbstractStickyAssignorTest, OneConsumerMultipleTopics) {
    // Kafka: AbstractStickyAssignorTest.testOneConsumerMultipleTopics
    const Topics topics{{topic1, 1}, {topic2, 2}};
    Subscriptions subscriptions{{consumer1, subscribed({topic1, topic2})}};
    const Result assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic1, 0), tp(topic2, 0), tp(topic2, 1)}));
}

TEST(AbstractStickyAssignorTest, TwoConsumersOneTopicOnePartition) {
    // Kafka: AbstractStickyAssignorTest.testTwoConsumersOneTopicOnePartition
    const Topics topics{{topic, 1}};
    Subscriptions subscriptions{{consumer1, subscribed({topic})}, {consumer2, subscribed({topic})}};
    const Result assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic, 0)}));
    EXPECT_TRUE(assigned.at(consumer2).partitions.empty());
    EXPECT_TRUE(fully_balanced(assigned));
}

TEST(AbstractStickyAssignorTest, TwoConsumersOneTopicTwoPartitions) {
    // Kafka: AbstractStickyAssignorTest.testTwoConsumersOneTopicTwoPartitions
    const Topics topics{{topic, 2}};
    Subscriptions subscriptions{{consumer1, subscribed({topic})}, {consumer2, subscribed({topic})}};
    const Result assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic, 0)}));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic, 1)}));
    EXPECT_TRUE(fully_balanced(assigned));
}

TEST(AbstractStickyAssignorTest, MultipleConsumersMixedTopicSubscriptions) {
    // Kafka: AbstractStickyAssignorTest.testMultipleConsumersMixedTopicSubscriptions
    const Topics topics{{topic1, 3}, {topic2, 2}};
    Subscriptions subscriptions{{consumer1, subscribed({topic1})},
                                {consumer2, subscribed({topic1, topic2})},
                                {consumer3, subscribed({topic1})}};
    const Result assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic1, 0), tp(topic1, 2)}));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic2, 0), tp(topic2, 1)}));
    EXPECT_EQ(assigned.at(consumer3).partitions, (Partitions{tp(topic1, 1)}));
    EXPECT_TRUE(fully_balanced(assigned));
}

TEST(AbstractStickyAssignorTest, TwoConsumersTwoTopicsSixPartitions) {
    // Kafka: AbstractStickyAssignorTest.testTwoConsumersTwoTopicsSixPartitions
    const Topics topics{{topic1, 3}, {topic2, 3}};
    Subscriptions subscriptions{{consumer1, subscribed({topic1, topic2})}, {consumer2, subscribed({topic1, topic2})}};
    const Result assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic1, 0), tp(topic1, 2), tp(topic2, 1)}));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic1, 1), tp(topic2, 0), tp(topic2, 2)}));
    EXPECT_TRUE(fully_balanced(assigned));
}

TEST(AbstractStickyAssignorTest, ConsumerOwningMinQuotaExpectedMaxQuota) {
    // Kafka: AbstractStickyAssignorTest.testConsumerOwningMinQuotaExpectedMaxQuota
    const Topics topics{{topic1, 2}, {topic2, 3}};
    Subscriptions subscriptions{{consumer1, owning({topic1, topic2}, {tp(topic1, 0), tp(topic2, 1)})},
                                {consumer2, owning({topic1, topic2}, {tp(topic1, 1), tp(topic2, 2)})}};
    const Result first = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_FALSE(revokes(subscriptions, first));  // nothing changes hands
    const Result assigned = settle(topics, subscriptions, first);
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic1, 0), tp(topic2, 0), tp(topic2, 1)}));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic1, 1), tp(topic2, 2)}));
}

TEST(AbstractStickyAssignorTest, MaxQuotaConsumerMoreThanNumExpectedMaxCapacityMembers) {
    // Kafka: AbstractStickyAssignorTest.testMaxQuotaConsumerMoreThanNumExpectedMaxCapacityMembers
    // Both consumer1 and consumer2 own two partitions, one of them may keep two. Kafka picks by its hash
    // map's order (consumer2 there); eosim picks in member id order, so consumer2 gives up topic2-1.
    const Topics topics{{topic1, 2}, {topic2, 2}};
    Subscriptions subscriptions{{consumer1, owning({topic1, topic2}, {tp(topic1, 0), tp(topic2, 0)})},
                                {consumer2, owning({topic1, topic2}, {tp(topic1, 1), tp(topic2, 1)})},
                                {consumer3, owning({topic1, topic2}, {})}};
    const Result first = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_EQ(first.at(consumer2).partitions, (Partitions{tp(topic1, 1)}));
    EXPECT_TRUE(first.at(consumer3).partitions.empty());  // topic2-1 waits for consumer2 to revoke it
    const Result assigned = settle(topics, subscriptions, first);
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic1, 0), tp(topic2, 0)}));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic1, 1)}));
    EXPECT_EQ(assigned.at(consumer3).partitions, (Partitions{tp(topic2, 1)}));
    EXPECT_TRUE(fully_balanced(assigned));
}

TEST(AbstractStickyAssignorTest, AllConsumersAreUnderMinQuota) {
    // Kafka: AbstractStickyAssignorTest.testAllConsumersAreUnderMinQuota
    const Topics topics{{topic1, 2}, {topic2, 3}};
    Subscriptions subscriptions{{consumer1, owning({topic1, topic2}, {tp(topic1, 0)})},
                                {consumer2, owning({topic1, topic2}, {tp(topic1, 1)})},
                                {consumer3, owning({topic1, topic2}, {})}};
    const Result first = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_FALSE(revokes(subscriptions, first));
    const Result assigned = settle(topics, subscriptions, first);
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic1, 0), tp(topic2, 1)}));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic1, 1), tp(topic2, 2)}));
    EXPECT_EQ(assigned.at(consumer3).partitions, (Partitions{tp(topic2, 0)}));
    EXPECT_TRUE(fully_balanced(assigned));
}

TEST(AbstractStickyAssignorTest, AddRemoveConsumerOneTopic) {
    // Kafka: AbstractStickyAssignorTest.testAddRemoveConsumerOneTopic
    const Topics topics{{topic, 3}};
    Subscriptions subscriptions{{consumer1, subscribed({topic})}};
    Result assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic, 0), tp(topic, 1), tp(topic, 2)}));

    // A consumer joins: consumer1 keeps what balance allows; topic-2 moves, so it is withheld this round
    // and goes to consumer2 in the next, once consumer1 no longer owns it.
    subscriptions[consumer1] = owning({topic}, assigned.at(consumer1).partitions);
    subscriptions[consumer2] = owning({topic}, {});
    const Result first = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_EQ(first.at(consumer1).partitions, (Partitions{tp(topic, 0), tp(topic, 1)}));
    EXPECT_TRUE(first.at(consumer2).partitions.empty());
    assigned = settle(topics, subscriptions, first);
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic, 0), tp(topic, 1)}));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic, 2)}));
    EXPECT_TRUE(fully_balanced(assigned));

    // consumer1 leaves: nobody owns its partitions any more, so consumer2 gets them at once.
    subscriptions.erase(consumer1);
    subscriptions[consumer2] = owning({topic}, assigned.at(consumer2).partitions);
    assigned = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_FALSE(revokes(subscriptions, assigned));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic, 0), tp(topic, 1), tp(topic, 2)}));
}

TEST(AbstractStickyAssignorTest, TopicBalanceAfterReassignment) {
    // Kafka: AbstractStickyAssignorTest.testTopicBalanceAfterReassignment
    const Topics topics{{topic1, 12}, {topic2, 12}};
    const std::vector<std::string> both{topic1, topic2};
    const auto expect_per_topic = [](const Result& result, std::size_t each) {
        for (const auto& [member, given] : result) {
            for (const std::string& name_of_topic : {topic1, topic2}) {
                EXPECT_EQ(static_cast<std::size_t>(std::count_if(
                              given.partitions.begin(), given.partitions.end(),
                              [&](const TopicPartition& partition) { return partition.topic == name_of_topic; })),
                          each)
                    << member << " " << name_of_topic;
            }
        }
    };
    Subscriptions subscriptions{{consumer1, subscribed(both)}};
    Result assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    expect_per_topic(assigned, 12);
    rejoin(subscriptions, assigned);
    subscriptions[consumer2] = owning(both, {});
    assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    expect_per_topic(assigned, 6);
    rejoin(subscriptions, assigned);
    subscriptions[consumer3] = owning(both, {});
    subscriptions[consumer4] = owning(both, {});
    assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    expect_per_topic(assigned, 3);
    rejoin(subscriptions, assigned);
    subscriptions.erase(consumer1);
    subscriptions.erase(consumer2);
    assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    expect_per_topic(assigned, 6);
}

TEST(AbstractStickyAssignorTest, AddRemoveTwoConsumersTwoTopics) {
    // Kafka: AbstractStickyAssignorTest.testAddRemoveTwoConsumersTwoTopics
    const Topics topics{{topic1, 3}, {topic2, 4}};
    const std::vector<std::string> both{topic1, topic2};
    Subscriptions subscriptions{{consumer1, subscribed(both)}, {consumer2, subscribed(both)}};
    Result assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    EXPECT_EQ(assigned.at(consumer1).partitions,
              (Partitions{tp(topic1, 0), tp(topic1, 2), tp(topic2, 1), tp(topic2, 3)}));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic1, 1), tp(topic2, 0), tp(topic2, 2)}));

    rejoin(subscriptions, assigned);
    subscriptions[consumer3] = owning(both, {});
    subscriptions[consumer4] = owning(both, {});
    const Result first = cooperative_sticky_assign(topics, subscriptions);
    // Kafka's partitionsTransferringOwnership: topic1-2 and topic2-3 to consumer3, topic2-2 to consumer4.
    EXPECT_TRUE(first.at(consumer3).partitions.empty());
    EXPECT_TRUE(first.at(consumer4).partitions.empty());
    assigned = settle(topics, subscriptions, first);
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic1, 0), tp(topic2, 1)}));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic1, 1), tp(topic2, 0)}));
    EXPECT_EQ(assigned.at(consumer3).partitions, (Partitions{tp(topic1, 2), tp(topic2, 3)}));
    EXPECT_EQ(assigned.at(consumer4).partitions, (Partitions{tp(topic2, 2)}));

    rejoin(subscriptions, assigned);
    subscriptions.erase(consumer1);
    subscriptions.erase(consumer2);
    assigned = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_FALSE(revokes(subscriptions, assigned));
    EXPECT_EQ(assigned.at(consumer3).partitions, sorted({tp(topic1, 2), tp(topic2, 3), tp(topic1, 0), tp(topic2, 1)}));
    EXPECT_EQ(assigned.at(consumer4).partitions, sorted({tp(topic2, 2), tp(topic1, 1), tp(topic2, 0)}));
}

TEST(AbstractStickyAssignorTest, PoorRoundRobinAssignmentScenario) {
    // Kafka: AbstractStickyAssignorTest.testPoorRoundRobinAssignmentScenario
    Topics topics;
    for (int i = 1; i <= 5; ++i) {
        topics[name("topic", i, 1)] = i % 2 + 1;
    }
    const std::vector<std::string> all{"topic1", "topic2", "topic3", "topic4", "topic5"};
    const std::vector<std::string> odd{"topic1", "topic3", "topic5"};
    Subscriptions subscriptions{{consumer1, subscribed(all)},
                                {consumer2, subscribed(odd)},
                                {consumer3, subscribed(odd)},
                                {consumer4, subscribed(all)}};
    const Result assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    EXPECT_TRUE(fully_balanced(assigned));
}

TEST(AbstractStickyAssignorTest, AddRemoveTopicTwoConsumers) {
    // Kafka: AbstractStickyAssignorTest.testAddRemoveTopicTwoConsumers
    Topics topics{{topic, 3}};
    Subscriptions subscriptions{{consumer1, subscribed({topic})}, {consumer2, subscribed({topic})}};
    const Result first = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    EXPECT_TRUE(fully_balanced(first));

    topics[topic2] = 3;
    subscriptions[consumer1] = owning({topic, topic2}, first.at(consumer1).partitions);
    subscriptions[consumer2] = owning({topic, topic2}, first.at(consumer2).partitions);
    const Result second = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    for (const std::string& member : {consumer1, consumer2}) {
        const Partitions& now = second.at(member).partitions;
        EXPECT_EQ(now.size(), 3U);
        EXPECT_TRUE(std::includes(now.begin(), now.end(), first.at(member).partitions.begin(),
                                  first.at(member).partitions.end()))
            << member << " lost a partition it owned";
    }

    topics.erase(topic);
    subscriptions[consumer1] = owning({topic2}, second.at(consumer1).partitions);
    subscriptions[consumer2] = owning({topic2}, second.at(consumer2).partitions);
    const Result third = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    EXPECT_TRUE(fully_balanced(third));
    for (const std::string& member : {consumer1, consumer2}) {
        const Partitions& now = third.at(member).partitions;
        EXPECT_TRUE(std::includes(second.at(member).partitions.begin(), second.at(member).partitions.end(), now.begin(),
                                  now.end()))
            << member << " was given a partition of topic2 it did not own";
    }
}

TEST(AbstractStickyAssignorTest, ReassignmentAfterOneConsumerLeaves) {
    // Kafka: AbstractStickyAssignorTest.testReassignmentAfterOneConsumerLeaves
    Topics topics;
    for (int i = 1; i < 20; ++i) {
        topics[name("t", i, 20)] = i;
    }
    Subscriptions subscriptions;
    for (int i = 1; i < 20; ++i) {
        std::vector<std::string> mine;
        for (int j = 1; j <= i; ++j) {
            mine.push_back(name("t", j, 20));
        }
        subscriptions[name("c", i, 20)] = subscribed(mine);
    }
    Result assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    rejoin(subscriptions, assigned);
    subscriptions.erase("c10");
    const Result after = cooperative_sticky_assign(topics, subscriptions);
    // Sticky: whoever stays keeps what it had, except partitions it gives up to balance the group.
    for (const auto& [member, given] : after) {
        const Partitions& had = assigned.at(member).partitions;
        const Partitions& of_leaver = assigned.at("c10").partitions;
        for (const TopicPartition& partition : given.partitions) {
            EXPECT_TRUE(std::binary_search(had.begin(), had.end(), partition) ||
                        std::binary_search(of_leaver.begin(), of_leaver.end(), partition))
                << member << " took " << partition.name() << " from a member that stayed";
        }
    }
    settle(topics, subscriptions, after);
}

TEST(AbstractStickyAssignorTest, ReassignmentAfterOneConsumerAdded) {
    // Kafka: AbstractStickyAssignorTest.testReassignmentAfterOneConsumerAdded
    const Topics topics{{"topic", 20}};
    Subscriptions subscriptions;
    for (int i = 1; i < 10; ++i) {
        subscriptions[name("c", i, 10)] = subscribed({"topic"});
    }
    Result assigned = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_FALSE(revokes(subscriptions, assigned));
    settle(topics, subscriptions, assigned);
    // As in Kafka, the members rejoin without owned partitions, so nothing is withheld.
    subscriptions[name("c", 10, 10)] = subscribed({"topic"});
    assigned = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_FALSE(revokes(subscriptions, assigned));
    settle(topics, subscriptions, assigned);
}

TEST(AbstractStickyAssignorTest, SameSubscriptions) {
    // Kafka: AbstractStickyAssignorTest.testSameSubscriptions
    Topics topics;
    std::vector<std::string> all;
    for (int i = 1; i < 15; ++i) {
        topics[name("t", i, 15)] = i;
        all.push_back(name("t", i, 15));
    }
    Subscriptions subscriptions;
    for (int i = 1; i < 9; ++i) {
        subscriptions[name("c", i, 9)] = subscribed(all);
    }
    Result assigned = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_FALSE(revokes(subscriptions, assigned));
    assigned = settle(topics, subscriptions, assigned);
    rejoin(subscriptions, assigned);
    subscriptions.erase(name("c", 5, 9));
    assigned = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_FALSE(revokes(subscriptions, assigned));  // only the leaver's partitions move
    settle(topics, subscriptions, assigned);
}

TEST(AbstractStickyAssignorTest, SubscriptionNotEqualAndAssignSamePartitionWith3Generation) {
    // Kafka: AbstractStickyAssignorTest.testSubscriptionNotEqualAndAssignSamePartitionWith3Generation
    const Topics topics{{topic, 6}, {topic1, 1}};
    const std::vector<std::vector<std::int32_t>> sequences{{1, 2, 3}, {1, 3, 2}, {2, 1, 3},
                                                           {2, 3, 1}, {3, 1, 2}, {3, 2, 1}};
    for (const std::vector<std::int32_t>& generations : sequences) {
        const Subscriptions subscriptions{
            {consumer1, owning({topic}, {tp(topic, 0), tp(topic, 2)}, generations[0])},
            {consumer2, owning({topic}, {tp(topic, 1), tp(topic, 2), tp(topic, 3)}, generations[1])},
            {consumer3, owning({topic}, {tp(topic, 2), tp(topic, 4), tp(topic, 5)}, generations[2])},
            {consumer4, owning({topic1}, {tp(topic1, 0)}, 2)}};
        const Result assigned = cooperative_sticky_assign(topics, subscriptions);
        std::set<TopicPartition> distinct;
        std::size_t total = 0;
        for (const auto& [member, given] : assigned) {
            distinct.insert(given.partitions.begin(), given.partitions.end());
            total += given.partitions.size();
            EXPECT_GE(given.partitions.size(), 1U) << member;
            EXPECT_LE(given.partitions.size(), 2U) << member;
        }
        EXPECT_EQ(total, distinct.size());
        // The claimant of the highest generation owns all it claims (topic-2 included), so it only keeps
        // what it owned, giving up one partition for balance.
        const std::string& newest = generations[0] == 3 ? consumer1 : generations[1] == 3 ? consumer2 : consumer3;
        const Partitions& kept = assigned.at(newest).partitions;
        const Partitions claimed = sorted(subscriptions.at(newest).owned);
        EXPECT_TRUE(std::includes(claimed.begin(), claimed.end(), kept.begin(), kept.end())) << newest;
    }
}

TEST(AbstractStickyAssignorTest, AllConsumersReachExpectedQuotaAndAreConsideredFilled) {
    // Kafka: AbstractStickyAssignorTest.testAllConsumersReachExpectedQuotaAndAreConsideredFilled
    const Topics topics{{topic, 4}};
    Subscriptions subscriptions{{consumer1, owning({topic}, {tp(topic, 0), tp(topic, 1)})},
                                {consumer2, owning({topic}, {tp(topic, 2)})},
                                {consumer3, owning({topic}, {})}};
    const Result first = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_FALSE(revokes(subscriptions, first));
    const Result assigned = settle(topics, subscriptions, first);
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic, 0), tp(topic, 1)}));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic, 2)}));
    EXPECT_EQ(assigned.at(consumer3).partitions, (Partitions{tp(topic, 3)}));
    EXPECT_TRUE(fully_balanced(assigned));
}

TEST(AbstractStickyAssignorTest, OwnedPartitionsAreInvalidatedForConsumerWithStaleGeneration) {
    // Kafka: AbstractStickyAssignorTest.testOwnedPartitionsAreInvalidatedForConsumerWithStaleGeneration
    const Topics topics{{topic, 3}, {topic2, 3}};
    const Partitions claimed{tp(topic, 0), tp(topic, 2), tp(topic2, 1)};
    Subscriptions subscriptions{{consumer1, owning({topic, topic2}, claimed, 10)},
                                {consumer2, owning({topic, topic2}, claimed, 9)}};
    const Result first = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_EQ(first.at(consumer1).partitions, sorted(claimed));
    EXPECT_EQ(first.at(consumer2).partitions, (Partitions{tp(topic, 1), tp(topic2, 0), tp(topic2, 2)}));
    const Result assigned = settle(topics, subscriptions, first);
    EXPECT_TRUE(fully_balanced(assigned));
}

TEST(AbstractStickyAssignorTest, OwnedPartitionsAreInvalidatedForConsumerWithNoGeneration) {
    // Kafka: AbstractStickyAssignorTest.testOwnedPartitionsAreInvalidatedForConsumerWithNoGeneration
    const Topics topics{{topic, 3}, {topic2, 3}};
    const Partitions claimed{tp(topic, 0), tp(topic, 2), tp(topic2, 1)};
    Subscriptions subscriptions{{consumer1, owning({topic, topic2}, claimed, 10)},
                                {consumer2, owning({topic, topic2}, claimed, no_generation)}};
    const Result first = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_EQ(first.at(consumer1).partitions, sorted(claimed));
    EXPECT_EQ(first.at(consumer2).partitions, (Partitions{tp(topic, 1), tp(topic2, 0), tp(topic2, 2)}));
    const Result assigned = settle(topics, subscriptions, first);
    EXPECT_TRUE(fully_balanced(assigned));
}

TEST(AbstractStickyAssignorTest,
     PartitionsTransferringOwnershipIncludeThePartitionClaimedByMultipleConsumersInSameGeneration) {
    // Kafka:
    // AbstractStickyAssignorTest.testPartitionsTransferringOwnershipIncludeThePartitionClaimedByMultipleConsumersInSameGeneration
    const Topics topics{{topic, 3}};
    Subscriptions subscriptions{{consumer1, owning({topic}, {tp(topic, 0), tp(topic, 1)})},
                                {consumer2, owning({topic}, {tp(topic, 0), tp(topic, 2)})},
                                {consumer3, owning({topic}, {})}};
    const Result first = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_TRUE(first.at(consumer3).partitions.empty());  // topic-0 transfers to consumer3: withheld
    const Result assigned = settle(topics, subscriptions, first);
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic, 1)}));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic, 2)}));
    EXPECT_EQ(assigned.at(consumer3).partitions, (Partitions{tp(topic, 0)}));
    EXPECT_TRUE(fully_balanced(assigned));
}

TEST(AbstractStickyAssignorTest, EnsurePartitionsAssignedToHighestGeneration) {
    // Kafka: AbstractStickyAssignorTest.testEnsurePartitionsAssignedToHighestGeneration
    const Topics topics{{topic, 3}, {topic2, 3}, {topic3, 3}};
    const std::vector<std::string> all{topic, topic2, topic3};
    Subscriptions subscriptions{{consumer1, owning(all, {tp(topic, 0), tp(topic2, 0), tp(topic3, 0)}, 10)},
                                {consumer2, owning(all, {tp(topic, 1), tp(topic2, 1), tp(topic3, 1)}, 9)},
                                {consumer3, owning(all, {tp(topic2, 1), tp(topic3, 0), tp(topic3, 2)}, 8)}};
    const Result first = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_EQ(first.at(consumer1).partitions, (Partitions{tp(topic, 0), tp(topic2, 0), tp(topic3, 0)}));
    EXPECT_EQ(first.at(consumer2).partitions, (Partitions{tp(topic, 1), tp(topic2, 1), tp(topic3, 1)}));
    EXPECT_EQ(first.at(consumer3).partitions, (Partitions{tp(topic, 2), tp(topic2, 2), tp(topic3, 2)}));
    settle(topics, subscriptions, first);
}

TEST(AbstractStickyAssignorTest, NoReassignmentOnCurrentMembers) {
    // Kafka: AbstractStickyAssignorTest.testNoReassignmentOnCurrentMembers
    const Topics topics{{topic, 3}, {topic1, 3}, {topic2, 3}, {topic3, 3}};
    const std::vector<std::string> all{topic, topic1, topic2, topic3};
    Subscriptions subscriptions{{consumer1, owning(all, {}, no_generation)},
                                {consumer2, owning(all, {tp(topic, 0), tp(topic2, 0), tp(topic1, 0)}, 9)},
                                {consumer3, owning(all, {tp(topic3, 2), tp(topic2, 2), tp(topic1, 1)}, 8)},
                                {consumer4, owning(all, {tp(topic3, 1), tp(topic, 1), tp(topic, 2)}, 7)}};
    const Result first = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_FALSE(revokes(subscriptions, first));
    EXPECT_EQ(first.at(consumer1).partitions, (Partitions{tp(topic1, 2), tp(topic2, 1), tp(topic3, 0)}));
    EXPECT_TRUE(fully_balanced(settle(topics, subscriptions, first)));
}

TEST(AbstractStickyAssignorTest, OwnedPartitionsAreInvalidatedForConsumerWithMultipleGeneration) {
    // Kafka: AbstractStickyAssignorTest.testOwnedPartitionsAreInvalidatedForConsumerWithMultipleGeneration
    const Topics topics{{topic, 3}, {topic2, 3}};
    Subscriptions subscriptions{{consumer1, owning({topic, topic2}, {tp(topic, 0), tp(topic2, 1), tp(topic, 1)}, 10)},
                                {consumer2, owning({topic, topic2}, {tp(topic, 0), tp(topic2, 1), tp(topic2, 2)}, 8)}};
    const Result first = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_EQ(first.at(consumer1).partitions, sorted({tp(topic, 0), tp(topic2, 1), tp(topic, 1)}));
    EXPECT_EQ(first.at(consumer2).partitions, sorted({tp(topic, 2), tp(topic2, 2), tp(topic2, 0)}));
    EXPECT_TRUE(fully_balanced(settle(topics, subscriptions, first)));
}

TEST(AbstractStickyAssignorTest, MoveExistingAssignments) {
    // Kafka: AbstractStickyAssignorTest.testMoveExistingAssignments
    Topics topics;
    for (int i = 1; i <= 6; ++i) {
        topics[name("topic", i, 1)] = 1;
    }
    Subscriptions subscriptions{
        {consumer1, owning({"topic1", "topic2"}, {tp("topic1", 0)})},
        {consumer2, owning({"topic1", "topic2", "topic3", "topic4"}, {tp("topic2", 0), tp("topic3", 0)})},
        {consumer3, owning({"topic2", "topic3", "topic4", "topic5", "topic6"},
                           {tp("topic4", 0), tp("topic5", 0), tp("topic6", 0)})}};
    settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
}

TEST(AbstractStickyAssignorTest, Stickiness) {
    // Kafka: AbstractStickyAssignorTest.testStickiness
    const Topics topics{{topic1, 3}};
    Subscriptions subscriptions{{consumer1, subscribed({topic1})},
                                {consumer2, subscribed({topic1})},
                                {consumer3, subscribed({topic1})},
                                {consumer4, subscribed({topic1})}};
    const Result before = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    for (const auto& [member, given] : before) {
        EXPECT_LE(given.partitions.size(), 1U) << member;
    }
    rejoin(subscriptions, before);
    subscriptions.erase(consumer1);  // the potential group leader leaves
    const Result after = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_FALSE(revokes(subscriptions, after));
    for (const auto& [member, given] : after) {
        ASSERT_EQ(given.partitions.size(), 1U) << member;
        const Partitions& had = before.at(member).partitions;
        EXPECT_TRUE(had.empty() || had == given.partitions) << "stickiness not honoured for " << member;
    }
    settle(topics, subscriptions, after);
}

TEST(AbstractStickyAssignorTest, AssignmentUpdatedForDeletedTopic) {
    // Kafka: AbstractStickyAssignorTest.testAssignmentUpdatedForDeletedTopic
    const Topics topics{{topic1, 1}, {topic3, 100}};
    const Result assigned = cooperative_sticky_assign(topics, {{"consumer", subscribed({topic1, topic2, topic3})}});
    ASSERT_EQ(assigned.size(), 1U);
    EXPECT_EQ(assigned.at("consumer").partitions.size(), 101U);
}

TEST(AbstractStickyAssignorTest, NoExceptionThrownWhenOnlySubscribedTopicDeleted) {
    // Kafka: AbstractStickyAssignorTest.testNoExceptionThrownWhenOnlySubscribedTopicDeleted
    const Topics topics{{topic, 3}};
    Subscriptions subscriptions{{"consumer", subscribed({topic})}};
    const Result assigned = cooperative_sticky_assign(topics, subscriptions);
    subscriptions["consumer"] = owning({topic}, assigned.at("consumer").partitions);
    const Result after = cooperative_sticky_assign({}, subscriptions);
    ASSERT_EQ(after.size(), 1U);
    EXPECT_TRUE(after.at("consumer").partitions.empty());
}

// Kafka draws its subscriptions at random; here they come from a fixed formula, so each run checks the
// same inputs: 100 groups of 20 to 39 members over 10 to 19 topics (topic i has i + 1 partitions), each
// member subscribing to a scattered subset, then every member changing its subscription and rejoining
// with what it owns. After the follow-up rounds, every result must be valid and balanced.
TEST(AbstractStickyAssignorTest, ReassignmentWithRandomSubscriptionsAndChanges) {
    // Kafka: AbstractStickyAssignorTest.testReassignmentWithRandomSubscriptionsAndChanges
    for (int round = 1; round <= 100; ++round) {
        const int topic_count = 10 + (round * 7) % 10;
        const int member_count = 20 + (round * 13) % 20;
        Topics topics;
        for (int i = 0; i < topic_count; ++i) {
            topics[name("t", i, 20)] = i + 1;
        }
        const auto pick = [&](int member, int salt) {
            std::vector<std::string> mine;
            for (int i = 0; i < topic_count; ++i) {
                if ((member * 31 + i * 17 + round * 11 + salt) % 5 < 2 + (member + salt) % 3) {
                    mine.push_back(name("t", i, 20));
                }
            }
            return mine;
        };
        Subscriptions subscriptions;
        for (int i = 0; i < member_count; ++i) {
            subscriptions[name("c", i, 40)] = subscribed(pick(i, 0));
        }
        int follow_ups = 0;
        const Result first =
            settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions), &follow_ups);
        EXPECT_EQ(follow_ups, 0);  // nobody owned anything, so nothing was withheld
        for (int i = 0; i < member_count; ++i) {
            const std::string member = name("c", i, 40);
            subscriptions[member] = owning(pick(i, 1), first.at(member).partitions);
        }
        // What moves is withheld once; the second round hands it out and is final.
        settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions), &follow_ups);
        EXPECT_LE(follow_ups, 1);
        ASSERT_FALSE(::testing::Test::HasFailure()) << "round " << round;
    }
}

TEST(
    CooperativeStickyAssignorTest,
    AllConsumersHaveOwnedPartitionInvalidatedWhenClaimedByMultipleConsumersInSameGenerationWithEqualPartitionsPerConsumer) {
    // Kafka:
    // CooperativeStickyAssignorTest.testAllConsumersHaveOwnedPartitionInvalidatedWhenClaimedByMultipleConsumersInSameGenerationWithEqualPartitionsPerConsumer
    const Topics topics{{topic, 3}};
    Subscriptions subscriptions{{consumer1, owning({topic}, {tp(topic, 0), tp(topic, 1)})},
                                {consumer2, owning({topic}, {tp(topic, 0), tp(topic, 2)})},
                                {consumer3, owning({topic}, {})}};
    const Result assigned = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic, 1)}));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic, 2)}));
    // topic-0 is still owned by both, so it cannot be handed out until both have revoked it.
    EXPECT_TRUE(assigned.at(consumer3).partitions.empty());
    EXPECT_TRUE(fully_balanced(settle(topics, subscriptions, assigned)));
}

TEST(
    CooperativeStickyAssignorTest,
    AllConsumersHaveOwnedPartitionInvalidatedWhenClaimedByMultipleConsumersInSameGenerationWithUnequalPartitionsPerConsumer) {
    // Kafka:
    // CooperativeStickyAssignorTest.testAllConsumersHaveOwnedPartitionInvalidatedWhenClaimedByMultipleConsumersInSameGenerationWithUnequalPartitionsPerConsumer
    const Topics topics{{topic, 4}};
    Subscriptions subscriptions{{consumer1, owning({topic}, {tp(topic, 0), tp(topic, 1)})},
                                {consumer2, owning({topic}, {tp(topic, 0), tp(topic, 2)})},
                                {consumer3, owning({topic}, {})}};
    const Result assigned = cooperative_sticky_assign(topics, subscriptions);
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic, 1), tp(topic, 3)}));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic, 2)}));
    EXPECT_TRUE(assigned.at(consumer3).partitions.empty());
    EXPECT_TRUE(fully_balanced(settle(topics, subscriptions, assigned)));
}

TEST(CooperativeStickyAssignorTest, AssignorWithOldVersionSubscriptions) {
    // Kafka: CooperativeStickyAssignorTest.testAssignorWithOldVersionSubscriptions
    // Kafka's V1 subscriptions carry the generation in user data; here every member's is generation 1.
    const Topics topics{{topic1, 3}};
    Subscriptions subscriptions{{consumer1, owning({topic1}, {tp(topic1, 0)})},
                                {consumer2, owning({topic1}, {tp(topic1, 1)})},
                                {consumer3, owning({topic1}, {})}};
    const Result assigned = settle(topics, subscriptions, cooperative_sticky_assign(topics, subscriptions));
    EXPECT_EQ(assigned.at(consumer1).partitions, (Partitions{tp(topic1, 0)}));
    EXPECT_EQ(assigned.at(consumer2).partitions, (Partitions{tp(topic1, 1)}));
    EXPECT_EQ(assigned.at(consumer3).partitions, (Partitions{tp(topic1, 2)}));
    EXPECT_TRUE(fully_balanced(assigned));
}

}  // namespace
}  // namespace eosim::client_core
