#include "sim/trace.h"

#include <bit>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/hash.h"

namespace eosim::sim {

std::string_view to_string(Severity severity) {
    switch (severity) {
        case Severity::debug: return "debug";
        case Severity::info: return "info";
        case Severity::warn: return "warn";
        case Severity::error: return "error";
    }
    return "unknown";
}

void Trace::finish(std::uint64_t event_hash, Severity severity, std::string_view name, std::string* line) {
    mix(event_hash);
    ++event_count_;
    if (severity == Severity::error) {
        if (error_count_ == 0) {
            first_error_ = std::string(name);
        }
        ++error_count_;
    }
    if (sink_ != nullptr && line != nullptr) {
        line->append("}\n");
        sink_->write(line->data(), static_cast<std::streamsize>(line->size()));
    }
}

namespace {

std::string json_string(std::string_view text) { return nlohmann::json(std::string(text)).dump(); }

}  // namespace

TraceEvent::TraceEvent(Trace& trace, Severity severity, std::string_view name, Time now, std::string_view node)
    : trace_(trace), severity_(severity), name_(name) {
    hash_ = hash_combine(hash_string(name), static_cast<std::uint64_t>(to_ns(now)));
    hash_ = hash_combine(hash_, hash_string(node));
    hash_ = hash_combine(hash_, static_cast<std::uint64_t>(severity));
    if (trace.has_sink()) {
        line_ = std::make_unique<std::string>(fmt::format(R"({{"t":{},"node":{},"sev":"{}","event":{})",
                                                          to_ns(now), json_string(node), to_string(severity),
                                                          json_string(name)));
    }
}

TraceEvent::~TraceEvent() { trace_.finish(hash_, severity_, name_, line_.get()); }

void TraceEvent::add_key(std::string_view key) {
    hash_ = hash_combine(hash_, hash_string(key));
    if (line_) {
        line_->append(",");
        line_->append(json_string(key));
        line_->append(":");
    }
}

TraceEvent& TraceEvent::detail(std::string_view key, std::string_view value) {
    add_key(key);
    hash_ = hash_combine(hash_, hash_string(value));
    if (line_) {
        line_->append(json_string(value));
    }
    return *this;
}

TraceEvent& TraceEvent::detail(std::string_view key, bool value) {
    add_key(key);
    hash_ = hash_combine(hash_, value ? 1U : 0U);
    if (line_) {
        line_->append(value ? "true" : "false");
    }
    return *this;
}

TraceEvent& TraceEvent::detail(std::string_view key, double value) {
    add_key(key);
    hash_ = hash_combine(hash_, std::bit_cast<std::uint64_t>(value));
    if (line_) {
        line_->append(nlohmann::json(value).dump());
    }
    return *this;
}

TraceEvent& TraceEvent::detail(std::string_view key, Duration value) { return detail_signed(key, value.count()); }

TraceEvent& TraceEvent::detail(std::string_view key, Time value) { return detail_signed(key, to_ns(value)); }

TraceEvent& TraceEvent::detail_signed(std::string_view key, std::int64_t value) {
    add_key(key);
    hash_ = hash_combine(hash_, static_cast<std::uint64_t>(value));
    if (line_) {
        line_->append(fmt::format("{}", value));
    }
    return *this;
}

TraceEvent& TraceEvent::detail_unsigned(std::string_view key, std::uint64_t value) {
    add_key(key);
    hash_ = hash_combine(hash_, value);
    if (line_) {
        line_->append(fmt::format("{}", value));
    }
    return *this;
}

}  // namespace eosim::sim
