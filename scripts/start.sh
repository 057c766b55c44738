#!/usr/bin/env bash
# `npm start`: the API and one worker on this machine, stopped together (Ctrl-C or SIGTERM).
set -euo pipefail
cd "$(dirname "$0")/.."
node --import tsx src/http/server.ts &
api=$!
node --import tsx workers/training.worker.ts &
worker=$!
trap 'kill -TERM $api $worker 2>/dev/null; wait $api $worker' INT TERM
wait -n $api $worker
status=$?
kill -TERM $api $worker 2>/dev/null || true
wait $api $worker 2>/dev/null || true
exit $status
