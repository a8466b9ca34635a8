import { describe, expect, it } from 'vitest';
import { parseBuildKernel } from '#core/builds/build-kernel.ts';
import { MALICIOUS_TEMPLATES } from '../support/malicious-values.ts';
import { multiArchTag, perArchTag, renderTagTemplate, validateTag, validateTagTemplate } from '#core/builds/tags.ts';

const base = parseBuildKernel('5.14.0-427.68.1.el9_4.x86_64');
const rt = parseBuildKernel('5.14.0-427.68.1.el9_4.x86_64+rt');
const k64 = parseBuildKernel('5.14.0-284.41.1.el9_2.aarch64+64k');


describe('per-arch and multi-arch tags', () => {
  it('uses the kernel with its arch as the per-arch tag', () => {
    expect(perArchTag(base)).toBe('5.14.0-427.68.1.el9_4.x86_64');
  });

  it("normalises + to _ by KMM's rule", () => {
    expect(perArchTag(rt)).toBe('5.14.0-427.68.1.el9_4.x86_64_rt');
    expect(perArchTag(k64)).toBe('5.14.0-284.41.1.el9_2.aarch64_64k');
  });

  it('drops the arch for the multi-arch tag of a base kernel', () => {
    expect(multiArchTag(base)).toBe('5.14.0-427.68.1.el9_4');
    expect(multiArchTag(parseBuildKernel('5.14.0-427.68.1.el9_4.aarch64'))).toBe('5.14.0-427.68.1.el9_4');
  });

  it('gives RT and 64k kernels no multi-arch tag: they exist on one arch only', () => {
    expect(() => multiArchTag(rt)).toThrow(/rt kernel, which exists on one arch only/);
    expect(() => multiArchTag(k64)).toThrow(/64k kernel/);
  });

  it('handles test kernels the same way', () => {
    const debian = parseBuildKernel('6.1.0-50-amd64', { allowTestKernels: true });
    expect(perArchTag(debian)).toBe('6.1.0-50-amd64');
    expect(multiArchTag(debian)).toBe('6.1.0-50');
  });
});

describe('renderTagTemplate', () => {
  it('renders every KMM placeholder', () => {
    const tag = renderTagTemplate('${MOD_NAME}-${KERNEL_X}.${KERNEL_Y}.${KERNEL_Z}-${KERNEL_XYZ}-${KERNEL_FULL_VERSION}', {
      kernel: base,
      modName: 'dtk_example',
    });
    expect(tag).toBe('dtk_example-5.14.0-5.14.0-5.14.0-427.68.1.el9_4.x86_64');
  });

  it('normalises placeholder values like kernel tags', () => {
    expect(renderTagTemplate('drv-${KERNEL_FULL_VERSION}', { kernel: rt })).toBe('drv-5.14.0-427.68.1.el9_4.x86_64_rt');
  });

  it('renders the multi-arch form with the kernel without arch', () => {
    expect(renderTagTemplate('drv-${KERNEL_FULL_VERSION}', { kernel: base }, { multiArch: true })).toBe('drv-5.14.0-427.68.1.el9_4');
  });

  it('requires ${KERNEL_FULL_VERSION}, so the two arches never push the same tag', () => {
    expect(() => validateTagTemplate('drv-${KERNEL_XYZ}')).toThrow(/must contain \$\{KERNEL_FULL_VERSION\}/);
  });

  it('refuses ${MOD_NAME} when no module name is given', () => {
    expect(() => renderTagTemplate('${MOD_NAME}-${KERNEL_FULL_VERSION}', { kernel: base })).toThrow(/no module name/);
  });

  it('refuses a rendered tag longer than 128 characters', () => {
    expect(() => renderTagTemplate(`${'a'.repeat(120)}\${KERNEL_FULL_VERSION}`, { kernel: base })).toThrow(/is not an image tag/);
  });

  it.each(MALICIOUS_TEMPLATES)('rejects the template %j', (template) => {
    expect(() => renderTagTemplate(template, { kernel: base, modName: 'x' })).toThrow(/tag template/);
  });
});

describe('validateTag', () => {
  it.each(['5.14.0-427.68.1.el9_4.x86_64', '_x', 'a'.repeat(128)])('accepts %j', (tag) => {
    expect(validateTag(tag)).toBe(tag);
  });

  it.each(['', '-x', '.x', 'a;b', 'a b', 'a/b', 'a\nb', 'a+b', 'a'.repeat(129), '$(id)'])('rejects %j', (tag) => {
    expect(() => validateTag(tag)).toThrow(/is not an image tag/);
  });
});
