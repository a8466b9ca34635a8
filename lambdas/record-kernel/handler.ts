import { SnsNotifier, SqsQueue } from '#pipeline/aws.ts';
import { PLAN_ENV, planConfig, readEnv } from '#pipeline/config.ts';
import { aws, sqsHandler } from '#pipeline/lambda.ts';
import { kernelMessageSchema, type BuildMessage } from '#pipeline/messages.ts';
import { recordKernel } from '#pipeline/record-kernel.ts';
import { DynamoPipelineStore } from '#pipeline/store.ts';

const env = readEnv(process.env, ['TABLE_NAME', 'TOPIC_ARN', 'BUILDS_QUEUE_URL', ...PLAN_ENV]);
const deps = {
  store: new DynamoPipelineStore(aws.dynamo(), env.TABLE_NAME),
  notifier: new SnsNotifier(aws.sns(), env.TOPIC_ARN),
  builds: new SqsQueue<BuildMessage>(aws.sqs(), env.BUILDS_QUEUE_URL),
  plan: planConfig(env),
};

export const handler = sqsHandler(kernelMessageSchema, (message) => recordKernel(deps, message));
