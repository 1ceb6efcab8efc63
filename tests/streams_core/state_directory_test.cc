// streams_core::StateDirectory: the stores' files and the checkpoint on a simulated disk, through crashes.
#include <gtest/gtest.h>

#include "sim/simulation.h"
#include "streams_core/state_directory.h"

namespace eosim::streams_core {
namespace {

using protocol::Offset;
using protocol::TopicPartition;

constexpr TaskId task{0, 1};

// fsync needs a scheduler (outside a fiber it completes at once).
class StateDirectoryTest : public ::testing::Test {
protected:
    sim::Simulation simulation{sim::SimulationOptions{.seed = 1}};
};

sim::Disk make_disk(std::uint64_t seed = 1) { return sim::Disk(sim::DiskOptions{}, sim::Random(seed)); }

std::map<std::string, std::unique_ptr<KeyValueStore>> stores_of(const std::map<std::string, std::string>& entries) {
    std::map<std::string, std::unique_ptr<KeyValueStore>> stores;
    stores.emplace("counts", std::make_unique<KeyValueStore>("counts"));
    stores.at("counts")->load(entries);
    return stores;
}

TEST_F(StateDirectoryTest, WritesReadBackInOrderWithDeletes) {
    sim::Disk disk = make_disk();
    StateDirectory directory(disk, "app");
    EXPECT_FALSE(directory.has_state(task));
    directory.write(task, "counts", "a", "1");
    directory.write(task, "counts", "b", "2");
    directory.write(task, "counts", "a", "3");
    directory.write(task, "counts", "b", std::nullopt);
    EXPECT_TRUE(directory.has_state(task));
    EXPECT_EQ(directory.load(task, "counts"), (std::map<std::string, std::string>{{"a", "3"}}));
    EXPECT_TRUE(directory.load(task, "other").empty());
    EXPECT_TRUE(directory.load(TaskId{0, 2}, "counts").empty());
}

TEST_F(StateDirectoryTest, UnsyncedWritesMeetTheCrashAndATornTailIsDropped) {
    // Lost: only what the last flush synced survives.
    {
        sim::Disk disk = make_disk();
        StateDirectory directory(disk, "app");
        directory.write(task, "counts", "a", "1");
        ASSERT_TRUE(directory.flush(task, stores_of({{"a", "1"}})));
        directory.write(task, "counts", "b", "2");
        (void)disk.crash(sim::UnsyncedFate::lose);
        EXPECT_EQ(StateDirectory(disk, "app").load(task, "counts"), (std::map<std::string, std::string>{{"a", "1"}}));
    }
    // Kept: the unsynced write is there too (what KAFKA-9891's standby then trusts).
    {
        sim::Disk disk = make_disk();
        StateDirectory directory(disk, "app");
        directory.write(task, "counts", "a", "1");
        directory.write(task, "counts", "b", "2");
        (void)disk.crash(sim::UnsyncedFate::keep);
        EXPECT_EQ(StateDirectory(disk, "app").load(task, "counts"),
                  (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
    }
    // Torn, over many seeds: whatever survives is a prefix of the entries, never a garbled one.
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
        sim::Disk disk = make_disk(seed);
        StateDirectory directory(disk, "app");
        for (int i = 0; i < 200; ++i) {
            directory.write(task, "counts", "k" + std::to_string(i), std::string(static_cast<std::size_t>(i % 7) * 50, 'x'));
        }
        (void)disk.crash(sim::UnsyncedFate::tear);
        const auto entries = StateDirectory(disk, "app").load(task, "counts");
        for (std::size_t i = 0; i < entries.size(); ++i) {
            const std::string key = "k" + std::to_string(i);
            ASSERT_TRUE(entries.contains(key)) << "seed " << seed << ": a gap at " << key;
            EXPECT_EQ(entries.at(key), std::string((i % 7) * 50, 'x'));
        }
    }
}

TEST_F(StateDirectoryTest, CheckpointRoundTripsAndSurvivesACrash) {
    sim::Disk disk = make_disk();
    StateDirectory directory(disk, "app");
    EXPECT_FALSE(directory.checkpoint(task).has_value());
    const StateDirectory::Offsets offsets{{TopicPartition{"app-counts-changelog", 1}, Offset(42)},
                                          {TopicPartition{"app-sums-changelog", 1}, Offset(7)}};
    ASSERT_TRUE(directory.write_checkpoint(task, offsets));
    (void)disk.crash(sim::UnsyncedFate::lose);
    StateDirectory after(disk, "app");
    EXPECT_EQ(after.checkpoint(task), offsets);
    EXPECT_EQ(after.offset_sums(), (std::map<TaskId, std::int64_t>{{task, 49}}));
    after.delete_checkpoint(task);
    EXPECT_FALSE(after.checkpoint(task).has_value());
    EXPECT_TRUE(after.offset_sums().empty());
}

TEST_F(StateDirectoryTest, ACorruptedCheckpointIsNone) {
    sim::Disk disk = make_disk();
    StateDirectory directory(disk, "app");
    ASSERT_TRUE(directory.write_checkpoint(task, {{TopicPartition{"app-counts-changelog", 1}, Offset(42)}}));
    ASSERT_TRUE(disk.corrupt_random_bit([](const std::string& path) { return path.ends_with(".checkpoint"); }));
    EXPECT_FALSE(directory.checkpoint(task).has_value());
}

// The checkpoint vouches for the store files up to their sizes at the flush before it: a torn tail past
// that is expected after a crash, a bad entry below it is corruption (the task must be wiped).
TEST_F(StateDirectoryTest, ACheckpointTellsCorruptionFromATornTail) {
    const StateDirectory::Offsets offsets{{TopicPartition{"app-counts-changelog", 1}, Offset(3)}};
    const auto checkpointed = [&](sim::Disk& disk) {
        StateDirectory directory(disk, "app");
        for (int i = 0; i < 40; ++i) {
            directory.write(task, "counts", "k" + std::to_string(i), std::string(30, 'v'));
        }
        EXPECT_TRUE(directory.flush(task, stores_of({})));
        EXPECT_TRUE(directory.write_checkpoint(task, offsets));
        for (int i = 0; i < 40; ++i) {
            directory.write(task, "counts", "late" + std::to_string(i), std::string(30, 'w'));  // unsynced
        }
    };
    sim::Disk empty = make_disk();
    EXPECT_TRUE(StateDirectory(empty, "app").intact(task));  // no checkpoint, nothing to vouch for
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        sim::Disk disk = make_disk(seed);
        checkpointed(disk);
        (void)disk.crash(sim::UnsyncedFate::tear);
        StateDirectory after(disk, "app");
        EXPECT_EQ(after.checkpoint(task), offsets) << "seed " << seed;
        EXPECT_TRUE(after.intact(task)) << "seed " << seed << ": a torn tail is not corruption";
    }
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        sim::Disk disk = make_disk(seed);
        checkpointed(disk);
        (void)disk.crash(sim::UnsyncedFate::lose);
        ASSERT_TRUE(disk.corrupt_random_bit([](const std::string& path) { return path.ends_with(".db"); }));
        EXPECT_FALSE(StateDirectory(disk, "app").intact(task)) << "seed " << seed;
    }
    // A store file cut short of what the checkpoint vouched for is not intact either.
    sim::Disk disk = make_disk();
    checkpointed(disk);
    (void)disk.crash(sim::UnsyncedFate::lose);
    ASSERT_TRUE(disk.truncate("streams/app/0_1/counts.db", 100));
    EXPECT_FALSE(StateDirectory(disk, "app").intact(task));
}

TEST_F(StateDirectoryTest, WipeRemovesEverything) {
    sim::Disk disk = make_disk();
    StateDirectory directory(disk, "app");
    directory.write(task, "counts", "a", "1");
    ASSERT_TRUE(directory.write_checkpoint(task, {{TopicPartition{"app-counts-changelog", 1}, Offset(1)}}));
    directory.write(TaskId{0, 2}, "counts", "b", "1");
    directory.wipe(task);
    EXPECT_FALSE(directory.has_state(task));
    EXPECT_FALSE(directory.checkpoint(task).has_value());
    EXPECT_TRUE(directory.has_state(TaskId{0, 2}));
}

TEST_F(StateDirectoryTest, AFileFarLargerThanItsStoreIsRewrittenAtTheFlush) {
    sim::Disk disk = make_disk();
    StateDirectory directory(disk, "app");
    for (int i = 0; i < 3000; ++i) {
        directory.write(task, "counts", "a", std::to_string(i));
    }
    const std::uint64_t before = *disk.size("streams/app/0_1/counts.db");
    ASSERT_TRUE(directory.flush(task, stores_of({{"a", "2999"}})));
    EXPECT_LT(*disk.size("streams/app/0_1/counts.db"), before / 100);
    (void)disk.crash(sim::UnsyncedFate::lose);
    EXPECT_EQ(StateDirectory(disk, "app").load(task, "counts"), (std::map<std::string, std::string>{{"a", "2999"}}));
}

TEST_F(StateDirectoryTest, OneThreadAtATimeHoldsATask) {
    sim::Disk disk = make_disk();
    StateDirectory directory(disk, "app");
    EXPECT_TRUE(directory.lock(task, "thread-1"));
    EXPECT_TRUE(directory.lock(task, "thread-1"));
    EXPECT_FALSE(directory.lock(task, "thread-2"));
    directory.unlock(task, "thread-2");  // not its lock: nothing happens
    EXPECT_FALSE(directory.lock(task, "thread-2"));
    directory.unlock(task, "thread-1");
    EXPECT_TRUE(directory.lock(task, "thread-2"));
}

}  // namespace
}  // namespace eosim::streams_core
