/**
 * track-builds: CodeBuild state changes → the build's record, notifications,
 * and the multi-arch join once every arch of a target is done.
 */
import { planDriverBuilds, planJoin } from './build-plan.ts';
import type { CodeBuildStateChange } from './messages.ts';
import { NOTIFICATION_SCHEMA } from './notifications.ts';
import { driversOf, type RecordDeps } from './record-kernel.ts';
import type { BuildEntry, BuildState } from './store.ts';

/** The same dependencies as record-kernel: both plan builds. */
export type TrackDeps = Omit<RecordDeps, 'leaseMs'>;

export type TrackOutcome = 'updated' | 'ignored' | 'unknown-build';

const envOf = (vars: readonly { name: string; value?: string | undefined }[] | undefined, name: string) => vars?.find((v) => v.name === name)?.value;

export async function trackBuild(deps: TrackDeps, event: CodeBuildStateChange): Promise<{ outcome: TrackOutcome; joinQueued: boolean }> {
  const now = (deps.now ?? (() => new Date()))().toISOString();
  const info = event.detail['additional-information'];
  const buildKey = envOf(info?.environment?.['environment-variables'], 'BUILD_KEY');
  const build = buildKey ? await deps.store.getBuild(buildKey) : undefined;
  if (!build) return { outcome: 'unknown-build', joinQueued: false };

  const status = event.detail['build-status'];
  const exported = info?.['exported-environment-variables'];
  const result = envOf(exported, 'BUILD_RESULT');
  const digest = envOf(exported, 'IMAGE_DIGEST');
  const state: BuildState =
    status === 'IN_PROGRESS' ? 'in-progress' : status === 'SUCCEEDED' ? (result === 'skipped-exists' ? 'skipped' : 'succeeded') : 'failed';
  // Events may arrive out of order: never move a finished build back.
  const from: BuildState[] = state === 'in-progress' ? ['queued', 'started'] : ['queued', 'started', 'in-progress'];
  const changed = await deps.store.updateBuild(
    build.buildKey,
    from,
    {
      state,
      buildId: event.detail['build-id'],
      ...(digest && /^sha256:[0-9a-f]{64}$/.test(digest) ? { digest } : {}),
      ...(state === 'skipped' ? { detail: 'the target tag already existed' } : {}),
      ...(state === 'failed' ? { detail: `CodeBuild ${status}` } : {}),
    },
    now,
  );
  if (!changed || state === 'in-progress') return { outcome: changed ? 'updated' : 'ignored', joinQueued: false };

  await deps.notifier.publish({
    schema: NOTIFICATION_SCHEMA,
    id: `build.${state}:${build.buildKey}:${event.detail['build-id']}`,
    time: now,
    type: state === 'failed' ? 'build.failed' : 'build.succeeded',
    buildKey: build.buildKey,
    kind: build.kind,
    kernel: build.kernel,
    arch: build.arch,
    driver: build.target.startsWith('driver:') ? build.target.slice('driver:'.length) : null,
    state,
    image: build.image,
    buildId: event.detail['build-id'],
  });

  let joinQueued = false;
  if (state !== 'failed' && build.kind !== 'join') {
    const next: BuildEntry[] = [];
    const join = planJoin(await deps.store.buildsOfKernel(build.kernelVersion), { ...build, state }, deps.plan, now);
    if (join) next.push(join);
    // This project's DTK image now exists: drivers built FROM it can start.
    const kernel = build.kind === 'dtk' ? await deps.store.getKernel(build.kernel) : undefined;
    if (kernel) {
      const drivers = (await driversOf(deps)).filter((d) => d.dtk === 'project');
      next.push(...planDriverBuilds(kernel, drivers, deps.plan, now, { projectDtkReady: true }));
    }
    const created: BuildEntry[] = [];
    for (const b of next) if (await deps.store.createBuild(b)) created.push(b);
    await deps.builds.send(created.map((b) => ({ buildKey: b.buildKey })));
    joinQueued = created.some((b) => b.kind === 'join');
  }
  return { outcome: 'updated', joinQueued };
}
