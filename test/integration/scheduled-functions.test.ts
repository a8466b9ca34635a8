/**
 * The scheduled functions as the stack deploys them. reconcile-builds: the function the synthesized template
 * defines (handler, environment with the projects' real timeouts, the margin),
 * composed by the local cloud, every AWS call checked against its role by the IAM
 * evaluator. Builds of every project are stuck as started or in progress past their
 * project's timeout plus the margin; CodeBuild (the stand-in) knows one, which
 * finished while its state-change event was lost, and not the others.
 * poll-releases: a release claimed by a poll that died before sending it is queued
 * again by a later poll once the claim is stale.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBuildRunner, type RunningBuildRunner } from '#local/build-runner.ts';
import { CREDENTIALS, REGION, startEmulators, type Emulators } from '#local/emulators.ts';
import { startLocalPipeline, type LocalPipeline } from '#local/pipeline.ts';
import { DynamoPipelineStore } from '#aws/dynamo-store.ts';
import type { BuildEntry } from '#pipeline/entities.ts';
import type { BuildMessage, ReleaseMessage } from '#pipeline/messages.ts';
import type { PollResult } from '#pipeline/poll-releases.ts';
import type { ReconcileResult } from '#pipeline/reconcile-builds.ts';
import { reportsPushed } from '../support/pipeline-harness.ts';

const MINUTE = 60_000;
const REGISTRY = 'registry.invalid';
let emulators: Emulators;
let runner: RunningBuildRunner;
let pipeline: LocalPipeline;
let store: DynamoPipelineStore;
let graph: Server;

beforeAll(async () => {
  // An update graph with no releases (what poll-releases reads when nothing is new).
  graph = createServer((_, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ nodes: [], edges: [] }))).listen(0, '127.0.0.1');
  await once(graph, 'listening');
  emulators = await startEmulators();
  // CodeBuild finishes every build; the state-change events are lost (nobody delivers them).
  runner = await startBuildRunner({ onEvent: () => {}, executor: reportsPushed });
  pipeline = await startLocalPipeline({
    emulators,
    runner,
    events: [],
    graphUrl: `http://127.0.0.1:${(graph.address() as { port: number }).port}/graph`,
    pullSecret: JSON.stringify({ auths: {} }),
    channels: ['stable-4.18'],
    arches: ['amd64'],
    buildArches: ['x86_64', 'aarch64'],
    dtkRepository: `${REGISTRY}/dtk/driver-toolkit`,
    // The template's timeouts (dtk 120, driver 60, join 15 minutes) and margin (15), not compressed time.
    timeOverrides: {},
  });
  store = new DynamoPipelineStore(
    DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: emulators.endpoints.dynamodb, region: REGION, credentials: CREDENTIALS }), { marshallOptions: { removeUndefinedValues: true } }),
    pipeline.tableName,
  );
}, 180_000);
afterAll(async () => {
  pipeline?.stop();
  await runner?.stop();
  await emulators?.stop();
  graph?.close();
});

const ago = (minutes: number) => new Date(Date.now() - minutes * MINUTE).toISOString();

function build(kind: 'dtk' | 'driver' | 'join', version: string, arch: 'x86_64' | 'aarch64' | 'multi', fields: Partial<BuildEntry>): BuildEntry {
  const { projects } = pipeline.plan;
  const project = kind === 'join' ? projects.join : projects[kind][arch as 'x86_64' | 'aarch64']!;
  const target = kind === 'dtk' ? 'dtk' : 'driver:dtk-example';
  const kernel = arch === 'multi' ? version : `${version}.${arch}`;
  const repository = kind === 'dtk' ? `${REGISTRY}/dtk/driver-toolkit` : `${REGISTRY}/partner/dtk-example`;
  return {
    buildKey: `${version}|${kind === 'dtk' ? 'dtk' : `${target}@1`}|${arch}`,
    kind,
    target,
    ...(kind === 'dtk' ? {} : { variant: '1' }),
    kernelVersion: version,
    kernel,
    arch,
    project,
    image: `${repository}:${kernel}`,
    env: { KERNEL: kernel },
    state: 'started',
    attempts: 1,
    createdAt: fields.updatedAt ?? ago(0),
    updatedAt: ago(0),
    ...fields,
  };
}

async function startInCodeBuild(entry: BuildEntry): Promise<string> {
  const client = new CodeBuildClient({ endpoint: runner.endpoint, region: REGION, credentials: CREDENTIALS });
  try {
    const { build: started } = await client.send(
      new StartBuildCommand({
        projectName: entry.project,
        environmentVariablesOverride: [
          { name: 'BUILD_KEY', value: entry.buildKey, type: 'PLAINTEXT' },
          { name: 'BUILD_ATTEMPT', value: String(entry.attempts), type: 'PLAINTEXT' },
        ],
      }),
    );
    return started!.id!;
  } finally {
    client.destroy();
  }
}

/** The template's function `name`, invoked as its schedule rule invokes it. */
async function scheduled<R>(name: 'reconcile-builds' | 'poll-releases'): Promise<R> {
  const fn = pipeline.cloud.functions.find((f) => f.name === name);
  if (!fn) throw new Error(`the template defines no ${name} function`);
  const rule = pipeline.cloud.rules.find((r) => r.schedule && r.targets.some((t) => t.fn === fn));
  expect(rule, `a schedule rule targets ${name}`).toBeDefined();
  const event = { 'detail-type': 'Scheduled Event', source: 'aws.events', resources: [`arn:aws:events:${REGION}:000000000000:rule/${rule!.logicalId}`], detail: {} };
  return (await fn.invoke(event, { functionName: fn.logicalId, awsRequestId: randomUUID() } as Context)) as R;
}
const reconcile = () => scheduled<ReconcileResult>('reconcile-builds');

async function received<M>(queueUrl: string): Promise<M[]> {
  const { Messages = [] } = await pipeline.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 3600 }));
  return Messages.map((m) => JSON.parse(m.Body ?? '{}') as M);
}
const queuedKeys = async () => (await received<BuildMessage>(pipeline.queues.builds.url)).map((m) => m.buildKey).sort();

describe('reconcile-builds in the template-driven local cloud', () => {
  it('records a lost build CodeBuild knows, re-queues the ones it does not once, and leaves builds within their timeout alone, each call allowed by its role', async () => {
    const { projects } = pipeline.plan;
    // Unknown to CodeBuild, one per project, each past its own timeout + 15 minutes.
    const lostDtk = build('dtk', '5.14.0-1.1.1.el9_4', 'x86_64', { updatedAt: ago(140) });
    const lostDtkArm = build('dtk', '5.14.0-1.1.1.el9_4', 'aarch64', { state: 'in-progress', updatedAt: ago(140) });
    const lostDriverArm = build('driver', '5.14.0-3.1.1.el9_4', 'aarch64', { updatedAt: ago(80) });
    const lostJoin = build('join', '5.14.0-4.1.1.el9_4', 'multi', { updatedAt: ago(35), env: {} });
    for (const b of [lostDtk, lostDtkArm, lostDriverArm, lostJoin]) await store.createBuild({ ...b, buildId: `${b.project}:gone-${b.arch}` });
    // Known to CodeBuild, finished there (its event lost), 80 minutes after it started: past the driver timeout (60) + 15.
    const known = build('driver', '5.14.0-2.1.1.el9_4', 'x86_64', { updatedAt: ago(80) });
    await store.createBuild(known);
    await store.updateBuild(known.buildKey, ['started'], { buildId: await startInCodeBuild(known) }, ago(80));
    await runner.idle();
    // Its other arch succeeded earlier: recording this one plans the multi-arch join.
    await store.createBuild(build('driver', '5.14.0-2.1.1.el9_4', 'aarch64', { state: 'succeeded', digest: `sha256:${'a'.repeat(64)}`, updatedAt: ago(90) }));
    // Started 100 minutes ago: within the DTK project's 120 + 15.
    const recent = build('dtk', '5.14.0-5.1.1.el9_4', 'x86_64', { updatedAt: ago(100) });
    await store.createBuild({ ...recent, buildId: `${projects.dtk.x86_64}:recent` });
    // Started 70 minutes ago: past a driver's timeout, but within the margin.
    const inMargin = build('driver', '5.14.0-6.1.1.el9_4', 'x86_64', { updatedAt: ago(70) });
    await store.createBuild({ ...inMargin, buildId: `${projects.driver.x86_64}:margin` });

    const first = await reconcile();

    expect(first).toEqual({ checked: 5, recorded: 1, requeued: 4, running: 0, resent: 0 });
    for (const lost of [lostDtk, lostDtkArm, lostDriverArm, lostJoin]) {
      expect(await store.getBuild(lost.buildKey)).toMatchObject({ state: 'queued', attempts: 1, detail: `re-queued after attempt 1: CodeBuild does not know build ${lost.project}:gone-${lost.arch}` });
    }
    expect(await store.getBuild(known.buildKey)).toMatchObject({ state: 'succeeded', digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    expect((await store.getBuild('5.14.0-2.1.1.el9_4|driver:dtk-example@1|multi'))?.state).toBe('queued');
    expect((await store.getBuild(recent.buildKey))?.state).toBe('started');
    expect((await store.getBuild(inMargin.buildKey))?.state).toBe('started');
    expect(await queuedKeys()).toEqual([lostDtk, lostDtkArm, lostDriverArm, lostJoin].map((b) => b.buildKey).concat('5.14.0-2.1.1.el9_4|driver:dtk-example@1|multi').sort());

    // Run again: nothing is re-queued twice (the re-queued builds are queued, no longer in flight).
    const second = await reconcile();
    expect(second).toEqual({ checked: 0, recorded: 0, requeued: 0, running: 0, resent: 0 });
    expect(await queuedKeys()).toEqual([]);

    // Every call ran under ReconcileBuilds' role and was allowed: BatchGetBuilds on each project, the table, the queue, the topic and its key.
    expect(pipeline.cloud.iam.denials.map((d) => d.message)).toEqual([]);
    const calls = pipeline.cloud.iam.calls.filter((c) => c.rolePath === 'ReconcileBuilds/Role');
    expect(calls.every((c) => c.allowed)).toBe(true);
    const asked = new Set(calls.filter((c) => c.action === 'codebuild:BatchGetBuilds').map((c) => c.resource.split('/').pop()));
    expect([...asked].sort()).toEqual([projects.dtk.x86_64, projects.dtk.aarch64, projects.driver.x86_64, projects.driver.aarch64, projects.join].sort());
    expect(new Set(calls.map((c) => c.action))).toEqual(
      new Set(['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem', 'codebuild:BatchGetBuilds', 'sqs:SendMessage', 'sns:Publish', 'kms:GenerateDataKey', 'kms:Decrypt']),
    );
  });
});

describe('poll-releases in the template-driven local cloud', () => {
  it('queues again, once, a release whose claim went stale before its message was sent, under its role', async () => {
    const payload = `quay.io/openshift-release-dev/ocp-release@sha256:${'b'.repeat(64)}`;
    // Claimed an hour ago by a poll that died before sending it; the graph no longer changes.
    expect(await store.claimRelease({ payload, graphArch: 'amd64', version: '4.18.7', channels: ['stable-4.18'], state: 'queued', queuedAt: ago(60) })).toEqual({ claimed: true });

    const first = await scheduled<PollResult>('poll-releases');
    expect(first).toMatchObject({ graphErrors: [], releasesQueued: 0, releasesRequeued: 1 });
    expect(await received<ReleaseMessage>(pipeline.queues.releases.url)).toEqual([{ version: '4.18.7', payload, graphArch: 'amd64', channels: ['stable-4.18'] }]);
    const second = await scheduled<PollResult>('poll-releases');
    expect(second).toMatchObject({ releasesRequeued: 0 });

    const calls = pipeline.cloud.iam.calls.filter((c) => c.rolePath === 'PollReleases/Role');
    expect(calls.filter((c) => c.action === 'dynamodb:UpdateItem').map((c) => c.allowed)).toEqual([true]);
    expect(pipeline.cloud.iam.denials).toEqual([]);
  });
});
