#include "streams_core/dsl.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>
#include <string_view>
#include <tuple>

#include "sim/assert.h"
#include "streams_core/state_store.h"

namespace eosim::streams_core {

namespace {

using Body = std::function<void(ProcessorContext&, const Record&)>;

// A processor whose process is a function of its context and the record.
class FunctionProcessor final : public Processor {
public:
    explicit FunctionProcessor(Body body) : body_(std::move(body)) {}
    void process(const Record& record) override { body_(context(), record); }

private:
    Body body_;
};

ProcessorSupplier supplier(Body body) {
    return [body = std::move(body)] { return std::make_unique<FunctionProcessor>(body); };
}

KeyValueStore& kv(ProcessorContext& context, const std::string& store) {
    auto* found = dynamic_cast<KeyValueStore*>(&context.state_store(store));
    EOSIM_ASSERT_MSG(found != nullptr, "the store is not a key-value store");
    return *found;
}

// Folds each record with a key and a value into the store and forwards the new aggregate.
Body fold(const std::string& store, std::function<std::string(const std::string&, const std::string&,
                                                              const std::optional<std::string>&)> step) {
    return [store, step = std::move(step)](ProcessorContext& context, const Record& record) {
        if (!record.key || !record.value) {
            return;  // Kafka's aggregations skip records with a null key or value
        }
        KeyValueStore& state = kv(context, store);
        const std::string next = step(*record.key, *record.value, state.get(*record.key));
        state.put(*record.key, next, record.timestamp_ms);
        context.forward(Record{record.key, next, record.timestamp_ms});
    };
}

// One session of a key as its store row holds it.
struct Session {
    std::int64_t start_ms = 0;
    std::int64_t end_ms = 0;
    std::string row;
    std::string aggregate;
};

// Reads `<start>-<end>` (each a decimal integer, possibly negative) and nothing else: the window part of
// a session key. None when `text` is anything more or less (then the row is another key's).
std::optional<std::pair<std::int64_t, std::int64_t>> parse_session_window(std::string_view text) {
    std::int64_t start_ms = 0;
    std::int64_t end_ms = 0;
    const char* const last = text.data() + text.size();
    const auto [after_start, start_error] = std::from_chars(text.data(), last, start_ms);
    if (start_error != std::errc{} || after_start == last || *after_start != '-') {
        return std::nullopt;
    }
    const auto [after_end, end_error] = std::from_chars(after_start + 1, last, end_ms);
    if (end_error != std::errc{} || after_end != last) {
        return std::nullopt;
    }
    return std::make_pair(start_ms, end_ms);
}

// The sessions of `key` that end at or after `earliest_end_ms` and start at or before `latest_start_ms`
// (Kafka's findSessions), by end then start, as Kafka's session stores iterate them. The rows of `key` are
// those `<key>@<start>-<end>`: the scan reads the rows with prefix `<key>@` in key order and skips any
// whose rest is not exactly a window (a row of a longer key that starts with `<key>@`).
std::vector<Session> find_sessions(const KeyValueStore& state, const std::string& key, std::int64_t earliest_end_ms,
                                   std::int64_t latest_start_ms) {
    const std::string prefix = key + "@";
    const auto& rows = state.all();
    std::vector<Session> found;
    for (auto it = rows.lower_bound(prefix); it != rows.end() && it->first.starts_with(prefix); ++it) {
        const auto window = parse_session_window(std::string_view(it->first).substr(prefix.size()));
        if (!window) {
            continue;
        }
        const auto [start_ms, end_ms] = *window;
        EOSIM_ASSERT_MSG(start_ms <= end_ms, "a session row ends before it starts");
        if (end_ms >= earliest_end_ms && start_ms <= latest_start_ms) {
            found.push_back(Session{start_ms, end_ms, it->first, it->second});
        }
    }
    std::sort(found.begin(), found.end(), [](const Session& a, const Session& b) {
        return std::tie(a.end_ms, a.start_ms) < std::tie(b.end_ms, b.start_ms);
    });
    return found;
}

// How a session aggregation folds records (Kafka's KStreamSessionWindowAggregate).
struct SessionAggregation {
    std::string store;
    SessionWindows windows;
    std::function<std::string()> initializer;
    std::function<std::string(const std::string&, const std::string&, const std::string&)> aggregator;
    SessionMerger merger;
};

// Merges the record into the sessions of its key within the gap of it, unless the merged session is
// closed. Stream time is the task's (the record's own time counted), as for time windows.
void aggregate_session(const SessionAggregation& how, ProcessorContext& context, const Record& record) {
    if (!record.key || !record.value) {
        return;  // as the other aggregations (Kafka's passes a null value on; docs/kafka-differences.md)
    }
    const std::string& key = *record.key;
    const std::int64_t at_ms = record.timestamp_ms;
    const std::int64_t gap_ms = how.windows.inactivity_gap_ms;
    // A session ending at `end` can still grow until stream time passes end + gap (a record there would
    // join it), and takes late records for the grace after that (KAFKA-12718).
    const std::int64_t close_ms = std::max(context.stream_time_ms(), at_ms) - how.windows.grace_ms - gap_ms;
    KeyValueStore& state = kv(context, how.store);
    // A session that ends at or before the close time is no longer found: Kafka's session store, with the
    // DSL's default retention (gap + grace), no longer returns it. Its row stays, never read again.
    const std::vector<Session> merged =
        find_sessions(state, key, std::max(at_ms - gap_ms, close_ms + 1), at_ms + gap_ms);
    std::string aggregate = how.initializer();
    std::int64_t start_ms = at_ms;
    std::int64_t end_ms = at_ms;
    for (const Session& session : merged) {
        aggregate = how.merger(key, aggregate, session.aggregate);
        start_ms = std::min(start_ms, session.start_ms);
        end_ms = std::max(end_ms, session.end_ms);
    }
    if (end_ms < close_ms) {
        return;  // the session closed: a late record, dropped
    }
    if (start_ms != at_ms || end_ms != at_ms) {
        // The record joined other sessions: they go, each forwarded as a tombstone (Kafka forwards the old
        // aggregate too only when a downstream asks for old values, which nothing here does).
        for (const Session& session : merged) {
            state.put(session.row, std::nullopt, at_ms);
            context.forward(Record{session.row, std::nullopt, session.end_ms});
        }
    }
    aggregate = how.aggregator(key, *record.value, aggregate);
    const std::string row = session_key(key, start_ms, end_ms);
    state.put(row, aggregate, at_ms);
    context.forward(Record{row, aggregate, end_ms});
}

}  // namespace

SessionWindows SessionWindows::with_inactivity_gap(std::int64_t inactivity_gap_ms, std::int64_t grace_ms) {
    EOSIM_ASSERT_MSG(inactivity_gap_ms > 0, "a session's inactivity gap must be above 0");
    EOSIM_ASSERT_MSG(grace_ms >= 0, "a session's grace must not be negative");
    return SessionWindows{inactivity_gap_ms, grace_ms};
}

std::vector<std::int64_t> TimeWindows::starts_for(std::int64_t timestamp_ms) const {
    EOSIM_ASSERT_MSG(size_ms > 0 && advance_ms > 0 && advance_ms <= size_ms && grace_ms >= 0,
                     "windows need 0 < advance <= size and a grace of at least 0");
    std::vector<std::int64_t> starts;
    // The earliest window that still holds the timestamp, on the grid of advances (Kafka's windowsFor).
    for (std::int64_t start = std::max<std::int64_t>(0, timestamp_ms - size_ms + advance_ms) / advance_ms * advance_ms;
         start <= timestamp_ms; start += advance_ms) {
        starts.push_back(start);
    }
    return starts;
}

std::string windowed_key(const std::string& key, std::int64_t window_start_ms) {
    return key + "@" + std::to_string(window_start_ms);
}

std::string session_key(const std::string& key, std::int64_t start_ms, std::int64_t end_ms) {
    EOSIM_ASSERT_MSG(start_ms <= end_ms, "a session ends at or after its start");
    return key + "@" + std::to_string(start_ms) + "-" + std::to_string(end_ms);
}

std::string repartition_topic(const std::string& application_id, const std::string& name) {
    return application_id + "-" + name + "-repartition";
}

std::string StreamsBuilder::next_name(const std::string& operation) {
    char index[16];
    (void)std::snprintf(index, sizeof index, "%010d", index_++);
    return "KSTREAM-" + operation + "-" + index;
}

KStream StreamsBuilder::stream(const std::vector<std::string>& topics) {
    const std::string name = next_name("SOURCE");
    topology_.add_source(name, topics);
    return KStream(*this, name, false);
}

KTable StreamsBuilder::table(const std::string& topic, const std::string& store) {
    return stream({topic}).to_table(store);
}

KStream KStream::then(const std::string& prefix, ProcessorSupplier supplier, bool key_changed) const {
    const std::string name = builder_->next_name(prefix);
    builder_->topology_.add_processor(name, std::move(supplier), {node_});
    return KStream(*builder_, name, key_changed_ || key_changed);
}

KStream KStream::map(std::function<Record(const Record&)> mapper) const {
    return then("MAP", supplier([mapper = std::move(mapper)](ProcessorContext& context, const Record& record) {
                    context.forward(mapper(record));
                }),
                true);
}

KStream KStream::map_values(std::function<Value(const Record&)> mapper) const {
    return then("MAPVALUES", supplier([mapper = std::move(mapper)](ProcessorContext& context, const Record& record) {
                    context.forward(Record{record.key, mapper(record), record.timestamp_ms});
                }),
                false);
}

KStream KStream::filter(std::function<bool(const Record&)> predicate) const {
    return then("FILTER", supplier([predicate = std::move(predicate)](ProcessorContext& context, const Record& record) {
                    if (predicate(record)) {
                        context.forward(record);
                    }
                }),
                false);
}

KStream KStream::filter_not(std::function<bool(const Record&)> predicate) const {
    return filter([predicate = std::move(predicate)](const Record& record) { return !predicate(record); });
}

KStream KStream::flat_map(std::function<std::vector<Record>(const Record&)> mapper) const {
    return then("FLATMAP", supplier([mapper = std::move(mapper)](ProcessorContext& context, const Record& record) {
                    for (const Record& out : mapper(record)) {
                        context.forward(out);
                    }
                }),
                true);
}

KStream KStream::flat_map_values(std::function<std::vector<Value>(const Record&)> mapper) const {
    return then("FLATMAPVALUES",
                supplier([mapper = std::move(mapper)](ProcessorContext& context, const Record& record) {
                    for (const Value& value : mapper(record)) {
                        context.forward(Record{record.key, value, record.timestamp_ms});
                    }
                }),
                false);
}

KStream KStream::select_key(std::function<Key(const Record&)> mapper) const {
    return then("KEY-SELECT", supplier([mapper = std::move(mapper)](ProcessorContext& context, const Record& record) {
                    context.forward(Record{mapper(record), record.value, record.timestamp_ms});
                }),
                true);
}

void KStream::to(const std::string& topic) const {
    builder_->topology_.add_sink(builder_->next_name("SINK"), topic, {node_});
}

KGroupedStream KStream::group_by_key() const {
    if (!key_changed_) {
        return KGroupedStream(*builder_, node_);
    }
    // The key changed upstream: records go through a topic partitioned by the new key, so that each key's
    // records meet in one task (null keys are dropped on the way, as Kafka's repartition does).
    const std::string name = builder_->next_name("REPARTITION");
    const std::string topic = repartition_topic(builder_->application_id(), name);
    const KStream keyed = filter([](const Record& record) { return record.key.has_value(); });
    builder_->topology_.add_sink(name + "-SINK", topic, {keyed.node_});
    const std::string source = name + "-SOURCE";
    builder_->topology_.add_source(source, {topic});
    return KGroupedStream(*builder_, source);
}

KGroupedStream KStream::group_by(std::function<Key(const Record&)> selector) const {
    return select_key(std::move(selector)).group_by_key();
}

KTable KStream::to_table(const std::string& store) const {
    const std::string name = builder_->next_name("TOTABLE");
    builder_->topology_.add_processor(name, supplier([store](ProcessorContext& context, const Record& record) {
                                          if (!record.key) {
                                              return;  // a table has no row without a key
                                          }
                                          kv(context, store).put(*record.key, record.value, record.timestamp_ms);
                                          context.forward(record);
                                      }),
                                      {node_});
    builder_->topology_.add_state_store(StoreSpec{store, true}, {name});
    return KTable(*builder_, name, store);
}

KStream KStream::join_with(const KTable& table, ValueJoiner joiner, bool left) const {
    const std::string store = table.store();
    KStream joined = then(left ? "LEFTJOIN" : "JOIN",
                          supplier([store, left, joiner = std::move(joiner)](ProcessorContext& context,
                                                                              const Record& record) {
                              if (!record.key || !record.value) {
                                  return;  // Kafka's stream-table join drops these
                              }
                              const Value row = kv(context, store).get(*record.key);
                              if (row || left) {
                                  context.forward(Record{record.key, joiner(*record.value, row), record.timestamp_ms});
                              }
                          }),
                          false);
    // The table's store joins the stream's task: one sub-topology, co-partitioned.
    builder_->topology_.connect_store(store, joined.node_);
    return joined;
}

KStream KStream::join(const KTable& table, ValueJoiner joiner) const { return join_with(table, std::move(joiner), false); }

KStream KStream::left_join(const KTable& table, ValueJoiner joiner) const {
    return join_with(table, std::move(joiner), true);
}

TimeWindowedKStream KGroupedStream::windowed_by(const TimeWindows& windows) const {
    (void)windows.starts_for(0);  // checks the windows
    return TimeWindowedKStream(*builder_, node_, windows);
}

KTable TimeWindowedKStream::count(const std::string& store) const {
    return aggregate([] { return std::string("0"); },
                     [](const std::string&, const std::string&, const std::string& aggregate) {
                         return std::to_string(std::stoll(aggregate) + 1);
                     },
                     store);
}

KTable TimeWindowedKStream::aggregate(
    std::function<std::string()> initializer,
    std::function<std::string(const std::string&, const std::string&, const std::string&)> aggregator,
    const std::string& store) const {
    const std::string name = builder_->next_name("WINDOW-AGGREGATE");
    // A window whose end is not after stream time minus grace is closed, and a record for it is dropped.
    // Stream time is the task's (the record's own time counted): it survives a restart through the
    // committed offsets' metadata, so a record is late or not whichever instance processes it.
    ProcessorSupplier made = [store, windows = windows_, initializer, aggregator] {
        return std::make_unique<FunctionProcessor>(
            [store, windows, initializer, aggregator](ProcessorContext& context, const Record& record) {
                if (!record.key || !record.value) {
                    return;
                }
                const std::int64_t close_ms = std::max(context.stream_time_ms(), record.timestamp_ms) - windows.grace_ms;
                KeyValueStore& state = kv(context, store);
                for (const std::int64_t start : windows.starts_for(record.timestamp_ms)) {
                    if (start + windows.size_ms <= close_ms) {
                        continue;  // the window closed: a late record
                    }
                    const std::string row = windowed_key(*record.key, start);
                    const Value old = state.get(row);
                    const std::string next = aggregator(*record.key, *record.value, old ? *old : initializer());
                    state.put(row, next, record.timestamp_ms);
                    context.forward(Record{row, next, record.timestamp_ms});
                }
            });
    };
    builder_->topology_.add_processor(name, std::move(made), {node_});
    builder_->topology_.add_state_store(StoreSpec{store, true}, {name});
    return KTable(*builder_, name, store);
}

SessionWindowedKStream KGroupedStream::windowed_by(const SessionWindows& windows) const {
    (void)SessionWindows::with_inactivity_gap(windows.inactivity_gap_ms, windows.grace_ms);  // checks them
    return SessionWindowedKStream(*builder_, node_, windows);
}

KTable SessionWindowedKStream::count(const std::string& store) const {
    return aggregate([] { return std::string("0"); },
                     [](const std::string&, const std::string&, const std::string& aggregate) {
                         return std::to_string(std::stoll(aggregate) + 1);
                     },
                     [](const std::string&, const std::string& one, const std::string& two) {
                         return std::to_string(std::stoll(one) + std::stoll(two));
                     },
                     store);
}

KTable SessionWindowedKStream::aggregate(
    std::function<std::string()> initializer,
    std::function<std::string(const std::string&, const std::string&, const std::string&)> aggregator,
    SessionMerger merger, const std::string& store) const {
    const std::string name = builder_->next_name("AGGREGATE");  // Kafka's name for session aggregations too
    SessionAggregation how{store, windows_, std::move(initializer), std::move(aggregator), std::move(merger)};
    Body body = [how = std::move(how)](ProcessorContext& context, const Record& record) {
        aggregate_session(how, context, record);
    };
    builder_->topology_.add_processor(name, supplier(std::move(body)), {node_});
    builder_->topology_.add_state_store(StoreSpec{store, true}, {name});
    return KTable(*builder_, name, store);
}

KTable KGroupedStream::count(const std::string& store) const {
    return aggregate([] { return std::string("0"); },
                     [](const std::string&, const std::string&, const std::string& aggregate) {
                         return std::to_string(std::stoll(aggregate) + 1);
                     },
                     store);
}

KTable KGroupedStream::aggregate(
    std::function<std::string()> initializer,
    std::function<std::string(const std::string&, const std::string&, const std::string&)> aggregator,
    const std::string& store) const {
    const std::string name = builder_->next_name("AGGREGATE");
    Body body = fold(store, [initializer = std::move(initializer), aggregator = std::move(aggregator)](
                                const std::string& key, const std::string& value,
                                const std::optional<std::string>& old) {
        return aggregator(key, value, old ? *old : initializer());
    });
    builder_->topology_.add_processor(name, supplier(std::move(body)), {node_});
    builder_->topology_.add_state_store(StoreSpec{store, true}, {name});
    return KTable(*builder_, name, store);
}

KTable KGroupedStream::reduce(std::function<std::string(const std::string&, const std::string&)> reducer,
                              const std::string& store) const {
    const std::string name = builder_->next_name("REDUCE");
    Body body = fold(store, [reducer = std::move(reducer)](const std::string&, const std::string& value,
                                                            const std::optional<std::string>& old) {
        return old ? reducer(*old, value) : value;
    });
    builder_->topology_.add_processor(name, supplier(std::move(body)), {node_});
    builder_->topology_.add_state_store(StoreSpec{store, true}, {name});
    return KTable(*builder_, name, store);
}

}  // namespace eosim::streams_core
