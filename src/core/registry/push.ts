/**
 * Pushing small images whose bytes are in memory (indexes, test images, tiny helper
 * images) with the project's registry client: blobs first (skipped when the repository
 * has them), then the manifest. Builds push their big layers with buildah instead.
 */
import type { RegistryClient } from './client.ts';
import { MEDIA_TYPES } from './client.ts';
import type { Descriptor, ImageRef } from './types.ts';

export interface InMemoryBlob {
  readonly mediaType: string;
  readonly bytes: Buffer;
}

export interface InMemoryImage {
  /** The manifest (or index) bytes exactly as they are to be stored. */
  readonly manifest: InMemoryBlob;
  /** Config and layer blobs the manifest references. */
  readonly blobs: readonly InMemoryBlob[];
}

/** Pushes blobs, then the manifest under `ref` (a tag or digest). Resolves with the manifest's descriptor. */
export async function pushImage(client: RegistryClient, ref: ImageRef, image: InMemoryImage): Promise<Descriptor> {
  const manifestTypes: readonly string[] = Object.values(MEDIA_TYPES);
  if (!manifestTypes.includes(image.manifest.mediaType)) {
    throw new Error(`pushImage: ${JSON.stringify(image.manifest.mediaType)} is not a manifest media type`);
  }
  for (const blob of image.blobs) await client.pushBlob(ref, blob.mediaType, blob.bytes);
  const digest = await client.putManifest(ref, image.manifest.mediaType, image.manifest.bytes);
  return { mediaType: image.manifest.mediaType, digest, size: image.manifest.bytes.length };
}
