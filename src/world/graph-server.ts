/**
 * A Cincinnati stand-in: `GET /api/upgrades_info/v1/graph?channel=&arch=` over seeded
 * releases, with the behaviours a poller must cope with (400 without channel, 406 for an
 * Accept without JSON, optional ETag/304, per-channel broken responses, releases that
 * appear while it runs).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compareOcpVersions, parseOcpVersion } from './eras.ts';
import type { SeededRelease } from './spec.ts';

export const GRAPH_PATH = '/api/upgrades_info/v1/graph';

export type GraphFault = 'not-json' | 'http-500' | 'malformed';

export interface GraphServerOptions {
  /** Send a strong ETag and answer 304 to a matching If-None-Match. @default false */
  readonly etag?: boolean;
  /** channel → fault served instead of that channel's graph. @default {} */
  readonly faults?: Readonly<Record<string, GraphFault>>;
  /** Edges from each release to at most this many later z-streams of its minor. @default 3 */
  readonly maxEdgesPerNode?: number;
  /** Path the graph is served at (OKD's upstream serves `/graph`). @default GRAPH_PATH */
  readonly path?: string;
}

export interface GraphStats {
  requests: number;
  /** 200 responses with a graph body. */
  graphs: number;
  notModified: number;
  faults: number;
  /** Requests per `channel/arch`. */
  byChannel: Record<string, number>;
}

export interface GraphNode {
  readonly version: string;
  readonly payload: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface Graph {
  readonly version: 1;
  readonly nodes: readonly GraphNode[];
  readonly edges: ReadonlyArray<readonly [number, number]>;
  readonly conditionalEdges: readonly unknown[];
}

export interface RunningGraphServer {
  /** `http://127.0.0.1:PORT` */
  readonly baseUrl: string;
  /** `http://127.0.0.1:PORT/api/upgrades_info/v1/graph` */
  readonly url: string;
  readonly stats: GraphStats;
  /** Make a release appear (as a newly published z-stream does). */
  addRelease(release: SeededRelease): void;
  /** Lists a release (every payload of that version) in other channels, as when a candidate is promoted to fast and stable. */
  setChannels(version: string, channels: readonly string[]): void;
  /** Set (or clear, with undefined) the fault of a channel. */
  setFault(channel: string, fault: GraphFault | undefined): void;
  /**
   * Nodes served verbatim after the seeded ones of a channel (every arch), as a broken or
   * hostile graph has them: no payload, an unpinned payload, a version with escape
   * sequences. Cleared with an empty list.
   */
  setExtraNodes(channel: string, nodes: readonly unknown[]): void;
  /** The graph the server would send for a channel and arch. */
  graphFor(channel: string, arch?: string): Graph;
  resetStats(): void;
  stop(): Promise<void>;
}

function manifestRef(payload: string): string {
  const at = payload.lastIndexOf('@');
  return at >= 0 ? payload.slice(at + 1) : '';
}

/** Build a Cincinnati graph for one channel and arch. */
export function buildGraph(releases: readonly SeededRelease[], channel: string, arch: string, maxEdgesPerNode = 3): Graph {
  const selected = releases
    .filter((r) => r.graphArch === arch && r.channels.includes(channel))
    .sort((a, b) => compareOcpVersions(a.version, b.version));
  const nodes: GraphNode[] = selected.map((r) => {
    const metadata: Record<string, string> = {
      'io.openshift.upgrades.graph.release.channels': r.channels.join(','),
      'io.openshift.upgrades.graph.release.manifestref': manifestRef(r.payload),
    };
    if (r.url !== undefined) metadata.url = r.url;
    if (arch === 'multi') metadata['release.openshift.io/architecture'] = 'multi';
    return { version: r.version, payload: r.payload, metadata };
  });
  const edges: Array<[number, number]> = [];
  for (let i = 0; i < selected.length; i++) {
    const from = parseOcpVersion(selected[i]?.version ?? '0.0.0');
    let added = 0;
    for (let j = i + 1; j < selected.length && added < maxEdgesPerNode; j++) {
      const to = parseOcpVersion(selected[j]?.version ?? '0.0.0');
      if (to.major !== from.major || to.minor !== from.minor) continue;
      edges.push([i, j]);
      added++;
    }
  }
  return { version: 1, nodes, edges, conditionalEdges: [] };
}

/** Does this Accept header allow application/json? (A missing header allows anything.) */
export function acceptsJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) return false;
    return type === 'application/json' || type === 'application/*' || type === '*/*';
  });
}

function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const bare = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === bare;
  });
}

export async function startGraphServer(releases: readonly SeededRelease[], opts: GraphServerOptions = {}): Promise<RunningGraphServer> {
  const all: SeededRelease[] = [...releases];
  const faults = new Map<string, GraphFault>(Object.entries(opts.faults ?? {}));
  const stats: GraphStats = { requests: 0, graphs: 0, notModified: 0, faults: 0, byChannel: {} };
  const maxEdges = opts.maxEdgesPerNode ?? 3;
  const extraNodes = new Map<string, readonly unknown[]>();

  function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Length': Buffer.byteLength(body), ...headers });
    res.end(body);
  }
  const jsonError = (res: ServerResponse, status: number, kind: string, value: string): void =>
    send(res, status, JSON.stringify({ kind, value }), { 'Content-Type': 'application/json' });

  function handle(req: IncomingMessage, res: ServerResponse): void {
    stats.requests++;
    const url = new URL(req.url ?? '/', 'http://graph.invalid');
    if (url.pathname !== (opts.path ?? GRAPH_PATH)) return jsonError(res, 404, 'not_found', `no route for ${url.pathname}`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return jsonError(res, 405, 'method_not_allowed', `${req.method}`);
    if (!acceptsJson(req.headers.accept)) {
      return jsonError(res, 406, 'invalid_content_type', `Accept must allow application/json, got ${req.headers.accept}`);
    }
    const channel = url.searchParams.get('channel');
    if (channel === null || channel === '') {
      return jsonError(res, 400, 'missing_params', 'mandatory client parameters missing: channel');
    }
    const arch = url.searchParams.get('arch') || 'amd64';
    const key = `${channel}/${arch}`;
    stats.byChannel[key] = (stats.byChannel[key] ?? 0) + 1;

    const fault = faults.get(channel);
    if (fault !== undefined) {
      stats.faults++;
      switch (fault) {
        case 'http-500':
          return jsonError(res, 500, 'upstream_error', 'failed to fetch the upstream graph');
        case 'not-json':
          return send(res, 200, '<html><body><h1>Service Unavailable</h1></body></html>', { 'Content-Type': 'text/html' });
        case 'malformed':
          return send(res, 200, JSON.stringify({ version: 1, nodes: 'not-a-list', edges: { from: 0 } }), {
            'Content-Type': 'application/json',
          });
      }
    }

    const graph = buildGraph(all, channel, arch, maxEdges);
    const extra = extraNodes.get(channel) ?? [];
    const body = JSON.stringify(extra.length > 0 ? { ...graph, nodes: [...graph.nodes, ...extra] } : graph);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (opts.etag) {
      const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 40)}"`;
      headers.ETag = etag;
      if (etagMatches(req.headers['if-none-match'], etag)) {
        stats.notModified++;
        res.writeHead(304, { ETag: etag });
        res.end();
        return;
      }
    }
    stats.graphs++;
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...headers, 'Content-Length': Buffer.byteLength(body) });
      res.end();
      return;
    }
    send(res, 200, body, headers);
  }

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    url: `${baseUrl}${opts.path ?? GRAPH_PATH}`,
    stats,
    addRelease(release) {
      all.push(release);
    },
    setChannels(version, channels) {
      const found = all.filter((r) => r.version === version);
      if (found.length === 0) throw new Error(`no release ${version} in the graph`);
      for (const r of found) all.splice(all.indexOf(r), 1, { ...r, channels: [...channels] });
    },
    setFault(channel, fault) {
      if (fault === undefined) faults.delete(channel);
      else faults.set(channel, fault);
    },
    setExtraNodes(channel, nodes) {
      if (nodes.length === 0) extraNodes.delete(channel);
      else extraNodes.set(channel, [...nodes]);
    },
    graphFor: (channel, arch = 'amd64') => buildGraph(all, channel, arch, maxEdges),
    resetStats() {
      Object.assign(stats, { requests: 0, graphs: 0, notModified: 0, faults: 0, byChannel: {} });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
