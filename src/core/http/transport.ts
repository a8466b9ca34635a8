/**
 * The project's HTTP client, on Node's own `node:http` / `node:https`: one request at
 * a time with retries, redirects, a plain-HTTP rule, an idle timeout AND a total
 * deadline per request, and body readers with byte caps.
 *
 * Why not undici (the npm package, or Node 20's global `fetch`): undici 7.30.2 throws
 * an uncatchable `AssertionError: assert(!this.paused)` when a server closes a
 * connection while a body is paused under back-pressure (nodejs/undici#5360: a gzip
 * bomb sent with `Connection: close`, or a gzip-encoded body, killed the whole
 * process). The fix ships only in undici 8, which needs Node >= 22.19; the CLI runs on
 * Node 20. `node:http` is the one well-kept client on Node 20 that is not on that code
 * path, it decodes nothing by itself (no Content-Encoding surprises), and importing it
 * does not replace the global `fetch` dispatcher the way importing undici does. What
 * undici's interceptors would have given (retry, redirect) is a few lines here, and
 * written here every hop and attempt can be counted and checked (see below).
 *
 * API, from the outside in:
 *
 *   `transport.request(req, finish, options)`
 *     redirects   'none' | 'same-origin' | 'any'; on a hop to another origin the
 *                 Authorization header is dropped; every hop is checked against the
 *                 plain-HTTP rule: http:// only for hosts listed in `insecureHosts`.
 *     retries     429/502/503/504, connection errors and idle timeouts, with
 *                 exponential backoff + jitter, and Retry-After. `finish` runs inside
 *                 the retry loop, so an idle timeout while buffering a body is retried.
 *                 A request that runs past its total deadline is not retried.
 *     one attempt headers and every idle gap within `idleTimeoutMs`; headers AND body
 *                 within `deadlineMs` (a server sending one byte every 5 s is cut),
 *                 counted in `stats` and reported to `onRequest`.
 *   `transport.buffered({ maxBytes, decode })` a `finish` that reads the body into a
 *                 Buffer, refusing more than `maxBytes` on the wire (Content-Length
 *                 first) and, when `decode` handles a gzip/deflate/br Content-Encoding,
 *                 more than `maxBytes` decoded.
 *   `transport.discard(body)` drops a body we do not use.
 *
 * Errors are built by `makeError` (so the registry client throws its RegistryError);
 * messages name the URL without query or user info and never quote a response body.
 * Each says what went wrong as data too (`failure`), so a client can word its own
 * errors (the graph client's GraphError) without reading messages.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { pipeline, Transform, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/** Drops user info, query and fragment: what is left is safe to log. */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '<invalid URL>';
  }
}

/** What went wrong, as data: every error the transport builds names one. */
export type HttpFailure =
  /** Plain http to a host not listed insecure. */
  | { readonly kind: 'scheme' }
  /** 429/502/503/504 on every attempt. */
  | { readonly kind: 'status'; readonly attempts: number }
  /** Connection errors or idle timeouts (`code` ERR_IDLE_TIMEOUT) on every attempt. */
  | { readonly kind: 'unreachable'; readonly code: string | undefined; readonly attempts: number }
  /** The request's deadline passed before the body was read in full. */
  | { readonly kind: 'deadline'; readonly deadlineMs: number }
  /** The body is over `maxBytes`, as its Content-Length declared, as sent, or decoded. */
  | { readonly kind: 'too-large'; readonly maxBytes: number; readonly measured: 'content-length' | 'wire' | 'decoded' }
  /** A Content-Encoding this transport does not decode. */
  | { readonly kind: 'encoding'; readonly encoding: string }
  /** A body that does not decode as its Content-Encoding says (`code`: zlib's). */
  | { readonly kind: 'undecodable'; readonly code: string | undefined }
  /** A redirect to another origin with `redirects: 'same-origin'`. */
  | { readonly kind: 'redirect-origin'; readonly origin: string }
  | { readonly kind: 'too-many-redirects'; readonly maxRedirects: number }
  | { readonly kind: 'bad-location' };

export interface HttpErrorOptions {
  readonly status?: number;
  readonly url: string | URL;
  readonly cause?: unknown;
  /** What went wrong. @default - an error of the caller's own (not the transport's) */
  readonly failure?: HttpFailure;
}

/** Builds the error the transport throws; the default is `HttpTransportError`. */
export type MakeError = (message: string, options: HttpErrorOptions) => Error;

/** An HTTP request failed (status, retries exhausted, limit reached, refused URL). */
export class HttpTransportError extends Error {
  readonly status?: number;
  /** Redacted URL of the failed request. */
  readonly url: string;
  readonly failure?: HttpFailure;

  constructor(message: string, options: HttpErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpTransportError';
    this.status = options.status;
    this.url = redactUrl(options.url);
    this.failure = options.failure;
  }
}

/** Thrown inside a body stream when the request's total deadline passes (code `ERR_DEADLINE`). */
export class DeadlineError extends Error {
  readonly code = 'ERR_DEADLINE';
  constructor(readonly deadlineMs: number, url: URL) {
    super(`${redactUrl(url)} did not complete within the ${deadlineMs} ms deadline`);
    this.name = 'DeadlineError';
  }
}

export interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'POST';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** Request body (PUT/POST); re-sent as is on a retry. */
  readonly body?: Buffer;
}

export interface HttpResponse<B> {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The URL that produced this response (after redirects). */
  readonly url: URL;
  readonly body: B;
}

/** The raw response of one attempt: `body` is the live `IncomingMessage`. */
export type RawResponse = HttpResponse<Readable>;
export type Finish<B> = (res: RawResponse) => Promise<HttpResponse<B>>;

/** What `onRequest` sees when an attempt starts (every hop, retry and token request). */
export interface RequestEvent {
  readonly method: string;
  readonly url: URL;
}

/** How an attempt ended, reported to the callback `onRequest` returned. */
export interface RequestOutcome {
  /** HTTP status, or `undefined` when no response came (connection error, timeout). */
  readonly status?: number;
  /** Response body bytes received (as sent, before any decoding). */
  readonly bytes: number;
}

/** Called when an attempt starts (in the caller's async context); may return a callback for its end. */
export type RequestObserver = (event: RequestEvent) => ((outcome: RequestOutcome) => void) | void;

export interface TransportStats {
  /** Every HTTP attempt made (retries and redirect hops included). */
  requests: number;
  /** Response body bytes received (as sent, before any decoding). */
  bytes: number;
}

export interface TransportOptions {
  /**
   * Hosts (`host[:port]`, matched exactly, case-insensitive) that may be reached over
   * plain http. @default - none: every request and every redirect hop must be https
   */
  readonly insecureHosts?: readonly string[];
  /** Time allowed for response headers, and for each idle gap while reading a body. @default 30000 */
  readonly idleTimeoutMs?: number;
  /** Total time allowed for one attempt: headers and the whole body. @default 120000 */
  readonly deadlineMs?: number;
  /** Retries after the first attempt on 429/502/503/504, connection errors and idle timeouts. @default 4 */
  readonly maxRetries?: number;
  /** First backoff delay; it doubles on each retry, with jitter, capped at 60 s. @default 250 */
  readonly retryBaseMs?: number;
  /** @default 'dtk-pipeline/0.1.0' */
  readonly userAgent?: string;
  /** @default - HttpTransportError */
  readonly makeError?: MakeError;
  /** Sees every attempt (benchmarks count them). @default - none */
  readonly onRequest?: RequestObserver;
}

export interface RequestOptions {
  /** @default 'none' */
  readonly redirects?: 'none' | 'same-origin' | 'any';
  /** @default 5 */
  readonly maxRedirects?: number;
  /** Overrides the transport's `deadlineMs` for this request (e.g. a whole blob). @default - the transport's */
  readonly deadlineMs?: number;
  /**
   * One deadline for the whole request, every redirect hop and retry included: no attempt
   * starts after it and the one in flight is cut at it.
   * @default - none: each attempt has its own `deadlineMs`
   */
  readonly totalDeadlineMs?: number;
}

export interface BufferedOptions {
  /** Most body bytes accepted (decoded bytes when `decode` is set). */
  readonly maxBytes: number;
  /** Decode a gzip, deflate or br Content-Encoding (counted against `maxBytes` after decoding). @default false */
  readonly decode?: boolean;
}

const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Connection failures and idle timeouts, retried like a 503. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'ERR_IDLE_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
export const MAX_RETRY_DELAY_MS = 60_000;
/** Bytes read from a response we drop (to reuse the connection) before closing it instead. */
const MAX_DISCARD_BYTES = 64 * 1024;

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

/** The first value of a response header. */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function errorCode(err: unknown): string | undefined {
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

/** `host[:port]` lists compare case-insensitively; `host:443` / `host:80` also match the default port. */
export function hostListed(list: ReadonlySet<string>, url: URL): boolean {
  const host = url.host.toLowerCase();
  if (list.has(host)) return true;
  if (url.port !== '') return false;
  const defaultPort = url.protocol === 'https:' ? '443' : '80';
  return list.has(`${host}:${defaultPort}`);
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${value}`);
  return value;
}

export class HttpTransport {
  readonly stats: TransportStats = { requests: 0, bytes: 0 };

  readonly #insecure: ReadonlySet<string>;
  readonly #idleTimeoutMs: number;
  readonly #deadlineMs: number;
  readonly #maxRetries: number;
  readonly #retryBaseMs: number;
  readonly #userAgent: string;
  readonly #makeError: MakeError;
  readonly #onRequest: RequestObserver | undefined;
  readonly #http = new HttpAgent({ keepAlive: true, maxSockets: 32 });
  readonly #https = new HttpsAgent({ keepAlive: true, maxSockets: 32 });

  constructor(options: TransportOptions = {}) {
    const { idleTimeoutMs = 30_000, deadlineMs = 120_000, maxRetries = 4, retryBaseMs = 250 } = options;
    this.#idleTimeoutMs = positiveInteger('idleTimeoutMs', idleTimeoutMs);
    this.#deadlineMs = positiveInteger('deadlineMs', deadlineMs);
    if (!Number.isInteger(maxRetries) || maxRetries < 0) throw new Error(`maxRetries must be a non-negative integer, got ${maxRetries}`);
    if (!Number.isFinite(retryBaseMs) || retryBaseMs < 0) throw new Error(`retryBaseMs must be a non-negative number, got ${retryBaseMs}`);
    this.#maxRetries = maxRetries;
    this.#retryBaseMs = retryBaseMs;
    this.#insecure = new Set((options.insecureHosts ?? []).map((h) => h.toLowerCase()));
    this.#userAgent = options.userAgent ?? 'dtk-pipeline/0.1.0';
    this.#makeError = options.makeError ?? ((message, o) => new HttpTransportError(message, o));
    this.#onRequest = options.onRequest;
  }

  /** Responses whose body has not been read to the end or dropped yet. */
  #inFlight = 0;
  #idle: (() => void)[] = [];

  /** Waits until every response body has been read or dropped, then closes the connections. */
  async close(): Promise<void> {
    if (this.#inFlight > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    this.destroy();
  }

  /** Closes every connection now, aborting requests in flight. */
  destroy(): void {
    this.#http.destroy();
    this.#https.destroy();
  }

  #settled(): void {
    this.#inFlight--;
    if (this.#inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Is `url` allowed over plain http (its host is listed insecure)? */
  isInsecureHost(url: URL): boolean {
    return hostListed(this.#insecure, url);
  }

  /** Throws unless `url` is https, or http to a host listed insecure. */
  assertSchemeAllowed(url: URL): void {
    if (url.protocol === 'https:') return;
    if (url.protocol === 'http:' && this.isInsecureHost(url)) return;
    throw this.#makeError(
      `refusing ${url.protocol.replace(':', '')} to ${redactUrl(url)}: plain http is allowed only for hosts listed as insecure`,
      { url, failure: { kind: 'scheme' } },
    );
  }

  /** Sends `request`, following redirects as `options.redirects` says, retrying transient failures. */
  async request<B>(request: HttpRequest, finish: Finish<B>, options: RequestOptions = {}): Promise<HttpResponse<B>> {
    const mode = options.redirects ?? 'none';
    const maxRedirects = mode === 'none' ? 0 : (options.maxRedirects ?? 5);
    const deadlineMs = options.deadlineMs === undefined ? this.#deadlineMs : positiveInteger('deadlineMs', options.deadlineMs);
    const total = options.totalDeadlineMs === undefined ? undefined : { ms: positiveInteger('totalDeadlineMs', options.totalDeadlineMs), endsAt: Date.now() + options.totalDeadlineMs };
    const authorizedOrigin = request.url.origin;
    let current = request;
    for (let hop = 0; ; hop++) {
      this.assertSchemeAllowed(current.url);
      type Outcome = { readonly response: HttpResponse<B> } | { readonly location: string; readonly status: number };
      const outcome = await this.#send(current, deadlineMs, total, async (raw): Promise<Outcome> => {
        const location = header(raw.headers, 'location');
        if (maxRedirects > 0 && REDIRECT_STATUSES.has(raw.status) && location !== undefined) {
          await this.discard(raw.body);
          return { location, status: raw.status };
        }
        return { response: await finish(raw) };
      });
      if ('response' in outcome) return outcome.response;
      if (hop >= maxRedirects) {
        throw this.#makeError(`too many redirects (more than ${maxRedirects}) from ${redactUrl(request.url)}`, {
          status: outcome.status,
          url: current.url,
          failure: { kind: 'too-many-redirects', maxRedirects },
        });
      }
      let url: URL;
      try {
        url = new URL(outcome.location, current.url);
      } catch {
        // No cause: the TypeError carries the Location, which may hold a signature.
        throw this.#makeError(`redirect from ${redactUrl(current.url)} has an invalid Location`, {
          status: outcome.status,
          url: current.url,
          failure: { kind: 'bad-location' },
        });
      }
      if (mode === 'same-origin' && url.origin !== request.url.origin) {
        throw this.#makeError(`${redactUrl(current.url)} redirected to another origin (${url.origin}), which is not followed`, {
          status: outcome.status,
          url: current.url,
          failure: { kind: 'redirect-origin', origin: url.origin },
        });
      }
      const headers = { ...current.headers };
      if (url.origin !== authorizedOrigin) delete headers['authorization'];
      // 303 turns anything into a GET; the others keep the method (we never redirect bodies).
      current = { method: outcome.status === 303 ? 'GET' : current.method, url, headers };
    }
  }

  /** A `finish` that reads the whole body into a Buffer, refusing more than `maxBytes`. */
  buffered(options: BufferedOptions): Finish<Buffer> {
    return async (raw) => ({ ...raw, body: await this.#readAll(raw, options) });
  }

  /**
   * Drops a response body we do not use: reads a little so the connection can be
   * reused, else closes it. Errors are ignored on purpose: the response has already
   * been acted on, and its body carries nothing we need.
   */
  async discard(body: Readable): Promise<void> {
    let size = 0;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_DISCARD_BYTES) break; // leaving the loop destroys the stream
      }
    } catch {
      /* see above */
    }
  }

  async #readAll(raw: RawResponse, options: BufferedOptions): Promise<Buffer> {
    const encoding = options.decode ? (header(raw.headers, 'content-encoding') ?? '').trim().toLowerCase() || 'identity' : 'identity';
    const { maxBytes } = options;
    const tooBig = (measured: 'content-length' | 'wire' | 'decoded') =>
      this.#makeError(
        `response from ${redactUrl(raw.url)} is larger than the ${maxBytes}-byte limit ${measured === 'content-length' ? '(Content-Length)' : measured === 'wire' ? 'on the wire' : 'decoded'}`,
        { status: raw.status, url: raw.url, failure: { kind: 'too-large', maxBytes, measured } },
      );
    // Content-Length counts the bytes on the wire, whatever the encoding.
    const declared = Number(header(raw.headers, 'content-length'));
    if (Number.isFinite(declared) && declared > maxBytes) {
      raw.body.destroy();
      throw tooBig('content-length');
    }
    let source: Readable = raw.body;
    if (encoding !== 'identity') {
      const decoder = contentDecoder(encoding);
      if (decoder === undefined) {
        raw.body.destroy();
        throw this.#makeError(`response from ${redactUrl(raw.url)} has an unsupported Content-Encoding`, {
          status: raw.status,
          url: raw.url,
          failure: { kind: 'encoding', encoding },
        });
      }
      // The wire bytes are capped before the decoder, the decoded ones below; zlib stops
      // inflating when the reader stops reading, so a bomb never inflates past the cap.
      let wire = 0;
      const countWire = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          wire += chunk.length;
          callback(wire > maxBytes ? tooBig('wire') : null, chunk);
        },
      });
      pipeline(raw.body, countWire, decoder, () => {}); // errors reach the loop below through `decoder`
      source = decoder;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) throw tooBig(encoding === 'identity' ? 'wire' : 'decoded');
        chunks.push(chunk);
      }
    } catch (err) {
      raw.body.destroy();
      source.destroy();
      // zlib's errors (codes Z_…) describe the stream ("incorrect header check"), never its bytes.
      const code = errorCode(err);
      if (code?.startsWith('Z_')) {
        throw this.#makeError(`response from ${redactUrl(raw.url)} does not decode as ${encoding} (${code})`, {
          status: raw.status,
          url: raw.url,
          failure: { kind: 'undecodable', code },
        });
      }
      throw err;
    }
    return Buffer.concat(chunks);
  }

  async #send<T>(
    request: HttpRequest,
    deadlineMs: number,
    total: { readonly ms: number; readonly endsAt: number } | undefined,
    finish: (res: RawResponse) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= this.#maxRetries;
      let failure: unknown;
      // The attempt ends at its own deadline, or at the request's total one if that comes first.
      const remaining = total === undefined ? Number.POSITIVE_INFINITY : Math.ceil(total.endsAt - Date.now());
      const deadline = remaining < deadlineMs && total ? { ms: total.ms, what: 'total ' } : { ms: deadlineMs, what: '' };
      try {
        if (remaining <= 0) throw new DeadlineError(deadline.ms, request.url);
        const raw = await this.#once(request, Math.min(deadlineMs, remaining));
        if (!RETRY_STATUSES.has(raw.status)) return await finish(raw);
        await this.discard(raw.body);
        if (last) {
          throw this.#makeError(`${request.method} ${redactUrl(request.url)} failed: HTTP ${raw.status} after ${attempt + 1} attempts`, {
            status: raw.status,
            url: request.url,
            failure: { kind: 'status', attempts: attempt + 1 },
          });
        }
        await sleep(parseRetryAfter(header(raw.headers, 'retry-after')) ?? this.#backoff(attempt));
        continue;
      } catch (err) {
        if (err instanceof DeadlineError) {
          throw this.#makeError(`${request.method} ${redactUrl(request.url)} did not complete within the ${deadline.what}${deadline.ms} ms deadline`, {
            url: request.url,
            failure: { kind: 'deadline', deadlineMs: deadline.ms },
          });
        }
        if (!isTransient(err)) throw err;
        failure = err;
      }
      if (last) {
        throw this.#makeError(`${request.method} ${redactUrl(request.url)} failed: ${errorCode(failure)} after ${attempt + 1} attempts`, {
          url: request.url,
          cause: failure,
          failure: { kind: 'unreachable', code: errorCode(failure), attempts: attempt + 1 },
        });
      }
      await sleep(this.#backoff(attempt));
    }
  }

  #backoff(attempt: number): number {
    const ceiling = Math.min(MAX_RETRY_DELAY_MS, this.#retryBaseMs * 2 ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  /**
   * One attempt. The idle timeout is the socket's; the deadline is a timer that
   * destroys the request and its response (with a DeadlineError) if the body has not
   * been fully read or dropped by then. The body handed out is a counting
   * pass-through of the `IncomingMessage` (destroying it destroys the response).
   */
  #once(request: HttpRequest, deadlineMs: number): Promise<RawResponse> {
    this.stats.requests++;
    this.#inFlight++;
    const { url } = request;
    const ended = this.#onRequest?.({ method: request.method, url }) ?? undefined;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<RawResponse>((resolve, reject) => {
      const headers: Record<string, string> = { ...request.headers, 'user-agent': this.#userAgent };
      if (request.body !== undefined) headers['content-length'] = String(request.body.length);
      const req = send(url, { method: request.method, headers, agent: url.protocol === 'https:' ? this.#https : this.#http });
      let response: IncomingMessage | undefined;
      let status: number | undefined;
      let bytes = 0;
      let done = false;
      const settle = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.#settled();
        ended?.(status === undefined ? { bytes } : { status, bytes });
      };
      const fail = (err: Error): void => {
        req.destroy(err);
        response?.destroy(err);
      };
      const timer = setTimeout(() => fail(new DeadlineError(deadlineMs, url)), deadlineMs);
      timer.unref();
      req.setTimeout(this.#idleTimeoutMs, () =>
        fail(Object.assign(new Error(`${redactUrl(url)} was idle for ${this.#idleTimeoutMs} ms`), { code: 'ERR_IDLE_TIMEOUT' })),
      );
      req.on('error', (err) => {
        if (response !== undefined) return; // the body stream carries it
        settle();
        reject(err);
      });
      req.on('response', (res) => {
        response = res;
        status = res.statusCode ?? 0;
        const stats = this.stats;
        const body = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            bytes += chunk.length;
            stats.bytes += chunk.length;
            callback(null, chunk);
          },
        });
        pipeline(res, body, () => settle());
        body.on('close', () => {
          if (!res.destroyed && !res.complete) res.destroy();
          settle();
        });
        resolve({ status, headers: res.headers, url, body });
      });
      req.end(request.body);
    });
  }
}

/** A decoder for a `Content-Encoding` (lower-cased), or undefined for one this client does not read. */
export function contentDecoder(encoding: string): Transform | undefined {
  if (encoding === 'gzip' || encoding === 'x-gzip') return createGunzip();
  if (encoding === 'deflate') return createInflate();
  if (encoding === 'br') return createBrotliDecompress();
  return undefined;
}
