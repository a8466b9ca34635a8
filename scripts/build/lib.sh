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
# Ends the build as skipped when the target tag already exists, unless REBUILD=true.
skip_if_exists() {
  local ref="$1" rebuild="$2" existing
  existing="$(existing_digest "$ref")"
  if [[ "$existing" != absent && "$rebuild" != true ]]; then
    log "$ref exists ($existing): skipped (REBUILD=true rebuilds it)"
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
