#!/usr/bin/env bash
# Joins the per-arch images of one target into a multi-arch index under the arch-less
# tag, once every arch exists (the registry API only: no image engine needed).
#
# Environment (validated before any use; src/core/builds/params.ts has the full rules):
#   TARGET_IMAGE        registry/repository of the per-arch images and of the index
#   TARGET_TAG          the arch-less tag, e.g. 5.14.0-427.68.1.el9_4
#   ARCH_TAGS           x86_64=TAG,aarch64=TAG
#   REGISTRY_AUTH_FILE  docker config JSON with push credentials (optional)
#   IMAGE_SIGNING_KMS_KEY  KMS key ARN (ECDSA P-256) the index and its SBOM are signed with (optional)
#   RESULT_FILE         where BUILD_RESULT / IMAGE_DIGEST are written (default build-result.env)
# Output: BUILD_RESULT=pushed|skipped-exists (index already up to date)|incomplete (exit 3)
# and IMAGE_DIGEST=sha256:… of the index.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

no_control_chars TARGET_IMAGE TARGET_TAG ARCH_TAGS REGISTRY_AUTH_FILE RESULT_FILE
quick_check TARGET_IMAGE '^[A-Za-z0-9._:/-]{1,300}$'
quick_check TARGET_TAG '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'
quick_check ARCH_TAGS '^[A-Za-z0-9_.,=-]{1,300}$'
quick_check REGISTRY_AUTH_FILE '^/[A-Za-z0-9._/-]+$'
quick_check RESULT_FILE '^[A-Za-z0-9._/-]+$'

validated="$(dtk_pipeline validate-build-env --kind join)" || exit 2

join_args=()
target_image=""
while IFS= read -r line; do
  key="${line%%=*}"
  value="${line#*=}"
  case "$key" in
    TARGET_IMAGE) target_image="$value"; join_args+=(--image "$value") ;;
    TARGET_TAG) join_args+=(--tag "$value") ;;
    ARCH_TAG) join_args+=(--arch-tag "$value") ;;
    RESULT_FILE) RESULT_FILE="$value" ;;
    *) die "internal: unexpected line from validate-build-env" ;;
  esac
done <<<"$validated"

status=0
out="$(dtk_pipeline join "${join_args[@]}")" || status=$?
result=""
digest=""
while IFS='=' read -r key value; do
  case "$key" in
    BUILD_RESULT) result="$value" ;;
    IMAGE_DIGEST) digest="$value" ;;
  esac
done <<<"$out"
[[ -n "$result" ]] || die "join failed" "$status"
# The index is signed when it was pushed, and when it already existed (signing is
# idempotent: an index joined before the key was configured gets its signature now).
# The same holds for its SBOM (the index's per-arch manifests and the SBOM of each),
# attached once, signed like the index or logged as unsigned.
if [[ "$result" == pushed ]]; then
  sign_pushed_image "$target_image" "$digest"
  attach_sbom index "$target_image" "$digest"
elif [[ "$result" == skipped-exists ]]; then
  sign_pushed_image "$target_image" "$digest"
  attach_sbom index "$target_image" "$digest" --existing
fi
write_result "$result" "$digest"
exit "$status"
