// Colour for text reports: on a terminal only, and never when NO_COLOR is set (https://no-color.org).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace eosim::reports {

struct Style {
    bool colour = false;

    // Colour when `stream` is a terminal, NO_COLOR is unset or empty, and TERM is not "dumb".
    static Style for_stream(std::FILE* stream);

    [[nodiscard]] std::string good(std::string_view text) const { return paint("32", text); }   // green
    [[nodiscard]] std::string bad(std::string_view text) const { return paint("1;31", text); }   // bold red
    [[nodiscard]] std::string note(std::string_view text) const { return paint("33", text); }   // yellow
    [[nodiscard]] std::string faint(std::string_view text) const { return paint("2", text); }   // dim

private:
    [[nodiscard]] std::string paint(std::string_view code, std::string_view text) const;
};

}  // namespace eosim::reports
