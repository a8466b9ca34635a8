#!/usr/bin/env bash
# Installs the system tools the tests and the local world need, when missing:
# Debian's docker-registry (a real OCI registry server) and openssl; for the image build
# tests buildah (the engine the build scripts use here and in CodeBuild), debootstrap
# (makes the stand-in DTK base from Debian packages), shellcheck (lints the scripts),
# zstd (makes the zstd layers the layer reader is tested on); for the signing tests kmod
# (modinfo reads module signatures) and gcc (compiles a small module object). The skopeo
# that verifies sigstore signatures comes from scripts/ensure-sigstore-skopeo.sh.
# Runs as root on the project's machines; uses sudo otherwise.
set -euo pipefail

need=()
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v buildah >/dev/null 2>&1 || need+=(buildah)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
# debootstrap lives in /usr/sbin, which may not be on a non-root PATH.
{ command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ]; } || need+=(debootstrap)
{ command -v modinfo >/dev/null 2>&1 || [ -x /usr/sbin/modinfo ] || [ -x /sbin/modinfo ]; } || need+=(kmod)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
for extra in "$@"; do
  command -v "$extra" >/dev/null 2>&1 || need+=("$extra")
done
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${need[*]} (apt-get)" >&2
$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
