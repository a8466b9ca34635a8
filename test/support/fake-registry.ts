/**
 * A small fake OCI registry + token service on loopback, for the registry client's
 * tests. It speaks enough of the distribution protocol (manifests, blobs, HEAD, the
 * Bearer token flow, Basic auth) to exercise the client, and lets a test inject faults
 * with `intercept`. Every request is logged with its Authorization header so tests can
 * count requests and check where credentials went.
 *
 * With `blobRedirect`, blob GETs answer 307 to a second server (the "CDN") on
 * 127.0.0.2, a different origin, which records the Authorization headers it sees.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface FakeRegistryOptions {
  /** @default 'none' */
  readonly auth?: 'none' | 'bearer' | 'basic';
  /** username → password accepted by the token service (bearer) or the registry (basic). */
  readonly users?: Readonly<Record<string, string>>;
  /** Bearer: the token service issues tokens without credentials. @default true when `users` is empty */
  readonly anonymousPull?: boolean;
  /** Bearer: `expires_in` of issued tokens. @default - omitted */
  readonly tokenExpiresIn?: number;
  /** Bearer: the JSON field the token is sent in. @default 'token' */
  readonly tokenField?: 'token' | 'access_token';
  /** Redirect blob GETs to a CDN server on 127.0.0.2. @default false */
  readonly blobRedirect?: boolean;
}

export interface LoggedRequest {
  readonly server: 'registry' | 'cdn';
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly authorization?: string;
  readonly accept?: string;
  /** `performance.now()` when the request arrived. */
  readonly at: number;
}

export interface HookContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly server: 'registry' | 'cdn';
  readonly path: string;
}

/** Returns true when it answered the request itself. */
export type Hook = (ctx: HookContext) => boolean;

export interface BlobInfo {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
}

export const SERVICE = 'fake-registry';

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return (server.address() as AddressInfo).port;
}

export class FakeRegistry {
  readonly log: LoggedRequest[] = [];
  /** Every token the token service issued, to check none leaks into errors. */
  readonly issuedTokens: string[] = [];
  readonly #blobs = new Map<string, Buffer>();
  /** `repo@reference` → body and media type. */
  readonly #manifests = new Map<string, { body: Buffer; mediaType: string; digestHeader: string | null }>();
  readonly #tokens = new Map<string, { scope: string; revoked: boolean }>();
  readonly #hooks: { fn: Hook; remaining: number }[] = [];
  readonly #server: Server;
  readonly #cdn: Server | undefined;
  readonly #options: FakeRegistryOptions;
  host = '';
  origin = '';
  cdnOrigin = '';

  private constructor(options: FakeRegistryOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => this.#handle('registry', req, res));
    this.#cdn = options.blobRedirect ? createServer((req, res) => this.#handle('cdn', req, res)) : undefined;
  }

  static async start(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
    const registry = new FakeRegistry(options);
    const port = await listen(registry.#server, '127.0.0.1');
    registry.host = `127.0.0.1:${port}`;
    registry.origin = `http://${registry.host}`;
    if (registry.#cdn) registry.cdnOrigin = `http://127.0.0.2:${await listen(registry.#cdn, '127.0.0.2')}`;
    return registry;
  }

  async close(): Promise<void> {
    for (const server of [this.#server, this.#cdn]) {
      if (!server) continue;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** Runs `fn` before normal handling, for the next `times` requests it answers. */
  intercept(fn: Hook, times = Number.POSITIVE_INFINITY): void {
    this.#hooks.push({ fn, remaining: times });
  }

  /** Makes every token issued so far invalid (as if expired server-side). */
  revokeTokens(): void {
    for (const t of this.#tokens.values()) t.revoked = true;
  }

  requests(server: 'registry' | 'cdn' = 'registry'): LoggedRequest[] {
    return this.log.filter((r) => r.server === server);
  }

  addBlob(content: Buffer | string, mediaType = OCI_LAYER): BlobInfo {
    const body = Buffer.from(content);
    const digest = sha256(body);
    this.#blobs.set(digest, body);
    return { digest, size: body.length, mediaType };
  }

  /** Stores `body` under `repo:tag` and `repo@digest`; returns the descriptor. */
  addManifest(repo: string, tag: string | undefined, json: unknown, mediaType: string): BlobInfo {
    const body = Buffer.from(JSON.stringify(json));
    const digest = sha256(body);
    this.#manifests.set(`${repo}@${digest}`, { body, mediaType, digestHeader: digest });
    if (tag !== undefined) this.#manifests.set(`${repo}@${tag}`, { body, mediaType, digestHeader: digest });
    return { digest, size: body.length, mediaType };
  }

  /**
   * Stores `body` under any reference, even a digest it does not have (fault
   * injection); sends `digestHeader` as Docker-Content-Digest, or no such header.
   */
  addRawManifest(repo: string, reference: string, body: string, mediaType: string, digestHeader?: string): void {
    this.#manifests.set(`${repo}@${reference}`, { body: Buffer.from(body), mediaType, digestHeader: digestHeader ?? null });
  }

  /** A one-layer image for `architecture`; returns the manifest descriptor and its parts. */
  addImage(
    repo: string,
    tag: string | undefined,
    image: { architecture: string; labels?: Record<string, string>; layer?: Buffer | string },
  ): { manifest: BlobInfo; config: BlobInfo; layer: BlobInfo } {
    const config = this.addBlob(
      JSON.stringify({ architecture: image.architecture, os: 'linux', config: { Labels: image.labels ?? {} }, rootfs: { type: 'layers', diff_ids: [] } }),
      OCI_CONFIG,
    );
    const layer = this.addBlob(image.layer ?? `layer for ${image.architecture}`);
    const manifest = this.addManifest(
      repo,
      tag,
      { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer], annotations: { 'org.example.unknown': 'kept' }, extraField: true },
      OCI_MANIFEST,
    );
    return { manifest, config, layer };
  }

  addIndex(repo: string, tag: string, entries: readonly { manifest: BlobInfo; architecture: string; os?: string }[]): BlobInfo {
    return this.addManifest(
      repo,
      tag,
      {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: entries.map((e) => ({ ...e.manifest, platform: { architecture: e.architecture, os: e.os ?? 'linux' } })),
      },
      OCI_INDEX,
    );
  }

  #challenge(repo: string | undefined): string {
    if (this.#options.auth === 'basic') return 'Basic realm="fake registry"';
    const scope = repo === undefined ? '' : `,scope="repository:${repo}:pull"`;
    // Two challenges in one header, as some registries send; the realm's comma-free,
    // the Basic realm holds a quoted comma and an escaped quote.
    return `Basic realm="fake, \\"registry\\"", Bearer realm="${this.origin}/token",service="${SERVICE}"${scope}`;
  }

  #credentialsOk(authorization: string | undefined): boolean | undefined {
    if (authorization === undefined || !authorization.startsWith('Basic ')) return undefined;
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = decoded.slice(0, colon);
    return colon > 0 && Object.hasOwn(this.#options.users ?? {}, user) && this.#options.users?.[user] === decoded.slice(colon + 1);
  }

  #authorized(req: IncomingMessage, repo: string): boolean {
    const auth = this.#options.auth ?? 'none';
    if (auth === 'none') return true;
    if (auth === 'basic') return this.#credentialsOk(req.headers.authorization) === true;
    const bearer = req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : undefined;
    const token = bearer === undefined ? undefined : this.#tokens.get(bearer);
    return token !== undefined && !token.revoked && token.scope.split(' ').includes(`repository:${repo}:pull`);
  }

  #handle(server: 'registry' | 'cdn', req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.log.push({
      server,
      method: req.method ?? '',
      path: url.pathname,
      query: url.search,
      ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization }),
      ...(req.headers.accept === undefined ? {} : { accept: req.headers.accept }),
      at: performance.now(),
    });
    for (const hook of this.#hooks) {
      if (hook.remaining > 0 && hook.fn({ req, res, server, path: url.pathname })) {
        hook.remaining--;
        return;
      }
    }
    if (server === 'cdn') return this.#serveCdn(url, res);
    if (url.pathname === '/token') return this.#serveToken(req, url, res);
    if (url.pathname === '/v2/') return this.#send(res, 200, '{}', 'application/json');

    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (m === null) return this.#send(res, 404, '{"errors":[{"code":"NAME_UNKNOWN"}]}', 'application/json');
    const [, repo = '', kind, reference = ''] = m;
    if (!this.#authorized(req, repo)) {
      res.writeHead(401, { 'www-authenticate': this.#challenge(repo), 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    if (kind === 'manifests') {
      const found = this.#manifests.get(`${repo}@${reference}`);
      if (found === undefined) return this.#send(res, 404, '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', 'application/json', req.method);
      if (found.digestHeader !== null) res.setHeader('docker-content-digest', found.digestHeader);
      return this.#send(res, 200, found.body, found.mediaType, req.method);
    }
    const blob = this.#blobs.get(reference);
    if (blob === undefined) return this.#send(res, 404, '{"errors":[{"code":"BLOB_UNKNOWN"}]}', 'application/json', req.method);
    if (this.#cdn !== undefined && req.method === 'GET') {
      res.writeHead(307, { location: `${this.cdnOrigin}/cdn/${reference}?signature=cdn-signature` });
      res.end();
      return;
    }
    this.#send(res, 200, blob, 'application/octet-stream', req.method);
  }

  #serveCdn(url: URL, res: ServerResponse): void {
    const blob = this.#blobs.get(url.pathname.replace(/^\/cdn\//, ''));
    if (blob === undefined || url.searchParams.get('signature') !== 'cdn-signature') return this.#send(res, 403, 'denied', 'text/plain');
    this.#send(res, 200, blob, 'application/octet-stream');
  }

  #serveToken(req: IncomingMessage, url: URL, res: ServerResponse): void {
    const scope = url.searchParams.get('scope') ?? '';
    const credentials = this.#credentialsOk(req.headers.authorization);
    const anonymousOk = this.#options.anonymousPull ?? Object.keys(this.#options.users ?? {}).length === 0;
    if (url.searchParams.get('service') !== SERVICE || !/^repository:[^:]+:pull$/.test(scope)) {
      return this.#send(res, 400, '{"details":"bad service or scope"}', 'application/json');
    }
    if (credentials === false || (credentials === undefined && !anonymousOk)) {
      return this.#send(res, 401, '{"details":"invalid username/password"}', 'application/json');
    }
    const token = `tok-${randomBytes(12).toString('hex')}`;
    this.#tokens.set(token, { scope, revoked: false });
    this.issuedTokens.push(token);
    const field = this.#options.tokenField ?? 'token';
    const body: Record<string, unknown> = { [field]: token };
    if (this.#options.tokenExpiresIn !== undefined) body['expires_in'] = this.#options.tokenExpiresIn;
    this.#send(res, 200, JSON.stringify(body), 'application/json');
  }

  #send(res: ServerResponse, status: number, body: Buffer | string, contentType: string, method = 'GET'): void {
    const buf = Buffer.from(body);
    res.writeHead(status, { 'content-type': contentType, 'content-length': String(buf.length) });
    res.end(method === 'HEAD' ? undefined : buf);
  }
}
