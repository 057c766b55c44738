#!/usr/bin/env bash
# Sets up everything on a fresh machine of this kind, then runs the demo job:
#   dependencies (npm ci), PostgreSQL and Redis (checked, started if stopped), the Prisma client,
#   the database migrations, the Fashion-MNIST data set (Debian package), and finally
#   scripts/demo.ts: API + worker, an API key, a Split Fashion-MNIST job followed to the end.
# Usage: bash scripts/setup.sh [--no-demo]
# Demo settings (environment): DEMO_ITERATIONS (default 500 per task), DEMO_SPEC (a JSON spec
# file instead of the split-mnist preset), PORT (default 3000).
set -euo pipefail
cd "$(dirname "$0")/.."
demo=1
for arg in "$@"; do
  case "$arg" in
    --no-demo) demo=0 ;;
    *) echo "usage: bash scripts/setup.sh [--no-demo]" >&2; exit 2 ;;
  esac
done
export NPM_CONFIG_UPDATE_NOTIFIER=false

step() { printf '\n== %s\n' "$*"; }

step "npm dependencies"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm ci refuses a lockfile without entries for other platforms' optional packages, which our
  # registry mirror lacks (bullmq -> msgpackr -> msgpackr-extract-darwin-*, ...). npm install
  # honours the same lockfile, tolerates those, and leaves package-lock.json unchanged.
  ci_log=$(mktemp)
  npm ci --no-audit --no-fund 2>"$ci_log" || {
    echo "npm ci refused the lockfile ($(grep -m1 -o 'Missing: [^ ]*' "$ci_log" || echo "see $ci_log")...); installing the same versions with npm install"
    npm install --no-audit --no-fund
  }
else
  echo "node_modules is up to date"
fi

step "PostgreSQL and Redis"
bash scripts/services.sh

step "Prisma client"
FORCE=1 bash scripts/prisma-generate.sh

step "database migrations"
npm run --silent db:migrate

# Debian packages: the Fashion-MNIST files, and chromium for the browser tests.
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
packages=()
step "Fashion-MNIST"
if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte ]; then
  echo "found in /usr/share/datasets/fashion-mnist"
else
  packages+=(dataset-fashion-mnist)
fi
step "chromium (browser tests)"
if [ -x /usr/bin/chromium ]; then echo "found /usr/bin/chromium"; else packages+=(chromium); fi
if [ "${#packages[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${packages[@]}"
fi

if [ "$demo" = 1 ]; then
  step "demo: a Split Fashion-MNIST job through the API"
  exec node --import tsx scripts/demo.ts
fi
echo "setup done"
