#!/usr/bin/env bash
# ctest: runs test-harness/scenarios/partition-3-2.cmd through
# `peerlab-test run --lab netns`. Skipped (exit 77) with the reason when the
# machine does not allow network namespaces. Fails if a plab-* namespace or
# link is left behind. Usage: netns_lab_test.sh BIN_DIR SOURCE_DIR
set -uo pipefail
bin=$1 src=$2
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIPPED: --lab netns needs root"; exit 77
fi
if ! reason=$("$bin/peerlab-lab" check 2>&1); then
  echo "SKIPPED: $reason"; exit 77
fi
report=$(mktemp -d)
trap 'rm -rf "$report"' EXIT
"$bin/peerlab-test" run --lab netns --report-dir "$report" \
  "$src/test-harness/scenarios/partition-3-2.cmd"
rc=$?
left=$(ip netns list | grep '^plab-' || true)
links=$(ip -o link show | awk -F': ' '{print $2}' | grep '^plab-' || true)
if [[ -n $left || -n $links ]]; then
  echo "FAILED: left behind: $left $links"
  "$bin/peerlab-lab" down
  exit 1
fi
exit $rc
