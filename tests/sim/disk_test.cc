#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "sim/crc32c.h"
#include "sim/simulation.h"

namespace eosim::sim {
namespace {

std::vector<std::byte> pattern(std::size_t size, int salt) {
    std::vector<std::byte> bytes(size);
    for (std::size_t i = 0; i < size; ++i) {
        bytes[i] = static_cast<std::byte>((i * 131 + static_cast<std::size_t>(salt) * 7 + 1) % 251);
    }
    return bytes;
}

Disk make_disk(std::uint64_t seed = 1, std::uint64_t capacity = 1ULL << 30U) {
    return Disk(DiskOptions{.capacity_bytes = capacity, .sector_bytes = 512}, Random(seed));
}

TEST(Disk, FsyncedBytesSurviveEveryCrashFate) {
    for (const UnsyncedFate fate : {UnsyncedFate::lose, UnsyncedFate::keep, UnsyncedFate::tear}) {
        Simulation simulation(SimulationOptions{.seed = 1});  // fsync needs a scheduler
        Disk disk = make_disk();
        ASSERT_TRUE(disk.create("f").ok());
        const auto synced = pattern(3000, 1);
        ASSERT_TRUE(disk.append("f", synced).ok());
        ASSERT_TRUE(disk.fsync("f").ok());
        ASSERT_TRUE(disk.append("f", pattern(2000, 2)).ok());
        const DiskCrashReport report = disk.crash(fate);
        const auto after = disk.read_all("f").value();
        ASSERT_GE(after.size(), synced.size());
        EXPECT_TRUE(std::equal(synced.begin(), synced.end(), after.begin())) << to_string(fate);
        if (fate == UnsyncedFate::lose) {
            EXPECT_EQ(after.size(), synced.size());
            EXPECT_GT(report.sectors_lost, 0U);
        }
        if (fate == UnsyncedFate::keep) {
            EXPECT_EQ(after.size(), 5000U);
            EXPECT_EQ(report.sectors_lost, 0U);
        }
    }
}

TEST(Disk, UnsyncedLossHappensOnlyAtSectorBoundaries) {
    Simulation simulation(SimulationOptions{.seed = 1});
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
        Disk disk = make_disk(seed);
        ASSERT_TRUE(disk.create("f").ok());
        const auto old_bytes = pattern(4096, 3);
        ASSERT_TRUE(disk.append("f", old_bytes).ok());
        ASSERT_TRUE(disk.fsync("f").ok());
        const auto new_bytes = pattern(4096, 4);
        ASSERT_TRUE(disk.write("f", 0, new_bytes).ok());
        (void)disk.crash(UnsyncedFate::tear);
        const auto after = disk.read_all("f").value();
        ASSERT_EQ(after.size(), 4096U);
        for (std::size_t sector = 0; sector < 8; ++sector) {
            const auto begin = static_cast<std::ptrdiff_t>(sector * 512);
            const bool is_old = std::equal(after.begin() + begin, after.begin() + begin + 512, old_bytes.begin() + begin);
            const bool is_new = std::equal(after.begin() + begin, after.begin() + begin + 512, new_bytes.begin() + begin);
            EXPECT_TRUE(is_old || is_new) << "sector " << sector << " is torn inside: seed " << seed;
        }
    }
}

TEST(Disk, LostSectorBelowAKeptOneReadsAsZeros) {
    Simulation simulation(SimulationOptions{.seed = 1});
    bool saw_hole = false;
    for (std::uint64_t seed = 1; seed <= 64 && !saw_hole; ++seed) {
        Disk disk = make_disk(seed);
        ASSERT_TRUE(disk.create("f").ok());
        ASSERT_TRUE(disk.append("f", pattern(2048, 5)).ok());
        (void)disk.crash(UnsyncedFate::tear);
        const auto after = disk.read_all("f").value();
        ASSERT_EQ(after.size() % 512, 0U);
        for (std::size_t sector = 0; sector * 512 < after.size(); ++sector) {
            const bool zeros = std::all_of(after.begin() + static_cast<std::ptrdiff_t>(sector * 512),
                                           after.begin() + static_cast<std::ptrdiff_t>((sector + 1) * 512),
                                           [](std::byte b) { return b == std::byte{0}; });
            saw_hole = saw_hole || zeros;
        }
    }
    EXPECT_TRUE(saw_hole) << "a torn append should sometimes leave a zero-filled hole";
}

TEST(Disk, CorruptionIsSeenByACrcCheck) {
    Disk disk = make_disk(7);
    ASSERT_TRUE(disk.create("f").ok());
    const auto bytes = pattern(10'000, 6);
    const std::uint32_t checksum = crc32c(bytes);
    ASSERT_TRUE(disk.append("f", bytes).ok());
    (void)disk.crash(UnsyncedFate::keep);
    EXPECT_EQ(crc32c(disk.read_all("f").value()), checksum);
    const auto flipped = disk.corrupt_random_bit();
    ASSERT_TRUE(flipped.has_value());
    EXPECT_EQ(flipped->first, "f");
    EXPECT_NE(crc32c(disk.read_all("f").value()), checksum);
}

TEST(Disk, ABitFlipLandsOnlyWhereTheByteFilterAllows) {
    Disk disk = make_disk(9);
    ASSERT_TRUE(disk.create("f").ok());
    ASSERT_TRUE(disk.append("f", pattern(1000, 3)).ok());
    (void)disk.crash(UnsyncedFate::keep);
    const auto all = [](const std::string&) { return true; };
    for (int i = 0; i < 50; ++i) {
        const auto flipped =
            disk.corrupt_random_bit(all, [](std::span<const std::byte>, std::uint64_t offset) { return offset >= 900; });
        ASSERT_TRUE(flipped.has_value());
        EXPECT_GE(flipped->second, 900U);
    }
    EXPECT_FALSE(disk.corrupt_random_bit(all, [](std::span<const std::byte>, std::uint64_t) { return false; }, 8))
        << "no eligible byte: nothing flips";
}

TEST(Disk, Crc32cMatchesTheKnownCheckValue) {
    const std::string text = "123456789";
    EXPECT_EQ(crc32c(std::as_bytes(std::span(text.data(), text.size()))), 0xE3069283U);
}

TEST(Disk, Crc32cIsTheSameOnEveryPath) {
    // The CPU's crc32 instruction and Boost.CRC agree on every length and alignment.
    const std::string text = "123456789";
    EXPECT_EQ(crc32c_portable(std::as_bytes(std::span(text.data(), text.size()))), 0xE3069283U);
    const auto bytes = pattern(4'100, 9);
    const std::span<const std::byte> all(bytes);
    for (std::size_t start = 0; start < 9; ++start) {
        for (const std::size_t length : {0UL, 1UL, 7UL, 8UL, 9UL, 15UL, 64UL, 1000UL, 4091UL}) {
            const auto part = all.subspan(start, length);
            ASSERT_EQ(crc32c(part), crc32c_portable(part)) << "start " << start << " length " << length;
        }
    }
}

TEST(Disk, FullDiskRefusesWrites) {
    Disk disk = make_disk(1, 1000);
    ASSERT_TRUE(disk.create("f").ok());
    EXPECT_TRUE(disk.append("f", pattern(800, 1)).ok());
    EXPECT_EQ(disk.append("f", pattern(300, 1)).error(), errc::disk_full);
    EXPECT_EQ(disk.size("f").value(), 800U);
    ASSERT_TRUE(disk.truncate("f", 100).ok());
    EXPECT_TRUE(disk.append("f", pattern(300, 1)).ok());
}

TEST(Disk, FsyncTakesTimeAndACrashDuringItLosesTheBytes) {
    Simulation simulation(SimulationOptions{.seed = 9});
    Node& node = simulation.add_node("n1", [](Node&) { return std::make_unique<NodeState>(); });
    node.start();
    Time synced_at{};
    node.spawn("writer", [&] {
        ASSERT_TRUE(node.disk().create("f").ok());
        ASSERT_TRUE(node.disk().append("f", pattern(1000, 1)).ok());
        ASSERT_TRUE(node.disk().fsync("f").ok());
        synced_at = now();
        ASSERT_TRUE(node.disk().append("f", pattern(1000, 2)).ok());
        (void)node.disk().fsync("f");  // the crash comes first
        ADD_FAILURE() << "the node crashed during fsync";
    });
    simulation.world().spawn("nemesis", [&] {
        while (synced_at == Time{}) {
            sleep(1us);
        }
        sleep(1us);
        (void)node.crash(CrashOptions{.unsynced = UnsyncedFate::lose});
    });
    (void)simulation.run(RunBounds{});
    EXPECT_GE(synced_at, Time(node.disk().options().fsync_latency_min));
    EXPECT_EQ(node.disk().size("f").value(), 1000U);
}

TEST(Disk, RenameReplacesAtomicallyAndListIsOrdered) {
    Disk disk = make_disk();
    for (const char* path : {"b/2", "a/1", "b/1"}) {
        ASSERT_TRUE(disk.create(path).ok());
    }
    EXPECT_EQ(disk.list("b/"), (std::vector<std::string>{"b/1", "b/2"}));
    ASSERT_TRUE(disk.append("b/1", pattern(10, 1)).ok());
    ASSERT_TRUE(disk.rename("b/1", "b/2").ok());
    EXPECT_FALSE(disk.exists("b/1"));
    EXPECT_EQ(disk.size("b/2").value(), 10U);
    EXPECT_EQ(disk.rename("nope", "x").error(), errc::no_such_file);
}

}  // namespace
}  // namespace eosim::sim
