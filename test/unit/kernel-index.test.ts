import { describe, expect, it } from 'vitest';
import { indexKernels, type ReleaseSighting } from '#core/kernel-index.ts';
import type { KernelStream, ResolvedRelease } from '#core/release-record.ts';

function release(version: string, kernel: string, extra: Partial<KernelStream> = {}): ResolvedRelease {
  return {
    version,
    arch: 'x86_64',
    payload: `quay.io/openshift-release-dev/ocp-release@sha256:${version.replace(/\D/g, '').padStart(64, '0')}`,
    findings: [],
    streams: [
      { stream: 'rhel-coreos', streamClass: null, kernel, rtKernel: null, kernel64k: null, rhelVersion: '9.2', rhcosVersion: null, dtkImage: null, ...extra },
    ],
  };
}
const seen = (r: ResolvedRelease, channels: string[]): ReleaseSighting => ({ release: r, channels });

describe('indexKernels', () => {
  it('records a kernel shipped by several releases once, with all of them', () => {
    const k = '5.14.0-284.77.1.el9_2.x86_64';
    const records = indexKernels([
      seen(release('4.14.34', k), ['stable-4.14']),
      seen(release('4.15.23', k), ['stable-4.15']),
      seen(release('4.14.33', k, { rhcosVersion: '414.92.202407091253-0' }), ['stable-4.14', 'eus-4.14']),
      seen(release('4.15.22', k), ['fast-4.15']),
    ]);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      kernel: k,
      releases: ['4.14.33', '4.14.34', '4.15.22', '4.15.23'],
      channels: ['eus-4.14', 'fast-4.15', 'stable-4.14', 'stable-4.15'],
      rhcosVersions: ['414.92.202407091253-0'],
      prerelease: false,
    });
  });

  it('marks a kernel seen only in candidate channels, or only in ec/rc releases, as prerelease', () => {
    const onlyCandidate = indexKernels([seen(release('4.18.0', '5.14.0-1.el9_4.x86_64'), ['candidate-4.18'])]);
    const onlyRc = indexKernels([seen(release('4.18.0-rc.1', '5.14.0-2.el9_4.x86_64'), ['candidate-4.18', 'fast-4.18'])]);
    const promoted = indexKernels([
      seen(release('4.18.0-rc.1', '5.14.0-3.el9_4.x86_64'), ['candidate-4.18']),
      seen(release('4.18.0', '5.14.0-3.el9_4.x86_64'), ['candidate-4.18', 'fast-4.18']),
    ]);
    expect([onlyCandidate[0]?.prerelease, onlyRc[0]?.prerelease, promoted[0]?.prerelease]).toEqual([true, true, false]);
  });
});
