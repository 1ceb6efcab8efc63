#include "reports/style.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace eosim::reports {

Style Style::for_stream(std::FILE* stream) {
    const char* no_color = std::getenv("NO_COLOR");
    const char* term = std::getenv("TERM");
    const bool terminal = stream != nullptr && ::isatty(::fileno(stream)) != 0;
    const bool refused = (no_color != nullptr && no_color[0] != '\0') || (term != nullptr && std::strcmp(term, "dumb") == 0);
    return Style{.colour = terminal && !refused};
}

std::string Style::paint(std::string_view code, std::string_view text) const {
    if (!colour) {
        return std::string(text);
    }
    std::string painted = "\x1b[";
    painted += code;
    painted += 'm';
    painted += text;
    painted += "\x1b[0m";
    return painted;
}

}  // namespace eosim::reports
