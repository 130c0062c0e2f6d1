# syntax=docker/dockerfile:1
# The whatsapp-grpc container image: built in a Rust image, run as a non-root user on a distroless
# base (glibc, libgcc and CA certificates only: no shell, no package manager).
#
#   docker build -t whatsapp-grpc:0.1.0 .
#   docker run --rm -p 50051:50051 -p 9090:9090 whatsapp-grpc:0.1.0 serve --sandbox
#
# Both bases are Debian 12 (bookworm), so the binary runs against the glibc it was linked with.
# Pin them by digest (`image:tag@sha256:…`) where builds must be reproducible.
ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# Only what the build reads (.dockerignore keeps everything else out of the context).
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto ./proto
COPY benches ./benches
COPY src ./src
# The registry and target caches survive between builds (BuildKit and Buildah); the binary is
# copied out in the same step because the cache mount is gone afterwards.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin whatsapp-grpc \
    && install -D -m 0755 target/release/whatsapp-grpc /out/whatsapp-grpc

# The runtime stage. CI builds this stage as it is, on a base made from Debian's packages.
FROM ${RUNTIME_IMAGE} AS runtime
COPY --from=build /out/whatsapp-grpc /usr/local/bin/whatsapp-grpc
# distroless's "nonroot" user, by number so Kubernetes' runAsNonRoot can check it.
USER 65532:65532
# JSON log lines for log collectors; metrics on their own port (the Helm chart sets both too).
ENV WHATSAPP_GRPC_LOG_FORMAT=json \
    WHATSAPP_GRPC_METRICS_LISTEN=0.0.0.0:9090
# 50051: gRPC (MessagingService, grpc.health.v1, reflection). 9090: Prometheus GET /metrics.
EXPOSE 50051 9090
# No HEALTHCHECK: Kubernetes probes grpc.health.v1 natively (service "" = this process).
ENTRYPOINT ["/usr/local/bin/whatsapp-grpc"]
CMD ["serve"]
