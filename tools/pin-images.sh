#!/bin/sh
# pin-images.sh: resolve the Dockerfile's base images (ARG GO_IMAGE,
# ARG RUNTIME_IMAGE) to the digests their tags name in the registry now.
#
#   tools/pin-images.sh        print each base: tag, pinned digest, current digest
#   tools/pin-images.sh -w     rewrite the ARG lines as <tag>@sha256:<current>
#   tools/pin-images.sh -c     exit 1 if a pinned digest is not the tag's current one
#
# Run it before a release (and review the diff): a pin keeps builds
# reproducible, refreshing it picks up the bases' security fixes. It needs
# network access to the registries and one of crane
# (github.com/google/go-containerregistry) or docker buildx; the digest is
# the image index's (every platform), as `docker build --platform` needs.
set -eu

dockerfile=${DOCKERFILE:-$(dirname "$0")/../Dockerfile}
mode=print
case "${1:-}" in
-w) mode=write ;;
-c) mode=check ;;
"") ;;
*)
	echo "usage: $0 [-w | -c]" >&2
	exit 2
	;;
esac

digest() {
	if command -v crane >/dev/null 2>&1; then
		crane digest "$1"
	elif docker buildx version >/dev/null 2>&1; then
		docker buildx imagetools inspect "$1" --format '{{.Manifest.Digest}}'
	else
		echo "pin-images: needs crane or docker buildx" >&2
		return 1
	fi
}

stale=0
for arg in GO_IMAGE RUNTIME_IMAGE; do
	ref=$(sed -n "s/^ARG $arg=//p" "$dockerfile")
	if [ -z "$ref" ]; then
		echo "pin-images: no 'ARG $arg=' line in $dockerfile" >&2
		exit 1
	fi
	tag=${ref%@*}
	pinned=
	[ "$tag" != "$ref" ] && pinned=${ref#*@}
	current=$(digest "$tag")
	case "$current" in
	sha256:????????????????????????????????????????????????????????????????) ;;
	*)
		echo "pin-images: $tag: not a digest: $current" >&2
		exit 1
		;;
	esac
	echo "$arg $tag pinned=${pinned:-none} current=$current"
	if [ "$pinned" != "$current" ]; then
		stale=1
	fi
	if [ "$mode" = write ]; then
		sed -i.bak "s|^ARG $arg=.*|ARG $arg=$tag@$current|" "$dockerfile"
		rm -f "$dockerfile.bak"
	fi
done
if [ "$mode" = check ] && [ "$stale" = 1 ]; then
	echo "pin-images: a base image moved on: run $0 -w and review the diff" >&2
	exit 1
fi
