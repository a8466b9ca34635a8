/**
 * The scan use case: for the channels and arches asked for, every release in the
 * update graph and the exact kernel(s) it ships.
 *
 * Traffic is kept to what the data allows: one graph request per (channel, arch);
 * a payload is resolved once per digest, however many channels list it, and never
 * again once stored; component images shared between releases are read once.
 */
import pLimit from 'p-limit';
import * as z from 'zod';
import type { GraphArch } from './arch.ts';
import { KERNEL_ARCHES, kernelArchOf } from './arch.ts';
import type { Finding } from './findings.ts';
import { findingSchema } from './findings.ts';
import type { GraphClient, GraphFinding } from './graph.ts';
import { GraphError, channelsOf, graphFindingSchema } from './graph.ts';
import type { ReleaseSighting } from './kernel-index.ts';
import { indexKernels, kernelRecordSchema } from './kernel-index.ts';
import { isUnusablePayload, payloadReference, type ReleaseResolver } from './release-resolver.ts';
import type { GraphSnapshot, Resolution, ScanStore } from './scan-store.ts';
import { compareOpenShiftVersions } from './versions.ts';
import { RegistryAuthError } from './registry/errors.ts';

export const releaseRecordSchema = z.object({
  version: z.string(),
  /** `multi` only for a multi payload that could not be read at all. */
  arch: z.enum([...KERNEL_ARCHES, 'multi']),
  payload: z.string(),
  kernels: z.array(z.string()),
  channels: z.array(z.string()),
  findings: z.array(findingSchema),
});
export type ReleaseRecord = z.infer<typeof releaseRecordSchema>;

export const scanReportSchema = z.object({
  kernels: z.array(kernelRecordSchema),
  releases: z.array(releaseRecordSchema),
  /** Graphs that could not be read; the rest of the scan went on. */
  graphErrors: z.array(z.object({ channel: z.string(), arch: z.string(), message: z.string() })),
  /** Nodes of a graph that were skipped (no payload, unpinned payload, a version that does not parse) or partly ignored. */
  graphFindings: z.array(graphFindingSchema),
  stats: z.object({
    graphRequests: z.number(),
    graphsUnchanged: z.number(),
    payloads: z.number(),
    payloadsResolved: z.number(),
    payloadsFromStore: z.number(),
    /** Payloads that failed for a reason that may pass (network, registry errors): retried next scan. */
    payloadsFailed: z.number(),
  }),
});
export type ScanReport = z.infer<typeof scanReportSchema>;

export type ScanProgress =
  | { readonly phase: 'graph'; readonly done: number; readonly total: number }
  | { readonly phase: 'resolve'; readonly done: number; readonly total: number; readonly release?: string };

export interface ScanRequest {
  readonly channels: readonly string[];
  readonly arches: readonly GraphArch[];
  /** Payloads resolved at once. @default 8 */
  readonly concurrency?: number;
  readonly onProgress?: (progress: ScanProgress) => void;
}

export interface ScanDeps {
  /** The update graph of every channel not named in `channelGraphs`. */
  readonly graph: GraphClient;
  /**
   * Channels served by another graph (OKD's `stable-scos-4` by
   * https://amd64.origin.releases.ci.openshift.org/graph): channel → its graph.
   * @default - every channel from `graph`
   */
  readonly channelGraphs?: ReadonlyMap<string, GraphClient>;
  readonly resolver: ReleaseResolver;
  readonly store: ScanStore;
  readonly now?: () => Date;
}

/** Errors that end a whole scan: every further request would fail the same way. */
export function isFatal(error: unknown): boolean {
  return error instanceof RegistryAuthError;
}

interface PayloadEntry {
  readonly version: string;
  readonly payload: string;
  readonly graphArch: GraphArch;
  readonly channels: Set<string>;
}

export async function scan(deps: ScanDeps, request: ScanRequest): Promise<ScanReport> {
  const limit = pLimit(request.concurrency ?? 8);
  const now = deps.now ?? (() => new Date());
  const graphErrors: ScanReport['graphErrors'] = [];
  let graphsUnchanged = 0;

  // 1. One graph request per (channel, arch).
  const pairs = request.channels.flatMap((channel) => request.arches.map((arch) => ({ channel, arch })));
  let graphsDone = 0;
  const snapshots = await Promise.all(
    pairs.map(({ channel, arch }) =>
      limit(async (): Promise<{ channel: string; arch: GraphArch; snapshot?: GraphSnapshot }> => {
        try {
          const previous = await deps.store.getGraph(channel, arch);
          const fetched = await (deps.channelGraphs?.get(channel) ?? deps.graph).fetch(channel, arch, previous?.validator);
          if (!fetched.changed && previous) {
            graphsUnchanged++;
            return { channel, arch, snapshot: previous };
          }
          if (!fetched.changed) throw new GraphError(`update graph answered "not modified" for ${channel}/${arch}, but nothing is stored for it`);
          const snapshot: GraphSnapshot = {
            validator: fetched.validator,
            nodes: fetched.graph.nodes.map((node) => ({
              version: node.version,
              payload: node.payload,
              channels: [...new Set([channel, ...channelsOf(node)])].sort(),
            })),
            ...(fetched.findings.length > 0 ? { findings: [...fetched.findings] } : {}),
            fetchedAt: now().toISOString(),
          };
          await deps.store.putGraph(channel, arch, snapshot);
          return { channel, arch, snapshot };
        } catch (error) {
          if (!(error instanceof GraphError)) throw error;
          graphErrors.push({ channel, arch, message: error.message });
          return { channel, arch };
        } finally {
          request.onProgress?.({ phase: 'graph', done: ++graphsDone, total: pairs.length });
        }
      }),
    ),
  );

  // 2. Each payload once, whatever number of channels list it.
  const entries = new Map<string, PayloadEntry>();
  const graphFindings: GraphFinding[] = [];
  for (const { channel, arch, snapshot } of snapshots) {
    graphFindings.push(...(snapshot?.findings ?? []));
    for (const node of snapshot?.nodes ?? []) {
      const key = `${node.payload}|${arch}`;
      const entry = entries.get(key) ?? { version: node.version, payload: node.payload, graphArch: arch, channels: new Set<string>() };
      entry.channels.add(channel);
      node.channels.forEach((c) => entry.channels.add(c));
      entries.set(key, entry);
    }
  }

  // 3. Resolve what is not stored yet.
  const stats = { payloadsResolved: 0, payloadsFromStore: 0, payloadsFailed: 0 };
  let resolveDone = 0;
  const total = entries.size;
  let fatal: unknown;
  const results = await Promise.all(
    [...entries.values()].map((entry) =>
      limit(async (): Promise<{ entry: PayloadEntry } & Resolution> => {
        try {
          if (fatal) return { entry, releases: [] };
          payloadReference(entry.payload); // the store keys resolutions by digest
          const stored = await deps.store.getResolution(entry.payload, entry.graphArch);
          if (stored) {
            stats.payloadsFromStore++;
            return { entry, ...stored };
          }
          const releases = await deps.resolver.resolvePayload(entry);
          await deps.store.putResolution(entry.payload, entry.graphArch, { releases });
          stats.payloadsResolved++;
          return { entry, releases };
        } catch (error) {
          if (isFatal(error)) {
            fatal ??= error;
            return { entry, releases: [] };
          }
          const message = `${entry.version} (${entry.payload}): ${error instanceof Error ? error.message : String(error)}`;
          const failure: Finding = { code: 'resolve-failed', message };
          if (isUnusablePayload(error) && /@sha256:[0-9a-f]{64}$/.test(entry.payload)) {
            // The payload itself is unusable; its digest never changes, so neither will this.
            await deps.store.putResolution(entry.payload, entry.graphArch, { releases: [], failure });
            stats.payloadsResolved++;
          } else {
            // Anything else (registry answers, the network, a broken layer stream) may pass: tried again next scan.
            stats.payloadsFailed++;
          }
          return { entry, releases: [], failure };
        } finally {
          request.onProgress?.({ phase: 'resolve', done: ++resolveDone, total, release: entry.version });
        }
      }),
    ),
  );
  if (fatal) throw fatal;

  // 4. Records per release and per kernel.
  const sightings: ReleaseSighting[] = [];
  const releases: ReleaseRecord[] = [];
  for (const { entry, releases: resolved, failure } of results) {
    const channels = [...entry.channels].sort();
    if (resolved.length === 0) {
      releases.push({
        version: entry.version,
        arch: entry.graphArch === 'multi' ? 'multi' : kernelArchOf(entry.graphArch),
        payload: entry.payload,
        kernels: [],
        channels,
        findings: failure ? [failure] : [],
      });
      continue;
    }
    for (const release of resolved) {
      sightings.push({ release, channels });
      releases.push({
        version: release.version,
        arch: release.arch,
        payload: release.payload,
        kernels: release.streams.map((s) => s.kernel),
        channels,
        findings: release.findings,
      });
    }
  }
  releases.sort((a, b) => compareOpenShiftVersions(a.version, b.version) || a.arch.localeCompare(b.arch));

  return {
    kernels: indexKernels(sightings),
    releases,
    graphErrors,
    graphFindings,
    stats: {
      graphRequests: pairs.length,
      graphsUnchanged,
      payloads: entries.size,
      ...stats,
    },
  };
}


