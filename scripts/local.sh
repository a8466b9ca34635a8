#!/usr/bin/env bash
# The main job, locally, against the bundled offline world.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh
node scripts/build-cli.mjs --if-stale   # bin/ runs dist/cli/: rebuilt when src/ changed
exec node bin/dtk-pipeline.js local "$@"
