# PEERLAB_STATIC_PEER: link gRPC, protobuf, abseil, re2, c-ares, OpenSSL and
# zlib from the Debian static archives (.a) instead of their shared
# libraries. Included by the top-level CMakeLists.txt after its
# find_package() calls.
#
# Why: a peer's resident memory is mostly file-backed pages of the shared
# libraries it maps (libgrpc, libprotobuf, libcrypto …: 16.7 of 19.4 MiB).
# Statically linked, only the archive members the peer references are in the
# binary, with no PIC relocation tables to read at start-up.
#
# How: the imported targets that find_package() created point at the .so
# files; for the libraries above, their locations are switched to the .a
# next to them (Debian ships both). This is global (every executable of the
# build links these statically: the imported targets cannot differ per
# consumer), which is fine for tests and tools alike. spdlog, fmt, libedit,
# GTest and libstdc++ stay shared: Debian ships spdlog and fmt as .so only,
# and a static libstdc++ next to spdlog's shared one would load two copies.
set(_peerlab_static_names
  "^(grpc.*|gpr|upb|address_sorting|protobuf.*|absl_.*|re2|cares|ssl|crypto|z)$")

# The .a next to a shared library `path`, if it is one of ours; "" if not
# ours; "MISSING" if ours without an archive.
function(_peerlab_static_archive path out)
  set(${out} "" PARENT_SCOPE)
  if(NOT path MATCHES "^(.*)/lib([^/]+)\\.so(\\.[0-9.]+)?$")
    return()
  endif()
  set(dir "${CMAKE_MATCH_1}")
  set(name "${CMAKE_MATCH_2}")
  if(NOT name MATCHES "${_peerlab_static_names}")
    return()
  endif()
  if(EXISTS "${dir}/lib${name}.a")
    set(${out} "${dir}/lib${name}.a" PARENT_SCOPE)
  else()
    set(${out} "MISSING" PARENT_SCOPE)
  endif()
endfunction()

get_property(_peerlab_imported DIRECTORY PROPERTY IMPORTED_TARGETS)
set(_peerlab_switched 0)
set(_peerlab_missing "")
foreach(target IN LISTS _peerlab_imported)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    # re2::re2 (pkg-config): "-lre2" or a path in its link libraries.
    get_target_property(libs ${target} INTERFACE_LINK_LIBRARIES)
    if(target STREQUAL "re2::re2" AND libs)
      set(new_libs "")
      foreach(lib IN LISTS libs)
        if(lib STREQUAL "-lre2" OR lib STREQUAL "re2")
          find_library(_peerlab_re2_a NAMES libre2.a)
          if(_peerlab_re2_a)
            set(lib "${_peerlab_re2_a}")
            math(EXPR _peerlab_switched "${_peerlab_switched} + 1")
          endif()
        else()
          _peerlab_static_archive("${lib}" archive)
          if(archive AND NOT archive STREQUAL "MISSING")
            set(lib "${archive}")
            math(EXPR _peerlab_switched "${_peerlab_switched} + 1")
          endif()
        endif()
        list(APPEND new_libs "${lib}")
      endforeach()
      set_property(TARGET ${target} PROPERTY INTERFACE_LINK_LIBRARIES
                   "${new_libs}")
    endif()
    continue()
  endif()
  if(NOT type MATCHES "^(SHARED|UNKNOWN)_LIBRARY$")
    continue()
  endif()
  get_target_property(configs ${target} IMPORTED_CONFIGURATIONS)
  set(props IMPORTED_LOCATION)
  if(configs)
    foreach(config IN LISTS configs)
      string(TOUPPER "${config}" config)
      list(APPEND props IMPORTED_LOCATION_${config})
    endforeach()
  endif()
  foreach(prop IN LISTS props)
    get_target_property(location ${target} ${prop})
    if(NOT location)
      continue()
    endif()
    _peerlab_static_archive("${location}" archive)
    if(archive STREQUAL "MISSING")
      list(APPEND _peerlab_missing "${location}")
    elseif(archive)
      set_property(TARGET ${target} PROPERTY ${prop} "${archive}")
      # A shared library's soname no longer applies.
      set_property(TARGET ${target} PROPERTY IMPORTED_NO_SONAME TRUE)
      math(EXPR _peerlab_switched "${_peerlab_switched} + 1")
    endif()
  endforeach()
endforeach()
if(_peerlab_missing)
  list(REMOVE_DUPLICATES _peerlab_missing)
  # Linked shared if used; none of these is used by peerlab-peer.
  message(STATUS "PEERLAB_STATIC_PEER: no static archive for: "
                 "${_peerlab_missing}")
endif()
message(STATUS "PEERLAB_STATIC_PEER: ${_peerlab_switched} libraries linked "
               "from static archives")

# spdlog and fmt: Debian ships them as .so only, and libspdlog.so needs
# libstdc++.so. Their header-only forms (in the same packages) compile into
# each binary instead, so peerlab-peer can link libstdc++ statically as well
# (peer/app/CMakeLists.txt) and map no C++ shared library at all.
find_package(fmt REQUIRED)
set_target_properties(spdlog::spdlog_header_only PROPERTIES
  INTERFACE_LINK_LIBRARIES "Threads::Threads;fmt::fmt-header-only")
set(PEERLAB_SPDLOG_TARGET spdlog::spdlog_header_only)
