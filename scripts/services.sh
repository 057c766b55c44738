#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer on their default local ports, starting them when they
# are installed but stopped (machines of this kind run them without systemd). Idempotent.
# Source it or run it: bash scripts/services.sh
set -euo pipefail

PGHOST_CHECK=${PGHOST_CHECK:-127.0.0.1}

pg_up() { pg_isready -q -h "$PGHOST_CHECK" -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  pg_up || { echo "services: PostgreSQL is not reachable on 127.0.0.1:5432 and could not be started (install postgresql, or set DATABASE_URL)" >&2; exit 1; }
fi

if ! redis_up; then
  if command -v redis-server >/dev/null; then
    echo "services: starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 1 30); do redis_up && break; sleep 0.5; done
  fi
  redis_up || { echo "services: Redis is not reachable on 127.0.0.1:6379 and could not be started (install redis-server, or set REDIS_URL)" >&2; exit 1; }
fi
echo "services: PostgreSQL and Redis are up"
