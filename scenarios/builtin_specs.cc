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

}  // namespace eosim::scenarios
