/**
 * Records planned builds and queues them, once: a build already recorded is left
 * alone unless it is still queued (its message may have been lost) or, for a
 * rebuild, finished (it is queued again). The one way every step queues builds.
 */
import type { BuildMessage } from './messages.ts';
import type { MessageQueue } from './ports.ts';
import type { BuildEntry } from './entities.ts';
import type { PipelineStore } from './ports.ts';
import { TERMINAL_BUILD_STATES } from './entities.ts';

export interface QueueBuildsResult {
  readonly queued: number;
  readonly requeued: number;
  readonly unchanged: number;
  /** Build keys sent to the builds queue. */
  readonly sent: readonly string[];
}

export async function queueBuilds(
  deps: { store: PipelineStore; builds: MessageQueue<BuildMessage> },
  planned: readonly BuildEntry[],
  options: { rebuild?: boolean; now: string },
): Promise<QueueBuildsResult> {
  let queued = 0;
  let requeued = 0;
  let unchanged = 0;
  const sent: string[] = [];
  for (const build of planned) {
    const entry = options.rebuild ? { ...build, env: { ...build.env, REBUILD: 'true' } } : build;
    if (await deps.store.createBuild(entry)) {
      queued++;
      sent.push(entry.buildKey);
      continue;
    }
    const existing = await deps.store.getBuild(entry.buildKey);
    if (options.rebuild && existing && TERMINAL_BUILD_STATES.includes(existing.state)) {
      if (await deps.store.updateBuild(entry.buildKey, TERMINAL_BUILD_STATES, { state: 'queued', env: { ...existing.env, REBUILD: 'true' } }, options.now)) {
        requeued++;
        sent.push(entry.buildKey);
        continue;
      }
    }
    if (existing?.state === 'queued') sent.push(entry.buildKey); // its message may have been lost
    unchanged++;
  }
  await deps.builds.send(sent.map((buildKey) => ({ buildKey })));
  return { queued, requeued, unchanged, sent };
}
