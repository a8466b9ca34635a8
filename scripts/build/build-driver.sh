#!/usr/bin/env bash
# Builds one partner driver image for (driver, kernel, arch) FROM a DTK image, checks
# every module's vermagic, and pushes it under the rendered per-arch tag, unless that
# tag exists and REBUILD is not true.
#
# Environment (validated before any use; src/core/builds/params.ts has the full rules):
#   KERNEL               target kernel `uname -r` (RHEL; Debian test kernels only with ALLOW_TEST_KERNELS=true)
#   ARCH                 x86_64 | aarch64; must match KERNEL and this machine (ALLOW_CROSS_ARCH=true: tests)
#   DRIVER_NAME          [a-z0-9][a-z0-9-]{0,62}
#   MOD_NAME             [A-Za-z0-9_][A-Za-z0-9_-]{0,63}
#   DRIVER_SOURCE        "inline" (DRIVER_CONTEXT_DIR is the build context) or an https git URL
#   DRIVER_REF           git branch, tag or commit (required for git)
#   DRIVER_CONTEXT_DIR   inline: context dir (relative to the repo root, or absolute); git: subdirectory
#   DRIVER_CONTAINERFILE relative to the context; default Containerfile, else Dockerfile
#   DTK_IMAGE            pull spec (tag or digest) the driver builds FROM (build arg DTK_AUTO)
#   TARGET_IMAGE         registry/repository, no tag
#   TAG_TEMPLATE         KMM placeholders; default ${KERNEL_FULL_VERSION}
#   BUILD_ARGS_JSON      {"NAME": "value", …} extra build args; default {}
#   REBUILD              true | false (default false)
#   PULL_AUTH_FILE       docker config JSON with pull-only credentials: the only ones the image
#                        build gets (FROM pulls); none when unset (optional)
#   REGISTRY_AUTH_FILE   docker config JSON for the existence check, the DTK pull and the push
#                        (optional); never given to the image build
#   RESULT_FILE          where BUILD_RESULT / IMAGE_DIGEST are written (default build-result.env)
#   STORAGE_DRIVER       vfs (default) | overlay
#   Module signing (optional; see "Signing step" below):
#   MODULE_SIGNING_KMS_KEY     KMS key id/ARN/alias (RSA) that signs every .ko, or
#   MODULE_SIGNING_KEY_SECRET  Secrets Manager secret holding a PEM private key (never the key itself)
#   MODULE_SIGNING_CERT        base64 of the key's DER certificate (public; what users enroll)
#   IMAGE_SIGNING_KMS_KEY      KMS key ARN (ECDSA P-256): the pushed image and its SBOM are signed
# Every pushed image gets its SBOM (signed or not); an image whose tag already existed
# gets its signature and SBOM when they are missing.
# Output: BUILD_RESULT=pushed|skipped-exists and IMAGE_DIGEST=sha256:… (stdout and RESULT_FILE).
#
# Secrets: the partner's Containerfile steps run partner code. They get no environment
# from this script and no file from the host (chroot isolation); the image build itself
# gets only PULL_AUTH_FILE. The push credentials (REGISTRY_AUTH_FILE) serve the existence
# check, the DTK pull (before the build) and the push, never the build; raw secret
# variables are dropped here.
set -euo pipefail
unset PULL_SECRET PUSH_SECRET RHSM_ORG RHSM_ACTIVATION_KEY
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

no_control_chars KERNEL ARCH DRIVER_NAME MOD_NAME DRIVER_SOURCE DRIVER_REF DRIVER_CONTEXT_DIR DRIVER_CONTAINERFILE \
  DTK_IMAGE TARGET_IMAGE TAG_TEMPLATE BUILD_ARGS_JSON REBUILD PULL_AUTH_FILE REGISTRY_AUTH_FILE RESULT_FILE STORAGE_DRIVER \
  ALLOW_TEST_KERNELS ALLOW_CROSS_ARCH
quick_check KERNEL '^[A-Za-z0-9._+-]{1,128}$'
quick_check ARCH '^(x86_64|aarch64)$'
quick_check DRIVER_NAME '^[a-z0-9][a-z0-9-]{0,62}$'
quick_check MOD_NAME '^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$'
quick_check DRIVER_SOURCE '^(inline|https://[A-Za-z0-9./~_:-]+)$'
quick_check DRIVER_REF '^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$'
quick_check DRIVER_CONTEXT_DIR '^[A-Za-z0-9._/-]{1,255}$'
quick_check DRIVER_CONTAINERFILE '^[A-Za-z0-9._/-]{1,255}$'
quick_check DTK_IMAGE '^[A-Za-z0-9._:/@-]{1,400}$'
quick_check TARGET_IMAGE '^[A-Za-z0-9._:/-]{1,300}$'
quick_check TAG_TEMPLATE '^([A-Za-z0-9._-]|\$\{[A-Z_]{1,32}\})+$'
quick_check REBUILD '^(true|false)$'
quick_check PULL_AUTH_FILE '^/[A-Za-z0-9._/-]+$'
quick_check REGISTRY_AUTH_FILE '^/[A-Za-z0-9._/-]+$'
quick_check RESULT_FILE '^[A-Za-z0-9._/-]+$'
quick_check STORAGE_DRIVER '^(vfs|overlay)$'
no_control_chars MODULE_SIGNING_KMS_KEY MODULE_SIGNING_KEY_SECRET
quick_check MODULE_SIGNING_KMS_KEY '^[A-Za-z0-9:/_+=,.@-]{1,2048}$'
quick_check MODULE_SIGNING_KEY_SECRET '^[A-Za-z0-9:/_+=,.@-]{1,2048}$'
quick_check MODULE_SIGNING_CERT '^[A-Za-z0-9+/=]{1,8192}$'

validated="$(dtk_pipeline validate-build-env --kind driver)" || exit 2

build_args=()
labels=()
git_url=""
git_ref=""
containerfile=""
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
    DRIVER_NAME) driver_name="$value" ;;
    SOURCE) source_kind="$value" ;;
    GIT_URL) git_url="$value" ;;
    GIT_REF) git_ref="$value" ;;
    CONTEXT_DIR) context_dir="$value" ;;
    CONTAINERFILE) containerfile="$value" ;;
    DTK_IMAGE) dtk_image="$value" ;;
    DTK_TLS_VERIFY) dtk_tls="$value" ;;
    BUILD_ARG) build_args+=(--build-arg "$value") ;;
    LABEL) labels+=(--label "$value") ;;
    ARCH | MULTI_ARCH_TAG | MOD_NAME) ;;
    *) die "internal: unexpected line from validate-build-env" ;;
  esac
done <<<"$validated"
buildah_cmd=(buildah --storage-driver "$storage_driver")
set_auth_args

# An image pushed earlier (its tag exists) gets what it lacks: its signature (when a key
# is configured; signing is idempotent) and its SBOM, written from the image itself,
# pulled by digest and mounted only when it has no SBOM yet.
complete_existing_image() {
  local repository="$1" digest="$2" pulled ctr mnt status=0
  sign_pushed_image "$repository" "$digest"
  if sbom_present "$repository" "$digest"; then
    attach_sbom driver "$repository" "$digest" --existing --kernel "$kernel"
    return 0
  fi
  log "$repository@$digest has no SBOM: reading its modules"
  pulled="$("${buildah_cmd[@]}" pull --quiet --tls-verify="$target_tls" "${auth_args[@]}" "docker://$repository@$digest")"
  ctr="$("${buildah_cmd[@]}" from --pull=false --quiet "$pulled")"
  mnt="$("${buildah_cmd[@]}" mount "$ctr")"
  (attach_sbom driver "$repository" "$digest" --existing --kernel "$kernel" \
    --modules-dir "$mnt/opt/lib/modules/$kernel" --modules-prefix "opt/lib/modules/$kernel") || status=$?
  "${buildah_cmd[@]}" umount "$ctr" >/dev/null || true
  "${buildah_cmd[@]}" rm "$ctr" >/dev/null || true
  "${buildah_cmd[@]}" rmi "$pulled" >/dev/null 2>&1 || true
  return "$status"
}

skip_if_exists "$target_ref" "$rebuild" complete_existing_image

work="$(mktemp -d)"
image="localhost/dtk-pipeline-build/$driver_name:$target_tag-$$"
cleanup() {
  "${buildah_cmd[@]}" rmi --force "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# ---- Signing step (issue #11) -------------------------------------------------------
# When the driver names a signing key, every .ko under /opt/lib/modules/<kernel> of the
# built image is signed in place (kernel module signature format; `dtk-pipeline
# sign-modules`), committed back into the image, and checked: each module must carry a
# signature by the configured certificate that verifies over its bytes. Only key
# *names* reach this script; the KMS key never leaves KMS, and a PEM key is read from
# Secrets Manager by the signing command itself, in memory.
module_signing_requested() {
  [[ -n "${MODULE_SIGNING_KMS_KEY:-}${MODULE_SIGNING_KEY_SECRET:-}" ]]
}
sign_image_modules() {
  local image="$1" kernel="$2" ctr mnt status=0 key_args cert="$work/module-signing.der"
  [[ -n "${MODULE_SIGNING_KMS_KEY:-}" && -n "${MODULE_SIGNING_KEY_SECRET:-}" ]] && die "set MODULE_SIGNING_KMS_KEY or MODULE_SIGNING_KEY_SECRET, not both"
  [[ -n "${MODULE_SIGNING_CERT:-}" ]] || die "MODULE_SIGNING_CERT (base64 of the signing certificate) is required when modules are signed"
  if [[ -n "${MODULE_SIGNING_KMS_KEY:-}" ]]; then key_args=(--kms-key-id "$MODULE_SIGNING_KMS_KEY"); else key_args=(--key-secret "$MODULE_SIGNING_KEY_SECRET"); fi
  base64 -d <<<"$MODULE_SIGNING_CERT" >"$cert" 2>/dev/null || die "MODULE_SIGNING_CERT is not base64"
  ctr="$("${buildah_cmd[@]}" from --pull=false --quiet "$image")"
  mnt="$("${buildah_cmd[@]}" mount "$ctr")"
  log "signing modules under /opt/lib/modules/$kernel"
  dtk_pipeline sign-modules --dir "$mnt/opt/lib/modules/$kernel" "${key_args[@]}" --cert "$cert" || status=$?
  [[ $status -ne 0 ]] || dtk_pipeline check-modules --kernel "$kernel" --dir "$mnt/opt/lib/modules/$kernel" --signed-by "$cert" || status=$?
  "${buildah_cmd[@]}" umount "$ctr" >/dev/null || true
  [[ $status -ne 0 ]] || "${buildah_cmd[@]}" commit --quiet --format oci "$ctr" "$image" >/dev/null || status=$?
  "${buildah_cmd[@]}" rm "$ctr" >/dev/null || true
  return "$status"
}
# ---- end of the signing step ----------------------------------------------------------

if [[ "$source_kind" == git ]]; then
  log "fetching $git_url at $git_ref"
  git init --quiet "$work/src"
  git -C "$work/src" remote add origin "$git_url"
  git -C "$work/src" -c protocol.allow=never -c protocol.https.allow=always fetch --quiet --depth 1 origin "$git_ref"
  git -C "$work/src" -c advice.detachedHead=false checkout --quiet FETCH_HEAD
  context="$work/src/$context_dir"
  # The context must stay inside the clone (no symlink escapes).
  real_context="$(realpath -e "$context")" || die "DRIVER_CONTEXT_DIR does not exist in the repository"
  [[ "$real_context" == "$(realpath "$work/src")"* ]] || die "DRIVER_CONTEXT_DIR leaves the repository"
  context="$real_context"
elif [[ "$context_dir" == /* ]]; then
  context="$context_dir"
else
  context="$repo_root/$context_dir"
fi
[[ -d "$context" ]] || die "DRIVER_CONTEXT_DIR is not a directory"
if [[ -z "$containerfile" ]]; then
  if [[ -f "$context/Containerfile" ]]; then containerfile=Containerfile; else containerfile=Dockerfile; fi
fi
[[ -f "$context/$containerfile" ]] || die "no $containerfile in the build context"

# The build's credentials: pull-only, or an empty file (buildah would otherwise look for
# REGISTRY_AUTH_FILE, ~/.docker/config.json and others on its own).
pull_auth="${PULL_AUTH_FILE:-}"
if [[ -z "$pull_auth" ]]; then
  pull_auth="$work/no-auth.json"
  printf '{"auths":{}}' >"$pull_auth"
fi
[[ -f "$pull_auth" ]] || die "PULL_AUTH_FILE does not exist"

# The DTK may live in a private repository: pulled here, with the full credentials, so
# the build (--pull=false) finds it locally.
if ! "${buildah_cmd[@]}" inspect --type image "$dtk_image" >/dev/null 2>&1; then
  "${buildah_cmd[@]}" pull --quiet --tls-verify="$dtk_tls" "${auth_args[@]}" "$dtk_image" >/dev/null
fi

log "building $target_ref FROM $dtk_image"
t0="$(now_ms)"
env -u REGISTRY_AUTH_FILE "${buildah_cmd[@]}" build --isolation chroot --format oci --pull=false --tls-verify="$dtk_tls" \
  --authfile "$pull_auth" "${build_args[@]}" "${labels[@]}" -f "$context/$containerfile" -t "$image" "$context" >&2
t1="$(now_ms)"
log "built in $((t1 - t0)) ms; checking modules"
# The final stage's base, as buildah recorded it (before module signing re-commits the image).
base_digest="$("${buildah_cmd[@]}" inspect --type image --format '{{index .ImageAnnotations "org.opencontainers.image.base.digest"}}' "$image" 2>/dev/null || true)"
base_name="$("${buildah_cmd[@]}" inspect --type image --format '{{index .ImageAnnotations "org.opencontainers.image.base.name"}}' "$image" 2>/dev/null || true)"
base_name="${base_name%@*}"
[[ "${base_name##*/}" == *:* ]] && base_name="${base_name%:*}"

if module_signing_requested; then
  sign_image_modules "$image" "$kernel" >&2 || die "refusing to push $target_ref: module signing failed (see above)"
fi

check_image_modules "$image" "$kernel" >&2 || die "refusing to push $target_ref: a module is not built for $kernel (see above)"

push_image "$image" "$target_ref" "$target_tls" "$work/digest"
t2="$(now_ms)"
digest="$(cat "$work/digest")"
log "pushed $target_ref@$digest in $((t2 - t1)) ms"

# The pushed image is signed (when IMAGE_SIGNING_KMS_KEY is set), and gets its SBOM in
# every case (CycloneDX: kernel, DTK digest, base image digest, driver source URL and the
# commit it resolved to, build id, every module's sha256), signed like the image or
# logged as unsigned.
repository="${target_ref%:*}"
sign_pushed_image "$repository" "$digest"
sbom_args=(--kernel "$kernel" --modules-prefix "opt/lib/modules/$kernel")
if [[ "$dtk_image" == *@sha256:* ]]; then
  sbom_args+=(--dtk-image "$dtk_image")
else
  # A DTK named by tag: the digest of the manifest this build pulled and built FROM.
  dtk_digest="$("${buildah_cmd[@]}" inspect --type image --format '{{.FromImageDigest}}' "$dtk_image" 2>/dev/null || true)"
  dtk_name="$dtk_image"
  [[ "${dtk_name##*/}" == *:* ]] && dtk_name="${dtk_name%:*}"
  [[ "$dtk_digest" =~ ^sha256:[0-9a-f]{64}$ ]] && sbom_args+=(--dtk-image "$dtk_name@$dtk_digest")
fi
[[ -n "$base_name" && "$base_digest" =~ ^sha256:[0-9a-f]{64}$ ]] && sbom_args+=(--base-image "$base_name@$base_digest")
if [[ "$source_kind" == git && "$git_url" == https://* ]]; then
  sbom_args+=(--source-url "$git_url" --source-commit "$(git -C "$work/src" rev-parse HEAD)")
fi
ctr="$("${buildah_cmd[@]}" from --pull=false --quiet "$image")"
mnt="$("${buildah_cmd[@]}" mount "$ctr")"
sbom_status=0
(attach_sbom driver "$repository" "$digest" --modules-dir "$mnt/opt/lib/modules/$kernel" "${sbom_args[@]}") || sbom_status=$?
"${buildah_cmd[@]}" umount "$ctr" >/dev/null || true
"${buildah_cmd[@]}" rm "$ctr" >/dev/null || true
[[ $sbom_status -eq 0 ]] || exit "$sbom_status"
write_result pushed "$digest"
