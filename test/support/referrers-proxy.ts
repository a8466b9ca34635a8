/**
 * The OCI distribution spec 1.1 referrers API in front of Debian's docker-registry,
 * which lacks it. No registry that implements it can run here (Debian packages none),
 * so this tiny test server adds exactly that part of the wire protocol, and forwards
 * everything else unchanged to the real registry (storage, token auth, uploads):
 *
 *   PUT  /v2/<name>/manifests/<ref>   forwarded; when the registry stored a manifest that
 *                                     has a `subject`, the answer carries `OCI-Subject:
 *                                     <subject digest>` and the manifest is indexed
 *   GET  /v2/<name>/referrers/<digest>[?artifactType=T]
 *                                     200 with an OCI index of the manifests whose subject
 *                                     is <digest> (descriptor + artifactType + annotations),
 *                                     filtered by T with `OCI-Filters-Applied: artifactType`;
 *                                     authorised by the real registry (a HEAD of the
 *                                     subject with the caller's Authorization: its 401 and
 *                                     challenge are passed on)
 *
 * The index lives in memory (the server lives as long as one test file).
 */
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Referrer {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
}

export interface ReferrersProxy {
  /** host:port of the proxy (a registry host for clients). */
  readonly host: string;
  /** GET /v2/<name>/referrers/<digest> requests answered. */
  readonly referrersRequests: () => number;
  stop(): Promise<void>;
}

const INDEX = 'application/vnd.oci.image.index.v1+json';

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function forward(upstream: URL, method: string, path: string, headers: IncomingMessage['headers'], bytes: Buffer | undefined): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const out = httpRequest(
      { host: upstream.hostname, port: upstream.port, method, path, headers: { ...headers, ...(bytes ? { 'content-length': String(bytes.length) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    out.on('error', reject);
    out.end(bytes);
  });
}

function reply(res: ServerResponse, status: number, headers: IncomingMessage['headers'], bytes: Buffer): void {
  const h: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && k !== 'transfer-encoding' && k !== 'connection') h[k] = v;
  res.writeHead(status, h);
  res.end(bytes);
}

/** Starts the proxy in front of the registry at `upstreamUrl` (e.g. `http://127.0.0.1:5000`). */
export async function startReferrersProxy(upstreamUrl: string): Promise<ReferrersProxy> {
  const upstream = new URL(upstreamUrl);
  const index = new Map<string, Referrer[]>(); // `<name>@<subject digest>` → referrers
  let referrersRequests = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const referrers = /^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
    if (req.method === 'GET' && referrers) {
      referrersRequests++;
      const [, name, digest] = referrers;
      // The real registry decides who may read: HEAD the subject with the caller's credentials.
      const { accept: _accept, ...headers } = req.headers;
      const auth = await forward(upstream, 'HEAD', `/v2/${name ?? ''}/manifests/${digest ?? ''}`, { ...headers, accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json' }, undefined);
      if (auth.status === 401 || auth.status === 403) {
        // A HEAD answer has no body: send the challenge with an error body of our own.
        const error = Buffer.from(JSON.stringify({ errors: [{ code: auth.status === 401 ? 'UNAUTHORIZED' : 'DENIED', message: 'authentication required' }] }));
        const challenge = auth.headers['www-authenticate'];
        return reply(res, auth.status, { 'content-type': 'application/json', 'content-length': String(error.length), ...(challenge === undefined ? {} : { 'www-authenticate': challenge }) }, error);
      }
      const artifactType = url.searchParams.get('artifactType');
      const all = index.get(`${name}@${digest}`) ?? [];
      const manifests = artifactType === null ? all : all.filter((r) => r.artifactType === artifactType);
      const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests }));
      return reply(res, 200, { 'content-type': INDEX, 'content-length': String(bytes.length), ...(artifactType === null ? {} : { 'oci-filters-applied': 'artifactType' }) }, bytes);
    }
    const bytes = req.method === 'PUT' || req.method === 'POST' || req.method === 'PATCH' ? await body(req) : undefined;
    const answer = await forward(upstream, req.method ?? 'GET', req.url ?? '/', req.headers, bytes);
    const manifest = /^\/v2\/(.+)\/manifests\/[^/]+$/.exec(url.pathname);
    if (req.method === 'PUT' && manifest && bytes && answer.status === 201) {
      let doc: { mediaType?: string; artifactType?: string; config?: { mediaType?: string }; subject?: { digest?: string }; annotations?: Record<string, string> } = {};
      try {
        doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
      } catch {
        // not JSON: the registry would have refused it; nothing to index
      }
      const subject = doc.subject?.digest;
      if (subject !== undefined) {
        const key = `${manifest[1]}@${subject}`;
        const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
        const artifactType = doc.artifactType ?? doc.config?.mediaType;
        const entry: Referrer = {
          mediaType: doc.mediaType ?? String(req.headers['content-type'] ?? ''),
          digest,
          size: bytes.length,
          ...(artifactType ? { artifactType } : {}),
          ...(doc.annotations ? { annotations: doc.annotations } : {}),
        };
        index.set(key, [...(index.get(key) ?? []).filter((r) => r.digest !== digest), entry]);
        answer.headers['oci-subject'] = subject;
      }
    }
    reply(res, answer.status, answer.headers, answer.body);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    referrersRequests: () => referrersRequests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
