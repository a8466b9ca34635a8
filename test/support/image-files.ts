/**
 * Reads an image back from a registry with the project's client: raw manifest and
 * config bytes, and every layer's files (later layers win, whiteouts ignored); pushes
 * images made in memory; scans an image for values that must not be in it.
 */
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import type { RegistryClient } from '#core/registry/client.ts';
import { pushImage } from '#core/registry/push.ts';
import type { Descriptor, ImageRef, ResolvedManifest } from '#core/registry/types.ts';
import type { BuiltImage } from '#world/oci.ts';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface LayerContent {
  readonly digest: string;
  readonly size: number;
  /** The uncompressed tar. */
  readonly tar: Buffer;
  readonly files: ReadonlyMap<string, Buffer>;
}

export interface PulledImage {
  readonly manifest: ResolvedManifest;
  readonly manifestBytes: Buffer;
  readonly configBytes: Buffer;
  readonly layers: readonly LayerContent[];
  /** Files of all layers, later layers win. */
  readonly files: ReadonlyMap<string, Buffer>;
  /** Manifest + config + compressed layer bytes: what a push of this image into an empty repository sends. */
  readonly bytes: number;
}

async function untar(tar: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const ex = extract();
  await new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      stream.on('end', () => {
        if (header.type === 'file') files.set(header.name.replace(/^\.?\//, ''), Buffer.concat(chunks));
        next();
      });
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
    ex.end(tar);
  });
  return files;
}

export async function pullImage(client: RegistryClient, ref: ImageRef): Promise<PulledImage> {
  const raw = await client.getManifestBytes(ref);
  const manifest = await client.getManifest({ registry: ref.registry, repository: ref.repository, digest: raw.digest });
  const configBytes = await readAll(await client.openBlob(manifest.ref, manifest.manifest.config));
  const layers: LayerContent[] = [];
  const files = new Map<string, Buffer>();
  for (const layer of manifest.manifest.layers) {
    const blob = await readAll(await client.openBlob(manifest.ref, layer));
    const tar = layer.mediaType.endsWith('gzip') ? await readAll(createGunzipStream(blob)) : blob;
    const layerFiles = await untar(tar);
    for (const [k, v] of layerFiles) files.set(k, v);
    layers.push({ digest: layer.digest, size: layer.size, tar, files: layerFiles });
  }
  const bytes = raw.bytes.length + configBytes.length + manifest.manifest.layers.reduce((n, l) => n + l.size, 0);
  return { manifest, manifestBytes: raw.bytes, configBytes, layers, files, bytes };
}

function createGunzipStream(blob: Buffer): Readable {
  const gunzip = createGunzip();
  gunzip.end(blob);
  return gunzip;
}

/** Pushes an image made with buildImage() (#world/oci.ts) through the registry API; resolves with its descriptor. */
export async function pushBuiltImage(client: RegistryClient, ref: ImageRef, image: BuiltImage): Promise<Descriptor> {
  return pushImage(client, ref, {
    manifest: { mediaType: image.manifest.mediaType, bytes: image.manifest.bytes },
    blobs: [image.config, ...image.layers.map((l) => l.blob)].map((b) => ({ mediaType: b.mediaType, bytes: b.bytes })),
  });
}

/**
 * Every place in a pulled image where a needle is found: the manifest, the config
 * (history, labels, env) and every byte of every uncompressed layer tar. A string needle
 * is named by itself, a byte needle by its position (`needle <i>`).
 */
export function imageLeaks(image: PulledImage, needles: readonly (string | Buffer)[]): string[] {
  const found: string[] = [];
  needles.forEach((needle, i) => {
    const bytes = typeof needle === 'string' ? Buffer.from(needle) : needle;
    const name = typeof needle === 'string' ? needle : `needle ${i}`;
    if (image.manifestBytes.includes(bytes)) found.push(`manifest contains ${name}`);
    if (image.configBytes.includes(bytes)) found.push(`config (history, labels, env) contains ${name}`);
    for (const layer of image.layers) if (layer.tar.includes(bytes)) found.push(`layer ${layer.digest} contains ${name}`);
  });
  return found;
}
