/**
 * The OpenShift update graph (Cincinnati): one request per (channel, arch).
 *
 *   GET <base>/api/upgrades_info/v1/graph?channel=<c>&arch=<a>   Accept: application/json
 *
 * An unchanged graph costs that one request and nothing more: the server's ETag
 * is sent back as If-None-Match when it offered one (→ 304), and otherwise the
 * body's hash is compared with the last one seen.
 *
 * Whatever the server does, the answer is a graph or a GraphError:
 * - the body is capped (wire and decoded bytes) and so is the number of nodes;
 * - one deadline covers the whole request, redirects and body included (a server
 *   dripping a byte every few seconds is cut, not only one that goes silent), and so
 *   does an idle timeout;
 * - a redirect is followed only to the same origin (scheme, host and port);
 * - no byte of a response body is ever quoted in an error (poll-releases logs them);
 * - the request goes through the project's HTTP transport (./http/transport.ts, the
 *   registry client's), with no retry: the poll's queue retries;
 * - each node is validated on its own: a node without a payload, with an unpinned
 *   payload or a version that does not parse is skipped and reported as a finding,
 *   and the rest of the channel stands. Unknown keys and metadata are tolerated;
 *   metadata holding control characters is dropped and reported.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { GraphArch } from './arch.ts';
import { GRAPH_ARCHES } from './arch.ts';
import { errorCode, header, HttpTransport, HttpTransportError, type HttpFailure, type HttpResponse, type RawResponse } from './http/transport.ts';
import { parseImageReference } from './registry/reference.ts';
import { hasControlCharacters, printable } from './text.ts';
import { parseOpenShiftVersion } from './versions.ts';

export const DEFAULT_GRAPH_URL = 'https://api.openshift.com/api/upgrades_info/v1/graph';

/** OKD's update graph (a real OKD ClusterVersion's `spec.upstream`); it serves `stable-scos-4`. */
export const OKD_GRAPH_URL = 'https://amd64.origin.releases.ci.openshift.org/graph';

/** OKD (SCOS) channels, which the OpenShift graph does not serve: `stable-scos-4`. */
export const OKD_CHANNEL_PATTERN = /^[a-z0-9-]*-scos-\d{1,2}$/;

export const CHANNELS_KEY = 'io.openshift.upgrades.graph.release.channels';

/**
 * A channel name as Cincinnati spells them: `stable-4.18`, `candidate-5.0`, `eus-4.16`,
 * and OKD's, which end in the major alone: `stable-scos-4`.
 */
export const CHANNEL_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*-\d{1,2}(?:\.\d{1,3})?$/;

/**
 * Limits of one graph response. The largest real channel (candidate-4.14, 270
 * releases) answers about 0.5 MB; these leave room for years of growth and stop a
 * hostile or broken server well before a 512 MB Lambda runs out.
 */
export const GRAPH_LIMITS = {
  /** Decoded body bytes (also the cap on bytes on the wire). 32 MiB. */
  maxBodyBytes: 32 * 1024 * 1024,
  /** Nodes in one graph: 18× the largest real channel; each new node costs a payload resolution. */
  maxNodes: 5_000,
  /** Whole request, redirects and body included. */
  timeoutMs: 30_000,
  /** Longest wait for the response head, and for each next piece of the body. */
  idleTimeoutMs: 30_000,
} as const;

/** Same-origin redirects followed before giving up. */
const MAX_REDIRECTS = 3;

/** One node as it is used: a parsed version, a payload pinned by digest, clean metadata. */
export interface GraphNode {
  readonly version: string;
  readonly payload: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface Graph {
  readonly nodes: readonly GraphNode[];
  /** Update edges as pairs of indexes into `nodes` (edges of skipped nodes dropped; unused by the pipeline). */
  readonly edges: readonly (readonly [number, number])[];
  /** Conditional update edges as the server sent them (unused by the pipeline). */
  readonly conditionalEdges: readonly unknown[];
}

export const GRAPH_FINDING_CODES = [
  /** The node was skipped: no payload, a payload not pinned by digest, a version that does not parse, not an object. */
  'malformed-graph-node',
  /** The node was kept, but metadata entries holding control characters were dropped. */
  'graph-metadata-ignored',
] as const;

/** Something wrong with one node of a graph; the rest of the graph was used. */
export const graphFindingSchema = z.object({
  code: z.enum(GRAPH_FINDING_CODES),
  channel: z.string(),
  arch: z.enum(GRAPH_ARCHES),
  /** The node's version; a version that does not parse is shown JSON-quoted with control characters escaped, a missing one as "". */
  version: z.string(),
  message: z.string(),
});
export type GraphFinding = z.infer<typeof graphFindingSchema>;

/** What the last successful fetch of one (channel, arch) left behind. */
export interface GraphValidator {
  readonly etag?: string;
  /** sha256 of the body. */
  readonly hash: string;
}

export type GraphFetch =
  | { readonly changed: false; readonly requests: 1 }
  | {
      readonly changed: true;
      readonly graph: Graph;
      readonly findings: readonly GraphFinding[];
      readonly validator: GraphValidator;
      readonly requests: 1;
    };

export class GraphError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'GraphError';
  }
}

export interface GraphClientOptions {
  /** Full graph endpoint. @default DEFAULT_GRAPH_URL */
  readonly url?: string;
  /** Deadline of one request, redirects and body included. @default GRAPH_LIMITS.timeoutMs */
  readonly timeoutMs?: number;
  /** Longest silence: before the response head, and between pieces of the body. @default GRAPH_LIMITS.idleTimeoutMs */
  readonly idleTimeoutMs?: number;
  /** Cap on the body's bytes, decoded and on the wire. @default GRAPH_LIMITS.maxBodyBytes */
  readonly maxBodyBytes?: number;
  /** Cap on the nodes of one graph. @default GRAPH_LIMITS.maxNodes */
  readonly maxNodes?: number;
  /** Where the limits are set, named in the errors they cause (`--max-graph-bytes`, `maxGraphBytes`). @default option names */
  readonly limitNames?: { readonly maxBodyBytes: string; readonly maxNodes: string };
  readonly userAgent?: string;
}

interface Answer {
  readonly status: number;
  readonly etag?: string;
  readonly body: Buffer;
}

export class GraphClient {
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly transport: HttpTransport;
  private readonly maxBodyBytes: number;
  private readonly maxNodes: number;
  private readonly limitNames: { readonly maxBodyBytes: string; readonly maxNodes: string };

  constructor(options: GraphClientOptions = {}) {
    this.url = options.url ?? DEFAULT_GRAPH_URL;
    this.timeoutMs = options.timeoutMs ?? GRAPH_LIMITS.timeoutMs;
    this.idleTimeoutMs = options.idleTimeoutMs ?? GRAPH_LIMITS.idleTimeoutMs;
    this.maxBodyBytes = options.maxBodyBytes ?? GRAPH_LIMITS.maxBodyBytes;
    this.maxNodes = options.maxNodes ?? GRAPH_LIMITS.maxNodes;
    this.limitNames = options.limitNames ?? { maxBodyBytes: 'maxBodyBytes', maxNodes: 'maxNodes' };
    for (const [name, value] of [
      ['timeoutMs', this.timeoutMs],
      ['idleTimeoutMs', this.idleTimeoutMs],
      ['maxBodyBytes', this.maxBodyBytes],
      ['maxNodes', this.maxNodes],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1) throw new GraphError(`graph client ${name} must be a positive whole number, got ${value}`);
    }
    let parsed: URL;
    try {
      parsed = new URL(this.url);
    } catch {
      throw new GraphError(`graph URL ${printable(this.url)} is not a URL`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new GraphError(`graph URL ${printable(this.url)} must be http(s)`);
    }
    this.transport = new HttpTransport({
      // The configured URL may be plain http (a mirror, a local graph); redirects stay on its origin.
      insecureHosts: parsed.protocol === 'http:' ? [parsed.host] : [],
      idleTimeoutMs: this.idleTimeoutMs,
      deadlineMs: this.timeoutMs,
      maxRetries: 0,
      ...(options.userAgent ? { userAgent: options.userAgent } : {}),
    });
  }

  /** Fetches one channel's graph for one arch, unless it is unchanged since `previous`. */
  async fetch(channel: string, arch: GraphArch, previous?: GraphValidator): Promise<GraphFetch> {
    const url = new URL(this.url);
    url.searchParams.set('channel', channel);
    url.searchParams.set('arch', arch);
    const where = `update graph ${url.host} (channel ${channel}, arch ${arch})`;
    const headers: Record<string, string> = { accept: 'application/json', 'accept-encoding': 'gzip, deflate, br' };
    if (previous?.etag) headers['if-none-match'] = previous.etag;

    const answer = await this.get(url, headers, where);
    if (answer.status === 304) return { changed: false, requests: 1 };
    if (answer.status !== 200) throw new GraphError(`${where} answered HTTP ${answer.status}${hint(answer.status)}`, answer.status);

    const hash = createHash('sha256').update(answer.body).digest('hex');
    // Servers that offer no ETag (or ignore If-None-Match) are compared by content.
    if (previous?.hash === hash) return { changed: false, requests: 1 };

    let json: unknown;
    try {
      json = JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw new GraphError(`${where} sent a body that is not JSON (${answer.body.length} bytes)`);
    }
    const { graph, findings } = this.readGraph(json, channel, arch, where);
    return {
      changed: true,
      graph,
      findings,
      validator: { hash, ...(answer.etag ? { etag: answer.etag } : {}) },
      requests: 1,
    };
  }

  /** The nodes that can be used, and a finding for each that cannot. */
  private readGraph(json: unknown, channel: string, arch: GraphArch, where: string): { graph: Graph; findings: GraphFinding[] } {
    const top = z.object({ nodes: z.array(z.unknown()), edges: z.unknown().optional(), conditionalEdges: z.unknown().optional() }).safeParse(json);
    if (!top.success) throw new GraphError(`${where} sent JSON that is not an update graph (no "nodes" list)`);
    const raw = top.data.nodes;
    if (raw.length > this.maxNodes) {
      throw new GraphError(`${where} lists ${raw.length} nodes, more than the limit of ${this.maxNodes} (${this.limitNames.maxNodes})`);
    }
    const nodes: GraphNode[] = [];
    const findings: GraphFinding[] = [];
    /** Index in the response → index in `nodes`, for the nodes kept. */
    const kept = new Map<number, number>();
    raw.forEach((value, index) => {
      const read = readNode(value, index);
      if (read.node) kept.set(index, nodes.push(read.node) - 1);
      for (const f of read.findings) findings.push({ ...f, channel, arch });
    });
    // Edges are tolerated in any shape: only well-formed pairs between kept nodes are kept.
    const edges: (readonly [number, number])[] = [];
    for (const edge of Array.isArray(top.data.edges) ? (top.data.edges as unknown[]) : []) {
      if (!Array.isArray(edge) || edge.length !== 2) continue;
      const from = kept.get(edge[0] as number);
      const to = kept.get(edge[1] as number);
      if (from !== undefined && to !== undefined) edges.push([from, to]);
    }
    const conditionalEdges = Array.isArray(top.data.conditionalEdges) ? (top.data.conditionalEdges as unknown[]) : [];
    return { graph: { nodes, edges, conditionalEdges }, findings };
  }

  /** One GET, following same-origin redirects only, under one deadline and the body cap. */
  private async get(url: URL, headers: Record<string, string>, where: string): Promise<Answer> {
    const body = this.transport.buffered({ maxBytes: this.maxBodyBytes, decode: true });
    const finish = async (raw: RawResponse): Promise<HttpResponse<Answer>> => {
      if (raw.status !== 200) {
        raw.body.destroy(); // error bodies are never read, let alone quoted
        if ([301, 302, 303, 307, 308].includes(raw.status)) throw new GraphError(`${where} answered HTTP ${raw.status} without a usable Location`, raw.status);
        return { ...raw, body: { status: raw.status, body: Buffer.alloc(0) } };
      }
      const read = await body(raw);
      return { ...raw, body: { status: raw.status, body: read.body, ...cleanEtag(header(raw.headers, 'etag')) } };
    };
    try {
      const res = await this.transport.request({ method: 'GET', url, headers }, finish, {
        redirects: 'same-origin',
        maxRedirects: MAX_REDIRECTS,
        totalDeadlineMs: this.timeoutMs,
      });
      return res.body;
    } catch (error) {
      if (error instanceof GraphError) throw error;
      if (error instanceof HttpTransportError && error.failure) throw this.graphError(error.failure, error.status, where);
      throw new GraphError(`${where} is unreachable: ${errorCode(error) ?? (error as Error).message}`);
    }
  }

  /** The transport's failure, worded for the graph (the limits named where they are set). */
  private graphError(failure: HttpFailure, status: number | undefined, where: string): GraphError {
    switch (failure.kind) {
      case 'status':
        return new GraphError(`${where} answered HTTP ${status}${hint(status ?? 0)}`, status);
      case 'deadline':
        return new GraphError(`${where} did not answer in full within ${this.timeoutMs} ms`);
      case 'unreachable':
        return failure.code === 'ERR_IDLE_TIMEOUT'
          ? new GraphError(`${where} sent nothing for ${this.idleTimeoutMs} ms`)
          : new GraphError(`${where} is unreachable: ${failure.code ?? 'connection failed'}`);
      case 'too-large': {
        const how = failure.measured === 'content-length' ? '(Content-Length)' : failure.measured === 'wire' ? 'on the wire' : 'decoded';
        return new GraphError(`${where} sent a body larger than the limit of ${failure.maxBytes} bytes ${how} (${this.limitNames.maxBodyBytes})`);
      }
      case 'encoding':
        return new GraphError(`${where} sent a body in an encoding this client does not read (${printable(failure.encoding, 32)})`);
      case 'undecodable':
        return new GraphError(`${where} sent a body that could not be read: ${failure.code ?? 'not decodable'}`);
      case 'redirect-origin':
        return new GraphError(`${where} redirected to another origin (${failure.origin}); not followed`, status);
      case 'too-many-redirects':
        return new GraphError(`${where} redirected more than ${failure.maxRedirects} times`, status);
      case 'bad-location':
        return new GraphError(`${where} answered HTTP ${status} without a usable Location`, status);
      case 'scheme':
        return new GraphError(`${where}: plain http is allowed only to the configured graph URL's own origin`);
    }
  }
}

function hint(status: number): string {
  return status === 400
    ? ' (bad request: check the channel and arch names)'
    : status === 406
      ? ' (the server cannot answer in application/json)'
      : status >= 500
        ? ' (server error: try again later)'
        : '';
}

/** An ETag is kept only when it is a plain RFC 9110 entity tag: it goes back to the server and into the store. */
function cleanEtag(value: string | undefined): { etag?: string } {
  return value !== undefined && value.length <= 256 && /^(?:W\/)?"[\x21\x23-\x7e]*"$/.test(value) ? { etag: value } : {};
}

type NodeFinding = Omit<GraphFinding, 'channel' | 'arch'>;

/** How a node's version is shown in a finding. */
function shownVersion(value: unknown): string {
  if (typeof value !== 'string') return '';
  return parseOpenShiftVersion(value) ? value : printable(value, 64);
}

function readNode(value: unknown, index: number): { node?: GraphNode; findings: NodeFinding[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { findings: [{ code: 'malformed-graph-node', version: '', message: `node #${index} is not an object; skipped` }] };
  }
  const { version, payload, metadata } = value as Record<string, unknown>;
  const shown = shownVersion(version);
  const skip = (why: string) => ({ findings: [{ code: 'malformed-graph-node' as const, version: shown, message: `node #${index} (${shown || 'no version'}) ${why}; skipped` }] });

  if (typeof version !== 'string' || version.length === 0) return skip('has no version');
  if (version.length > 64 || !parseOpenShiftVersion(version)) return skip('has a version that does not parse as an OpenShift version');
  if (payload === undefined || payload === null || payload === '') return skip('has no payload');
  if (typeof payload !== 'string' || payload.length > 512 || hasControlCharacters(payload)) return skip('has a payload that is not a pull spec');
  let pinned: boolean;
  try {
    pinned = parseImageReference(payload).digest !== undefined;
  } catch {
    return skip(`has a payload that is not a pull spec (${printable(payload)})`);
  }
  if (!pinned) return skip(`has a payload not pinned by digest (${payload})`);

  const kept: Record<string, string> = {};
  const dropped: string[] = [];
  if (typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata)) {
    for (const [key, v] of Object.entries(metadata as Record<string, unknown>)) {
      if (typeof v !== 'string') continue; // unknown shapes are tolerated, not used
      if (hasControlCharacters(key) || hasControlCharacters(v) || key.length > 256 || v.length > 4096) dropped.push(printable(key, 64));
      else kept[key] = v;
    }
  }
  const findings: NodeFinding[] = dropped.length
    ? [{ code: 'graph-metadata-ignored', version, message: `release ${version}: metadata ${dropped.join(', ')} held control characters or was too long; ignored` }]
    : [];
  return { node: { version, payload, metadata: kept }, findings };
}

/** The channels a node's metadata lists it in (`a,b,c`). */
export function channelsOf(node: GraphNode): string[] {
  const value = node.metadata[CHANNELS_KEY];
  return value ? value.split(',').map((c) => c.trim()).filter((c) => CHANNEL_PATTERN.test(c)) : [];
}
