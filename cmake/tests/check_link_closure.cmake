# What a component drags into its users' link lines: reads an exported
# peerlabTargets.cmake (installed, or the build tree's copy), follows
# INTERFACE_LINK_LIBRARIES from peerlab::<component> through every
# peerlab:: target, and fails when anything it reaches names a forbidden
# library. Script mode (no targets are created, nothing is found):
#
#   cmake -DTARGETS_FILE=…/peerlabTargets.cmake -DCOMPONENTS=membership,runtime
#         -DFORBIDDEN=spdlog,fmt,CLI11 -P check_link_closure.cmake
#
# Run by ctest as link_closure_test on the build tree's export (fast, no
# build needed) and by install_example_test on the installed package.
#
# Prints each component's closure; exit status 1 naming the component, the
# library and the path to it on a finding.
cmake_minimum_required(VERSION 3.20)
foreach(var TARGETS_FILE COMPONENTS FORBIDDEN)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_link_closure: -D${var}=… is required")
  endif()
endforeach()
string(REPLACE "," ";" COMPONENTS "${COMPONENTS}")
string(REPLACE "," ";" FORBIDDEN "${FORBIDDEN}")
# A glob is allowed (the build tree keeps its copy under a hashed folder).
file(GLOB found "${TARGETS_FILE}")
list(LENGTH found found_count)
if(NOT found_count EQUAL 1)
  message(FATAL_ERROR "check_link_closure: ${found_count} files match ${TARGETS_FILE}")
endif()
file(READ "${found}" text)
# Semicolons would split the matches below: kept as "<semi>" until a link
# list is taken out whole.
string(REPLACE ";" "<semi>" text "${text}")

# peerlab::X -> its INTERFACE_LINK_LIBRARIES, from each
# set_target_properties(peerlab::X PROPERTIES … ) block.
string(REGEX MATCHALL
  "set_target_properties\\(peerlab::[A-Za-z0-9_]+ PROPERTIES[^)]*\\)"
  blocks "${text}")
foreach(block IN LISTS blocks)
  string(REGEX MATCH "set_target_properties\\((peerlab::[A-Za-z0-9_]+)"
         _ "${block}")
  set(name "${CMAKE_MATCH_1}")
  set(libs "")
  if(block MATCHES "INTERFACE_LINK_LIBRARIES \"([^\"]*)\"")
    string(REPLACE "<semi>" ";" libs "${CMAKE_MATCH_1}")
  endif()
  string(REPLACE "::" "__" key "${name}")
  set(links_${key} "${libs}")
endforeach()

set(failed FALSE)
foreach(component IN LISTS COMPONENTS)
  set(root "peerlab::${component}")
  string(REPLACE "::" "__" root_key "${root}")
  if(NOT DEFINED links_${root_key})
    message(FATAL_ERROR "check_link_closure: ${root} is not in ${TARGETS_FILE}")
  endif()
  # Breadth-first; via_<key> remembers how each item was reached.
  set(queue "${root}")
  set(seen "${root}")
  set(reached "")
  while(queue)
    list(POP_FRONT queue current)
    string(REPLACE "::" "__" current_key "${current}")
    foreach(item IN LISTS links_${current_key})
      # $<LINK_ONLY:x> and other generator expressions: their argument.
      string(REGEX REPLACE "^\\\\" "" item "${item}")
      string(REGEX REPLACE "^\\$<[A-Z_]+:(.*)>$" "\\1" item "${item}")
      if(item STREQUAL "" OR item IN_LIST seen)
        continue()
      endif()
      list(APPEND seen "${item}")
      list(APPEND reached "${item}")
      string(MAKE_C_IDENTIFIER "${item}" item_key)
      set(via_${item_key} "${current}")
      string(REPLACE "::" "__" item_links_key "${item}")
      if(item MATCHES "^peerlab::" AND DEFINED links_${item_links_key})
        list(APPEND queue "${item}")
      endif()
    endforeach()
  endwhile()
  list(SORT reached)
  message(STATUS "${root} links: ${reached}")
  foreach(item IN LISTS reached)
    foreach(bad IN LISTS FORBIDDEN)
      string(TOLOWER "${item}" item_lower)
      string(TOLOWER "${bad}" bad_lower)
      if(item_lower MATCHES "(^|[/:_.-])(lib)?${bad_lower}([/:_.-]|$)")
        string(MAKE_C_IDENTIFIER "${item}" item_key)
        message("check_link_closure: ${root} links ${item} "
                "(through ${via_${item_key}}); it must not link ${bad}")
        set(failed TRUE)
      endif()
    endforeach()
  endforeach()
endforeach()
if(failed)
  message(FATAL_ERROR "check_link_closure: forbidden libraries reached")
endif()
