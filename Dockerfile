# syntax=docker/dockerfile:1.7
# One Dockerfile, two images, both running the compiled JavaScript of `npm run build` (dist/) with
# production dependencies only (no tsx, TypeScript, Prisma CLI or other dev dependencies):
#   docker build --target api    -t retain-api .      API and webhook worker; migrations, API keys
#   docker build --target worker -t retain-worker .   training worker: CUDA 11.2 + cuDNN 8, as
#                                                     @tensorflow/tfjs-node-gpu 4.22 needs
# Not built on our development machines (no Docker engine there): `npm run lint` lints this file,
# and test/integration/production-build.test.ts runs each image's CMD against a build it makes
# the same way (see DEVELOPERS.md, "Production build").

ARG NODE_VERSION=20.20.2

# ---- build: every dependency (dev included), the Prisma client, tsc into dist/ ----
# --ignore-scripts: nothing here needs an install script, and the native TensorFlow packages'
# scripts would download libtensorflow for nothing (optional packages stay: tsx needs esbuild's
# platform binary). npm ci can reject our lockfile when the registry used to write it lacked other
# platforms' optional packages; npm install then installs the same locked versions.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund || npm install --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
COPY src ./src
COPY workers ./workers
# The dashboard's committed build, copied into dist/ui/dist and served at /ui.
COPY ui/dist ./ui/dist
RUN npm run build

# ---- production dependencies of the API image: no native TensorFlow ----
FROM node:${NODE_VERSION}-bookworm-slim AS api-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/install-production-deps.sh /tmp/
RUN bash /tmp/install-production-deps.sh

# ---- API (and the webhook worker, the migration runner, the API-key script): no GPU ----
FROM node:${NODE_VERSION}-bookworm-slim AS api
ENV NODE_ENV=production PORT=3000
WORKDIR /app
COPY package.json ./
COPY --from=api-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Migrations run once per deploy: docker compose run --rm api node dist/scripts/migrate.js
CMD ["node", "--enable-source-maps", "dist/src/http/server.js"]

# ---- CUDA 11.2 + cuDNN 8 runtime with Node.js: the base of the worker's stages ----
FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04 AS cuda-node
ARG NODE_VERSION
ENV DEBIAN_FRONTEND=noninteractive
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl xz-utils \
 && curl -fsSL "https://nodejs.org/dist/v${NODE_VERSION}/node-v${NODE_VERSION}-linux-x64.tar.xz" \
    | tar -xJ -C /usr/local --strip-components=1 \
 && apt-get purge -y curl xz-utils \
 && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/*

# ---- production dependencies of the worker image, with @tensorflow/tfjs-node-gpu ----
# Its install downloads libtensorflow (GPU); the compilers are there in case its native addon must
# be built from source, and stay in this stage.
FROM cuda-node AS worker-deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/install-production-deps.sh /tmp/
RUN bash /tmp/install-production-deps.sh --gpu

# ---- training worker ----
FROM cuda-node AS worker
ENV NODE_ENV=production RETAIN_BACKEND=tensorflow-gpu RETAIN_DATA_DIR=/data
WORKDIR /app
COPY package.json ./
COPY --from=worker-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN useradd --create-home retain
USER retain
# Data sets: mount IDX files at /data/<name>/ (fashion-mnist: the four *-ubyte.gz files).
CMD ["node", "--enable-source-maps", "dist/workers/training.worker.js"]
