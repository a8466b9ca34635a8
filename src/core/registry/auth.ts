/**
 * Registry authentication: anonymous first; on a 401 parse the challenges (several may
 * come in one header), get a Bearer token from the realm (or use Basic), retry once.
 * Tokens are cached per (registry, scope) and a host known to need auth gets its token
 * up front, so a repeat manifest fetch is exactly one request.
 *
 * Where credentials go: Basic credentials from the pull secret are sent to the
 * registry's own origin (Basic-only registries) or to its token realm, and a realm is
 * used only when it is the registry's own host or on the allowed list (`hosts.ts`).
 * Redirects never carry them to another origin (the transport drops Authorization).
 */
import * as z from 'zod';
import type { Finish, HttpRequest, HttpResponse, HttpTransport } from '../http/transport.ts';
import { parseWwwAuthenticate, type Challenge } from './challenge.ts';
import type { Credentials, DockerConfig } from './credentials.ts';
import { RegistryAuthError, RegistryError, redactUrl } from './errors.ts';
import type { RegistryHosts } from './hosts.ts';
import type { ImageRef } from './types.ts';

const DEFAULT_TOKEN_LIFETIME_S = 60;
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

const tokenResponseSchema = z
  .object({
    token: z.string().min(1).optional(),
    access_token: z.string().min(1).optional(),
    expires_in: z.number().positive().optional(),
  })
  .refine((t) => t.token !== undefined || t.access_token !== undefined, 'has neither "token" nor "access_token"');

/** Token scope actions: `pull` for reads, `pull,push` for writes. */
export type Access = 'pull' | 'pull,push';

export interface RegistryRequest {
  readonly method: HttpRequest['method'];
  readonly path: string;
  readonly accept?: string;
  /** Blob GETs hop to a CDN; everything else is answered by the registry itself. */
  readonly followRedirects: boolean;
  /** @default 'pull' */
  readonly access?: Access;
  readonly body?: Buffer;
  readonly contentType?: string;
  /** An absolute URL on the registry's origin (upload locations), instead of `path`. */
  readonly url?: URL;
  /** Total time for this request, body included. @default - the transport's deadline */
  readonly deadlineMs?: number;
}

/** How a registry host wants to be authenticated, learnt from its first 401. */
type HostAuth = { readonly kind: 'bearer'; readonly realm: string; readonly service?: string } | { readonly kind: 'basic' };

interface Authorization {
  readonly header?: string;
  /** Token-cache key, when the header holds a cached token. */
  readonly cacheKey?: string;
  /** Obtained in answer to this request's own 401: another 401 means refused. */
  readonly fresh: boolean;
}

/** JSON.parse without quoting the input in the error (it may be a token). */
export function parseJson(body: Buffer, what: string, url: URL): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new RegistryError(`${what} is not valid JSON`, { url });
  }
}

export class RegistryAuth {
  readonly #hostAuth = new Map<string, HostAuth>();
  readonly #tokens = new Map<string, { readonly token: string; readonly expiresAt: number }>();
  readonly #pendingTokens = new Map<string, Promise<string>>();

  constructor(
    private readonly transport: HttpTransport,
    private readonly hosts: RegistryHosts,
    private readonly credentials: DockerConfig | undefined,
  ) {}

  apiUrl(ref: ImageRef, path: string): URL {
    return new URL(`/v2/${ref.repository}/${path}`, this.hosts.origin(ref.registry));
  }

  /** One registry API request, authenticated as the registry asks (at most one re-authentication). */
  async request<B>(ref: ImageRef, request: RegistryRequest, finish: Finish<B>): Promise<HttpResponse<B>> {
    this.hosts.assertRegistryAllowed(ref.registry);
    const url = request.url ?? this.apiUrl(ref, request.path);
    const access = request.access ?? 'pull';
    let auth = await this.#knownAuthorization(ref, access);
    for (;;) {
      const headers: Record<string, string> = {};
      if (request.accept !== undefined) headers['accept'] = request.accept;
      if (request.contentType !== undefined) headers['content-type'] = request.contentType;
      if (auth.header !== undefined) headers['authorization'] = auth.header;
      const res = await this.transport.request(
        { method: request.method, url, headers, ...(request.body === undefined ? {} : { body: request.body }) },
        finish,
        { redirects: request.followRedirects ? 'any' : 'none', ...(request.deadlineMs === undefined ? {} : { deadlineMs: request.deadlineMs }) },
      );
      const fromRegistry = res.url.origin === url.origin;

      if (res.status === 401 && fromRegistry) {
        await this.#drop(res.body);
        if (auth.fresh) throw this.#refused(ref, res.url, access);
        if (auth.cacheKey !== undefined) this.#tokens.delete(auth.cacheKey);
        auth = await this.#authorizeFromChallenge(ref, res.headers['www-authenticate'], res.url, access);
        continue;
      }
      if (res.status === 403 && fromRegistry) {
        await this.#drop(res.body);
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

  /** Drops a body that may be a live stream (a pass-through `finish`) or already buffered. */
  async #drop(body: unknown): Promise<void> {
    if (body !== null && typeof body === 'object' && 'pipe' in body) await this.transport.discard(body as Parameters<HttpTransport['discard']>[0]);
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

  async #authorizeFromChallenge(ref: ImageRef, wwwAuthenticate: string | string[] | undefined, url: URL, access: Access): Promise<Authorization> {
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
    return this.credentials?.credentialsFor(ref.registry, ref.repository);
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

  async #fetchToken(ref: ImageRef, hostAuth: Extract<HostAuth, { kind: 'bearer' }>, scope: string): Promise<{ token: string; expiresInS: number }> {
    let url: URL;
    try {
      url = new URL(hostAuth.realm);
    } catch {
      throw new RegistryAuthError(`${ref.registry} sent a Bearer challenge whose realm is not a URL`, { url: this.apiUrl(ref, '') });
    }
    // Before any connection: a realm off the list gets neither a request nor the credentials.
    this.hosts.assertTokenRealmAllowed(ref.registry, url);
    if (hostAuth.service !== undefined) url.searchParams.set('service', hostAuth.service);
    url.searchParams.set('scope', scope);
    const creds = this.#credentialsFor(ref);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (creds !== undefined) headers['authorization'] = basicHeader(creds);

    const res = await this.transport.request({ method: 'GET', url, headers }, this.transport.buffered({ maxBytes: MAX_TOKEN_RESPONSE_BYTES }));
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
}

function repositoryScope(ref: ImageRef, access: Access): string {
  return `repository:${ref.repository}:${access}`;
}

function tokenKey(registry: string, scope: string): string {
  return `${registry} ${scope}`;
}

function basicHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}
