#!/usr/bin/env bash
# Writes the build's secrets, which CodeBuild resolves from Secrets Manager into
# environment variables (the project's SECRETS_MANAGER variables: PUSH_SECRET,
# PULL_SECRET, RHSM_ORG, RHSM_ACTIVATION_KEY), into files under DIR with mode 0600:
#   DIR/auth.json       docker config JSON: PULL_SECRET's auths merged with PUSH_SECRET's
#                       (push credentials win for the same registry): existence checks,
#                       the DTK pull and the push
#   DIR/pull-auth.json  PULL_SECRET's auths only: all a driver's image build is given
#   DIR/rhsm_org    DIR/rhsm_key   (only when RHSM_ORG / RHSM_ACTIVATION_KEY are set)
# Nothing is printed but file names; the buildspec removes DIR in its finally block.
set -euo pipefail
dir="${1:?usage: write-secrets.sh DIR}"
[[ "$dir" =~ ^/[A-Za-z0-9._/-]+$ && -d "$dir" ]] || { echo "write-secrets.sh: DIR must be an existing absolute directory" >&2; exit 2; }
umask 077

# Merged in node so no secret is ever on a command line; errors name no value.
# shellcheck disable=SC2016 # the single-quoted program is JavaScript; its ${} are template literals
node -e '
  const fs = require("node:fs");
  const auths = {};
  for (const name of ["PULL_SECRET", "PUSH_SECRET"]) {
    const text = process.env[name];
    if (!text) continue;
    let json;
    try { json = JSON.parse(text); } catch { console.error(`write-secrets.sh: ${name} is not valid JSON`); process.exit(2); }
    if (typeof json !== "object" || json === null || typeof json.auths !== "object" || json.auths === null) {
      console.error(`write-secrets.sh: ${name} is not a docker config JSON ({"auths": {...}})`); process.exit(2);
    }
    Object.assign(auths, json.auths);
    if (name === "PULL_SECRET") fs.writeFileSync(process.argv[2], JSON.stringify({ auths: json.auths }), { mode: 0o600 });
  }
  if (!fs.existsSync(process.argv[2])) fs.writeFileSync(process.argv[2], JSON.stringify({ auths: {} }), { mode: 0o600 });
  fs.writeFileSync(process.argv[1], JSON.stringify({ auths }), { mode: 0o600 });
' "$dir/auth.json" "$dir/pull-auth.json"

if [[ -n "${RHSM_ORG-}" ]]; then printf '%s' "$RHSM_ORG" >"$dir/rhsm_org"; fi
if [[ -n "${RHSM_ACTIVATION_KEY-}" ]]; then printf '%s' "$RHSM_ACTIVATION_KEY" >"$dir/rhsm_key"; fi
echo "write-secrets.sh: wrote $(cd "$dir" && echo ./*)" >&2
