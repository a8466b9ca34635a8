/**
 * Idempotency and faults of the pipeline, against the emulators: duplicate
 * deliveries, overlapping polls, a step that dies half way, a poison message,
 * and CodeBuild refusing builds at its concurrency limit. Every test asserts
 * exact counts of kernels recorded, builds started and messages sent.
 */
import { SNSClient } from '@aws-sdk/client-sns';
import { ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulators } from '#local/emulators.ts';
import { REGION } from '#local/emulators.ts';
import type { RunningBuildRunner } from '#local/build-runner.ts';
import type { LocalPipeline } from '#local/pipeline.ts';
import { SnsNotifier } from '#aws/sns-notifier.ts';
import { SqsQueue } from '#aws/sqs-queue.ts';
import { codeBuildStateChangeSchema, type BuildMessage, type KernelMessage, type ReleaseMessage } from '#pipeline/messages.ts';
import type { Notification } from '#pipeline/notifications.ts';
import { recordKernel } from '#pipeline/record-kernel.ts';
import { pollReleases, RECLAIM_AFTER_MS } from '#pipeline/poll-releases.ts';
import { trackBuild } from '#pipeline/track-builds.ts';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { createSelfSignedCertificate } from '#core/signing/certificate.ts';
import { PemSigner } from '#core/signing/signer.ts';
import { GraphClient } from '#core/graph.ts';
import type { DynamoPipelineStore } from '#aws/dynamo-store.ts';
import type { PipelineStore } from '#pipeline/ports.ts';
import { buildRelease } from '#world/eras.ts';
import type { RunningWorld } from '#world/index.ts';
import { startPipelineHarness, type PipelineHarness } from '../support/pipeline-harness.ts';

let h: PipelineHarness;
let world: RunningWorld;
let emulators: Emulators;
let runner: RunningBuildRunner;
let pipeline: LocalPipeline;
let store: DynamoPipelineStore;
let sqs: SQSClient;
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

beforeAll(async () => {
  h = await startPipelineHarness({
    channels: ['eus-4.21'],
    arches: ['amd64'],
    emulators: { visibilityTimeoutSeconds: 1 },
    subscribers: { subscriber: null },
  });
  ({ world, emulators, runner, pipeline, store } = h);
  sqs = pipeline.sqs;
});
afterAll(async () => h?.stop());

const notifications = (): Promise<Notification[]> => h.received('subscriber');

let patch = 0;
/** A new z-stream with a new x86_64 kernel appears in the graph. */
async function newRelease(): Promise<{ version: string; kernel: string }> {
  patch++;
  const version = `4.21.${100 + patch}`;
  const kernel = `5.14.0-570.${900 + patch}.1.el9_6.x86_64`;
  await world.addRelease(
    buildRelease({ version, channels: ['eus-4.21'], arches: [{ arch: 'amd64', rhcosVersion: `9.6.2026090${patch}-0`, kernel, rtKernel: `${kernel}+rt` }] }),
  );
  return { version, kernel };
}

// Every test starts from a settled pipeline that has polled the whole graph: a test that adds a
// release without polling it (record-kernel's) must not leave it to the next, whichever that is.
beforeEach(async () => {
  await pipeline.tick();
  await pipeline.drain();
  await notifications();
});

describe('idempotency', () => {
  it('two polls at once queue a new release once, and build it once', async () => {
    const { kernel } = await newRelease();
    const builds = runner.builds.length;
    await Promise.all([pipeline.tick(), pipeline.tick()]);
    const stats = await pipeline.drain();
    expect(stats.releaseMessages).toBe(1);
    expect(stats.kernelMessages).toBe(1);
    expect(runner.builds.length - builds).toBe(1);
    expect(runner.builds.at(-1)?.env['KERNEL']).toBe(kernel);
    const sent = await notifications();
    expect(sent.filter((n) => n.type === 'kernel.discovered')).toHaveLength(1);
    expect(await store.getKernel(kernel)).toMatchObject({ kernel, state: 'processed', releases: [`4.21.${100 + patch}`] });
  });

  it('the same release and kernel messages delivered twice start nothing twice', async () => {
    const { version, kernel } = await newRelease();
    await pipeline.tick();
    await pipeline.drain();
    await notifications();
    const builds = runner.builds.length;
    const release = await store.getRelease((world.seeded.at(-1) ?? { payload: '' }).payload, 'amd64');
    expect(release?.state).toBe('resolved');
    const stream = release!.releases![0]!.streams[0]!;
    const kernelMessage: KernelMessage = { arch: 'x86_64', stream, release: version, payload: release!.payload, channels: ['eus-4.21'] };
    for (let i = 0; i < 2; i++) {
      await sqs.send(new SendMessageCommand({ QueueUrl: pipeline.queues.releases.url, MessageBody: JSON.stringify({ version, payload: release!.payload, graphArch: 'amd64', channels: ['eus-4.21'] }) }));
      await sqs.send(new SendMessageCommand({ QueueUrl: pipeline.queues.kernels.url, MessageBody: JSON.stringify(kernelMessage) }));
    }
    const stats = await pipeline.drain();
    expect(stats.releaseMessages).toBe(2);
    expect(stats.kernelMessages).toBe(2);
    expect(runner.builds.length).toBe(builds);
    expect(await notifications()).toEqual([]);
    expect((await store.getKernel(kernel))?.releases).toEqual([version]);
  });
});

describe('faults', () => {
  it('a record-kernel step that dies after its first write is finished by the retry, once', async () => {
    const { kernel } = await newRelease();
    const builds: BuildMessage[] = [];
    const sns = new SNSClient({ endpoint: emulators.endpoints.sns, region: REGION, credentials });
    const deps = {
      store,
      notifier: new SnsNotifier(sns, pipeline.topic.arn),
      builds: { send: async (m: readonly BuildMessage[]) => void builds.push(...m) },
      plan: { dtkRepository: 'registry.example/dtk', buildArches: ['x86_64', 'aarch64'] as const, projects: h.pipeline.plan.projects },
    };
    const dying: PipelineStore = Object.assign(Object.create(store) as PipelineStore, {
      createBuild: async () => {
        throw new Error('the Lambda timed out');
      },
    });
    const message: KernelMessage = {
      arch: 'x86_64',
      stream: { stream: 'rhel-coreos', streamClass: null, kernel, rtKernel: null, kernel64k: null, rhelVersion: '9.6', rhcosVersion: null, dtkImage: null },
      release: `4.21.${100 + patch}`,
      payload: `${world.registryHost}/x@sha256:${'0'.repeat(64)}`,
      channels: ['eus-4.21'],
    };
    await expect(recordKernel({ ...deps, store: dying }, message)).rejects.toThrow('timed out');
    expect((await store.getKernel(kernel))?.state).toBe('new');
    const retry = await recordKernel(deps, message);
    expect(retry).toEqual({ outcome: 'completed-after-retry', buildsQueued: 1 });
    const again = await recordKernel(deps, message);
    expect(again).toEqual({ outcome: 'already-recorded', buildsQueued: 0 });
    expect(builds).toHaveLength(1);
    expect((await notifications()).filter((n) => n.type === 'kernel.discovered')).toHaveLength(1);
    sns.destroy();
  });

  it('a poison message ends in the dead-letter queue and nothing else is lost', async () => {
    const { kernel } = await newRelease();
    await sqs.send(new SendMessageCommand({ QueueUrl: pipeline.queues.kernels.url, MessageBody: '{"arch":"x86_64","stream":"not a stream"}' }));
    const builds = runner.builds.length;
    await pipeline.tick();
    const stats = await pipeline.drain();
    expect(stats.failedRecords).toBe(h.pipeline.cloud.queue('KernelsQueue/Queue').maxReceiveCount); // the template's maxReceiveCount receives, then the DLQ
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: pipeline.queues.kernels.dlqUrl, MaxNumberOfMessages: 10 }));
    expect(Messages.map((m) => m.Body)).toEqual(['{"arch":"x86_64","stream":"not a stream"}']);
    expect(runner.builds.length - builds).toBe(1);
    expect((await store.getKernel(kernel))?.state).toBe('processed');
  });

  it('retries builds CodeBuild refuses at its concurrency limit, without losing or doubling them', async () => {
    const { kernel } = await newRelease();
    runner.throttleNext(2);
    const throttled = runner.stats.throttled;
    const builds = runner.builds.length;
    await pipeline.tick();
    await pipeline.drain();
    expect(runner.stats.throttled - throttled).toBe(2);
    expect(runner.builds.length - builds).toBe(1);
    expect(runner.builds.at(-1)?.env['KERNEL']).toBe(kernel);
    const build = (await store.buildsOfKernel(kernel.replace(/\.x86_64$/, '')))[0];
    expect(build).toMatchObject({ state: 'succeeded', attempts: 1 });
  });

  it.each([
    ['KERNEL', '5.14.0-570.1.1.el9_6.x86_64;rm -rf /'],
    ['KERNEL', '5.14.0-570.1.1.el9_6.x86_64$(reboot)'],
    ['TAG_TEMPLATE', '${KERNEL_FULL_VERSION}`id`'],
    ['TARGET_IMAGE', 'quay.io/../etc'],
    ['DRIVER_NAME', 'gpu\nREBUILD=true'],
  ])('never starts a build whose %s is %j, and records why', async (variable, value) => {
    const now = new Date().toISOString();
    const buildKey = `5.14.0-570.1.1.el9_6|driver:evil-${Math.random().toString(36).slice(2, 8)}@1|x86_64`;
    const env = {
      DRIVER_NAME: 'evil',
      MOD_NAME: 'evil',
      DRIVER_SOURCE: 'inline',
      DRIVER_CONTEXT_DIR: 'images/driver-example',
      KERNEL: '5.14.0-570.1.1.el9_6.x86_64',
      ARCH: 'x86_64',
      DTK_IMAGE: 'quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:' + 'a'.repeat(64),
      TARGET_IMAGE: 'quay.io/partner/evil',
      TAG_TEMPLATE: '${KERNEL_FULL_VERSION}',
      BUILD_ARGS_JSON: '{}',
      REBUILD: 'false',
      [variable]: value,
    };
    await store.createBuild({
      buildKey, kind: 'driver', target: 'driver:evil', variant: '1', kernelVersion: '5.14.0-570.1.1.el9_6', kernel: '5.14.0-570.1.1.el9_6.x86_64',
      arch: 'x86_64', project: 'driver-x86_64', image: 'quay.io/partner/evil:x', env, state: 'queued', attempts: 0, createdAt: now, updatedAt: now,
    });
    const before = runner.builds.length;
    await sqs.send(new SendMessageCommand({ QueueUrl: pipeline.queues.builds.url, MessageBody: JSON.stringify({ buildKey }) }));
    await pipeline.drain();
    expect(runner.builds.length).toBe(before);
    const build = await store.getBuild(buildKey);
    expect(build?.state).toBe('failed');
    expect(build?.detail).toContain(variable);
  });

  it('reports an invalid build as failed to subscribers', async () => {
    const now = new Date().toISOString();
    const buildKey = '5.14.0-570.2.1.el9_6|dtk|x86_64';
    await store.createBuild({
      buildKey, kind: 'dtk', target: 'dtk', kernelVersion: '5.14.0-570.2.1.el9_6', kernel: '5.14.0-570.2.1.el9_6.x86_64', arch: 'x86_64', project: 'dtk-x86_64',
      image: 'registry.example/dtk:5.14.0-570.2.1.el9_6.x86_64', env: { KERNEL: '5.14.0-570.2.1.el9_6.x86_64', ARCH: 'x86_64', RHEL_VERSION: '9.6', TARGET_IMAGE: 'registry.example/dtk', REBUILD: 'false' },
      state: 'queued', attempts: 0, createdAt: now, updatedAt: now,
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: pipeline.queues.builds.url, MessageBody: JSON.stringify({ buildKey }) }));
    await pipeline.drain();
    const failed = (await notifications()).filter((n) => n.type === 'build.failed');
    expect(failed.map((n) => (n.type === 'build.failed' ? [n.buildKey, n.buildId] : []))).toEqual([[buildKey, null]]);
    expect((await store.getBuild(buildKey))?.detail).toMatch(/UBI_IMAGE/);
  });

  it('queues a release again when the poll that claimed it died before sending it, though the graph has not changed', async () => {
    const { kernel } = await newRelease();
    const graph = new GraphClient({ url: world.graphUrl });
    const dying = { send: async () => { throw new Error('the Lambda timed out'); } };
    await expect(pollReleases({ graph, store, releases: dying }, { channels: ['eus-4.21'], arches: ['amd64'] })).rejects.toThrow('timed out');
    const later = () => new Date(Date.now() + RECLAIM_AFTER_MS + 60_000);
    // The graph state was not saved: the next poll reads the graph again and finds the claim fresh...
    await pipeline.tick();
    await pipeline.drain();
    expect(await store.getKernel(kernel)).toBeUndefined();
    // ...so it is the sweep of stale claims that queues it, once the claim is old enough.
    const releases = new SqsQueue<ReleaseMessage>(sqs, pipeline.queues.releases.url);
    const result = await pollReleases({ graph, store, releases, now: later }, { channels: ['eus-4.21'], arches: ['amd64'] });
    expect(result).toMatchObject({ releasesQueued: 0, releasesRequeued: 1 });
    await pipeline.drain();
    expect((await store.getKernel(kernel))?.state).toBe('processed');
    const again = await pollReleases({ graph, store, releases, now: later }, { channels: ['eus-4.21'], arches: ['amd64'] });
    expect(again).toMatchObject({ releasesQueued: 0, releasesRequeued: 0 });
  });

  it('queues a claimed release again at once with a reclaim age of 0 (RELEASE_RECLAIM_MINUTES, the local run\'s: a new run comes after every timeout)', async () => {
    const { kernel } = await newRelease();
    const graph = new GraphClient({ url: world.graphUrl });
    const dying = { send: async () => { throw new Error('the Lambda timed out'); } };
    await expect(pollReleases({ graph, store, releases: dying }, { channels: ['eus-4.21'], arches: ['amd64'] })).rejects.toThrow('timed out');
    const releases = new SqsQueue<ReleaseMessage>(sqs, pipeline.queues.releases.url);
    expect(await pollReleases({ graph, store, releases }, { channels: ['eus-4.21'], arches: ['amd64'], reclaimAfterMs: 0 })).toMatchObject({ releasesQueued: 0, releasesRequeued: 1 });
    await pipeline.drain();
    expect((await store.getKernel(kernel))?.state).toBe('processed');
  });
});

describe('build tracking', () => {
  const plan = () => ({ dtkRepository: 'registry.example/dtk', buildArches: ['x86_64', 'aarch64'] as const, projects: h.pipeline.plan.projects });
  const event = (buildKey: string, buildId: string, status: 'SUCCEEDED' | 'FAILED', attempt: number) =>
    codeBuildStateChangeSchema.parse({
      source: 'aws.codebuild',
      'detail-type': 'CodeBuild Build State Change',
      detail: {
        'build-status': status,
        'build-id': buildId,
        'project-name': 'dtk',
        'additional-information': {
          environment: { 'environment-variables': [{ name: 'BUILD_KEY', value: buildKey }, { name: 'BUILD_ATTEMPT', value: String(attempt) }] },
          'exported-environment-variables': [{ name: 'BUILD_RESULT', value: 'pushed' }, { name: 'IMAGE_DIGEST', value: `sha256:${'c'.repeat(64)}` }],
        },
      },
    });

  async function startedPair(version: string): Promise<[string, string]> {
    const now = new Date().toISOString();
    const keys: [string, string] = [`${version}|dtk|x86_64`, `${version}|dtk|aarch64`];
    for (const [i, arch] of (['x86_64', 'aarch64'] as const).entries()) {
      await store.createBuild({
        buildKey: keys[i]!, kind: 'dtk', target: 'dtk', kernelVersion: version, kernel: `${version}.${arch}`, arch, project: `dtk-${arch}`,
        image: `registry.example/dtk:${version}.${arch}`, env: {}, joinArches: ['x86_64', 'aarch64'], state: 'started', attempts: 1, buildId: `b-${arch}`, createdAt: now, updatedAt: now,
      });
    }
    return keys;
  }

  it('finishes the follow-ups when the same event is delivered again after a step died half way', async () => {
    const [x86, arm] = await startedPair('5.14.0-570.3.1.el9_6');
    const sent: BuildMessage[] = [];
    const sns = new SNSClient({ endpoint: emulators.endpoints.sns, region: REGION, credentials });
    const deps = { store, notifier: new SnsNotifier(sns, pipeline.topic.arn), builds: { send: async (m: readonly BuildMessage[]) => void sent.push(...m) }, plan: plan() };
    expect(await trackBuild(deps, event(x86, 'b-x86_64', 'SUCCEEDED', 1))).toEqual({ outcome: 'updated', joinQueued: false });
    const dying = { ...deps, builds: { send: async () => { throw new Error('the Lambda timed out'); } } };
    await expect(trackBuild(dying, event(arm, 'b-aarch64', 'SUCCEEDED', 1))).rejects.toThrow('timed out');
    expect(await trackBuild(deps, event(arm, 'b-aarch64', 'SUCCEEDED', 1))).toEqual({ outcome: 'updated', joinQueued: true });
    expect(sent.map((m) => m.buildKey)).toEqual(['5.14.0-570.3.1.el9_6|dtk|multi']);
    expect(await trackBuild(deps, event(arm, 'b-other', 'SUCCEEDED', 1))).toEqual({ outcome: 'ignored', joinQueued: false });
    sns.destroy();
  });

  it('records what a finished run signed: the module certificate and the image key of a run that pushed; a rerun without the key clears it', async () => {
    const [x86, arm] = await startedPair('5.14.0-570.5.1.el9_6');
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const cert = (await createSelfSignedCertificate(new PemSigner(pem.export({ format: 'pem', type: 'pkcs8' }).toString(), 'test key'), { subject: 'CN=Acme' })).der;
    await store.updateBuild(x86, ['started'], { env: { MODULE_SIGNING_CERT: cert.toString('base64') } }, new Date().toISOString());
    const key = 'arn:aws:kms:us-east-1:123456789012:key/5678abcd-12ab-34cd-56ef-1234567890ab';
    const withKey = (e: ReturnType<typeof event>) => {
      e.detail['additional-information']?.environment?.['environment-variables']?.push({ name: 'IMAGE_SIGNING_KMS_KEY', value: key });
      return e;
    };
    const sns = new SNSClient({ endpoint: emulators.endpoints.sns, region: REGION, credentials });
    const deps = { store, notifier: new SnsNotifier(sns, pipeline.topic.arn), builds: { send: async () => {} }, plan: plan() };
    expect((await trackBuild(deps, withKey(event(x86, 'b-x86_64', 'SUCCEEDED', 1)))).outcome).toBe('updated');
    expect((await store.getBuild(x86))?.signed).toEqual({ modulesBy: new X509Certificate(cert).fingerprint256, imageKey: key });
    // A failed run claims nothing.
    expect((await trackBuild(deps, withKey(event(arm, 'b-aarch64', 'FAILED', 1)))).outcome).toBe('updated');
    expect((await store.getBuild(arm))?.signed).toEqual({});
    // A rebuild whose project has no image key any more: the record no longer says the image is signed.
    await store.updateBuild(x86, ['succeeded'], { state: 'in-progress', buildId: 'b-x86-2', attempts: 2 }, new Date().toISOString());
    expect((await trackBuild(deps, event(x86, 'b-x86-2', 'SUCCEEDED', 2))).outcome).toBe('updated');
    expect((await store.getBuild(x86))?.signed).toEqual({ modulesBy: new X509Certificate(cert).fingerprint256 });
    sns.destroy();
  });

  it('ignores a late event of an earlier run of a rebuilt build', async () => {
    const [x86] = await startedPair('5.14.0-570.4.1.el9_6');
    const sns = new SNSClient({ endpoint: emulators.endpoints.sns, region: REGION, credentials });
    const deps = { store, notifier: new SnsNotifier(sns, pipeline.topic.arn), builds: { send: async () => {} }, plan: plan() };
    await store.updateBuild(x86, ['started'], { state: 'in-progress', buildId: 'b-run-2', attempts: 2 }, new Date().toISOString());
    expect(await trackBuild(deps, event(x86, 'b-x86_64', 'FAILED', 1))).toEqual({ outcome: 'ignored', joinQueued: false });
    expect((await store.getBuild(x86))?.state).toBe('in-progress');
    expect((await trackBuild(deps, event(x86, 'b-run-2', 'SUCCEEDED', 2))).outcome).toBe('updated');
    expect((await store.getBuild(x86))?.state).toBe('succeeded');
    sns.destroy();
  });
});
