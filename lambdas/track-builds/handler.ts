import type { EventBridgeEvent } from 'aws-lambda';
import { readEnv } from '#pipeline/config.ts';
import { aws, logger } from '#pipeline/lambda.ts';
import { codeBuildStateChangeSchema } from '#pipeline/messages.ts';
import { trackBuild } from '#pipeline/track-builds.ts';
import { trackDeps } from '#pipeline/wiring.ts';

const env = readEnv(process.env, ['TABLE_NAME', 'TOPIC_ARN', 'BUILDS_QUEUE_URL', 'DTK_REPOSITORY', 'BUILD_ARCHES', 'BUILD_PROJECTS']);
const deps = trackDeps(env, { dynamo: aws.dynamo(), sqs: aws.sqs(), sns: aws.sns() });

export const handler = async (event: EventBridgeEvent<string, unknown>): Promise<void> => {
  const result = await trackBuild(deps, codeBuildStateChangeSchema.parse(event));
  logger.info('build state recorded', { buildId: (event.detail as { 'build-id'?: string })['build-id'], ...result });
};
