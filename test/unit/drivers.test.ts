import { describe, expect, it } from 'vitest';
import { driverKernels, driverSchema, moduleNameOf } from '#pipeline/drivers.ts';

const base = { name: 'gpu-driver', source: { type: 'git', url: 'https://github.com/partner/gpu-driver', ref: 'v2.1' }, repository: 'quay.io/partner/gpu-driver' };
const sighting = (over: Partial<Parameters<typeof driverKernels>[1]> = {}) => ({
  kernel: '5.14.0-427.68.1.el9_4.x86_64',
  arch: 'x86_64' as const,
  releases: ['4.18.14'],
  channels: ['stable-4.18'],
  rtKernel: '5.14.0-427.68.1.el9_4.x86_64+rt',
  kernel64k: null,
  ...over,
});

describe('driver definitions', () => {
  it('fills the defaults a partner would expect', () => {
    const d = driverSchema.parse(base);
    expect(d).toMatchObject({ tagTemplate: '${KERNEL_FULL_VERSION}', arches: ['x86_64', 'aarch64'], channels: ['stable-*', 'fast-*', 'eus-*'], dtk: 'release', version: '1' });
    expect(moduleNameOf(d)).toBe('gpu_driver');
  });

  it.each([
    [{ name: 'GPU Driver' }, /driver name "GPU Driver" must be lowercase/],
    [{ source: { type: 'git', url: 'http://example.com/x', ref: 'main' } }, /source.url "http:\/\/example.com\/x" must be an https git URL/],
    [{ source: { type: 'git', url: 'https://example.com/x', ref: 'a..b' } }, /source.ref "a..b" is not a git ref/],
    [{ repository: 'quay.io/partner/gpu:latest' }, /must be registry\/path without a tag/],
    [{ tagTemplate: '${KERNEL_FULL_VERSION};id' }, /tagTemplate/],
    [{ tagTemplate: '${KERNEL_X}' }, /must contain \$\{KERNEL_FULL_VERSION\}/],
    [{ buildArgs: { 'BAD KEY': 'x' } }, /buildArgs/],
  ])('rejects %j with a message naming the problem', (patch, message) => {
    const result = driverSchema.safeParse({ ...base, ...patch });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('\n')).toMatch(message);
  });
});

describe('which kernels a driver is built for', () => {
  it('follows channel globs, including candidate channels for prebuild', () => {
    const stableOnly = driverSchema.parse(base);
    const prebuild = driverSchema.parse({ ...base, channels: ['candidate-*', 'stable-*'] });
    const rc = sighting({ releases: ['4.19.0-rc.1'], channels: ['candidate-4.19'] });
    expect(driverKernels(stableOnly, rc)).toEqual([]);
    expect(driverKernels(prebuild, rc)).toEqual(['5.14.0-427.68.1.el9_4.x86_64']);
  });

  it('adds RT and 64k kernels only when asked, and honours the minimum OpenShift version and RHEL streams', () => {
    expect(driverKernels(driverSchema.parse({ ...base, filters: { rt: true } }), sighting())).toEqual(['5.14.0-427.68.1.el9_4.x86_64', '5.14.0-427.68.1.el9_4.x86_64+rt']);
    expect(driverKernels(driverSchema.parse({ ...base, filters: { minOpenShift: '4.19' } }), sighting())).toEqual([]);
    expect(driverKernels(driverSchema.parse({ ...base, filters: { minOpenShift: '4.18' } }), sighting())).toHaveLength(1);
    expect(driverKernels(driverSchema.parse({ ...base, filters: { rhel: ['10'] } }), sighting())).toEqual([]);
    const arm = sighting({ kernel: '5.14.0-427.68.1.el9_4.aarch64', arch: 'aarch64', rtKernel: null, kernel64k: '5.14.0-427.68.1.el9_4.aarch64+64k' });
    expect(driverKernels(driverSchema.parse({ ...base, filters: { kernel64k: true } }), arm)).toEqual(['5.14.0-427.68.1.el9_4.aarch64', '5.14.0-427.68.1.el9_4.aarch64+64k']);
    expect(driverKernels(driverSchema.parse({ ...base, arches: ['x86_64'] }), arm)).toEqual([]);
  });
});
