# syntax=docker/dockerfile:1.7
# One Dockerfile, two images:
#   docker build --target api    -t retain-api .
#   docker build --target worker -t retain-worker .   (CUDA 11.2 + cuDNN 8, as @tensorflow/tfjs-node-gpu 4.22 needs)
# Not built on our development machines (no Docker engine there); see README.

ARG NODE_VERSION=20.20.2

# ---- dependencies without the native TensorFlow packages (API, and the base of the worker) ----
# (npm ci can reject our lockfile when the registry used to write it lacked other platforms' optional
#  packages; npm install then installs the same locked versions.)
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --no-audit --no-fund || npm install --omit=optional --no-audit --no-fund
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN PRISMA_SCHEMA_ENGINE_BINARY=/bin/true npx prisma generate

# ---- API: no TensorFlow native code, no GPU ----
FROM node:${NODE_VERSION}-bookworm-slim AS api
ENV NODE_ENV=production PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/src/generated ./src/generated
COPY package.json tsconfig.json prisma.config.ts ./
COPY prisma ./prisma
COPY src ./src
COPY scripts ./scripts
# The dashboard's committed build, served at /ui.
COPY ui/dist ./ui/dist
# The webhook worker (workers/webhook.worker.ts) runs on this image too: it needs no TensorFlow.
COPY workers ./workers
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Migrations run once per deploy: docker compose run --rm api npm run db:migrate
CMD ["node", "--import", "tsx", "src/http/server.ts"]

# ---- worker: CUDA 11.2 + cuDNN 8 runtime with Node.js and tfjs-node-gpu ----
FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04 AS worker
ARG NODE_VERSION
ENV DEBIAN_FRONTEND=noninteractive NODE_ENV=production RETAIN_BACKEND=tensorflow-gpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl xz-utils python3 make g++ \
 && curl -fsSL "https://nodejs.org/dist/v${NODE_VERSION}/node-v${NODE_VERSION}-linux-x64.tar.xz" | tar -xJ -C /usr/local --strip-components=1 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# With optional dependencies: @tensorflow/tfjs-node-gpu downloads libtensorflow (GPU) at install.
RUN (npm ci --include=dev --no-audit --no-fund || npm install --include=dev --no-audit --no-fund) && npm ls @tensorflow/tfjs-node-gpu
COPY --from=deps /app/src/generated ./src/generated
COPY tsconfig.json prisma.config.ts ./
COPY prisma ./prisma
COPY src ./src
COPY workers ./workers
COPY scripts ./scripts
RUN useradd --create-home retain
USER retain
# Data sets: mount IDX files at /data/<name>/ (fashion-mnist: the four *-ubyte.gz files).
ENV RETAIN_DATA_DIR=/data
CMD ["node", "--import", "tsx", "workers/training.worker.ts"]
