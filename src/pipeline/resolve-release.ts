/**
 * resolve-release: one payload → its kernels. Records the release and queues each
 * (kernel, arch) not recorded yet; kernels already known get the new release and
 * channels added.
 *
 * The release is marked resolved last, after its kernels are queued, so a retry
 * after a crash redoes the work instead of losing kernels.
 */
import { isGenerallyAvailable } from '#core/kernel-index.ts';
import { PayloadError } from '#core/release-payload.ts';
import type { ReleaseResolver } from '#core/release-resolver.ts';
import type { KernelMessage, ReleaseMessage } from './messages.ts';
import type { MessageQueue } from './ports.ts';
import type { PipelineStore } from './store.ts';

export interface ResolveDeps {
  readonly resolver: ReleaseResolver;
  readonly store: PipelineStore;
  readonly kernels: MessageQueue<KernelMessage>;
  readonly now?: () => Date;
}

export type ResolveOutcome = 'resolved' | 'already-resolved' | 'unusable';

export async function resolveRelease(deps: ResolveDeps, message: ReleaseMessage): Promise<{ outcome: ResolveOutcome; kernelsQueued: number }> {
  const now = () => (deps.now ?? (() => new Date()))().toISOString();
  const existing = await deps.store.getRelease(message.payload, message.graphArch);
  if (existing && existing.state !== 'queued') return { outcome: 'already-resolved', kernelsQueued: 0 };
  const base = existing ?? { ...message, state: 'queued' as const, queuedAt: now() };

  let releases;
  try {
    releases = await deps.resolver.resolvePayload(message);
  } catch (error) {
    if (!(error instanceof PayloadError)) throw error; // transient: SQS retries, then dead-letters
    await deps.store.finishRelease({ ...base, state: 'failed', resolvedAt: now(), failure: { code: 'resolve-failed', message: error.message } });
    return { outcome: 'unusable', kernelsQueued: 0 };
  }

  const prerelease = !isGenerallyAvailable(message.version, message.channels);
  const queue: KernelMessage[] = [];
  for (const release of releases) {
    for (const stream of release.streams) {
      const known = await deps.store.getKernel(stream.kernel);
      if (known) {
        await deps.store.addKernelSighting(stream.kernel, { releases: [release.version], channels: message.channels, prerelease });
      } else {
        queue.push({ arch: release.arch, stream, release: release.version, payload: message.payload, channels: message.channels });
      }
    }
  }
  await deps.kernels.send(queue);
  await deps.store.finishRelease({ ...base, channels: message.channels, state: 'resolved', resolvedAt: now(), releases });
  return { outcome: 'resolved', kernelsQueued: queue.length };
}
