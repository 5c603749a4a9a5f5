# syntax=docker/dockerfile:1
#
# assay: a static, non-root image of the monitoring daemon.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t assay .
#   docker run --rm -p 9464:9464 \
#     -v "$PWD/checks.d:/etc/assay/checks.d:ro" \
#     -v "$PWD/assay.yaml:/etc/assay/config/assay.yaml:ro" \
#     assay run --checks /etc/assay/checks.d --config /etc/assay/config/assay.yaml --listen 0.0.0.0:9464
#
# e2e/dockerfile_test.go runs the `go build` line below exactly as written
# (same environment, flags and tags) and checks that the binary is static
# and carries its own time zone data; keep that line on one RUN.

# The build runs on the builder's platform and cross-compiles to the
# target's (docker buildx build --platform linux/amd64,linux/arm64).
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# -tags timetzdata embeds the IANA time zone database (about 450 kB) so that
# schedules with CRON_TZ=Area/City work in an image without /usr/share/zoneinfo.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -tags timetzdata -ldflags "-s -w -X main.version=${VERSION}" -o /out/assay ./cmd/assay
# Directories the final image needs, owned by its non-root user (the final
# image has no shell to create them).
RUN mkdir -p /out/etc/assay/checks.d /out/etc/assay/config /out/var/lib/assay

# distroless/static: CA certificates, /etc/passwd with the nonroot user
# (65532), no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="assay" \
      org.opencontainers.image.description="Synthetic HTTP uptime and contract-testing monitor" \
      org.opencontainers.image.source="https://github.com/assay-monitor/assay" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/assay /assay
COPY --from=build --chown=65532:65532 /out/etc/assay /etc/assay
COPY --from=build --chown=65532:65532 /out/var/lib/assay /var/lib/assay
USER 65532:65532
# The working directory is the data volume: the default storage.path
# (assay.db, relative) lands there.
WORKDIR /var/lib/assay

# Check files (*.yaml, *.yml, walked recursively; changes reload by
# themselves), the optional global config (pass --config
# /etc/assay/config/assay.yaml), and state (the SQLite store).
VOLUME ["/etc/assay/checks.d", "/etc/assay/config", "/var/lib/assay"]

# /metrics, /api/v1/checks, POST /-/reload and the probes:
#   GET /healthz  200 while the process serves: use it as the livenessProbe.
#   GET /readyz   200 once the checks are loaded and the scheduler runs,
#                 503 before: use it as the readinessProbe.
# In Kubernetes:
#   livenessProbe:  { httpGet: { path: /healthz, port: 9464 }, periodSeconds: 10 }
#   readinessProbe: { httpGet: { path: /readyz,  port: 9464 }, periodSeconds: 5 }
# SIGTERM stops new runs and the whole shutdown fits in
# server.shutdown_grace (default 30s): keep terminationGracePeriodSeconds
# above it.
# The image listens on 0.0.0.0: protect the port with server.api_token (the
# write endpoints), a web config (--web.config.file: TLS, basic auth) or a
# reverse proxy; see "Securing the endpoints" in the README.
EXPOSE 9464

ENTRYPOINT ["/assay"]
CMD ["run", "--checks", "/etc/assay/checks.d", "--listen", "0.0.0.0:9464"]
