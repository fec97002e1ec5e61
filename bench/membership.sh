#!/usr/bin/env bash
# Membership benchmark (see bench/RESULTS.md, section "Membership"):
#   (a) peerlab-sim figures for N = 10, 100, 1000 and 10000 (60 simulated
#       seconds; members join at JOIN_RATE per second), join and crash
#       scenarios, plus Lifeguard's slow-member experiment, into one CSV;
#   (b) membership_compare: N = 10 and 30 real peerlab-peer processes against
#       N serf agents on loopback, same profile, side by side.
#
# Usage: bench/membership.sh [BUILD_DIR] [OUT_DIR]
#   BUILD_DIR  a Release build with peerlab-sim, peerlab-peer and
#              membership_compare built (default: build)
#   OUT_DIR    where CSV/JSON/text results go (default: a new temp dir)
# Environment: PROFILE (lan), SIM_SIZES ("10 100 1000"), SIM_BIG ("10000":
#   crash scenario only; about 30 min and 12 GiB of memory at 10000),
#   JOIN_RATE (1000 joins per second), REAL_SIZES ("10,30"), REAL_BUILD (the
#   build whose peerlab-peer and membership_compare run part (b); default
#   BUILD_DIR; the memory figures in RESULTS.md come from a build configured
#   with -DPEERLAB_STATIC_PEER=ON),
#   SKIP_SIM=1 / SKIP_REAL=1 to run one half only.
# Needs the Debian serf package for (b): apt-get install -y serf.
set -euo pipefail

build=${1:-build}
out=${2:-$(mktemp -d "${TMPDIR:-/tmp}/membership-bench.XXXXXX")}
profile=${PROFILE:-lan}
mkdir -p "$out"
bin="$build/bin"
for b in peerlab-sim peerlab-peer membership_compare; do
  if [[ ! -x "$bin/$b" ]]; then
    echo "membership.sh: $bin/$b is missing; build it first:" >&2
    echo "  cmake --build $build --target peerlab-sim peerlab-peer membership_compare" >&2
    exit 2
  fi
done
echo "results in $out" >&2

if [[ -z "${SKIP_SIM:-}" ]]; then
  csv="$out/sim.csv"
  rm -f "$csv"
  rate=${JOIN_RATE:-1000}
  window() { awk -v n="$1" -v r="$rate" 'BEGIN { printf "%g", n / r }'; }
  for n in ${SIM_SIZES-10 100 1000}; do
    for scenario in join crash; do
      echo "peerlab-sim: $n members, $scenario" >&2
      "$bin/peerlab-sim" --nodes "$n" --profile "$profile" \
        --scenario "$scenario" --duration 60 --join-window "$(window "$n")" \
        --csv "$csv" --quiet | tee -a "$out/sim.txt"
    done
  done
  # Lifeguard's experiment: 100 members, LOCAL profile, 10 slow members
  # (timers and arrivals up to one probe period late), with and without,
  # seeds 1-8 (one run has few deaths: compare the sums).
  for lg in "" --no-lifeguard; do
    for seed in 1 2 3 4 5 6 7 8; do
      echo "peerlab-sim: 100 members, slow, ${lg:-lifeguard}, seed $seed" >&2
      "$bin/peerlab-sim" --nodes 100 --profile local --scenario slow \
        --seed "$seed" --duration 300 $lg --csv "$csv" --quiet \
        >> "$out/sim.txt"
    done
  done
  awk -F, 'NR > 1 && $3 == "slow" { fp[$6] += $17 }
           END { printf "slow members, false positive deaths over 8 seeds: " \
                 "with lifeguard %d, without %d\n", fp[1], fp[0] }' "$csv" |
    tee -a "$out/sim.txt"
  # Large groups: the crash scenario only (memory grows as N^2: every member
  # holds every other member's record).
  for n in ${SIM_BIG-10000}; do
    echo "peerlab-sim: $n members, crash" >&2
    "$bin/peerlab-sim" --nodes "$n" --profile "$profile" --scenario crash \
      --duration 60 --join-window "$(window "$n")" --csv "$csv" \
      --progress-every 60 | tee -a "$out/sim.txt"
  done
  column -s, -t < "$csv" > "$out/sim.table" || true
  cat "$out/sim.table" 2>/dev/null || cat "$csv"
fi

if [[ -z "${SKIP_REAL:-}" ]]; then
  if ! command -v serf > /dev/null; then
    echo "membership.sh: serf is not installed (apt-get install -y serf)" >&2
    exit 2
  fi
  real_bin="${REAL_BUILD:-$build}/bin"
  "$real_bin/membership_compare" --nodes "${REAL_SIZES:-10,30}" \
    --profile "$profile" --json "$out/real.json" | tee "$out/real.txt"
fi
