#include <fmt/format.h>

#include "cli/commands.h"
#include "scenarios/bugs.h"
#include "scenarios/spec.h"

namespace eosim::cli {

scenarios::Spec resolve_spec(const std::string& scenario, const std::string& spec_path) {
    if (!scenario.empty() && !spec_path.empty()) {
        throw UsageError(fmt::format("give a scenario name ('{}') or --spec FILE, not both", scenario));
    }
    if (!spec_path.empty()) {
        try {
            return scenarios::load_spec_file(spec_path);
        } catch (const scenarios::SpecError& error) {
            throw UsageError(error.what());
        }
    }
    if (scenario.empty()) {
        throw UsageError("name a scenario (see eosim list) or give --spec FILE");
    }
    const scenarios::Spec* spec = scenarios::find_builtin(scenario);
    if (spec == nullptr) {
        throw UsageError(fmt::format("unknown scenario '{}' (see eosim list)", scenario));
    }
    return *spec;
}

void check_bug(const std::string& bug) {
    if (!bug.empty() && scenarios::find_bug(bug) == nullptr) {
        throw UsageError(fmt::format("unknown bug switch '{}' (see eosim list --bugs)", bug));
    }
}

}  // namespace eosim::cli
