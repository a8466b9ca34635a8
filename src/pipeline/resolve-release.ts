/**
 * resolve-release: one payload → its kernels. Records the release and queues each
 * (kernel, arch) not recorded yet; kernels already known get the new release and
 * channels added.
 *
 * The release is marked resolved last, after its kernels are queued, so a retry
 * after a crash redoes the work instead of losing kernels.
 */
import { isUnusablePayload, type ReleaseResolver } from '#core/release-resolver.ts';
import type { KernelMessage, ReleaseMessage } from './messages.ts';
import { releaseFinding } from './notifications.ts';
import type { MessageQueue, Notifier } from './ports.ts';
import type { PipelineStore } from './ports.ts';
import type { ReleaseEntry } from './entities.ts';

export interface ResolveDeps {
  readonly resolver: ReleaseResolver;
  readonly store: PipelineStore;
  readonly kernels: MessageQueue<KernelMessage>;
  readonly notifier: Notifier;
  readonly now?: () => Date;
}

export type ResolveOutcome = 'resolved' | 'already-resolved' | 'unusable' | 'channels-added';

export async function resolveRelease(deps: ResolveDeps, message: ReleaseMessage): Promise<{ outcome: ResolveOutcome; kernelsQueued: number }> {
  const now = () => (deps.now ?? (() => new Date()))().toISOString();
  const existing = await deps.store.getRelease(message.payload, message.graphArch);
  if (existing?.state === 'resolved') return await addChannels(deps, existing, message);
  if (existing?.state === 'failed') return { outcome: 'already-resolved', kernelsQueued: 0 };
  const base = existing ?? { ...message, state: 'queued' as const, queuedAt: now() };

  let releases;
  try {
    releases = await deps.resolver.resolvePayload(message);
  } catch (error) {
    if (!isUnusablePayload(error)) throw error; // transient: SQS retries, then dead-letters
    const failure = { code: 'resolve-failed' as const, message: (error as Error).message };
    await deps.notifier.publish(releaseFinding({ version: message.version, arch: message.graphArch, payload: message.payload }, failure, now(), { payloadFailed: true }));
    await deps.store.finishRelease({ ...base, state: 'failed', resolvedAt: now(), failure });
    return { outcome: 'unusable', kernelsQueued: 0 };
  }

  // One message per (kernel, arch) this release is news for: a kernel not seen
  // before, or a known one shipped by one more release (its channels may now
  // match more drivers, or promote it out of pre-release).
  const queue: KernelMessage[] = [];
  for (const release of releases) {
    for (const stream of release.streams) {
      const known = await deps.store.getKernel(stream.kernel);
      const news = !known || !known.releases.includes(release.version) || message.channels.some((c) => !known.channels.includes(c));
      if (news) queue.push({ arch: release.arch, stream, release: release.version, payload: message.payload, channels: message.channels });
    }
  }
  await deps.kernels.send(queue);
  for (const release of releases) {
    for (const finding of release.findings) {
      await deps.notifier.publish(releaseFinding({ version: release.version, arch: release.arch, payload: message.payload }, finding, now()));
    }
  }
  await deps.store.finishRelease({ ...base, channels: message.channels, state: 'resolved', resolvedAt: now(), releases });
  return { outcome: 'resolved', kernelsQueued: queue.length };
}

/**
 * A resolved release now listed in more channels (a candidate promoted to fast and
 * stable keeps its payload): its kernels hear of the new channels, from what was
 * recorded; no image is read again.
 */
async function addChannels(deps: ResolveDeps, existing: ReleaseEntry, message: ReleaseMessage): Promise<{ outcome: ResolveOutcome; kernelsQueued: number }> {
  const added = message.channels.filter((c) => !existing.channels.includes(c));
  if (added.length === 0) return { outcome: 'already-resolved', kernelsQueued: 0 };
  const channels = [...new Set([...existing.channels, ...message.channels])].sort();
  const queue: KernelMessage[] = (existing.releases ?? []).flatMap((release) =>
    release.streams.map((stream) => ({ arch: release.arch, stream, release: release.version, payload: existing.payload, channels })),
  );
  await deps.kernels.send(queue);
  await deps.store.finishRelease({ ...existing, channels });
  return { outcome: 'channels-added', kernelsQueued: queue.length };
}
