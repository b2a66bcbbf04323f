#!/bin/bash
# Countdown + server message + missed-heartbeat drop + server shutdown, via drive.mjs.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${OUT:-/tmp/sfml-probe-countdown}"
rm -rf "$OUT"; mkdir -p "$OUT"
timeout 40 node "$HERE/drive.mjs" --clients 3 --countdown --duration 3 \
  --pre "sv_cheats 0; echo pre commands that are long enough to need more than sixty-four bytes" \
  --post "say go" --server-message "Race starts now: a server message that is long enough to grow the buffer" \
  --stop-at 24 >"$OUT/server.log" 2>&1 &
SERVER=$!
for i in $(seq 50); do grep -q '^PORT' "$OUT/server.log" && break; sleep 0.1; done
PORT=$(sed -n 's/^PORT //p' "$OUT/server.log")
echo "port $PORT, logs in $OUT"
P="$(dirname "$0")/probe --host 127.0.0.1 --port $PORT"
timeout 40 $P --name Alice --seconds 30 --hex >"$OUT/A.log" 2>&1 & PA=$!
timeout 40 $P --name Bob --tcp-only --seconds 30 >"$OUT/B.log" 2>&1 & PB=$!
timeout 40 $P --name Mute --no-heartbeat --seconds 30 >"$OUT/C.log" 2>&1 & PC=$!
wait $PA $PB $PC
wait $SERVER; echo "server exit $?"
