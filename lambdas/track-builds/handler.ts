import type { EventBridgeEvent } from 'aws-lambda';
import { coldStart, type HandlerDeps } from '#aws/composition.ts';
import { codeBuildStateChangeSchema } from '#pipeline/messages.ts';
import { trackBuild } from '#pipeline/track-builds.ts';

export function createHandler({ track, logger }: HandlerDeps<'track-builds'>) {
  return async (event: EventBridgeEvent<string, unknown>): Promise<void> => {
    const result = await trackBuild(track, codeBuildStateChangeSchema.parse(event));
    logger.info('build state recorded', { buildId: (event.detail as { 'build-id'?: string })['build-id'], ...result });
  };
}

export const handler = coldStart('track-builds', createHandler);
