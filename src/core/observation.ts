/**
 * What one source (an image label, a file in an image) says about a kernel
 * stream. Each reader validates what it reads before it becomes an observation:
 * a value that is not a kernel string becomes a finding instead.
 */
import type { KernelArch } from './arch.ts';
import type { Finding } from './findings.ts';
import type { Kernel, KernelFlavour } from './kernel.ts';
import { parseKernel, quoteUntrusted } from './kernel.ts';
import { parseRhcosVersion } from './versions.ts';

export interface Observation {
  /** Human-readable origin, e.g. `rhel-coreos label ostree.linux`. */
  readonly source: string;
  readonly kernel?: Kernel;
  readonly rtKernel?: Kernel;
  readonly kernel64k?: Kernel;
  readonly rhelVersion?: string;
  readonly rhcosVersion?: string;
  readonly findings: readonly Finding[];
}

/** Collects an observation field by field, validating as it goes. */
export class ObservationBuilder {
  private readonly fields: {
    kernel?: Kernel;
    rtKernel?: Kernel;
    kernel64k?: Kernel;
    rhelVersion?: string;
    rhcosVersion?: string;
  } = {};
  private readonly findings: Finding[] = [];

  constructor(
    private readonly source: string,
    private readonly arch: KernelArch,
  ) {}

  /**
   * Accepts `value` as the stream's kernel of `flavour` if it is a valid kernel
   * string of this architecture and flavour; otherwise records a finding.
   * Empty or absent values are ignored.
   */
  kernel(value: unknown, flavour: KernelFlavour, where: string): this {
    if (value === undefined || value === null || value === '') return this;
    const source = `${this.source} ${where}`;
    const parsed = typeof value === 'string' ? parseKernel(value) : undefined;
    const code = flavour === 'rt' ? 'invalid-rt-kernel' : 'invalid-kernel-string';
    if (!parsed) {
      this.findings.push({ code, source, message: `${source} holds ${quoteUntrusted(value)}, which is not a kernel version; ignored` });
      return this;
    }
    if (parsed.arch !== this.arch || parsed.flavour !== flavour) {
      this.findings.push({
        code,
        source,
        message: `${source} holds ${quoteUntrusted(value)}, expected a ${flavour} kernel for ${this.arch}; ignored`,
      });
      return this;
    }
    if (flavour === 'base') this.fields.kernel ??= parsed;
    else if (flavour === 'rt') this.fields.rtKernel ??= parsed;
    else this.fields.kernel64k ??= parsed;
    return this;
  }

  rhcosVersion(value: unknown): this {
    if (typeof value === 'string' && parseRhcosVersion(value)) this.fields.rhcosVersion ??= value;
    return this;
  }

  rhelVersion(value: unknown): this {
    if (typeof value === 'string' && /^\d{1,2}(\.\d{1,2})?$/.test(value)) this.fields.rhelVersion ??= value;
    return this;
  }

  finding(finding: Finding): this {
    this.findings.push(finding);
    return this;
  }

  build(): Observation {
    return { source: this.source, ...this.fields, findings: this.findings };
  }
}
