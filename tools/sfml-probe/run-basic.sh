#!/bin/bash
# Starts `node dist/index.js` on a free loopback port and runs four probes against it.
# Output: one log per process in $OUT (default /tmp/sfml-probe-basic).
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
MAIN="$(cd "$HERE/../.." && pwd)"
OUT="${OUT:-/tmp/sfml-probe-basic}"
rm -rf "$OUT"; mkdir -p "$OUT"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
echo "port $PORT, logs in $OUT"
timeout 60 node "$MAIN/dist/index.js" -c "$HERE/loopback.toml" --port "$PORT" >"$OUT/server.log" 2>&1 &
SERVER=$!
sleep 1
P="$HERE/probe --host 127.0.0.1 --port $PORT"
timeout 40 $P --name Alice --x 100 --say "hello from Alice" --say-at 3 --change-map sp_a2_laser_intro --change-at 4 --seconds 22 --hex >"$OUT/A.log" 2>&1 & PA=$!
sleep 0.5
timeout 40 $P --name Bob --x 500 --color 10,20,30 --say "hi from Bob" --say-at 3.5 --seconds 22 >"$OUT/B.log" 2>&1 & PB=$!
sleep 0.5
timeout 40 $P --name Watcher --spectator --tcp-only --map "" --say "spectator says hi" --say-at 2 --seconds 12 --hex >"$OUT/C.log" 2>&1 & PC=$!
sleep 0.5
timeout 40 $P --name Dropper --x 900 --seconds 6 --abrupt >"$OUT/D.log" 2>&1 & PD=$!
wait $PA $PB $PC $PD
kill -TERM $SERVER 2>/dev/null; wait $SERVER
echo "server exit $?"
