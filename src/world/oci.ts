/**
 * Builds real OCI / Docker v2 images from `ImageSpec`s and pushes them over the registry
 * HTTP API. Building is deterministic: tar entries have fixed mtime, uid/gid and modes,
 * entries are sorted, gzip runs at a fixed level with no timestamp, so one spec always
 * gives the same digests (and shared content is pushed once).
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Agent, request as httpRequest } from 'node:http';
import type { FileContent, GoArch, ImageSpec, LayerSpec } from './spec.ts';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** All four manifest media types, for `Accept`. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifestList,
  MEDIA_TYPES.dockerManifest,
].join(', ');

/** Fixed timestamp of every tar entry and image config (2024-01-01T00:00:00Z). */
export const FIXED_MTIME = new Date('2024-01-01T00:00:00Z');
const GZIP_LEVEL = 6;

export interface Blob {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly bytes: Buffer;
}

export interface BuiltLayer {
  readonly blob: Blob;
  /** sha256 of the uncompressed tar (config `rootfs.diff_ids`). */
  readonly diffId: string;
}

export interface BuiltImage {
  readonly manifest: Blob;
  readonly config: Blob;
  readonly layers: readonly BuiltLayer[];
  readonly platform: OciPlatform;
}

export interface OciPlatform {
  readonly architecture: GoArch;
  readonly os: 'linux';
}

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function toBlob(mediaType: string, bytes: Buffer): Blob {
  return { mediaType, digest: sha256(bytes), size: bytes.length, bytes };
}

function contentBytes(content: FileContent): Buffer {
  if (typeof content === 'string') return Buffer.from(content, 'utf8');
  if (content instanceof Uint8Array) return Buffer.from(content);
  return Buffer.from(`${JSON.stringify(content.json, null, 2)}\n`, 'utf8');
}

// ---------------------------------------------------------------------------- tar

function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  header.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}

function splitUstarName(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== '/') continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { name, prefix };
  }
  throw new Error(`tar path too long for ustar: ${path}`);
}

function tarHeader(path: string, size: number, type: 'file' | 'directory'): Buffer {
  const header = Buffer.alloc(512);
  const { name, prefix } = splitUstarName(path);
  header.write(name, 0, 100, 'utf8');
  writeOctal(header, 100, 8, type === 'directory' ? 0o755 : 0o644);
  writeOctal(header, 108, 8, 0); // uid
  writeOctal(header, 116, 8, 0); // gid
  writeOctal(header, 124, 12, size);
  writeOctal(header, 136, 12, Math.floor(FIXED_MTIME.getTime() / 1000));
  header.fill(0x20, 148, 156); // checksum placeholder: spaces
  header.write(type === 'directory' ? '5' : '0', 156, 1, 'ascii');
  header.write('ustar\0', 257, 6, 'ascii');
  header.write('00', 263, 2, 'ascii');
  header.write('root', 265, 32, 'ascii');
  header.write('root', 297, 32, 'ascii');
  header.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return header;
}

/**
 * A deterministic ustar archive: parent directories first, entries sorted by path,
 * mtime {@link FIXED_MTIME}, uid/gid 0.
 */
export function buildTar(files: ReadonlyMap<string, Buffer> | Readonly<Record<string, Buffer>>): Buffer {
  const entries = files instanceof Map ? [...files.entries()] : Object.entries(files);
  const paths = new Map<string, Buffer | null>();
  for (const [rawPath, bytes] of entries) {
    const path = rawPath.replace(/^\/+/, '');
    if (path.length === 0) throw new Error('empty tar path');
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = `${parts.slice(0, i).join('/')}/`;
      if (!paths.has(dir)) paths.set(dir, null);
    }
    paths.set(path, bytes);
  }
  const chunks: Buffer[] = [];
  for (const path of [...paths.keys()].sort()) {
    const bytes = paths.get(path);
    if (bytes === null || bytes === undefined) {
      chunks.push(tarHeader(path, 0, 'directory'));
      continue;
    }
    chunks.push(tarHeader(path, bytes.length, 'file'), bytes);
    const pad = (512 - (bytes.length % 512)) % 512;
    if (pad > 0) chunks.push(Buffer.alloc(pad));
  }
  chunks.push(Buffer.alloc(1024));
  return Buffer.concat(chunks);
}

/** Deterministic incompressible bytes (sha256 in counter mode). */
export function fillerBytes(size: number, seed = 'filler'): Buffer {
  const out = Buffer.alloc(size);
  let offset = 0;
  for (let counter = 0; offset < size; counter++) {
    const block = createHash('sha256').update(`${seed}:${counter}`).digest();
    offset += block.copy(out, offset);
  }
  return out;
}

const fillerCache = new Map<number, Buffer>();

// ---------------------------------------------------------------------------- images

export type ImageFormat = 'oci' | 'docker';

function layerMediaType(format: ImageFormat): string {
  return format === 'docker' ? MEDIA_TYPES.dockerLayerGzip : MEDIA_TYPES.ociLayerGzip;
}

/** Built layers by spec object: a layer spec reused across images is built once. */
const layerCache = new WeakMap<LayerSpec, Map<ImageFormat, BuiltLayer>>();

export function buildLayer(spec: LayerSpec, format: ImageFormat = 'oci'): BuiltLayer {
  let byFormat = layerCache.get(spec);
  const cached = byFormat?.get(format);
  if (cached) return cached;
  const built = buildLayerUncached(spec, format);
  if (!byFormat) {
    byFormat = new Map();
    layerCache.set(spec, byFormat);
  }
  byFormat.set(format, built);
  return built;
}

function buildLayerUncached(spec: LayerSpec, format: ImageFormat): BuiltLayer {
  const files = new Map<string, Buffer>();
  for (const [path, content] of Object.entries(spec.files)) files.set(path, contentBytes(content));
  if (spec.fillerBytes !== undefined && spec.fillerBytes > 0) {
    let filler = fillerCache.get(spec.fillerBytes);
    if (!filler) {
      filler = fillerBytes(spec.fillerBytes);
      fillerCache.set(spec.fillerBytes, filler);
    }
    files.set('usr/share/filler/base.bin', filler);
  }
  const tar = buildTar(files);
  let gz = gzipSync(tar, { level: GZIP_LEVEL });
  if (spec.fault === 'truncated-gzip') gz = gz.subarray(0, Math.max(16, Math.floor(gz.length * 0.6)));
  return { blob: toBlob(layerMediaType(format), Buffer.from(gz)), diffId: sha256(tar) };
}

/** Stable JSON (keys in insertion order; our objects are built in a fixed order). */
function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function buildImage(spec: ImageSpec, architecture: GoArch): BuiltImage {
  const format = spec.format ?? 'oci';
  const layers = spec.layers.map((layer) => buildLayer(layer, format));
  const labels = spec.labels ?? {};
  const config = toBlob(
    format === 'docker' ? MEDIA_TYPES.dockerConfig : MEDIA_TYPES.ociConfig,
    jsonBytes({
      architecture,
      os: 'linux',
      created: FIXED_MTIME.toISOString(),
      config: { Labels: labels, Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: FIXED_MTIME.toISOString(), created_by: 'local-world' })),
    }),
  );
  const descriptor = (b: Blob): { mediaType: string; digest: string; size: number } => ({
    mediaType: b.mediaType,
    digest: b.digest,
    size: b.size,
  });
  const manifest = toBlob(
    format === 'docker' ? MEDIA_TYPES.dockerManifest : MEDIA_TYPES.ociManifest,
    jsonBytes({
      schemaVersion: 2,
      mediaType: format === 'docker' ? MEDIA_TYPES.dockerManifest : MEDIA_TYPES.ociManifest,
      config: descriptor(config),
      layers: layers.map((l) => descriptor(l.blob)),
    }),
  );
  return { manifest, config, layers, platform: { architecture, os: 'linux' } };
}

/** An index (OCI) or manifest list (docker) of images, each with its platform. */
export function buildIndex(images: readonly BuiltImage[], format: ImageFormat = 'oci'): Blob {
  const mediaType = format === 'docker' ? MEDIA_TYPES.dockerManifestList : MEDIA_TYPES.ociIndex;
  return toBlob(
    mediaType,
    jsonBytes({
      schemaVersion: 2,
      mediaType,
      manifests: images.map((image) => ({
        mediaType: image.manifest.mediaType,
        digest: image.manifest.digest,
        size: image.manifest.size,
        platform: { architecture: image.platform.architecture, os: image.platform.os },
      })),
    }),
  );
}

// ---------------------------------------------------------------------------- push

export interface PushTarget {
  /** `http://127.0.0.1:PORT` of the registry. */
  readonly registryUrl: string;
  /** Token endpoint, e.g. `http://127.0.0.1:PORT/token`. */
  readonly tokenUrl: string;
  readonly service: string;
  readonly username: string;
  readonly password: string;
}

export interface PushStats {
  blobsUploaded: number;
  blobsSkipped: number;
  bytesUploaded: number;
  manifestsPut: number;
  requests: number;
}

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
}

/**
 * Pushes blobs and manifests with the registry HTTP API: HEAD to skip existing blobs,
 * monolithic upload (POST then PUT `?digest=`), PUT manifests. Remembers what it pushed
 * so shared blobs are uploaded once even when many pushes run at the same time.
 */
export class RegistryPusher {
  readonly stats: PushStats = { blobsUploaded: 0, blobsSkipped: 0, bytesUploaded: 0, manifestsPut: 0, requests: 0 };
  /** Keep-alive connections to the world's (plain http, loopback) registry. */
  private readonly agent: Agent;
  private readonly tokens = new Map<string, Promise<CachedToken>>();
  private readonly blobs = new Map<string, Promise<void>>();
  private readonly manifests = new Map<string, Promise<void>>();

  /**
   * @param checkExisting HEAD each blob first and skip it when the registry has it. Turn
   *   off only for storage known to be empty (saves a request per blob).
   */
  constructor(
    private readonly target: PushTarget,
    connections = 16,
    private readonly checkExisting = true,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: connections });
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await Promise.resolve();
  }

  /** One request to the registry over node:http (the world's registry is trusted loopback). */
  private request(
    method: string,
    path: string,
    body: Buffer | undefined,
    headers: Record<string, string>,
  ): Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(new URL(path, this.target.registryUrl), { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  private token(repository: string, forceRefresh: boolean): Promise<CachedToken> {
    const cached = this.tokens.get(repository);
    if (cached && !forceRefresh) {
      return cached.then((t) => (t.expiresAt - Date.now() > 5000 ? t : this.token(repository, true)));
    }
    const fresh = this.fetchToken(repository);
    this.tokens.set(repository, fresh);
    fresh.catch(() => this.tokens.delete(repository));
    return fresh;
  }

  private async fetchToken(repository: string): Promise<CachedToken> {
    const url = new URL(this.target.tokenUrl);
    url.searchParams.set('service', this.target.service);
    url.searchParams.set('scope', `repository:${repository}:pull,push`);
    const basic = Buffer.from(`${this.target.username}:${this.target.password}`).toString('base64');
    const res = await fetch(url, { headers: { Authorization: `Basic ${basic}` } });
    if (!res.ok) throw new Error(`token request for ${repository} failed: HTTP ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.token ?? body.access_token;
    if (!token) throw new Error(`token response for ${repository} has no token`);
    return { token, expiresAt: Date.now() + (body.expires_in ?? 60) * 1000 };
  }

  /** One authenticated request; refreshes the token once on 401. */
  private async send(
    repository: string,
    method: 'GET' | 'HEAD' | 'POST' | 'PUT',
    path: string,
    body?: Buffer,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    for (let attempt = 0; ; attempt++) {
      const { token } = await this.token(repository, attempt > 0);
      this.stats.requests++;
      const res = await this.request(method, path, body, { ...headers, Authorization: `Bearer ${token}` });
      if (res.statusCode === 401 && attempt === 0) continue;
      return { status: res.statusCode, headers: res.headers, text: method === 'HEAD' ? '' : res.text };
    }
  }

  /** Upload a blob unless the registry already has it. */
  pushBlob(repository: string, blob: Blob): Promise<void> {
    const key = `${repository}@${blob.digest}`;
    let pending = this.blobs.get(key);
    if (!pending) {
      pending = this.uploadBlob(repository, blob);
      this.blobs.set(key, pending);
      pending.catch(() => this.blobs.delete(key));
    } else {
      this.stats.blobsSkipped++;
    }
    return pending;
  }

  private async uploadBlob(repository: string, blob: Blob): Promise<void> {
    if (this.checkExisting) {
      const head = await this.send(repository, 'HEAD', `/v2/${repository}/blobs/${blob.digest}`);
      if (head.status === 200) {
        this.stats.blobsSkipped++;
        return;
      }
    }
    const start = await this.send(repository, 'POST', `/v2/${repository}/blobs/uploads/`, undefined, {
      'Content-Length': '0',
    });
    const location = start.headers.location;
    if (start.status !== 202 || typeof location !== 'string') {
      throw new Error(`starting upload of ${blob.digest} to ${repository}: HTTP ${start.status} ${start.text}`);
    }
    const uploadUrl = new URL(location, this.target.registryUrl);
    uploadUrl.searchParams.set('digest', blob.digest);
    const put = await this.send(repository, 'PUT', `${uploadUrl.pathname}${uploadUrl.search}`, blob.bytes, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(blob.size),
    });
    if (put.status !== 201) {
      throw new Error(`uploading ${blob.digest} to ${repository}: HTTP ${put.status} ${put.text}`);
    }
    this.stats.blobsUploaded++;
    this.stats.bytesUploaded += blob.size;
  }

  /** PUT a manifest (image, index or list) under a digest or tag. */
  pushManifest(repository: string, reference: string, manifest: Blob): Promise<void> {
    const key = `${repository}:${reference}@${manifest.digest}`;
    let pending = this.manifests.get(key);
    if (!pending) {
      pending = this.putManifest(repository, reference, manifest);
      this.manifests.set(key, pending);
      pending.catch(() => this.manifests.delete(key));
    }
    return pending;
  }

  private async putManifest(repository: string, reference: string, manifest: Blob): Promise<void> {
    const res = await this.send(repository, 'PUT', `/v2/${repository}/manifests/${reference}`, manifest.bytes, {
      'Content-Type': manifest.mediaType,
      'Content-Length': String(manifest.size),
    });
    if (res.status !== 201) {
      throw new Error(`putting manifest ${manifest.digest} as ${repository}:${reference}: HTTP ${res.status} ${res.text}`);
    }
    this.stats.manifestsPut++;
  }

  /** Push an image: its blobs, then its manifest by digest (and by `tag` if given). */
  async pushImage(repository: string, image: BuiltImage, tag?: string): Promise<void> {
    await Promise.all([image.config, ...image.layers.map((l) => l.blob)].map((b) => this.pushBlob(repository, b)));
    await this.pushManifest(repository, image.manifest.digest, image.manifest);
    if (tag !== undefined) await this.pushManifest(repository, tag, image.manifest);
  }
}
