# shellcheck shell=bash
# Sourced by the buildspecs after a build script: exports BUILD_RESULT and IMAGE_DIGEST
# (CodeBuild exported variables) from the script's result file. Values are checked
# against their patterns; nothing is evaluated.
BUILD_RESULT=""
IMAGE_DIGEST=""
if [[ -f "${RESULT_FILE:-build-result.env}" ]]; then
  while IFS='=' read -r result_key result_value; do
    case "$result_key" in
      BUILD_RESULT) if [[ "$result_value" =~ ^(pushed|skipped-exists|incomplete)$ ]]; then BUILD_RESULT="$result_value"; fi ;;
      IMAGE_DIGEST) if [[ "$result_value" =~ ^sha256:[0-9a-f]{64}$ ]]; then IMAGE_DIGEST="$result_value"; fi ;;
    esac
  done <"${RESULT_FILE:-build-result.env}"
fi
export BUILD_RESULT IMAGE_DIGEST
