#!/usr/bin/env bash
# The whole test suite: unit, integration and API tests, on the real Postgres and Redis.
# Usage: npm test            (all)
#        npm test -- FILE... (some)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
exec node --import tsx --test --test-concurrency=1 "${files[@]}"
