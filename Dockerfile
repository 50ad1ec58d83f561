# syntax=docker/dockerfile:1
#
# One image per binary, each a build target holding that binary only, in
# /usr/local/bin:
#
#   target          binary                        image (deploy/k8s)
#   dispatcher      the dispatcher                pushfleet-dispatcher
#   apns-sender     the APNs sender               pushfleet-apns-sender
#   gcm-sender      the FCM sender                pushfleet-gcm-sender
#   mi-sender       the MiPush sender             pushfleet-mi-sender
#   hms-sender      the Huawei Push Kit sender    pushfleet-hms-sender
#   webpush-sender  the Web Push sender           pushfleet-webpush-sender
#   feedback-sink   the feedback-sink             pushfleet-feedback-sink
#   push-gateway    the HTTP gateway              pushfleet-push-gateway
#   webhook-sender  the webhook channel's sender  pushfleet-webhook-sender
#   confirm-service confirmed delivery            pushfleet-confirm-service
#   pushctl         the operator CLI              pushfleet-pushctl (provisioning Job)
#   pushfleet       the all-in-one (default)      pushfleet
#
# The benchmark tool (tools/pushbench) is in none of them. Build one, stamped
# with its version and source revision (pushfleet_build_info, --version):
#
#   docker build --target dispatcher \
#     --build-arg VERSION=v0.1.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     -t registry.example.com/pushfleet-dispatcher:v0.1.0 .
#   docker run --rm registry.example.com/pushfleet-dispatcher:v0.1.0 --version
#
# The build stage compiles every binary once; each target copies its own, so
# building every target reuses that one layer.
#
# Base images, pinned by digest (the tag says what the image is, the digest
# which one): a build pulls exactly these, whatever the tags point at now.
# Before a release, move them to the tags' current digests (the bases'
# security fixes) and review the diff:
#
#   tools/pin-images.sh -w    (crane digest, or docker buildx imagetools)
#
# The digests below were established offline, without a registry: each is
# the one that many independent public Dockerfiles agree on for that tag
# (multi-platform builds among them), so it names a real image index; how
# old it is could not be checked, hence the refresh above. To build on
# other bases, pass --build-arg GO_IMAGE=… / RUNTIME_IMAGE=….
ARG GO_IMAGE=golang:1.26@sha256:3aff6657219a4d9c14e27fb1d8976c49c29fddb70ba835014f477e1c70636647
ARG RUNTIME_IMAGE=gcr.io/distroless/static:nonroot@sha256:f7f8f729987ad0fdf6b05eeeae94b26e6a0f613bdf46feea7fc40f7bd72953e6

# Build on the build machine's platform and cross-compile for the target's:
# CGO is off, so no target toolchain is needed.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
# Stamped into internal/version (the .git directory is not in the build
# context, so Go cannot record the revision by itself).
ARG VERSION=devel
ARG REVISION=unknown
# Build tags: pushfleet_nootlp leaves the OTLP exporter out: 5-6 MB less
# for the dispatcher, feedback-sink, gateway and pushctl, under 1 MB for
# the senders, which link gRPC anyway through FCM's Google client
# (deploy/k8s/README.md, Images). Trace context is still carried, but no
# span can be exported.
ARG GO_TAGS=
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -tags "${GO_TAGS}" \
      -ldflags="-s -w -X github.com/pushfleet/pushfleet/internal/version.version=${VERSION} -X github.com/pushfleet/pushfleet/internal/version.revision=${REVISION}" \
      -o /out/ ./cmd/...

# Static binaries need no libc: distroless/static has CA certificates (for
# APNs, FCM and MiPush over TLS), tzdata and a nonroot user, and no shell.
FROM ${RUNTIME_IMAGE} AS runtime
ARG VERSION=devel
ARG REVISION=unknown
ARG SOURCE=https://github.com/pushfleet/pushfleet
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.vendor="pushfleet"
# distroless's "nonroot" user, by number so that the kubelet can verify
# runAsNonRoot.
USER 65532:65532
WORKDIR /home/nonroot
# /metrics, /healthz and /readyz (--http-addr).
EXPOSE 8080

FROM runtime AS dispatcher
LABEL org.opencontainers.image.title="pushfleet-dispatcher" \
      org.opencontainers.image.description="pushfleet dispatcher: push intents to per-platform delivery jobs"
COPY --from=build /out/dispatcher /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/dispatcher"]

FROM runtime AS apns-sender
LABEL org.opencontainers.image.title="pushfleet-apns-sender" \
      org.opencontainers.image.description="pushfleet APNs sender"
COPY --from=build /out/apns-sender /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/apns-sender"]

FROM runtime AS gcm-sender
LABEL org.opencontainers.image.title="pushfleet-gcm-sender" \
      org.opencontainers.image.description="pushfleet FCM HTTP v1 sender"
COPY --from=build /out/gcm-sender /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/gcm-sender"]

FROM runtime AS mi-sender
LABEL org.opencontainers.image.title="pushfleet-mi-sender" \
      org.opencontainers.image.description="pushfleet Xiaomi MiPush sender"
COPY --from=build /out/mi-sender /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/mi-sender"]

FROM runtime AS hms-sender
LABEL org.opencontainers.image.title="pushfleet-hms-sender" \
      org.opencontainers.image.description="pushfleet Huawei Push Kit sender"
COPY --from=build /out/hms-sender /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/hms-sender"]

FROM runtime AS webpush-sender
LABEL org.opencontainers.image.title="pushfleet-webpush-sender" \
      org.opencontainers.image.description="pushfleet Web Push sender"
COPY --from=build /out/webpush-sender /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/webpush-sender"]

FROM runtime AS feedback-sink
LABEL org.opencontainers.image.title="pushfleet-feedback-sink" \
      org.opencontainers.image.description="pushfleet feedback-sink and token registry"
COPY --from=build /out/feedback-sink /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/feedback-sink"]

FROM runtime AS push-gateway
LABEL org.opencontainers.image.title="pushfleet-push-gateway" \
      org.opencontainers.image.description="pushfleet HTTP push gateway"
COPY --from=build /out/push-gateway /usr/local/bin/
# The API (--gateway-addr).
EXPOSE 8088
ENTRYPOINT ["/usr/local/bin/push-gateway"]

FROM runtime AS webhook-sender
LABEL org.opencontainers.image.title="pushfleet-webhook-sender" \
      org.opencontainers.image.description="pushfleet webhook channel sender (signed HTTPS POSTs)"
COPY --from=build /out/webhook-sender /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/webhook-sender"]

FROM runtime AS confirm-service
LABEL org.opencontainers.image.title="pushfleet-confirm-service" \
      org.opencontainers.image.description="pushfleet confirmed delivery: re-sends to devices that have not confirmed, reports confirmed and unconfirmed"
COPY --from=build /out/confirm-service /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/confirm-service"]

FROM runtime AS pushctl
LABEL org.opencontainers.image.title="pushfleet-pushctl" \
      org.opencontainers.image.description="pushfleet operator CLI (pushctl provision, tail, dead, device)"
COPY --from=build /out/pushctl /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/pushctl"]

# The default target (`docker build .`): the all-in-one, embedded JetStream
# and every service in one process; it keeps its store in ./data.
FROM runtime AS pushfleet
LABEL org.opencontainers.image.title="pushfleet" \
      org.opencontainers.image.description="pushfleet all-in-one: embedded JetStream and every service in one process"
COPY --from=build /out/pushfleet /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/pushfleet"]
