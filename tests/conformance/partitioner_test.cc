// Kafka's default partitioner for keyed records, toPositive(murmur2(key)) % partitions, against the
// known values of Kafka's own tests.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "protocol/partitioner.h"

namespace eosim::protocol {
namespace {

// Kafka: UtilsTest.testMurmur2
TEST(UtilsTest, testMurmur2) {
    const std::vector<std::pair<std::string, std::int32_t>> cases = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
    };
    for (const auto& [key, expected] : cases) {
        EXPECT_EQ(murmur2(key), expected) << key;
    }
    // Every tail length (0 to 3 bytes after the 4-byte blocks) and bytes above 0x7f are covered too.
    // Kafka's case of a byte array {'a', 'b', 'c'}, at compile time.
    static constexpr std::array<std::byte, 3> abc{std::byte{'a'}, std::byte{'b'}, std::byte{'c'}};
    static_assert(murmur2(std::span<const std::byte>(abc)) == 479470107);
    const std::string high = "\xff\x80\x7f";
    EXPECT_EQ(murmur2(high), murmur2(std::as_bytes(std::span(high.data(), high.size()))));
}

// Kafka: UtilsTest.testAbs (toPositive, which the partitioner uses, clears the sign bit instead)
TEST(UtilsTest, testAbs) {
    EXPECT_EQ(to_positive(std::numeric_limits<std::int32_t>::min()), 0);
    EXPECT_EQ(to_positive(-1), std::numeric_limits<std::int32_t>::max());
    EXPECT_EQ(to_positive(10), 10);
    EXPECT_EQ(to_positive(0), 0);
    EXPECT_EQ(to_positive(-790332482), 1357151166);
}

// Kafka: DefaultPartitionerTest.testKeyPartitionIsStable (BuiltInPartitioner.partitionForKey)
TEST(DefaultPartitionerTest, testKeyPartitionIsStable) {
    for (const std::int32_t partitions : {1, 3, 6, 10}) {
        EXPECT_EQ(kafka_partition("key", partitions), kafka_partition("key", partitions));
        EXPECT_GE(kafka_partition("key", partitions), 0);
        EXPECT_LT(kafka_partition("key", partitions), partitions);
    }
    // toPositive(murmur2(key)) % partitions, from the murmur2 values above.
    EXPECT_EQ(kafka_partition("foobar", 10), 6);                      // 1357151166 % 10
    EXPECT_EQ(kafka_partition("abc", 6), 3);                          // 479470107 % 6
    EXPECT_EQ(kafka_partition("a-little-bit-longer-string", 10), 9);  // 661178819 % 10
    EXPECT_EQ(kafka_partition("21", 3), 0);                           // 1173551340 % 3
    EXPECT_EQ(kafka_partition("anything", 1), 0);
}

}  // namespace
}  // namespace eosim::protocol
