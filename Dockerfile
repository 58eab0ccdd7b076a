# promsd image: the `promsd` command (serve | demo | check) with its Rust addon.
#
#   docker build -t promsd .
#   docker run --rm -p 9464:9464 promsd            # the demo on the embedded backend
#   docker run --rm promsd check                   # resolved configuration + connectivity
#
# Works with BuildKit and with the legacy builder (docker-compose 1.29), so no RUN --mount.

ARG NODE_VERSION=20

# ---------------------------------------------------------------------------------------------
# Build: Rust toolchain + dev dependencies → native/promsd.<platform>.node and dist/.
# ---------------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm AS build

# napi-rs v3 and its dependencies need a recent rustc (Debian bookworm's cargo is 1.63, too
# old), so rustup's minimal profile: rustc, cargo and rust-std only. The full node image already
# has gcc, make, pkg-config and libssl-dev.
ARG RUST_TOOLCHAIN=stable
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:$PATH \
    CARGO_TERM_COLOR=never
RUN curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
      | sh -s -- -y --no-modify-path --profile minimal --default-toolchain "${RUST_TOOLCHAIN}" \
 && rustc --version && cargo --version

WORKDIR /src

# 1. npm dependencies, cached until the manifests change. --ignore-scripts: the package's own
#    `prepare` script is the full build, which needs the sources (step 3).
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

# 2. Rust crates, cached until Cargo.toml/Cargo.lock change (a stub lib.rs lets cargo read the
#    manifest before the sources are copied). One COPY per workspace member.
COPY Cargo.toml Cargo.lock ./
COPY native/Cargo.toml native/Cargo.toml
RUN mkdir -p native/src && touch native/src/lib.rs && cargo fetch --locked && rm -rf native/src

# 3. The build itself: `npm run build` = napi release build of the addon + tsdown (CJS + ESM).
COPY . .
RUN npm run build \
 && ls -l native/*.node \
 && { test -f dist/cli/main.js || { echo 'dist/cli/main.js missing: is cli/main.ts an entry in tsdown.config.mts?' >&2; exit 1; }; }

# 4. Production dependencies only (no scripts: the addon is already built).
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# ---------------------------------------------------------------------------------------------
# Runtime: slim Node, the package as npm would publish it (package.json "files"), non-root.
# ---------------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime

# CA roots for rediss:// and https Consul agents reached from the Rust core.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# Inside a container loopback is unreachable from Prometheus: listen on all interfaces.
# (Service discovery advertises the container's own address, never the wildcard.)
ENV NODE_ENV=production \
    PROMSD_ADDR=0.0.0.0 \
    PROMSD_PORT=9464

WORKDIR /app
# Owned by root and read-only to the runtime user.
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The addon as a clone builds it (the loader's first place, metrics/native.ts), not a platform package.
COPY --from=build /src/native/*.node ./native/

# Fail the image build, not the first container, if the addon cannot load here (missing
# shared library, wrong libc). `promsd demo` writes FileSD targets to ./.promsd by default.
RUN node -e "require('./dist/metrics/native.js')" \
 && mkdir .promsd && chown node:node .promsd

# The `node` user (uid 1000) ships with the official image.
USER node
EXPOSE 9464
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["demo"]
