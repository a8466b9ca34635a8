/**
 * The pipeline on the kernel streams beyond RHEL 9, handlers as deployed, against the
 * emulators: 4.21's RHEL 10 Tech Preview stream (no release DTK) gets this project's
 * DTK build; OKD (stable-scos-4, read from the OKD graph) is recorded with its
 * CentOS Stream kernels, and their DTK builds are refused before they start, with the
 * reason, never run on a UBI base. Counts are exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipelineHarness, type PipelineHarness } from '../support/pipeline-harness.ts';

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipelineHarness({ channels: ['stable-4.21'], okdChannels: ['stable-scos-4'], arches: ['amd64'], subscribers: { subscriber: null } });
});
afterAll(async () => h?.stop());

describe('RHEL 10 Tech Preview and OKD in the pipeline', () => {
  it('records every stream, builds the RHEL 10 DTK, and refuses the OKD DTK builds saying why', async () => {
    await h.pipeline.tick();
    const stats = await h.pipeline.drain();
    expect(stats.releaseMessages).toBe(4); // 4.21.1, and three OKD releases from the OKD graph
    expect(stats.kernelMessages).toBe(5); // 4.21.1 ships two kernels

    const rhel10 = await h.store.getKernel('6.12.0-124.31.1.el10_1.x86_64');
    expect(rhel10).toMatchObject({ stream: 'rhel-coreos-10', dtkImages: [], rhelVersion: '10.1', state: 'processed' });
    const okd = await h.store.getKernel('6.12.0-224.el10.x86_64');
    expect(okd).toMatchObject({ stream: 'stream-coreos', rhelVersion: '10', releases: ['4.22.0-okd-scos.2'], channels: ['stable-scos-4'] });

    const dtkX86 = h.pipeline.plan.projects.dtk.x86_64; // the template's project name
    const started = h.runner.builds.map((b) => `${b.project} ${b.env['KERNEL']}`).sort();
    expect(started).toEqual([`${dtkX86} 5.14.0-570.88.1.el9_6.x86_64`, `${dtkX86} 6.12.0-124.31.1.el10_1.x86_64`]);
    expect(h.runner.builds.find((b) => b.env['KERNEL']?.startsWith('6.12.0-124'))?.env['UBI_IMAGE']).toMatch(/ubi10/);

    const okdDtks = (await h.store.listBuilds()).filter((b) => b.kind === 'dtk' && /\.el(9|10)\.x86_64$/.test(b.kernel));
    expect(okdDtks.map((b) => b.kernel).sort()).toEqual(['5.14.0-570.el9.x86_64', '5.14.0-604.el9.x86_64', '6.12.0-224.el10.x86_64']);
    for (const b of okdDtks) {
      expect(b.state).toBe('failed');
      expect(b.detail).toContain('CentOS Stream kernel (OKD)');
    }
    const notes = await h.received('subscriber');
    const failed = notes.filter((n) => n.type === 'build.failed').map((n) => (n.type === 'build.failed' ? n.kernel : ''));
    expect(failed.sort()).toEqual(['5.14.0-570.el9.x86_64', '5.14.0-604.el9.x86_64', '6.12.0-224.el10.x86_64']);
    const mismatch = notes.find((n) => n.type === 'release.finding' && n.finding.code === 'dtk-kernel-mismatch');
    expect(mismatch?.type === 'release.finding' && mismatch.release).toBe('4.22.0-okd-scos.2');
  });
});
