#include "streams_core/state_store.h"

namespace eosim::streams_core {

std::optional<std::string> KeyValueStore::get(const std::string& key) const {
    const auto found = entries_.find(key);
    return found != entries_.end() ? std::optional(found->second) : std::nullopt;
}

void KeyValueStore::put(const std::string& key, const std::optional<std::string>& value, std::int64_t timestamp_ms) {
    restore(key, value);
    if (logger_) {
        logger_(Record{key, value, timestamp_ms});
    }
}

void KeyValueStore::restore(const std::string& key, const std::optional<std::string>& value) {
    if (value) {
        entries_.insert_or_assign(key, *value);
    } else {
        entries_.erase(key);
    }
    if (local_) {
        local_(key, value);
    }
}

}  // namespace eosim::streams_core
