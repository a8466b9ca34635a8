/**
 * The scan's outputs: a table for people, JSON for scripts, and the one-line
 * GitHub Actions matrix that existing DTK image libraries consume.
 */
import Table from 'cli-table3';
import { platformOf } from '#core/arch.ts';
import type { KernelArch } from '#core/arch.ts';
import { compareKernels, kernelWithoutArch, parseKernel } from '#core/kernel.ts';
import type { ScanReport } from '#core/scan.ts';
import { escapeControlCharacters } from '#core/text.ts';

export const FORMATS = ['table', 'json', 'matrix'] as const;
export type Format = (typeof FORMATS)[number];

/** No colour codes: the output is often a file or a pipe. */
const PLAIN = { head: [], border: [] };

/** Every string is validated when read; escaping again here keeps a missed one off the terminal. */
export function formatJson(report: ScanReport): string {
  return `${escapeControlCharacters(JSON.stringify(report, null, 2))}\n`;
}

/** `{"versions":[{"rhel":"8.4","kernel":"4.18.0-305.40.1.el8_4","archs":"linux/amd64,linux/arm64"}]}` */
export function formatMatrix(report: ScanReport): string {
  const byKernel = new Map<string, { rhel: string; archs: Set<KernelArch> }>();
  for (const record of report.kernels) {
    const kernel = parseKernel(record.kernel);
    if (!kernel) continue;
    const key = kernelWithoutArch(kernel);
    const entry = byKernel.get(key) ?? { rhel: record.rhelVersion ?? String(kernel.rhelMajor), archs: new Set<KernelArch>() };
    entry.archs.add(record.arch);
    byKernel.set(key, entry);
  }
  const order: readonly KernelArch[] = ['x86_64', 'aarch64', 's390x', 'ppc64le'];
  const versions = [...byKernel.entries()]
    .sort(([a], [b]) => compareKernels(a, b))
    .map(([kernel, { rhel, archs }]) => ({
      rhel,
      kernel,
      archs: order.filter((a) => archs.has(a)).map(platformOf).join(','),
    }));
  return `${JSON.stringify({ versions })}\n`;
}

export function formatTable(report: ScanReport): string {
  const kernels = new Table({ head: ['kernel', 'arch', 'RHEL', 'RT / 64k', 'releases', 'pre', 'RHCOS'], style: PLAIN });
  for (const k of report.kernels) {
    kernels.push([
      k.kernel,
      k.arch,
      k.rhelVersion ?? '?',
      k.rtKernel ?? k.kernel64k ?? '',
      abbreviate(k.releases),
      k.prerelease ? 'yes' : '',
      abbreviate(k.rhcosVersions, 2),
    ]);
  }
  let out = `${escapeControlCharacters(kernels.toString())}\n`;
  const withFindings = report.releases.filter((r) => r.findings.length > 0);
  if (withFindings.length > 0) {
    const findings = new Table({ head: ['release', 'arch', 'finding', 'detail'], colWidths: [18, 9, 24, 80], wordWrap: true, style: PLAIN });
    for (const r of withFindings) for (const f of r.findings) findings.push([r.version, r.arch, f.code, f.message]);
    out += `${escapeControlCharacters(findings.toString())}\n`;
  }
  return out;
}

function abbreviate(values: readonly string[], keep = 4): string {
  return values.length <= keep ? values.join(' ') : `${values.slice(0, keep).join(' ')} …+${values.length - keep}`;
}

export function render(report: ScanReport, format: Format): string {
  switch (format) {
    case 'json':
      return formatJson(report);
    case 'matrix':
      return formatMatrix(report);
    case 'table':
      return formatTable(report);
  }
}
