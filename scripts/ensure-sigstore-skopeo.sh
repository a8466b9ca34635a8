#!/usr/bin/env bash
# Prints the path of a skopeo that verifies sigstore signatures (containers/image's
# `sigstoreSigned` policy, what CRI-O runs for OpenShift's ClusterImagePolicy).
#
# Debian 12's skopeo 1.9 is built with sigstore disabled ("Debian-local change: sigstore
# disabled"). Debian 13's skopeo 1.18 has it, but needs glibc 2.38. So, when the system
# skopeo lacks sigstore, this fetches Debian 13's skopeo and the libraries it links
# (libc6, libgpgme11t64, libassuan9, libgpg-error0, libsqlite3-0) with apt-get download
# under a private apt configuration (the system's sources and packages are untouched),
# unpacks them under .cache/sigstore-skopeo/ and writes a wrapper that runs skopeo with
# Debian 13's own dynamic loader and libraries. Nothing is installed system-wide.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$repo_root/.cache/sigstore-skopeo"
wrapper="$dest/skopeo"

if command -v skopeo >/dev/null 2>&1 && ! grep -q 'sigstore disabled' "$(command -v skopeo)"; then
  command -v skopeo
  exit 0
fi
if [ -x "$wrapper" ] && "$wrapper" --version >/dev/null 2>&1; then
  echo "$wrapper"
  exit 0
fi

# Test files run in parallel and each asks for skopeo: one fetches, the others wait for it
# (and then find its wrapper), so none replaces the directory another is running skopeo from.
mkdir -p "$(dirname "$dest")"
exec 9>"$dest.lock"
flock 9
if [ -x "$wrapper" ] && "$wrapper" --version >/dev/null 2>&1; then
  echo "$wrapper"
  exit 0
fi

mirror="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
mirror="${mirror:-http://deb.debian.org/debian}"
work="$dest.tmp.$$"
rm -rf "$work"
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/debs" "$work/root"
trap 'rm -rf "$work"' EXIT
echo "deb $mirror trixie main" >"$work/apt/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache"
  -o APT::Sandbox::User=root -qq
)
echo "fetching Debian 13 skopeo (sigstore enabled) into $dest" >&2
apt-get "${apt_opts[@]}" update >/dev/null
(cd "$work/debs" && apt-get "${apt_opts[@]}" download skopeo libc6 libgpgme11t64 libassuan9 libgpg-error0 libsqlite3-0 >/dev/null)
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
cat >"$work/root/skopeo" <<'WRAPPER'
#!/bin/sh
here="$(dirname "$(readlink -f "$0")")"
exec "$here/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$here/usr/lib/x86_64-linux-gnu:$here/lib/x86_64-linux-gnu" "$here/usr/bin/skopeo" "$@"
WRAPPER
chmod +x "$work/root/skopeo"
"$work/root/skopeo" --version >/dev/null
rm -rf "$dest"
mv "$work/root" "$dest"
echo "$wrapper"
