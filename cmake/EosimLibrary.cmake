include(GNUInstallDirs)

# eosim_library(TARGET NAME): one of eosim's libraries, usable in this tree as eosim::NAME (an alias) and,
# once installed, as eosim::NAME from find_package(eosim CONFIG). Headers are included from the
# repository's root in the tree ("scenarios/runner.h") and from include/eosim when installed.
function(eosim_library target name)
  add_library(eosim::${name} ALIAS ${target})
  get_target_property(type ${target} TYPE)
  set(scope PUBLIC)
  if(type STREQUAL "INTERFACE_LIBRARY")
    set(scope INTERFACE)
  endif()
  target_include_directories(${target} ${scope}
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/eosim>)
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME ${target})
  install(TARGETS ${target} EXPORT eosimTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()
