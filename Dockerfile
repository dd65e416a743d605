# Builds the worker and ships it in a slim image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rust-toolchain.toml build.rs ./
COPY src src
# The manifest names the benchmark target: Cargo refuses a manifest whose
# targets are missing, so the bench source comes along (it is not built).
COPY benches benches
COPY migrations migrations
COPY config config
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/collab-worker /usr/local/bin/collab-worker
COPY config /etc/collab-worker/config
ENV COLLAB_CONFIG_DIR=/etc/collab-worker/config
EXPOSE 9464
ENTRYPOINT ["collab-worker"]
CMD ["run"]
