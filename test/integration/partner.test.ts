/**
 * Partner prebuild, end to end against the emulators: drivers following
 * candidate channels are built for a pre-release kernel at once; when a GA
 * release ships it, `kernel.promoted` is published once and nothing is rebuilt,
 * while drivers that follow only stable channels get built then. Subscribers
 * with SNS filter policies receive exactly the messages they asked for.
 */
import { readFile } from 'node:fs/promises';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBuildRunner, type CodeBuildStateChangeEvent, type RunningBuildRunner } from '#local/build-runner.ts';
import { REGION, startEmulators, type Emulators } from '#local/emulators.ts';
import { LOCAL_PROJECTS, startLocalPipeline, type LocalPipeline } from '#local/pipeline.ts';
import { SqsQueue } from '#pipeline/aws.ts';
import { backfill } from '#pipeline/backfill.ts';
import { driverSchema } from '#pipeline/drivers.ts';
import type { BuildMessage } from '#pipeline/messages.ts';
import { notificationSchema, type Notification } from '#pipeline/notifications.ts';
import { DynamoPipelineStore } from '#pipeline/store.ts';
import { buildRelease } from '#world/eras.ts';
import { fixtureWorld } from '#world/fixtures.ts';
import { startWorld, type RunningWorld } from '#world/index.ts';

let world: RunningWorld;
let emulators: Emulators;
let runner: RunningBuildRunner;
let pipeline: LocalPipeline;
let store: DynamoPipelineStore;
const events: CodeBuildStateChangeEvent[] = [];
const KERNEL = '5.14.0-570.777.1.el9_6.x86_64';
const now = () => new Date().toISOString();

const subscriptions = {
  promoted: { eventType: ['kernel.promoted'] },
  gpuBuilds: { eventType: ['build.succeeded'], driver: ['gpu'] },
  prerelease: { eventType: ['kernel.discovered'], prerelease: ['true'] },
  mismatch: { eventType: ['release.finding'], finding: ['dtk-kernel-mismatch'] },
} as const;

const driver = (name: string, channels: string[], extra: Record<string, unknown> = {}) =>
  driverSchema.parse({ name, source: { type: 'inline', context: 'images/driver-example' }, repository: `registry.example/partner/${name}`, channels, arches: ['x86_64'], ...extra });

beforeAll(async () => {
  world = await startWorld(fixtureWorld(), { etag: true });
  emulators = await startEmulators({ visibilityTimeoutSeconds: 1 });
  for (const [name, policy] of Object.entries(subscriptions)) {
    emulators.fauxqs.createQueue(name);
    emulators.fauxqs.subscribe({ topic: 'notifications', queue: name, attributes: { RawMessageDelivery: 'true', FilterPolicy: JSON.stringify(policy) } });
  }
  runner = await startBuildRunner({ onEvent: (e) => events.push(e) });
  pipeline = await startLocalPipeline({
    emulators,
    runner,
    events,
    graphUrl: world.graphUrl,
    pullSecret: await readFile(world.pullSecretPath, 'utf8'),
    channels: ['candidate-4.21', 'stable-4.21'],
    arches: ['amd64'],
    buildArches: ['x86_64', 'aarch64'],
    dtkRepository: `${world.registryHost}/dtk/driver-toolkit`,
  });
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: emulators.endpoints.dynamodb, region: REGION, credentials: { accessKeyId: 'l', secretAccessKey: 'l' } }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  store = new DynamoPipelineStore(dynamo, emulators.tableName);
  await store.putDriver(driver('gpu', ['candidate-*', 'stable-*'], { filters: { rt: true } }), now());
  await store.putDriver(driver('nic', ['stable-*']), now());
  await pipeline.tick();
  await pipeline.drain();
});
afterAll(async () => {
  await runner?.stop();
  await emulators?.stop();
  await world?.stop();
});

async function received(queue: keyof typeof subscriptions): Promise<Notification[]> {
  const out: Notification[] = [];
  for (;;) {
    const { Messages = [] } = await pipeline.sqs.send(new ReceiveMessageCommand({ QueueUrl: emulators.queueUrl(queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (Messages.length === 0) return out;
    out.push(...Messages.map((m) => notificationSchema.parse(JSON.parse(m.Body ?? ''))));
  }
}
const buildsOf = (name: string) => runner.builds.filter((b) => b.env['DRIVER_NAME'] === name && b.env['KERNEL']?.startsWith('5.14.0-570.777.1'));

async function publish(version: string, channels: string[]): Promise<void> {
  await world.addRelease(buildRelease({ version, channels, arches: [{ arch: 'amd64', rhcosVersion: '9.6.20261101-0', kernel: KERNEL, rtKernel: `${KERNEL}+rt` }] }));
  await pipeline.tick();
  await pipeline.drain();
}

describe('partner prebuild', () => {
  it('reports a DTK built for another kernel to the subscriber that filters on that finding, and only that', async () => {
    await received('prerelease');
    await received('gpuBuilds');
    const kernel = '5.14.0-570.700.1.el9_6.x86_64';
    await world.addRelease(
      buildRelease({
        version: '4.21.80',
        channels: ['stable-4.21'],
        arches: [{ arch: 'amd64', rhcosVersion: '9.6.20261001-0', kernel, rtKernel: `${kernel}+rt`, faults: { dtkKernel: '5.14.0-570.699.1.el9_6.x86_64' } }],
      }),
    );
    await pipeline.tick();
    await pipeline.drain();
    const mismatch = await received('mismatch');
    expect(mismatch.map((n) => (n.type === 'release.finding' ? [n.release, n.finding.code] : []))).toEqual([['4.21.80', 'dtk-kernel-mismatch']]);
    expect(await received('prerelease')).toEqual([]);
  });

  it('builds a kernel seen only in a release candidate at once, for the drivers that follow candidate channels', async () => {
    await received('gpuBuilds');
    await publish('4.21.90-rc.1', ['candidate-4.21']);
    const discovered = await received('prerelease');
    expect(discovered.map((n) => (n.type === 'kernel.discovered' ? n.kernel : ''))).toEqual([KERNEL]);
    expect(buildsOf('gpu').map((b) => b.env['KERNEL']).sort()).toEqual([KERNEL, `${KERNEL}+rt`]);
    expect(buildsOf('nic')).toEqual([]);
    expect((await received('gpuBuilds')).map((n) => (n.type === 'build.succeeded' ? n.kernel : '')).sort()).toEqual([KERNEL, `${KERNEL}+rt`]);
    expect((await store.getKernel(KERNEL))?.prerelease).toBe(true);
  });

  it('announces the promotion once when a GA release ships it, rebuilds nothing, and builds the stable-only driver', async () => {
    await publish('4.21.90', ['candidate-4.21', 'stable-4.21']);
    expect((await received('promoted')).map((n) => (n.type === 'kernel.promoted' ? [n.kernel, n.release] : []))).toEqual([[KERNEL, '4.21.90']]);
    expect(buildsOf('gpu')).toHaveLength(2);
    expect(buildsOf('nic').map((b) => b.env['KERNEL'])).toEqual([KERNEL]);
    expect(await received('gpuBuilds')).toEqual([]);
    expect(await received('prerelease')).toEqual([]);
    await publish('4.21.91', ['stable-4.21']);
    expect(await received('promoted')).toEqual([]);
  });

  it('backfills a driver added later for every recorded kernel it matches', async () => {
    await store.putDriver(driver('fpga', ['stable-4.21']), now());
    const builds = new SqsQueue<BuildMessage>(pipeline.sqs, emulators.queues.builds.url);
    const plan = { dtkRepository: 'registry.example/dtk', buildArches: ['x86_64', 'aarch64'] as const, projects: LOCAL_PROJECTS };
    const result = await backfill({ store, builds, plan }, { driver: 'fpga', rebuild: false });
    await pipeline.drain();
    const stableKernels = (await store.listKernels()).filter((k) => k.channels.includes('stable-4.21') && k.arch === 'x86_64');
    expect(result.queued).toBe(stableKernels.length);
    expect(runner.builds.filter((b) => b.env['DRIVER_NAME'] === 'fpga')).toHaveLength(stableKernels.length);
    const again = await backfill({ store, builds, plan }, { driver: 'fpga', rebuild: false });
    expect(again).toMatchObject({ queued: 0, requeued: 0 });
  });

  it('rebuilds one kernel for one driver on request, once, pushing over the tag', async () => {
    const builds = new SqsQueue<BuildMessage>(pipeline.sqs, emulators.queues.builds.url);
    const plan = { dtkRepository: 'registry.example/dtk', buildArches: ['x86_64', 'aarch64'] as const, projects: LOCAL_PROJECTS };
    const before = buildsOf('gpu').length;
    const result = await backfill({ store, builds, plan }, { kernel: KERNEL, driver: 'gpu', rebuild: true });
    await pipeline.drain();
    expect(result).toMatchObject({ queued: 0, requeued: 2 });
    const rebuilt = buildsOf('gpu').slice(before);
    expect(rebuilt.map((b) => `${b.env['KERNEL']} REBUILD=${b.env['REBUILD']}`).sort()).toEqual([`${KERNEL} REBUILD=true`, `${KERNEL}+rt REBUILD=true`]);
  });
});
