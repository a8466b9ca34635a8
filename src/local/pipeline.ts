/**
 * The deployed pipeline, on one machine: the same Lambda handlers, invoked the
 * way AWS invokes them (a schedule tick, SQS batches with partial failures, and
 * EventBridge CodeBuild events), against the emulators and the local build runner.
 *
 * Handlers read their configuration at import, like a cold start; so one process
 * runs one configuration.
 */
import { createHash } from 'node:crypto';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { GraphArch, KernelArch } from '#core/arch.ts';
import type { BuildPlanConfig } from '#pipeline/build-plan.ts';
import type { BuildProjects } from '#pipeline/config.ts';
import type { CodeBuildStateChangeEvent, RunningBuildRunner } from './build-runner.ts';
import type { Emulators } from './emulators.ts';
import { REGION } from './emulators.ts';

export interface LocalPipelineOptions {
  readonly emulators: Emulators;
  readonly runner: RunningBuildRunner;
  /** Events the runner reported (the runner's onEvent should push here). */
  readonly events: CodeBuildStateChangeEvent[];
  readonly graphUrl: string;
  /** Channels another graph serves (OKD's): channel → graph URL. @default {} */
  readonly channelGraphs?: Readonly<Record<string, string>>;
  /** docker config JSON text; stored in the Secrets Manager emulator. */
  readonly pullSecret: string;
  readonly channels: readonly string[];
  readonly arches: readonly GraphArch[];
  readonly buildArches: readonly KernelArch[];
  readonly dtkRepository: string;
  readonly insecureRegistries?: readonly string[];
  /** Log level of the handlers' structured logs. @default 'ERROR' */
  readonly logLevel?: string;
}

/** Builds are simulated locally; these name UBI images the way the deploy config pins them. */
export const LOCAL_UBI_IMAGES: Readonly<Record<'8' | '9' | '10', string>> = {
  '8': `registry.access.redhat.com/ubi8/ubi@sha256:${createHash('sha256').update('ubi8').digest('hex')}`,
  '9': `registry.access.redhat.com/ubi9/ubi@sha256:${createHash('sha256').update('ubi9').digest('hex')}`,
  '10': `registry.access.redhat.com/ubi10/ubi@sha256:${createHash('sha256').update('ubi10').digest('hex')}`,
};

/** Where, in the local run's data directory, its build plan is written. */
export const LOCAL_PLAN_FILE = 'plan.json';

/** What the local run plans builds with (written beside its state, so the CLI plans the same way). */
export function localPlan(dtkRepository: string, buildArches: readonly KernelArch[]): BuildPlanConfig {
  return { dtkRepository, buildArches, projects: LOCAL_PROJECTS, ubiImages: LOCAL_UBI_IMAGES };
}

export const LOCAL_PROJECTS: BuildProjects = {
  dtk: { x86_64: 'dtk-x86_64', aarch64: 'dtk-aarch64' },
  driver: { x86_64: 'driver-x86_64', aarch64: 'driver-aarch64' },
  join: 'join',
};

type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export interface DrainStats {
  releaseMessages: number;
  kernelMessages: number;
  buildMessages: number;
  buildEvents: number;
  failedRecords: number;
}

export interface LocalPipeline {
  /** One scheduled run of poll-releases. */
  tick(): Promise<void>;
  /** Delivers queued messages and build events to their handlers until nothing is left. */
  drain(options?: { timeoutMs?: number }): Promise<DrainStats>;
  readonly sqs: SQSClient;
}

function context(name: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:123456789012:function:${name}`,
    memoryLimitInMB: '512',
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 60_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

export async function startLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipeline> {
  const { emulators } = options;
  const pullSecretArn = await emulators.createSecret(`pull-secret-${Date.now()}`, options.pullSecret);
  Object.assign(process.env, emulators.sdkEnv(), {
    AWS_ENDPOINT_URL_CODEBUILD: options.runner.endpoint,
    TABLE_NAME: emulators.tableName,
    TOPIC_ARN: emulators.topicArn,
    RELEASES_QUEUE_URL: emulators.queues.releases.url,
    KERNELS_QUEUE_URL: emulators.queues.kernels.url,
    BUILDS_QUEUE_URL: emulators.queues.builds.url,
    CHANNELS: options.channels.join(','),
    ARCHES: options.arches.join(','),
    GRAPH_URL: options.graphUrl,
    CHANNEL_GRAPHS: JSON.stringify(options.channelGraphs ?? {}),
    PULL_SECRET_ARN: pullSecretArn,
    INSECURE_REGISTRIES: (options.insecureRegistries ?? []).join(','),
    DTK_REPOSITORY: options.dtkRepository,
    BUILD_ARCHES: options.buildArches.join(','),
    BUILD_PROJECTS: JSON.stringify(LOCAL_PROJECTS),
    UBI_IMAGES: JSON.stringify(LOCAL_UBI_IMAGES),
    POWERTOOLS_SERVICE_NAME: 'dtk-pipeline-local',
    POWERTOOLS_LOG_LEVEL: options.logLevel ?? 'ERROR',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });

  // Imported only now: each handler reads its configuration at import, like a cold start.
  const poll = (await import('#lambdas/poll-releases/handler.ts')).handler;
  const resolve: SqsHandler = (await import('#lambdas/resolve-release/handler.ts')).handler;
  const record: SqsHandler = (await import('#lambdas/record-kernel/handler.ts')).handler;
  const start: SqsHandler = (await import('#lambdas/start-build/handler.ts')).handler;
  const track = (await import('#lambdas/track-builds/handler.ts')).handler;

  const sqs = new SQSClient({ region: REGION, endpoint: emulators.endpoints.sqs, useQueueUrlAsEndpoint: false });
  const routes: { name: string; url: string; arn: string; handler: SqsHandler; stat: keyof DrainStats }[] = [
    { name: 'resolve-release', url: emulators.queues.releases.url, arn: 'releases', handler: resolve, stat: 'releaseMessages' },
    { name: 'record-kernel', url: emulators.queues.kernels.url, arn: 'kernels', handler: record, stat: 'kernelMessages' },
    { name: 'start-build', url: emulators.queues.builds.url, arn: 'builds', handler: start, stat: 'buildMessages' },
  ];

  const toEvent = (messages: Message[], arn: string): SQSEvent => ({
    Records: messages.map((m) => ({
      messageId: m.MessageId ?? '',
      receiptHandle: m.ReceiptHandle ?? '',
      body: m.Body ?? '',
      attributes: {
        ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
        SenderId: 'local',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: m.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${REGION}:123456789012:${arn}`,
      awsRegion: REGION,
    })),
  });

  const pending = (name: string) => {
    const q = emulators.fauxqs.inspectQueue(name);
    return q ? q.messages.ready.length + q.messages.delayed.length + q.messages.inflight.length : 0;
  };

  return {
    sqs,
    async tick() {
      await poll();
    },
    async drain({ timeoutMs = 120_000 } = {}) {
      const stats: DrainStats = { releaseMessages: 0, kernelMessages: 0, buildMessages: 0, buildEvents: 0, failedRecords: 0 };
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let progressed = false;
        for (const route of routes) {
          const { Messages = [] } = await sqs.send(
            new ReceiveMessageCommand({ QueueUrl: route.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }),
          );
          if (Messages.length === 0) continue;
          progressed = true;
          stats[route.stat] += Messages.length;
          const response = await route.handler(toEvent(Messages, route.arn), context(route.name));
          const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
          stats.failedRecords += failed.size;
          const done = Messages.filter((m) => !failed.has(m.MessageId ?? ''));
          if (done.length > 0) {
            await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: route.url, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
          }
        }
        while (options.events.length > 0) {
          progressed = true;
          stats.buildEvents++;
          await track(options.events.shift() as never);
        }
        if (progressed) continue;
        await options.runner.idle();
        if (options.events.length > 0) continue;
        // Failed records come back after their visibility timeout, or move to a DLQ.
        if (routes.some((r) => pending(r.arn) > 0)) {
          if (Date.now() > deadline) throw new Error('the local pipeline did not settle in time');
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        return stats;
      }
    },
  };
}
