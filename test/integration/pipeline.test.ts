/**
 * The whole pipeline, handlers as deployed, against emulators on loopback:
 * tick → releases → kernels → builds started → build state events → join →
 * SNS messages on a subscribed queue. Counts are exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DrainStats } from '#local/pipeline.ts';
import type { Notification } from '#pipeline/notifications.ts';
import { startPipelineHarness, type PipelineHarness } from '../support/pipeline-harness.ts';

let h: PipelineHarness;
/** The first run over the world, which every test here reads: made once, so each test also runs alone (`-t NAME`). */
let first: { stats: DrainStats; notes: Notification[] };
beforeAll(async () => {
  h = await startPipelineHarness({ channels: ['stable-4.18', 'stable-4.19'], arches: ['amd64', 'arm64'], subscribers: { subscriber: null } });
  await h.pipeline.tick();
  const stats = await h.pipeline.drain();
  first = { stats, notes: await h.received('subscriber') };
});
afterAll(async () => h?.stop());

describe('the local pipeline', () => {
  it('finds new releases, records each kernel once, notifies, builds the DTK per arch, then joins them', async () => {
    const { stats, notes } = first;
    expect(stats.releaseMessages).toBe(3); // 4.18.14 amd64, 4.19.14 amd64 + arm64
    expect(stats.kernelMessages).toBe(3);

    // Projects by their construct path in the stack: the template's projects are what the builds run in.
    const project = (name: string) => h.pipeline.cloud.projectPaths.get(name);
    const started = h.runner.builds.map((b) => `${project(b.project)} ${b.env['KERNEL'] ?? b.env['TARGET_TAG']}`).sort();
    expect(started).toEqual([
      'Builds/DtkAarch64 5.14.0-570.49.1.el9_6.aarch64',
      'Builds/DtkX86_64 5.14.0-427.68.1.el9_4.x86_64',
      'Builds/DtkX86_64 5.14.0-570.49.1.el9_6.x86_64',
      'Builds/Join 5.14.0-570.49.1.el9_6',
    ]);
    const join = h.runner.builds.find((b) => project(b.project) === 'Builds/Join');
    expect(join?.env['ARCH_TAGS']).toBe('x86_64=5.14.0-570.49.1.el9_6.x86_64,aarch64=5.14.0-570.49.1.el9_6.aarch64');

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
    const buildsBefore = h.runner.builds.length;
    await h.pipeline.tick();
    const stats = await h.pipeline.drain();
    expect(stats).toMatchObject({ releaseMessages: 0, kernelMessages: 0, buildMessages: 0 });
    expect(h.runner.builds.length).toBe(buildsBefore);
    expect(await h.received('subscriber')).toEqual([]);
  });
});
