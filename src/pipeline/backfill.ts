/**
 * Builds asked for after the fact: a new or changed driver built for every
 * recorded kernel it matches (backfill), everything since an OpenShift minor,
 * or one kernel again (rebuild). Work goes through the builds queue like any
 * other build, so the concurrency limits and idempotency hold.
 */
import { kernelWithoutArch, parseKernel } from '#core/kernel.ts';
import { parseOpenShiftVersion } from '#core/versions.ts';
import type { BuildPlanConfig } from './build-plan.ts';
import { planDriverBuilds, planDtkBuild } from './build-plan.ts';
import type { BuildMessage } from './messages.ts';
import type { MessageQueue } from './ports.ts';
import { driversOf } from './drivers.ts';
import { queueBuilds } from './queue-builds.ts';
import { FOLLOW_UP_BUILD_STATES, type BuildEntry, type KernelEntry } from './entities.ts';
import type { PipelineStore } from './ports.ts';

export interface BackfillRequest {
  /** Only kernels shipped by a release of this minor or later, e.g. `4.12`. */
  readonly since?: string;
  /** One kernel: its full string (`…x86_64`) or without arch (every arch). */
  readonly kernel?: string;
  /** Only this driver's builds (no DTK builds). */
  readonly driver?: string;
  /** Build again what was built (or skipped) before, pushing over the existing tag. */
  readonly rebuild: boolean;
}

export interface BackfillResult {
  /** Kernels something was planned for. */
  readonly kernels: number;
  readonly queued: number;
  readonly requeued: number;
  readonly unchanged: number;
}

export class BackfillError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackfillError';
  }
}

function matchesKernel(entry: KernelEntry, wanted: string): boolean {
  const k = parseKernel(entry.kernel);
  return entry.kernel === wanted || entry.rtKernel === wanted || entry.kernel64k === wanted || (k !== undefined && kernelWithoutArch(k) === wanted);
}

function shippedSince(entry: KernelEntry, since: string): boolean {
  const min = parseOpenShiftVersion(`${since}.0`);
  if (!min) throw new BackfillError(`--since ${JSON.stringify(since)} is not an OpenShift minor like 4.12`);
  return entry.releases.some((r) => {
    const v = parseOpenShiftVersion(r);
    return v !== undefined && (v.major > min.major || (v.major === min.major && v.minor >= min.minor));
  });
}

export async function backfill(
  deps: { store: PipelineStore; builds: MessageQueue<BuildMessage>; plan: BuildPlanConfig; now?: () => Date },
  request: BackfillRequest,
): Promise<BackfillResult> {
  const now = (deps.now ?? (() => new Date()))().toISOString();
  const drivers = await driversOf(deps.store);
  if (request.driver && !drivers.some((d) => d.name === request.driver)) {
    throw new BackfillError(`no driver named ${JSON.stringify(request.driver)}; known: ${drivers.map((d) => d.name).join(', ') || 'none'}`);
  }
  const kernels = (await deps.store.listKernels()).filter(
    (k) => (!request.kernel || matchesKernel(k, request.kernel)) && (!request.since || shippedSince(k, request.since)),
  );
  if (request.kernel && kernels.length === 0) throw new BackfillError(`kernel ${JSON.stringify(request.kernel)} is not recorded`);

  const builds = await deps.store.listBuilds();
  const dtkDone = new Set(builds.filter((b) => b.kind === 'dtk' && FOLLOW_UP_BUILD_STATES.includes(b.state)).map((b) => b.kernel));
  const selected = request.driver ? drivers.filter((d) => d.name === request.driver) : drivers;
  const planned: BuildEntry[] = [];
  let matched = 0;
  for (const k of kernels) {
    const kernel = parseKernel(k.kernel);
    if (!kernel) continue;
    const forKernel = [
      ...(request.driver ? [] : planDtkBuild(kernel, k, deps.plan, now)),
      ...planDriverBuilds(k, selected, deps.plan, now, { projectDtkReady: dtkDone.has(k.kernel), rebuild: request.rebuild }),
    ];
    if (forKernel.length > 0) matched++;
    planned.push(...forKernel);
  }

  const { queued, requeued, unchanged } = await queueBuilds(deps, planned, { rebuild: request.rebuild, now });
  return { kernels: matched, queued, requeued, unchanged };
}
