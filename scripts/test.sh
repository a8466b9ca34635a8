#!/usr/bin/env bash
# The whole test suite: lint, type check, unit, integration and infrastructure tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh chromium
npx eslint .
npx tsc --noEmit -p tsconfig.json
npx vitest run
