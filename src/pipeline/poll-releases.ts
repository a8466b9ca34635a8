/**
 * poll-releases: read the update graph of every configured (channel, arch) and
 * queue each release payload not seen before, once.
 *
 * A release is claimed in the table (conditional write) before it is queued, so
 * two overlapping polls queue it once. If a poll dies between claim and send, the
 * claim goes stale and a later poll queues it again: nothing is lost.
 */
import type { GraphArch } from '#core/arch.ts';
import type { GraphClient, GraphFinding } from '#core/graph.ts';
import { GraphError, channelsOf } from '#core/graph.ts';
import type { ReleaseMessage } from './messages.ts';
import type { MessageQueue } from './ports.ts';
import type { PipelineStore } from './ports.ts';

/** A queued release not resolved after this long is queued again (the default of `reclaimAfterMs`). */
export const RECLAIM_AFTER_MS = 30 * 60 * 1000;

export interface PollConfig {
  readonly channels: readonly string[];
  readonly arches: readonly GraphArch[];
  /** A release claimed this long ago and still queued is queued again. @default RECLAIM_AFTER_MS */
  readonly reclaimAfterMs?: number;
}

export interface PollDeps {
  readonly graph: GraphClient;
  /** Channels another graph serves (OKD's): channel → its graph. @default - none */
  readonly channelGraphs?: ReadonlyMap<string, GraphClient>;
  readonly store: PipelineStore;
  readonly releases: MessageQueue<ReleaseMessage>;
  readonly now?: () => Date;
}

export interface PollResult {
  readonly graphsRead: number;
  readonly graphsUnchanged: number;
  readonly releasesQueued: number;
  readonly releasesRequeued: number;
  /** Resolved releases the graph now lists in more channels (promotions). */
  readonly releasesInMoreChannels: number;
  readonly graphErrors: readonly { channel: string; arch: GraphArch; message: string }[];
  /** Nodes skipped (no payload, unpinned payload, a version that does not parse) or partly ignored; the rest of their graph was used. */
  readonly graphFindings: readonly GraphFinding[];
}

export async function pollReleases(deps: PollDeps, config: PollConfig): Promise<PollResult> {
  const now = (deps.now ?? (() => new Date()))();
  const graphErrors: { channel: string; arch: GraphArch; message: string }[] = [];
  const graphFindings: GraphFinding[] = [];
  const seen = new Map<string, ReleaseMessage>();
  const validators: { channel: string; arch: GraphArch; etag?: string; hash: string }[] = [];
  let unchanged = 0;

  const pairs = config.channels.flatMap((channel) => config.arches.map((arch) => ({ channel, arch })));
  await Promise.all(
    pairs.map(async ({ channel, arch }) => {
      try {
        const previous = await deps.store.getGraphState(channel, arch);
        const fetched = await (deps.channelGraphs?.get(channel) ?? deps.graph).fetch(channel, arch, previous);
        if (!fetched.changed) {
          unchanged++;
          return;
        }
        graphFindings.push(...fetched.findings);
        for (const node of fetched.graph.nodes) {
          const key = `${node.payload}|${arch}`;
          const message = seen.get(key) ?? { version: node.version, payload: node.payload, graphArch: arch, channels: [] };
          message.channels = [...new Set([...message.channels, channel, ...channelsOf(node)])].sort();
          seen.set(key, message);
        }
        validators.push({ channel, arch, hash: fetched.validator.hash, ...(fetched.validator.etag ? { etag: fetched.validator.etag } : {}) });
      } catch (error) {
        if (!(error instanceof GraphError)) throw error;
        graphErrors.push({ channel, arch, message: error.message });
      }
    }),
  );

  const toQueue: ReleaseMessage[] = [];
  let requeued = 0;
  let promoted = 0;
  const nowIso = now.toISOString();
  const stale = new Date(now.getTime() - (config.reclaimAfterMs ?? RECLAIM_AFTER_MS)).toISOString();
  for (const message of seen.values()) {
    if (!/@sha256:[0-9a-f]{64}$/.test(message.payload)) continue; // the graph always pins; anything else is not ours to trust
    const claim = await deps.store.claimRelease({ ...message, state: 'queued', queuedAt: nowIso });
    if (claim.claimed) {
      toQueue.push(message);
    } else if (claim.existing.state === 'queued') {
      if (await deps.store.reclaimRelease(message.payload, message.graphArch, stale, nowIso)) {
        toQueue.push(message);
        requeued++;
      }
    } else if (claim.existing.state === 'resolved' && message.channels.some((c) => !claim.existing.channels.includes(c))) {
      // The same payload is now listed in more channels (a candidate promoted to fast
      // and stable): its kernels must hear of it. resolve-release reads no image for that.
      toQueue.push(message);
      promoted++;
    }
  }
  // Releases whose message was lost or dead-lettered, in graphs that have not changed since.
  const queuedNow = new Set(toQueue.map((m) => `${m.payload}|${m.graphArch}`));
  for (const lost of await deps.store.staleQueuedReleases(stale)) {
    if (queuedNow.has(`${lost.payload}|${lost.graphArch}`)) continue;
    if (await deps.store.reclaimRelease(lost.payload, lost.graphArch, stale, nowIso)) {
      toQueue.push({ version: lost.version, payload: lost.payload, graphArch: lost.graphArch, channels: lost.channels });
      requeued++;
    }
  }
  await deps.releases.send(toQueue);
  // Only now is the graph's new state remembered: a poll that died above reads it again.
  for (const v of validators) await deps.store.putGraphState(v.channel, v.arch, { ...v, polledAt: nowIso });

  return {
    graphsRead: pairs.length,
    graphsUnchanged: unchanged,
    releasesQueued: toQueue.length - requeued - promoted,
    releasesRequeued: requeued,
    releasesInMoreChannels: promoted,
    graphErrors,
    graphFindings,
  };
}
