# Writes OUTPUT: a C++ source holding reports/html/report.html as a string, so the HTML reports need no
# files at run time and work offline.
file(READ "${TEMPLATE}" text)
file(WRITE "${OUTPUT}.tmp" "// Generated from reports/html/report.html by reports/embed_html.cmake. Do not edit.\nnamespace eosim::reports {\n\nextern const char* const html_template;\nconst char* const html_template = R\"eosimhtml(${text})eosimhtml\";\n\n}  // namespace eosim::reports\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
