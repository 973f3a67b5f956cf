#!/usr/bin/env bash
# `coopledger score --scenario FILE --json` against the numpy/scipy peer of
# shared/perf (issue #13 part 1), side by side on one machine, alternated.
#
#   bash benches/vs_numpy.sh SCENARIO.json [ROUNDS]
#
# Environment (all optional):
#   COOPLEDGER  the binary measured        (default target/release/coopledger)
#   BEFORE      an older binary measured in the same rounds, for a before/after
#   PYTHON      a python with numpy+scipy  (default /work/perf-venv/bin/python)
#   PEER        the peer script            (default /work/shared/perf/numpy_peer.py)
#
# Each round runs every program once, in turn, under /usr/bin/time (wall
# time, max RSS). The table gives the median of the rounds and the ratio to
# the peer; then the check that the payouts, the reserve and each bucket's
# type, amount and payments are identical in both reports (exit 1 if not).
# The machine may be shared: report the ratios, and the load (`uptime`).
set -euo pipefail

scenario=${1:?usage: vs_numpy.sh SCENARIO.json [ROUNDS]}
rounds=${2:-3}
ours=${COOPLEDGER:-target/release/coopledger}
before=${BEFORE:-}
python=${PYTHON:-/work/perf-venv/bin/python}
peer=${PEER:-/work/shared/perf/numpy_peer.py}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "scenario: $scenario ($(du -h "$scenario" | cut -f1)), $rounds round(s), $(date -u +%FT%TZ)"
echo "load before: $(uptime)"

# name -> command; output of the last round is kept for the check.
run() {
    local name=$1
    shift
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/$name.json"
    echo "$(cat "$work/time")" >> "$work/$name.times"
}

for round in $(seq 1 "$rounds"); do
    run coopledger "$ours" score --scenario "$scenario" --json
    run numpy "$python" "$peer" "$scenario"
    if [[ -n "$before" ]]; then
        run before "$before" score --scenario "$scenario" --json
    fi
    echo "round $round done"
done
echo "load after: $(uptime)"

python3 - "$work" "$before" <<'EOF'
import json, statistics, sys
work, before = sys.argv[1], sys.argv[2]
names = ["coopledger"] + (["before"] if before else []) + ["numpy"]

def times(name):
    rows = [line.split() for line in open(f"{work}/{name}.times")]
    return [float(r[0]) for r in rows], [int(r[1]) for r in rows]

peer_wall, peer_rss = times("numpy")
pw, pr = statistics.median(peer_wall), statistics.median(peer_rss)
print()
print(f"{'program':<12} {'wall s (median)':>16} {'runs':>24} {'max RSS MB':>11} {'wall/peer':>10} {'RSS/peer':>9} {'wall/peer per round':>22}")
for name in names:
    wall, rss = times(name)
    w, r = statistics.median(wall), statistics.median(rss)
    runs = " ".join(f"{x:.2f}" for x in wall)
    # Each round's ratio to the peer's run next to it: steadier than the
    # medians when the machine's load changes between rounds.
    rounds = " ".join(f"{a / b:.3f}" for a, b in zip(wall, peer_wall))
    print(f"{name:<12} {w:>16.2f} {runs:>24} {r/1024:>11.0f} {w/pw:>10.3f} {r/pr:>9.3f} {rounds:>22}")

ours = json.load(open(f"{work}/coopledger.json"))
theirs = json.load(open(f"{work}/numpy.json"))
problems = []
for key in ["payouts", "reserve", "income"]:
    if ours[key] != theirs[key]:
        problems.append(key)
if len(ours["buckets"]) != len(theirs["buckets"]):
    problems.append("number of buckets")
for i, (a, b) in enumerate(zip(ours["buckets"], theirs["buckets"])):
    for key in b:
        if a.get(key) != b[key]:
            problems.append(f"buckets[{i}].{key}")
print()
print(f"recipients paid: {len(ours['payouts'])}, reserve {ours['reserve']}, buckets {len(ours['buckets'])}")
print("payouts identical:", "yes" if not problems else "NO (" + ", ".join(problems) + ")")
sys.exit(1 if problems else 0)
EOF
