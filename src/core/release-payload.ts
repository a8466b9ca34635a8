/**
 * A release payload image → the component images it names.
 *
 * Like `oc adm release info`, only the payload's last layer is read; in it,
 * `release-manifests/image-references` (an ImageStream) and
 * `release-manifests/release-metadata` (Cincinnati metadata).
 */
import * as z from 'zod';
import type { ImageReader } from './image-reader.ts';
import { parseImageReference } from './registry/reference.ts';
import type { ImageRef, Platform, ResolvedManifest } from './registry/types.ts';

export const IMAGE_REFERENCES_PATH = 'release-manifests/image-references';
export const RELEASE_METADATA_PATH = 'release-manifests/release-metadata';

/** The payload is readable but not a usable release (permanent; retrying will not help). */
export class PayloadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PayloadError';
  }
}

export const imageStreamSchema = z.object({
  kind: z.literal('ImageStream'),
  spec: z.object({
    tags: z
      .array(
        z.object({
          name: z.string().min(1),
          annotations: z.record(z.string(), z.string()).nullish(),
          from: z.object({ kind: z.string(), name: z.string().min(1) }),
        }),
      )
      .default([]),
  }),
});

export const releaseMetadataSchema = z.object({
  kind: z.literal('cincinnati-metadata-v0'),
  version: z.string().min(1),
  previous: z.array(z.string()).nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});
export type ReleaseMetadata = z.infer<typeof releaseMetadataSchema>;

export interface ComponentImage {
  readonly tag: string;
  readonly ref: ImageRef;
  readonly pullSpec: string;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface ReleasePayload {
  /** The payload's image manifest for the platform (after index selection). */
  readonly image: ResolvedManifest;
  readonly components: ReadonlyMap<string, ComponentImage>;
  readonly metadata?: ReleaseMetadata;
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new PayloadError(`${what} is not JSON: ${(error as Error).message}`);
  }
}

/** Reads a payload's components. `platform` picks the entry of a multi-arch payload. */
export async function readReleasePayload(
  source: ImageReader,
  payload: ImageRef,
  platform: Platform,
): Promise<ReleasePayload> {
  const image = await source.getManifest(payload, platform);
  const last = image.manifest.layers.at(-1);
  if (!last) throw new PayloadError('the payload image has no layers');
  const files = await source.readFiles(image.ref, last, [IMAGE_REFERENCES_PATH, RELEASE_METADATA_PATH]);

  const refsFile = files.get(IMAGE_REFERENCES_PATH);
  if (!refsFile) throw new PayloadError(`the payload's last layer has no ${IMAGE_REFERENCES_PATH}`);
  const parsed = imageStreamSchema.safeParse(parseJson(refsFile, IMAGE_REFERENCES_PATH));
  if (!parsed.success) {
    throw new PayloadError(`${IMAGE_REFERENCES_PATH} is not an ImageStream: ${z.prettifyError(parsed.error)}`);
  }

  const components = new Map<string, ComponentImage>();
  for (const tag of parsed.data.spec.tags) {
    if (tag.from.kind !== 'DockerImage') continue;
    let ref: ImageRef;
    try {
      ref = parseImageReference(tag.from.name);
    } catch {
      continue; // a tag we cannot pull is reported when (and if) we need it
    }
    // Only images pinned by digest are used (real payloads pin every one): a tag can be
    // moved by whoever controls its registry, and the release DTK becomes a driver
    // build's `FROM`. An unpinned one is reported as missing when (and if) we need it.
    if (ref.digest === undefined) continue;
    components.set(tag.name, { tag: tag.name, ref, pullSpec: tag.from.name, annotations: tag.annotations ?? {} });
  }

  let metadata: ReleaseMetadata | undefined;
  const metaFile = files.get(RELEASE_METADATA_PATH);
  if (metaFile) {
    const meta = releaseMetadataSchema.safeParse(parseJson(metaFile, RELEASE_METADATA_PATH));
    if (meta.success) metadata = meta.data;
  }
  return { image, components, ...(metadata ? { metadata } : {}) };
}
