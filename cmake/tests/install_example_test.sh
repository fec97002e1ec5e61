#!/usr/bin/env bash
# ctest install_example_test: installs this build into a fresh prefix,
# then configures, builds and runs examples/embed-membership against that
# prefix only, as a user of the package would: a copy of the example's
# folder, find_package(peerlab) from the prefix (no package registry), and
# no include directory of the source or build tree on its compile lines.
#
#   install_example_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work="$build/package-tests/install"
prefix="$work/prefix"
fail() { echo "install_example_test: $*" >&2; exit 1; }

[[ -f "$src/examples/embed-membership/CMakeLists.txt" ]] ||
  fail "no examples/embed-membership in $src"
rm -rf "$prefix" "$work/example"
mkdir -p "$work"
if ! cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1; then
  tail -20 "$work/install.log" >&2
  fail "cmake --install failed (is the whole tree built?)"
fi
cp -r "$src/examples/embed-membership" "$work/example"

# The libraries log through runtime::Logger: what peerlab::membership,
# peerlab::runtime and peerlab::cli bring into a user's link line has no
# spdlog, fmt or CLI11.
targets=$(find "$prefix" -name peerlabTargets.cmake -path '*/cmake/peerlab/*' | head -1)
[[ -n "$targets" ]] || fail "no peerlabTargets.cmake under $prefix"
if ! cmake -DTARGETS_FILE="$targets" \
    -DCOMPONENTS=membership,runtime,cli -DFORBIDDEN=spdlog,fmt,CLI11 \
    -P "$src/cmake/tests/check_link_closure.cmake" >"$work/closure.log" 2>&1; then
  cat "$work/closure.log" >&2
  fail "an installed peerlab library links spdlog, fmt or CLI11"
fi

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if ! cmake -S "$work/example" -B "$work/example-build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    "${launcher[@]}" >"$work/configure.log" 2>&1; then
  tail -30 "$work/configure.log" >&2
  fail "configuring the example against $prefix failed"
fi
grep -q "peerlab_DIR:PATH=$prefix/" "$work/example-build/CMakeCache.txt" ||
  fail "find_package(peerlab) did not use $prefix: $(grep peerlab_DIR "$work/example-build/CMakeCache.txt")"

# Every include directory is the prefix's or the system's.
bad=$(grep -oE '(-I|-isystem )[^ "]+' "$work/example-build/compile_commands.json" |
  sed -E 's/^(-I|-isystem )//' | sort -u |
  grep -vE "^($prefix/|/usr/)" || true)
[[ -z "$bad" ]] || fail "include directories outside the prefix: $bad"

if ! cmake --build "$work/example-build" >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log" >&2
  fail "building the example against $prefix failed"
fi
# ... and so the example's own link line has none of them.
link=$(cmake --build "$work/example-build" -- -t commands embed-membership | tail -1)
if grep -qiE 'spdlog|libfmt|cli11' <<<"$link"; then
  fail "spdlog, fmt or CLI11 on the example's link line: $link"
fi

# Its own state directory: the per-user group key is made there.
rm -rf "$work/state"
mkdir -m 700 "$work/state"
if ! PEERLAB_STATE_DIR="$work/state" timeout 60 \
    "$work/example-build/embed-membership" </dev/null >"$work/run.log" 2>&1; then
  cat "$work/run.log" >&2
  fail "embed-membership failed"
fi
cat "$work/run.log"
