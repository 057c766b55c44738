#!/usr/bin/env bash
# `npm start`: the API, one training worker and the webhook worker on this machine, stopped
# together (Ctrl-C or SIGTERM).
set -euo pipefail
cd "$(dirname "$0")/.."
node --import tsx src/http/server.ts &
api=$!
node --import tsx workers/training.worker.ts &
worker=$!
node --import tsx workers/webhook.worker.ts &
webhooks=$!
trap 'kill -TERM $api $worker $webhooks 2>/dev/null; wait $api $worker $webhooks' INT TERM
wait -n $api $worker $webhooks
status=$?
kill -TERM $api $worker $webhooks 2>/dev/null || true
wait $api $worker $webhooks 2>/dev/null || true
exit $status
