# syntax=docker/dockerfile:1
# One image for every function: FUNCTION=splitter|inference|merger|feedback picks the entry
# (inference also needs AIPROC_MODEL_SLUG). Node 24 runs the TypeScript directly (type
# stripping), so there is no build step: the build stage only installs production packages.
# Build from the project root: docker build -f images/functions.Dockerfile -t dev.local/aiproc-functions:dev .
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Optional packages are the embedded engine's prebuilt llama.cpp binaries (CUDA builds alone are
# >500 MB); in a container the functions use Ollama, so they are left out, and no install script
# needs to run.
# `npm install --no-save` only if `npm ci` refuses the lock file (it does while the lock lacks
# node-llama-cpp's optional per-platform packages); it still takes the versions from the lock.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
    || npm install --no-save --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    AIPROC_DATA_DIR=/tmp/aiproc \
    AIPROC_MODELS_FILE=/app/models.json
WORKDIR /app
# Dependencies first: they change less often than the code, so this layer stays cached.
COPY --from=deps --chown=1000:1000 /app/node_modules ./node_modules
COPY --chown=1000:1000 package.json models.json ./
COPY --chown=1000:1000 supabase ./supabase
COPY --chown=1000:1000 functions ./functions
# Numeric, so Kubernetes can check runAsNonRoot (the `node` user of the base image is 1000).
USER 1000:1000
EXPOSE 8080
CMD ["node", "functions/serve.ts"]
