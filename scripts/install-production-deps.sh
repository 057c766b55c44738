#!/usr/bin/env bash
# Installs the production dependencies into ./node_modules of the current directory, which holds a
# copy of package.json and package-lock.json (the images' dependency stages; the production-build
# test). The manifest loses its devDependencies first, so that npm drops the Prisma CLI and
# TypeScript as well: `npm install --omit=dev` alone keeps them, since @prisma/client names both
# as optional peers. The native TensorFlow packages (optionalDependencies) go too, except
# @tensorflow/tfjs-node-gpu with --gpu (the worker image; its install downloads libtensorflow).
# The locked versions are kept: npm install honours package-lock.json for every package left.
# Usage: bash install-production-deps.sh [--gpu] [extra npm install options, e.g. --offline]
set -euo pipefail
gpu=0
if [ "${1:-}" = --gpu ]; then
  gpu=1
  shift
fi
if [ "$gpu" = 1 ]; then
  npm pkg delete devDependencies 'optionalDependencies.@tensorflow/tfjs-node'
else
  npm pkg delete devDependencies optionalDependencies
fi
npm install --omit=dev --no-audit --no-fund --loglevel=error "$@"
if [ "$gpu" = 1 ]; then npm ls @tensorflow/tfjs-node-gpu; fi
