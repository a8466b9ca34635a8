/**
 * reconcile-builds against the DynamoDB, SQS and SNS emulators and the CodeBuild
 * stand-in (BatchGetBuilds over CodeBuild's JSON 1.1 protocol, through the SDK):
 * builds whose completion event was lost are recorded as CodeBuild reports them,
 * or queued again once per attempt.
 */
import { CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBuildRunner, type RunningBuildRunner } from '#local/build-runner.ts';
import { REGION, startEmulators, TABLE_DEFINITION, type Emulators } from '#local/emulators.ts';
import { CodeBuildService } from '#aws/codebuild.ts';
import { SnsNotifier } from '#aws/sns-notifier.ts';
import { SqsQueue } from '#aws/sqs-queue.ts';
import type { BuildMessage } from '#pipeline/messages.ts';
import { reconcileBuilds, type ReconcileDeps } from '#pipeline/reconcile-builds.ts';
import { DynamoPipelineStore } from '#aws/dynamo-store.ts';
import type { BuildEntry } from '#pipeline/entities.ts';
import { reportsPushed } from '../support/pipeline-harness.ts';

/** Project names of the stand-in (what a template's BUILD_PROJECTS would name). */
const PROJECTS = { dtk: { x86_64: 'dtk-x86_64', aarch64: 'dtk-aarch64' }, driver: { x86_64: 'driver-x86_64', aarch64: 'driver-aarch64' }, join: 'join' };

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const HOUR = 3_600_000;
let emulators: Emulators;
let runner: RunningBuildRunner;
let store: DynamoPipelineStore;
let sqs: SQSClient;
let deps: ReconcileDeps;
let release: () => void = () => {};
let buildsUrl: string;
const config = { timeoutMinutes: { 'dtk-x86_64': 120, 'dtk-aarch64': 120 }, marginMinutes: 15 };

beforeAll(async () => {
  emulators = await startEmulators();
  // The table, builds queue and topic this test uses (a run makes them from the template).
  const ddb = new DynamoDBClient({ endpoint: emulators.endpoints.dynamodb, region: REGION, credentials });
  await ddb.send(new CreateTableCommand({ TableName: 'dtk-pipeline', ...TABLE_DEFINITION }));
  ddb.destroy();
  const buildsQueueUrl = emulators.fauxqs.createQueue('builds').queueUrl;
  buildsUrl = buildsQueueUrl;
  const { topicArn } = emulators.fauxqs.createTopic('notifications');
  const held = new Promise<void>((r) => (release = r));
  // Builds of project dtk-aarch64 keep running until the test lets them finish.
  runner = await startBuildRunner({ onEvent: () => {}, executor: async (b, env) => (b.project === 'dtk-aarch64' ? held.then(() => reportsPushed(b, env)) : reportsPushed(b, env)) });
  store = new DynamoPipelineStore(
    DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: emulators.endpoints.dynamodb, region: REGION, credentials }), { marshallOptions: { removeUndefinedValues: true } }),
    'dtk-pipeline',
  );
  sqs = new SQSClient({ endpoint: emulators.endpoints.sqs, region: REGION, credentials, useQueueUrlAsEndpoint: false });
  const codebuild = new CodeBuildClient({ endpoint: runner.endpoint, region: REGION, credentials });
  deps = {
    store,
    notifier: new SnsNotifier(new SNSClient({ endpoint: emulators.endpoints.sns, region: REGION, credentials }), topicArn),
    builds: new SqsQueue<BuildMessage>(sqs, buildsUrl),
    codebuild: new CodeBuildService(codebuild),
    plan: { dtkRepository: 'registry.example/dtk', buildArches: ['x86_64'], projects: PROJECTS },
  };
});
afterAll(async () => {
  release();
  await runner?.stop();
  await emulators?.stop();
});

async function queued(): Promise<string[]> {
  const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: buildsUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 3600 }));
  return Messages.map((m) => (JSON.parse(m.Body ?? '{}') as BuildMessage).buildKey).sort();
}

async function build(version: string, arch: 'x86_64' | 'aarch64', fields: Partial<BuildEntry>): Promise<BuildEntry> {
  const entry: BuildEntry = {
    buildKey: `${version}|dtk|${arch}`, kind: 'dtk', target: 'dtk', kernelVersion: version, kernel: `${version}.${arch}`, arch, project: `dtk-${arch}`,
    image: `registry.example/dtk:${version}.${arch}`, env: { KERNEL: `${version}.${arch}` }, state: 'started', attempts: 1, createdAt: '', updatedAt: '', ...fields,
  };
  await store.createBuild(entry);
  return entry;
}

async function startInRunner(entry: BuildEntry): Promise<string> {
  const client = new CodeBuildClient({ endpoint: runner.endpoint, region: REGION, credentials });
  const { build: started } = await client.send(
    new StartBuildCommand({ projectName: entry.project, environmentVariablesOverride: [{ name: 'BUILD_KEY', value: entry.buildKey, type: 'PLAINTEXT' }, { name: 'BUILD_ATTEMPT', value: String(entry.attempts), type: 'PLAINTEXT' }] }),
  );
  return started!.id!;
}

describe('reconcile-builds', () => {
  it('re-queues a lost build once per attempt, records a finished one, and leaves running and recent ones alone', async () => {
    const now = Date.now();
    const old = new Date(now - 3 * HOUR).toISOString();
    const recent = new Date(now - 10 * 60_000).toISOString();
    // Unknown to CodeBuild (its runner died with the process that started it).
    const lost = await build('5.14.0-1.1.1.el9_4', 'x86_64', { buildId: 'dtk-x86_64:gone', updatedAt: old, createdAt: old });
    // Never given a build id.
    const noId = await build('5.14.0-2.1.1.el9_4', 'x86_64', { state: 'in-progress', updatedAt: old, createdAt: old });
    // Finished in CodeBuild; its event never arrived.
    const finished = await build('5.14.0-3.1.1.el9_4', 'x86_64', { updatedAt: old, createdAt: old });
    await store.updateBuild(finished.buildKey, ['started'], { buildId: await startInRunner(finished) }, old);
    // Still running in CodeBuild.
    const running = await build('5.14.0-4.1.1.el9_4', 'aarch64', { updatedAt: old, createdAt: old });
    await store.updateBuild(running.buildKey, ['started'], { buildId: await startInRunner(running) }, old);
    // Started ten minutes ago: within its project's timeout.
    await build('5.14.0-5.1.1.el9_4', 'x86_64', { buildId: 'dtk-x86_64:recent', updatedAt: recent, createdAt: recent });
    while (runner.builds.some((b) => b.project === 'dtk-x86_64' && b.status === 'IN_PROGRESS')) await new Promise((r) => setTimeout(r, 20));

    const first = await reconcileBuilds(deps, config);
    expect(first).toEqual({ checked: 4, recorded: 1, requeued: 2, running: 1, resent: 0 });
    expect(await store.getBuild(lost.buildKey)).toMatchObject({ state: 'queued', attempts: 1, detail: 're-queued after attempt 1: CodeBuild does not know build dtk-x86_64:gone' });
    expect(await store.getBuild(noId.buildKey)).toMatchObject({ state: 'queued', detail: 're-queued after attempt 1: no CodeBuild build id was recorded' });
    expect(await store.getBuild(finished.buildKey)).toMatchObject({ state: 'succeeded', digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    expect((await store.getBuild(running.buildKey))?.state).toBe('started');
    expect((await store.getBuild('5.14.0-5.1.1.el9_4|dtk|x86_64'))?.state).toBe('started');
    expect(await queued()).toEqual([lost.buildKey, noId.buildKey].sort());

    // Run again at once: nothing is queued twice (the re-queued builds are queued, not in flight).
    const second = await reconcileBuilds(deps, config);
    expect(second).toMatchObject({ checked: 1, requeued: 0, running: 1, resent: 0 });
    expect(await queued()).toEqual([]);

    // A queued build whose message was lost gets it again once it is older than the margin.
    const later = await reconcileBuilds({ ...deps, now: () => new Date(now + 20 * 60_000) }, config);
    expect(later.resent).toBe(2);
    expect(await queued()).toEqual([lost.buildKey, noId.buildKey].sort());
  });
});
