/**
 * start-build: a queued build → a CodeBuild build. At the account's concurrent
 * build limit the error is thrown so the message returns to the queue and is
 * tried again later; the build stays queued, nothing is lost.
 */
import { createHash } from 'node:crypto';
import { BuildEnvError, parseBuildEnv } from '#core/builds/params.ts';
import type { BuildMessage } from './messages.ts';
import { buildFinished } from './notifications.ts';
import type { BuildService, Notifier } from './ports.ts';
import type { PipelineStore } from './ports.ts';

export interface StartDeps {
  readonly store: PipelineStore;
  readonly builds: BuildService;
  readonly notifier: Notifier;
  readonly now?: () => Date;
}

export type StartOutcome = 'started' | 'not-queued' | 'missing' | 'invalid';

/** Where the buildspecs put the RHSM secrets; only their shape is checked here. */
const SECRET_FILES = { RHSM_ORG_FILE: '/run/secrets/rhsm_org', RHSM_KEY_FILE: '/run/secrets/rhsm_key' };

export async function startBuild(deps: StartDeps, message: BuildMessage): Promise<{ outcome: StartOutcome; buildId?: string }> {
  const now = () => (deps.now ?? (() => new Date()))().toISOString();
  const build = await deps.store.getBuild(message.buildKey);
  if (!build) return { outcome: 'missing' };
  if (build.state !== 'queued') return { outcome: 'not-queued' };

  // The build scripts check every parameter again; checking here too means a bad
  // value never reaches a build machine, and the build says why it failed.
  try {
    parseBuildEnv(build.kind, { ...SECRET_FILES, ...build.env });
  } catch (error) {
    if (!(error instanceof BuildEnvError)) throw error;
    const detail = `not started: ${error.message}`;
    if (await deps.store.updateBuild(build.buildKey, ['queued'], { state: 'failed', detail }, now())) {
      await deps.notifier.publish(buildFinished(build, 'failed', null, now()));
    }
    return { outcome: 'invalid' };
  }

  // One token per attempt: a redelivered message for the same attempt gets the
  // same CodeBuild build back instead of a second one.
  const idempotencyToken = createHash('sha256').update(`${build.buildKey}#${build.attempts}`).digest('hex').slice(0, 64);
  const attempt = build.attempts + 1;
  const { buildId } = await deps.builds.startBuild({
    project: build.project,
    // BUILD_ATTEMPT lets track-builds tell this run's events from a late one of an earlier run.
    env: { ...build.env, BUILD_KEY: build.buildKey, BUILD_ATTEMPT: String(attempt) },
    idempotencyToken,
  });
  await deps.store.updateBuild(build.buildKey, ['queued'], { state: 'started', buildId, attempts: attempt }, now());
  return { outcome: 'started', buildId };
}
