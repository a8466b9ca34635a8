/**
 * Reads named files out of an image layer while it streams, and stops reading as
 * soon as every wanted file has been seen: a release payload's last layer is
 * small, but component layers are not, and we never want more bytes than needed.
 */
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { extract } from 'tar-stream';

/** Thrown when a layer cannot be read as a (gzipped) tar. */
export class LayerReadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LayerReadError';
  }
}

const GZIP_MEDIA_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
]);
const PLAIN_MEDIA_TYPES = new Set(['application/vnd.oci.image.layer.v1.tar']);

/** Largest single file we are willing to buffer (the files we read are a few KiB). */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

function normalise(path: string): string {
  return path.replace(/^\.?\/+/, '');
}

/**
 * Extracts the wanted files (paths without a leading `/`) from a layer stream.
 * Resolves with the files found: all of them, or fewer when the layer ends first.
 * The source stream is destroyed as soon as the last wanted file has been read.
 */
export async function readLayerFiles(
  source: Readable,
  mediaType: string,
  wanted: readonly string[],
): Promise<Map<string, Buffer>> {
  const gzip = GZIP_MEDIA_TYPES.has(mediaType);
  if (!gzip && !PLAIN_MEDIA_TYPES.has(mediaType)) {
    source.destroy();
    throw new LayerReadError(`unsupported layer media type ${JSON.stringify(mediaType)} (expected a tar or tar+gzip layer)`);
  }
  const remaining = new Set(wanted.map(normalise));
  const found = new Map<string, Buffer>();
  const tar = extract();
  const gunzip = gzip ? createGunzip() : undefined;

  return await new Promise<Map<string, Buffer>>((resolve, reject) => {
    let settled = false;
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      source.unpipe();
      gunzip?.unpipe();
      source.destroy();
      gunzip?.destroy();
      tar.destroy();
      if (error) {
        const reason = error instanceof Error ? error.message : String(error);
        reject(new LayerReadError(`layer is not a readable tar${gzip ? '+gzip' : ''}: ${reason}`, { cause: error }));
      } else {
        resolve(found);
      }
    };

    tar.on('entry', (header, stream, next) => {
      const name = normalise(header.name);
      if (header.type !== 'file' || !remaining.has(name)) {
        stream.on('end', next);
        stream.resume();
        return;
      }
      if (header.size !== undefined && header.size > MAX_FILE_BYTES) {
        finish(new Error(`${name} is ${header.size} bytes, more than the ${MAX_FILE_BYTES} allowed`));
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
      stream.on('end', () => {
        found.set(name, Buffer.concat(chunks));
        remaining.delete(name);
        if (remaining.size === 0) finish();
        else next();
      });
    });
    tar.on('finish', () => finish());
    tar.on('error', finish);
    source.on('error', finish);
    gunzip?.on('error', finish);

    if (gunzip) source.pipe(gunzip).pipe(tar);
    else source.pipe(tar);
  });
}
