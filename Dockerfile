# syntax=docker/dockerfile:1
#
# One image with the pushfleet binaries in /usr/local/bin: the five services
# (dispatcher, apns-sender, gcm-sender, mi-sender, feedback-sink), the
# operator CLI `pushctl` and the all-in-one `pushfleet`. The Kubernetes
# Deployments pick theirs with `command` (deploy/k8s). Without a command it
# runs the all-in-one. ./cmd/... holds only those: the benchmark tool is
# tools/pushbench (`go run ./tools/pushbench`) and is not in the image.
#
#   docker build -t pushfleet .
#   docker run --rm pushfleet /usr/local/bin/dispatcher -h

# Build on the build machine's platform and cross-compile for the target's:
# CGO is off, so no target toolchain is needed.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags='-s -w' -o /out/ ./cmd/...

# Static binaries need no libc: distroless/static has CA certificates (for
# APNs, FCM and MiPush over TLS), tzdata and a nonroot user, and no shell.
# Pin it by digest (static:nonroot@sha256:…) for reproducible images.
FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/ /usr/local/bin/
# distroless's "nonroot" user, by number so that the kubelet can verify
# runAsNonRoot.
USER 65532:65532
# The all-in-one keeps its JetStream store in ./data.
WORKDIR /home/nonroot
# /metrics, /healthz and /readyz (--http-addr).
EXPOSE 8080
CMD ["/usr/local/bin/pushfleet"]
