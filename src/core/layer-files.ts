/**
 * Reads named files out of an image layer while it streams, and stops decompressing
 * as soon as every wanted file has been seen: a release payload's last layer is small,
 * but component layers are not, and we never want to inflate more than needed.
 *
 * Nothing read is returned before the layer's bytes are known to be its descriptor's:
 * the source stream (`ImageSource.openBlob`) fails unless it ends at the declared size
 * with the declared digest, so once the wanted files are found the rest of the
 * compressed stream is still read (and hashed by the source), not inflated. The
 * compressed bytes are bounded by the descriptor's size and the blob deadline; the
 * inflated bytes by `maxDecompressedBytes`, which stops a gzip or zstd bomb early.
 *
 * Layer media types: tar, tar+gzip (OCI and Docker), tar+zstd (zstd:chunked too: it is
 * plain zstd frames plus skippable frames, which a decoder passes over).
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { extract } from 'tar-stream';

/** Thrown when a layer cannot be read as a (compressed) tar, or fails verification. */
export class LayerReadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LayerReadError';
  }
}

const GZIP_MEDIA_TYPES = new Set(['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.docker.image.rootfs.diff.tar.gzip']);
const ZSTD_MEDIA_TYPES = new Set(['application/vnd.oci.image.layer.v1.tar+zstd']);
const PLAIN_MEDIA_TYPES = new Set(['application/vnd.oci.image.layer.v1.tar']);

/** Largest single file we are willing to buffer (the files we read are a few KiB). */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

/**
 * Default cap on the tar bytes inflated from one layer: 512 MiB. The layers read here
 * (a payload's release-manifests, a node image's meta.json layer, the DTK's last
 * layers) inflate to tens of MiB; 5 GiB of zeros ahead of a wanted file stops at 10%.
 */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 512 * 1024 * 1024;

export interface LayerReadOptions {
  /** Most tar bytes inflated from the layer before giving up. @default DEFAULT_MAX_DECOMPRESSED_BYTES */
  readonly maxDecompressedBytes?: number;
}

function normalise(path: string): string {
  return path.replace(/^\.?\/+/, '');
}

/**
 * A streaming zstd decoder over fzstd (pure JS: Node 20 has no zstd in zlib, and the
 * native npm bindings download prebuilt binaries at install). The input is fed in
 * small slices with back-pressure between them, because one zstd block of a few bytes
 * can stand for 128 KiB of output: a slice never inflates to more than a few MiB.
 */
class ZstdDecoder extends Transform {
  static readonly SLICE = 512;
  readonly #decoder: Decompress;
  #full = false;
  #waiting: (() => void) | undefined;

  constructor() {
    super();
    this.#decoder = new Decompress((chunk) => {
      if (chunk.length > 0) this.#full = !this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    });
  }

  override _read(size: number): void {
    const resume = this.#waiting;
    this.#waiting = undefined;
    this.#full = false;
    resume?.();
    super._read(size);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#feed(chunk).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#decoder.push(new Uint8Array(0), true);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  async #feed(chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length; offset += ZstdDecoder.SLICE) {
      if (this.destroyed) return;
      this.#decoder.push(chunk.subarray(offset, offset + ZstdDecoder.SLICE));
      if (this.#full) await new Promise<void>((resolve) => (this.#waiting = resolve));
    }
  }
}

class LayerLimitError extends Error {
  constructor(readonly limit: number) {
    super(`the layer inflates to more than the ${limit}-byte limit (maxDecompressedBytes) before the wanted files were found`);
    this.name = 'LayerLimitError';
  }
}

/**
 * Extracts the wanted files (paths without a leading `/`) from a layer stream.
 * Resolves with the files found (all of them, or fewer when the layer ends first),
 * only after `source` has ended without an error, i.e. after it has been verified.
 */
export async function readLayerFiles(
  source: Readable,
  mediaType: string,
  wanted: readonly string[],
  options: LayerReadOptions = {},
): Promise<Map<string, Buffer>> {
  const kind = GZIP_MEDIA_TYPES.has(mediaType) ? 'gzip' : ZSTD_MEDIA_TYPES.has(mediaType) ? 'zstd' : PLAIN_MEDIA_TYPES.has(mediaType) ? 'plain' : undefined;
  if (kind === undefined) {
    source.destroy();
    throw new LayerReadError(`unsupported layer media type ${JSON.stringify(mediaType)} (expected a tar, tar+gzip or tar+zstd layer)`);
  }
  const limit = options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  const remaining = new Set(wanted.map(normalise));
  const found = new Map<string, Buffer>();
  const decoder = kind === 'gzip' ? createGunzip({ chunkSize: 256 * 1024 }) : kind === 'zstd' ? new ZstdDecoder() : undefined;
  const tar = extract();
  const what = kind === 'plain' ? 'tar' : `tar+${kind}`;

  return await new Promise<Map<string, Buffer>>((resolve, reject) => {
    let settled = false;
    let sourceEnded = false;
    let draining = false;
    const fail = (error: unknown, fromSource: boolean) => {
      if (settled) return;
      settled = true;
      stopInflating();
      source.destroy();
      const reason = error instanceof Error ? error.message : String(error);
      if (error instanceof LayerLimitError) reject(new LayerReadError(reason, { cause: error }));
      else if (fromSource) reject(new LayerReadError(`layer could not be read: ${reason}`, { cause: error }));
      else reject(new LayerReadError(`layer is not a readable ${what}: ${reason}`, { cause: error }));
    };
    const stopInflating = () => {
      source.unpipe();
      decoder?.unpipe();
      decoder?.destroy();
      tar.destroy();
    };
    /** Everything wanted is here (or the tar ended): read the rest of the blob without inflating it, for its digest. */
    const drain = () => {
      if (draining || settled) return;
      draining = true;
      stopInflating();
      if (sourceEnded) done();
      else source.resume();
    };
    const done = () => {
      if (settled) return;
      settled = true;
      resolve(found);
    };

    tar.on('entry', (header, stream, next) => {
      const name = normalise(header.name);
      if (header.type !== 'file' || !remaining.has(name)) {
        stream.on('end', next);
        stream.resume();
        return;
      }
      if (header.size !== undefined && header.size > MAX_FILE_BYTES) {
        fail(new Error(`${name} is ${header.size} bytes, more than the ${MAX_FILE_BYTES} allowed`), false);
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
      stream.on('end', () => {
        found.set(name, Buffer.concat(chunks));
        remaining.delete(name);
        if (remaining.size === 0) drain();
        else next();
      });
    });
    tar.on('finish', drain);
    tar.on('error', (err) => fail(err, false));
    // The inflated bytes are counted where they leave the decoder (a 'data' listener
    // beside the pipe: no extra stream hop on the hot path).
    let inflated = 0;
    (decoder ?? source).on('data', (chunk: Buffer) => {
      inflated += chunk.length;
      if (inflated > limit && !draining) fail(new LayerLimitError(limit), false);
    });
    decoder?.on('error', (err) => fail(err, false));
    source.on('error', (err) => fail(err, true));
    source.on('end', () => {
      sourceEnded = true;
      if (draining) done();
    });

    if (decoder) source.pipe(decoder).pipe(tar);
    else source.pipe(tar);
  });
}
