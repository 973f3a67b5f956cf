#!/usr/bin/env bash
# `coopledger import` of a 100,000-row spreadsheet against a local release
# server on a fresh data folder (BENCHMARKS.md, "Bringing history in").
# Usage: bash benches/import_100k.sh [ROWS]   (builds --release first)
set -euo pipefail
rows=${1:-100000}
cargo build --release --bin coopledger >/dev/null
bin=$PWD/target/release/coopledger
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
export COOPLEDGER_HOME=$work/home COOPLEDGER_SERVER=http://127.0.0.1:17171
"$bin" serve --data "$work/data" --listen 127.0.0.1:17171 >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 50); do "$bin" keygen ana >/dev/null 2>&1 && break; sleep 0.2; done
for _ in $(seq 50); do "$bin" --as ana init --name Bench --currency EUR >/dev/null 2>&1 && break; sleep 0.2; done
members=50
for i in $(seq 1 $members); do
  key=$("$bin" --json keygen "m$i" | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')
  "$bin" --as ana member admit "m$i" "$key" >/dev/null
done
python3 - "$work/history.csv" "$rows" "$members" <<'PY'
import sys
path, rows, members = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    f.write("member,kind,quantity,date,note,evidence,tags\n")
    for i in range(rows):
        m = f"m{1 + i % members}"
        day = 1 + i % 28
        month = 1 + (i // 28) % 12
        if i % 5 == 4:
            f.write(f"{m},expense,{10 + i % 90}.{i % 100:02d},2024-{month:02d}-{day:02d},receipt {i},https://example.org/r/{i},\n")
        else:
            f.write(f"{m},work,{1 + i % 8}h{(i * 7) % 60}m,2024-{month:02d}-{day:02d},row {i} of the old sheet,,design\n")
PY
echo "rows: $rows ($(wc -c <"$work/history.csv") bytes)"
start=$(date +%s.%N)
"$bin" --as ana --json import "$work/history.csv" --yes
end=$(date +%s.%N)
echo "import: $(python3 -c "print(f'{$end - $start:.1f}')") s"
start=$(date +%s.%N)
"$bin" --as ana --json import "$work/history.csv" --yes
end=$(date +%s.%N)
echo "rerun (nothing to import): $(python3 -c "print(f'{$end - $start:.1f}')") s"
"$bin" --as ana --json info | python3 -c 'import json,sys; print("log size:", json.load(sys.stdin)["log_size"])'
