# cmake --install: the programs, the libraries a user may link (static, with
# their public headers under <peerlab/…>) and the CMake package
# lib/cmake/peerlab (find_package(peerlab CONFIG REQUIRED COMPONENTS
# membership cli)); cpack -G DEB: all of it as one Debian package
# (cmake/package.cmake). Included last by the top-level CMakeLists.txt.
include(CMakePackageConfigHelpers)

set(PEERLAB_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/peerlab)

# --- The programs --------------------------------------------------------
set(PEERLAB_PROGRAMS peerlab-peer peerlab-bootstrap peerlab-bootstrapctl
    peerlab-coordinator peerlab-test peerlab-control peerlab-ctl peerlab-sim)
foreach(program IN LISTS PEERLAB_PROGRAMS)
  if(TARGET ${program})
    install(TARGETS ${program} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()
install(PROGRAMS ${PROJECT_SOURCE_DIR}/deploy/lab/peerlab-lab
        DESTINATION ${CMAKE_INSTALL_BINDIR})

# --- The libraries -------------------------------------------------------
# Components a user names in find_package(peerlab COMPONENTS …) and the
# target each one is (peerlab::<component>).
set(PEERLAB_COMPONENTS membership cli bootstrap_client)
if(TARGET peerlab_runtime)
  list(APPEND PEERLAB_COMPONENTS runtime)
endif()
if(TARGET peerlab_cli_prompt)  # built where libedit is
  list(APPEND PEERLAB_COMPONENTS cli_prompt)
endif()

# Every library the components link, installed and exported as
# peerlab::<export name>; the parts other than the components are not meant
# to be linked alone. Archive names get a peerlab_ prefix where the target
# has none, so that /usr/lib holds no libmembership.a.
set(PEERLAB_EXPORTED_LIBRARIES
  "peerlab_files=files"
  "peerlab_base=base"
  "peerlab_grpc=grpc"
  "peer_identity=identity"
  "peer_membership_proto=membership_proto"
  "membership=membership_protocol"
  "membership_resolve=membership_resolve"
  "membership_real=membership_real"
  "membership_node=membership_node"
  "peerlab_membership=membership"
  "peerlab_runtime=runtime"
  "peerlab_cli=cli"
  "peerlab_cli_prompt=cli_prompt"
  "bootstrap_proto=bootstrap_proto"
  "bootstrap_entry_secret=bootstrap_entry_secret"
  "bootstrap_admin_token=bootstrap_admin_token"
  "bootstrap_client=bootstrap_client")
set(exported_targets)
foreach(entry IN LISTS PEERLAB_EXPORTED_LIBRARIES)
  string(REPLACE "=" ";" pair "${entry}")
  list(GET pair 0 target)
  list(GET pair 1 export_name)
  if(NOT TARGET ${target})
    continue()
  endif()
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "STATIC_LIBRARY" AND NOT target MATCHES "^peerlab_")
    set_target_properties(${target} PROPERTIES OUTPUT_NAME peerlab_${target})
  endif()
  list(APPEND exported_targets ${target})
endforeach()
install(TARGETS ${exported_targets}
  EXPORT peerlabTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# --- The public headers --------------------------------------------------
# <peerlab/NAME/…> = the folder PEERLAB_HEADER_FOLDERS gives for NAME
# (cmake/include_tree.cmake). Public headers include other headers of ours
# only by their <peerlab/…> path, and only public ones: the install test
# (examples/embed-membership against an installed prefix) checks that.
set(PEERLAB_PUBLIC_HEADERS_cli builtins.h command.h config.h parser.h
    registry.h session.h shell_runner.h view.h
    terminal.h)  # terminal.h: peerlab::cli_prompt
set(PEERLAB_PUBLIC_HEADERS_base cancellation.h clock.h metric_sample.h)
set(PEERLAB_PUBLIC_HEADERS_bootstrap_client bootstrap_client.h)
set(PEERLAB_PUBLIC_HEADERS_membership node.h member.h config.h)
set(PEERLAB_PUBLIC_HEADERS_runtime backoff.h completion.h event_loop.h fault_plan.h
    host_loop.h logger.h scheduler.h sim_clock.h sim_scheduler.h)
foreach(entry IN LISTS PEERLAB_HEADER_FOLDERS)
  string(REPLACE "=" ";" pair "${entry}")
  list(GET pair 0 name)
  list(GET pair 1 folder)
  set(dir ${PROJECT_SOURCE_DIR}/${folder})
  set(files)
  foreach(header IN LISTS PEERLAB_PUBLIC_HEADERS_${name})
    file(GLOB found ${dir}/${header})
    list(FILTER found EXCLUDE REGEX "_test(ing)?\\.h$")
    list(APPEND files ${found})
  endforeach()
  if(files)
    install(FILES ${files}
            DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/peerlab/${name})
  endif()
endforeach()
# The generated headers of the exported proto libraries (generated code
# includes them as "peer/v1/…", so include/peerlab/proto is an include
# directory of those targets).
install(DIRECTORY ${CMAKE_BINARY_DIR}/proto/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/peerlab/proto
  FILES_MATCHING
  PATTERN "bootstrap/v1/*.pb.h"
  PATTERN "peer/v1/membership*.pb.h"
  PATTERN "CMakeFiles" EXCLUDE
  PATTERN "third_party" EXCLUDE
  PATTERN "harness" EXCLUDE)

# --- The CMake package ---------------------------------------------------
install(EXPORT peerlabTargets
  NAMESPACE peerlab::
  DESTINATION ${PEERLAB_CMAKE_DIR})
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/peerlabConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/peerlabConfig.cmake
  INSTALL_DESTINATION ${PEERLAB_CMAKE_DIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(
  ${CMAKE_BINARY_DIR}/cmake/peerlabConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_BINARY_DIR}/cmake/peerlabConfig.cmake
  ${CMAKE_BINARY_DIR}/cmake/peerlabConfigVersion.cmake
  DESTINATION ${PEERLAB_CMAKE_DIR})

# --- Deployment material -------------------------------------------------
# The systemd units, with ExecStart pointing at the installed programs
# (the units in deploy/systemd say /usr/local/bin, for a manual install).
file(GLOB PEERLAB_SYSTEMD_UNITS ${PROJECT_SOURCE_DIR}/deploy/systemd/*.service)
foreach(unit IN LISTS PEERLAB_SYSTEMD_UNITS)
  get_filename_component(unit_name ${unit} NAME)
  install(CODE "
    file(READ \"${unit}\" text)
    string(REPLACE \"/usr/local/bin/\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/\" text \"\${text}\")
    set(dest \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
    file(MAKE_DIRECTORY \"\${dest}\")
    message(STATUS \"Installing: \${dest}/${unit_name}\")
    file(WRITE \"\${dest}/${unit_name}\" \"\${text}\")")
endforeach()

# Each program's --help, as it is, in share/doc/peerlab/help/PROGRAM.txt.
set(help_texts)
foreach(program IN LISTS PEERLAB_PROGRAMS)
  if(TARGET ${program})
    set(out ${CMAKE_BINARY_DIR}/help/${program}.txt)
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/help
      # Found through PATH, so that the usage line names the program
      # and not the build folder.
      COMMAND ${CMAKE_COMMAND} -E env
              "PATH=$<TARGET_FILE_DIR:${program}>:$ENV{PATH}"
              ${program} --help > ${out}
      DEPENDS ${program}
      COMMENT "${program} --help"
      VERBATIM)
    list(APPEND help_texts ${out})
  endif()
endforeach()
add_custom_target(peerlab_help_texts ALL DEPENDS ${help_texts})
install(FILES ${help_texts} DESTINATION ${CMAKE_INSTALL_DOCDIR}/help)
install(FILES ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
if(EXISTS ${PROJECT_SOURCE_DIR}/docs/library.md)
  install(FILES ${PROJECT_SOURCE_DIR}/docs/library.md
          DESTINATION ${CMAKE_INSTALL_DOCDIR})
endif()

include(${CMAKE_CURRENT_LIST_DIR}/package.cmake)

# The libraries log through runtime::Logger: peerlab::membership,
# peerlab::runtime and peerlab::cli must not bring spdlog, fmt or CLI11
# into a user's link line. Checked on the exported targets as generated
# (no build needed).
if(PEERLAB_BUILD_TESTS)
  add_test(NAME link_closure_test
    COMMAND ${CMAKE_COMMAND}
            "-DTARGETS_FILE=${CMAKE_BINARY_DIR}/CMakeFiles/Export/*/peerlabTargets.cmake"
            -DCOMPONENTS=membership,runtime,cli -DFORBIDDEN=spdlog,fmt,CLI11
            -P ${CMAKE_CURRENT_LIST_DIR}/tests/check_link_closure.cmake)
endif()

# The two ctest cases (label "package"): the Debian package's contents and
# Depends, and the example built against an installed prefix. Both read the
# whole build (run them after a full build) and share its install step.
# Not in sanitizer builds: their archives need the sanitizer runtime, which
# a user's plain build does not link.
if(PEERLAB_BUILD_TESTS AND NOT ASAN AND NOT TSAN)
  add_test(NAME package_deb_test
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/tests/package_deb_test.sh
            ${CMAKE_BINARY_DIR} ${PROJECT_VERSION})
  set_tests_properties(package_deb_test PROPERTIES
    LABELS package TIMEOUT 180 RESOURCE_LOCK peerlab_install)
  if(EXISTS ${PROJECT_SOURCE_DIR}/examples/embed-membership/CMakeLists.txt)
    add_test(NAME install_example_test
      COMMAND ${CMAKE_CURRENT_LIST_DIR}/tests/install_example_test.sh
              ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR})
    set_tests_properties(install_example_test PROPERTIES
      LABELS package TIMEOUT 180 RESOURCE_LOCK peerlab_install)
  endif()
endif()
