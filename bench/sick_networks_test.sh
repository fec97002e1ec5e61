#!/usr/bin/env bash
# ctest: bench/sick_networks.sh at a small size (50 members, one seed,
# short runs; a few seconds of CPU) parses every figure and gives a
# verdict; an impossible bound makes it exit 1; usage errors exit 2.
# Usage: sick_networks_test.sh BUILD_DIR (with bin/peerlab-sim)
set -euo pipefail
build=${1:?usage: sick_networks_test.sh BUILD_DIR}
script="$(dirname "$0")/sick_networks.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/sick-networks-test.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }

# The small size of every goal, with the memberlist baseline.
small=(NODES=50 SEEDS=1 DURATION=45 ONEWAY_NODES=10 TRAFFIC_SETTLE=5
  TRAFFIC_DURATION=30 DETECT_SEEDS="1 2 3" DETECT_DURATION=30
  RESTART_DURATION=40 RESTART_WINDOW=10)
unset SCENARIOS SIM BASELINE

rc=0
env "${small[@]}" "$script" "$build" "$dir/small" > "$dir/small.out" 2>&1 || rc=$?
cat "$dir/small.out"
((rc == 0 || rc == 1)) || fail "small run exited $rc"
verdict="$dir/small/verdict.txt"
[[ -s "$verdict" ]] || fail "no verdict.txt"
# One judged line per figure and seed: 4 flipflop, 4 egress-loss, 1 oneway,
# 6 crash-traffic, 1 crash-detection median, 2 mass-restart; each with a
# number as its value (a figure the script could not read is no number).
judged=$(grep -cE '^(PASS|FAIL) ' "$verdict" || true)
[[ "$judged" == 18 ]] || fail "$judged judged lines, expected 18"
awk '$1 == "PASS" {
       # the value is the field before the bound (<= or >=)
       for (i = 1; i <= NF; i++) if ($i == "<=" || $i == ">=") break
       if ($(i - 1) !~ /^-?[0-9]+([.][0-9]+)?$/) { print "not a number: " $0; bad = 1 }
     }
     END { exit bad }' "$verdict" || fail "a PASS line without a numeric value"
# The baseline's figure is beside every judged line.
if grep -E '^(PASS|FAIL) ' "$verdict" | grep -vq ' baseline [0-9n]'; then
  fail "a judged line without the baseline's figure"
fi
[[ $(grep -c '^- .*crash-detection' "$verdict") == 3 ]] || fail "not one line per detection seed"
grep -q '^NOTRUN  mass-restart      5000' "$verdict" || fail "no NOTRUN line for 5,000"
last=$(tail -n 1 "$verdict")
if ((rc == 0)); then
  [[ "$last" == "verdict: PASS (18 of 18 checks passed)" ]] || fail "exit 0 with '$last'"
else
  [[ "$last" == "verdict: FAIL ("* ]] && grep -q '^FAIL ' "$verdict" ||
    fail "exit 1 with '$last'"
fi

# An impossible bound fails, on its line, and the script exits 1.
rc=0
env "${small[@]}" SCENARIOS=flipflop MIN_AGREEMENT=101 BASELINE=0 \
  "$script" "$build" "$dir/impossible" > "$dir/impossible.out" 2>&1 || rc=$?
cat "$dir/impossible.out"
((rc == 1)) || fail "MIN_AGREEMENT=101 exited $rc, not 1"
grep -qE '^FAIL +flipflop +50 +1  agreement \(%\) +[0-9.]+ >= 101 +baseline -$' \
  "$dir/impossible/verdict.txt" || fail "no FAIL line for the agreement"
grep -q '^verdict: FAIL (1 of 4 checks failed)$' "$dir/impossible/verdict.txt" ||
  fail "no FAIL verdict"
rc=0
env "${small[@]}" SCENARIOS=oneway MAX_HEALTHY_DEAD=-1 \
  "$script" "$build" "$dir/impossible2" > /dev/null 2>&1 || rc=$?
((rc == 1)) || fail "MAX_HEALTHY_DEAD=-1 exited $rc, not 1"

# Usage errors exit 2 before anything runs; --help exits 0.
usage() {  # expected stderr text, then env assignments and arguments
  local want=$1 rc=0
  shift
  env "$@" > "$dir/usage.out" 2>&1 || rc=$?
  ((rc == 2)) || fail "$* exited $rc, not 2"
  grep -qF -- "$want" "$dir/usage.out" || fail "$*: no '$want' in: $(cat "$dir/usage.out")"
}
usage "unknown option --nodes" "$script" --nodes 5
usage "unknown goal 'crash'" SCENARIOS=crash "$script" "$build" "$dir/u"
usage "NODES=abc is not a whole number" NODES=abc "$script" "$build" "$dir/u"
usage "SEEDS holds 'x'" SEEDS="1 x" "$script" "$build" "$dir/u"
usage "BASELINE=2 is not 0 or 1" BASELINE=2 "$script" "$build" "$dir/u"
usage "is missing; build it first" SIM=/nonexistent "$script" "$build" "$dir/u"
usage "at most two arguments" "$script" a b c
[[ ! -e "$dir/u" ]] || fail "a usage error made its OUT_DIR"
"$script" --help | grep -q '^Usage: bench/sick_networks.sh' || fail "--help"
echo "1 passed, 0 failed"
