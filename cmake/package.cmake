# cpack -G DEB (in the build folder): peerlab_VERSION_ARCH.deb with
# everything cmake --install installs, under /usr. Depends comes from
# dpkg-shlibdeps (Debian's dpkg-dev) on the installed programs; the
# packages a user's build needs for the headers and the CMake package are
# in Suggests.
set(CPACK_PACKAGE_NAME peerlab)
set(CPACK_PACKAGE_VENDOR peerlab)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "peerlab: bootstrap service, peers with SWIM/Lifeguard membership, test harness")
set(CPACK_PACKAGE_DESCRIPTION
    "The peerlab programs (peerlab-peer, peerlab-bootstrap, peerlab-coordinator, peerlab-test, ...), systemd units, and the membership, CLI and bootstrap-client libraries with their headers and CMake package (find_package(peerlab)).")
set(CPACK_PACKAGE_CONTACT "peerlab maintainers <peerlab@localhost>")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
    "libgrpc++-dev, libprotobuf-dev, protobuf-compiler, libabsl-dev, libssl-dev, nlohmann-json3-dev, libedit-dev, cmake")
set(CPACK_STRIP_FILES OFF)
include(CPack)
