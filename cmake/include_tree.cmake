# The installed header layout in the build tree: ${PEERLAB_INCLUDE_DIR}/peerlab/X
# is a link to the source folder whose public headers are installed as
# <peerlab/X/…> (cmake/install.cmake installs the chosen headers of each).
# Public headers include each other by these paths only, so they compile
# the same against the build tree and against an installed prefix.
#
# peerlab/<name> → folder (relative to the source root; "@build/" = build tree)
set(PEERLAB_HEADER_FOLDERS
  "membership=peer/membership"
  "runtime=peer/runtime"
  "cli=peer/cli"
  "base=base"
  "bootstrap_client=services/bootstrap/client"
  "proto=@build/proto")

file(MAKE_DIRECTORY ${PEERLAB_INCLUDE_DIR}/peerlab)
foreach(entry IN LISTS PEERLAB_HEADER_FOLDERS)
  string(REPLACE "=" ";" pair "${entry}")
  list(GET pair 0 name)
  list(GET pair 1 folder)
  if(folder MATCHES "^@build/(.*)$")
    set(target_dir ${CMAKE_BINARY_DIR}/${CMAKE_MATCH_1})
    file(MAKE_DIRECTORY ${target_dir})
  else()
    set(target_dir ${PROJECT_SOURCE_DIR}/${folder})
  endif()
  set(link ${PEERLAB_INCLUDE_DIR}/peerlab/${name})
  if(IS_SYMLINK ${link} OR EXISTS ${link})
    file(REMOVE ${link})
  endif()
  if(EXISTS ${target_dir})
    file(CREATE_LINK ${target_dir} ${link} SYMBOLIC)
  endif()
endforeach()
