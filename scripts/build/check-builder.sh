#!/usr/bin/env bash
# Install phase of the image builds (dtk, driver): checks that the builder image carries
# buildah, the engine the build scripts use, and makes Node.js (the project's CLI) ready.
#
# The builder image is the deploy config's `builderImage` (default: the buildah project's
# own multi-arch image quay.io/buildah/stable, Fedora-based; see DEFAULT_BUILDER_IMAGE in
# lib/config.ts for the source). Nothing installs the engine here: an image without
# buildah fails the build at once, naming the image's problem, instead of trying a
# package its distribution may not carry. Node.js comes from the image's own Fedora
# repositories (`dnf install nodejs`), which carry it.
set -euo pipefail
if ! command -v buildah >/dev/null 2>&1; then
  echo "check-builder.sh: this builder image has no buildah; set builderImage in the deploy config to an image that carries it (e.g. quay.io/buildah/stable@sha256:…)" >&2
  exit 1
fi
buildah --version
if ! command -v node >/dev/null 2>&1; then
  if command -v dnf >/dev/null 2>&1; then
    dnf install -y -q nodejs npm
  else
    echo "check-builder.sh: no node and no dnf to install it from the image's repositories" >&2
    exit 1
  fi
fi
node --version
