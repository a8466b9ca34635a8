/**
 * reconcile-builds (on the schedule): no build stays in flight forever. A build
 * recorded as `started` or `in-progress` for longer than its project's timeout
 * plus a margin has lost its completion event (or its record was never told). The
 * reconciler asks CodeBuild (`BatchGetBuilds`):
 *
 * - finished (`SUCCEEDED`, `FAILED`, `FAULT`, `STOPPED`): recorded through
 *   track-builds, exactly as the lost event would have been (notifications, the
 *   join, drivers built FROM this project's DTK);
 * - still `IN_PROGRESS`: left alone;
 * - `TIMED_OUT`, unknown to CodeBuild, or never given a build id: queued again.
 *   The state change is conditional (`started`/`in-progress` → `queued`), so one
 *   attempt is re-queued once however often the reconciler runs; start-build then
 *   starts attempt N+1 with a new idempotency token.
 *
 * Builds `queued` for longer than the margin get their message again (a message
 * lost before start-build read it); start-build ignores a build no longer queued.
 */
import type { BuildService } from './ports.ts';
import type { BuildEntry, BuildState } from './entities.ts';
import { trackBuild, type TrackDeps } from './track-builds.ts';

/** track-builds' dependencies (its `builds` is the builds queue), and CodeBuild. */
export interface ReconcileDeps extends TrackDeps {
  readonly codebuild: Pick<BuildService, 'getBuilds'>;
}

export interface ReconcileConfig {
  /** Each CodeBuild project's build timeout, in minutes. */
  readonly timeoutMinutes: Readonly<Record<string, number>>;
  /** Added to a project's timeout before a build counts as lost. */
  readonly marginMinutes: number;
  /** Timeout of a project missing from `timeoutMinutes`. @default 480 (CodeBuild's maximum) */
  readonly defaultTimeoutMinutes?: number;
}

export interface ReconcileResult {
  /** Builds in flight longer than their timeout + margin. */
  readonly checked: number;
  /** Recorded as CodeBuild reports them (their state-change event was lost). */
  readonly recorded: number;
  /** Re-queued: CodeBuild did not know them, or they timed out. */
  readonly requeued: number;
  /** Still running in CodeBuild. */
  readonly running: number;
  /** Queued builds whose message was sent again. */
  readonly resent: number;
}

const IN_FLIGHT: readonly BuildState[] = ['started', 'in-progress'];
const BATCH = 100; // BatchGetBuilds takes at most 100 ids

export async function reconcileBuilds(deps: ReconcileDeps, config: ReconcileConfig): Promise<ReconcileResult> {
  const now = (deps.now ?? (() => new Date()))();
  const ageMs = (b: BuildEntry) => now.getTime() - Date.parse(b.updatedAt);
  const limitMs = (project: string) => ((config.timeoutMinutes[project] ?? config.defaultTimeoutMinutes ?? 480) + config.marginMinutes) * 60_000;

  const inFlight = (await Promise.all(IN_FLIGHT.map((s) => deps.store.buildsInState(s, 1000)))).flat();
  const lost = inFlight.filter((b) => ageMs(b) >= limitMs(b.project));
  let recorded = 0;
  let requeued = 0;
  let running = 0;

  const requeue = async (build: BuildEntry, why: string) => {
    const changed = await deps.store.updateBuild(build.buildKey, [build.state], { state: 'queued', detail: `re-queued after attempt ${build.attempts}: ${why}` }, now.toISOString());
    if (!changed) return; // another reconciler run, or the event, got there first
    await deps.builds.send([{ buildKey: build.buildKey }]);
    requeued++;
  };

  const withId = lost.filter((b) => b.buildId);
  for (const b of lost.filter((b) => !b.buildId)) await requeue(b, 'no CodeBuild build id was recorded');
  for (let i = 0; i < withId.length; i += BATCH) {
    const batch = withId.slice(i, i + BATCH);
    const { builds, notFound } = await deps.codebuild.getBuilds(batch.map((b) => b.buildId!));
    for (const build of batch) {
      const status = builds.find((s) => s.id === build.buildId || s.arn === build.buildId);
      if (!status || notFound.includes(build.buildId!)) {
        await requeue(build, `CodeBuild does not know build ${build.buildId}`);
      } else if (status.status === 'TIMED_OUT') {
        await requeue(build, `CodeBuild build ${build.buildId} timed out`);
      } else if (status.status === 'IN_PROGRESS') {
        running++;
      } else {
        // The lost event, as EventBridge would have delivered it.
        await trackBuild(deps, {
          source: 'aws.codebuild',
          'detail-type': 'CodeBuild Build State Change',
          detail: {
            'build-status': status.status,
            'build-id': build.buildId!,
            'project-name': build.project,
            'additional-information': {
              environment: { 'environment-variables': status.env.map(([name, value]) => ({ name, value })) },
              'exported-environment-variables': status.exported.map(([name, value]) => ({ name, value })),
            },
          },
        });
        recorded++;
      }
    }
  }

  const marginMs = config.marginMinutes * 60_000;
  const stale = (await deps.store.buildsInState('queued', 1000)).filter((b) => ageMs(b) >= marginMs);
  if (stale.length > 0) await deps.builds.send(stale.map((b) => ({ buildKey: b.buildKey })));

  return { checked: lost.length, recorded, requeued, running, resent: stale.length };
}
