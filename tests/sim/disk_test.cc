#include <gtest/gtest.h>

#include <bit>
#include <numeric>
#include <set>
#include <string>
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

TEST(Disk, AFlipLandsOnlyWhereTheFlipFilterTakesIt) {
    Disk disk = make_disk(11);
    for (const char* path : {"a", "b.log"}) {
        ASSERT_TRUE(disk.create(path).ok());
        ASSERT_TRUE(disk.append(path, pattern(100, 4)).ok());
    }
    (void)disk.crash(UnsyncedFate::keep);
    const auto not_log = [](const std::string& path) { return !path.ends_with(".log"); };
    const auto one_bit_in_first_half = [](const std::string& path, std::span<const std::byte> before,
                                                    std::span<const std::byte> after) {
        EXPECT_EQ(path, "a");
        EXPECT_EQ(before.size(), after.size());
        int differing = 0;
        std::size_t where = 0;
        for (std::size_t i = 0; i < before.size(); ++i) {
            const auto x = static_cast<unsigned>(before[i] ^ after[i]);
            differing += std::popcount(x);
            where = x != 0 ? i : where;
        }
        return differing == 1 && where < 50;
    };
    const std::vector<std::byte> before = disk.read_all("a").value();
    const auto flipped = disk.corrupt_random_bit_if(not_log, one_bit_in_first_half);
    ASSERT_TRUE(flipped.has_value());
    EXPECT_EQ(flipped->first, "a");
    EXPECT_LT(flipped->second, 50U);
    const std::vector<std::byte> after = disk.read_all("a").value();
    EXPECT_NE(before[flipped->second], after[flipped->second]);
    EXPECT_EQ(disk.read_all("b.log").value(), pattern(100, 4));
    (void)disk.crash(UnsyncedFate::lose);
    EXPECT_EQ(disk.read_all("a").value(), after) << "the flip is durable";
    EXPECT_FALSE(disk.corrupt_random_bit_if(
        not_log, [](const std::string&, std::span<const std::byte>, std::span<const std::byte>) { return false; }, 8))
        << "no flip taken: nothing flips";
    EXPECT_EQ(disk.read_all("a").value(), after);
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


Disk make_lazy_disk(std::uint64_t seed = 1) {
    return Disk(DiskOptions{.capacity_bytes = 1ULL << 30U, .sector_bytes = 512, .directory_ops_need_sync = true},
                Random(seed));
}

std::string text_of(const Disk& disk, const std::string& path) {
    const auto bytes = disk.read_all(path).value();
    std::string text;
    for (const std::byte b : bytes) {
        text.push_back(static_cast<char>(b));
    }
    return text;
}

Status write_text(Disk& disk, const std::string& path, std::string_view text) {
    if (Status created = disk.create(path); !created) {
        return created;
    }
    return disk.append(path, std::as_bytes(std::span(text.data(), text.size())));
}

TEST(DiskDirectories, AFileWhoseCreationWasNotSyncedIsGoneAfterACrashThatLosesIt) {
    Simulation simulation(SimulationOptions{.seed = 1});
    Disk disk = make_lazy_disk();
    ASSERT_TRUE(write_text(disk, "d/f", "abc").ok());
    ASSERT_TRUE(disk.fsync("d/f").ok());  // its bytes are durable, its name is not
    EXPECT_EQ(disk.unsynced_directory_ops(), 1U);
    const DiskCrashReport report = disk.crash(UnsyncedFate::lose);
    EXPECT_FALSE(disk.exists("d/f"));
    EXPECT_EQ(report.directory_ops_lost, 1U);
    EXPECT_EQ(disk.used_bytes(), 0U);

    ASSERT_TRUE(write_text(disk, "d/f", "abc").ok());
    ASSERT_TRUE(disk.fsync("d/f").ok());
    ASSERT_TRUE(disk.fsync_directory("d").ok());
    EXPECT_EQ(disk.unsynced_directory_ops(), 0U);
    (void)disk.crash(UnsyncedFate::lose);
    EXPECT_EQ(text_of(disk, "d/f"), "abc");
}

TEST(DiskDirectories, ARenameNotSyncedLeavesTheOldFileWhereItWas) {
    Simulation simulation(SimulationOptions{.seed = 1});
    for (const UnsyncedFate fate : {UnsyncedFate::lose, UnsyncedFate::keep}) {
        Disk disk = make_lazy_disk();
        ASSERT_TRUE(write_text(disk, "d/checkpoint", "old").ok());
        ASSERT_TRUE(disk.fsync_all().ok());
        ASSERT_TRUE(write_text(disk, "d/checkpoint.tmp", "new").ok());
        ASSERT_TRUE(disk.fsync("d/checkpoint.tmp").ok());
        ASSERT_TRUE(disk.rename("d/checkpoint.tmp", "d/checkpoint").ok());
        EXPECT_EQ(text_of(disk, "d/checkpoint"), "new");
        (void)disk.crash(fate);
        EXPECT_EQ(text_of(disk, "d/checkpoint"), fate == UnsyncedFate::lose ? "old" : "new") << to_string(fate);
        EXPECT_FALSE(disk.exists("d/checkpoint.tmp"));  // its creation was lost too, or renamed away
    }
}

TEST(DiskDirectories, ARemovalNotSyncedComesBackWithTheDurableBytes) {
    Simulation simulation(SimulationOptions{.seed = 1});
    Disk disk = make_lazy_disk();
    ASSERT_TRUE(write_text(disk, "d/segment", "records").ok());
    ASSERT_TRUE(disk.fsync_all().ok());
    ASSERT_TRUE(disk.append("d/segment", std::as_bytes(std::span("!", 1))).ok());  // unsynced
    ASSERT_TRUE(disk.remove("d/segment").ok());
    EXPECT_FALSE(disk.exists("d/segment"));
    (void)disk.crash(UnsyncedFate::lose);
    EXPECT_EQ(text_of(disk, "d/segment"), "records");
    EXPECT_EQ(disk.used_bytes(), 7U);

    ASSERT_TRUE(disk.remove("d/segment").ok());
    ASSERT_TRUE(disk.fsync_directory("d").ok());
    (void)disk.crash(UnsyncedFate::lose);
    EXPECT_FALSE(disk.exists("d/segment"));
}

TEST(DiskDirectories, ATruncationIsDurableOnceTheFileOrItsDirectoryIsSynced) {
    Simulation simulation(SimulationOptions{.seed = 1});
    for (const int how : {0, 1, 2}) {  // not synced, the file synced, the directory synced
        Disk disk = make_lazy_disk();
        ASSERT_TRUE(write_text(disk, "d/segment", "0123456789").ok());
        ASSERT_TRUE(disk.fsync_all().ok());
        ASSERT_TRUE(disk.truncate("d/segment", 4).ok());
        ASSERT_TRUE(disk.append("d/segment", std::as_bytes(std::span("ab", 2))).ok());
        if (how == 1) {
            ASSERT_TRUE(disk.fsync("d/segment").ok());
        } else if (how == 2) {
            ASSERT_TRUE(disk.fsync_directory("d").ok());
        }
        (void)disk.crash(UnsyncedFate::lose);
        const std::string expected[] = {"0123456789", "0123ab", "0123"};
        EXPECT_EQ(text_of(disk, "d/segment"), expected[how]) << how;
    }
}

TEST(DiskDirectories, ATornCrashKeepsAPrefixOfEachDirectorysOperations) {
    Simulation simulation(SimulationOptions{.seed = 1});
    std::set<std::string> outcomes;
    for (std::uint64_t seed = 1; seed <= 60; ++seed) {
        Disk lazy = make_lazy_disk(seed);
        for (const char* name : {"d/a", "d/b", "d/c"}) {
            ASSERT_TRUE(write_text(lazy, name, "x").ok());
        }
        ASSERT_TRUE(write_text(lazy, "e/z", "x").ok());
        ASSERT_TRUE(lazy.fsync_directory("e").ok());  // only e is synced
        (void)lazy.crash(UnsyncedFate::tear);
        std::string survivors;
        for (const std::string& path : lazy.list("d/")) {
            survivors += path.substr(2);
        }
        EXPECT_TRUE(survivors.empty() || survivors == "a" || survivors == "ab" || survivors == "abc") << survivors;
        EXPECT_TRUE(lazy.exists("e/z"));
        outcomes.insert(survivors);
    }
    EXPECT_EQ(outcomes.size(), 4U);  // every prefix happens
}

TEST(DiskDirectories, OperationsMadeDuringADirectorySyncMayStillBeLost) {
    Simulation simulation(SimulationOptions{.seed = 1});
    Disk disk = make_lazy_disk();
    ASSERT_TRUE(write_text(disk, "d/a", "x").ok());
    simulation.world().spawn("sync", [&] { ASSERT_TRUE(disk.fsync_directory("d").ok()); });
    simulation.world().spawn("late", [&] { ASSERT_TRUE(write_text(disk, "d/b", "y").ok()); });
    (void)simulation.run(RunBounds{});
    EXPECT_EQ(disk.unsynced_directory_ops(), 1U);
    (void)disk.crash(UnsyncedFate::lose);
    EXPECT_TRUE(disk.exists("d/a"));
    EXPECT_FALSE(disk.exists("d/b"));
}

TEST(DiskDirectories, ASyncAfterATruncationAndAWriteFurtherOnKeepsNothingOfTheCutBytes) {
    Simulation simulation(SimulationOptions{.seed = 1});
    Disk disk = make_lazy_disk();
    ASSERT_TRUE(disk.create("d/f").ok());
    ASSERT_TRUE(disk.append("d/f", pattern(10'000, 1)).ok());
    ASSERT_TRUE(disk.fsync_all().ok());
    ASSERT_TRUE(disk.truncate("d/f", 10).ok());
    ASSERT_TRUE(disk.write("d/f", 5000, pattern(10, 2)).ok());  // a hole from 10 to 5000
    ASSERT_TRUE(disk.fsync("d/f").ok());
    (void)disk.crash(UnsyncedFate::lose);
    const auto after = disk.read_all("d/f").value();
    ASSERT_EQ(after.size(), 5010U);
    for (std::size_t i = 10; i < 5000; ++i) {
        ASSERT_EQ(after[i], std::byte{0}) << i;  // read as zeros before the crash, and after it
    }
}

TEST(DiskDirectories, ADirectorySyncTakesOnlyWhatWasMadeBeforeIt) {
    Simulation simulation(SimulationOptions{.seed = 1});
    Disk disk = make_lazy_disk();
    ASSERT_TRUE(write_text(disk, "d/a", "x").ok());
    simulation.world().spawn("sync", [&] { ASSERT_TRUE(disk.fsync_directory("d").ok()); });
    simulation.world().spawn("meanwhile", [&] {
        disk.writeback();  // takes "a" during the sync's wait
        ASSERT_TRUE(write_text(disk, "d/b", "y").ok());
    });
    (void)simulation.run(RunBounds{});
    EXPECT_EQ(disk.unsynced_directory_ops(), 1U);
    (void)disk.crash(UnsyncedFate::lose);
    EXPECT_TRUE(disk.exists("d/a"));
    EXPECT_FALSE(disk.exists("d/b"));
}

TEST(DiskDirectories, WithoutTheOptionDirectoryOperationsAreDurableAtOnce) {
    Simulation simulation(SimulationOptions{.seed = 1});
    Disk disk = make_disk();
    ASSERT_TRUE(write_text(disk, "d/a", "x").ok());
    ASSERT_TRUE(disk.fsync("d/a").ok());
    ASSERT_TRUE(write_text(disk, "d/b", "0123").ok());
    ASSERT_TRUE(disk.fsync("d/b").ok());
    ASSERT_TRUE(disk.truncate("d/b", 2).ok());
    EXPECT_EQ(disk.unsynced_directory_ops(), 0U);
    (void)disk.crash(UnsyncedFate::lose);
    EXPECT_TRUE(disk.exists("d/a"));
    EXPECT_EQ(text_of(disk, "d/b"), "01");
}

TEST(DiskDirectories, WritebackMakesEveryDirectoryDurable) {
    Simulation simulation(SimulationOptions{.seed = 1});
    Disk disk = make_lazy_disk();
    ASSERT_TRUE(write_text(disk, "d/a", "x").ok());
    ASSERT_TRUE(write_text(disk, "e/b", "y").ok());
    disk.writeback();
    EXPECT_EQ(disk.unsynced_directory_ops(), 0U);
    (void)disk.crash(UnsyncedFate::lose);
    EXPECT_EQ(text_of(disk, "d/a"), "x");
    EXPECT_EQ(text_of(disk, "e/b"), "y");
}

}  // namespace
}  // namespace eosim::sim
