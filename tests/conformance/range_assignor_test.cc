// Kafka's RangeAssignorTest (without racks and static members) and ConsumerProtocolTest's round trips,
// against client_core's range_assign and consumer protocol encoding.
#include <gtest/gtest.h>

#include "client_core/assignors.h"

namespace eosim::client_core {
namespace {

using protocol::TopicPartition;
using Partitions = std::vector<TopicPartition>;

const std::string topic1 = "topic1";
const std::string topic2 = "topic2";
const std::string consumer1 = "consumer1";
const std::string consumer2 = "consumer2";
const std::string consumer3 = "consumer3";

Subscription subscribed(std::vector<std::string> topics) { return Subscription{.topics = std::move(topics)}; }

Partitions of(const std::string& topic, std::initializer_list<std::int32_t> partitions) {
    Partitions out;
    for (const std::int32_t p : partitions) {
        out.push_back(TopicPartition{topic, p});
    }
    return out;
}

Partitions operator+(Partitions a, const Partitions& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

TEST(RangeAssignorTest, OneConsumerNoTopic) {
    const auto assigned = range_assign({}, {{consumer1, subscribed({})}});
    ASSERT_EQ(assigned.size(), 1U);
    EXPECT_TRUE(assigned.at(consumer1).partitions.empty());
}

TEST(RangeAssignorTest, OneConsumerNonexistentTopic) {
    const auto assigned = range_assign({}, {{consumer1, subscribed({topic1})}});
    EXPECT_TRUE(assigned.at(consumer1).partitions.empty());
}

TEST(RangeAssignorTest, OneConsumerOneTopic) {
    const auto assigned = range_assign({{topic1, 3}}, {{consumer1, subscribed({topic1})}});
    EXPECT_EQ(assigned.at(consumer1).partitions, of(topic1, {0, 1, 2}));
}

TEST(RangeAssignorTest, OnlyAssignsPartitionsFromSubscribedTopics) {
    const auto assigned = range_assign({{topic1, 3}, {"other", 3}}, {{consumer1, subscribed({topic1})}});
    EXPECT_EQ(assigned.at(consumer1).partitions, of(topic1, {0, 1, 2}));
}

TEST(RangeAssignorTest, OneConsumerMultipleTopics) {
    const auto assigned = range_assign({{topic1, 1}, {topic2, 2}}, {{consumer1, subscribed({topic1, topic2})}});
    EXPECT_EQ(assigned.at(consumer1).partitions, of(topic1, {0}) + of(topic2, {0, 1}));
}

TEST(RangeAssignorTest, TwoConsumersOneTopicOnePartition) {
    const auto assigned =
        range_assign({{topic1, 1}}, {{consumer1, subscribed({topic1})}, {consumer2, subscribed({topic1})}});
    EXPECT_EQ(assigned.at(consumer1).partitions, of(topic1, {0}));
    EXPECT_TRUE(assigned.at(consumer2).partitions.empty());
}

TEST(RangeAssignorTest, TwoConsumersOneTopicTwoPartitions) {
    const auto assigned =
        range_assign({{topic1, 2}}, {{consumer1, subscribed({topic1})}, {consumer2, subscribed({topic1})}});
    EXPECT_EQ(assigned.at(consumer1).partitions, of(topic1, {0}));
    EXPECT_EQ(assigned.at(consumer2).partitions, of(topic1, {1}));
}

TEST(RangeAssignorTest, MultipleConsumersMixedTopics) {
    const auto assigned = range_assign({{topic1, 3}, {topic2, 2}}, {{consumer1, subscribed({topic1})},
                                                                   {consumer2, subscribed({topic1, topic2})},
                                                                   {consumer3, subscribed({topic1})}});
    EXPECT_EQ(assigned.at(consumer1).partitions, of(topic1, {0}));
    EXPECT_EQ(assigned.at(consumer2).partitions, of(topic1, {1}) + of(topic2, {0, 1}));
    EXPECT_EQ(assigned.at(consumer3).partitions, of(topic1, {2}));
}

TEST(RangeAssignorTest, TwoConsumersTwoTopicsSixPartitions) {
    const auto assigned = range_assign({{topic1, 3}, {topic2, 3}}, {{consumer1, subscribed({topic1, topic2})},
                                                                   {consumer2, subscribed({topic1, topic2})}});
    EXPECT_EQ(assigned.at(consumer1).partitions, of(topic1, {0, 1}) + of(topic2, {0, 1}));
    EXPECT_EQ(assigned.at(consumer2).partitions, of(topic1, {2}) + of(topic2, {2}));
}

TEST(ConsumerProtocolTest, SubscriptionAndAssignmentRoundTrip) {
    const Subscription subscription{.topics = {"bar", "foo"}, .owned = of("foo", {0, 2}), .generation_id = 7};
    EXPECT_EQ(decode_subscription(encode_subscription(subscription)), subscription);
    const Assignment assignment{of("foo", {0}) + of("bar", {3})};
    EXPECT_EQ(decode_assignment(encode_assignment(assignment)), assignment);
    EXPECT_EQ(decode_assignment(encode_assignment(Assignment{})), Assignment{});
}

TEST(ConsumerProtocolTest, MalformedBytesAreRefused) {
    std::string bytes = encode_subscription(Subscription{.topics = {"foo"}});
    EXPECT_FALSE(decode_subscription(bytes.substr(0, bytes.size() - 1)).has_value());
    EXPECT_FALSE(decode_subscription(bytes + "x").has_value());
    EXPECT_FALSE(decode_subscription(encode_subscription(Subscription{.topics = {"foo", "bar"}})).has_value())
        << "topics out of order";
    std::string assignment = encode_assignment(Assignment{of("foo", {1})});
    assignment[1] = 1;  // version 1 is not this code's
    EXPECT_FALSE(decode_assignment(assignment).has_value());
    EXPECT_FALSE(decode_assignment("").has_value());
}

}  // namespace
}  // namespace eosim::client_core
