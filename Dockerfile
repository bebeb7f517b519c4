# vigil container image: a release build on the Rust toolchain image, run as
# an unprivileged user on a slim Debian base, with a health check on the
# HTTP listener.
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
EXPOSE 9898
# Healthy while the HTTP listener answers /healthz. The default command
# serves it; `docker run vigil demo` does not, so that short run reports
# unhealthy until it ends. The check speaks plain HTTP: replace it when
# the listener serves HTTPS (`[http] tls_cert_file`).
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9898 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["vigil"]
# Reads Kafka when VIGIL_KAFKA_BROKERS (or a mounted vigil.toml) names
# brokers; `docker run vigil demo` runs the self-contained demo instead.
CMD ["run", "--listen", "0.0.0.0:9898"]
