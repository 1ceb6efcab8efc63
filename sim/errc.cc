#include "sim/errc.h"

#include <fmt/format.h>

namespace eosim::sim {

namespace {

class SimCategory final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "eosim.sim"; }

    [[nodiscard]] std::string message(int code) const override {
        switch (static_cast<errc>(code)) {
            case errc::ok: return "ok";
            case errc::timeout: return "timed out";
            case errc::broken_promise: return "broken promise";
            case errc::connection_reset: return "connection reset";
            case errc::channel_closed: return "channel closed";
            case errc::disk_full: return "disk full";
            case errc::no_such_file: return "no such file";
            case errc::node_down: return "node down";
        }
        return fmt::format("unknown sim error {}", code);
    }
};

}  // namespace

const std::error_category& sim_category() noexcept {
    static const SimCategory category;
    return category;
}

void assertion_failed(const char* expression, const char* file, int line, const std::string& message) {
    std::string text = fmt::format("assertion failed: {} at {}:{}", expression, file, line);
    if (!message.empty()) {
        text += ": " + message;
    }
    throw AssertionFailure(text);
}

}  // namespace eosim::sim
