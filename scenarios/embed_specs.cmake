# Writes OUTPUT: a C++ source holding every spec file in SPEC_DIR as a string, so the built-in
# scenarios need no files at run time.
file(GLOB specs "${SPEC_DIR}/*.toml")
list(SORT specs)
set(body "")
foreach(spec ${specs})
  get_filename_component(name "${spec}" NAME)
  file(READ "${spec}" text)
  string(APPEND body "        {\"${name}\", R\"eosimspec(${text})eosimspec\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from scenarios/specs/*.toml by scenarios/embed_specs.cmake. Do not edit.\n#include <string_view>\n#include <utility>\n#include <vector>\n\nnamespace eosim::scenarios {\n\nconst std::vector<std::pair<std::string_view, std::string_view>>& builtin_spec_texts() {\n    static const std::vector<std::pair<std::string_view, std::string_view>> texts{\n${body}    };\n    return texts;\n}\n\n}  // namespace eosim::scenarios\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
