import { describe, expect, it } from 'vitest';
import { formatMatrix, formatTable } from '#cli/format.ts';
import type { KernelRecord } from '#core/kernel-index.ts';
import type { ScanReport } from '#core/scan.ts';

const record = (kernel: string, arch: KernelRecord['arch'], rhelVersion: string): KernelRecord => ({
  kernel,
  arch,
  rhelVersion,
  rtKernel: null,
  kernel64k: null,
  releases: ['4.9.0'],
  channels: ['stable-4.9'],
  prerelease: false,
  rhcosVersions: [],
  dtkImages: [],
  streams: ['machine-os-content'],
});
const report = (kernels: KernelRecord[]): ScanReport => ({
  kernels,
  releases: [],
  graphErrors: [],
  graphFindings: [],
  stats: { graphRequests: 1, graphsUnchanged: 0, payloads: 0, payloadsResolved: 0, payloadsFromStore: 0, payloadsFailed: 0 },
});

describe('formatMatrix', () => {
  it('prints one line, one entry per kernel without its arch, with every arch that has it', () => {
    const out = formatMatrix(
      report([
        record('4.18.0-305.40.1.el8_4.x86_64', 'x86_64', '8.4'),
        record('4.18.0-305.40.1.el8_4.aarch64', 'aarch64', '8.4'),
        record('5.14.0-427.68.1.el9_4.x86_64', 'x86_64', '9.4'),
      ]),
    );
    expect(out.trimEnd().split('\n')).toHaveLength(1);
    expect(JSON.parse(out)).toEqual({
      versions: [
        { rhel: '8.4', kernel: '4.18.0-305.40.1.el8_4', archs: 'linux/amd64,linux/arm64' },
        { rhel: '9.4', kernel: '5.14.0-427.68.1.el9_4', archs: 'linux/amd64' },
      ],
    });
  });
});

describe('formatTable', () => {
  it('lists each kernel with its releases', () => {
    const out = formatTable(report([record('5.14.0-427.68.1.el9_4.x86_64', 'x86_64', '9.4')]));
    expect(out).toContain('5.14.0-427.68.1.el9_4.x86_64');
    expect(out).toContain('4.9.0');
  });
});
