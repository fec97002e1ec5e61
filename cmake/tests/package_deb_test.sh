#!/usr/bin/env bash
# ctest package_deb_test: builds the Debian package with cpack into a fresh
# folder and checks what it holds (programs, libraries, headers, the CMake
# package, systemd units pointing at /usr/bin, --help texts) and that its
# Depends, made by dpkg-shlibdeps, names the shared libraries the programs
# use (gRPC, protobuf, OpenSSL, the C++ library).
#
#   package_deb_test.sh BUILD_DIR VERSION
set -euo pipefail
build=$1
version=$2
out="$build/package-tests/deb"
rm -rf "$out"
mkdir -p "$out"

fail() { echo "package_deb_test: $*" >&2; exit 1; }
for tool in cpack dpkg-deb dpkg-shlibdeps file readelf; do
  command -v "$tool" >/dev/null ||
    fail "$tool is missing (scripts/setup installs dpkg-dev, file, binutils)"
done

if ! cpack --config "$build/CPackConfig.cmake" -G DEB -B "$out" \
    >"$out/cpack.log" 2>&1; then
  tail -30 "$out/cpack.log" >&2
  fail "cpack -G DEB failed (whole log: $out/cpack.log)"
fi
arch=$(dpkg --print-architecture)
deb="$out/peerlab_${version}_${arch}.deb"
[[ -f "$deb" ]] || fail "no $deb; cpack made: $(ls "$out")"

contents=$(dpkg-deb -c "$deb" | awk '{print $NF}')
missing=()
for path in \
    ./usr/bin/peerlab-peer ./usr/bin/peerlab-bootstrap \
    ./usr/bin/peerlab-bootstrapctl ./usr/bin/peerlab-coordinator \
    ./usr/bin/peerlab-test ./usr/bin/peerlab-control ./usr/bin/peerlab-sim \
    ./usr/bin/peerlab-ctl \
    ./usr/bin/peerlab-lab \
    ./usr/lib/libpeerlab_membership.a ./usr/lib/libpeerlab_cli.a \
    ./usr/lib/libpeerlab_bootstrap_client.a \
    ./usr/include/peerlab/membership/node.h \
    ./usr/include/peerlab/membership/member.h \
    ./usr/include/peerlab/cli/registry.h \
    ./usr/include/peerlab/cli/terminal.h \
    ./usr/include/peerlab/runtime/event_loop.h \
    ./usr/lib/libpeerlab_runtime.a ./usr/lib/libpeerlab_cli_prompt.a \
    ./usr/include/peerlab/bootstrap_client/bootstrap_client.h \
    ./usr/include/peerlab/proto/bootstrap/v1/bootstrap.pb.h \
    ./usr/lib/cmake/peerlab/peerlabConfig.cmake \
    ./usr/lib/cmake/peerlab/peerlabConfigVersion.cmake \
    ./usr/lib/cmake/peerlab/peerlabTargets.cmake \
    ./usr/lib/systemd/system/peerlab-bootstrap.service \
    ./usr/lib/systemd/system/peerlab-peer@.service \
    ./usr/lib/systemd/system/peerlab-coordinator.service \
    ./usr/share/doc/peerlab/help/peerlab-peer.txt \
    ./usr/share/doc/peerlab/help/peerlab-bootstrap.txt; do
  grep -qxF "$path" <<<"$contents" || missing+=("$path")
done
((${#missing[@]} == 0)) || fail "not in the package: ${missing[*]}"
# Nothing of the build or source tree, no tests.
if grep -E '_test$|/build/|CMakeFiles' <<<"$contents"; then
  fail "the package holds build or test files (above)"
fi

# The units start the packaged programs.
unit=$(dpkg-deb --fsys-tarfile "$deb" |
  tar -xOf - ./usr/lib/systemd/system/peerlab-peer@.service)
grep -q '^ExecStart=/usr/bin/peerlab-peer ' <<<"$unit" ||
  fail "peerlab-peer@.service does not start /usr/bin/peerlab-peer: $(grep ExecStart <<<"$unit")"

depends=$(dpkg-deb -f "$deb" Depends)
[[ -n "$depends" ]] || fail "no Depends field"
for lib in 'libgrpc\+\+1' 'libprotobuf[0-9]' 'libssl3|libssl1' 'libc6 ' \
           'libstdc\+\+6' 'libabsl'; do
  grep -qE "(^|, )($lib)" <<<"$depends" ||
    fail "Depends names no /$lib/: $depends"
done
[[ "$(dpkg-deb -f "$deb" Package)" == peerlab ]] || fail "package name"
[[ "$(dpkg-deb -f "$deb" Version)" == "$version" ]] || fail "version"

echo "$(basename "$deb"): $(wc -l <<<"$contents") entries," \
  "$(du -k "$deb" | cut -f1) KiB; Depends: $depends"
