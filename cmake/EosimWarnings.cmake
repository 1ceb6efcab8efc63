# Warnings for eosim's own targets (not for third-party headers, which are system includes).
function(eosim_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wno-missing-field-initializers
    -Wimplicit-fallthrough)
  if(EOSIM_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
