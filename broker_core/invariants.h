#pragma once

#include <cstdint>
#include <string>

#include "broker_core/broker.h"
#include "protocol/messages.h"

// The invariants of replication, checked by brokers during the run where they must hold (as a real
// implementation's assertions): a broken one fails the seed at once (sim/invariants.h). The rules and
// where each is checked are in docs/replication.md.

namespace eosim::broker_core::invariants {

// The witness's record of the newest metadata version any broker applied (sim::Witness::raise).
inline constexpr const char* metadata_applied = "metadata version applied by a broker";
// The witness's count of unclean leader elections (a cause scenarios may name for allowed anomalies).
inline constexpr const char* unclean_elections = "unclean leader elections";

// The witness's tally, per partition and key, of tombstones a leader's cleaner removed before every
// replica had fetched them: such a replica keeps the key's older record (Kafka's documented limit of
// delete.retention.ms, KAFKA-4545), a cause scenarios may name.
[[nodiscard]] std::string tombstone_outran_replica(const std::string& partition, const std::string& key);
// The witness's list of the tombstones any replica's cleaner removed from `partition` (offset, key).
[[nodiscard]] std::string removed_tombstones(const std::string& partition);
// A replica's log now ends at or below tombstones a replica's cleaner removed: it may never fetch them again.
void note_lost_tombstones(const Replica& replica);
// A follower appends across the gap [from, to): tombstones removed there never reach it. The gap is kept:
// a cleaner may report a tombstone it removed there only later (its report follows its fsync).
void note_skipped_tombstones(const Replica& replica, protocol::Offset from, protocol::Offset to);
// A cleaner removed the tombstone of `key` at `offset` of `partition`: noted for note_skipped_tombstones and
// note_lost_tombstones, and checked against the gaps followers already skipped.
void note_removed_tombstone(const std::string& partition, std::int64_t offset, const std::string& key);

// A leader's high watermark never passes its log end and, within one leadership, never moves back from
// what the leader has shown (to followers, consumers or producers). Call where it is shown.
void leader_high_watermark(Replica& replica);
// A leader's high watermark advances only while its ISR has at least `min_isr` members (KAFKA-15583): every
// committed record then has that many copies. Call when it advanced.
void high_watermark_advanced(const Replica& replica, std::int32_t min_isr);

// An acks=all produce is answered without an error only when the high watermark passed its last offset
// and the ISR has at least min.insync.replicas members.
void acknowledged(const Replica& replica, protocol::Offset last, std::int32_t min_insync_replicas);

// A replica that becomes (or stays) leader in `state`: it is in the ISR, the epoch never goes back, and
// no other broker leads the partition in the same epoch.
void leadership(const Replica& replica, protocol::BrokerId self, const protocol::PartitionState& state);

// Metadata applied to a replica never carries an older leader epoch than the replica already has.
void epoch_not_behind(const Replica& replica, const protocol::PartitionState& state);

// After truncating to the leader's answer, a follower holds nothing above the leader's end offset for
// that epoch.
void truncated_follower(const Replica& replica, const protocol::DivergingEpoch& diverging);

// A replica's producer state remembers only batches its log holds (below the log end): a retry is never
// answered with offsets the log lacks. Checked after recovery and truncation, the two places a state is
// rebuilt from a snapshot (KAFKA-6683: a snapshot holding a batch past its own offset).
void producer_state_within_log(const Replica& replica);

// A consumer's fetch never returns a record at or above the high watermark.
void consumer_fetch(const Replica& replica, const protocol::FetchPartitionResponse& response);

}  // namespace eosim::broker_core::invariants
