/**
 * What the steps that plan builds (record-kernel, track-builds) need, built once
 * per Lambda container from its configuration.
 */
import { SnsNotifier, SqsQueue } from './aws.ts';
import { planConfig, type PipelineEnv, type PLAN_ENV } from './config.ts';
import { aws } from './lambda.ts';
import type { BuildMessage } from './messages.ts';
import { DynamoPipelineStore } from './store.ts';

export function buildPlanningDeps(env: Pick<PipelineEnv, 'TABLE_NAME' | 'TOPIC_ARN' | 'BUILDS_QUEUE_URL' | (typeof PLAN_ENV)[number]>) {
  return {
    store: new DynamoPipelineStore(aws.dynamo(), env.TABLE_NAME),
    notifier: new SnsNotifier(aws.sns(), env.TOPIC_ARN),
    builds: new SqsQueue<BuildMessage>(aws.sqs(), env.BUILDS_QUEUE_URL),
    plan: planConfig(env),
  };
}
