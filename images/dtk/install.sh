#!/bin/sh
# Runs inside the DTK build (images/dtk/Containerfile), in one RUN step, with the build
# context bind-mounted at /run/dtk-build and the RHSM secrets at /run/secrets/rhsm_org
# and /run/secrets/rhsm_key. Registers with the activation key, installs the planned
# packages (pinned to the kernel) and the gcc the kernel was built with, writes the
# release file, and unregisters and cleans on every exit path.
#
# The RHSM org and key never appear on a command line: every process on the build
# host can read command lines (/proc/<pid>/cmdline). They are read from the secret
# files by the registering process itself (rhsm_register below).
set -eu

ctx=/run/dtk-build
: "${KERNEL:?KERNEL build arg is required}"
: "${RHEL_VERSION:?RHEL_VERSION build arg is required}"

fail() {
  echo "install.sh: $1" >&2
  exit 1
}

if [ ! -s /run/secrets/rhsm_org ] || [ ! -s /run/secrets/rhsm_key ]; then
  fail "the rhsm_org and rhsm_key build secrets are missing (buildah build --secret id=rhsm_org,src=… --secret id=rhsm_key,src=…)"
fi

# subscription-manager is a Python program (RHEL 8: platform-python): its own interpreter
# runs it in-process with the arguments set in memory, read from the secret files, so
# no process is ever started with the org or key in its arguments.
rhsm_register() {
  program="$(command -v subscription-manager)" || fail "subscription-manager is not installed"
  interpreter="$(sed -n '1s/^#![[:space:]]*\([^[:space:]]*\).*/\1/p' "$program")"
  case "$interpreter" in
  */python* | */platform-python) ;;
  /usr/bin/env) interpreter=python3 ;;
  *) fail "subscription-manager ($program) is not a Python program: cannot register without a command line holding the key" ;;
  esac
  "$interpreter" - "$program" >/dev/null <<'PY'
import sys
program = sys.argv[1]
def secret(name):
    with open('/run/secrets/' + name) as f:
        return f.read().strip()
sys.argv = [program, 'register', '--org', secret('rhsm_org'), '--activationkey', secret('rhsm_key')]
with open(program) as f:
    code = compile(f.read(), program, 'exec')
exec(code, {'__name__': '__main__', '__file__': program})
PY
}

registered=false
cleanup() {
  status=$?
  if [ "$registered" = true ]; then subscription-manager unregister >/dev/null 2>&1 || true; fi
  subscription-manager clean >/dev/null 2>&1 || true
  dnf clean all >/dev/null 2>&1 || true
  rm -rf /var/cache/dnf /var/cache/yum /etc/pki/entitlement/* /etc/pki/consumer/* /var/lib/rhsm/* /var/log/rhsm/*
  exit "$status"
}
trap cleanup EXIT

# UBI defers to the host's entitlements inside containers (/etc/rhsm-host); this build
# registers itself with the activation key instead.
rm -f /etc/rhsm-host
rhsm_register || fail "subscription-manager register failed (check the RHSM org ID and activation key)"
registered=true

case "$RHEL_VERSION" in
*.*)
  subscription-manager release --set="$RHEL_VERSION" >/dev/null
  mkdir -p /etc/dnf/vars
  echo "$RHEL_VERSION" >/etc/dnf/vars/releasever
  ;;
esac

while read -r repo; do
  [ -n "$repo" ] || continue
  subscription-manager repos --enable "$repo" >/dev/null || fail "cannot enable repository $repo"
done <"$ctx/repos-required.txt"
while read -r repo; do
  [ -n "$repo" ] || continue
  subscription-manager repos --enable "$repo" >/dev/null 2>&1 ||
    echo "install.sh: optional repository $repo is not available to this subscription; continuing"
done <"$ctx/repos-optional.txt"

echo "install.sh: installing $(wc -l <"$ctx/packages.txt") packages for $KERNEL"
xargs dnf -y --setopt=install_weak_deps=False --best install <"$ctx/packages.txt"

installed="$(rpm -q --qf '%{VERSION}-%{RELEASE}.%{ARCH}' kernel-core)"
[ "$installed" = "$KERNEL" ] || fail "kernel-core is $installed, expected $KERNEL"
[ -d "/usr/src/kernels/$KERNEL" ] || fail "kernel-devel did not install /usr/src/kernels/$KERNEL"

# The gcc the kernel was built with, from its config
# (CONFIG_CC_VERSION_TEXT="gcc (GCC) 11.4.1 20231218 (Red Hat 11.4.1-3)").
gcc_version="$(sed -n 's/^CONFIG_CC_VERSION_TEXT="gcc (GCC) \([0-9][0-9.]*\) .*/\1/p' "/lib/modules/$KERNEL/config" 2>/dev/null || true)"
case "$gcc_version" in
[0-9]*.[0-9]*)
  dnf -y install "gcc-$gcc_version" || {
    echo "install.sh: warning: gcc $gcc_version (the kernel's compiler) is not available; installing the default gcc"
    dnf -y install gcc
  }
  ;;
*)
  echo "install.sh: warning: the kernel config names no gcc version; installing the default gcc"
  dnf -y install gcc
  ;;
esac

cp "$ctx/driver-toolkit-release.json" /etc/driver-toolkit-release.json
chmod 0644 /etc/driver-toolkit-release.json
echo "install.sh: DTK for $KERNEL (RHEL $RHEL_VERSION) installed"
