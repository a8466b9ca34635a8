/**
 * The multi-arch join: once every per-arch image of a target exists, one index
 * (manifest list) under the arch-less tag references them, each entry with the platform
 * read from the image's own config (so a mislabelled per-arch tag is refused, not
 * joined). No build machine is needed: the Lambdas call `joinImages` directly, and
 * `dtk-pipeline join` / `scripts/build/join.sh` call the same function.
 *
 * Idempotent: the index bytes are a pure function of the per-arch manifests, so a
 * re-run computes the same digest; when the tag already names it, nothing is PUT
 * (`unchanged`). A rebuilt arch gives a new digest and the index is replaced.
 *
 * Media type: a Docker manifest list when every entry is a Docker v2 manifest (what
 * Docker-format pushes expect), else an OCI index (buildah pushes OCI manifests).
 */
import { createHash } from 'node:crypto';
import { goArchOf, KERNEL_ARCHES, type KernelArch } from '../arch.ts';
import { MEDIA_TYPES } from '../registry/client.ts';
import { formatImageReference } from '../registry/reference.ts';
import type { Descriptor, ImageConfig, ImageManifest, ImageRef, ResolvedManifest } from '../registry/types.ts';
import { validateTag } from './tags.ts';

/** What the join needs from a registry client (`RegistryClient` has it all). */
export interface JoinRegistry {
  getManifestBytes(ref: ImageRef): Promise<{ readonly digest: string; readonly mediaType: string; readonly bytes: Buffer }>;
  getConfig(image: ResolvedManifest): Promise<ImageConfig>;
  describeManifest(ref: ImageRef): Promise<Descriptor | undefined>;
  putManifest(ref: ImageRef, mediaType: string, bytes: Buffer): Promise<string>;
}

export interface JoinRequest {
  /** Registry and repository of the per-arch images and of the index (tag and digest must be unset). */
  readonly repository: ImageRef;
  /** The arch-less tag the index is pushed under. */
  readonly tag: string;
  /** Per-arch tags in the same repository: every one must exist before the index is pushed. */
  readonly archTags: Readonly<Partial<Record<KernelArch, string>>>;
}

export interface JoinedEntry {
  readonly arch: KernelArch;
  readonly tag: string;
  readonly descriptor: Descriptor;
}

export type JoinResult =
  | {
      /** `pushed`: the index was PUT; `unchanged`: the tag already named these exact bytes. */
      readonly status: 'pushed' | 'unchanged';
      readonly reference: string;
      readonly digest: string;
      readonly mediaType: string;
      readonly size: number;
      readonly entries: readonly JoinedEntry[];
    }
  | { readonly status: 'incomplete'; readonly reference: string; readonly missing: readonly KernelArch[] };

const MANIFEST_TYPES: ReadonlySet<string> = new Set([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);

function isNotFound(err: unknown): boolean {
  return err instanceof Error && err.name === 'ManifestNotFoundError';
}

/** The index bytes for `entries` (deterministic: fixed key order, entries in arch order). */
export function encodeIndex(entries: readonly JoinedEntry[]): { readonly mediaType: string; readonly bytes: Buffer } {
  const allDocker = entries.every((e) => e.descriptor.mediaType === MEDIA_TYPES.dockerManifest);
  const mediaType = allDocker ? MEDIA_TYPES.dockerManifestList : MEDIA_TYPES.ociIndex;
  const sorted = [...entries].sort((a, b) => KERNEL_ARCHES.indexOf(a.arch) - KERNEL_ARCHES.indexOf(b.arch));
  const index = {
    schemaVersion: 2,
    mediaType,
    manifests: sorted.map((e) => ({
      mediaType: e.descriptor.mediaType,
      digest: e.descriptor.digest,
      size: e.descriptor.size,
      platform: { architecture: goArchOf(e.arch), os: 'linux' },
    })),
  };
  return { mediaType, bytes: Buffer.from(JSON.stringify(index), 'utf8') };
}

async function readArch(registry: JoinRegistry, repository: ImageRef, arch: KernelArch, tag: string): Promise<JoinedEntry | undefined> {
  const ref: ImageRef = { registry: repository.registry, repository: repository.repository, tag };
  const text = formatImageReference(ref);
  let raw: Awaited<ReturnType<JoinRegistry['getManifestBytes']>>;
  try {
    raw = await registry.getManifestBytes(ref);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  if (!MANIFEST_TYPES.has(raw.mediaType)) {
    throw new Error(`${text} (the ${arch} image) is a ${raw.mediaType}, not a single-arch image manifest`);
  }
  const manifest = JSON.parse(raw.bytes.toString('utf8')) as ImageManifest;
  const pinned: ImageRef = { registry: ref.registry, repository: ref.repository, digest: raw.digest };
  const config = await registry.getConfig({ ref: pinned, digest: raw.digest, mediaType: raw.mediaType, manifest });
  const goArch = goArchOf(arch);
  if (config.architecture !== goArch || (config.os ?? 'linux') !== 'linux') {
    throw new Error(`${text} is given as the ${arch} image, but its config says ${config.os ?? '?'}/${config.architecture ?? '?'} (expected linux/${goArch})`);
  }
  return { arch, tag, descriptor: { mediaType: raw.mediaType, digest: raw.digest, size: raw.bytes.length } };
}

/** Joins the per-arch images into one index under `request.tag`, once all of them exist. */
export async function joinImages(registry: JoinRegistry, request: JoinRequest): Promise<JoinResult> {
  const { repository } = request;
  if (repository.tag !== undefined || repository.digest !== undefined) {
    throw new Error(`joinImages: repository ${formatImageReference(repository)} must not carry a tag or digest`);
  }
  validateTag(request.tag);
  const arches = KERNEL_ARCHES.filter((a) => request.archTags[a] !== undefined);
  if (arches.length === 0) throw new Error('joinImages: no per-arch tags given');
  const target: ImageRef = { registry: repository.registry, repository: repository.repository, tag: request.tag };
  const reference = formatImageReference(target);
  for (const a of arches) {
    const tag = validateTag(request.archTags[a] ?? '');
    if (tag === request.tag) throw new Error(`joinImages: the ${a} tag ${tag} is the index tag itself`);
  }

  const found = await Promise.all(arches.map((a) => readArch(registry, repository, a, request.archTags[a] ?? '')));
  const missing = arches.filter((_, i) => found[i] === undefined);
  if (missing.length > 0) return { status: 'incomplete', reference, missing };
  const entries = found.filter((e): e is JoinedEntry => e !== undefined);

  const index = encodeIndex(entries);
  const current = await registry.describeManifest(target);
  const digest = `sha256:${createHash('sha256').update(index.bytes).digest('hex')}`;
  if (current?.digest === digest) {
    return { status: 'unchanged', reference, digest, mediaType: index.mediaType, size: index.bytes.length, entries };
  }
  const pushed = await registry.putManifest(target, index.mediaType, index.bytes);
  return { status: 'pushed', reference, digest: pushed, mediaType: index.mediaType, size: index.bytes.length, entries };
}
