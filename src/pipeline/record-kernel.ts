/**
 * record-kernel: the first sighting of a (kernel, arch) wins a conditional
 * write; only it publishes `kernel.discovered` and queues the kernel's builds.
 *
 * A kernel stays `new` until both are done, so a redelivery after a crash
 * finishes the job; builds are themselves first-write-wins, so nothing is started
 * twice.
 */
import { isGenerallyAvailable } from '#core/kernel-index.ts';
import { parseKernel, type Kernel } from '#core/kernel.ts';
import type { BuildPlanConfig } from './build-plan.ts';
import { kernelGroup, planDriverBuilds, planDtkBuild } from './build-plan.ts';
import { driversOf } from './drivers.ts';
import type { BuildMessage, KernelMessage } from './messages.ts';
import { kernelDiscovered } from './notifications.ts';
import { notifyIfPromoted } from './promotion.ts';
import type { MessageQueue, Notifier } from './ports.ts';
import { queueBuilds } from './queue-builds.ts';
import { buildKeyOf, FOLLOW_UP_BUILD_STATES, type KernelEntry } from './entities.ts';
import type { PipelineStore } from './ports.ts';

export interface RecordDeps {
  readonly store: PipelineStore;
  readonly notifier: Notifier;
  readonly builds: MessageQueue<BuildMessage>;
  readonly plan: BuildPlanConfig;
  readonly now?: () => Date;
  /** @default RECORD_LEASE_MS */
  readonly leaseMs?: number;
}

export type RecordOutcome = 'recorded' | 'completed-after-retry' | 'already-recorded';

/** How long a first sighting may take before another message may finish it. */
export const RECORD_LEASE_MS = 15 * 60 * 1000;

/** Another delivery is recording this kernel right now: try again later. */
export class KernelBusyError extends Error {
  constructor(kernel: string) {
    super(`kernel ${kernel} is being recorded by another message; retrying later`);
    this.name = 'KernelBusyError';
  }
}

export async function recordKernel(deps: RecordDeps, message: KernelMessage): Promise<{ outcome: RecordOutcome; buildsQueued: number }> {
  const clock = (deps.now ?? (() => new Date()))();
  const now = clock.toISOString();
  const sighting = `${message.payload}|${message.release}`;
  const kernel = parseKernel(message.stream.kernel);
  if (!kernel || kernel.arch !== message.arch) {
    throw new Error(`kernel message holds ${JSON.stringify(message.stream.kernel)}, not a ${message.arch} kernel`);
  }
  const prerelease = !isGenerallyAvailable(message.release, message.channels);
  const entry: KernelEntry = {
    kernel: kernel.full,
    arch: kernel.arch,
    rhelVersion: message.stream.rhelVersion,
    rtKernel: message.stream.rtKernel,
    kernel64k: message.stream.kernel64k,
    stream: message.stream.stream,
    streamClass: message.stream.streamClass,
    releases: [message.release],
    channels: [...message.channels].sort(),
    prerelease,
    rhcosVersions: message.stream.rhcosVersion ? [message.stream.rhcosVersion] : [],
    dtkImages: message.stream.dtkImage ? [message.stream.dtkImage] : [],
    firstSeenAt: now,
    discoveredBy: sighting,
    discoveredAsPrerelease: prerelease,
    state: 'new',
  };

  let outcome: RecordOutcome = 'recorded';
  let current = entry;
  if (!(await deps.store.createKernel(entry))) {
    current = await deps.store.addKernelSighting(kernel.full, {
      releases: [message.release],
      channels: message.channels,
      prerelease,
      dtkImages: entry.dtkImages,
      rhcosVersions: entry.rhcosVersions,
    });
    await notifyIfPromoted(deps, current, message.release, now);
    if (current.state === 'processed') {
      // Known and done: only drivers that match it now (more channels, a DTK image) get builds.
      const more = planDriverBuilds(current, await driversOf(deps.store), deps.plan, now, { projectDtkReady: await projectDtkReady(deps.store, kernel) });
      return { outcome: 'already-recorded', buildsQueued: (await queueBuilds(deps, more, { now })).sent.length };
    }
    // Still `new`: either the first sighting's step died (its redelivery, or after
    // the lease anyone, finishes it) or it is running right now (wait for it).
    const age = clock.getTime() - Date.parse(current.firstSeenAt);
    if (current.discoveredBy !== sighting && age < (deps.leaseMs ?? RECORD_LEASE_MS)) throw new KernelBusyError(kernel.full);
    outcome = 'completed-after-retry';
  }

  if (!current.notifiedAt) {
    await deps.notifier.publish(kernelDiscovered(current, message.release));
    await deps.store.markKernelNotified(current.kernel, now);
  }

  const planned = [
    ...planDtkBuild(kernel, current, deps.plan, now),
    ...planDriverBuilds(current, await driversOf(deps.store), deps.plan, now, { projectDtkReady: false }),
  ];
  const buildsQueued = (await queueBuilds(deps, planned, { now })).sent.length;
  await deps.store.markKernelProcessed(kernel.full);
  return { outcome, buildsQueued };
}

/** This project's DTK build of the kernel is done (built, found already pushed, or simulated locally). */
async function projectDtkReady(store: PipelineStore, kernel: Kernel): Promise<boolean> {
  const dtk = await store.getBuild(buildKeyOf(kernelGroup(kernel), 'dtk', kernel.arch));
  return dtk !== undefined && FOLLOW_UP_BUILD_STATES.includes(dtk.state);
}
