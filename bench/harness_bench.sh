#!/usr/bin/env bash
# harness_bench.sh: peerlab-test wall time, from the command to its verdict
# and to its exit, lab start and stop included.
#
#   bench/harness_bench.sh [BIN_DIR] [REPEATS]
#
# Cases: the seed default.cmd (3 peers, 12 lines), then N = 3, 10, 30 peers
# that all init, wait for the group to form (`wait` on the <joined> lines),
# all send one message, and each check that they received the N-1 messages
# of the others. BIN_DIR (default build/bin) holds
# peerlab-test and the binaries it starts. Prints one Markdown table row per
# case: median and worst of REPEATS runs (default 5).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:-$ROOT/build/bin}"
REPEATS="${2:-5}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/peerlab-harness-bench-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# all_messaging N: a script where N peers join, wait until the group has
# formed (peer i has seen the N-i later peers join), then each sends one
# message, and each must see exactly the N-1 messages of the others.
all_messaging() {
  local n=$1 i
  for ((i = 1; i <= n; i++)); do echo "p$i init"; done
  for ((i = 1; i < n; i++)); do
    echo "wait p$i messagesView $((n - i)) <joined> 30s"
  done
  for ((i = 1; i <= n; i++)); do
    echo "expect p$i messagesView == $((n - 1)) ~> bench from"
  done
  for ((i = 1; i <= n; i++)); do echo "p$i msg bench from p$i"; done
}

now() { date +%s.%N; }

# measure SCRIPT: prints "verdict_seconds exit_seconds run_ms verdict".
measure() {
  local script=$1 start verdict_at="" run_ms="" verdict="none" line
  start=$(now)
  while IFS= read -r line; do
    if [[ $line == Verdict:* ]]; then
      verdict_at=$(now)
      verdict=$(awk '{print $2}' <<<"$line")
      run_ms=$(grep -o '([0-9]* ms)' <<<"$line" | tr -dc 0-9)
    fi
  done < <("$BIN/peerlab-test" run --report-dir "$TMP/runs" "$script" 2>&1 || true)
  local end
  end=$(now)
  [[ -n $verdict_at ]] || verdict_at=$end
  awk -v s="$start" -v v="$verdict_at" -v e="$end" -v r="${run_ms:-0}" \
      -v d="$verdict" 'BEGIN { printf "%.3f %.3f %d %s\n", v - s, e - s, r, d }'
}

# median VALUES...: the middle value (the lower one of an even count).
median() { printf '%s\n' "$@" | sort -g | sed -n "$(((${#} + 1) / 2))p"; }
worst() { printf '%s\n' "$@" | sort -g | tail -1; }

# stats NAME PEERS SCRIPT: runs it REPEATS times, prints a table row.
stats() {
  local name=$1 peers=$2 script=$3 i passed=0 r
  local verdicts=() exits=() runs=()
  for ((i = 0; i < REPEATS; i++)); do
    read -r v e ms d < <(measure "$script")
    verdicts+=("$v")
    exits+=("$e")
    runs+=("$ms")
    [[ $d == PASSED ]] && passed=$((passed + 1))
  done
  printf '| %s | %d | %.2f s | %.2f s | %.2f s | %d ms | %d/%d |\n' \
    "$name" "$peers" "$(median "${verdicts[@]}")" "$(worst "${verdicts[@]}")" \
    "$(median "${exits[@]}")" "$(median "${runs[@]}")" "$passed" "$REPEATS"
}

echo "| case | peers | to verdict (median) | to verdict (worst) | to exit (median) | run itself (median) | passed |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
stats "seed default.cmd" 3 "$ROOT/test-harness/seed-tests/default.cmd"
for n in 3 10 30; do
  all_messaging "$n" >"$TMP/all-$n.cmd"
  stats "all messaging" "$n" "$TMP/all-$n.cmd"
done
