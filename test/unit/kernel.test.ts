import { describe, expect, it } from 'vitest';
import { compareKernels, kernelTag, kernelWithoutArch, parseKernel, rhelVersionOf, unameFromPackage } from '#core/kernel.ts';

describe('parseKernel', () => {
  it.each([
    ['5.14.0-427.68.1.el9_4.x86_64', 'x86_64', 'base', '9.4'],
    ['5.14.0-427.68.1.el9_4.x86_64+rt', 'x86_64', 'rt', '9.4'],
    ['4.18.0-305.17.1.rt7.89.el8_4.x86_64', 'x86_64', 'rt', '8.4'],
    ['5.14.0-284.45.1.rt14.330.el9_2.x86_64', 'x86_64', 'rt', '9.2'],
    ['5.14.0-284.41.1.el9_2.aarch64+64k', 'aarch64', '64k', '9.2'],
    ['4.18.0-372.43.1.el8_6.x86_64', 'x86_64', 'base', '8.6'],
    ['6.12.0-124.8.1.el10_1.s390x', 's390x', 'base', '10.1'],
    ['5.14.0-570.49.1.el9_6.ppc64le', 'ppc64le', 'base', '9.6'],
  ])('accepts %s', (value, arch, flavour, rhel) => {
    const kernel = parseKernel(value);
    expect(kernel).toMatchObject({ full: value, arch, flavour });
    expect(rhelVersionOf(kernel!)).toBe(rhel);
  });

  it('marks the RHEL minor unknown for early kernels without _Y', () => {
    const kernel = parseKernel('5.14.0-252.el9.x86_64');
    expect(kernel?.rhelMajor).toBe(9);
    expect(kernel?.rhelMinor).toBeUndefined();
    expect(rhelVersionOf(kernel!)).toBe('9');
    expect(parseKernel('4.18.0-425.3.1.rt7.213.el8.x86_64')?.flavour).toBe('rt');
  });

  it.each([
    'true',
    '',
    'package kernel-rt-core is not installed+rt',
    '5.14.0-1.el9.x86_64;rm -rf /',
    '5.14.0-1.el9.x86_64$(id)',
    '5.14.0-1.el9.x86_64`id`',
    '5.14.0-1.el9.x86_64\n',
    '../5.14.0-1.el9.x86_64',
    '5.14.0-427.68.1.el9_4',
    '5.14.0-427.68.1.el9_4.i686',
    '5.14.0-427.68.1.el9_4.x86_64+64k',
    '4.18.0-305.17.1.rt7.89.el8_4.x86_64+rt',
    `5.14.0-${'1.'.repeat(80)}el9.x86_64`,
  ])('rejects %j', (value) => {
    expect(parseKernel(value)).toBeUndefined();
  });

  it('exposes the version parts KMM templates use', () => {
    expect(parseKernel('5.14.0-427.68.1.el9_4.x86_64')).toMatchObject({ x: 5, y: 14, z: 0, version: '5.14.0', release: '427.68.1.el9_4' });
    expect(kernelWithoutArch(parseKernel('5.14.0-427.68.1.el9_4.x86_64+rt')!)).toBe('5.14.0-427.68.1.el9_4');
  });
});

describe('kernelTag', () => {
  it('replaces characters outside [A-Za-z0-9._-] as KMM does', () => {
    expect(kernelTag('5.14.0-427.68.1.el9_4.x86_64+rt')).toBe('5.14.0-427.68.1.el9_4.x86_64_rt');
    expect(kernelTag('5.14.0-284.41.1.el9_2.aarch64+64k')).toBe('5.14.0-284.41.1.el9_2.aarch64_64k');
    expect(kernelTag('4.18.0-372.43.1.el8_6.x86_64')).toBe('4.18.0-372.43.1.el8_6.x86_64');
  });
});

describe('unameFromPackage', () => {
  it('turns flavoured kernel packages into uname -r strings', () => {
    expect(unameFromPackage('5.14.0-570.49.1.el9_6.x86_64', 'rt')).toBe('5.14.0-570.49.1.el9_6.x86_64+rt');
    expect(unameFromPackage('0:5.14.0-570.49.1.el9_6.aarch64', '64k')).toBe('5.14.0-570.49.1.el9_6.aarch64+64k');
    expect(unameFromPackage('5.14.0-284.45.1.rt14.330.el9_2.x86_64', 'rt')).toBe('5.14.0-284.45.1.rt14.330.el9_2.x86_64');
  });
});

describe('compareKernels', () => {
  it('orders by numbers, not text', () => {
    const sorted = ['5.14.0-570.1.1.el9_6.x86_64', '5.14.0-70.13.1.el9_0.x86_64', '4.18.0-305.17.1.el8_4.x86_64'].sort(compareKernels);
    expect(sorted).toEqual(['4.18.0-305.17.1.el8_4.x86_64', '5.14.0-70.13.1.el9_0.x86_64', '5.14.0-570.1.1.el9_6.x86_64']);
  });
});
