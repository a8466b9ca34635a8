/**
 * The OCI image / Docker v2 formats as the registry client reads them: media types,
 * the schemas every manifest, index, config and token answer is checked against, and
 * the blob verifier that holds a blob to its descriptor's size and digest.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import * as z from 'zod';
import type { Descriptor } from './types.ts';

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

/** The Accept header of every manifest request: all four manifest and index types. */
export const MANIFEST_ACCEPT = Object.values(MEDIA_TYPES).join(', ');

export const INDEX_TYPES: ReadonlySet<string> = new Set([MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociIndex]);
export const MANIFEST_TYPES: ReadonlySet<string> = new Set([MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest]);

export const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

export const descriptorSchema = z.object({
  mediaType: z.string(),
  digest: z.string().regex(SHA256_DIGEST, 'must be sha256:<64 lowercase hex>'),
  size: z.number().int().nonnegative(),
  platform: z.object({ architecture: z.string(), os: z.string(), variant: z.string().optional() }).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  /** OCI 1.1: the artifact type of a referrer (in referrers indexes and the tag-schema fallback). */
  artifactType: z.string().optional(),
});

export const imageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const imageIndexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
});

export const imageConfigSchema = z.object({
  architecture: z.string().optional(),
  os: z.string().optional(),
  config: z.object({ Labels: z.record(z.string(), z.string()).nullable().optional() }).nullish().transform((c) => c ?? undefined),
});

export function sha256(body: Buffer): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

/** Thrown by `verifyingStream` when a blob is bigger than its descriptor says, or its digest differs. */
export class BlobMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobMismatchError';
  }
}

/**
 * Passes a blob through, failing the moment it goes past the descriptor's size and,
 * at its end, unless it is exactly that size with that digest. A consumer knows the
 * bytes are the descriptor's only once this stream has ended without an error, so a
 * reader that found what it wanted early must still read it to the end.
 */
export function verifyingStream(descriptor: Descriptor): Transform {
  const hash = createHash('sha256');
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      if (size > descriptor.size) {
        callback(new BlobMismatchError(`blob ${descriptor.digest} is longer than the ${descriptor.size} bytes its descriptor declares`));
        return;
      }
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      const digest = `sha256:${hash.digest('hex')}`;
      if (size !== descriptor.size || digest !== descriptor.digest) {
        callback(new BlobMismatchError(`blob ${descriptor.digest}: received ${size} bytes with digest ${digest}, expected ${descriptor.size} bytes`));
      } else {
        callback();
      }
    },
  });
}
