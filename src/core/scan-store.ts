/**
 * What a scan remembers between runs: per (channel, arch) the last graph seen
 * (its validator and its nodes), and per payload what it resolved to. Payloads are
 * immutable by digest, so a resolution never goes stale; it is keyed by registry,
 * repository AND digest, so what one registry answered (a lying mirror) is never
 * reused for the same digest named on another.
 *
 * `FileScanStore` keeps it in a directory (the CLI's --cache-dir); the pipeline
 * keeps the same records in DynamoDB.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import type { GraphArch } from './arch.ts';
import { GRAPH_ARCHES } from './arch.ts';
import { findingSchema } from './findings.ts';
import { graphFindingSchema } from './graph.ts';
import { resolvedReleaseSchema } from './release-record.ts';

export const graphSnapshotSchema = z.object({
  validator: z.object({ etag: z.string().optional(), hash: z.string() }),
  nodes: z.array(z.object({ version: z.string(), payload: z.string(), channels: z.array(z.string()) })),
  /** Nodes the graph held that were skipped or partly ignored: reported again while the graph is unchanged. */
  findings: z.array(graphFindingSchema).optional(),
  fetchedAt: z.string(),
});
export type GraphSnapshot = z.infer<typeof graphSnapshotSchema>;

/** What a payload resolved to: one release per architecture, or why it cannot be used. */
export const resolutionSchema = z.object({
  releases: z.array(resolvedReleaseSchema),
  /** Set when the payload itself is unusable (permanent for its digest). */
  failure: findingSchema.optional(),
});
export type Resolution = z.infer<typeof resolutionSchema>;

export interface ScanStore {
  getGraph(channel: string, arch: GraphArch): Promise<GraphSnapshot | undefined>;
  putGraph(channel: string, arch: GraphArch, snapshot: GraphSnapshot): Promise<void>;
  getResolution(payload: string, graphArch: GraphArch): Promise<Resolution | undefined>;
  putResolution(payload: string, graphArch: GraphArch, resolution: Resolution): Promise<void>;
}

/**
 * Bump when the meaning of stored records changes: older entries are then ignored.
 * v2: resolutions keyed by registry + repository + digest (v1 used the digest alone).
 */
const LAYOUT = 'v2';

export class FileScanStore implements ScanStore {
  private readonly root: string;

  constructor(dir: string) {
    this.root = join(dir, LAYOUT);
  }

  async getGraph(channel: string, arch: GraphArch): Promise<GraphSnapshot | undefined> {
    return this.read(this.graphPath(channel, arch), graphSnapshotSchema);
  }

  async putGraph(channel: string, arch: GraphArch, snapshot: GraphSnapshot): Promise<void> {
    await this.write(this.graphPath(channel, arch), snapshot);
  }

  async getResolution(payload: string, graphArch: GraphArch): Promise<Resolution | undefined> {
    return this.read(this.resolutionPath(payload, graphArch), resolutionSchema);
  }

  async putResolution(payload: string, graphArch: GraphArch, resolution: Resolution): Promise<void> {
    await this.write(this.resolutionPath(payload, graphArch), resolution);
  }

  private graphPath(channel: string, arch: GraphArch): string {
    if (!/^[a-z0-9.-]+$/.test(channel) || !GRAPH_ARCHES.includes(arch)) {
      throw new Error(`cannot store graph for channel ${JSON.stringify(channel)}, arch ${JSON.stringify(arch)}`);
    }
    return join(this.root, 'graphs', `${channel}_${arch}.json`);
  }

  private resolutionPath(payload: string, graphArch: GraphArch): string {
    const m = /^(.+)@sha256:([0-9a-f]{64})$/.exec(payload);
    if (!m?.[1] || !m[2] || !GRAPH_ARCHES.includes(graphArch)) {
      throw new Error(`cannot store a resolution for ${JSON.stringify(payload)}: not pinned by digest`);
    }
    const digest = m[2];
    // The file name carries a hash of `registry/repository` (lowercased registry): one per source.
    const [registry = '', ...path] = m[1].split('/');
    const source = createHash('sha256').update(`${registry.toLowerCase()}/${path.join('/')}`).digest('hex').slice(0, 32);
    return join(this.root, 'releases', digest.slice(0, 2), `${digest}_${source}_${graphArch}.json`);
  }

  /** A missing, unreadable or outdated file is a cache miss, never an error. */
  private async read<T>(path: string, schema: z.ZodType<T>): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const parsed = schema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  /** Written to a temporary file and renamed, so a crash never leaves half a record. */
  private async write(path: string, value: unknown): Promise<void> {
    await mkdir(join(path, '..'), { recursive: true });
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, JSON.stringify(value));
    await rename(tmp, path);
  }
}
