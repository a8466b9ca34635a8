/**
 * A Docker Registry v2 token service (the `realm` of a `Bearer` challenge), standing in
 * for quay.io's `/v2/auth`: `GET /token?service=…&scope=repository:<repo>:pull[,push]`
 * with optional `Authorization: Basic`. Tokens are RS256 JWTs carrying the signing
 * certificate in the `x5c` header; the registry trusts that certificate through its
 * `rootcertbundle` (docker-registry 2.8 verifies the x5c chain against it).
 *
 * Policy, like quay: anonymous users may pull only the repositories listed as anonymous
 * (the payload repository); any user with valid credentials may pull everything; only
 * the push user may push. A request for actions that are not allowed still gets a token,
 * whose access list leaves them out, so the registry answers 401, as real registries do.
 * Wrong credentials get a 401 from the token service itself.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { importPKCS8, SignJWT } from 'jose';

const execFileAsync = promisify(execFile);

export const OPENSSL_PATH = '/usr/bin/openssl';

/**
 * docker-registry 2.x accepts a token until `exp + 60 s` (clock-skew leeway). The `exp`
 * claim is set this much earlier than `expires_in` says, so the registry rejects a token
 * exactly when the client was told it expires (short TTLs in tests then really expire).
 */
export const REGISTRY_TOKEN_LEEWAY_SECONDS = 60;

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** An RSA key and the self-signed certificate the registry trusts. */
export interface SigningIdentity {
  readonly privateKeyPem: string;
  readonly certificatePem: string;
}

export interface TokenServiceOptions {
  /** username → password. @default { reader: 'reader-password', pusher: 'pusher-password' } */
  readonly users?: Readonly<Record<string, string>>;
  /** Repositories anyone may pull without credentials. @default ['openshift-release-dev/ocp-release'] */
  readonly anonymousRepositories?: readonly string[];
  /** The only user allowed to push. @default 'pusher' */
  readonly pushUser?: string;
  /** Token lifetime in seconds (`expires_in`). @default 300 */
  readonly ttlSeconds?: number;
  /** The `service` (JWT audience) the registry expects. @default 'local-registry' */
  readonly service?: string;
  /** The `iss` claim the registry expects. @default 'local-token-service' */
  readonly issuer?: string;
  /** Signing key and certificate. @default - a fresh RSA-2048 key and self-signed certificate made with openssl */
  readonly signingIdentity?: SigningIdentity;
}

export const DEFAULT_USERS: Readonly<Record<string, string>> = {
  reader: 'reader-password',
  pusher: 'pusher-password',
};

export interface ResourceAccess {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

export interface TokenServiceStats {
  /** Every HTTP request received. */
  requests: number;
  /** Tokens issued (including tokens with an empty access list). */
  issued: number;
  /** Requests refused with 401 (wrong credentials). */
  refused: number;
  /** Tokens issued to anonymous requests. */
  anonymous: number;
  /** Tokens issued per authenticated user. */
  byUser: Record<string, number>;
}

export interface RunningTokenService {
  /** `http://127.0.0.1:PORT/token` */
  readonly url: string;
  readonly service: string;
  readonly issuer: string;
  readonly certificatePem: string;
  readonly anonymousRepositories: readonly string[];
  readonly stats: TokenServiceStats;
  /** Credentials of a configured user; throws for an unknown user. */
  credentials(username: string): Credentials;
  /** The configured push user's credentials. */
  pushCredentials(): Credentials;
  /** Change the lifetime of tokens issued from now on. */
  setTtlSeconds(seconds: number): void;
  /** Makes `expires_in` lie (undefined: tell the truth again), so tokens expire while clients still trust them. */
  setAdvertisedTtlSeconds(seconds: number | undefined): void;
  /** Issue a token directly (what a request would get), without HTTP. */
  issueToken(username: string | undefined, scopes: readonly string[]): Promise<TokenResponse>;
  resetStats(): void;
  stop(): Promise<void>;
}

export interface TokenResponse {
  readonly token: string;
  readonly access_token: string;
  readonly expires_in: number;
  readonly issued_at: string;
}

/** Generate an RSA key and a self-signed certificate with the openssl CLI. */
export async function generateSigningIdentity(commonName = 'local-token-service'): Promise<SigningIdentity> {
  const dir = await mkdtemp(join(tmpdir(), 'world-signing-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    await execFileAsync(OPENSSL_PATH, [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650',
      '-subj', `/CN=${commonName}`, '-keyout', keyPath, '-out', certPath,
    ]);
    let privateKeyPem = await readFile(keyPath, 'utf8');
    if (!privateKeyPem.includes('BEGIN PRIVATE KEY')) {
      // Older openssl writes PKCS#1; jose wants PKCS#8.
      const { stdout } = await execFileAsync(OPENSSL_PATH, ['pkcs8', '-topk8', '-nocrypt', '-in', keyPath]);
      privateKeyPem = stdout;
    }
    return { privateKeyPem, certificatePem: await readFile(certPath, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Base64 DER of a PEM certificate, as the JWS `x5c` header wants it. */
function pemToBase64Der(pem: string): string {
  return pem
    .replace(/-----BEGIN CERTIFICATE-----/, '')
    .replace(/-----END CERTIFICATE-----[\s\S]*/, '')
    .replace(/\s+/g, '');
}

/** Parse `repository:<name>:<actions>` scopes (several per parameter, space separated). */
export function parseScopes(scopes: readonly string[]): ResourceAccess[] {
  const out: ResourceAccess[] = [];
  for (const scope of scopes.flatMap((s) => s.split(' ')).filter((s) => s.length > 0)) {
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    if (first <= 0 || last === first) continue;
    out.push({
      type: scope.slice(0, first),
      name: scope.slice(first + 1, last),
      actions: scope.slice(last + 1).split(',').filter((a) => a.length > 0),
    });
  }
  return out;
}

function parseBasic(header: string | undefined): Credentials | undefined | 'malformed' {
  if (header === undefined) return undefined;
  const match = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) return 'malformed';
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function startTokenService(options: TokenServiceOptions = {}): Promise<RunningTokenService> {
  const users: Readonly<Record<string, string>> = options.users ?? DEFAULT_USERS;
  const anonymousRepositories = options.anonymousRepositories ?? ['openshift-release-dev/ocp-release'];
  const pushUser = options.pushUser ?? 'pusher';
  const service = options.service ?? 'local-registry';
  const issuer = options.issuer ?? 'local-token-service';
  let ttlSeconds = options.ttlSeconds ?? 300;
  /** When set, `expires_in` says this instead of the truth: clients then hold tokens the registry already refuses. */
  let advertisedTtlSeconds: number | undefined;
  if (!(ttlSeconds > 0)) throw new Error(`token ttlSeconds must be positive, got ${ttlSeconds}`);
  const identity = options.signingIdentity ?? (await generateSigningIdentity(issuer));
  const key = await importPKCS8(identity.privateKeyPem, 'RS256');
  const x5c = [pemToBase64Der(identity.certificatePem)];

  const stats: TokenServiceStats = { requests: 0, issued: 0, refused: 0, anonymous: 0, byUser: {} };

  function grant(username: string | undefined, requested: readonly ResourceAccess[]): ResourceAccess[] {
    const granted: ResourceAccess[] = [];
    for (const r of requested) {
      if (r.type !== 'repository') continue;
      const actions = r.actions.filter((action) => {
        if (action === 'pull') return username !== undefined || anonymousRepositories.includes(r.name);
        if (action === 'push') return username === pushUser;
        return false;
      });
      if (actions.length > 0) granted.push({ type: r.type, name: r.name, actions });
    }
    return granted;
  }

  async function issueToken(username: string | undefined, scopes: readonly string[]): Promise<TokenResponse> {
    const access = grant(username, parseScopes(scopes));
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', x5c })
      .setIssuer(issuer)
      .setSubject(username ?? '')
      .setAudience(service)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttlSeconds - REGISTRY_TOKEN_LEEWAY_SECONDS)
      .setJti(randomUUID())
      .sign(key);
    stats.issued++;
    if (username === undefined) stats.anonymous++;
    else stats.byUser[username] = (stats.byUser[username] ?? 0) + 1;
    return { token, access_token: token, expires_in: advertisedTtlSeconds ?? ttlSeconds, issued_at: new Date(now * 1000).toISOString() };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++;
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    if (url.pathname !== '/token' && url.pathname !== '/v2/auth') {
      sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: `no such endpoint ${url.pathname}` }] });
      return;
    }
    if (req.method !== 'GET') {
      sendJson(res, 405, { errors: [{ code: 'UNSUPPORTED', message: 'only GET is supported' }] }, { Allow: 'GET' });
      return;
    }
    const requestedService = url.searchParams.get('service');
    if (requestedService !== null && requestedService !== service) {
      sendJson(res, 400, { errors: [{ code: 'DENIED', message: `unknown service ${requestedService}` }] });
      return;
    }
    const basic = parseBasic(req.headers.authorization);
    let username: string | undefined;
    if (basic === 'malformed' || (basic !== undefined && users[basic.username] !== basic.password)) {
      stats.refused++;
      sendJson(
        res,
        401,
        { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] },
        { 'WWW-Authenticate': `Basic realm="${service}"` },
      );
      return;
    }
    if (basic !== undefined) username = basic.username;
    sendJson(res, 200, await issueToken(username, url.searchParams.getAll('scope')));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { errors: [{ code: 'UNKNOWN', message: String(err) }] });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  function credentials(username: string): Credentials {
    const password = users[username];
    if (password === undefined) throw new Error(`token service has no user ${username}; configure it in users`);
    return { username, password };
  }

  return {
    url: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certificatePem: identity.certificatePem,
    anonymousRepositories,
    stats,
    credentials,
    pushCredentials: () => credentials(pushUser),
    setTtlSeconds(seconds: number) {
      if (!(seconds > 0)) throw new Error(`token ttlSeconds must be positive, got ${seconds}`);
      ttlSeconds = seconds;
    },
    setAdvertisedTtlSeconds(seconds: number | undefined) {
      advertisedTtlSeconds = seconds;
    },
    issueToken,
    resetStats() {
      Object.assign(stats, { requests: 0, issued: 0, refused: 0, anonymous: 0, byUser: {} });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
