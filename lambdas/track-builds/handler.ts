import type { EventBridgeEvent } from 'aws-lambda';
import { SnsNotifier, SqsQueue } from '#pipeline/aws.ts';
import { PLAN_ENV, planConfig, readEnv } from '#pipeline/config.ts';
import { aws, logger } from '#pipeline/lambda.ts';
import { codeBuildStateChangeSchema, type BuildMessage } from '#pipeline/messages.ts';
import { trackBuild } from '#pipeline/track-builds.ts';
import { DynamoPipelineStore } from '#pipeline/store.ts';

const env = readEnv(process.env, ['TABLE_NAME', 'TOPIC_ARN', 'BUILDS_QUEUE_URL', ...PLAN_ENV]);
const deps = {
  store: new DynamoPipelineStore(aws.dynamo(), env.TABLE_NAME),
  notifier: new SnsNotifier(aws.sns(), env.TOPIC_ARN),
  builds: new SqsQueue<BuildMessage>(aws.sqs(), env.BUILDS_QUEUE_URL),
  plan: planConfig(env),
};

export const handler = async (event: EventBridgeEvent<string, unknown>): Promise<void> => {
  const result = await trackBuild(deps, codeBuildStateChangeSchema.parse(event));
  logger.info('build state recorded', { buildId: (event.detail as { 'build-id'?: string })['build-id'], ...result });
};
