# syntax=docker/dockerfile:1
# Build: docker build --build-arg VERSION=$(git describe --tags --always) -t vonage_audit_exporter .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=docker \
        -X github.com/prometheus/common/version.BuildUser=docker" \
      -o /out/vonage_audit_exporter . \
 && install -d -m 0755 /out/etc/vonage_audit_exporter \
 && install -m 0644 config.example.yml /out/etc/vonage_audit_exporter/config.yml

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/vonage_audit_exporter /bin/vonage_audit_exporter
COPY --from=build /out/etc/vonage_audit_exporter /etc/vonage_audit_exporter
USER 65532:65532
EXPOSE 9887
ENTRYPOINT ["/bin/vonage_audit_exporter"]
CMD ["--config.file=/etc/vonage_audit_exporter/config.yml"]
