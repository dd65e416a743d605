# Builds the worker and ships it in a slim image that runs as a non-root user.
FROM rust:1.95-bookworm AS build
WORKDIR /src

# Dependencies first, in a layer of their own: they are built against empty
# targets, so a change under src/ reuses this layer instead of rebuilding
# every crate. The manifest names the benchmark target and a build script:
# Cargo refuses a manifest whose targets are missing.
COPY Cargo.toml Cargo.lock rust-toolchain.toml build.rs ./
RUN mkdir -p src benches migrations \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/throughput.rs \
    && cargo build --release --locked \
    && rm -rf src benches

COPY src src
COPY benches benches
COPY migrations migrations
COPY config config
# COPY keeps the files' times, which may be older than the placeholder
# build: touching the crate roots makes Cargo rebuild the crate itself.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
# ca-certificates: the trust store for amqps:// and sslmode=verify-full;
# curl: the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin collab
COPY --from=build /src/target/release/collab-worker /usr/local/bin/collab-worker
COPY config /etc/collab-worker/config
# Inside a container the health and metrics endpoint must listen on every
# interface, or `docker run -p 9464:9464` cannot reach it.
ENV COLLAB_CONFIG_DIR=/etc/collab-worker/config \
    HTTP_ADDR=0.0.0.0:9464
# A numeric user, so that runAsNonRoot can check it without /etc/passwd.
USER 10001:10001
EXPOSE 9464
# Liveness: the process answers. Readiness (/readyz) turns 503 while the
# worker waits out a broker or database outage, which a restart would not
# cure; docker-compose.yml gates on /readyz for the start-up order.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:9464/healthz"]
ENTRYPOINT ["collab-worker"]
CMD ["run"]
