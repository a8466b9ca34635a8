/**
 * What the pipeline builds for the kernel streams real releases ship beyond RHEL:
 * RHEL 10 of 4.21/4.22 (a Tech Preview no release ships a DTK for) and OKD's
 * CentOS Stream kernels.
 */
import { describe, expect, it } from 'vitest';
import { BuildEnvError, parseBuildEnv } from '#core/builds/params.ts';
import { parseKernel } from '#core/kernel.ts';
import { planDriverBuilds, planDtkBuild, type BuildPlanConfig } from '#pipeline/build-plan.ts';
import { driverSchema } from '#pipeline/drivers.ts';
import type { KernelEntry } from '#pipeline/entities.ts';

const NOW = '2026-06-10T00:00:00.000Z';
const UBI10 = `registry.access.redhat.com/ubi10/ubi@sha256:${'1'.repeat(64)}`;
const UBI9 = `registry.access.redhat.com/ubi9/ubi@sha256:${'2'.repeat(64)}`;
const config: BuildPlanConfig = {
  dtkRepository: 'quay.io/example/driver-toolkit',
  buildArches: ['x86_64'],
  projects: { dtk: { x86_64: 'dtk-x86_64', aarch64: 'dtk-aarch64' }, driver: { x86_64: 'driver-x86_64', aarch64: 'driver-aarch64' }, join: 'join' },
  ubiImages: { '9': UBI9, '10': UBI10 },
};
const driver = driverSchema.parse({
  name: 'gpu-driver',
  source: { type: 'git', url: 'https://github.com/partner/gpu-driver', ref: 'v2.1' },
  repository: 'quay.io/partner/gpu-driver',
  arches: ['x86_64'],
  channels: ['stable-*', 'stable-scos-*'],
  // dtk defaults to 'release'
});

function entry(fields: Partial<KernelEntry> & Pick<KernelEntry, 'kernel' | 'stream'>): KernelEntry {
  return {
    arch: 'x86_64',
    rhelVersion: null,
    rtKernel: null,
    kernel64k: null,
    streamClass: null,
    releases: ['4.21.1'],
    channels: ['stable-4.21'],
    prerelease: false,
    rhcosVersions: [],
    dtkImages: [],
    firstSeenAt: NOW,
    discoveredBy: 'x',
    state: 'new',
    ...fields,
  };
}

describe('RHEL 10 as a Tech Preview stream (no release DTK)', () => {
  const rhel10 = entry({ kernel: '6.12.0-124.31.1.el10_1.x86_64', stream: 'rhel-coreos-10', streamClass: 'rhel-10', rhelVersion: '10.1', rtKernel: '6.12.0-124.31.1.el10_1.x86_64+rt' });

  it('plans this project’s DTK on UBI 10, with the RT kernel', () => {
    const [dtk] = planDtkBuild(parseKernel(rhel10.kernel)!, rhel10, config, NOW);
    expect(dtk?.env).toMatchObject({ KERNEL: rhel10.kernel, RHEL_VERSION: '10.1', UBI_IMAGE: UBI10, RT_KERNEL: '6.12.0-124.31.1.el10_1.x86_64+rt' });
    expect(dtk?.image).toBe('quay.io/example/driver-toolkit:6.12.0-124.31.1.el10_1.x86_64');
    expect(() => parseBuildEnv('dtk', { ...dtk!.env, RHSM_ORG_FILE: '/run/secrets/o', RHSM_KEY_FILE: '/run/secrets/k' })).not.toThrow();
  });

  it('builds a driver that asks for the release DTK FROM this project’s DTK, once that exists', () => {
    expect(planDriverBuilds(rhel10, [driver], config, NOW, { projectDtkReady: false })).toEqual([]);
    const [build] = planDriverBuilds(rhel10, [driver], config, NOW, { projectDtkReady: true });
    expect(build?.env['DTK_IMAGE']).toBe('quay.io/example/driver-toolkit:6.12.0-124.31.1.el10_1.x86_64');
  });

  it('still builds FROM the release DTK when the release ships one', () => {
    const rhel9 = entry({ kernel: '5.14.0-570.88.1.el9_6.x86_64', stream: 'rhel-coreos', rhelVersion: '9.6', dtkImages: ['quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:' + 'a'.repeat(64)] });
    const [build] = planDriverBuilds(rhel9, [driver], config, NOW, { projectDtkReady: false });
    expect(build?.env['DTK_IMAGE']).toBe(rhel9.dtkImages[0]);
  });
});

describe('OKD CentOS Stream kernels', () => {
  const okd = entry({
    kernel: '6.12.0-224.el10.x86_64',
    stream: 'stream-coreos',
    rhelVersion: '10',
    releases: ['4.22.0-okd-scos.2'],
    channels: ['stable-scos-4'],
    dtkImages: ['quay.io/okd/scos-content@sha256:' + 'b'.repeat(64)],
  });

  it('plans a DTK build with a CentOS Stream base, never a UBI one', () => {
    const [dtk] = planDtkBuild(parseKernel(okd.kernel)!, okd, config, NOW);
    expect(dtk?.env['DTK_BASE']).toBe('centos-stream');
    expect(dtk?.env['UBI_IMAGE']).toBeUndefined();
  });

  it('refuses that build before it starts, saying why (recorded as failed, not attempted)', () => {
    const [dtk] = planDtkBuild(parseKernel(okd.kernel)!, okd, config, NOW);
    const attempt = () => parseBuildEnv('dtk', { ...dtk!.env, RHSM_ORG_FILE: '/run/secrets/o', RHSM_KEY_FILE: '/run/secrets/k' });
    expect(attempt).toThrow(BuildEnvError);
    expect(attempt).toThrow(/CentOS Stream kernel \(OKD\).*not UBI and RHSM/);
  });

  it('builds partner drivers FROM the release’s own OKD DTK', () => {
    const [build] = planDriverBuilds(okd, [driver], config, NOW, { projectDtkReady: false });
    expect(build?.env['DTK_IMAGE']).toBe(okd.dtkImages[0]);
  });
});
