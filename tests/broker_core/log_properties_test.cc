#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "broker_core/partition_log.h"
#include "sim/simulation.h"

namespace eosim::broker_core {
namespace {

using protocol::LeaderEpoch;
using protocol::Offset;
using protocol::RecordBatch;

RecordBatch make_batch(std::int64_t base_offset, int records, std::int32_t epoch = 0, const std::string& tag = "v") {
    RecordBatch batch;
    batch.base_offset = Offset(base_offset);
    batch.leader_epoch = LeaderEpoch(epoch);
    for (int i = 0; i < records; ++i) {
        batch.records.push_back(protocol::Record{
            i % 2 == 0 ? std::optional<std::string>("k" + std::to_string(i)) : std::nullopt,
            tag + "-" + std::to_string(base_offset + i), base_offset + i});
    }
    return batch;
}

// Whatever is appended, flushed and then lost or torn in a crash, recovery gives a prefix of what was
// appended that holds at least every flushed batch.
RC_GTEST_PROP(LogProperties, RecoveryGivesAPrefixHoldingEveryFlushedBatch, (std::uint64_t seed)) {
    sim::Simulation simulation(sim::SimulationOptions{.seed = seed});
    sim::Random random(seed);
    sim::Disk disk(sim::DiskOptions{.sector_bytes = 512}, random.fork("disk"));
    PartitionLog log(disk, "t-0", LogConfig{.segment_bytes = 256 + random.below(2048)});
    (void)log.recover();
    std::vector<RecordBatch> appended;
    std::int64_t flushed_end = 0;
    std::int64_t next = 0;
    const int batches = 1 + static_cast<int>(random.below(40));
    for (int i = 0; i < batches; ++i) {
        RecordBatch batch = make_batch(next, 1 + static_cast<int>(random.below(5)), i / 4, std::string(random.below(200), 'x'));
        RC_ASSERT(log.append(batch).ok());
        next = batch.next_offset().value();
        appended.push_back(batch);
        if (random.chance(0.2)) {
            RC_ASSERT(log.flush().ok());
            flushed_end = next;
        }
    }
    const auto fate = std::array{sim::UnsyncedFate::lose, sim::UnsyncedFate::keep, sim::UnsyncedFate::tear}[random.below(3)];
    (void)disk.crash(fate);
    PartitionLog recovered(disk, "t-0", log.config());
    (void)recovered.recover();
    const Offset end = recovered.log_end_offset();
    RC_ASSERT(end.value() >= flushed_end);
    const ReadResult read = recovered.read(Offset(0), end, UINT64_MAX);
    RC_ASSERT(read.status == ReadStatus::ok);
    RC_ASSERT(read.batches.size() <= appended.size());
    for (std::size_t i = 0; i < read.batches.size(); ++i) {
        RC_ASSERT(read.batches[i] == appended[i]);
    }
    if (fate == sim::UnsyncedFate::keep) {
        RC_ASSERT(end.value() == next);
    }
}

}  // namespace
}  // namespace eosim::broker_core
