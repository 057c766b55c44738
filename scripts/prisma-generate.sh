#!/usr/bin/env bash
# Generates the Prisma client (src/generated/prisma, not committed) when it is missing or older
# than prisma/schema.prisma. `prisma generate` needs no database, but the CLI insists on finding a
# schema-engine binary, which cannot be downloaded here; any existing file satisfies the check.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f src/generated/prisma/client.ts ] && [ src/generated/prisma/client.ts -nt prisma/schema.prisma ] && [ "${FORCE:-}" != 1 ]; then
  exit 0
fi
export PRISMA_SCHEMA_ENGINE_BINARY=${PRISMA_SCHEMA_ENGINE_BINARY:-/bin/true}
export PRISMA_HIDE_UPDATE_MESSAGE=1 CHECKPOINT_DISABLE=1
npx --no-install prisma generate
