# vigil container image: a release build on the Rust toolchain image, run as
# an unprivileged user on a slim Debian base.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src ./src
COPY benches ./benches
COPY examples ./examples
COPY schemas ./schemas
COPY rules ./rules
COPY build.rs ./
RUN cargo build --release --locked --bin vigil

FROM debian:bookworm-slim
# librdkafka links OpenSSL for TLS connections to brokers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home-dir /var/lib/vigil --create-home vigil \
    && install -d -o vigil -g vigil /var/lib/vigil/demo-out
COPY --from=build /src/target/release/vigil /usr/local/bin/vigil
USER vigil
WORKDIR /var/lib/vigil
ENTRYPOINT ["vigil"]
CMD ["demo"]
