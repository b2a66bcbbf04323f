# syntax=docker/dockerfile:1
#
# ghosting: a ghost server for SourceAutoRecord. See README.md, "Deploy".
#
#   docker build -t ghosting .
#   docker compose up -d          # with docker-compose.yml and deploy/config.toml
#
# Node 24: the newest LTS line that CI tests (the suite runs on 20, 22 and 24), supported until
# April 2028, where 22 ends in April 2027 and 20 ended in April 2026. better-sqlite3 12.x
# supports Node 20 to 26. Another line: --build-arg NODE_VERSION=22.
ARG NODE_VERSION=24

# ---- toolchain: Node plus what node-gyp needs to compile better-sqlite3 ---------------------
FROM node:${NODE_VERSION}-bookworm-slim AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Compile better-sqlite3 against this image's Node and glibc instead of downloading a prebuilt
# binary, with the headers the node image ships in /usr/local/include/node (so neither GitHub
# nor nodejs.org is contacted; only the npm registry). npm 11 warns "Unknown env config
# build-from-source": harmless, better-sqlite3's install script reads the variable itself.
ENV npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local

# ---- build: every dependency (TypeScript included), then compile src/ to dist/ --------------
FROM toolchain AS build
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && rm -f dist/.tsbuildinfo \
 && find dist -name '*.map' -delete

# ---- deps: production dependencies only, native module compiled here ------------------------
FROM toolchain AS deps
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund

# ---- runtime: no compiler, no dev dependencies, not root -------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# package.json: --version reads it, and it makes `import 'ghosting'` resolve for plugins.
# drizzle/: the SQL migrations applied at start-up. examples/: ready-made plugins.
COPY package.json LICENSE ./
COPY drizzle ./drizzle
COPY examples ./examples

# /data holds the SQLite database, /logs the log file; the config is mounted at /config.toml.
# The built-in "node" user (uid 1000) runs the server: bind-mounted ./data and ./logs must be
# writable by uid 1000 (`chown 1000:1000 data logs`).
RUN mkdir -p /data /logs && chown node:node /data /logs
VOLUME ["/data", "/logs"]
USER node

# Ghost protocol: one port for TCP (connections, chat, commands) and UDP (positions, voice).
EXPOSE 53000/tcp 53000/udp
# HTTP: /healthz, /metrics, the management API and the public pages ([http] in the config).
EXPOSE 8080/tcp

# Needs [http] enabled on port 8080 (as in deploy/config.docker.toml). Slim images have no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# Exec form: node is PID 1 and gets SIGTERM itself (`docker stop`); it closes every connection
# and the database and exits 0 within [timing] shutdown_timeout_ms. Extra arguments to
# `docker run` are appended (e.g. --port 53001, --version).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/index.js", "--no-cli", "--config", "/config.toml"]
