import { describe, expect, it } from 'vitest';
import { observeDtkReleaseFile } from '#core/dtk-image.ts';
import { observeExtensionsJson, observeMachineOsContentLabels, observeMetaJson, observeRhelCoreosLabels } from '#core/rhcos-image.ts';

describe('the DTK release file', () => {
  it('reads kernel, RT kernel and RHEL version', () => {
    const seen = observeDtkReleaseFile(
      JSON.stringify({ KERNEL_VERSION: '5.14.0-427.68.1.el9_4.x86_64', RT_KERNEL_VERSION: '5.14.0-427.68.1.el9_4.x86_64+rt', RHEL_VERSION: '9.4' }),
      'x86_64',
    );
    expect(seen.kernel?.full).toBe('5.14.0-427.68.1.el9_4.x86_64');
    expect(seen.rtKernel?.full).toBe('5.14.0-427.68.1.el9_4.x86_64+rt');
    expect(seen.rhelVersion).toBe('9.4');
    expect(seen.findings).toEqual([]);
  });

  it('reports a junk RT field instead of using it', () => {
    const seen = observeDtkReleaseFile(
      JSON.stringify({ KERNEL_VERSION: '5.14.0-427.68.1.el9_4.aarch64', RT_KERNEL_VERSION: 'package kernel-rt-core is not installed+rt', RHEL_VERSION: '9.4' }),
      'aarch64',
    );
    expect(seen.kernel?.full).toBe('5.14.0-427.68.1.el9_4.aarch64');
    expect(seen.rtKernel).toBeUndefined();
    expect(seen.findings.map((f) => f.code)).toEqual(['invalid-rt-kernel']);
    expect(seen.findings[0]?.message).toContain('package kernel-rt-core is not installed+rt');
  });

  it('accepts a file without an RT field (4.12.z after Oct 2025) and the pre-9.3 RT form', () => {
    expect(observeDtkReleaseFile(JSON.stringify({ KERNEL_VERSION: '4.18.0-372.141.1.el8_6.x86_64', RHEL_VERSION: '8.6' }), 'x86_64').findings).toEqual([]);
    const old = observeDtkReleaseFile(
      JSON.stringify({ KERNEL_VERSION: '4.18.0-305.17.1.el8_4.x86_64', RT_KERNEL_VERSION: '4.18.0-305.17.1.rt7.89.el8_4.x86_64' }),
      'x86_64',
    );
    expect(old.rtKernel?.full).toBe('4.18.0-305.17.1.rt7.89.el8_4.x86_64');
  });

  it('rejects a kernel of another architecture and a file that is not JSON', () => {
    expect(observeDtkReleaseFile(JSON.stringify({ KERNEL_VERSION: '5.14.0-427.68.1.el9_4.x86_64' }), 'aarch64').findings[0]?.code).toBe('invalid-kernel-string');
    expect(observeDtkReleaseFile('{not json', 'x86_64').findings[0]?.code).toBe('invalid-kernel-string');
  });
});

describe('RHCOS labels', () => {
  it('reads machine-os-content labels', () => {
    const seen = observeMachineOsContentLabels(
      { 'com.coreos.rpm.kernel': '4.18.0-305.17.1.el8_4.x86_64', 'com.coreos.rpm.kernel-rt-core': '4.18.0-305.17.1.rt7.89.el8_4.x86_64', version: '49.84.202109102026-0' },
      'x86_64',
    );
    expect([seen.kernel?.full, seen.rtKernel?.full]).toEqual(['4.18.0-305.17.1.el8_4.x86_64', '4.18.0-305.17.1.rt7.89.el8_4.x86_64']);
  });

  it('reads ostree.linux and the RHCOS version', () => {
    const seen = observeRhelCoreosLabels({ 'ostree.linux': '4.18.0-372.43.1.el8_6.x86_64', version: '412.86.202302091057-0' }, 'x86_64');
    expect(seen.kernel?.full).toBe('4.18.0-372.43.1.el8_6.x86_64');
    expect(seen.rhcosVersion).toBe('412.86.202302091057-0');
  });

  it('never accepts ostree.linux=true or a value with shell metacharacters', () => {
    for (const value of ['true', '5.14.0-1.el9.x86_64;rm -rf /', '$(reboot)']) {
      const seen = observeRhelCoreosLabels({ 'ostree.linux': value }, 'x86_64');
      expect(seen.kernel).toBeUndefined();
      expect(seen.findings).toHaveLength(1);
      expect(seen.findings[0]).toMatchObject({ code: 'invalid-kernel-string', source: 'rhel-coreos label ostree.linux' });
    }
  });
});

describe('layered node image files', () => {
  it('finds the kernel in meta.json', () => {
    const meta = JSON.stringify({
      'rpmdb.pkglist': [
        ['bash', '0', '5.1.8', '9.el9', 'x86_64'],
        ['kernel-core', '0', '5.14.0', '570.49.1.el9_6', 'x86_64'],
        ['kernel', '0', '5.14.0', '570.49.1.el9_6', 'x86_64'],
      ],
    });
    expect(observeMetaJson(meta, 'x86_64').kernel?.full).toBe('5.14.0-570.49.1.el9_6.x86_64');
  });

  it('reads RT and 64k kernels from extensions.json', () => {
    expect(observeExtensionsJson(JSON.stringify({ 'kernel-rt-core': '5.14.0-570.49.1.el9_6.x86_64' }), 'x86_64').rtKernel?.full).toBe(
      '5.14.0-570.49.1.el9_6.x86_64+rt',
    );
    expect(observeExtensionsJson(JSON.stringify({ 'kernel-64k-core': '5.14.0-570.49.1.el9_6.aarch64' }), 'aarch64').kernel64k?.full).toBe(
      '5.14.0-570.49.1.el9_6.aarch64+64k',
    );
  });
});
