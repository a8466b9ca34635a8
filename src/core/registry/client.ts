/**
 * OCI distribution / Docker Registry v2 client, the OCI operations: manifests
 * (following an index to one platform), config blobs, streamed layer blobs, "does this
 * tag exist", and pushes of small in-memory images.
 *
 * The layers under it, each in its own module:
 *
 *   auth.ts        challenges and tokens (one re-authentication per request), realm checks
 *   hosts.ts       which registries and token services may be contacted; plain http only
 *                  for hosts listed insecure
 *   ../http/transport.ts  node:http with retries, redirects (Authorization to the first
 *                  origin only), the plain-http rule, idle timeout and total deadline
 *
 * What this module adds: every manifest and config is checked against its digest, and
 * every blob stream against its descriptor's size (as it flows) and digest (at its end).
 */
import { pipeline, type Readable } from 'node:stream';
import * as z from 'zod';
import { header, HttpTransport, type Finish, type HttpResponse, type RequestObserver } from '../http/transport.ts';
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from '../layer-files.ts';
import { parseJson, RegistryAuth } from './auth.ts';
import type { DockerConfig } from './credentials.ts';
import { ManifestNotFoundError, PlatformNotFoundError, RegistryError } from './errors.ts';
import { RegistryHosts } from './hosts.ts';
import {
  imageConfigSchema,
  imageIndexSchema,
  imageManifestSchema,
  INDEX_TYPES,
  MANIFEST_ACCEPT,
  MANIFEST_TYPES,
  MEDIA_TYPES,
  SHA256_DIGEST,
  sha256,
  verifyingStream,
} from './oci.ts';
import { formatImageReference, parseImageReference } from './reference.ts';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, ImageRef, ImageSource, Platform, RegistryStats, ResolvedManifest } from './types.ts';

export { MANIFEST_ACCEPT, MEDIA_TYPES } from './oci.ts';
export { DEFAULT_ALLOWED_REGISTRIES, isLoopbackHost, RegistryHosts } from './hosts.ts';
export { parseRetryAfter } from '../http/transport.ts';

/** The distribution spec lets registries refuse manifests over 4 MiB; leave room. */
const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
const MAX_SMALL_BODY_BYTES = 1024 * 1024;

export interface RegistryClientOptions {
  /** Parsed pull secret. @default - no credentials: anonymous access only */
  readonly credentials?: DockerConfig;
  /**
   * Registries and token services (`host[:port]`, matched exactly) that may be contacted,
   * added to DEFAULT_ALLOWED_REGISTRIES. @default - quay.io, registry.redhat.io, registry.ci.openshift.org, sso.redhat.com
   */
  readonly allowedRegistries?: readonly string[];
  /**
   * Registries (`host[:port]`, matched exactly) reached over plain http; they are allowed too.
   * @default - none: every registry over https, loopback included
   */
  readonly insecureRegistries?: readonly string[];
  /** Time allowed for response headers, and for each idle gap while reading a body. @default 30000 */
  readonly requestTimeoutMs?: number;
  /** Total time for one manifest, config or token request, body included. @default 60000 */
  readonly requestDeadlineMs?: number;
  /** Total time for one blob, from the request to its last byte. @default 300000 */
  readonly blobDeadlineMs?: number;
  /** Retries after the first attempt on 429/502/503/504, connection errors and idle timeouts. @default 4 */
  readonly maxRetries?: number;
  /** First backoff delay; it doubles on each retry, with jitter, capped at 60 s. @default 250 */
  readonly retryBaseMs?: number;
  /** @default 'dtk-pipeline/0.1.0' */
  readonly userAgent?: string;
  /** Most tar bytes inflated from one layer before a read gives up (a gzip or zstd bomb). @default 536870912 (512 MiB) */
  readonly maxLayerBytes?: number;
  /** Sees every HTTP attempt (benchmarks count them). @default - none */
  readonly onRequest?: RequestObserver;
}

/** Checks an ImageRef built by hand (not by `parseImageReference`) before it becomes a URL path. */
function assertValidRef(ref: ImageRef): void {
  parseImageReference(formatImageReference(ref));
}

function describePlatforms(index: ImageIndex): string[] {
  return index.manifests
    .filter((m) => m.platform !== undefined)
    .map((m) => `${m.platform?.os}/${m.platform?.architecture}${m.platform?.variant ? `/${m.platform.variant}` : ''}`);
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

interface ManifestDocument {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Buffer;
  readonly doc: { readonly kind: 'manifest'; readonly manifest: ImageManifest } | { readonly kind: 'index'; readonly index: ImageIndex };
}

export class RegistryClient implements ImageSource {
  /** Every HTTP request made (token requests, retries and redirect hops included) and body bytes received. */
  readonly stats: RegistryStats;
  /** The hosts this client may contact, and which over plain http. */
  readonly hosts: RegistryHosts;
  readonly maxLayerBytes: number;

  readonly #transport: HttpTransport;
  readonly #auth: RegistryAuth;
  readonly #blobDeadlineMs: number;
  readonly #small: Finish<Buffer>;

  constructor(options: RegistryClientOptions = {}) {
    const { requestTimeoutMs = 30_000, requestDeadlineMs = 60_000, blobDeadlineMs = 300_000, maxRetries = 4, retryBaseMs = 250 } = options;
    if (!Number.isInteger(blobDeadlineMs) || blobDeadlineMs <= 0) throw new Error(`blobDeadlineMs must be a positive integer, got ${blobDeadlineMs}`);
    this.hosts = new RegistryHosts({ allowed: options.allowedRegistries ?? [], insecure: options.insecureRegistries ?? [] });
    this.#transport = new HttpTransport({
      insecureHosts: this.hosts.insecure,
      idleTimeoutMs: requestTimeoutMs,
      deadlineMs: requestDeadlineMs,
      maxRetries,
      retryBaseMs,
      userAgent: options.userAgent ?? 'dtk-pipeline/0.1.0',
      makeError: (message, o) => new RegistryError(message, o),
      ...(options.onRequest === undefined ? {} : { onRequest: options.onRequest }),
    });
    this.stats = this.#transport.stats;
    this.#auth = new RegistryAuth(this.#transport, this.hosts, options.credentials);
    this.#blobDeadlineMs = blobDeadlineMs;
    this.maxLayerBytes = options.maxLayerBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
    if (!Number.isInteger(this.maxLayerBytes) || this.maxLayerBytes <= 0) throw new Error(`maxLayerBytes must be a positive integer, got ${this.maxLayerBytes}`);
    this.#small = this.#transport.buffered({ maxBytes: MAX_SMALL_BODY_BYTES });
  }

  /** Closes the connections once every response body has been read or dropped (an unconsumed blob stream keeps it open). */
  async close(): Promise<void> {
    await this.#transport.close();
  }

  /** Closes the connections now, aborting requests in flight. */
  async destroy(): Promise<void> {
    this.#transport.destroy();
    await Promise.resolve();
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
        url: this.#auth.apiUrl(ref, `manifests/${entry.digest}`),
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
    const url = this.#auth.apiUrl(image.ref, `blobs/${descriptor.digest}`);
    const res = await this.#blobRequest(image.ref, descriptor, this.#transport.buffered({ maxBytes: MAX_CONFIG_BYTES }));
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
    const res = await this.#blobRequest(ref, descriptor, async (raw) => raw, this.#blobDeadlineMs);
    if (res.status !== 200) await this.#transport.discard(res.body);
    this.#expectBlobOk(res, ref, descriptor);
    const declared = Number(header(res.headers, 'content-length'));
    if (Number.isFinite(declared) && declared > descriptor.size) {
      res.body.destroy();
      throw new RegistryError(`blob ${descriptor.digest} is sent as ${declared} bytes, its descriptor declares ${descriptor.size}: refusing it`, {
        url: res.url,
      });
    }
    const verifier = verifyingStream(descriptor);
    // pipeline: destroying `verifier` early destroys the response, which closes the connection.
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
    const res = await this.#auth.request(
      ref,
      { method: 'HEAD', path, accept: MANIFEST_ACCEPT, followRedirects: false },
      this.#small,
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
    const res = await this.#auth.request(
      ref,
      { method: 'HEAD', path: `manifests/${reference}`, accept: MANIFEST_ACCEPT, followRedirects: false },
      this.#small,
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
    return (await this.putManifestReporting(ref, mediaType, bytes)).digest;
  }

  /**
   * `putManifest`, also reporting the `OCI-Subject` response header: a registry that
   * processed the manifest's `subject` (and so indexes it for the referrers API) sends
   * it (distribution spec 1.1, "Pushing Manifests with Subject").
   */
  async putManifestReporting(ref: ImageRef, mediaType: string, bytes: Buffer): Promise<{ readonly digest: string; readonly ociSubject?: string }> {
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
    const res = await this.#auth.request(
      ref,
      { method: 'PUT', path: `manifests/${reference}`, access: 'pull,push', body: bytes, contentType: mediaType, followRedirects: false },
      this.#small,
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
    const ociSubject = header(res.headers, 'oci-subject');
    return { digest, ...(ociSubject === undefined ? {} : { ociSubject }) };
  }

  /**
   * The referrers of a manifest (`GET /v2/<repo>/referrers/<digest>`, distribution spec
   * 1.1), following `Link: <…>; rel="next"` pages, or `undefined` when the registry
   * answers 404 (or 405/501): it has no referrers API (a registry that has one answers 200 with an
   * OCI index, empty when nothing refers to the digest), and clients fall back to the
   * tag schema. `artifactType` is sent as the spec's filter, and applied here as well
   * (a registry may ignore it).
   */
  async referrers(ref: ImageRef & { readonly digest: string }, artifactType?: string): Promise<Descriptor[] | undefined> {
    assertValidRef(ref);
    const out: Descriptor[] = [];
    let url: URL | undefined = this.#auth.apiUrl(ref, `referrers/${ref.digest}`);
    if (artifactType !== undefined) url.searchParams.set('artifactType', artifactType);
    for (let page = 0; url !== undefined; page++) {
      if (page === 100) throw new RegistryError(`referrers of ${formatImageReference(ref)}: more than 100 pages`, { url });
      const res: HttpResponse<Buffer> = await this.#auth.request(
        ref,
        { method: 'GET', path: '', url, accept: MEDIA_TYPES.ociIndex, followRedirects: false },
        this.#transport.buffered({ maxBytes: MAX_MANIFEST_BYTES }),
      );
      // 404 is the spec's "no referrers API"; 405 and 501 are what some servers send for
      // an endpoint they do not implement: the same answer.
      if ((res.status === 404 || res.status === 405 || res.status === 501) && page === 0) return undefined;
      if (res.status !== 200) {
        throw new RegistryError(`GET referrers of ${formatImageReference(ref)} failed: HTTP ${res.status}${registryErrorCodes(res.body)}`, { status: res.status, url: res.url });
      }
      const parsed = imageIndexSchema.safeParse(parseJson(res.body, `referrers of ${formatImageReference(ref)}`, res.url));
      if (!parsed.success) throw new RegistryError(`referrers of ${formatImageReference(ref)} is not an OCI index: ${z.prettifyError(parsed.error)}`, { url: res.url });
      out.push(...parsed.data.manifests);
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header(res.headers, 'link') ?? '')?.[1];
      url = next === undefined ? undefined : new URL(next, res.url);
      if (url !== undefined && url.origin !== res.url.origin) throw new RegistryError(`referrers of ${formatImageReference(ref)}: the next page is on another origin`, { url });
    }
    return artifactType === undefined ? out : out.filter((d) => d.artifactType === artifactType);
  }

  /**
   * Uploads a blob (monolithic: POST, then PUT `?digest=`) unless the repository already
   * has it. For small blobs (configs, small layers); image builders push big layers.
   */
  async pushBlob(ref: ImageRef, mediaType: string, bytes: Buffer): Promise<Descriptor> {
    assertValidRef(ref);
    const digest = sha256(bytes);
    const descriptor: Descriptor = { mediaType, digest, size: bytes.length };
    const head = await this.#auth.request(
      ref,
      { method: 'HEAD', path: `blobs/${digest}`, access: 'pull,push', followRedirects: false },
      this.#small,
    );
    if (head.status === 200) return descriptor;
    const start = await this.#auth.request(
      ref,
      { method: 'POST', path: 'blobs/uploads/', access: 'pull,push', followRedirects: false },
      this.#small,
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
    const put = await this.#auth.request(
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
      this.#small,
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
    const res = await this.#auth.request(
      ref,
      { method: 'GET', path: `manifests/${reference}`, accept: MANIFEST_ACCEPT, followRedirects: false },
      this.#transport.buffered({ maxBytes: MAX_MANIFEST_BYTES }),
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

  #blobRequest<B>(ref: ImageRef, descriptor: Descriptor, finish: Finish<B>, deadlineMs?: number): Promise<HttpResponse<B>> {
    if (!SHA256_DIGEST.test(descriptor.digest)) {
      throw new Error(`blob digest ${JSON.stringify(descriptor.digest)} is not sha256:<64 lowercase hex>`);
    }
    return this.#auth.request(
      ref,
      { method: 'GET', path: `blobs/${descriptor.digest}`, followRedirects: true, ...(deadlineMs === undefined ? {} : { deadlineMs }) },
      finish,
    );
  }

  #expectBlobOk(res: HttpResponse<unknown>, ref: ImageRef, descriptor: Descriptor): void {
    if (res.status === 200) return;
    const where = `${ref.registry}/${ref.repository}`;
    if (res.status === 404) {
      throw new RegistryError(`blob ${descriptor.digest} not found in ${where}`, { status: 404, url: res.url });
    }
    throw new RegistryError(`GET blob ${descriptor.digest} from ${where} failed: HTTP ${res.status}`, { status: res.status, url: res.url });
  }

}
