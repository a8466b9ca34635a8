/**
 * Partner prebuild, end to end against the emulators: drivers following
 * candidate channels are built for a pre-release kernel at once; when a GA
 * release ships it, `kernel.promoted` is published once and nothing is rebuilt,
 * while drivers that follow only stable channels get built then. Subscribers
 * with SNS filter policies receive exactly the messages they asked for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsQueue } from '#aws/sqs-queue.ts';
import { backfill } from '#pipeline/backfill.ts';
import { driverSchema } from '#pipeline/drivers.ts';
import type { BuildMessage } from '#pipeline/messages.ts';
import type { Notification } from '#pipeline/notifications.ts';
import { buildRelease } from '#world/eras.ts';
import { startPipelineHarness, type PipelineHarness } from '../support/pipeline-harness.ts';

let h: PipelineHarness;
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
  h = await startPipelineHarness({ channels: ['candidate-4.21', 'stable-4.21'], arches: ['amd64'], emulators: { visibilityTimeoutSeconds: 1 }, subscribers: subscriptions });
  await h.store.putDriver(driver('gpu', ['candidate-*', 'stable-*'], { filters: { rt: true } }), now());
  await h.store.putDriver(driver('nic', ['stable-*']), now());
  await h.pipeline.tick();
  await h.pipeline.drain();
});
afterAll(async () => h?.stop());

const received = (queue: keyof typeof subscriptions) => h.received(queue);
const buildsOf = (name: string) => h.runner.builds.filter((b) => b.env['DRIVER_NAME'] === name && b.env['KERNEL']?.startsWith('5.14.0-570.777.1'));

async function publish(version: string, channels: string[]): Promise<void> {
  await h.world.addRelease(buildRelease({ version, channels, arches: [{ arch: 'amd64', rhcosVersion: '9.6.20261101-0', kernel: KERNEL, rtKernel: `${KERNEL}+rt` }] }));
  await h.pipeline.tick();
  await h.pipeline.drain();
}

/** What the release candidate made happen, as it was right after it. */
interface CandidateOutcome {
  readonly discovered: Notification[];
  readonly gpuBuilds: Notification[];
  readonly gpuKernels: string[];
  readonly nicBuilds: number;
  readonly prerelease: boolean | undefined;
}

/**
 * KERNEL first seen in a release candidate (4.21.90-rc.1), which later tests build on:
 * published once, by whichever test asks first, so each test also runs alone (`-t NAME`)
 * and in any order. Resolves with what it made happen, read right after it.
 */
let candidate: Promise<CandidateOutcome> | undefined;
function candidatePublished(): Promise<CandidateOutcome> {
  candidate ??= (async () => {
    await received('gpuBuilds');
    await received('prerelease');
    await publish('4.21.90-rc.1', ['candidate-4.21']);
    const outcome = {
      discovered: await received('prerelease'),
      gpuBuilds: await received('gpuBuilds'),
      gpuKernels: buildsOf('gpu').map((b) => b.env['KERNEL'] ?? ''),
      nicBuilds: buildsOf('nic').length,
      prerelease: (await h.store.getKernel(KERNEL))?.prerelease,
    };
    await received('promoted');
    return outcome;
  })();
  return candidate;
}

describe('partner prebuild', () => {
  it('reports a DTK built for another kernel to the subscriber that filters on that finding, and only that', async () => {
    await received('prerelease');
    await received('gpuBuilds');
    const kernel = '5.14.0-570.700.1.el9_6.x86_64';
    await h.world.addRelease(
      buildRelease({
        version: '4.21.80',
        channels: ['stable-4.21'],
        arches: [{ arch: 'amd64', rhcosVersion: '9.6.20261001-0', kernel, rtKernel: `${kernel}+rt`, faults: { dtkKernel: '5.14.0-570.699.1.el9_6.x86_64' } }],
      }),
    );
    await h.pipeline.tick();
    await h.pipeline.drain();
    const mismatch = await received('mismatch');
    expect(mismatch.map((n) => (n.type === 'release.finding' ? [n.release, n.finding.code] : []))).toEqual([['4.21.80', 'dtk-kernel-mismatch']]);
    expect(await received('prerelease')).toEqual([]);
  });

  it('builds a kernel seen only in a release candidate at once, for the drivers that follow candidate channels', async () => {
    const { discovered, gpuBuilds, gpuKernels, nicBuilds, prerelease } = await candidatePublished();
    expect(discovered.map((n) => (n.type === 'kernel.discovered' ? n.kernel : ''))).toEqual([KERNEL]);
    expect(gpuKernels.sort()).toEqual([KERNEL, `${KERNEL}+rt`]);
    expect(nicBuilds).toBe(0);
    expect(gpuBuilds.map((n) => (n.type === 'build.succeeded' ? n.kernel : '')).sort()).toEqual([KERNEL, `${KERNEL}+rt`]);
    expect(prerelease).toBe(true);
  });

  it('announces the promotion once when a GA release ships it, rebuilds nothing, and builds the stable-only driver', async () => {
    await candidatePublished();
    await received('gpuBuilds');
    await received('prerelease');
    const gpuBefore = buildsOf('gpu').length;
    await publish('4.21.90', ['candidate-4.21', 'stable-4.21']);
    expect((await received('promoted')).map((n) => (n.type === 'kernel.promoted' ? [n.kernel, n.release] : []))).toEqual([[KERNEL, '4.21.90']]);
    expect(buildsOf('gpu')).toHaveLength(gpuBefore);
    expect(buildsOf('nic').map((b) => b.env['KERNEL'])).toEqual([KERNEL]);
    expect(await received('gpuBuilds')).toEqual([]);
    expect(await received('prerelease')).toEqual([]);
    await publish('4.21.91', ['stable-4.21']);
    expect(await received('promoted')).toEqual([]);
  });

  it('announces the promotion when the same payload moves from candidate to stable, reading no image again', async () => {
    const kernel = '5.14.0-570.778.1.el9_6.x86_64';
    await h.world.addRelease(buildRelease({ version: '4.21.95', channels: ['candidate-4.21'], arches: [{ arch: 'amd64', rhcosVersion: '9.6.20261102-0', kernel }] }));
    await h.pipeline.tick();
    await h.pipeline.drain();
    const nicBefore = h.runner.builds.filter((b) => b.env['DRIVER_NAME'] === 'nic' && b.env['KERNEL'] === kernel);
    expect(nicBefore).toEqual([]);
    expect((await h.store.getKernel(kernel))?.prerelease).toBe(true);
    await received('promoted');
    await received('gpuBuilds');

    h.world.graph.setChannels('4.21.95', ['candidate-4.21', 'fast-4.21', 'stable-4.21']);
    h.world.proxy.resetStats();
    await h.pipeline.tick();
    await h.pipeline.drain();
    expect((await received('promoted')).map((n) => (n.type === 'kernel.promoted' ? [n.kernel, n.release] : []))).toEqual([[kernel, '4.21.95']]);
    expect((await h.store.getKernel(kernel))).toMatchObject({ prerelease: false, channels: ['candidate-4.21', 'fast-4.21', 'stable-4.21'] });
    expect(h.runner.builds.filter((b) => b.env['DRIVER_NAME'] === 'nic' && b.env['KERNEL'] === kernel)).toHaveLength(1);
    expect(await received('gpuBuilds')).toEqual([]);
    expect(h.world.proxy.stats.byClass.manifest.requests + h.world.proxy.stats.byClass.blob.requests).toBe(0);
  });

  it('backfills a driver added later for every recorded kernel it matches', async () => {
    await h.store.putDriver(driver('fpga', ['stable-4.21']), now());
    const builds = new SqsQueue<BuildMessage>(h.pipeline.sqs, h.pipeline.queues.builds.url);
    const plan = { dtkRepository: 'registry.example/dtk', buildArches: ['x86_64', 'aarch64'] as const, projects: h.pipeline.plan.projects };
    const result = await backfill({ store: h.store, builds, plan }, { driver: 'fpga', rebuild: false });
    await h.pipeline.drain();
    const stableKernels = (await h.store.listKernels()).filter((k) => k.channels.includes('stable-4.21') && k.arch === 'x86_64');
    expect(result.queued).toBe(stableKernels.length);
    expect(h.runner.builds.filter((b) => b.env['DRIVER_NAME'] === 'fpga')).toHaveLength(stableKernels.length);
    const again = await backfill({ store: h.store, builds, plan }, { driver: 'fpga', rebuild: false });
    expect(again).toMatchObject({ queued: 0, requeued: 0 });
  });

  it('rebuilds one kernel for one driver on request, once, pushing over the tag', async () => {
    await candidatePublished();
    const builds = new SqsQueue<BuildMessage>(h.pipeline.sqs, h.pipeline.queues.builds.url);
    const plan = { dtkRepository: 'registry.example/dtk', buildArches: ['x86_64', 'aarch64'] as const, projects: h.pipeline.plan.projects };
    const before = buildsOf('gpu').length;
    const result = await backfill({ store: h.store, builds, plan }, { kernel: KERNEL, driver: 'gpu', rebuild: true });
    await h.pipeline.drain();
    expect(result).toMatchObject({ queued: 0, requeued: 2 });
    const rebuilt = buildsOf('gpu').slice(before);
    expect(rebuilt.map((b) => `${b.env['KERNEL']} REBUILD=${b.env['REBUILD']}`).sort()).toEqual([`${KERNEL} REBUILD=true`, `${KERNEL}+rt REBUILD=true`]);
  });
});
