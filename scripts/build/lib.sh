# shellcheck shell=bash
# Shared helpers of the build scripts (sourced, never run). The scripts validate every
# parameter twice: a quick pattern check here in the shell, then the full rules in
# TypeScript (`dtk-pipeline validate-build-env`, src/core/builds/params.ts), whose
# KEY=value output is read with `read` and a `case` over known keys: never `eval`.

build_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$build_lib_dir/../.." && pwd)"
readonly build_lib_dir repo_root

# The engine: buildah everywhere (CodeBuild installs it in the install phase), so the
# same commands run in CodeBuild and in the tests. vfs storage and chroot isolation work
# in unprivileged containers and on plain machines alike.
buildah_cmd=(buildah)

script_name="$(basename "$0")"

die() {
  printf '%s: %s\n' "$script_name" "$1" >&2
  exit "${2:-1}"
}

log() {
  printf '%s: %s\n' "$script_name" "$1" >&2
}

# quick_check NAME REGEX: when NAME is set, its value must match REGEX (bash ERE).
# Messages name the variable, never its value.
quick_check() {
  local name="$1" re="$2"
  local value="${!name-}"
  if [[ -n "$value" && ! "$value" =~ $re ]]; then
    die "$name has characters or a form that is not allowed" 2
  fi
}

# Any newline or control character in any build parameter is refused outright.
no_control_chars() {
  local name
  for name in "$@"; do
    if [[ "${!name-}" == *[[:cntrl:]]* ]]; then
      die "$name contains a control character (newline, tab, …)" 2
    fi
  done
}

dtk_pipeline() {
  node "$repo_root/bin/dtk-pipeline.js" "$@"
}

now_ms() {
  date +%s%3N
}

# write_result RESULT DIGEST: the outcome, as CodeBuild exported variables.
write_result() {
  local result="$1" digest="$2"
  [[ "$result" =~ ^(pushed|skipped-exists|incomplete)$ ]] || die "internal: bad result"
  [[ -z "$digest" || "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "internal: bad digest"
  BUILD_RESULT="$result"
  IMAGE_DIGEST="$digest"
  export BUILD_RESULT IMAGE_DIGEST
  printf 'BUILD_RESULT=%s\nIMAGE_DIGEST=%s\n' "$result" "$digest" > "$RESULT_FILE"
  printf 'BUILD_RESULT=%s\nIMAGE_DIGEST=%s\n' "$result" "$digest"
}

# existing_digest REF: the digest REF names in the registry, or "absent".
existing_digest() {
  local out
  out="$(dtk_pipeline image-exists "$1")" || die "cannot check whether $1 exists"
  [[ "$out" == absent || "$out" =~ ^sha256:[0-9a-f]{64}$ ]] || die "internal: unexpected image-exists output"
  printf '%s' "$out"
}

# auth_args: --authfile when REGISTRY_AUTH_FILE is set.
auth_args=()
# skip_if_exists REF REBUILD [ON_EXISTING]: ends the build as skipped when the target tag
# already exists, unless REBUILD=true. ON_EXISTING (a function) is first called with the
# repository and the existing digest: an image pushed earlier still gets its signature
# and SBOM when they are missing.
skip_if_exists() {
  local ref="$1" rebuild="$2" on_existing="${3:-}" existing
  existing="$(existing_digest "$ref")"
  if [[ "$existing" != absent && "$rebuild" != true ]]; then
    log "$ref exists ($existing): skipped (REBUILD=true rebuilds it)"
    if [[ -n "$on_existing" ]]; then "$on_existing" "${ref%:*}" "$existing"; fi
    write_result skipped-exists "$existing"
    exit 0
  fi
}

set_auth_args() {
  auth_args=()
  if [[ -n "${REGISTRY_AUTH_FILE-}" ]]; then auth_args=(--authfile "$REGISTRY_AUTH_FILE"); fi
}

# check_image_modules IMAGE KERNEL: the vermagic gate on a built image's file system.
check_image_modules() {
  local image="$1" kernel="$2" ctr mnt status=0
  ctr="$("${buildah_cmd[@]}" from --pull=false --quiet "$image")"
  mnt="$("${buildah_cmd[@]}" mount "$ctr")"
  dtk_pipeline check-modules --kernel "$kernel" --dir "$mnt/opt/lib/modules/$kernel" || status=$?
  "${buildah_cmd[@]}" umount "$ctr" >/dev/null || true
  "${buildah_cmd[@]}" rm "$ctr" >/dev/null || true
  return "$status"
}

# push_image IMAGE REF TLS_VERIFY DIGEST_FILE
push_image() {
  "${buildah_cmd[@]}" push --quiet --format oci --tls-verify="$3" "${auth_args[@]}" --digestfile "$4" "$1" "docker://$2"
  [[ "$(cat "$4")" =~ ^sha256:[0-9a-f]{64}$ ]] || die "buildah push wrote no digest"
}

# Image signing (issue #11): when IMAGE_SIGNING_KMS_KEY names a KMS key (ECDSA P-256),
# every image the build pushes is signed (`dtk-pipeline sign-image`: the sigstore
# attachment containers/image verifies). The key never leaves KMS; credentials come from
# REGISTRY_AUTH_FILE, insecure registries from INSECURE_REGISTRIES, as for the push.
no_control_chars IMAGE_SIGNING_KMS_KEY
quick_check IMAGE_SIGNING_KMS_KEY '^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,128}$'

image_signing_requested() {
  [[ -n "${IMAGE_SIGNING_KMS_KEY:-}" ]]
}

# sign_pushed_image REPOSITORY DIGEST: signs REPOSITORY@DIGEST when a key is configured.
# A pushed image that cannot be signed fails the build (it is there, unsigned: say so).
sign_pushed_image() {
  local repository="$1" digest="$2"
  image_signing_requested || return 0
  [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "internal: signing needs a digest"
  dtk_pipeline sign-image "$repository@$digest" --kms-key-id "$IMAGE_SIGNING_KMS_KEY" >/dev/null \
    || die "$repository@$digest was pushed but could not be signed (see above); it is unsigned"
}

# SBOM (issue #11): every image the builds push gets a CycloneDX SBOM attached as an OCI
# artifact (`dtk-pipeline sbom attach`: the referrers API when the registry has one,
# else the tag-schema fallback; the log says which), once: an image that already has one
# keeps it. With IMAGE_SIGNING_KMS_KEY the SBOM is signed like the image; without it the
# log says the SBOM is unsigned.
# attach_sbom KIND REPOSITORY DIGEST [flags of `sbom attach`…]
attach_sbom() {
  local kind="$1" repository="$2" digest="$3" out key value via="" signed="" sbom=""
  shift 3
  local args=(--kind "$kind" "$@")
  [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "internal: an SBOM needs a digest"
  if [[ -n "${CODEBUILD_BUILD_ID:-}" ]]; then args+=(--build-id "$CODEBUILD_BUILD_ID"); fi
  if image_signing_requested; then args+=(--kms-key-id "$IMAGE_SIGNING_KMS_KEY"); fi
  out="$(dtk_pipeline sbom attach "$repository@$digest" "${args[@]}")" \
    || die "$repository@$digest is in the registry but its SBOM could not be attached (see above)"
  while IFS='=' read -r key value; do
    case "$key" in
      SBOM) sbom="$value" ;;
      SBOM_VIA) via="$value" ;;
      SBOM_SIGNED) signed="$value" ;;
    esac
  done <<<"$out"
  [[ "$via" =~ ^(referrers-api|tag-schema)$ && "$signed" =~ ^(true|false)$ ]] || die "internal: unexpected sbom attach output"
  if [[ "$signed" == true ]]; then
    log "SBOM $sbom of $repository@$digest (attached via $via), signed"
  else
    log "SBOM $sbom of $repository@$digest (attached via $via), UNSIGNED: no IMAGE_SIGNING_KMS_KEY"
  fi
}

# sbom_present REPOSITORY DIGEST: true when the image already has its SBOM.
sbom_present() {
  local out
  out="$(dtk_pipeline sbom find "$1@$2")" || die "cannot look for the SBOM of $1@$2"
  [[ "$out" != "SBOM=absent" ]]
}
