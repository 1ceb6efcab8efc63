#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "streams_core/topology.h"

namespace eosim::streams_core {

class StreamsBuilder;
class KTable;
class KGroupedStream;
class TimeWindowedKStream;
class SessionWindowedKStream;

using Key = std::optional<std::string>;
using Value = std::optional<std::string>;

// Fixed-size windows on record time (Kafka's TimeWindows): tumbling when `advance_ms` equals `size_ms`,
// hopping when it is smaller. A window [start, start + size) takes records for `grace_ms` after its end
// in stream time; later ones are dropped.
struct TimeWindows {
    std::int64_t size_ms = 0;
    std::int64_t advance_ms = 0;
    std::int64_t grace_ms = 0;

    [[nodiscard]] static TimeWindows tumbling(std::int64_t size_ms, std::int64_t grace_ms) {
        return TimeWindows{size_ms, size_ms, grace_ms};
    }
    [[nodiscard]] static TimeWindows hopping(std::int64_t size_ms, std::int64_t advance_ms, std::int64_t grace_ms) {
        return TimeWindows{size_ms, advance_ms, grace_ms};
    }
    // The starts of the windows that hold `timestamp_ms`, ascending (none below 0).
    [[nodiscard]] std::vector<std::int64_t> starts_for(std::int64_t timestamp_ms) const;
};

// Sessions of activity per key (Kafka's SessionWindows): a record joins every session of its key that
// ends at most `inactivity_gap_ms` before it or starts at most that long after it, and merges them into
// one. A session [start, end] closes once stream time passes end + gap + grace (KAFKA-12718); a record
// whose session would end before that is dropped.
struct SessionWindows {
    std::int64_t inactivity_gap_ms = 0;
    std::int64_t grace_ms = 0;

    // Checks a gap above 0 and a grace of at least 0, as Kafka's ofInactivityGapAndGrace does.
    [[nodiscard]] static SessionWindows with_inactivity_gap(std::int64_t inactivity_gap_ms, std::int64_t grace_ms);
};

// A windowed key as the DSL writes it: `<key>@<window start ms>` (Kafka writes Windowed<K> in binary).
[[nodiscard]] std::string windowed_key(const std::string& key, std::int64_t window_start_ms);
// A session's key as the DSL writes it: `<key>@<session start ms>-<session end ms>`, both ends inclusive
// (the times of the session's first and last records; Kafka writes Windowed<K> with a SessionWindow).
[[nodiscard]] std::string session_key(const std::string& key, std::int64_t start_ms, std::int64_t end_ms);

// How a session aggregation folds two sessions' aggregates into one when a record joins them (Kafka's
// Merger): `merger(key, aggregate_one, aggregate_two)`.
using SessionMerger = std::function<std::string(const std::string& key, const std::string& aggregate_one,
                                                const std::string& aggregate_two)>;

// How a stream record joins a table's value (none: no row for the key, in a left join).
using ValueJoiner = std::function<Value(const std::string& stream_value, const Value& table_value)>;

// A record stream of the DSL (Kafka's KStream): each operation adds a processor to the builder's
// topology and returns the stream of its output. Operations that may change the key mark the stream,
// and grouping such a stream repartitions it through an internal topic first, as Kafka does.
class KStream {
public:
    KStream map(std::function<Record(const Record&)> mapper) const;
    KStream map_values(std::function<Value(const Record&)> mapper) const;
    KStream filter(std::function<bool(const Record&)> predicate) const;
    KStream filter_not(std::function<bool(const Record&)> predicate) const;
    KStream flat_map(std::function<std::vector<Record>(const Record&)> mapper) const;
    KStream flat_map_values(std::function<std::vector<Value>(const Record&)> mapper) const;
    KStream select_key(std::function<Key(const Record&)> mapper) const;
    // Writes the stream to `topic`, each record to the partition of its key.
    void to(const std::string& topic) const;
    KGroupedStream group_by_key() const;
    KGroupedStream group_by(std::function<Key(const Record&)> selector) const;
    // The stream as a table in store `store`: the latest value per key (a null value deletes).
    KTable to_table(const std::string& store) const;
    // Each record with a key and a value joined with the table's current value for its key (Kafka's
    // stream-table join; the table must be co-partitioned, and joins the stream's task): inner drops a
    // record the table has no row for, left joins it with none.
    KStream join(const KTable& table, ValueJoiner joiner) const;
    KStream left_join(const KTable& table, ValueJoiner joiner) const;

    [[nodiscard]] const std::string& node() const { return node_; }

private:
    friend class StreamsBuilder;
    friend class KTable;
    KStream(StreamsBuilder& builder, std::string node, bool key_changed)
        : builder_(&builder), node_(std::move(node)), key_changed_(key_changed) {}
    KStream then(const std::string& prefix, ProcessorSupplier supplier, bool key_changed) const;
    KStream join_with(const KTable& table, ValueJoiner joiner, bool left) const;

    StreamsBuilder* builder_;
    std::string node_;
    bool key_changed_;
};

// A stream grouped by key, to aggregate (Kafka's KGroupedStream). Records with a null key or a null
// value are skipped, as Kafka's aggregations skip them.
class KGroupedStream {
public:
    // Per key, how many records: the count as a decimal string.
    KTable count(const std::string& store) const;
    // Per key, `aggregator(key, value, aggregate)` folded from `initializer()`.
    KTable aggregate(std::function<std::string()> initializer,
                     std::function<std::string(const std::string&, const std::string&, const std::string&)> aggregator,
                     const std::string& store) const;
    // Per key, `reducer(aggregate, value)` folded from the first value.
    KTable reduce(std::function<std::string(const std::string&, const std::string&)> reducer,
                  const std::string& store) const;
    TimeWindowedKStream windowed_by(const TimeWindows& windows) const;
    SessionWindowedKStream windowed_by(const SessionWindows& windows) const;

private:
    friend class KStream;
    KGroupedStream(StreamsBuilder& builder, std::string node) : builder_(&builder), node_(std::move(node)) {}

    StreamsBuilder* builder_;
    std::string node_;
};

// A grouped stream aggregated per key and window (Kafka's TimeWindowedKStream). Each update is forwarded
// with the windowed key (`windowed_key`); the store holds one row per key and window start.
class TimeWindowedKStream {
public:
    KTable count(const std::string& store) const;
    KTable aggregate(std::function<std::string()> initializer,
                     std::function<std::string(const std::string&, const std::string&, const std::string&)> aggregator,
                     const std::string& store) const;

private:
    friend class KGroupedStream;
    TimeWindowedKStream(StreamsBuilder& builder, std::string node, TimeWindows windows)
        : builder_(&builder), node_(std::move(node)), windows_(windows) {}

    StreamsBuilder* builder_;
    std::string node_;
    TimeWindows windows_;
};

// A grouped stream aggregated per key and session (Kafka's SessionWindowedKStream with its
// KStreamSessionWindowAggregate). A record merges the sessions of its key it falls within the gap of:
// each merged-away session's row is deleted and its key forwarded with no value (a tombstone, timestamped
// with that session's end), then the merged session's aggregate is stored and forwarded with its session
// key (`session_key`), timestamped with the session's end. The store holds one row per session; a closed
// session's row stays but is never merged again.
class SessionWindowedKStream {
public:
    // Per session, how many records: the count as a decimal string (merged sessions add up).
    KTable count(const std::string& store) const;
    // Per session, `aggregator(key, value, aggregate)` folded from `initializer()`, the aggregates of the
    // sessions a record joins first folded together with `merger`.
    KTable aggregate(std::function<std::string()> initializer,
                     std::function<std::string(const std::string&, const std::string&, const std::string&)> aggregator,
                     SessionMerger merger, const std::string& store) const;

private:
    friend class KGroupedStream;
    SessionWindowedKStream(StreamsBuilder& builder, std::string node, SessionWindows windows)
        : builder_(&builder), node_(std::move(node)), windows_(windows) {}

    StreamsBuilder* builder_;
    std::string node_;
    SessionWindows windows_;
};

// A changelog stream seen as a table, materialized in a store (Kafka's KTable): the processor that
// wrote the store forwards every update.
class KTable {
public:
    KStream to_stream() const { return KStream(*builder_, node_, false); }
    [[nodiscard]] const std::string& store() const { return store_; }
    [[nodiscard]] const std::string& node() const { return node_; }

private:
    friend class KStream;
    friend class KGroupedStream;
    friend class TimeWindowedKStream;
    friend class SessionWindowedKStream;
    friend class StreamsBuilder;
    KTable(StreamsBuilder& builder, std::string node, std::string store)
        : builder_(&builder), node_(std::move(node)), store_(std::move(store)) {}

    StreamsBuilder* builder_;
    std::string node_;
    std::string store_;
};

// Builds a topology with the DSL (Kafka's StreamsBuilder). Node names follow Kafka's
// `KSTREAM-<OPERATION>-<10-digit index>`; internal topics are `<application id>-<name>-repartition`
// and `<application id>-<store>-changelog`.
class StreamsBuilder {
public:
    explicit StreamsBuilder(std::string application_id) : application_id_(std::move(application_id)) {}
    StreamsBuilder(const StreamsBuilder&) = delete;
    StreamsBuilder& operator=(const StreamsBuilder&) = delete;

    KStream stream(const std::vector<std::string>& topics);
    // `topic` read as a table into `store`.
    KTable table(const std::string& topic, const std::string& store);
    [[nodiscard]] const Topology& topology() const { return topology_; }
    [[nodiscard]] const std::string& application_id() const { return application_id_; }

private:
    friend class KStream;
    friend class KGroupedStream;
    friend class TimeWindowedKStream;
    friend class SessionWindowedKStream;
    std::string next_name(const std::string& operation);

    std::string application_id_;
    Topology topology_;
    std::int32_t index_ = 0;
};

// The topic a grouped stream repartitions through.
[[nodiscard]] std::string repartition_topic(const std::string& application_id, const std::string& name);

}  // namespace eosim::streams_core
