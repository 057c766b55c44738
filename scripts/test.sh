#!/usr/bin/env bash
# The whole test suite: unit, integration and API tests, on the real Postgres and Redis.
# Usage: npm test            (all)
#        npm test -- FILE... (some)
# Each test file creates its own Postgres schema and BullMQ queue and removes them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh >/dev/null
bash scripts/prisma-generate.sh >/dev/null
if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
# Every test has a deadline: a stuck job fails the suite instead of hanging it.
exec node --import tsx --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"
