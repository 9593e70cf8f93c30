# syntax=docker/dockerfile:1
# Build: docker build --build-arg VERSION=$(git describe --tags --always) --build-arg REVISION=$(git rev-parse HEAD) -t vonage_audit_exporter .
#        docker buildx build --platform linux/amd64,linux/arm64 ... for both architectures
# Run:   docker run -p 9887:9887 -e VONAGE_API_KEY=abcd1234 -e VONAGE_API_SECRET=... vonage_audit_exporter
#        docker run -p 9887:9887 -v $PWD/config.yml:/etc/vonage_audit_exporter/config.yml:ro vonage_audit_exporter --config.file=/etc/vonage_audit_exporter/config.yml
# Demo:  docker run -p 9887:9887 vonage_audit_exporter --demo
#
# The build stage runs on the builder's own platform and cross-compiles for
# the target's: no emulation, and Go needs none.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS TARGETARCH
ARG VERSION=dev
ARG REVISION=unknown
ARG BRANCH=unknown
# Static (no C library in the final image); the version comes from the build
# arguments, not from VCS stamping, so a build context without .git works.
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -buildvcs=false \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=${BRANCH} \
        -X github.com/prometheus/common/version.BuildUser=docker" \
      -o /out/vonage_audit_exporter . \
 && install -d -m 0755 /out/var/lib/vonage_audit_exporter

# distroless static: CA certificates and tzdata, no shell, user nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="vonage_audit_exporter" \
      org.opencontainers.image.description="Prometheus exporter for the Vonage Audit API" \
      org.opencontainers.image.source="https://github.com/vonage-audit-exporter/vonage_audit_exporter" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/vonage_audit_exporter /bin/vonage_audit_exporter
# A writable folder for state_file (e.g. /var/lib/vonage_audit_exporter/state.json);
# mount a volume there to keep counters and cursors across containers.
COPY --from=build --chown=65532:65532 /out/var/lib/vonage_audit_exporter /var/lib/vonage_audit_exporter
USER 65532:65532
EXPOSE 9887
# No config file by default: one account from VONAGE_API_KEY and
# VONAGE_API_SECRET. For several accounts or the state file, mount a config
# and pass --config.file.
ENTRYPOINT ["/bin/vonage_audit_exporter"]
