/**
 * A reverse proxy in front of the registry (and its token endpoint, under `/token`), which
 * is what the scanner talks to. It counts requests and response bytes per path class and
 * injects faults into the next N matching requests: 429 with Retry-After, 5xx, a
 * connection closed mid-body, a redirect of a blob GET to a "CDN" on another loopback
 * host (like quay's redirects to CloudFront/S3), or a hostile answer: other bytes than
 * the registry's (a tampered layer, a gzip bomb, with `Connection: close`) or a body
 * dripped one byte at a time. The CDN serves the blob by fetching it
 * from the registry with its own token, and records whether requests carried an
 * `Authorization` header (clients must not forward the registry's token to another host).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Credentials } from './token-service.ts';

export type PathClass = 'manifest' | 'blob' | 'token' | 'other';

export const TOKEN_PATH = '/token';

/** manifest: `/v2/<repo>/manifests/<ref>`; blob: `/v2/<repo>/blobs/<digest>`; token: `/token`. */
export function classifyPath(path: string): PathClass {
  const pathname = path.split('?')[0] ?? '';
  if (pathname === TOKEN_PATH) return 'token';
  if (/^\/v2\/.+\/manifests\/[^/]+$/.test(pathname)) return 'manifest';
  if (/^\/v2\/.+\/blobs\/[a-z0-9]+:[a-f0-9]+$/.test(pathname)) return 'blob';
  return 'other';
}

export interface FaultMatch {
  /** HTTP method, e.g. 'GET'. @default - any */
  readonly method?: string;
  /** @default - any */
  readonly pathClass?: PathClass;
  /** Substring of, or pattern tested against, the request path (with query). @default - any */
  readonly path?: string | RegExp;
}

export type FaultAction =
  /** 429 Too Many Requests with `Retry-After: <seconds>` (default 1). */
  | { readonly kind: 'rate-limit'; readonly retryAfterSeconds?: number }
  /** A 5xx answer (default 503). */
  | { readonly kind: 'server-error'; readonly status?: number }
  /** Forward, send the headers and `afterBytes` of the body (default half), then close the connection. */
  | { readonly kind: 'close-mid-body'; readonly afterBytes?: number }
  /** Answer a blob GET with a 302 to the CDN (after checking the request's authorization). */
  | { readonly kind: 'cdn-redirect' }
  /**
   * A hostile registry: answer with `body` instead of the registry's (a tampered layer,
   * a gzip bomb), optionally with `Connection: close` and extra headers (e.g.
   * `Content-Encoding: gzip`). The request is not forwarded.
   */
  | {
      readonly kind: 'replace-body';
      readonly body: Buffer;
      readonly status?: number;
      readonly headers?: Readonly<Record<string, string>>;
      readonly connectionClose?: boolean;
    }
  /** A slow CDN: forward, then send the body one byte every `intervalMs` (default 1000). */
  | { readonly kind: 'drip'; readonly intervalMs?: number };

export interface FaultRule {
  readonly match: FaultMatch;
  readonly action: FaultAction;
  /** How many matching requests get the fault. @default 1 */
  readonly times?: number;
}

export interface InjectedFault {
  /** Matching requests still to be faulted. */
  readonly remaining: number;
  /** Requests faulted so far. */
  readonly hits: number;
  cancel(): void;
}

export interface ClassStats {
  requests: number;
  /** Response body bytes sent to clients. */
  bytes: number;
}

export interface ProxyStats {
  requests: number;
  byClass: Record<PathClass, ClassStats>;
  faultsInjected: number;
  redirects: number;
}

export interface ProxyLogEntry {
  readonly method: string;
  readonly path: string;
  readonly pathClass: PathClass;
  readonly status: number;
  readonly fault?: FaultAction['kind'];
}

export interface CdnStats {
  requests: number;
  bytes: number;
  /** Requests that carried an Authorization header. */
  withAuthorization: number;
  /** Requests refused because they carried one (when `rejectAuthorization`). */
  rejected: number;
}

export interface RunningCdn {
  /** e.g. `127.0.0.2:PORT` (or `localhost:PORT` where 127.0.0.2 cannot be bound). */
  readonly host: string;
  readonly url: string;
  readonly stats: CdnStats;
  /** Per request: path and whether it carried an Authorization header. */
  readonly log: ReadonlyArray<{ readonly path: string; readonly hadAuthorization: boolean; readonly status: number }>;
  /** A signed URL for a blob. */
  signedUrl(repository: string, digest: string): string;
  resetStats(): void;
  stop(): Promise<void>;
}

export interface RunningFaultProxy {
  /** `127.0.0.1:PORT`: the registry host the scanner uses. */
  readonly host: string;
  readonly url: string;
  /** The token endpoint through the proxy (use as the registry's realm). */
  readonly tokenUrl: string;
  readonly stats: ProxyStats;
  /** The last 2,000 requests. */
  readonly log: readonly ProxyLogEntry[];
  readonly cdn: RunningCdn;
  /** Fault the next `times` requests matching `match`. Rules are tried in injection order. */
  inject(rule: FaultRule): InjectedFault;
  clearFaults(): void;
  /** Redirect every blob GET to the CDN (quay's behaviour). */
  setCdnRedirect(enabled: boolean): void;
  /** Point the proxy (and the CDN) at the registry, e.g. once it has started. */
  setRegistry(registryUrl: string): void;
  resetStats(): void;
  stop(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Registry base URL, `http://127.0.0.1:PORT`. @default - set later with setRegistry() */
  readonly registryUrl?: string;
  /** Token service URL (`http://127.0.0.1:PORT/token`), served under `/token`. */
  readonly tokenServiceUrl: string;
  /** Token `service` name, for the CDN's own token requests. */
  readonly service: string;
  /** Credentials the CDN uses to read blobs from the registry. */
  readonly cdnCredentials: Credentials;
  /** Port on 127.0.0.1. @default - a free port */
  readonly port?: number;
  /** Redirect every blob GET to the CDN. @default false */
  readonly cdnRedirect?: boolean;
  /**
   * The CDN answers 400 to requests that carry an Authorization header, as S3 does for
   * presigned URLs ("Only one auth mechanism allowed"). They are recorded either way.
   * @default true
   */
  readonly cdnRejectsAuthorization?: boolean;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function forwardHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
  return out;
}

function matches(match: FaultMatch, method: string, path: string, cls: PathClass): boolean {
  if (match.method !== undefined && match.method.toUpperCase() !== method) return false;
  if (match.pathClass !== undefined && match.pathClass !== cls) return false;
  if (match.path !== undefined) {
    if (typeof match.path === 'string' ? !path.includes(match.path) : !match.path.test(path)) return false;
  }
  return true;
}

async function listen(server: Server, host: string, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message, detail: null }] });
}

// ---------------------------------------------------------------------------- CDN

async function startCdn(opts: {
  getRegistryUrl: () => string | undefined;
  tokenServiceUrl: string;
  service: string;
  credentials: Credentials;
  rejectAuthorization: boolean;
}): Promise<RunningCdn> {
  const key = randomBytes(32);
  const stats: CdnStats = { requests: 0, bytes: 0, withAuthorization: 0, rejected: 0 };
  const log: Array<{ path: string; hadAuthorization: boolean; status: number }> = [];
  const tokens = new Map<string, { token: string; expiresAt: number }>();
  const sign = (repository: string, digest: string, expires: number): string =>
    createHmac('sha256', key).update(`${repository}\n${digest}\n${expires}`).digest('hex');

  async function registryToken(repository: string): Promise<string> {
    const cached = tokens.get(repository);
    if (cached && cached.expiresAt - Date.now() > 5000) return cached.token;
    const url = new URL(opts.tokenServiceUrl);
    url.searchParams.set('service', opts.service);
    url.searchParams.set('scope', `repository:${repository}:pull`);
    const basic = Buffer.from(`${opts.credentials.username}:${opts.credentials.password}`).toString('base64');
    const res = await fetch(url, { headers: { Authorization: `Basic ${basic}` } });
    if (!res.ok) throw new Error(`CDN token request failed: HTTP ${res.status}`);
    const body = (await res.json()) as { token: string; expires_in?: number };
    tokens.set(repository, { token: body.token, expiresAt: Date.now() + (body.expires_in ?? 60) * 1000 });
    return body.token;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++;
    const hadAuthorization = req.headers.authorization !== undefined;
    if (hadAuthorization) stats.withAuthorization++;
    const url = new URL(req.url ?? '/', 'http://cdn.invalid');
    const finish = (status: number, body: string, headers: Record<string, string> = {}): void => {
      log.push({ path: url.pathname, hadAuthorization, status });
      if (log.length > 2000) log.shift();
      res.writeHead(status, { 'Content-Length': Buffer.byteLength(body), ...headers });
      res.end(body);
    };
    const m = /^\/cdn\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
    if (!m?.[1] || !m[2] || (req.method !== 'GET' && req.method !== 'HEAD')) {
      return finish(404, '<Error><Code>NoSuchKey</Code></Error>', { 'Content-Type': 'application/xml' });
    }
    const [repository, digest] = [m[1], m[2]];
    const expires = Number(url.searchParams.get('Expires'));
    const signature = url.searchParams.get('Signature') ?? '';
    if (!(expires > Date.now() / 1000) || signature !== sign(repository, digest, expires)) {
      return finish(403, '<Error><Code>AccessDenied</Code><Message>Request has expired or signature mismatch</Message></Error>', {
        'Content-Type': 'application/xml',
      });
    }
    if (hadAuthorization && opts.rejectAuthorization) {
      stats.rejected++;
      return finish(
        400,
        '<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified</Message></Error>',
        { 'Content-Type': 'application/xml' },
      );
    }
    const registryUrl = opts.getRegistryUrl();
    if (!registryUrl) return finish(503, 'registry not set');
    const token = await registryToken(repository);
    const upstream = await fetch(`${registryUrl}/v2/${repository}/blobs/${digest}`, {
      method: req.method,
      headers: { Authorization: `Bearer ${token}` },
    });
    log.push({ path: url.pathname, hadAuthorization, status: upstream.status });
    if (log.length > 2000) log.shift();
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    const length = upstream.headers.get('content-length');
    if (length !== null) headers['Content-Length'] = length;
    headers.ETag = `"${digest}"`;
    res.writeHead(upstream.status === 200 ? 200 : upstream.status, headers);
    if (!upstream.body || req.method === 'HEAD') {
      res.end();
      return;
    }
    const body = Readable.fromWeb(upstream.body as WebReadableStream<Uint8Array>);
    body.on('data', (chunk: Buffer) => {
      stats.bytes += chunk.length;
    });
    body.on('error', () => res.destroy());
    res.on('close', () => body.destroy());
    body.pipe(res);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'Content-Type': 'text/plain' });
        res.end(String(err));
      } else {
        res.destroy();
      }
    });
  });
  let hostname = '127.0.0.2';
  let port: number;
  try {
    port = await listen(server, '127.0.0.2');
  } catch {
    // No 127.0.0.2 on this machine: `localhost` is still another origin than 127.0.0.1.
    hostname = 'localhost';
    port = await listen(server, '127.0.0.1');
  }
  const host = `${hostname}:${port}`;
  return {
    host,
    url: `http://${host}`,
    stats,
    log,
    signedUrl(repository, digest) {
      const expires = Math.floor(Date.now() / 1000) + 600;
      return `http://${host}/cdn/${repository}/blobs/${digest}?Expires=${expires}&Signature=${sign(repository, digest, expires)}`;
    },
    resetStats() {
      Object.assign(stats, { requests: 0, bytes: 0, withAuthorization: 0, rejected: 0 });
      log.length = 0;
    },
    stop: () => closeServer(server),
  };
}

// ---------------------------------------------------------------------------- proxy

interface ActiveRule {
  readonly rule: FaultRule;
  remaining: number;
  hits: number;
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<RunningFaultProxy> {
  let registryUrl = opts.registryUrl;
  let cdnRedirectAll = opts.cdnRedirect ?? false;
  const tokenTarget = new URL(opts.tokenServiceUrl);
  const rules: ActiveRule[] = [];
  const newClassStats = (): Record<PathClass, ClassStats> => ({
    manifest: { requests: 0, bytes: 0 },
    blob: { requests: 0, bytes: 0 },
    token: { requests: 0, bytes: 0 },
    other: { requests: 0, bytes: 0 },
  });
  const stats: ProxyStats = { requests: 0, byClass: newClassStats(), faultsInjected: 0, redirects: 0 };
  const log: ProxyLogEntry[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const cdn = await startCdn({
    getRegistryUrl: () => registryUrl,
    tokenServiceUrl: opts.tokenServiceUrl,
    service: opts.service,
    credentials: opts.cdnCredentials,
    rejectAuthorization: opts.cdnRejectsAuthorization ?? true,
  });

  function record(entry: ProxyLogEntry): void {
    log.push(entry);
    if (log.length > 2000) log.shift();
  }

  function takeFault(method: string, path: string, cls: PathClass): FaultAction | undefined {
    for (const active of rules) {
      if (active.remaining <= 0 || !matches(active.rule.match, method, path, cls)) continue;
      if (active.rule.action.kind === 'cdn-redirect' && (cls !== 'blob' || method !== 'GET')) continue;
      active.remaining--;
      active.hits++;
      stats.faultsInjected++;
      return active.rule.action;
    }
    return undefined;
  }

  /** Forward a request upstream; resolves with the upstream response. */
  function forward(req: IncomingMessage, target: URL, path: string, method = req.method ?? 'GET'): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method,
          path,
          headers: forwardHeaders(req.headers),
          agent,
        },
        resolve,
      );
      upstream.on('error', reject);
      if (method === 'HEAD' || method === 'GET') upstream.end();
      else req.pipe(upstream);
    });
  }

  function relay(
    upstream: IncomingMessage,
    res: ServerResponse,
    cls: PathClass,
    entry: Omit<ProxyLogEntry, 'status'>,
    cutAfter?: number,
  ): void {
    const headers = forwardHeaders(upstream.headers);
    res.writeHead(upstream.statusCode ?? 502, headers);
    record({ ...entry, status: upstream.statusCode ?? 502 });
    let sent = 0;
    let cut = false;
    if (cutAfter !== undefined && cutAfter <= 0) {
      upstream.destroy();
      res.destroy();
      return;
    }
    upstream.on('data', (chunk: Buffer) => {
      if (cut) return;
      if (cutAfter !== undefined && sent + chunk.length >= cutAfter) {
        cut = true;
        const part = chunk.subarray(0, cutAfter - sent);
        sent += part.length;
        stats.byClass[cls].bytes += part.length;
        res.write(part, () => res.destroy());
        upstream.destroy();
        return;
      }
      sent += chunk.length;
      stats.byClass[cls].bytes += chunk.length;
      if (!res.write(chunk)) {
        upstream.pause();
        res.once('drain', () => upstream.resume());
      }
    });
    upstream.on('end', () => {
      // A cut that falls at or past the end of the body still closes without finishing it.
      if (cutAfter !== undefined) res.destroy();
      else res.end();
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
  }

  /** Relays the whole upstream body, then sends it on one byte per `intervalMs`. */
  function drip(upstream: IncomingMessage, res: ServerResponse, cls: PathClass, entry: Omit<ProxyLogEntry, 'status'>, intervalMs: number): void {
    const chunks: Buffer[] = [];
    upstream.on('data', (c: Buffer) => chunks.push(c));
    upstream.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(upstream.statusCode ?? 502, forwardHeaders(upstream.headers));
      record({ ...entry, status: upstream.statusCode ?? 502 });
      let i = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return void clearInterval(timer);
        if (i >= body.length) {
          clearInterval(timer);
          res.end();
          return;
        }
        res.write(body.subarray(i, i + 1));
        stats.byClass[cls].bytes += 1;
        i++;
      }, intervalMs);
      res.on('close', () => clearInterval(timer));
    });
    upstream.on('error', () => res.destroy());
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = req.url ?? '/';
    const cls = classifyPath(path);
    stats.requests++;
    stats.byClass[cls].requests++;
    const fault = takeFault(method, path, cls);
    const entry = { method, path, pathClass: cls, ...(fault ? { fault: fault.kind } : {}) };

    const sendSmall = (status: number, body: string, headers: Record<string, string>): void => {
      stats.byClass[cls].bytes += Buffer.byteLength(body);
      record({ ...entry, status });
      res.writeHead(status, { 'Content-Length': Buffer.byteLength(body), ...headers });
      res.end(method === 'HEAD' ? undefined : body);
    };

    if (fault?.kind === 'rate-limit') {
      const seconds = fault.retryAfterSeconds ?? 1;
      return sendSmall(429, errorBody('TOOMANYREQUESTS', 'too many requests'), {
        'Content-Type': 'application/json',
        'Retry-After': String(seconds),
      });
    }
    if (fault?.kind === 'server-error') {
      const status = fault.status ?? 503;
      return sendSmall(status, errorBody('UNAVAILABLE', `injected HTTP ${status}`), { 'Content-Type': 'application/json' });
    }

    if (fault?.kind === 'replace-body') {
      const status = fault.status ?? 200;
      stats.byClass[cls].bytes += fault.body.length;
      record({ ...entry, status });
      res.writeHead(status, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(fault.body.length),
        ...(fault.connectionClose ? { Connection: 'close' } : {}),
        ...fault.headers,
      });
      res.end(method === 'HEAD' ? undefined : fault.body);
      return;
    }

    const isToken = cls === 'token';
    if (!isToken && registryUrl === undefined) {
      return sendSmall(503, errorBody('UNAVAILABLE', 'registry not started yet'), { 'Content-Type': 'application/json' });
    }
    const target = isToken ? tokenTarget : new URL(registryUrl as string);
    const upstreamPath = isToken ? `${tokenTarget.pathname}${path.slice(TOKEN_PATH.length)}` : path;

    const redirect = fault?.kind === 'cdn-redirect' || (cdnRedirectAll && cls === 'blob' && method === 'GET');
    if (redirect) {
      // Like quay: check the caller may read the blob, then send it to the CDN.
      const head = await forward(req, target, upstreamPath, 'HEAD');
      head.resume();
      if (head.statusCode === 200) {
        const m = /^\/v2\/(.+)\/blobs\/([^/?]+)/.exec(path);
        if (m?.[1] && m[2]) {
          stats.redirects++;
          return sendSmall(302, '', { Location: cdn.signedUrl(m[1], m[2]) });
        }
      }
    }

    const upstream = await forward(req, target, upstreamPath);
    if (fault?.kind === 'drip') {
      drip(upstream, res, cls, entry, fault.intervalMs ?? 1000);
      return;
    }
    let cutAfter: number | undefined;
    if (fault?.kind === 'close-mid-body') {
      const length = Number(upstream.headers['content-length']);
      cutAfter = fault.afterBytes ?? (Number.isFinite(length) && length > 1 ? Math.floor(length / 2) : 0);
    }
    relay(upstream, res, cls, entry, cutAfter);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'Content-Type': 'application/json' });
        res.end(errorBody('UNAVAILABLE', `proxy error: ${String(err)}`));
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  let port: number;
  try {
    port = await listen(server, '127.0.0.1', opts.port ?? 0);
  } catch (err) {
    await cdn.stop();
    throw err;
  }
  const host = `127.0.0.1:${port}`;
  return {
    host,
    url: `http://${host}`,
    tokenUrl: `http://${host}${TOKEN_PATH}`,
    stats,
    log,
    cdn,
    inject(rule) {
      const active: ActiveRule = { rule, remaining: rule.times ?? 1, hits: 0 };
      rules.push(active);
      return {
        get remaining() {
          return active.remaining;
        },
        get hits() {
          return active.hits;
        },
        cancel() {
          active.remaining = 0;
        },
      };
    },
    clearFaults() {
      rules.length = 0;
    },
    setCdnRedirect(enabled) {
      cdnRedirectAll = enabled;
    },
    setRegistry(url) {
      registryUrl = url;
    },
    resetStats() {
      Object.assign(stats, { requests: 0, byClass: newClassStats(), faultsInjected: 0, redirects: 0 });
      log.length = 0;
    },
    async stop() {
      await closeServer(server);
      agent.destroy();
      await cdn.stop();
    },
  };
}
