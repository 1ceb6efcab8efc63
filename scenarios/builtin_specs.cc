#include <string_view>
#include <utility>
#include <vector>

#include "scenarios/spec.h"

namespace eosim::scenarios {

// Generated from specs/*.toml (embed_specs.cmake).
const std::vector<std::pair<std::string_view, std::string_view>>& builtin_spec_texts();

const std::vector<Spec>& builtin_specs() {
    static const std::vector<Spec> specs = [] {
        std::vector<Spec> parsed;
        for (const auto& [file, text] : builtin_spec_texts()) {
            Spec spec = parse_spec(text, "scenarios/specs/" + std::string(file));
            spec.source = "built-in";
            parsed.push_back(std::move(spec));
        }
        Spec swarm = parse_spec(
            "name = \"swarm\"\ndescription = \"swarm testing: each seed draws its own scenario from the must-pass ones "
            "(cluster shape, workload knobs, fault mix and rates, buggify; docs/swarm.md): must pass\"\n",
            "the swarm scenario");
        swarm.source = "built-in";
        swarm.swarm = true;
        parsed.push_back(std::move(swarm));
        return parsed;
    }();
    return specs;
}

const Spec* find_builtin(std::string_view name) {
    for (const Spec& spec : builtin_specs()) {
        if (spec.name == name) {
            return &spec;
        }
    }
    return nullptr;
}

std::string_view builtin_spec_text(std::string_view name) {
    for (const auto& [file, text] : builtin_spec_texts()) {
        if (file.substr(0, file.rfind('.')) == name) {
            return text;
        }
    }
    return {};
}

}  // namespace eosim::scenarios
