import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildCoverageIndex, type CoverageIndex } from '#pipeline/coverage.ts';
import { driverSchema, type DriverInput } from '#pipeline/drivers.ts';
import type { StatusSnapshot } from '#pipeline/status.ts';
import { kernelsNamed, renderKernel, renderStatus, renderWide, terminalWidth, wantsColour, wrap } from '#cli/status-view.ts';
import { COVERAGE_STATES } from '#pipeline/coverage.ts';
import { renderCoveragePage } from '#pipeline/coverage-page.ts';
import { buildEntry, kernelEntry } from '../support/entries.ts';

const FAILED = '5.14.0-427.68.1.el9_4.aarch64';
const REASON =
  'CodeBuild FAILED in phase BUILD: the vermagic gate found gpu_driver.ko built for 5.14.0-427.13.1.el9_4.aarch64, not 5.14.0-427.68.1.el9_4.aarch64; see the build log for the compiler output of the partner Makefile';
const MANY_RELEASES = Array.from({ length: 31 }, (_, i) => `4.16.${i}`);

const driver = (input: Partial<DriverInput> & { name: string }) =>
  driverSchema.parse({ source: { type: 'inline', context: 'examples/driver' }, repository: `quay.io/partner/${input.name}`, ...input });

/** Kernels of four RHEL streams on two arches, with every build state, long release lists and a long failure reason. */
function snapshot(drivers: readonly string[]): StatusSnapshot {
  const kernels = [
    kernelEntry('6.12.0-55.9.1.el10_0.x86_64', { rhelVersion: '10.0', releases: ['5.0.0-ec.1', '5.0.0-ec.2'], channels: ['candidate-5.0'], prerelease: true }),
    kernelEntry('5.14.0-570.60.1.el9_6.x86_64', { rhelVersion: '9.6', rtKernel: '5.14.0-570.60.1.el9_6.x86_64+rt', releases: ['4.19.14', '4.19.15', '4.20.1', '4.20.2'] }),
    kernelEntry('5.14.0-570.60.1.el9_6.ppc64le', { arch: 'ppc64le', rhelVersion: '9.6', releases: ['4.20.2'] }),
    kernelEntry('5.14.0-427.68.1.el9_4.x86_64', { rtKernel: '5.14.0-427.68.1.el9_4.x86_64+rt', releases: MANY_RELEASES }),
    kernelEntry(FAILED, { kernel64k: `${FAILED}+64k`, releases: MANY_RELEASES }),
    kernelEntry('4.18.0-372.158.1.el8_6.x86_64', { rhelVersion: '8.6', releases: ['4.12.80'], channels: ['eus-4.12'] }),
  ];
  const digest = `sha256:${'c'.repeat(64)}`;
  return {
    generatedAt: '2025-06-01T00:00:00.000Z',
    kernels,
    releases: [],
    builds: [
      buildEntry('dtk', '5.14.0-570.60.1.el9_6.x86_64', 'succeeded', { digest }),
      buildEntry('dtk', '5.14.0-427.68.1.el9_4.x86_64', 'skipped', { detail: 'the target tag already existed' }),
      buildEntry('dtk', FAILED, 'failed', { detail: REASON }),
      buildEntry('dtk', '6.12.0-55.9.1.el10_0.x86_64', 'in-progress'),
      ...drivers.map((d) => buildEntry(`driver:${d}`, '5.14.0-570.60.1.el9_6.x86_64', 'succeeded', { digest })),
      ...drivers.map((d) => buildEntry(`driver:${d}`, '5.14.0-427.68.1.el9_4.x86_64', 'queued')),
    ],
    drivers: drivers.map((name) => driver({ name, arches: ['x86_64', 'aarch64'], channels: ['stable-*', 'candidate-*', 'eus-*'] })),
  };
}

const index = (drivers: readonly string[] = ['gpu', 'nic']): CoverageIndex => buildCoverageIndex(snapshot(drivers));
const lines = (text: string) => stripVTControlCharacters(text).trimEnd().split('\n');
const widest = (text: string) => Math.max(...lines(text).map((l) => [...l].length));
const plain = { colour: false };

describe('what was signed', () => {
  const FP = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase()).join(':');
  const KEY = 'arn:aws:kms:us-east-1:123456789012:key/5678abcd-12ab-34cd-56ef-1234567890ab';
  const signed = (): CoverageIndex => {
    const s = snapshot(['gpu']);
    return buildCoverageIndex({
      ...s,
      builds: s.builds.map((b) => (b.target === 'driver:gpu' && b.state === 'succeeded' ? { ...b, signed: { modulesBy: FP, imageKey: KEY } } : b)),
    });
  };

  it('the table names the certificate and the image key under the legend, with how many images', () => {
    const out = lines(renderStatus(signed(), { missing: false }, { ...plain, width: 200 }));
    expect(out).toContain(`  modules signed (1 image) by certificate SHA256 ${FP}`);
    expect(out).toContain(`  images signed (1) with KMS key ${KEY}`);
    expect(lines(renderStatus(index(['gpu']), { missing: false }, { ...plain, width: 200 })).some((l) => l.includes('signed'))).toBe(false);
  });

  it('--kernel prints what each image is signed with', () => {
    const idx = signed();
    const out = lines(renderKernel(idx, kernelsNamed(idx, '5.14.0-570.60.1.el9_6.x86_64'), { ...plain, width: 200 }));
    expect(out).toContain(`      signed  modules by certificate SHA256 ${FP}`);
    expect(out).toContain(`      signed  image with KMS key ${KEY}`);
  });
});

describe('status, one line per kernel', () => {
  for (const width of [80, 100, 120]) {
    it(`fits every line in ${width} columns, each kernel whole on a line of its own`, () => {
      const idx = index(['gpu-accelerator-driver', 'nic-offload', 'storage-fabric-module']);
      const out = renderStatus(idx, { missing: false }, { width, ...plain });
      expect(widest(out)).toBeLessThanOrEqual(width);
      for (const k of idx.kernels) expect(lines(out).some((l) => l.startsWith(`${k.kernel} `))).toBe(true);
    });
  }

  it('prints the failure reason whole, wrapped, with the kernel and target it belongs to', () => {
    const out = renderStatus(index(), { missing: false }, { width: 80, ...plain });
    expect(widest(out)).toBeLessThanOrEqual(80);
    const failures = lines(out).slice(lines(out).findIndex((l) => l.startsWith('failed builds (1;')) + 1);
    const text = failures.join(' ').replace(/\s+/g, ' ');
    expect(text).toContain(`${FAILED} DTK: ${REASON}`);
  });

  it('puts driver names in the header when they fit, else d1, d2 … with a key', () => {
    const names = ['gpu-accelerator-driver', 'nic-offload', 'storage-fabric-module'];
    const wide = lines(renderStatus(index(names), { missing: false }, { width: 160, ...plain }));
    expect(wide[0]).toMatch(/^kernel +DTK +gpu-accelerator-driver +nic-offload +storage-fabric-module +pre +releases$/);
    const narrow = lines(renderStatus(index(names), { missing: false }, { width: 80, ...plain }));
    expect(narrow[0]).toMatch(/^kernel +DTK +d1 +d2 +d3 +pre +releases$/);
    expect(narrow).toContain('d1 gpu-accelerator-driver  d2 nic-offload  d3 storage-fabric-module');
  });

  it('shows a mark per target under its column, and a legend of the marks shown', () => {
    const out = lines(renderStatus(index(), { missing: false }, { width: 100, ...plain }));
    const header = out[0] ?? '';
    const row = (kernel: string) => out.find((l) => l.startsWith(`${kernel} `)) ?? '';
    const at = (kernel: string, column: string) => [...row(kernel)][header.indexOf(column)];
    expect(at('5.14.0-570.60.1.el9_6.x86_64', 'DTK')).toBe('✓');
    expect(at('5.14.0-427.68.1.el9_4.x86_64', 'DTK')).toBe('=');
    expect(at(FAILED, 'DTK')).toBe('✗');
    expect(at('6.12.0-55.9.1.el10_0.x86_64', 'DTK')).toBe('…');
    expect(at('5.14.0-427.68.1.el9_4.x86_64', 'gpu')).toBe('…');
    expect(at('5.14.0-570.60.1.el9_6.ppc64le', 'gpu')).toBe('-');
    expect(at('4.18.0-372.158.1.el8_6.x86_64', 'gpu')).toBe('○');
    expect(row('6.12.0-55.9.1.el10_0.x86_64')).toMatch(/ pre +5\.0\.0-ec\.1 5\.0\.0-ec\.2$/);
    expect(out).toContain('✓ built   = already pushed   … queued or building   ○ not built yet   ✗ failed   - does not apply');
    expect(out).toContain('pre: shipped only by pre-releases so far');
  });

  it('abbreviates a long list of releases to the oldest and newest with their count', () => {
    const out = lines(renderStatus(index(), { missing: false }, { width: 100, ...plain }));
    expect(out.find((l) => l.startsWith('5.14.0-427.68.1.el9_4.x86_64 '))).toMatch(/ 4\.16\.0 … 4\.16\.30 \(31\)$/);
    expect(out.find((l) => l.startsWith('5.14.0-570.60.1.el9_6.x86_64 '))).toMatch(/ 4\.19\.14 4\.19\.15 4\.20\.1 4\.20\.2$/);
  });

  it('--missing keeps only kernels with a DTK or matching driver image not available', () => {
    const out = lines(renderStatus(index(), { missing: true }, { width: 100, ...plain }));
    expect(out.some((l) => l.startsWith('5.14.0-570.60.1.el9_6.x86_64 '))).toBe(false);
    expect(out.some((l) => l.startsWith(`${FAILED} `))).toBe(true);
  });

  it('names a state it does not know in the legend instead of hiding it', () => {
    const idx = index();
    const first = idx.kernels[0];
    if (!first) throw new Error('no kernels');
    const strange = { ...idx, kernels: [{ ...first, dtk: { ...first.dtk, state: 'quarantined' } }] } as unknown as CoverageIndex;
    const out = lines(renderStatus(strange, { missing: false }, { width: 100, ...plain }));
    expect(out[1]).toMatch(/^\S+ +\? /);
    expect(out.join('\n')).toContain('? quarantined');
  });

  it('marks a simulated build (the local run) as not built', () => {
    const idx = index();
    const first = idx.kernels[0];
    if (!first) throw new Error('no kernels');
    const simulated = { ...idx, kernels: [{ ...first, dtk: { ...first.dtk, state: 'simulated', covered: false } }] } as CoverageIndex;
    const out = lines(renderStatus(simulated, { missing: false }, { width: 100, ...plain }));
    expect(out[1]).toMatch(/^\S+ +~ /);
    expect(out.join('\n')).toContain('~ simulated by the local run, not built');
  });

  it('colours marks only when asked, and the colours do not change the layout', () => {
    const coloured = renderStatus(index(), { missing: false }, { width: 100, colour: true });
    const uncoloured = renderStatus(index(), { missing: false }, { width: 100, colour: false });
    expect(coloured).toContain('\u001b[31m✗');
    expect(uncoloured).not.toContain('\u001b');
    expect(stripVTControlCharacters(coloured)).toBe(uncoloured);
  });
});

describe('status and the coverage page show a state alike', () => {
  it('with the same mark and label for every state (the legend of status, the badge of the page)', () => {
    const idx = index(['gpu']);
    const first = idx.kernels[0];
    if (!first) throw new Error('no kernels');
    for (const state of COVERAGE_STATES) {
      const one = { ...idx, kernels: [{ ...first, dtk: { ...first.dtk, state, builds: [] }, drivers: {} }] } as CoverageIndex;
      const out = lines(renderStatus(one, { missing: false }, { width: 200, ...plain }));
      const mark = /^\S+ +(\S) /.exec(out[1] ?? '')?.[1];
      const legend = out.flatMap((l) => l.split(/ {3}/)).find((entry) => entry.startsWith(`${mark} `));
      const label = legend?.slice(2);
      expect(label, state).toBeTruthy();
      // The page's badge for the DTK cell of this kernel: the same mark, the same label capitalised.
      const page = renderCoveragePage(one);
      const badge = /<td class="target" data-target="dtk"[^>]*><span class="badge [a-z]+">([^<]*)<\/span>/.exec(page)?.[1];
      expect(badge, state).toBe(`${mark} ${label!.charAt(0).toUpperCase()}${label!.slice(1)}`);
    }
  });
});

describe('status --kernel', () => {
  it('finds a kernel by its name, a flavour, or its version on every arch', () => {
    const idx = index();
    expect(kernelsNamed(idx, FAILED).map((k) => k.kernel)).toEqual([FAILED]);
    expect(kernelsNamed(idx, '5.14.0-427.68.1.el9_4.x86_64+rt').map((k) => k.kernel)).toEqual(['5.14.0-427.68.1.el9_4.x86_64']);
    expect(kernelsNamed(idx, '5.14.0-427.68.1.el9_4').map((k) => k.kernel).sort()).toEqual([FAILED, '5.14.0-427.68.1.el9_4.x86_64']);
    expect(kernelsNamed(idx, '5.14.0-1.el9')).toEqual([]);
  });

  it('prints every release, image, digest and reason, wrapped to 80 columns except the references to copy', () => {
    const idx = index();
    const out = renderKernel(idx, kernelsNamed(idx, '5.14.0-427.68.1.el9_4'), { width: 80, ...plain });
    const text = lines(out);
    for (const l of text.filter((x) => !/^ +(image +|digest +)?[\w.:/-]+[@:][\w:.-]+$/.test(x))) expect([...l].length).toBeLessThanOrEqual(80);
    expect(text.join(' ').replace(/\s+/g, ' ')).toContain(`reason ${REASON}`);
    expect(text.join(' ').replace(/\s+/g, ' ')).toContain(MANY_RELEASES.join(' '));
    expect(text).toContain('      image   quay.io/partner/gpu:5.14.0-427.68.1.el9_4.x86_64');
    expect(out).toMatch(/^ {2}nic \(version 1\) {2}… queued \(not covered yet\)$/m);
  });
});

describe('status --wide', () => {
  it('prints the images of covered targets, with no colour codes when not on a terminal', () => {
    const out = renderWide(index(), { missing: false }, plain);
    expect(out).toContain('quay.io/partner/gpu:5.14.0-570.60.1.el9_6.x86_64');
    expect(out).not.toContain('\u001b');
  });
});

describe('the terminal', () => {
  it('takes the width of a terminal, else $COLUMNS, else 100', () => {
    expect(terminalWidth({ isTTY: true, columns: 132 }, { COLUMNS: '90' })).toBe(132);
    expect(terminalWidth({}, { COLUMNS: '90' })).toBe(90);
    expect(terminalWidth({}, { COLUMNS: 'wide' })).toBe(100);
    expect(terminalWidth({}, {})).toBe(100);
  });

  it('colours only a terminal that has colours, and never with NO_COLOR', () => {
    const tty = { isTTY: true, hasColors: () => true };
    expect(wantsColour(tty, {})).toBe(true);
    expect(wantsColour(tty, { NO_COLOR: '1' })).toBe(false);
    expect(wantsColour({ isTTY: true, hasColors: () => false }, {})).toBe(false);
    expect(wantsColour({ hasColors: () => true }, {})).toBe(false);
  });

  it('wraps at spaces and keeps a word longer than the line whole', () => {
    expect(wrap('aaa bbb ccc', 7, '  ')).toEqual(['  aaa', '  bbb', '  ccc']);
    expect(wrap(`x ${'y'.repeat(20)} z`, 10)).toEqual(['x', 'y'.repeat(20), 'z']);
  });
});
