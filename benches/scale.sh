#!/usr/bin/env bash
# The live-scale table of BENCHMARKS.md (#13 part 5): on the logs that
# `benches/verify.rs` builds (10k, 100k, 1M entries: 1,000 members, ten
# monthly periods, each with its recorded distribution), times with the
# release binary: start-up (first open replays; a restart after a clean
# stop reads the state snapshot), a month's preview (`shares`), one
# member's `explain`, and `export --scenario` of a month, each as the
# CLI's whole run against a local server. `verify` is in the verify
# bench's own table.
#
#   COOPLEDGER_VERIFY_DIR=/work/verify-logs cargo bench --bench verify -- 10k   # (and 100k, 1M): builds the logs
#   bash benches/scale.sh /work/verify-logs [10k 100k 1M]
set -euo pipefail
logs=${1:?usage: scale.sh LOGS_DIR [SIZES...]}
shift
sizes=("$@")
[ $# -gt 0 ] || sizes=(10k 100k 1M)
bin=${COOPLEDGER_BIN:-target/release/coopledger}
home=$(mktemp -d)
export COOPLEDGER_HOME=$home
trap 'rm -rf "$home"' EXIT
mkdir -p "$home/keys"
# The bench's admin key: seed = 1 (little-endian u64), byte 8 = 0x5e.
printf '0100000000000000%s\n' "5e$(printf '0%.0s' {1..46})" > "$home/keys/admin.key"
chmod 600 "$home/keys/admin.key"
now() { date +%s.%N; }
secs() { awk "BEGIN { printf \"%.2f\", $2 - $1 }"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # start DIR: sets server, addr and took (seconds until the port answers)
  local dir=$1 p t0
  p=$(port); t0=$(now)
  "$bin" serve --data "$dir" --listen "127.0.0.1:$p" --no-web >/dev/null 2>&1 &
  server=$!
  until (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do sleep 0.01; done
  addr=127.0.0.1:$p
  took=$(secs "$t0" "$(now)")
}
stop() { kill -TERM "$server"; wait "$server" || true; }
timed() { local t0; t0=$(now); "$bin" --server "$addr" --as admin "$@" >/dev/null || { echo "failed: $*" >&2; kill "$server"; exit 1; }; secs "$t0" "$(now)"; }
echo "| entries | data folder | start-up: replay / snapshot | preview of a month | explain | export --scenario (size) |"
echo "|---|---|---|---|---|---|"
for size in "${sizes[@]}"; do
  dir=$logs/$size
  [ -d "$dir" ] || { echo "no log at $dir: build it with the verify bench" >&2; exit 1; }
  rm -f "$dir/state.snapshot"
  start "$dir"; replay=$took; stop
  start "$dir"; snap=$took
  timed info >/dev/null
  p1=$(timed shares --period 2026-10)
  p2=$(timed shares --period 2026-10)
  e1=$(timed explain m0007 --period 2026-10)
  out=$home/october-$size.json
  x1=$(timed export --scenario "$out" --period 2026-10)
  stop
  printf '| %s | %s | %s s / %s s | %s s, %s s | %s s | %s s (%s) |\n' "$size" "$(du -sh "$dir" | cut -f1)" \
    "$replay" "$snap" "$p1" "$p2" "$e1" "$x1" "$(du -h "$out" | cut -f1)"
done
