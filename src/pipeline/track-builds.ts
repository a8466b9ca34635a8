/**
 * track-builds: CodeBuild state changes → the build's record, notifications,
 * and the multi-arch join once every arch of a target is done.
 */
import { planDriverBuilds, planJoin, usesProjectDtk } from './build-plan.ts';
import type { CodeBuildStateChange } from './messages.ts';
import { buildFinished, signedBy } from './notifications.ts';
import { queueBuilds } from './queue-builds.ts';
import { driversOf } from './drivers.ts';
import type { RecordDeps } from './record-kernel.ts';
import type { BuildEntry, BuildState } from './entities.ts';

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
  const buildId = event.detail['build-id'];
  // A late event of an earlier run of a rebuilt build says nothing about this one.
  const attemptVar = Number(envOf(info?.environment?.['environment-variables'], 'BUILD_ATTEMPT'));
  const attempt = Number.isInteger(attemptVar) && attemptVar > 0 ? attemptVar : undefined;
  const current = build.state === 'queued' ? build.attempts + 1 : build.attempts;
  if (attempt !== undefined && attempt < current) return { outcome: 'ignored', joinQueued: false };

  const exported = info?.['exported-environment-variables'];
  const result = envOf(exported, 'BUILD_RESULT');
  const digest = envOf(exported, 'IMAGE_DIGEST');
  // `simulated` comes only from a stand-in that did not run the build (the local run):
  // no image exists, so no digest is recorded.
  const state: BuildState =
    status === 'IN_PROGRESS'
      ? 'in-progress'
      : status === 'SUCCEEDED'
        ? result === 'skipped-exists'
          ? 'skipped'
          : result === 'simulated'
            ? 'simulated'
            : 'succeeded'
        : 'failed';
  const simulatedWhy = envOf(exported, 'SIMULATED_REASON');
  // The builds sign what they push after the push, and fail when they cannot; a build
  // whose image already existed (skipped) signs it too when it is not signed yet: either
  // way the image is signed with the project's key.
  const imageKey = envOf(info?.environment?.['environment-variables'], 'IMAGE_SIGNING_KMS_KEY');
  const imageSigned = imageKey && (state === 'succeeded' || state === 'skipped');
  const modulesBy = signedBy(build.env, state === 'in-progress' ? 'failed' : state).modulesSignedBy;
  const signed = { ...(modulesBy ? { modulesBy } : {}), ...(imageSigned ? { imageKey } : {}) };
  // Events may arrive out of order: never move a finished build back.
  const from: BuildState[] = state === 'in-progress' ? ['queued', 'started'] : ['queued', 'started', 'in-progress'];
  const changed = await deps.store.updateBuild(
    build.buildKey,
    from,
    {
      state,
      buildId,
      // The event may overtake start-build's own write: it records the attempt too.
      ...(attempt !== undefined ? { attempts: attempt } : {}),
      ...(state !== 'simulated' && digest && /^sha256:[0-9a-f]{64}$/.test(digest) ? { digest } : {}),
      ...(state === 'skipped' ? { detail: 'the target tag already existed' } : {}),
      ...(state === 'simulated' ? { detail: `simulated, not built: ${simulatedWhy ?? 'the build was not run'}` } : {}),
      ...(state === 'failed' ? { detail: `CodeBuild ${status}` } : {}),
      ...(state !== 'in-progress' ? { signed } : {}),
    },
    now,
  );
  if (state === 'in-progress') return { outcome: changed ? 'updated' : 'ignored', joinQueued: false };
  if (!changed) {
    // The same event again (EventBridge retries a target that failed half way):
    // finish what follows it; every step below is idempotent.
    const recorded = await deps.store.getBuild(build.buildKey);
    if (recorded?.state !== state || recorded.buildId !== buildId) return { outcome: 'ignored', joinQueued: false };
  }

  await deps.notifier.publish(buildFinished(build, state, buildId, now, imageKey || undefined));

  let joinQueued = false;
  if (state !== 'failed' && build.kind !== 'join') {
    const next: BuildEntry[] = [];
    const rebuilt = build.env['REBUILD'] === 'true';
    const join = planJoin(await deps.store.buildsOfKernel(build.kernelVersion), { ...build, state }, deps.plan, now);
    if (join) next.push(join);
    // This project's DTK image now exists: drivers built FROM it can start.
    const kernel = build.kind === 'dtk' ? await deps.store.getKernel(build.kernel) : undefined;
    if (kernel) {
      const drivers = (await driversOf(deps.store)).filter((d) => usesProjectDtk(d, kernel));
      next.push(...planDriverBuilds(kernel, drivers, deps.plan, now, { projectDtkReady: true }));
    }
    // After a rebuild the multi-arch tag must point at the new images: the join runs again.
    const queued = await queueBuilds(deps, next, { now, rebuild: rebuilt });
    joinQueued = join !== undefined && queued.sent.includes(join.buildKey);
  }
  return { outcome: 'updated', joinQueued };
}
