/**
 * Builds each use case's dependencies from configuration and SDK clients, for
 * the Lambdas and for the local run alike.
 */
import type { CodeBuildClient } from '@aws-sdk/client-codebuild';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GraphClient } from '#core/graph.ts';
import { RegistryClient } from '#core/registry/client.ts';
import type { DockerConfig } from '#core/registry/credentials.ts';
import { ReleaseResolver } from '#core/release-resolver.ts';
import { CodeBuildService, SnsNotifier, SqsQueue } from './aws.ts';
import type { BuildPlanConfig } from './build-plan.ts';
import type { PipelineEnv } from './config.ts';
import type { BuildMessage, KernelMessage, ReleaseMessage } from './messages.ts';
import type { PollDeps } from './poll-releases.ts';
import type { RecordDeps } from './record-kernel.ts';
import type { ResolveDeps } from './resolve-release.ts';
import type { StartDeps } from './start-build.ts';
import { DynamoPipelineStore } from './store.ts';
import type { TrackDeps } from './track-builds.ts';

export const USER_AGENT = 'driver-toolkit-pipeline';

export function pollDeps(env: Pick<PipelineEnv, 'TABLE_NAME' | 'RELEASES_QUEUE_URL' | 'GRAPH_URL'>, c: { dynamo: DynamoDBDocumentClient; sqs: SQSClient }): PollDeps {
  return {
    graph: new GraphClient({ url: env.GRAPH_URL, userAgent: USER_AGENT }),
    store: new DynamoPipelineStore(c.dynamo, env.TABLE_NAME),
    releases: new SqsQueue<ReleaseMessage>(c.sqs, env.RELEASES_QUEUE_URL),
  };
}

export function resolveDeps(
  env: Pick<PipelineEnv, 'TABLE_NAME' | 'KERNELS_QUEUE_URL' | 'INSECURE_REGISTRIES'>,
  c: { dynamo: DynamoDBDocumentClient; sqs: SQSClient },
  credentials: DockerConfig | undefined,
): ResolveDeps {
  const registry = new RegistryClient({ ...(credentials ? { credentials } : {}), insecureRegistries: env.INSECURE_REGISTRIES, userAgent: USER_AGENT });
  return {
    resolver: new ReleaseResolver(registry),
    store: new DynamoPipelineStore(c.dynamo, env.TABLE_NAME),
    kernels: new SqsQueue<KernelMessage>(c.sqs, env.KERNELS_QUEUE_URL),
  };
}

export function planConfig(env: Pick<PipelineEnv, 'DTK_REPOSITORY' | 'BUILD_ARCHES' | 'BUILD_PROJECTS'>): BuildPlanConfig {
  return { dtkRepository: env.DTK_REPOSITORY, buildArches: env.BUILD_ARCHES, projects: env.BUILD_PROJECTS };
}

export function recordDeps(
  env: Pick<PipelineEnv, 'TABLE_NAME' | 'TOPIC_ARN' | 'BUILDS_QUEUE_URL' | 'DTK_REPOSITORY' | 'BUILD_ARCHES' | 'BUILD_PROJECTS'>,
  c: { dynamo: DynamoDBDocumentClient; sqs: SQSClient; sns: SNSClient },
): RecordDeps {
  return {
    store: new DynamoPipelineStore(c.dynamo, env.TABLE_NAME),
    notifier: new SnsNotifier(c.sns, env.TOPIC_ARN),
    builds: new SqsQueue<BuildMessage>(c.sqs, env.BUILDS_QUEUE_URL),
    plan: planConfig(env),
  };
}

export function startDeps(env: Pick<PipelineEnv, 'TABLE_NAME'>, c: { dynamo: DynamoDBDocumentClient; codebuild: CodeBuildClient }): StartDeps {
  return { store: new DynamoPipelineStore(c.dynamo, env.TABLE_NAME), builds: new CodeBuildService(c.codebuild) };
}

export function trackDeps(
  env: Pick<PipelineEnv, 'TABLE_NAME' | 'TOPIC_ARN' | 'BUILDS_QUEUE_URL' | 'DTK_REPOSITORY' | 'BUILD_ARCHES' | 'BUILD_PROJECTS'>,
  c: { dynamo: DynamoDBDocumentClient; sqs: SQSClient; sns: SNSClient },
): TrackDeps {
  return recordDeps(env, c);
}
