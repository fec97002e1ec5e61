#!/usr/bin/env bash
# The pod lab's size benchmark (bench/RESULTS.md, "The lab in pods"):
# deploy/k8s/lab up --count N, then `lab members` every 2 s until every
# peer's table lists all N alive; prints the times and the memory of the
# peer processes, their conmons and the pods' infra. Leaves the lab up
# (deploy/k8s/lab down). Run as root after deploy/k8s/lab build.
#   bench/k8s_lab_bench.sh N
set -euo pipefail
N=${1:?usage: k8s_lab_bench.sh N}
L="$(cd "$(dirname "$0")/.." && pwd)/deploy/k8s/lab"
export CONTAINERS_CONF="$(dirname "$L")/containers.conf"
t0=$(date +%s.%N)
/usr/bin/time -f "up: %e s wall, %U s user, %S s sys (the lab script)" "$L" up --count "$N"
t_up=$(date +%s.%N)
members=$(mktemp)
while :; do
  "$L" members >"$members" 2>/dev/null || true
  full=$(awk -v n="$N" '$3 == "alive" {c[$1]++} END {k = 0; for (v in c) if (c[v] == n) k++; print k}' "$members")
  echo "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {printf "%.1f", a - b}') s: $full of $N tables complete"
  [[ "$full" == "$N" ]] && break
  sleep 2
done
t_conv=$(date +%s.%N)
awk -v a="$t_conv" -v b="$t0" -v u="$t_up" 'BEGIN {printf "up -> all know all: %.1f s (up returned after %.1f s)\n", a - b, u - b}'
rm -f "$members"
for p in peerlab-peer conmon catatonit; do
  ps -C "$p" -o rss= | awk -v p="$p" '{s += $1; n++} END {if (n) printf "%s: %.1f MiB RSS average over %d\n", p, s / n / 1024, n}'
done
