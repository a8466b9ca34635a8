/**
 * The local pipeline on loopback for integration tests: the fixture world, the
 * AWS emulators, the CodeBuild stand-in and the deployed handlers, wired once.
 */
import { readFile } from 'node:fs/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { GraphArch, KernelArch } from '#core/arch.ts';
import { createHash } from 'node:crypto';
import { startBuildRunner, type BuildExecutor, type CodeBuildStateChangeEvent, type RunningBuildRunner } from '#local/build-runner.ts';
import { REGION, startEmulators, type EmulatorOptions, type Emulators } from '#local/emulators.ts';
import { startLocalPipeline, type LocalPipeline } from '#local/pipeline.ts';
import type { CfnTemplate } from '#local/template.ts';
import { notificationSchema, type Notification } from '#pipeline/notifications.ts';
import { DynamoPipelineStore } from '#aws/dynamo-store.ts';
import { fixtureWorld } from '#world/fixtures.ts';
import { startWorld, type RunningWorld } from '#world/index.ts';

export interface PipelineHarness {
  readonly world: RunningWorld;
  readonly emulators: Emulators;
  readonly runner: RunningBuildRunner;
  readonly pipeline: LocalPipeline;
  /** The table, for assertions on what was recorded. */
  readonly store: DynamoPipelineStore;
  /** Every notification delivered so far to a queue subscribed with this filter policy (then removed from it). */
  received(queue: string): Promise<Notification[]>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  readonly channels: readonly string[];
  /** Channels read from the world's OKD graph instead of the OpenShift one. @default [] */
  readonly okdChannels?: readonly string[];
  readonly arches: readonly GraphArch[];
  readonly buildArches?: readonly KernelArch[];
  readonly emulators?: EmulatorOptions;
  /** Changes the synthesized template before it runs (to test what a broken one does). */
  readonly editTemplate?: (template: CfnTemplate) => CfnTemplate;
  /** Queues subscribed to the topic: name → SNS filter policy (or null for every message). */
  readonly subscribers?: Readonly<Record<string, object | null>>;
  /** What CodeBuild reports for each build. @default reportsPushed */
  readonly executor?: BuildExecutor;
  /** The handlers' log level (POWERTOOLS_LOG_LEVEL). @default ERROR */
  readonly logLevel?: string;
}

/**
 * A test double of a CodeBuild that built and pushed every image: it reports
 * `BUILD_RESULT=pushed` with a digest derived from the build key, so the tests can
 * follow the pipeline past successful builds. No image exists behind the digest;
 * the local run never uses this (its builds are real or `simulated`).
 */
export const reportsPushed: BuildExecutor = async (build) => ({
  ok: true,
  exported: { BUILD_RESULT: 'pushed', IMAGE_DIGEST: `sha256:${createHash('sha256').update(build.env['BUILD_KEY'] ?? build.id).digest('hex')}` },
});

export async function startPipelineHarness(options: HarnessOptions): Promise<PipelineHarness> {
  const world = await startWorld(fixtureWorld(), { etag: true });
  const emulators = await startEmulators(options.emulators);
  const events: CodeBuildStateChangeEvent[] = [];
  const runner = await startBuildRunner({ onEvent: (e) => events.push(e), executor: options.executor ?? reportsPushed });
  const pipeline = await startLocalPipeline({
    emulators,
    runner,
    events,
    graphUrl: world.graphUrl,
    channelGraphs: Object.fromEntries((options.okdChannels ?? []).map((c) => [c, world.okdGraphUrl])),
    pullSecret: await readFile(world.pullSecretPath, 'utf8'),
    channels: [...options.channels, ...(options.okdChannels ?? [])],
    arches: options.arches,
    buildArches: options.buildArches ?? ['x86_64', 'aarch64'],
    dtkRepository: `${world.registryHost}/dtk/driver-toolkit`,
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    insecureRegistries: world.insecureRegistries,
    ...(options.editTemplate ? { editTemplate: options.editTemplate } : {}),
  });
  // Subscribers besides the stack's own (none): queues of the test, on the stack's topic.
  for (const [name, policy] of Object.entries(options.subscribers ?? {})) {
    emulators.fauxqs.createQueue(name);
    emulators.fauxqs.subscribe({
      topic: pipeline.topic.name,
      queue: name,
      attributes: { RawMessageDelivery: 'true', ...(policy ? { FilterPolicy: JSON.stringify(policy) } : {}) },
    });
  }
  const dynamo = new DynamoDBClient({ endpoint: emulators.endpoints.dynamodb, region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const store = new DynamoPipelineStore(DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }), pipeline.tableName);
  return {
    world,
    emulators,
    runner,
    pipeline,
    store,
    async received(queue) {
      const out: Notification[] = [];
      for (;;) {
        const { Messages = [] } = await pipeline.sqs.send(new ReceiveMessageCommand({ QueueUrl: emulators.queueUrl(queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        if (Messages.length === 0) return out;
        out.push(...Messages.map((m) => notificationSchema.parse(JSON.parse(m.Body ?? ''))));
        await pipeline.sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: emulators.queueUrl(queue), Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
        );
      }
    },
    async stop() {
      dynamo.destroy();
      pipeline.stop();
      await runner.stop();
      await emulators.stop();
      await world.stop();
    },
  };
}
