# syntax=docker/dockerfile:1
# tilewatch image for the compose stack: `tilewatch <command>` against a ClickHouse server.
# Multi-stage: dependencies are installed in a build stage; the runtime stage runs as the non-root
# `node` user with production dependencies only. Node 26 is the Active LTS line (since 2026-10-28,
# supported to 2029-04-30); package.json `engines` still admits Node >= 20, where the tests also run.

FROM node:26-trixie-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only (tsx is one: bin/tilewatch.js registers its loader, the sources are
# TypeScript). The embedded engine's 540 MB libchdb is removed: containers talk to a ClickHouse server.
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/@chdb \
 && npm cache clean --force

FROM node:26-trixie-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY services ./services
COPY schemas ./schemas
# Where `tilewatch simulate` writes the stack's sample log (a named volume takes this ownership).
RUN install -d -o node -g node /var/log/tilewatch-sample
USER node
EXPOSE 8080 9464
ENTRYPOINT ["node", "bin/tilewatch.js"]
CMD ["--help"]
