/**
 * The whole pipeline, handlers as deployed, against emulators on loopback:
 * tick → releases → kernels → builds started → build state events → join →
 * SNS messages on a subscribed queue. Counts are exact.
 */
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBuildRunner, type CodeBuildStateChangeEvent, type RunningBuildRunner } from '#local/build-runner.ts';
import { startEmulators, type Emulators } from '#local/emulators.ts';
import { startLocalPipeline, type LocalPipeline } from '#local/pipeline.ts';
import { notificationSchema, type Notification } from '#pipeline/notifications.ts';
import { fixtureWorld } from '#world/fixtures.ts';
import { startWorld, type RunningWorld } from '#world/index.ts';
import { readFile } from 'node:fs/promises';

let world: RunningWorld;
let emulators: Emulators;
let runner: RunningBuildRunner;
let pipeline: LocalPipeline;
const events: CodeBuildStateChangeEvent[] = [];
let notificationsQueue: string;

beforeAll(async () => {
  world = await startWorld(fixtureWorld(), { etag: true });
  emulators = await startEmulators();
  emulators.fauxqs.createQueue('subscriber');
  emulators.fauxqs.subscribe({ topic: 'notifications', queue: 'subscriber', attributes: { RawMessageDelivery: 'true' } });
  notificationsQueue = emulators.queueUrl('subscriber');
  runner = await startBuildRunner({ onEvent: (e) => events.push(e) });
  pipeline = await startLocalPipeline({
    emulators,
    runner,
    events,
    graphUrl: world.graphUrl,
    pullSecret: await readFile(world.pullSecretPath, 'utf8'),
    channels: ['stable-4.18', 'stable-4.19'],
    arches: ['amd64', 'arm64'],
    buildArches: ['x86_64', 'aarch64'],
    dtkRepository: `${world.registryHost}/dtk/driver-toolkit`,
  });
});
afterAll(async () => {
  await runner?.stop();
  await emulators?.stop();
  await world?.stop();
});

async function receiveAll(sqs: SQSClient, url: string): Promise<Notification[]> {
  const out: Notification[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (Messages.length === 0) return out;
    out.push(...Messages.map((m) => notificationSchema.parse(JSON.parse(m.Body ?? ''))));
  }
}

describe('the local pipeline', () => {
  it('finds new releases, records each kernel once, notifies, builds the DTK per arch, then joins them', async () => {
    await pipeline.tick();
    const stats = await pipeline.drain();
    expect(stats.releaseMessages).toBe(3); // 4.18.14 amd64, 4.19.14 amd64 + arm64
    expect(stats.kernelMessages).toBe(3);

    const started = runner.builds.map((b) => `${b.project} ${b.env['KERNEL'] ?? b.env['TARGET_TAG']}`).sort();
    expect(started).toEqual([
      'dtk-aarch64 5.14.0-570.49.1.el9_6.aarch64',
      'dtk-x86_64 5.14.0-427.68.1.el9_4.x86_64',
      'dtk-x86_64 5.14.0-570.49.1.el9_6.x86_64',
      'join 5.14.0-570.49.1.el9_6',
    ]);
    const join = runner.builds.find((b) => b.project === 'join');
    expect(join?.env['ARCH_TAGS']).toBe('x86_64=5.14.0-570.49.1.el9_6.x86_64,aarch64=5.14.0-570.49.1.el9_6.aarch64');

    const notes = await receiveAll(pipeline.sqs, notificationsQueue);
    const byType = (t: string) => notes.filter((n) => n.type === t);
    expect(byType('kernel.discovered').map((n) => (n.type === 'kernel.discovered' ? n.kernel : '')).sort()).toEqual([
      '5.14.0-427.68.1.el9_4.x86_64',
      '5.14.0-570.49.1.el9_6.aarch64',
      '5.14.0-570.49.1.el9_6.x86_64',
    ]);
    expect(byType('build.succeeded')).toHaveLength(4);
    expect(byType('build.failed')).toHaveLength(0);
  });

  it('does nothing on a second tick over the unchanged world', async () => {
    const buildsBefore = runner.builds.length;
    await pipeline.tick();
    const stats = await pipeline.drain();
    expect(stats).toMatchObject({ releaseMessages: 0, kernelMessages: 0, buildMessages: 0 });
    expect(runner.builds.length).toBe(buildsBefore);
    expect(await receiveAll(pipeline.sqs, notificationsQueue)).toEqual([]);
  });
});
