/**
 * Table records for tests of the read side (status snapshot, coverage index):
 * realistic defaults, each field overridable.
 */
import type { BuildEntry, KernelEntry } from '#pipeline/entities.ts';

export function kernelEntry(name: string, fields: Partial<KernelEntry> = {}): KernelEntry {
  const releases = fields.releases ?? ['4.16.3'];
  return {
    kernel: name,
    arch: name.includes('aarch64') ? 'aarch64' : 'x86_64',
    rhelVersion: '9.4',
    rtKernel: null,
    kernel64k: null,
    stream: 'rhel-coreos',
    streamClass: null,
    releases,
    channels: ['stable-4.16'],
    prerelease: false,
    discoveredAsPrerelease: false,
    rhcosVersions: [],
    dtkImages: [],
    firstSeenAt: '2025-01-10T08:00:00.000Z',
    discoveredBy: `payload|${releases[0]}`,
    state: 'processed',
    ...fields,
  };
}

/** A per-arch build of `target` (`dtk` or `driver:<name>`) for a kernel; images go to `repository:<kernel tag>`. */
export function buildEntry(target: string, kernelName: string, state: BuildEntry['state'], fields: Partial<BuildEntry> & { repository?: string } = {}): BuildEntry {
  const { repository = target === 'dtk' ? 'quay.io/example/dtk' : `quay.io/partner/${target.slice('driver:'.length)}`, ...rest } = fields;
  const kernelVersion = kernelName.replace(/\.(x86_64|aarch64)(\+rt|\+64k)?$/, '');
  const arch = /aarch64/.test(kernelName) ? 'aarch64' : 'x86_64';
  return {
    buildKey: `${kernelVersion}|${target}|${arch}|${kernelName}`,
    kind: target === 'dtk' ? 'dtk' : 'driver',
    target,
    kernelVersion,
    kernel: kernelName,
    arch,
    project: 'project',
    env: {},
    image: `${repository}:${kernelName.replace(/\+/g, '_')}`,
    ...(target === 'dtk' ? {} : { variant: '1' }),
    state,
    attempts: 1,
    createdAt: '2025-01-10T09:00:00.000Z',
    updatedAt: '2025-01-10T10:00:00.000Z',
    ...rest,
  };
}
