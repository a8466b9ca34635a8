/**
 * The SBOM of every pushed image: a CycloneDX 1.6 JSON document, attached to the image
 * as an OCI artifact.
 *
 *   driver image  the kernel, the DTK image, the final stage's base image, the driver
 *                 source and the commit it resolved to, the build id, every module file
 *                 with its SHA-256
 *   DTK image     the kernel, the UBI base image, this pipeline's source and revision,
 *                 the build id
 *   index         the multi-arch index: each per-arch manifest (platform, digest) and
 *                 the SBOM attached to it, with that SBOM's kernel
 *
 * Attaching (OCI distribution spec 1.1, "Pushing manifests with subject"): an OCI image
 * manifest with `artifactType: application/vnd.cyclonedx+json`, the empty config, the
 * document as its one layer, and `subject` = the image. The registry's referrers API
 * (`GET /v2/<name>/referrers/<digest>`) is probed first: a registry that has it answers
 * 200 with an index (empty or not) and indexes the artifact from its `subject`,
 * confirming with the `OCI-Subject` response header. Only a registry without it (404:
 * Debian's docker-registry 2.8, for one), or one that does not confirm the subject, gets
 * the spec's tag-schema fallback: an OCI index under the tag `sha256-<image hex>`
 * listing the referrers. Which path was used is returned, for the build log.
 *
 * An image gets one SBOM: `ensureSbom` attaches one only when none is found the same way
 * (so an image that already existed gets its SBOM once, however often its build runs).
 *
 * The document is plain JSON built here: the fields are few and fixed, and the tests
 * validate it against the published JSON schema.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { RegistryClient } from '../registry/client.ts';
import { MEDIA_TYPES } from '../registry/client.ts';
import type { Descriptor, ImageRef } from '../registry/types.ts';
import { attachmentTag } from './image-signature.ts';

export const CYCLONEDX_MEDIA_TYPE = 'application/vnd.cyclonedx+json';
const EMPTY_CONFIG = { mediaType: 'application/vnd.oci.empty.v1+json', bytes: Buffer.from('{}') };

export type SbomImageKind = 'driver' | 'dtk';

export interface SbomInput {
  /** The image the SBOM describes, pinned by digest. */
  readonly image: ImageRef & { readonly digest: string };
  /** @default 'driver' */
  readonly kind?: SbomImageKind;
  readonly kernel: string;
  readonly dtkImage?: string;
  readonly baseImage?: string;
  readonly sourceUrl?: string;
  readonly sourceCommit?: string;
  /** The source ref the image's label names when no resolved commit is known (an image built earlier). */
  readonly sourceRef?: string;
  readonly buildId?: string;
  /**
   * The image existed before this build (its push was skipped): the SBOM is written
   * after the fact by build `buildId`, from what the image itself holds (labels,
   * annotations, files); `buildId` is then not claimed as the image's build.
   */
  readonly attachedLater?: boolean;
  /** Module files (path inside the image, e.g. `opt/lib/modules/<k>/extra/x.ko`) and their SHA-256. */
  readonly modules: readonly { readonly path: string; readonly sha256: string }[];
  readonly toolVersion: string;
  /** @default now */
  readonly timestamp?: Date;
}

const digestHex = (d: string): string => d.replace(/^sha256:/, '');

/** A container image reference as a CycloneDX component. */
function imageComponent(ref: string, role: string): Record<string, unknown> {
  const at = ref.lastIndexOf('@');
  const name = at === -1 ? ref : ref.slice(0, at);
  const digest = at === -1 ? undefined : ref.slice(at + 1);
  return {
    type: 'container',
    'bom-ref': role,
    name,
    ...(digest ? { version: digest, hashes: [{ alg: 'SHA-256', content: digestHex(digest) }] } : {}),
    properties: [{ name: 'dtk-pipeline:role', value: role }],
  };
}

export function buildSbom(input: SbomInput): Record<string, unknown> {
  const imageName = `${input.image.registry}/${input.image.repository}`;
  const kind = input.kind ?? 'driver';
  const components: Record<string, unknown>[] = [
    {
      type: 'operating-system',
      'bom-ref': 'kernel',
      name: 'linux-kernel',
      version: input.kernel,
      description: kind === 'dtk' ? 'the kernel this driver toolkit builds modules for (its kernel-devel tree)' : 'the kernel the modules are built for (vermagic)',
    },
  ];
  if (input.dtkImage) components.push(imageComponent(input.dtkImage, 'driver-toolkit'));
  if (input.baseImage) components.push(imageComponent(input.baseImage, 'base-image'));
  if (input.sourceUrl) {
    components.push({
      type: 'application',
      'bom-ref': kind === 'dtk' ? 'pipeline-source' : 'driver-source',
      name: input.sourceUrl,
      ...(input.sourceCommit ? { version: input.sourceCommit } : {}),
      externalReferences: [
        {
          type: 'vcs',
          url: input.sourceUrl,
          ...(input.sourceCommit ? { comment: `commit ${input.sourceCommit}` } : input.sourceRef ? { comment: `ref ${input.sourceRef} (the commit it resolved to was not recorded)` } : {}),
        },
      ],
    });
  }
  for (const m of input.modules) {
    components.push({ type: 'file', 'bom-ref': `file:${m.path}`, name: m.path, hashes: [{ alg: 'SHA-256', content: m.sha256 }] });
  }
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: (input.timestamp ?? new Date()).toISOString(),
      tools: { components: [{ type: 'application', name: 'dtk-pipeline', version: input.toolVersion }] },
      component: {
        type: 'container',
        'bom-ref': 'image',
        name: imageName,
        version: input.image.digest,
        hashes: [{ alg: 'SHA-256', content: digestHex(input.image.digest) }],
      },
      properties: [
        { name: 'dtk-pipeline:image-kind', value: kind },
        { name: 'dtk-pipeline:kernel', value: input.kernel },
        ...(input.buildId ? [{ name: input.attachedLater ? 'dtk-pipeline:sbom-attached-by-build' : 'dtk-pipeline:build-id', value: input.buildId }] : []),
        ...(input.attachedLater ? [{ name: 'dtk-pipeline:sbom-origin', value: 'attached after the image was pushed, from the image itself (labels, annotations, files)' }] : []),
        ...(input.sourceCommit ? [{ name: 'dtk-pipeline:source-commit', value: input.sourceCommit }] : []),
        ...(!input.sourceCommit && input.sourceRef ? [{ name: 'dtk-pipeline:source-ref', value: input.sourceRef }] : []),
      ],
    },
    components,
    dependencies: [{ ref: 'image', dependsOn: components.map((c) => c['bom-ref'] as string) }],
  };
}

/** Every `.ko` (and compressed module) under `root`, as image paths with SHA-256. */
export async function moduleFiles(root: string, prefix: string): Promise<{ path: string; sha256: string }[]> {
  const out: { path: string; sha256: string }[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile() && /\.ko(\.gz|\.xz|\.zst)?$/.test(entry.name)) {
        out.push({ path: `${prefix.replace(/\/+$/, '')}/${relative(root, p)}`.replace(/^\/+/, ''), sha256: createHash('sha256').update(await readFile(p)).digest('hex') });
      }
    }
  };
  await walk(root);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** How an artifact was attached: the registry's referrers API, or the tag-schema fallback. */
export type ReferrersPath = 'referrers-api' | 'tag-schema';

export interface AttachedArtifact {
  readonly manifest: Descriptor;
  readonly path: ReferrersPath;
  /** The tag-schema fallback index (`sha256-<hex>`), when that path was used. */
  readonly fallbackTag?: string;
}

type PinnedImage = ImageRef & { readonly digest: string };

/** Pushes `document` as an artifact whose subject is the image: referrers API when the registry has it, else the tag schema. */
export async function attachArtifact(client: RegistryClient, image: PinnedImage, artifactType: string, document: Buffer): Promise<AttachedArtifact> {
  const repo: ImageRef = { registry: image.registry, repository: image.repository };
  const subject = await client.describeManifest({ ...repo, digest: image.digest });
  if (subject === undefined) throw new Error(`${image.registry}/${image.repository}@${image.digest} does not exist: attach artifacts to pushed images only`);
  const referrersApi = (await client.referrers(image)) !== undefined;
  const config = await client.pushBlob(repo, EMPTY_CONFIG.mediaType, EMPTY_CONFIG.bytes);
  const layer = await client.pushBlob(repo, artifactType, document);
  const annotations = { 'org.opencontainers.image.created': new Date().toISOString() };
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      artifactType,
      config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
      layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations,
    }),
  );
  const digest = createHash('sha256').update(bytes).digest('hex');
  const put = await client.putManifestReporting({ ...repo, digest: `sha256:${digest}` }, MEDIA_TYPES.ociManifest, bytes);
  const manifest: Descriptor = { mediaType: MEDIA_TYPES.ociManifest, digest: `sha256:${digest}`, size: bytes.length };
  // The spec's client rule: without `OCI-Subject` naming the subject, the registry did
  // not index the artifact, whatever its referrers endpoint said: use the tag schema.
  if (referrersApi && put.ociSubject === image.digest) return { manifest, path: 'referrers-api' };

  // Tag-schema fallback: keep the other referrers, replace none, add this one.
  const fallbackTag = attachmentTag(image.digest, '');
  const tagRef: ImageRef = { ...repo, tag: fallbackTag };
  const existing = (await readFallbackIndex(client, tagRef)).filter((m) => m.digest !== manifest.digest);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [...existing, { ...manifest, artifactType, annotations }],
    }),
  );
  await client.putManifest(tagRef, MEDIA_TYPES.ociIndex, index);
  return { manifest, path: 'tag-schema', fallbackTag };
}

async function readFallbackIndex(client: RegistryClient, tagRef: ImageRef): Promise<Descriptor[]> {
  if ((await client.describeManifest(tagRef)) === undefined) return [];
  const index = JSON.parse((await client.getManifestBytes(tagRef)).bytes.toString('utf8')) as { manifests?: Descriptor[] };
  return index.manifests ?? [];
}

/** The artifacts of `artifactType` attached to an image, found through the tag-schema fallback. */
export async function listReferrersByTag(client: RegistryClient, image: PinnedImage, artifactType: string): Promise<Descriptor[]> {
  const tagRef: ImageRef = { registry: image.registry, repository: image.repository, tag: attachmentTag(image.digest, '') };
  return (await readFallbackIndex(client, tagRef)).filter((m) => m.artifactType === artifactType);
}

/**
 * The artifacts of `artifactType` attached to an image: through the referrers API when
 * the registry has one (then the tag schema too, for artifacts a registry indexed
 * without confirming the subject), else through the tag schema alone.
 */
export async function findReferrers(client: RegistryClient, image: PinnedImage, artifactType: string): Promise<{ path: ReferrersPath; descriptors: Descriptor[] }> {
  const api = await client.referrers(image, artifactType);
  const byTag = await listReferrersByTag(client, image, artifactType);
  if (api === undefined) return { path: 'tag-schema', descriptors: byTag };
  return { path: 'referrers-api', descriptors: [...api, ...byTag.filter((t) => !api.some((a) => a.digest === t.digest))] };
}

export interface EnsuredArtifact extends AttachedArtifact {
  /** False when the image already had an artifact of this type (nothing was pushed). */
  readonly added: boolean;
}

/**
 * Attaches the document `make()` returns unless the image already has an artifact of
 * `artifactType`: an image gets one SBOM, however often its build runs.
 */
export async function ensureArtifact(client: RegistryClient, image: PinnedImage, artifactType: string, make: () => Promise<Buffer>): Promise<EnsuredArtifact> {
  const found = await findReferrers(client, image, artifactType);
  const first = found.descriptors[0];
  if (first !== undefined) {
    return { manifest: { mediaType: first.mediaType, digest: first.digest, size: first.size }, path: found.path, added: false };
  }
  return { ...(await attachArtifact(client, image, artifactType, await make())), added: true };
}

/** The document (the one layer) of an artifact manifest, read back through the registry. */
export async function readArtifactDocument(client: RegistryClient, repo: ImageRef, manifestDigest: string, maxBytes = 16 * 1024 * 1024): Promise<Buffer> {
  const pinned: ImageRef = { registry: repo.registry, repository: repo.repository, digest: manifestDigest };
  const manifest = JSON.parse((await client.getManifestBytes(pinned)).bytes.toString('utf8')) as { layers?: Descriptor[] };
  const layer = manifest.layers?.[0];
  if (layer === undefined) throw new Error(`${repo.registry}/${repo.repository}@${manifestDigest} has no layer: not an SBOM artifact`);
  if (layer.size > maxBytes) throw new Error(`the SBOM of ${repo.registry}/${repo.repository}@${manifestDigest} is ${layer.size} bytes, more than ${maxBytes}`);
  const chunks: Buffer[] = [];
  for await (const chunk of await client.openBlob(pinned, layer)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface IndexEntrySbom {
  readonly platform: { readonly os: string; readonly architecture: string; readonly variant?: string };
  readonly digest: string;
  /** The SBOM attached to this per-arch image, when it has one, and the kernel it names. */
  readonly sbom?: { readonly digest: string; readonly kernel?: string };
}

export interface IndexSbomInput {
  readonly image: PinnedImage;
  readonly manifests: readonly IndexEntrySbom[];
  readonly buildId?: string;
  readonly attachedLater?: boolean;
  readonly toolVersion: string;
  /** @default now */
  readonly timestamp?: Date;
}

/** The SBOM of a multi-arch index: its per-arch manifests and the SBOM of each. */
export function buildIndexSbom(input: IndexSbomInput): Record<string, unknown> {
  const repoName = `${input.image.registry}/${input.image.repository}`;
  const components = input.manifests.map((m) => {
    const platform = `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ''}`;
    return {
      type: 'container',
      'bom-ref': `image:${platform}`,
      name: repoName,
      version: m.digest,
      hashes: [{ alg: 'SHA-256', content: digestHex(m.digest) }],
      ...(m.sbom ? { externalReferences: [{ type: 'bom', url: `${repoName}@${m.sbom.digest}`, comment: 'the CycloneDX SBOM attached to this image (OCI referrer)' }] } : {}),
      properties: [
        { name: 'dtk-pipeline:platform', value: platform },
        { name: 'dtk-pipeline:sbom', value: m.sbom ? m.sbom.digest : 'none attached when the index SBOM was written' },
        ...(m.sbom?.kernel ? [{ name: 'dtk-pipeline:kernel', value: m.sbom.kernel }] : []),
      ],
    };
  });
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: (input.timestamp ?? new Date()).toISOString(),
      tools: { components: [{ type: 'application', name: 'dtk-pipeline', version: input.toolVersion }] },
      component: {
        type: 'container',
        'bom-ref': 'image',
        name: repoName,
        version: input.image.digest,
        hashes: [{ alg: 'SHA-256', content: digestHex(input.image.digest) }],
        description: 'multi-arch image index',
      },
      properties: [
        { name: 'dtk-pipeline:image-kind', value: 'index' },
        ...(input.buildId ? [{ name: input.attachedLater ? 'dtk-pipeline:sbom-attached-by-build' : 'dtk-pipeline:build-id', value: input.buildId }] : []),
      ],
    },
    components,
    dependencies: [{ ref: 'image', dependsOn: components.map((c) => c['bom-ref']) }],
  };
}
