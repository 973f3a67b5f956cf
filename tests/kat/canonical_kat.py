"""Known answer for the canonical report digest (tests/canonical_kat.rs),
computed without the Rust code.

The scenario is ../shared/conformance/sensorica-remaining.json. Its
distribution is worked out here by hand, in integers, the way SCORING.md
describes it (remaining mode: each bucket takes its percent of what is left):

  income 100000
  1. fixed 5% to sensorica            -> 5000;            left 95000
  2. reimburse 100% (expense, money)  -> owed E3 20000 (alice), E4 10000 (bob)
                                         30000 <= 95000, paid in full; left 65000
  3. shares 100% of work value        -> alice 600 min x 2000/h = 20000
                                         carol 1800 min x 2500/h = 75000
     65000 x 20000 / 95000 = 13684.2..., 65000 x 75000 / 95000 = 51315.7...
     largest remainder gives the last unit to carol: 13684, 51316
  reserve 0

and checked against the file's own `expected` payouts and reserve. The
canonical report is then built as spec/DECISIONS.md says: JSON with sorted
keys, no whitespace, integers only, holding range, income, policy_version,
log_size, payouts, reserve, each bucket's paid, and repayments. Its blake3
is the digest a treasurer signs.

Run: pip install blake3 && python3 tests/kat/canonical_kat.py
"""
import json
import pathlib
from datetime import datetime, timezone

import blake3

HERE = pathlib.Path(__file__).resolve()
SCENARIO = HERE.parents[2] / ".." / "shared" / "conformance" / "sensorica-remaining.json"

# Not part of the scenario: fixed values the Rust test passes too.
POLICY_VERSION = 3
LOG_SIZE = 42


def unix(text):
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())


def hamilton(amount, weights):
    """Largest-remainder split of `amount` by integer `weights` (ties by name)."""
    total = sum(weights.values())
    floors = {m: amount * w // total for m, w in weights.items()}
    left = amount - sum(floors.values())
    order = sorted(weights, key=lambda m: (-(amount * weights[m] % total), m))
    for m in order[:left]:
        floors[m] += 1
    return {m: v for m, v in floors.items() if v > 0}


scenario = json.loads(SCENARIO.read_text())
income = scenario["distribution"]["income"]
period = scenario["distribution"]["period"]

left = income
fixed = {"sensorica": income * 50000 // 1_000_000}
left -= sum(fixed.values())

owed = {"E3": ("alice", 20000), "E4": ("bob", 10000)}
reimbursed = {}
repayments = {}
for cid, (member, amount) in owed.items():
    reimbursed[member] = reimbursed.get(member, 0) + amount
    repayments[cid] = amount
assert sum(repayments.values()) <= left
left -= sum(repayments.values())

value = {"alice": 600 * 2000 // 60, "carol": 1800 * 2500 // 60}
shares = hamilton(left, value)
left -= sum(shares.values())

payouts = {}
for paid in (fixed, reimbursed, shares):
    for m, v in paid.items():
        payouts[m] = payouts.get(m, 0) + v
assert payouts == scenario["expected"]["payouts"], payouts
assert left == scenario["expected"]["reserve"], left

canonical = json.dumps(
    {
        "range": {"start": unix(period["start"]), "end": unix(period["end"])},
        "income": income,
        "policy_version": POLICY_VERSION,
        "log_size": LOG_SIZE,
        "payouts": payouts,
        "reserve": left,
        "buckets": [{"paid": fixed}, {"paid": reimbursed}, {"paid": shares}],
        "repayments": repayments,
    },
    sort_keys=True,
    separators=(",", ":"),
)
print("canonical", canonical)
print("digest   ", blake3.blake3(canonical.encode()).hexdigest())
