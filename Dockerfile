# Rapport: multi-stage build; the runtime image holds one static-ish binary and runs
# as an unprivileged user.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock clippy.toml ./
COPY crates crates
COPY tests tests
RUN cargo build --release --locked -p rapport-api --bin rapport

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home rapport
COPY --from=build /src/target/release/rapport /usr/local/bin/rapport
USER rapport
WORKDIR /data
ENV RAPPORT_LISTEN=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///data/rapport.db?mode=rwc \
    RAPPORT_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=5s --retries=3 CMD ["rapport", "healthcheck"]
ENTRYPOINT ["rapport"]
CMD ["serve"]
