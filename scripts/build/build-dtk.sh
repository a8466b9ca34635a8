#!/usr/bin/env bash
# Builds the Driver Toolkit (DTK) image of one RHEL kernel on this machine's arch, from
# UBI pinned by digest, with an RHSM activation key passed as build secrets, and pushes
# it under the per-arch tag (the kernel, KMM-normalised), unless that tag exists and
# REBUILD is not true.
#
# Environment (validated before any use; src/core/builds/params.ts has the full rules):
#   KERNEL            base kernel `uname -r`, e.g. 5.14.0-427.68.1.el9_4.x86_64
#   ARCH              x86_64 | aarch64; must match KERNEL and this machine (ALLOW_CROSS_ARCH=true: tests)
#   RHEL_VERSION      e.g. 9.4 (or 9 for kernels without a minor); must match KERNEL
#   UBI_IMAGE         ubi8/ubi9/ubi10 pull spec pinned by digest (…@sha256:…)
#   RT_KERNEL         x86_64 RT kernel before RHEL 9.3 (optional; derived from 9.3)
#   TARGET_IMAGE      registry/repository, no tag
#   REBUILD           true | false (default false)
#   SOURCE_URL        https URL (OCI label org.opencontainers.image.source; optional)
#   SOURCE_REVISION   git commit (label org.opencontainers.image.revision; optional)
#   RHSM_ORG_FILE     file holding the RHSM organisation ID   (a build secret, never a build arg)
#   RHSM_KEY_FILE     file holding the RHSM activation key    (a build secret, never a build arg)
#   REGISTRY_AUTH_FILE docker config JSON for pulls and the push (optional)
#   RESULT_FILE       where BUILD_RESULT / IMAGE_DIGEST are written (default build-result.env)
#   STORAGE_DRIVER    vfs (default) | overlay
#   IMAGE_SIGNING_KMS_KEY KMS key ARN (ECDSA P-256): the pushed DTK and its SBOM are signed (optional)
# Every pushed DTK gets its SBOM; one whose tag already existed gets its signature and
# SBOM when they are missing.
# Output: BUILD_RESULT=pushed|skipped-exists and IMAGE_DIGEST=sha256:… (stdout and RESULT_FILE).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

no_control_chars KERNEL ARCH RHEL_VERSION UBI_IMAGE RT_KERNEL TARGET_IMAGE REBUILD SOURCE_URL SOURCE_REVISION \
  RHSM_ORG_FILE RHSM_KEY_FILE REGISTRY_AUTH_FILE RESULT_FILE STORAGE_DRIVER ALLOW_TEST_KERNELS ALLOW_CROSS_ARCH
quick_check KERNEL '^[A-Za-z0-9._+-]{1,128}$'
quick_check ARCH '^(x86_64|aarch64)$'
quick_check RHEL_VERSION '^(8|9|10)(\.[0-9]{1,2})?$'
quick_check UBI_IMAGE '^[A-Za-z0-9._:/-]{1,300}@sha256:[0-9a-f]{64}$'
quick_check RT_KERNEL '^[A-Za-z0-9._+-]{1,128}$'
quick_check TARGET_IMAGE '^[A-Za-z0-9._:/-]{1,300}$'
quick_check REBUILD '^(true|false)$'
quick_check SOURCE_URL '^https://[A-Za-z0-9._~%/:-]+$'
quick_check SOURCE_REVISION '^[0-9a-f]{7,64}$'
quick_check RHSM_ORG_FILE '^/[A-Za-z0-9._/-]+$'
quick_check RHSM_KEY_FILE '^/[A-Za-z0-9._/-]+$'
quick_check REGISTRY_AUTH_FILE '^/[A-Za-z0-9._/-]+$'
quick_check RESULT_FILE '^[A-Za-z0-9._/-]+$'
quick_check STORAGE_DRIVER '^(vfs|overlay)$'

work="$(mktemp -d)"
context="$work/context"
mkdir "$context"
image=""
cleanup() {
  if [[ -n "$image" ]]; then "${buildah_cmd[@]}" rmi --force "$image" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Validates everything (also the content of the secret files, without printing it) and
# writes the package plan and release file into the build context.
validated="$(dtk_pipeline validate-build-env --kind dtk --write-context "$context")" || exit 2

labels=()
while IFS= read -r line; do
  key="${line%%=*}"
  value="${line#*=}"
  case "$key" in
    KERNEL) kernel="$value" ;;
    TARGET_TAG) target_tag="$value" ;;
    TARGET_REF) target_ref="$value" ;;
    TARGET_TLS_VERIFY) target_tls="$value" ;;
    REBUILD) rebuild="$value" ;;
    RESULT_FILE) RESULT_FILE="$value" ;;
    STORAGE_DRIVER) storage_driver="$value" ;;
    RHEL_VERSION) rhel_version="$value" ;;
    UBI_IMAGE) ubi_image="$value" ;;
    UBI_TLS_VERIFY) ubi_tls="$value" ;;
    RHSM_ORG_FILE) rhsm_org_file="$value" ;;
    RHSM_KEY_FILE) rhsm_key_file="$value" ;;
    LABEL) labels+=(--label "$value") ;;
    ARCH | MULTI_ARCH_TAG | RHEL_MAJOR) ;;
    *) die "internal: unexpected line from validate-build-env" ;;
  esac
done <<<"$validated"
buildah_cmd=(buildah --storage-driver "$storage_driver")
set_auth_args

# A DTK pushed earlier (its tag exists) gets its signature (when a key is configured) and
# its SBOM when missing; both are idempotent, and the SBOM is read from the image's
# labels and annotations.
complete_existing_dtk() {
  sign_pushed_image "$1" "$2"
  attach_sbom dtk "$1" "$2" --existing --kernel "$kernel"
}
skip_if_exists "$target_ref" "$rebuild" complete_existing_dtk

cp "$repo_root/images/dtk/Containerfile" "$repo_root/images/dtk/install.sh" "$context/"
image="localhost/dtk-pipeline-build/driver-toolkit:$target_tag-$$"

log "building $target_ref FROM $ubi_image (RHEL $rhel_version)"
t0="$(now_ms)"
# The RHSM org and key reach the build only as secrets (mounted at /run/secrets/ for
# one RUN step): never as build args, labels or environment, so never in the image
# config, its history or this log.
"${buildah_cmd[@]}" build --isolation chroot --format oci --pull=false --tls-verify="$ubi_tls" "${auth_args[@]}" \
  --secret "id=rhsm_org,src=$rhsm_org_file" --secret "id=rhsm_key,src=$rhsm_key_file" \
  --build-arg "UBI_IMAGE=$ubi_image" --build-arg "KERNEL=$kernel" --build-arg "RHEL_VERSION=$rhel_version" \
  "${labels[@]}" -f "$context/Containerfile" -t "$image" "$context" >&2
t1="$(now_ms)"
log "built in $((t1 - t0)) ms; checking the image"

# The image must hold the build tree and the release file of exactly this kernel.
ctr="$("${buildah_cmd[@]}" from --pull=false --quiet "$image")"
mnt="$("${buildah_cmd[@]}" mount "$ctr")"
status=0
[[ -d "$mnt/usr/src/kernels/$kernel" ]] || { log "the image has no /usr/src/kernels/$kernel"; status=1; }
cmp -s "$mnt/etc/driver-toolkit-release.json" "$context/driver-toolkit-release.json" ||
  { log "/etc/driver-toolkit-release.json is not the expected one"; status=1; }
"${buildah_cmd[@]}" umount "$ctr" >/dev/null || true
"${buildah_cmd[@]}" rm "$ctr" >/dev/null || true
[[ "$status" -eq 0 ]] || die "refusing to push $target_ref: the image is not a DTK of $kernel"

push_image "$image" "$target_ref" "$target_tls" "$work/digest"
t2="$(now_ms)"
digest="$(cat "$work/digest")"
log "pushed $target_ref@$digest in $((t2 - t1)) ms"
sign_pushed_image "${target_ref%:*}" "$digest"
# Its SBOM (kernel, UBI base by digest, this pipeline's source and revision, build id),
# signed like the image, or logged as unsigned.
sbom_args=(--kernel "$kernel" --base-image "$ubi_image")
if [[ -n "${SOURCE_URL:-}" ]]; then sbom_args+=(--source-url "$SOURCE_URL"); fi
if [[ -n "${SOURCE_REVISION:-}" ]]; then sbom_args+=(--source-commit "$SOURCE_REVISION"); fi
attach_sbom dtk "${target_ref%:*}" "$digest" "${sbom_args[@]}"
write_result pushed "$digest"
