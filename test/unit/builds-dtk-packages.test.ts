import { describe, expect, it } from 'vitest';
import { parseBuildKernel } from '#core/builds/build-kernel.ts';
import { DTK_TOOLS, planDtk, renderReleaseFile } from '#core/builds/dtk-packages.ts';

const kernel = (s: string) => parseBuildKernel(s);

describe('planDtk', () => {
  it('pins every kernel package of an x86_64 RHEL 9.4 kernel and derives its RT kernel', () => {
    const plan = planDtk({ kernel: kernel('5.14.0-427.68.1.el9_4.x86_64'), rhel: { major: 9, minor: 4 } });
    expect(plan.packages.slice(0, 11)).toEqual([
      'kernel-core-5.14.0-427.68.1.el9_4.x86_64',
      'kernel-devel-5.14.0-427.68.1.el9_4.x86_64',
      'kernel-headers-5.14.0-427.68.1.el9_4.x86_64',
      'kernel-modules-5.14.0-427.68.1.el9_4.x86_64',
      'kernel-modules-extra-5.14.0-427.68.1.el9_4.x86_64',
      'kernel-devel-matched-5.14.0-427.68.1.el9_4.x86_64',
      'kernel-abi-stablelists-5.14.0-427.68.1.el9_4',
      'kernel-rt-core-5.14.0-427.68.1.el9_4.x86_64',
      'kernel-rt-devel-5.14.0-427.68.1.el9_4.x86_64',
      'kernel-rt-modules-5.14.0-427.68.1.el9_4.x86_64',
      'kernel-rt-modules-extra-5.14.0-427.68.1.el9_4.x86_64',
    ]);
    expect(plan.packages.slice(11)).toEqual([...DTK_TOOLS]);
    expect(plan.packages.some((p) => p.startsWith('kernel-64k'))).toBe(false);
    expect(plan.rtKernel).toBe('5.14.0-427.68.1.el9_4.x86_64+rt');
    expect(plan.releaseFile).toEqual({
      KERNEL_VERSION: '5.14.0-427.68.1.el9_4.x86_64',
      RT_KERNEL_VERSION: '5.14.0-427.68.1.el9_4.x86_64+rt',
      RHEL_VERSION: '9.4',
    });
  });

  it('installs the kernel-64k set on aarch64 from RHEL 9.2, and no RT', () => {
    const plan = planDtk({ kernel: kernel('5.14.0-284.41.1.el9_2.aarch64'), rhel: { major: 9, minor: 2 } });
    expect(plan.packages).toEqual(
      expect.arrayContaining([
        'kernel-64k-core-5.14.0-284.41.1.el9_2.aarch64',
        'kernel-64k-devel-5.14.0-284.41.1.el9_2.aarch64',
        'kernel-64k-modules-5.14.0-284.41.1.el9_2.aarch64',
        'kernel-64k-modules-extra-5.14.0-284.41.1.el9_2.aarch64',
      ]),
    );
    expect(plan.packages.some((p) => p.startsWith('kernel-rt'))).toBe(false);
    expect(plan.kernel64k).toBe('5.14.0-284.41.1.el9_2.aarch64+64k');
    expect(plan.releaseFile).toEqual({ KERNEL_VERSION: '5.14.0-284.41.1.el9_2.aarch64', RHEL_VERSION: '9.2' });
    expect(plan.requiredRepos).toEqual(['rhel-9-for-aarch64-baseos-rpms', 'rhel-9-for-aarch64-appstream-rpms']);
  });

  it('has no kernel-64k before RHEL 9.2', () => {
    const plan = planDtk({ kernel: kernel('5.14.0-70.13.1.el9_0.aarch64'), rhel: { major: 9, minor: 0 } });
    expect(plan.packages.some((p) => p.startsWith('kernel-64k'))).toBe(false);
  });

  it('installs no RT set before RHEL 9.3 unless RT_KERNEL names it', () => {
    const k = kernel('5.14.0-284.45.1.el9_2.x86_64');
    expect(planDtk({ kernel: k, rhel: { major: 9, minor: 2 } }).packages.some((p) => p.startsWith('kernel-rt'))).toBe(false);
    const withRt = planDtk({ kernel: k, rhel: { major: 9, minor: 2 }, rtKernel: '5.14.0-284.45.1.rt14.330.el9_2.x86_64' });
    expect(withRt.packages).toContain('kernel-rt-core-5.14.0-284.45.1.rt14.330.el9_2.x86_64');
    expect(withRt.releaseFile.RT_KERNEL_VERSION).toBe('5.14.0-284.45.1.rt14.330.el9_2.x86_64');
  });

  it('refuses an RT_KERNEL of another kernel or arch', () => {
    const k = kernel('5.14.0-284.45.1.el9_2.x86_64');
    expect(() => planDtk({ kernel: k, rhel: { major: 9, minor: 2 }, rtKernel: '4.18.0-305.17.1.rt7.89.el8_4.x86_64' })).toThrow(/does not belong/);
    expect(() => planDtk({ kernel: k, rhel: { major: 9, minor: 2 }, rtKernel: '5.14.0-284.45.1.el9_2.x86_64' })).toThrow(/not an x86_64 real-time kernel/);
    expect(() => planDtk({ kernel: kernel('5.14.0-284.41.1.el9_2.aarch64'), rhel: { major: 9, minor: 2 }, rtKernel: 'x' })).toThrow(/x86_64 only/);
  });

  it('uses RHEL 8 names: no kernel-devel-matched, kernel-abi-whitelists before 8.6', () => {
    const old = planDtk({ kernel: kernel('4.18.0-305.17.1.el8_4.x86_64'), rhel: { major: 8, minor: 4 } });
    expect(old.packages).toContain('kernel-abi-whitelists-4.18.0-305.17.1.el8_4');
    expect(old.packages.some((p) => p.startsWith('kernel-devel-matched'))).toBe(false);
    const newer = planDtk({ kernel: kernel('4.18.0-372.43.1.el8_6.x86_64'), rhel: { major: 8, minor: 6 } });
    expect(newer.packages).toContain('kernel-abi-stablelists-4.18.0-372.43.1.el8_6');
  });

  it('enables the EUS repositories of EUS minors only', () => {
    const eus = planDtk({ kernel: kernel('5.14.0-427.68.1.el9_4.x86_64'), rhel: { major: 9, minor: 4 } });
    expect(eus.optionalRepos).toEqual([
      'codeready-builder-for-rhel-9-x86_64-rpms',
      'rhel-9-for-x86_64-baseos-eus-rpms',
      'rhel-9-for-x86_64-appstream-eus-rpms',
      'codeready-builder-for-rhel-9-x86_64-eus-rpms',
      'rhel-9-for-x86_64-rt-rpms',
    ]);
    const odd = planDtk({ kernel: kernel('5.14.0-362.8.1.el9_3.x86_64'), rhel: { major: 9, minor: 3 } });
    expect(odd.optionalRepos.some((r) => r.includes('-eus-'))).toBe(false);
  });

  it('treats a kernel without a RHEL minor as the newest minor', () => {
    const plan = planDtk({ kernel: kernel('5.14.0-252.el9.x86_64'), rhel: { major: 9 } });
    expect(plan.rtKernel).toBe('5.14.0-252.el9.x86_64+rt');
    expect(plan.releaseFile.RHEL_VERSION).toBe('9');
  });

  it('refuses flavoured, test and mismatched kernels', () => {
    expect(() => planDtk({ kernel: kernel('5.14.0-427.68.1.el9_4.x86_64+rt'), rhel: { major: 9, minor: 4 } })).toThrow(/base kernel/);
    expect(() => planDtk({ kernel: parseBuildKernel('6.1.0-50-amd64', { allowTestKernels: true }), rhel: { major: 9, minor: 4 } })).toThrow(/not a RHEL kernel/);
    expect(() => planDtk({ kernel: kernel('5.14.0-427.68.1.el9_4.x86_64'), rhel: { major: 9, minor: 6 } })).toThrow(/does not match/);
    expect(() => planDtk({ kernel: kernel('5.14.0-427.68.1.el9_4.s390x'), rhel: { major: 9, minor: 4 } })).toThrow(/x86_64 and aarch64/);
  });
});

describe('renderReleaseFile', () => {
  it('writes the official one-line JSON with keys in upstream order', () => {
    expect(renderReleaseFile({ KERNEL_VERSION: 'k', RT_KERNEL_VERSION: 'k+rt', RHEL_VERSION: '9.4' })).toBe(
      '{"KERNEL_VERSION":"k","RT_KERNEL_VERSION":"k+rt","RHEL_VERSION":"9.4"}\n',
    );
  });
});
