# syntax=docker/dockerfile:1
# One image for the web and the worker: the command chooses the process.
#   docker build -t bank131-payouts .
#   docker run bank131-payouts                                           # web (the default CMD)
#   docker run bank131-payouts node dist/workers/worker-process.js       # worker
# Each runs as `node` directly (PID 1, no npm or tsx in between), so SIGTERM reaches it and the
# worker drains before it exits. Settings: docs/operations.md "Settings"; the stack: docker-compose.yml.
# The sandbox bank is not in it: it has an image of its own (sandbox/Dockerfile).

# ---- build: every dependency, TypeScript compiled to dist/ (Lua scripts and browser files copied beside it) ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
RUN npm run build

# ---- runtime: production dependencies and dist/ only, as the unprivileged `node` user ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# the operators' CLI (npx bank131-payouts import|status|list), which runs dist/src/cli/main.js
COPY bin ./bin

# The health check for whichever process the container runs (HEALTHCHECK below), chosen by the
# command line of PID 1 unless HEALTHCHECK_URL names the URL: the web's /healthz on PORT, the
# worker's metrics server on METRICS_PORT (any answer means it is up; with METRICS_PORT=0 there is
# nothing to ask, and the check passes while the process lives).
COPY --chmod=0444 <<'EOF' /app/healthcheck.cjs
const { readFileSync } = require('node:fs');
const env = process.env;
const cmdline = process.argv[2] ?? readFileSync('/proc/1/cmdline', 'utf8').replaceAll('\0', ' ');
let url = env.HEALTHCHECK_URL;
let anyAnswer = false;
if (!url && cmdline.includes('workers/worker-process')) {
  if ((env.METRICS_PORT || '9464') === '0') process.exit(0);
  url = `http://127.0.0.1:${env.METRICS_PORT || 9464}/metrics`;
  anyAnswer = true;
} else if (!url) {
  url = `http://127.0.0.1:${env.PORT || 3000}/healthz`;
}
fetch(url, { signal: AbortSignal.timeout(4000) }).then(
  (res) => process.exit(res.ok || anyAnswer ? 0 : 1),
  (err) => {
    console.error(`${url}: ${err.cause?.code ?? err.message}`);
    process.exit(1);
  },
);
EOF

USER node
EXPOSE 3000 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/app/healthcheck.cjs"]
CMD ["node", "dist/src/web-process.js"]
