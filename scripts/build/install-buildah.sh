#!/usr/bin/env bash
# Installs buildah on a CodeBuild builder (install phase): apt on the x86_64 Ubuntu
# standard image, dnf on the Amazon Linux aarch64 image. The tests install the same
# engine through scripts/ensure-tools.sh, so CodeBuild and the tests run one engine and
# the build scripts have no engine switch.
set -euo pipefail
if command -v buildah >/dev/null 2>&1; then
  buildah --version
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah
elif command -v dnf >/dev/null 2>&1; then
  dnf install -y -q buildah
else
  echo "install-buildah.sh: neither apt-get nor dnf found" >&2
  exit 1
fi
buildah --version
