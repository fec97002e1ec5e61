#!/usr/bin/env bash
# ctest k8s_lab_test (label k8s): deploy/k8s/lab for real, on podman.
#  1. bad input: a name the lab refuses, a count over its limit, no podman
#     on PATH: exit 2 or 1 and nothing started;
#  2. build the images; up PostgreSQL, two bootstrap replicas, the
#     coordinator and alice, bob, charly; a second up is refused; the seed
#     default.cmd through `lab test` passes;
#  3. 20 peers: the ARP table sized for them; all know all; kill one peer's process; every other peer saw
#     the old process fail (suspect/dead, or replaced by a newer generation)
#     and lists the replacement alive under the same name within 30 s;
#  4. a wedged peer (its process stopped with SIGSTOP) fails its liveness
#     probe and deploy/k8s/liveness restarts it within 60 s (3 failures at
#     10 s), logging it; it is alive under its name in every table again;
#  5. down leaves no pod, volume or network.
# Every gRPC connection in the lab is mutual TLS (deploy/k8s/make-secrets).
# Usage: lab_test.sh BIN_DIR SOURCE_DIR. Skipped (77) without root or podman,
# or when someone else's lab is up (one left by a killed lab test is taken
# down first).
set -euo pipefail
BIN_DIR=$1
SRC=$2
LAB="$SRC/deploy/k8s/lab"
LAB_LOG="${PEERLAB_K8S_LAB_DIR:-/var/tmp/peerlab-k8s-lab}/liveness.log"
export PEERLAB_BIN_DIR="$BIN_DIR"
export CONTAINERS_CONF="$SRC/deploy/k8s/containers.conf"
[[ $(id -u) == 0 ]] || { echo "SKIP: the lab needs root (rootful podman, CNI)"; exit 77; }
command -v podman >/dev/null || { echo "SKIP: podman missing (scripts/setup)"; exit 77; }
# The test marks the lab it brings up with its pid. A lab whose marker
# names a process that is gone was left by a test killed mid-run (a CI
# timeout, ^C): it is taken down, not a reason to skip. Any other lab is
# someone's: the test skips and leaves it alone.
OWNER="${PEERLAB_K8S_LAB_DIR:-/var/tmp/peerlab-k8s-lab}/owned-by-lab-test"
if [[ -n "$(podman pod ps -q --filter label=peerlab.lab=k8s)" ]]; then
  owner=$(cat "$OWNER" 2>/dev/null || true)
  if [[ "$owner" =~ ^[0-9]+$ ]] && ! kill -0 "$owner" 2>/dev/null; then
    echo "== a lab left by an earlier lab test (pid $owner, gone): taking it down"
    "$LAB" down || { echo "FAIL: could not take down the lab left by pid $owner"; exit 1; }
  else
    echo "SKIP: a lab is already up on this machine (deploy/k8s/lab down)"; exit 77
  fi
fi
mkdir -p "${OWNER%/*}"
echo $$ >"$OWNER"
work=$(mktemp -d)
t_start=$SECONDS
step() { echo "== [$((SECONDS - t_start)) s] $*"; }
fail() { echo "FAIL: $*"; "$LAB" members 2>/dev/null | head -60 || true; exit 1; }
cleanup() { "$LAB" down >/dev/null 2>&1 || true; rm -rf "$work" "$OWNER"; }
trap cleanup EXIT
nothing_left() {
  [[ -z "$(podman pod ps -q --filter label=peerlab.lab=k8s)" ]] || fail "$1: pods left: $(podman pod ps --format '{{.Name}}')"
  ! podman network exists peerlab-lab || fail "$1: network peerlab-lab left"
  ! podman volume exists peerlab-postgres || fail "$1: volume peerlab-postgres left"
}
expect_rc() {  # expect_rc WANT WHAT CMD...
  local want=$1 what=$2 rc=0
  shift 2
  "$@" >"$work/out" 2>&1 || rc=$?
  [[ $rc == "$want" ]] || { cat "$work/out"; fail "$what: exit $rc, want $want"; }
  echo "  $what: exit $rc: $(tail -1 "$work/out")"
}

step "bad input"
expect_rc 2 "a name the peer's pod cannot have" "$LAB" up --peers alice,Bob
expect_rc 2 "a service's name" "$LAB" up --peers coordinator
expect_rc 2 "a count over the limit" "$LAB" up --count 100000
mkdir "$work/path"
for f in /usr/bin/* /bin/*; do
  b=${f##*/}
  [[ $b == podman || -e "$work/path/$b" ]] || ln -s "$f" "$work/path/$b"
done
expect_rc 1 "podman missing" env PATH="$work/path" "$LAB" up --count 2
nothing_left "after bad input"

step "build"
"$LAB" build
step "up alice,bob,charly"
"$LAB" up --peers alice,bob,charly
expect_rc 1 "a second up while one runs" "$LAB" up --count 2
[[ $(podman pod ps -q --filter label=peerlab.lab=k8s | wc -l) == 7 ]] || fail "the second up changed the lab"
step "lab test default.cmd"
(cd "$work" && "$LAB" test "$SRC/test-harness/seed-tests/default.cmd") || fail "default.cmd did not pass in the pods"
ls "$work"/peerlab-runs/*/summary.json >/dev/null || fail "no report copied out"
step "down"
"$LAB" down
nothing_left "after down"

step "up --count 20"
"$LAB" up --count 20
# The ARP table is shared by all pods' namespaces: 24 pods (and the
# bridge) need 2*25^2 entries below gc_thresh3, else packets are dropped.
thresh3=$(cat /proc/sys/net/ipv4/neigh/default/gc_thresh3)
((thresh3 >= 2 * 25 * 25)) || fail "gc_thresh3 is $thresh3 after up --count 20, want >= $((2 * 25 * 25)) (ARP table overflow drops packets)"
all_know_all() {  # all_know_all [VICTIM OLD_GENERATION]: every table lists every peer alive
  "$LAB" members >"$work/members" || return 1
  /usr/bin/python3 - "$work/members" 20 "${1:-}" "${2:-}" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
n, victim, gen = int(sys.argv[2]), sys.argv[3], sys.argv[4]
peers = [f"peer-{i}" for i in range(n)]
table = {}
for viewer, member, status, generation in rows:
    table.setdefault(viewer, {})[member] = (status, generation)
for v in peers:
    for m in peers:
        st = table.get(v, {}).get(m)
        if st is None or st[0] != "alive":
            sys.exit(1)
        if victim and m == victim and st[1] == gen:
            sys.exit(1)  # still the old process
sys.exit(0)
PY
}
end=$((SECONDS + 60))
until all_know_all; do ((SECONDS < end)) || fail "20 peers: not all know all after 60 s"; sleep 1; done
step "all 20 know all"
victim=peer-7
old_gen=$(awk -v v=$victim '$1 == "peer-0" && $2 == v {print $4}' "$work/members")
since=$(date +%s)
"$LAB" kill $victim
t_kill=$SECONDS
until all_know_all $victim "$old_gen"; do
  ((SECONDS - t_kill <= 30)) || fail "the replacement of $victim is not alive under its name in every table within 30 s"
  sleep 1
done
step "replacement of $victim alive in every table after $((SECONDS - t_kill)) s"
# Every other peer saw the old process fail or be replaced: its table has
# the new generation (above), and its log since the kill says so.
missing=()
for i in $(seq 0 19); do
  p=peer-$i
  [[ $p == "$victim" ]] && continue
  log=$(podman logs --since "$since" "$p-peer" 2>&1 || true)  # no grep -q under pipefail
  grep -qE "member $victim (is suspect|failed|joined|updated)" <<<"$log" || missing+=("$p")
done
if ((${#missing[@]})); then
  for p in "${missing[@]}"; do
    echo "--- $p's log since the kill:"
    podman logs --since "$since" "$p-peer" 2>&1 | tail -20
  done
  fail "${missing[*]} logged no failure or replacement of $victim"
fi

wedged=peer-12
c=$wedged-peer
"$LAB" members >"$work/members" || true
old_gen=$(awk -v v=$wedged '$1 == "peer-0" && $2 == v {print $4}' "$work/members")
pid=$(podman inspect --format '{{.State.Pid}}' "$c")
step "wedge $wedged (SIGSTOP to pid $pid)"
kill -STOP "$pid"
t_stop=$SECONDS
until now=$(podman inspect --format '{{.State.Running}} {{.State.Pid}}' "$c" 2>/dev/null) &&
  [[ "$now" == "true "* && "${now#true }" != "$pid" && "${now#true }" != 0 ]]; do
  ((SECONDS - t_stop <= 60)) || fail "the wedged $wedged was not restarted within 60 s: $(tail -5 "$LAB_LOG")"
  sleep 1
done
step "$wedged restarted by its liveness probe after $((SECONDS - t_stop)) s"
grep -q "$c: failed 3 liveness probes in a row: restarting it" "$LAB_LOG" ||
  fail "no liveness restart of $c logged: $(tail -5 "$LAB_LOG")"
t_back=$SECONDS
until all_know_all $wedged "$old_gen"; do
  ((SECONDS - t_back <= 30)) || fail "the restarted $wedged is not alive under its name in every table within 30 s"
  sleep 1
done
step "restarted $wedged alive in every table after $((SECONDS - t_back)) s"
"$LAB" status | grep -q "$c: restarted" || fail "lab status does not show the liveness restart"
step "down"
"$LAB" down
nothing_left "after down"
step "k8s lab test passed in $((SECONDS - t_start)) s"
