/**
 * Image signatures in cosign's sigstore format, the one containers/image (and so
 * CRI-O, for OpenShift's ClusterImagePolicy) verifies with a `sigstoreSigned` policy
 * and `use-sigstore-attachments: true`:
 *
 *   payload    the "simple signing" JSON naming the repository and manifest digest
 *              (`type: cosign container image signature`), signed with the key
 *   attachment an OCI image manifest tagged `sha256-<hex>.sig` in the image's
 *              repository; each layer is one payload (media type
 *              `application/vnd.dev.cosign.simplesigning.v1+json`) with the base64
 *              signature in the annotation `dev.cosignproject.cosign/signature`
 *
 * No cosign library exists for Node; the format is two small JSON documents, written
 * here by hand after cosign's `pkg/oci` and containers/image's `signature/sigstore`.
 * A new signature is added beside the ones already attached (as `cosign sign` does);
 * signing the same payload with the same key again adds nothing.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import type { RegistryClient } from '../registry/client.ts';
import { MEDIA_TYPES } from '../registry/client.ts';
import { formatImageReference } from '../registry/reference.ts';
import type { Descriptor, ImageRef } from '../registry/types.ts';
import type { Signer } from './signer.ts';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
const CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
const DIGEST = /^sha256:([a-f0-9]{64})$/;

/** `sha256:<hex>` → `sha256-<hex>` + suffix (cosign's tag scheme for attachments). */
export function attachmentTag(digest: string, suffix: '.sig' | '.att' | '.sbom' | ''): string {
  const m = DIGEST.exec(digest);
  if (!m) throw new Error(`${JSON.stringify(digest)} is not a sha256 digest`);
  return `sha256-${m[1]}${suffix}`;
}

/** The repository as a signature names it: `registry/repository` (no tag, no digest). */
export function dockerReference(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The simple-signing payload cosign writes for an image digest. */
export function simpleSigningPayload(ref: ImageRef, digest: string): Buffer {
  if (!DIGEST.test(digest)) throw new Error(`${JSON.stringify(digest)} is not a sha256 digest`);
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': dockerReference(ref) },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
}

interface SignatureLayer extends Descriptor {
  readonly annotations: Readonly<Record<string, string>>;
}

function emptyConfig(layers: readonly Descriptor[]): Buffer {
  // What cosign writes: an image config whose rootfs lists the payloads.
  return Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
}

async function readLayers(client: RegistryClient, ref: ImageRef): Promise<SignatureLayer[]> {
  if ((await client.describeManifest(ref)) === undefined) return [];
  const existing = JSON.parse((await client.getManifestBytes(ref)).bytes.toString('utf8')) as { layers?: SignatureLayer[] };
  return (existing.layers ?? []).filter((l) => l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE && typeof l.annotations?.[SIGNATURE_ANNOTATION] === 'string');
}

export interface ImageSignature {
  /** The signed image, pinned by digest. */
  readonly image: string;
  /** The attachment, `registry/repo:sha256-<hex>.sig`. */
  readonly attachment: string;
  /** Digest of the attachment's manifest after this signature was added. */
  readonly attachmentDigest: string;
  /** False when this key had already signed this payload (nothing pushed). */
  readonly added: boolean;
}

/**
 * Signs the manifest `digest` of `ref`'s repository and attaches the signature. The
 * signature is checked with the signer's public key before anything is pushed.
 */
export async function signImage(client: RegistryClient, ref: ImageRef, digest: string, signer: Signer): Promise<ImageSignature> {
  const payload = simpleSigningPayload(ref, digest);
  const signature = await signer.sign(payload);
  const publicKey = createPublicKey({ key: await signer.publicKey(), format: 'der', type: 'spki' });
  if (!verify('sha256', payload, publicKey, signature)) throw new Error(`the signature from ${signer.description} does not verify with its public key`);

  const repo: ImageRef = { registry: ref.registry, repository: ref.repository };
  const tagRef: ImageRef = { ...repo, tag: attachmentTag(digest, '.sig') };
  const attachment = formatImageReference(tagRef);
  const layers = await readLayers(client, tagRef);
  const payloadDigest = `sha256:${createHash('sha256').update(payload).digest('hex')}`;
  const encoded = signature.toString('base64');
  const same = layers.find((l) => l.digest === payloadDigest && l.annotations[SIGNATURE_ANNOTATION] !== undefined && sameKeySignature(l, payload, publicKey));
  if (same) {
    const current = await client.describeManifest(tagRef);
    return { image: formatImageReference({ ...repo, digest }), attachment, attachmentDigest: current?.digest ?? '', added: false };
  }
  const layer = await client.pushBlob(repo, SIMPLE_SIGNING_MEDIA_TYPE, payload);
  const all: SignatureLayer[] = [...layers, { mediaType: layer.mediaType, digest: layer.digest, size: layer.size, annotations: { [SIGNATURE_ANNOTATION]: encoded } }];
  const config = emptyConfig(all);
  const configDescriptor = await client.pushBlob(repo, CONFIG_MEDIA_TYPE, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: configDescriptor.mediaType, digest: configDescriptor.digest, size: configDescriptor.size },
      layers: all.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size, annotations: l.annotations })),
    }),
  );
  const attachmentDigest = await client.putManifest(tagRef, MEDIA_TYPES.ociManifest, manifest);
  return { image: formatImageReference({ ...repo, digest }), attachment, attachmentDigest, added: true };
}

function sameKeySignature(layer: SignatureLayer, payload: Buffer, key: ReturnType<typeof createPublicKey>): boolean {
  const sig = layer.annotations[SIGNATURE_ANNOTATION];
  if (sig === undefined) return false;
  try {
    return verify('sha256', payload, key, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}

/** The public key as PEM (what a ClusterImagePolicy and a `sigstoreSigned` policy hold). */
export function publicKeyPem(spkiDer: Buffer): string {
  return createPublicKey({ key: spkiDer, format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }).toString();
}
