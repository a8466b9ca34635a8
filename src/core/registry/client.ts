/**
 * OCI distribution / Docker Registry v2 client: manifests (following an index to one
 * platform), config blobs, streamed layer blobs, and "does this tag exist".
 *
 * Request pipeline, from the outside in:
 *
 *   auth (#registryRequest)  anonymous first; on 401 parse the challenges, get a
 *                            Bearer token (or use Basic), retry once; tokens are
 *                            cached per (registry, scope) and a host known to need
 *                            auth gets its token up front, so a repeat manifest
 *                            fetch is exactly one request.
 *   redirects (#follow)      blob GETs hop to a CDN; the registry's Authorization
 *                            header is sent to the registry origin only.
 *   retries (#send)          429/502/503/504, connection errors and timeouts, with
 *                            exponential backoff + jitter and Retry-After.
 *   one request (#once)      undici `Dispatcher.request`, counted in `stats`.
 *
 * Why not undici's interceptors: `interceptors.redirect` does strip `authorization`
 * on a cross-origin hop in undici 7 (node_modules/undici/lib/handler/redirect-handler.js:
 * `cleanRequestHeaders(headers, statusCode === 303, this.opts.origin !== origin)` →
 * `shouldRemoveHeader` drops authorization, cookie and proxy-authorization), and
 * `interceptors.retry` honours Retry-After. Both work below the code that sees each
 * hop, though: neither lets every hop and attempt be counted in `stats`, the redirect
 * handler follows an https → http downgrade without asking (the plain-http policy
 * must be checked per hop), the retry handler has no jitter and retries 500, and a
 * retry must re-read a buffered body (timeouts while reading a manifest are retried
 * too), which a dispatcher-level retry cannot do once the body is handed out. So both
 * are written here, in a few lines each.
 */
import { createHash } from 'node:crypto';
import { Readable, Transform, pipeline } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, type Dispatcher } from 'undici';
import * as z from 'zod';
import { parseWwwAuthenticate, type Challenge } from './challenge.ts';
import type { Credentials, DockerConfig } from './credentials.ts';
import {
  ManifestNotFoundError,
  PlatformNotFoundError,
  RegistryAuthError,
  RegistryError,
  redactUrl,
} from './errors.ts';
import { DOCKER_HUB, formatImageReference, parseImageReference } from './reference.ts';
import type {
  Descriptor,
  ImageConfig,
  ImageIndex,
  ImageManifest,
  ImageRef,
  ImageSource,
  Platform,
  RegistryStats,
  ResolvedManifest,
} from './types.ts';

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

/** The Accept header of every manifest request: all four manifest and index types. */
export const MANIFEST_ACCEPT = Object.values(MEDIA_TYPES).join(', ');

const INDEX_TYPES: ReadonlySet<string> = new Set([MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociIndex]);
const MANIFEST_TYPES: ReadonlySet<string> = new Set([MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest]);

const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Connection failures and timeouts, retried like a 503. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
]);

const MAX_REDIRECTS = 5;
const MAX_RETRY_DELAY_MS = 60_000;
const DEFAULT_TOKEN_LIFETIME_S = 60;
/** The distribution spec lets registries refuse manifests over 4 MiB; leave room. */
const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
const MAX_SMALL_BODY_BYTES = 1024 * 1024;
/** Bytes read from a response we drop (to reuse the connection) before closing it instead. */
const MAX_DISCARD_BYTES = 64 * 1024;

const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

export interface RegistryClientOptions {
  /** Parsed pull secret. @default - no credentials: anonymous access only */
  readonly credentials?: DockerConfig;
  /**
   * Registries (`host[:port]`, matched exactly) that may be reached over plain http.
   * @default - none; loopback hosts (localhost, 127.x.x.x, [::1]) always use http, all others https
   */
  readonly insecureRegistries?: readonly string[];
  /** Time allowed for response headers, and for each idle gap while reading a body. @default 30000 */
  readonly requestTimeoutMs?: number;
  /** Retries after the first attempt on 429/502/503/504, connection errors and timeouts. @default 4 */
  readonly maxRetries?: number;
  /** First backoff delay; it doubles on each retry, with jitter, capped at 60 s. @default 250 */
  readonly retryBaseMs?: number;
  /** @default 'dtk-pipeline/0.1.0' */
  readonly userAgent?: string;
  /** @default - an undici Agent created by the client and closed by `close()` */
  readonly dispatcher?: Dispatcher;
}

// ---------------------------------------------------------------------------
// Validation of what registries send

const descriptorSchema = z.object({
  mediaType: z.string(),
  digest: z.string().regex(SHA256_DIGEST, 'must be sha256:<64 lowercase hex>'),
  size: z.number().int().nonnegative(),
  platform: z.object({ architecture: z.string(), os: z.string(), variant: z.string().optional() }).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const imageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
});

const imageIndexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
});

const imageConfigSchema = z.object({
  architecture: z.string().optional(),
  os: z.string().optional(),
  config: z.object({ Labels: z.record(z.string(), z.string()).nullable().optional() }).nullish().transform((c) => c ?? undefined),
});

const tokenResponseSchema = z
  .object({
    token: z.string().min(1).optional(),
    access_token: z.string().min(1).optional(),
    expires_in: z.number().positive().optional(),
  })
  .refine((t) => t.token !== undefined || t.access_token !== undefined, 'has neither "token" nor "access_token"');

// ---------------------------------------------------------------------------
// Pure helpers

/** `localhost`, `127.x.x.x` or `[::1]`, with or without a port. */
export function isLoopbackHost(host: string): boolean {
  const hostname = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : (host.split(':')[0] ?? '');
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(hostname);
  return m !== null && m.slice(1).every((octet) => Number(octet) <= 255);
}

/**
 * The origin API requests for `registry` go to: https, or http for loopback hosts and
 * those listed in `insecureRegistries`. Docker Hub's API lives at registry-1.docker.io.
 */
export function registryOrigin(registry: string, insecureRegistries: readonly string[] = []): string {
  const host = registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
  const plain = isLoopbackHost(host) || insecureRegistries.includes(registry);
  return `${plain ? 'http' : 'https'}://${host}`;
}

/** Retry-After as a delay in ms (delta-seconds or an HTTP date), capped; `undefined` if absent or invalid. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    // HTTP dates start with the day name; Date.parse alone would also take "-1" as a year.
    const at = /^[A-Za-z]/.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
    if (Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - now);
  }
  return Math.min(ms, MAX_RETRY_DELAY_MS);
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function sha256(body: Buffer): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Happy-eyeballs connection failures come as an AggregateError of per-address errors.
  if (err instanceof AggregateError) return errorCode(err.errors[0]);
  return undefined;
}

function isTransient(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && TRANSIENT_CODES.has(code);
}

function parseJson(body: Buffer, what: string, url: URL): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    // No cause and no snippet: JSON.parse quotes the input, which may be a token.
    throw new RegistryError(`${what} is not valid JSON`, { url });
  }
}

function describePlatforms(index: ImageIndex): string[] {
  return index.manifests
    .filter((m) => m.platform !== undefined)
    .map((m) => `${m.platform?.os}/${m.platform?.architecture}${m.platform?.variant ? `/${m.platform.variant}` : ''}`);
}

/** Checks an ImageRef built by hand (not by `parseImageReference`) before it becomes a URL path. */
function assertValidRef(ref: ImageRef): void {
  parseImageReference(formatImageReference(ref));
}

// ---------------------------------------------------------------------------
// The client

interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'POST';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** Request body (PUT/POST); re-sent as is on a retry. */
  readonly body?: Buffer;
}

/** Token scope actions: `pull` for reads, `pull,push` for writes. */
type Access = 'pull' | 'pull,push';

interface RegistryRequest {
  readonly method: HttpRequest['method'];
  readonly path: string;
  readonly accept?: string;
  readonly followRedirects: boolean;
  /** @default 'pull' */
  readonly access?: Access;
  readonly body?: Buffer;
  readonly contentType?: string;
  /** An absolute URL on the registry's origin (upload locations), instead of `path`. */
  readonly url?: URL;
}

interface HttpResponse<B> {
  readonly status: number;
  readonly headers: Dispatcher.ResponseData['headers'];
  /** The URL that produced this response (after redirects). */
  readonly url: URL;
  readonly body: B;
}

type RawResponse = HttpResponse<Dispatcher.ResponseData['body']>;
type Finish<B> = (res: RawResponse) => Promise<HttpResponse<B>>;

/** How a registry host wants to be authenticated, learnt from its first 401. */
type HostAuth = { readonly kind: 'bearer'; readonly realm: string; readonly service?: string } | { readonly kind: 'basic' };

interface Authorization {
  readonly header?: string;
  /** Token-cache key, when the header holds a cached token. */
  readonly cacheKey?: string;
  /** Obtained in answer to this request's own 401: another 401 means refused. */
  readonly fresh: boolean;
}

interface ManifestDocument {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Buffer;
  readonly doc: { readonly kind: 'manifest'; readonly manifest: ImageManifest } | { readonly kind: 'index'; readonly index: ImageIndex };
}

export class RegistryClient implements ImageSource {
  /** Every HTTP request made (token requests, retries and redirect hops included) and body bytes received. */
  readonly stats: RegistryStats = { requests: 0, bytes: 0 };

  readonly #credentials: DockerConfig | undefined;
  readonly #insecure: readonly string[];
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #retryBaseMs: number;
  readonly #userAgent: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;

  readonly #hostAuth = new Map<string, HostAuth>();
  readonly #tokens = new Map<string, { readonly token: string; readonly expiresAt: number }>();
  readonly #pendingTokens = new Map<string, Promise<string>>();

  constructor(options: RegistryClientOptions = {}) {
    const { requestTimeoutMs = 30_000, maxRetries = 4, retryBaseMs = 250 } = options;
    if (!Number.isInteger(requestTimeoutMs) || requestTimeoutMs <= 0) {
      throw new Error(`requestTimeoutMs must be a positive integer, got ${requestTimeoutMs}`);
    }
    if (!Number.isInteger(maxRetries) || maxRetries < 0) {
      throw new Error(`maxRetries must be a non-negative integer, got ${maxRetries}`);
    }
    if (!Number.isFinite(retryBaseMs) || retryBaseMs < 0) {
      throw new Error(`retryBaseMs must be a non-negative number, got ${retryBaseMs}`);
    }
    this.#credentials = options.credentials;
    this.#insecure = options.insecureRegistries ?? [];
    this.#timeoutMs = requestTimeoutMs;
    this.#maxRetries = maxRetries;
    this.#retryBaseMs = retryBaseMs;
    this.#userAgent = options.userAgent ?? 'dtk-pipeline/0.1.0';
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher = options.dispatcher ?? new Agent({ connect: { timeout: requestTimeoutMs } });
  }

  /**
   * Closes the client's own Agent once requests in flight are done (so an unconsumed
   * blob stream keeps it open). An injected dispatcher is left open.
   */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /** Closes the client's own Agent now, aborting requests in flight. An injected dispatcher is left open. */
  async destroy(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.destroy();
  }

  // -- ImageSource ----------------------------------------------------------

  async getManifest(ref: ImageRef, platform?: Platform): Promise<ResolvedManifest> {
    assertValidRef(ref);
    const refText = formatImageReference(ref);
    const top = await this.#fetchManifest(ref, ref.digest ?? ref.tag ?? 'latest', refText);
    const pin = (digest: string): ImageRef => ({ registry: ref.registry, repository: ref.repository, digest });
    if (top.doc.kind === 'manifest') {
      return { ref: pin(top.digest), digest: top.digest, mediaType: top.mediaType, manifest: top.doc.manifest };
    }

    const index = top.doc.index;
    const available = describePlatforms(index);
    if (platform === undefined) {
      throw new Error(`${refText} is an index (manifest list) of ${available.join(', ') || 'no platforms'}; pass a platform to select one`);
    }
    const os = platform.os ?? 'linux';
    const entry = index.manifests.find((m) => m.platform?.architecture === platform.architecture && m.platform.os === os);
    if (entry === undefined) throw new PlatformNotFoundError(refText, `${os}/${platform.architecture}`, available);

    const childText = `${ref.registry}/${ref.repository}@${entry.digest}`;
    const child = await this.#fetchManifest(ref, entry.digest, childText);
    if (child.doc.kind !== 'manifest') {
      throw new RegistryError(`${childText}, the ${os}/${platform.architecture} entry of ${refText}, is itself an index`, {
        url: this.#apiUrl(ref, `manifests/${entry.digest}`),
      });
    }
    return {
      ref: pin(child.digest),
      digest: child.digest,
      mediaType: child.mediaType,
      manifest: child.doc.manifest,
      indexDigest: top.digest,
    };
  }

  async listPlatforms(ref: ImageRef): Promise<Platform[] | undefined> {
    assertValidRef(ref);
    const top = await this.#fetchManifest(ref, ref.digest ?? ref.tag ?? 'latest', formatImageReference(ref));
    if (top.doc.kind === 'manifest') return undefined;
    return top.doc.index.manifests.flatMap((m) =>
      m.platform === undefined ? [] : [{ architecture: m.platform.architecture, os: m.platform.os }],
    );
  }

  async getConfig(image: ResolvedManifest): Promise<ImageConfig> {
    assertValidRef(image.ref);
    const descriptor = image.manifest.config;
    const url = this.#apiUrl(image.ref, `blobs/${descriptor.digest}`);
    const res = await this.#blobRequest(image.ref, descriptor, this.#buffered(MAX_CONFIG_BYTES));
    this.#expectBlobOk(res, image.ref, descriptor);
    const digest = sha256(res.body);
    if (digest !== descriptor.digest) {
      throw new RegistryError(`config blob of ${formatImageReference(image.ref)} has digest ${digest}, expected ${descriptor.digest}`, { url });
    }
    const parsed = imageConfigSchema.safeParse(parseJson(res.body, `config blob ${descriptor.digest}`, url));
    if (!parsed.success) {
      throw new RegistryError(`config blob ${descriptor.digest} is not an image config: ${z.prettifyError(parsed.error)}`, { url });
    }
    return parsed.data;
  }

  async openBlob(ref: ImageRef, descriptor: Descriptor): Promise<Readable> {
    assertValidRef(ref);
    const res = await this.#blobRequest(ref, descriptor, async (raw) => raw);
    if (res.status !== 200) await this.#discard(res.body);
    this.#expectBlobOk(res, ref, descriptor);
    const verifier = this.#verifyingCounter(descriptor, res.url);
    // pipeline: destroying `verifier` early destroys the undici body, which aborts the request.
    pipeline(res.body, verifier, () => {
      /* errors reach the caller through `verifier` */
    });
    return verifier;
  }

  // -- Extras ---------------------------------------------------------------

  /** `HEAD /v2/<repo>/manifests/<tag|digest>` with auth and all manifest types accepted. */
  async exists(ref: ImageRef): Promise<boolean> {
    assertValidRef(ref);
    const path = `manifests/${ref.digest ?? ref.tag ?? 'latest'}`;
    const res = await this.#registryRequest(
      ref,
      { method: 'HEAD', path, accept: MANIFEST_ACCEPT, followRedirects: false },
      this.#buffered(MAX_SMALL_BODY_BYTES),
    );
    if (res.status === 404) return false;
    if (res.status >= 200 && res.status < 300) return true;
    throw new RegistryError(`HEAD ${formatImageReference(ref)} failed: HTTP ${res.status}`, { status: res.status, url: res.url });
  }

  /**
   * The descriptor (digest, media type, size) of the manifest a tag or digest names, or
   * `undefined` when it does not exist. A HEAD when the registry sends
   * `Docker-Content-Digest`, else a GET whose bytes are hashed.
   */
  async describeManifest(ref: ImageRef): Promise<Descriptor | undefined> {
    assertValidRef(ref);
    const reference = ref.digest ?? ref.tag ?? 'latest';
    const res = await this.#registryRequest(
      ref,
      { method: 'HEAD', path: `manifests/${reference}`, accept: MANIFEST_ACCEPT, followRedirects: false },
      this.#buffered(MAX_SMALL_BODY_BYTES),
    );
    if (res.status === 404) return undefined;
    if (res.status < 200 || res.status >= 300) {
      throw new RegistryError(`HEAD ${formatImageReference(ref)} failed: HTTP ${res.status}`, { status: res.status, url: res.url });
    }
    const digest = header(res.headers, 'docker-content-digest');
    const size = Number(header(res.headers, 'content-length'));
    const mediaType = header(res.headers, 'content-type')?.split(';')[0]?.trim();
    if (digest !== undefined && SHA256_DIGEST.test(digest) && Number.isInteger(size) && size > 0 && mediaType !== undefined) {
      return { digest, size, mediaType };
    }
    const raw = await this.getManifestBytes(ref);
    return { digest: raw.digest, size: raw.bytes.length, mediaType: raw.mediaType };
  }

  /**
   * A manifest or index exactly as stored (the bytes its digest covers), with its
   * digest and media type. The digest is checked against a digest reference and the
   * registry's `Docker-Content-Digest`.
   */
  async getManifestBytes(ref: ImageRef): Promise<{ readonly digest: string; readonly mediaType: string; readonly bytes: Buffer }> {
    assertValidRef(ref);
    const doc = await this.#fetchManifest(ref, ref.digest ?? ref.tag ?? 'latest', formatImageReference(ref));
    return { digest: doc.digest, mediaType: doc.mediaType, bytes: doc.bytes };
  }

  // -- Push -----------------------------------------------------------------

  /**
   * `PUT /v2/<repo>/manifests/<tag|digest>` with a `repository:<repo>:pull,push` token.
   * Resolves with the digest of `bytes` (checked against the registry's answer).
   */
  async putManifest(ref: ImageRef, mediaType: string, bytes: Buffer): Promise<string> {
    assertValidRef(ref);
    const reference = ref.tag ?? ref.digest;
    if (reference === undefined) throw new Error(`putManifest needs a tag or digest: ${formatImageReference(ref)}`);
    if (!Object.values(MEDIA_TYPES).includes(mediaType as (typeof MEDIA_TYPES)[keyof typeof MEDIA_TYPES])) {
      throw new Error(`putManifest: ${JSON.stringify(mediaType)} is not a manifest or index media type`);
    }
    if (bytes.length > MAX_MANIFEST_BYTES) throw new Error(`putManifest: manifest is ${bytes.length} bytes, more than ${MAX_MANIFEST_BYTES}`);
    const digest = sha256(bytes);
    if (ref.digest !== undefined && ref.tag === undefined && ref.digest !== digest) {
      throw new Error(`putManifest: the bytes have digest ${digest}, not ${ref.digest}`);
    }
    const res = await this.#registryRequest(
      ref,
      { method: 'PUT', path: `manifests/${reference}`, access: 'pull,push', body: bytes, contentType: mediaType, followRedirects: false },
      this.#buffered(MAX_SMALL_BODY_BYTES),
    );
    if (res.status !== 201 && res.status !== 200) {
      throw new RegistryError(`PUT manifest ${formatImageReference(ref)} failed: HTTP ${res.status}${registryErrorCodes(res.body)}`, {
        status: res.status,
        url: res.url,
      });
    }
    const claimed = header(res.headers, 'docker-content-digest');
    if (claimed !== undefined && claimed !== digest) {
      throw new RegistryError(`PUT manifest ${formatImageReference(ref)}: the registry stored digest ${claimed}, the bytes are ${digest}`, { url: res.url });
    }
    return digest;
  }

  /**
   * Uploads a blob (monolithic: POST, then PUT `?digest=`) unless the repository already
   * has it. For small blobs (configs, small layers); image builders push big layers.
   */
  async pushBlob(ref: ImageRef, mediaType: string, bytes: Buffer): Promise<Descriptor> {
    assertValidRef(ref);
    const digest = sha256(bytes);
    const descriptor: Descriptor = { mediaType, digest, size: bytes.length };
    const head = await this.#registryRequest(
      ref,
      { method: 'HEAD', path: `blobs/${digest}`, access: 'pull,push', followRedirects: false },
      this.#buffered(MAX_SMALL_BODY_BYTES),
    );
    if (head.status === 200) return descriptor;
    const start = await this.#registryRequest(
      ref,
      { method: 'POST', path: 'blobs/uploads/', access: 'pull,push', followRedirects: false },
      this.#buffered(MAX_SMALL_BODY_BYTES),
    );
    const location = header(start.headers, 'location');
    if (start.status !== 202 || location === undefined) {
      throw new RegistryError(`starting a blob upload to ${ref.registry}/${ref.repository} failed: HTTP ${start.status}${registryErrorCodes(start.body)}`, {
        status: start.status,
        url: start.url,
      });
    }
    const uploadUrl = new URL(location, start.url);
    if (uploadUrl.origin !== start.url.origin) {
      throw new RegistryError(`blob upload location of ${ref.registry} is on another origin, which is not supported`, { url: start.url });
    }
    uploadUrl.searchParams.set('digest', digest);
    const put = await this.#registryRequest(
      ref,
      {
        method: 'PUT',
        path: '',
        url: uploadUrl,
        access: 'pull,push',
        body: bytes,
        contentType: 'application/octet-stream',
        followRedirects: false,
      },
      this.#buffered(MAX_SMALL_BODY_BYTES),
    );
    if (put.status !== 201) {
      throw new RegistryError(`uploading blob ${digest} to ${ref.registry}/${ref.repository} failed: HTTP ${put.status}${registryErrorCodes(put.body)}`, {
        status: put.status,
        url: put.url,
      });
    }
    return descriptor;
  }

  // -- Manifests and blobs --------------------------------------------------

  async #fetchManifest(ref: ImageRef, reference: string, refText: string): Promise<ManifestDocument> {
    const res = await this.#registryRequest(
      ref,
      { method: 'GET', path: `manifests/${reference}`, accept: MANIFEST_ACCEPT, followRedirects: false },
      this.#buffered(MAX_MANIFEST_BYTES),
    );
    if (res.status === 404) throw new ManifestNotFoundError(refText, { status: 404, url: res.url });
    if (res.status !== 200) {
      throw new RegistryError(`GET manifest ${refText} failed: HTTP ${res.status}`, { status: res.status, url: res.url });
    }

    const digest = sha256(res.body);
    const claimed = header(res.headers, 'docker-content-digest');
    if (SHA256_DIGEST.test(reference) && digest !== reference) {
      throw new RegistryError(`manifest digest mismatch for ${refText}: the registry sent content with digest ${digest}`, { url: res.url });
    }
    if (claimed !== undefined && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new RegistryError(`manifest digest mismatch for ${refText}: Docker-Content-Digest says ${claimed}, the content is ${digest}`, {
        url: res.url,
      });
    }

    const json = parseJson(res.body, `manifest ${refText}`, res.url);
    const bodyType = typeof json === 'object' && json !== null ? (json as { mediaType?: unknown }).mediaType : undefined;
    const contentType = header(res.headers, 'content-type')?.split(';')[0]?.trim();
    const declared = typeof bodyType === 'string' ? bodyType : contentType;
    const isIndex =
      declared !== undefined && (INDEX_TYPES.has(declared) || MANIFEST_TYPES.has(declared))
        ? INDEX_TYPES.has(declared)
        : typeof json === 'object' && json !== null && 'manifests' in json;
    if (typeof json === 'object' && json !== null && (json as { schemaVersion?: unknown }).schemaVersion === 1) {
      throw new RegistryError(`${refText} is a schema 1 manifest, which is not supported`, { url: res.url });
    }

    const mediaType = declared ?? (isIndex ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest);
    const invalid = (error: z.ZodError): RegistryError =>
      new RegistryError(`${refText} is not a valid ${isIndex ? 'image index' : 'image manifest'}: ${z.prettifyError(error)}`, {
        url: res.url,
      });
    if (isIndex) {
      const parsed = imageIndexSchema.safeParse(json);
      if (!parsed.success) throw invalid(parsed.error);
      return { digest, mediaType, bytes: res.body, doc: { kind: 'index', index: parsed.data } };
    }
    const parsed = imageManifestSchema.safeParse(json);
    if (!parsed.success) throw invalid(parsed.error);
    return { digest, mediaType, bytes: res.body, doc: { kind: 'manifest', manifest: parsed.data } };
  }

  #blobRequest<B>(ref: ImageRef, descriptor: Descriptor, finish: Finish<B>): Promise<HttpResponse<B>> {
    if (!SHA256_DIGEST.test(descriptor.digest)) {
      throw new Error(`blob digest ${JSON.stringify(descriptor.digest)} is not sha256:<64 lowercase hex>`);
    }
    return this.#registryRequest(ref, { method: 'GET', path: `blobs/${descriptor.digest}`, followRedirects: true }, finish);
  }

  #expectBlobOk(res: HttpResponse<unknown>, ref: ImageRef, descriptor: Descriptor): void {
    if (res.status === 200) return;
    const where = `${ref.registry}/${ref.repository}`;
    if (res.status === 404) {
      throw new RegistryError(`blob ${descriptor.digest} not found in ${where}`, { status: 404, url: res.url });
    }
    throw new RegistryError(`GET blob ${descriptor.digest} from ${where} failed: HTTP ${res.status}`, { status: res.status, url: res.url });
  }

  /** Passes the blob through, counting bytes as they flow and checking size and digest at the end. */
  #verifyingCounter(descriptor: Descriptor, url: URL): Transform {
    const hash = createHash('sha256');
    let size = 0;
    const stats = this.stats;
    return new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        stats.bytes += chunk.length;
        hash.update(chunk);
        callback(null, chunk);
      },
      flush(callback) {
        const digest = `sha256:${hash.digest('hex')}`;
        if (size !== descriptor.size || digest !== descriptor.digest) {
          callback(
            new RegistryError(`blob ${descriptor.digest}: received ${size} bytes with digest ${digest}, expected ${descriptor.size} bytes`, {
              url,
            }),
          );
        } else {
          callback();
        }
      },
    });
  }

  // -- Auth -----------------------------------------------------------------

  #apiUrl(ref: ImageRef, path: string): URL {
    return new URL(`/v2/${ref.repository}/${path}`, registryOrigin(ref.registry, this.#insecure));
  }

  async #registryRequest<B>(ref: ImageRef, request: RegistryRequest, finish: Finish<B>): Promise<HttpResponse<B>> {
    const url = request.url ?? this.#apiUrl(ref, request.path);
    const access = request.access ?? 'pull';
    let auth = await this.#knownAuthorization(ref, access);
    for (;;) {
      const headers: Record<string, string> = {};
      if (request.accept !== undefined) headers['accept'] = request.accept;
      if (request.contentType !== undefined) headers['content-type'] = request.contentType;
      if (auth.header !== undefined) headers['authorization'] = auth.header;
      const res = await this.#follow(
        { method: request.method, url, headers, ...(request.body === undefined ? {} : { body: request.body }) },
        request.followRedirects ? MAX_REDIRECTS : 0,
        finish,
      );
      const fromRegistry = res.url.origin === url.origin;

      if (res.status === 401 && fromRegistry) {
        await this.#discard(res.body);
        if (auth.fresh) throw this.#refused(ref, res.url, access);
        if (auth.cacheKey !== undefined) this.#tokens.delete(auth.cacheKey);
        auth = await this.#authorizeFromChallenge(ref, res.headers['www-authenticate'], res.url, access);
        continue;
      }
      if (res.status === 403 && fromRegistry) {
        await this.#discard(res.body);
        const hint =
          auth.header === undefined ? ' for anonymous access' : access === 'pull,push' ? ': check the push credentials' : ': check the pull secret';
        throw new RegistryAuthError(`${ref.registry} denied access to repository ${ref.repository} (HTTP 403)${hint}`, {
          status: 403,
          url: res.url,
        });
      }
      return res;
    }
  }

  #refused(ref: ImageRef, url: URL, access: Access = 'pull'): RegistryAuthError {
    const push = access === 'pull,push';
    const message =
      this.#credentialsFor(ref) === undefined
        ? `${ref.registry} requires credentials ${push ? 'to push to' : 'for'} repository ${ref.repository} and the ${push ? 'auth file' : 'pull secret'} has none for ${ref.registry}`
        : push
          ? `credentials for ${ref.registry} were refused push access to repository ${ref.repository}: check the push credentials`
          : `credentials for ${ref.registry} were refused for repository ${ref.repository}: check the pull secret`;
    return new RegistryAuthError(message, { status: 401, url });
  }

  /** Authorization for a host whose scheme is already known, fetching a token up front if needed. */
  async #knownAuthorization(ref: ImageRef, access: Access): Promise<Authorization> {
    const hostAuth = this.#hostAuth.get(ref.registry);
    if (hostAuth === undefined) return { fresh: false };
    if (hostAuth.kind === 'basic') {
      const creds = this.#credentialsFor(ref);
      return creds === undefined ? { fresh: false } : { header: basicHeader(creds), fresh: false };
    }
    const scope = repositoryScope(ref, access);
    const token = await this.#token(ref, hostAuth, scope, scope);
    return { header: `Bearer ${token}`, cacheKey: tokenKey(ref.registry, scope), fresh: false };
  }

  async #authorizeFromChallenge(
    ref: ImageRef,
    wwwAuthenticate: string | string[] | undefined,
    url: URL,
    access: Access,
  ): Promise<Authorization> {
    let challenges: Challenge[];
    try {
      challenges = parseWwwAuthenticate(wwwAuthenticate);
    } catch (err) {
      throw new RegistryAuthError(`${ref.registry} sent an unparseable WWW-Authenticate header: ${(err as Error).message}`, {
        status: 401,
        url,
      });
    }
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params['realm'] !== undefined);
    if (bearer !== undefined) {
      const hostAuth: HostAuth = { kind: 'bearer', realm: bearer.params['realm'] ?? '', service: bearer.params['service'] };
      this.#hostAuth.set(ref.registry, hostAuth);
      const scope = repositoryScope(ref, access);
      this.#tokens.delete(tokenKey(ref.registry, scope));
      const token = await this.#token(ref, hostAuth, bearer.params['scope'] ?? scope, scope);
      return { header: `Bearer ${token}`, cacheKey: tokenKey(ref.registry, scope), fresh: true };
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      this.#hostAuth.set(ref.registry, { kind: 'basic' });
      const creds = this.#credentialsFor(ref);
      if (creds === undefined) throw this.#refused(ref, url, access);
      return { header: basicHeader(creds), fresh: true };
    }
    const schemes = challenges.map((c) => c.scheme).join(', ') || 'none';
    throw new RegistryAuthError(`${ref.registry} answered 401 without a Bearer or Basic challenge (schemes: ${schemes})`, { status: 401, url });
  }

  #credentialsFor(ref: ImageRef): Credentials | undefined {
    return this.#credentials?.credentialsFor(ref.registry, ref.repository);
  }

  /** A cached token for (registry, cacheScope), or a new one for `scope`; concurrent callers share a request. */
  async #token(ref: ImageRef, hostAuth: Extract<HostAuth, { kind: 'bearer' }>, scope: string, cacheScope: string): Promise<string> {
    const key = tokenKey(ref.registry, cacheScope);
    const cached = this.#tokens.get(key);
    if (cached !== undefined && cached.expiresAt > Date.now()) return cached.token;
    const pending = this.#pendingTokens.get(key);
    if (pending !== undefined) return pending;
    const request = this.#fetchToken(ref, hostAuth, scope).then(({ token, expiresInS }) => {
      // Renew a little early: 10% of the lifetime, at most 10 s.
      const marginMs = Math.min(10_000, expiresInS * 100);
      this.#tokens.set(key, { token, expiresAt: Date.now() + expiresInS * 1000 - marginMs });
      return token;
    });
    this.#pendingTokens.set(key, request);
    try {
      return await request;
    } finally {
      this.#pendingTokens.delete(key);
    }
  }

  async #fetchToken(
    ref: ImageRef,
    hostAuth: Extract<HostAuth, { kind: 'bearer' }>,
    scope: string,
  ): Promise<{ token: string; expiresInS: number }> {
    let url: URL;
    try {
      url = new URL(hostAuth.realm);
    } catch {
      throw new RegistryAuthError(`${ref.registry} sent a Bearer challenge whose realm is not a URL`, { url: this.#apiUrl(ref, '') });
    }
    if (hostAuth.service !== undefined) url.searchParams.set('service', hostAuth.service);
    url.searchParams.set('scope', scope);
    const creds = this.#credentialsFor(ref);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (creds !== undefined) headers['authorization'] = basicHeader(creds);

    const res = await this.#follow({ method: 'GET', url, headers }, 0, this.#buffered(MAX_SMALL_BODY_BYTES));
    if (res.status === 401 || res.status === 403) {
      const message =
        creds === undefined
          ? `${ref.registry} requires credentials for repository ${ref.repository} and the pull secret has none for ${ref.registry}`
          : `credentials for ${ref.registry} were refused for repository ${ref.repository}: check the pull secret`;
      throw new RegistryAuthError(`${message} (token service answered HTTP ${res.status})`, { status: res.status, url });
    }
    if (res.status !== 200) {
      throw new RegistryError(`token request for ${ref.registry} repository ${ref.repository} failed: HTTP ${res.status}`, {
        status: res.status,
        url,
      });
    }
    const parsed = tokenResponseSchema.safeParse(parseJson(res.body, `token response from ${redactUrl(url)}`, url));
    if (!parsed.success) {
      // The issue list names fields and types only, never values.
      const problems = parsed.error.issues.map((i) => i.message).join('; ');
      throw new RegistryError(`token response from ${redactUrl(url)} is invalid: ${problems}`, { url });
    }
    const token = parsed.data.token ?? parsed.data.access_token ?? '';
    return { token, expiresInS: parsed.data.expires_in ?? DEFAULT_TOKEN_LIFETIME_S };
  }

  // -- Transport --------------------------------------------------------------

  /** Plain http only to loopback hosts and `insecureRegistries`; nothing but http(s). */
  #assertTransportAllowed(url: URL): void {
    if (url.protocol === 'https:') return;
    // URL drops a default port: `registry.example:80` in insecureRegistries is host `registry.example`.
    const listed = this.#insecure.includes(url.host) || (url.port === '' && this.#insecure.includes(`${url.host}:80`));
    if (url.protocol === 'http:' && (isLoopbackHost(url.host) || listed)) return;
    throw new RegistryError(
      `refusing ${url.protocol.replace(':', '')} to ${redactUrl(url)}: plain http is allowed only for loopback hosts and insecureRegistries`,
      { url },
    );
  }

  /** Follows up to `maxRedirects` redirects; Authorization goes to the first request's origin only. */
  async #follow<B>(request: HttpRequest, maxRedirects: number, finish: Finish<B>): Promise<HttpResponse<B>> {
    const authorizedOrigin = request.url.origin;
    let current = request;
    for (let hop = 0; ; hop++) {
      this.#assertTransportAllowed(current.url);
      type Outcome = { readonly response: HttpResponse<B> } | { readonly location: string; readonly status: number };
      const outcome = await this.#send(current, async (raw): Promise<Outcome> => {
        const location = header(raw.headers, 'location');
        if (maxRedirects > 0 && REDIRECT_STATUSES.has(raw.status) && location !== undefined) {
          await this.#discard(raw.body);
          return { location, status: raw.status };
        }
        return { response: await finish(raw) };
      });
      if ('response' in outcome) return outcome.response;
      if (hop >= maxRedirects) {
        throw new RegistryError(`too many redirects (more than ${maxRedirects}) from ${redactUrl(request.url)}`, {
          status: outcome.status,
          url: current.url,
        });
      }
      let url: URL;
      try {
        url = new URL(outcome.location, current.url);
      } catch {
        // No cause: the TypeError carries the Location, which may hold a signature.
        throw new RegistryError(`redirect from ${redactUrl(current.url)} has an invalid Location`, { status: outcome.status, url: current.url });
      }
      const headers = { ...current.headers };
      if (url.origin !== authorizedOrigin) delete headers['authorization'];
      current = { method: current.method, url, headers };
    }
  }

  /**
   * One request with retries on 429/502/503/504, transient network errors and
   * timeouts. `finish` runs inside the retry loop, so a timeout while reading a
   * buffered body is retried too.
   */
  async #send<T>(request: HttpRequest, finish: (res: RawResponse) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= this.#maxRetries;
      let failure: unknown;
      try {
        const raw = await this.#once(request);
        if (!RETRY_STATUSES.has(raw.status)) return await finish(raw);
        await this.#discard(raw.body);
        if (last) {
          throw new RegistryError(`${request.method} ${redactUrl(request.url)} failed: HTTP ${raw.status} after ${attempt + 1} attempts`, {
            status: raw.status,
            url: request.url,
          });
        }
        await sleep(parseRetryAfter(header(raw.headers, 'retry-after')) ?? this.#backoff(attempt));
        continue;
      } catch (err) {
        if (!isTransient(err)) throw err;
        failure = err;
      }
      if (last) {
        throw new RegistryError(
          `${request.method} ${redactUrl(request.url)} failed: ${errorCode(failure)} after ${attempt + 1} attempts`,
          { url: request.url, cause: failure },
        );
      }
      await sleep(this.#backoff(attempt));
    }
  }

  #backoff(attempt: number): number {
    const ceiling = Math.min(MAX_RETRY_DELAY_MS, this.#retryBaseMs * 2 ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  async #once(request: HttpRequest): Promise<RawResponse> {
    this.stats.requests++;
    const res = await this.#dispatcher.request({
      origin: request.url.origin,
      path: `${request.url.pathname}${request.url.search}`,
      method: request.method,
      headers: { ...request.headers, 'user-agent': this.#userAgent },
      ...(request.body === undefined ? {} : { body: request.body }),
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
    return { status: res.statusCode, headers: res.headers, url: request.url, body: res.body };
  }

  /** A `finish` that reads the whole body (at most `limit` bytes). */
  #buffered(limit: number): Finish<Buffer> {
    return async (raw) => {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of raw.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        this.stats.bytes += chunk.length;
        if (size > limit) {
          raw.body.destroy();
          throw new RegistryError(`response from ${redactUrl(raw.url)} is larger than ${limit} bytes`, { status: raw.status, url: raw.url });
        }
        chunks.push(chunk);
      }
      return { ...raw, body: Buffer.concat(chunks) };
    };
  }

  /**
   * Drops a response body we do not use: reads a little so the connection can be
   * reused, else closes it. Errors are ignored on purpose: the response has already
   * been acted on, and its body carries nothing we need.
   */
  async #discard(body: unknown): Promise<void> {
    if (!(body instanceof Readable)) return;
    let size = 0;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        size += chunk.length;
        this.stats.bytes += chunk.length;
        if (size > MAX_DISCARD_BYTES) break; // leaving the loop destroys the stream
      }
    } catch {
      /* see above */
    }
  }
}

function repositoryScope(ref: ImageRef, access: Access): string {
  return `repository:${ref.repository}:${access}`;
}

/** ` (CODE, CODE)` from a registry's JSON error body: codes only, never messages or details. */
function registryErrorCodes(body: Buffer): string {
  try {
    const json = JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown }[] };
    const codes = (json.errors ?? []).map((e) => e.code).filter((c): c is string => typeof c === 'string' && /^[A-Z_]{1,64}$/.test(c));
    return codes.length > 0 ? ` (${codes.join(', ')})` : '';
  } catch {
    return '';
  }
}

function tokenKey(registry: string, scope: string): string {
  return `${registry} ${scope}`;
}

function basicHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}
