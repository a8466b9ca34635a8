/**
 * The OpenShift update graph (Cincinnati): one request per (channel, arch).
 *
 *   GET <base>/api/upgrades_info/v1/graph?channel=<c>&arch=<a>   Accept: application/json
 *
 * An unchanged graph costs that one request and nothing more: the server's ETag
 * is sent back as If-None-Match when it offered one (→ 304), and otherwise the
 * body's hash is compared with the last one seen.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { GraphArch } from './arch.ts';

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

const nodeSchema = z.object({
  version: z.string().min(1).max(64),
  payload: z.string().min(1).max(512),
  metadata: z.record(z.string(), z.string()).nullish(),
});

export const graphSchema = z.object({
  version: z.number().optional(),
  nodes: z.array(nodeSchema),
  edges: z.array(z.tuple([z.number().int(), z.number().int()])).default([]),
  conditionalEdges: z.array(z.unknown()).nullish(),
});
export type Graph = z.infer<typeof graphSchema>;
export type GraphNode = z.infer<typeof nodeSchema>;

/** What the last successful fetch of one (channel, arch) left behind. */
export interface GraphValidator {
  readonly etag?: string;
  /** sha256 of the body. */
  readonly hash: string;
}

export type GraphFetch =
  | { readonly changed: false; readonly requests: 1 }
  | { readonly changed: true; readonly graph: Graph; readonly validator: GraphValidator; readonly requests: 1 };

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
  /** @default 30000 */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
}

export class GraphClient {
  private readonly url: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: GraphClientOptions = {}) {
    this.url = options.url ?? DEFAULT_GRAPH_URL;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    const parsed = new URL(this.url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new GraphError(`graph URL ${JSON.stringify(this.url)} must be http(s)`);
    }
  }

  /** Fetches one channel's graph for one arch, unless it is unchanged since `previous`. */
  async fetch(channel: string, arch: GraphArch, previous?: GraphValidator): Promise<GraphFetch> {
    const url = new URL(this.url);
    url.searchParams.set('channel', channel);
    url.searchParams.set('arch', arch);
    const where = `update graph ${url.host} (channel ${channel}, arch ${arch})`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.userAgent) headers['user-agent'] = this.options.userAgent;
    if (previous?.etag) headers['if-none-match'] = previous.etag;

    // Node's built-in fetch: one GET, no extra dependency in the Lambda bundle.
    let status: number;
    let body: Buffer;
    let etag: string | null;
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
      status = response.status;
      etag = response.headers.get('etag');
      body = Buffer.from(await response.arrayBuffer());
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new GraphError(`${where} is unreachable: ${reason}`);
    }
    if (status === 304) return { changed: false, requests: 1 };
    if (status !== 200) throw new GraphError(`${where} answered HTTP ${status}${explain(status, body)}`, status);

    const hash = createHash('sha256').update(body).digest('hex');
    // Servers that offer no ETag (or ignore If-None-Match) are compared by content.
    if (previous?.hash === hash) return { changed: false, requests: 1 };

    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new GraphError(`${where} sent a body that is not JSON (${body.length} bytes, starting ${JSON.stringify(body.subarray(0, 40).toString('utf8'))})`);
    }
    const graph = graphSchema.safeParse(json);
    if (!graph.success) {
      throw new GraphError(`${where} sent JSON that is not an update graph: ${z.prettifyError(graph.error).split('\n').slice(0, 4).join('; ')}`);
    }
    return {
      changed: true,
      graph: graph.data,
      validator: { hash, ...(etag ? { etag } : {}) },
      requests: 1,
    };
  }
}

function explain(status: number, body: Buffer): string {
  const text = body.subarray(0, 300).toString('utf8');
  let detail: string;
  try {
    const parsed = JSON.parse(text) as { reason?: string; message?: string; kind?: string };
    detail = parsed.reason ?? parsed.message ?? parsed.kind ?? '';
  } catch {
    detail = text.replace(/\s+/g, ' ').trim().slice(0, 120);
  }
  const hint =
    status === 400
      ? ' (bad request: check the channel and arch names)'
      : status === 406
        ? ' (the server cannot answer in application/json)'
        : status >= 500
          ? ' (server error: try again later)'
          : '';
  return `${hint}${detail ? `: ${detail}` : ''}`;
}

/** The channels a node's metadata lists it in (`a,b,c`). */
export function channelsOf(node: GraphNode): string[] {
  const value = node.metadata?.[CHANNELS_KEY];
  return value ? value.split(',').map((c) => c.trim()).filter((c) => CHANNEL_PATTERN.test(c)) : [];
}
