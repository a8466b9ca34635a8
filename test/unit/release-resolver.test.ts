import { describe, expect, it } from 'vitest';
import { ObservationBuilder } from '#core/observation.ts';
import type { ComponentImage } from '#core/release-payload.ts';
import { combineStream, planStreams } from '#core/release-resolver.ts';
import { parseImageReference } from '#core/registry/reference.ts';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
function components(tags: Record<string, Record<string, string>>): Map<string, ComponentImage> {
  let n = 1;
  return new Map(
    Object.entries(tags).map(([tag, annotations]) => {
      const pullSpec = `quay.io/openshift-release-dev/ocp-v4.0-art-dev@${digest(n++)}`;
      return [tag, { tag, pullSpec, ref: parseImageReference(pullSpec), annotations }];
    }),
  );
}

describe('planStreams', () => {
  it('finds one stream before 4.12 (machine-os-content + driver-toolkit)', () => {
    const plans = planStreams(components({ 'machine-os-content': {}, 'driver-toolkit': {}, cli: {} }));
    expect(plans.map((p) => [p.stream, p.legacy?.tag, p.dtk?.tag])).toEqual([['machine-os-content', 'machine-os-content', 'driver-toolkit']]);
  });

  it('pairs rhel-coreos-8 with its extensions in 4.12', () => {
    const [plan] = planStreams(components({ 'rhel-coreos-8': {}, 'rhel-coreos-8-extensions': {}, 'machine-os-content': {}, 'driver-toolkit': {} }));
    expect([plan?.rhcos?.tag, plan?.extensions?.tag, plan?.legacy?.tag]).toEqual(['rhel-coreos-8', 'rhel-coreos-8-extensions', 'machine-os-content']);
  });

  it('finds the RHEL 10 stream of 4.22 with its own DTK', () => {
    const plans = planStreams(
      components({
        'rhel-coreos': {},
        'rhel-coreos-extensions': {},
        'driver-toolkit': {},
        'rhel-coreos-10': {},
        'rhel-coreos-10-extensions': {},
        'driver-toolkit-10': {},
      }),
    );
    expect(plans.map((p) => [p.stream, p.extensions?.tag, p.dtk?.tag])).toEqual([
      ['rhel-coreos', 'rhel-coreos-extensions', 'driver-toolkit'],
      ['rhel-coreos-10', 'rhel-coreos-10-extensions', 'driver-toolkit-10'],
    ]);
  });
});

describe('planStreams beyond RHCOS', () => {
  it("finds OKD's stream-coreos with its extensions and DTK", () => {
    const plans = planStreams(components({ 'stream-coreos': {}, 'stream-coreos-extensions': {}, 'driver-toolkit': {}, cli: {} }));
    expect(plans.map((p) => [p.stream, p.rhcos?.tag, p.extensions?.tag, p.dtk?.tag])).toEqual([['stream-coreos', 'stream-coreos', 'stream-coreos-extensions', 'driver-toolkit']]);
  });

  it('plans the RHEL 10 Tech Preview stream of 4.21/4.22 without a DTK', () => {
    const plans = planStreams(
      components({ 'rhel-coreos': {}, 'rhel-coreos-extensions': {}, 'driver-toolkit': {}, 'rhel-coreos-10': {}, 'rhel-coreos-10-extensions': {} }),
    );
    expect(plans.map((p) => [p.stream, p.extensions?.tag, p.dtk?.tag ?? null])).toEqual([
      ['rhel-coreos', 'rhel-coreos-extensions', 'driver-toolkit'],
      ['rhel-coreos-10', 'rhel-coreos-10-extensions', null],
    ]);
  });

  it('records a CentOS Stream kernel with its EL major only, whatever the DTK or SCOS version say', () => {
    const [okd] = planStreams(components({ 'stream-coreos': { 'io.openshift.build.versions': 'machine-os=9.0.20250827-0' }, 'driver-toolkit': {} }));
    const scos = new ObservationBuilder('stream-coreos', 'x86_64').kernel('5.14.0-570.el9.x86_64', 'base', 'meta.json').build();
    const dtk = new ObservationBuilder('driver-toolkit', 'x86_64').kernel('5.14.0-570.el9.x86_64', 'base', 'KERNEL_VERSION').rhelVersion('9.6').build();
    const { stream } = combineStream(okd!, { rhcos: [scos], dtk }, 'x86_64', '4.19.0-okd-scos.17');
    expect(stream).toMatchObject({ stream: 'stream-coreos', kernel: '5.14.0-570.el9.x86_64', rhelVersion: '9', rhcosVersion: '9.0.20250827-0' });
  });
});

describe('combineStream', () => {
  const [plan] = planStreams(components({ 'rhel-coreos': { 'io.openshift.build.versions': 'machine-os=418.94.202505062142-0' }, 'driver-toolkit': {} }));

  it('takes the RHCOS kernel and the DTK RT kernel', () => {
    const rhcos = new ObservationBuilder('rhel-coreos', 'x86_64').kernel('5.14.0-427.68.1.el9_4.x86_64', 'base', 'label').build();
    const dtk = new ObservationBuilder('driver-toolkit', 'x86_64')
      .kernel('5.14.0-427.68.1.el9_4.x86_64', 'base', 'KERNEL_VERSION')
      .kernel('5.14.0-427.68.1.el9_4.x86_64+rt', 'rt', 'RT_KERNEL_VERSION')
      .build();
    const { stream, findings } = combineStream(plan!, { rhcos: [rhcos], dtk }, 'x86_64', '4.18.14');
    expect(findings).toEqual([]);
    expect(stream).toMatchObject({
      kernel: '5.14.0-427.68.1.el9_4.x86_64',
      rtKernel: '5.14.0-427.68.1.el9_4.x86_64+rt',
      kernel64k: null,
      rhelVersion: '9.4',
      rhcosVersion: '418.94.202505062142-0',
    });
  });

  it('reports a DTK built for another kernel and keeps the RHCOS kernel', () => {
    const rhcos = new ObservationBuilder('rhel-coreos', 'x86_64').kernel('5.14.0-427.68.1.el9_4.x86_64', 'base', 'label').build();
    const dtk = new ObservationBuilder('driver-toolkit', 'x86_64').kernel('5.14.0-427.65.1.el9_4.x86_64', 'base', 'KERNEL_VERSION').build();
    const { stream, findings } = combineStream(plan!, { rhcos: [rhcos], dtk }, 'x86_64', '4.18.14');
    expect(stream?.kernel).toBe('5.14.0-427.68.1.el9_4.x86_64');
    expect(findings.map((f) => f.code)).toEqual(['dtk-kernel-mismatch']);
    expect(findings[0]?.message).toContain('5.14.0-427.65.1.el9_4.x86_64');
  });

  it('falls back to the DTK kernel when the RHCOS label is not a kernel', () => {
    const rhcos = new ObservationBuilder('rhel-coreos', 'x86_64').kernel('true', 'base', 'label ostree.linux').build();
    const dtk = new ObservationBuilder('driver-toolkit', 'x86_64').kernel('5.14.0-611.5.1.el9_8.x86_64', 'base', 'KERNEL_VERSION').build();
    const { stream, findings } = combineStream(plan!, { rhcos: [rhcos], dtk }, 'x86_64', '4.22.0');
    expect(stream?.kernel).toBe('5.14.0-611.5.1.el9_8.x86_64');
    expect(findings.map((f) => f.code)).toEqual(['invalid-kernel-string']);
  });

  it('derives the 64k kernel on aarch64 from 4.15 and not before', () => {
    const rhcos = new ObservationBuilder('rhel-coreos', 'aarch64').kernel('5.14.0-284.41.1.el9_2.aarch64', 'base', 'label').build();
    expect(combineStream(plan!, { rhcos: [rhcos] }, 'aarch64', '4.15.0').stream?.kernel64k).toBe('5.14.0-284.41.1.el9_2.aarch64+64k');
    expect(combineStream(plan!, { rhcos: [rhcos] }, 'aarch64', '4.14.7').stream?.kernel64k).toBeNull();
  });

  it('yields no stream and a finding when no source names a kernel', () => {
    const rhcos = new ObservationBuilder('rhel-coreos', 'x86_64').kernel('true', 'base', 'label ostree.linux').build();
    const { stream, findings } = combineStream(plan!, { rhcos: [rhcos] }, 'x86_64', '4.22.0');
    expect(stream).toBeUndefined();
    expect(findings.map((f) => f.code)).toEqual(['invalid-kernel-string', 'no-kernel-found']);
  });
});
