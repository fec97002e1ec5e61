#!/usr/bin/env bash
# harness_bench.sh: peerlab-test wall time, from the command to its verdict
# and to its exit, lab start and stop included.
#
#   bench/harness_bench.sh [BIN_DIR] [REPEATS] [CASES]
#
# Cases: the seed default.cmd (3 peers, 12 lines), then N = 3, 10, 30 peers
# that all init, wait for the group to form (`wait` on the <joined> lines),
# all send one message, and each check that they received the N-1 messages
# of the others; then 20 peers through a 30 s nemesis (every fault kind,
# one every 1..2 s) while they chat and write keys, to `check chat` and
# `check kv`. BIN_DIR (default build/bin) holds peerlab-test and the
# binaries it starts. Prints one Markdown table row per case: median and
# worst of REPEATS runs (default 5); the nemesis case also prints how many
# faults the nemesis drew and carried out and how long each checker took.
# CASES (default "seed all nemesis") picks some: `... build/bin 1 nemesis`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:-$ROOT/build/bin}"
REPEATS="${2:-5}"
CASES="${3:-seed all nemesis}"
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
      run_ms=$(grep -o '([0-9]* ms)$' <<<"$line" | tr -dc 0-9)
      # Why a run did not pass, printed under its case's row.
      [[ $verdict == PASSED ]] || echo "$line" >>"$TMP/failures.txt"
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
  if [[ -s $TMP/failures.txt ]]; then
    sed 's/^/  not passed: /' "$TMP/failures.txt"
    rm -f "$TMP/failures.txt"
  fi
}

# nemesis_script N SECONDS: N peers join, then a nemesis of every fault kind
# runs for SECONDS while each peer sends a message every 2 s and some write
# keys; then check chat and check kv.
nemesis_script() {
  local n=$1 secs=$2 i r
  for ((i = 1; i <= n; i++)); do echo "p$i init"; done
  echo "wait p1 messagesView $((n - 1)) <joined> 30s"
  echo "nemesis kill,stop,partition,loss,delay,oneway every 1s..2s for ${secs}s"
  for ((r = 1; r <= secs / 2 + 1; r++)); do
    for ((i = 1; i <= n; i++)); do echo "p$i msg r$r from p$i"; done
    echo "p$(((r % n) + 1)) broadcastadd k$((r % 5)) v$r"
    echo "sleep 2"
  done
  for ((i = 1; i <= n; i++)); do echo "p$i msg last from p$i"; done
  echo "check chat"
  echo "check kv"
}

# The nemesis case's facts from each of its runs' summary.json: faults
# drawn and carried out (done, skipped: a fault this lab cannot do from the
# nemesis, failed), repairs; each check's outcome and the checker's time.
nemesis_facts() {
  python3 - "$TMP"/runs/*/summary.json <<'PY'
import json, re, sys
for path in sorted(sys.argv[1:]):
    s = json.load(open(path))
    if s.get("script_name") != "nemesis-20.cmd":
        continue
    steps = s.get("steps", [])
    nem = [x for x in steps if x.get("text", "").startswith("nemesis: ")]
    def repair(x):
        return any(w in x["text"] for w in (
            " start ", " cont ", "heal", " clear", " init"))
    faults = [x for x in nem if not repair(x)]
    def count(xs, o):
        return sum(1 for x in xs if x.get("outcome") == o)
    checks = []
    for x in steps:
        if x.get("kind") == "check":
            m = re.search(r"checked in ([^)]*)\)", x.get("message", ""))
            checks.append("%s %s in %s" % (
                x["text"], x.get("outcome", "?").replace("OUTCOME_", ""),
                m.group(1) if m else "?"))
    print("  run %s (%s): %d faults drawn: %d done, %d skipped, %d failed; "
          "%d repairs; %s" % (
              s.get("run_id"), s.get("state", "?").replace("RUN_STATE_", ""),
              len(faults), count(faults, "OUTCOME_OK"),
              count(faults, "OUTCOME_SKIPPED"),
              count(faults, "OUTCOME_FAILED"), len(nem) - len(faults),
              "; ".join(checks)))
    for x in steps:
        if x.get("outcome") == "OUTCOME_FAILED":
            print("    failed: line %s %s -- %s" % (
                x.get("line"), x.get("text"),
                x.get("message", "").split("\n")[0][:200]))
PY
}

echo "| case | peers | to verdict (median) | to verdict (worst) | to exit (median) | run itself (median) | passed |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
if [[ " $CASES " == *" seed "* ]]; then
  stats "seed default.cmd" 3 "$ROOT/test-harness/seed-tests/default.cmd"
fi
if [[ " $CASES " == *" all "* ]]; then
  for n in 3 10 30; do
    all_messaging "$n" >"$TMP/all-$n.cmd"
    stats "all messaging" "$n" "$TMP/all-$n.cmd"
  done
fi
if [[ " $CASES " == *" nemesis "* ]]; then
  nemesis_script 20 30 >"$TMP/nemesis-20.cmd"
  stats "30 s nemesis, check chat + kv" 20 "$TMP/nemesis-20.cmd"
  nemesis_facts
fi
