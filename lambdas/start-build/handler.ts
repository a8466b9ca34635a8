import { CodeBuildService, SnsNotifier } from '#pipeline/aws.ts';
import { readEnv } from '#pipeline/config.ts';
import { aws, sqsHandler } from '#pipeline/lambda.ts';
import { buildMessageSchema } from '#pipeline/messages.ts';
import { startBuild } from '#pipeline/start-build.ts';
import { DynamoPipelineStore } from '#pipeline/store.ts';

const env = readEnv(process.env, ['TABLE_NAME', 'TOPIC_ARN']);
const deps = {
  store: new DynamoPipelineStore(aws.dynamo(), env.TABLE_NAME),
  builds: new CodeBuildService(aws.codebuild()),
  notifier: new SnsNotifier(aws.sns(), env.TOPIC_ARN),
};

/** At CodeBuild's concurrency limit the record fails, returns to the queue, and is tried again later. */
export const handler = sqsHandler(buildMessageSchema, (message) => startBuild(deps, message));
