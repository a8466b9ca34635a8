import type { EventBridgeEvent } from 'aws-lambda';
import { buildPlanningDeps } from '#pipeline/build-deps.ts';
import { PLAN_ENV, readEnv } from '#pipeline/config.ts';
import { logger } from '#pipeline/lambda.ts';
import { codeBuildStateChangeSchema } from '#pipeline/messages.ts';
import { trackBuild } from '#pipeline/track-builds.ts';

const env = readEnv(process.env, ['TABLE_NAME', 'TOPIC_ARN', 'BUILDS_QUEUE_URL', ...PLAN_ENV]);
const deps = buildPlanningDeps(env);

export const handler = async (event: EventBridgeEvent<string, unknown>): Promise<void> => {
  const result = await trackBuild(deps, codeBuildStateChangeSchema.parse(event));
  logger.info('build state recorded', { buildId: (event.detail as { 'build-id'?: string })['build-id'], ...result });
};
