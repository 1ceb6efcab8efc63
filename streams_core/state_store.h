#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "streams_core/record.h"

namespace eosim::streams_core {

// A task's local state, named in the topology (Kafka's StateStore).
class StateStore {
public:
    explicit StateStore(std::string name) : name_(std::move(name)) {}
    StateStore(const StateStore&) = delete;
    StateStore& operator=(const StateStore&) = delete;
    virtual ~StateStore() = default;

    [[nodiscard]] const std::string& name() const { return name_; }

private:
    std::string name_;
};

// Where a logged store writes its changes: the changelog record of one put (a tombstone for a delete).
using ChangeLogger = std::function<void(const Record& change)>;
// Where a store keeps its entries on the instance's disk (the state directory): every change, put or
// restored (value none: a delete).
using LocalWriter = std::function<void(const std::string& key, const std::optional<std::string>& value)>;

// A key-value store held in memory, in key order (Kafka's in-memory KeyValueStore). A logged store
// sends every put and delete to its changelog; restoration writes without logging.
class KeyValueStore final : public StateStore {
public:
    explicit KeyValueStore(std::string name, ChangeLogger logger = {})
        : StateStore(std::move(name)), logger_(std::move(logger)) {}

    [[nodiscard]] std::optional<std::string> get(const std::string& key) const;
    // `value` none deletes the key. `timestamp_ms` is the changelog record's timestamp.
    void put(const std::string& key, const std::optional<std::string>& value, std::int64_t timestamp_ms);
    // A changelog record read back during restoration: applied, not logged again.
    void restore(const std::string& key, const std::optional<std::string>& value);
    void clear() { entries_.clear(); }
    // Entries read back from the state directory: applied, neither logged nor written locally.
    void load(const std::map<std::string, std::string>& entries) { entries_ = entries; }
    // From now on every change is also written to `writer` (the state directory).
    void write_locally(LocalWriter writer) { local_ = std::move(writer); }

    [[nodiscard]] const std::map<std::string, std::string>& all() const { return entries_; }
    [[nodiscard]] bool logged() const { return static_cast<bool>(logger_); }

private:
    ChangeLogger logger_;
    LocalWriter local_;
    std::map<std::string, std::string> entries_;
};

}  // namespace eosim::streams_core
