/**
 * The SBOM of a pushed image: a CycloneDX 1.6 JSON document naming the kernel, the DTK
 * image, the base image, the driver source and the commit it resolved to, the build id,
 * and every module file with its SHA-256; attached to the image as an OCI artifact.
 *
 * Attaching (OCI distribution spec 1.1, "Pushing manifests with subject"): an OCI image
 * manifest with `artifactType: application/vnd.cyclonedx+json`, the empty config, the
 * document as its one layer, and `subject` = the image. Registries with the referrers
 * API index it from `subject`. For registries without it (Debian's docker-registry
 * 2.8, for one) the spec's tag-schema fallback is written too: an OCI index under the
 * tag `sha256-<image hex>` listing the referrers. The registry client does not expose
 * the `OCI-Subject` response header, so the fallback is always kept up to date rather
 * than only when a registry lacks the API; clients of either kind find the SBOM.
 *
 * The document is plain JSON built here: the fields are few and fixed, and the test
 * validates it against the published JSON schema.
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

export interface SbomInput {
  /** The image the SBOM describes, pinned by digest. */
  readonly image: ImageRef & { readonly digest: string };
  readonly kernel: string;
  readonly dtkImage?: string;
  readonly baseImage?: string;
  readonly sourceUrl?: string;
  readonly sourceCommit?: string;
  readonly buildId?: string;
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
  const components: Record<string, unknown>[] = [
    { type: 'operating-system', 'bom-ref': 'kernel', name: 'linux-kernel', version: input.kernel, description: 'the kernel the modules are built for (vermagic)' },
  ];
  if (input.dtkImage) components.push(imageComponent(input.dtkImage, 'driver-toolkit'));
  if (input.baseImage) components.push(imageComponent(input.baseImage, 'base-image'));
  if (input.sourceUrl) {
    components.push({
      type: 'application',
      'bom-ref': 'driver-source',
      name: input.sourceUrl,
      ...(input.sourceCommit ? { version: input.sourceCommit } : {}),
      externalReferences: [{ type: 'vcs', url: input.sourceUrl, ...(input.sourceCommit ? { comment: `commit ${input.sourceCommit}` } : {}) }],
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
        { name: 'dtk-pipeline:kernel', value: input.kernel },
        ...(input.buildId ? [{ name: 'dtk-pipeline:build-id', value: input.buildId }] : []),
        ...(input.sourceCommit ? [{ name: 'dtk-pipeline:source-commit', value: input.sourceCommit }] : []),
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

export interface AttachedArtifact {
  readonly manifest: Descriptor;
  /** The tag-schema fallback index (`sha256-<hex>`). */
  readonly fallbackTag: string;
}

/** Pushes `document` as an artifact whose subject is the image, and updates the fallback index. */
export async function attachArtifact(client: RegistryClient, image: ImageRef & { readonly digest: string }, artifactType: string, document: Buffer): Promise<AttachedArtifact> {
  const repo: ImageRef = { registry: image.registry, repository: image.repository };
  const subject = await client.describeManifest({ ...repo, digest: image.digest });
  if (subject === undefined) throw new Error(`${image.registry}/${image.repository}@${image.digest} does not exist: attach artifacts to pushed images only`);
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
  await client.putManifest({ ...repo, digest: `sha256:${digest}` }, MEDIA_TYPES.ociManifest, bytes);
  const manifest: Descriptor = { mediaType: MEDIA_TYPES.ociManifest, digest: `sha256:${digest}`, size: bytes.length };

  // Tag-schema fallback: keep the other referrers, replace none, add this one.
  const fallbackTag = attachmentTag(image.digest, '');
  const tagRef: ImageRef = { ...repo, tag: fallbackTag };
  let existing: (Descriptor & { artifactType?: string })[] = [];
  if ((await client.describeManifest(tagRef)) !== undefined) {
    const index = JSON.parse((await client.getManifestBytes(tagRef)).bytes.toString('utf8')) as { manifests?: (Descriptor & { artifactType?: string })[] };
    existing = (index.manifests ?? []).filter((m) => m.digest !== manifest.digest);
  }
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [...existing, { ...manifest, artifactType, annotations }],
    }),
  );
  await client.putManifest(tagRef, MEDIA_TYPES.ociIndex, index);
  return { manifest, fallbackTag };
}

/** The artifacts of `artifactType` attached to an image, found through the tag-schema fallback. */
export async function listReferrersByTag(client: RegistryClient, image: ImageRef & { readonly digest: string }, artifactType: string): Promise<Descriptor[]> {
  const tagRef: ImageRef = { registry: image.registry, repository: image.repository, tag: attachmentTag(image.digest, '') };
  if ((await client.describeManifest(tagRef)) === undefined) return [];
  const index = JSON.parse((await client.getManifestBytes(tagRef)).bytes.toString('utf8')) as { manifests?: (Descriptor & { artifactType?: string })[] };
  return (index.manifests ?? []).filter((m) => m.artifactType === artifactType);
}
