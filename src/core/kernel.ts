/**
 * Kernel release strings (`uname -r`), parsed and validated strictly.
 *
 * Remote data (image labels, files inside images) is the only source of these
 * strings, and they later reach shells in build jobs and image tags. Nothing that
 * fails `parseKernel` may be passed on.
 *
 * Forms accepted (docs/kernels.md):
 *   5.14.0-427.68.1.el9_4.x86_64          base
 *   5.14.0-427.68.1.el9_4.x86_64+rt       real-time, RHEL ≥ 9.3
 *   4.18.0-305.17.1.rt7.89.el8_4.x86_64   real-time, before RHEL 9.3
 *   5.14.0-284.41.1.el9_2.aarch64+64k     64k-page aarch64
 *   5.14.0-252.el9.x86_64                 early/pre-release: no RHEL minor
 */
import type { KernelArch } from './arch.ts';
import { KERNEL_ARCHES } from './arch.ts';
import { printable } from './text.ts';

export type KernelFlavour = 'base' | 'rt' | '64k';

export interface Kernel {
  /** The whole string, as `uname -r` prints it. */
  readonly full: string;
  /** `5.14.0` */
  readonly version: string;
  /** `427.68.1.el9_4` (includes `rt7.89.` for old RT kernels) */
  readonly release: string;
  readonly arch: KernelArch;
  readonly flavour: KernelFlavour;
  readonly rhelMajor: number;
  /** Undefined when the release has no `_Y` (early and pre-release kernels). */
  readonly rhelMinor?: number;
  /** KMM's `${KERNEL_X}`, `${KERNEL_Y}`, `${KERNEL_Z}`. */
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

const MAX_LENGTH = 128;

// version - release(.rtN.M)? .elX(_Y)? . arch (+rt|+64k)?
const KERNEL_PATTERN =
  /^(?<x>\d{1,3})\.(?<y>\d{1,3})\.(?<z>\d{1,3})-(?<release>\d{1,6}(?:\.\d{1,6}){0,4}(?<rt>\.rt\d{1,4}(?:\.\d{1,6}){0,3})?\.el(?<major>\d{1,2})(?:_(?<minor>\d{1,2}))?)\.(?<arch>x86_64|aarch64|s390x|ppc64le)(?<suffix>\+rt|\+64k)?$/;

/** Parses a kernel string, or returns undefined when it is not one. */
export function parseKernel(value: string): Kernel | undefined {
  if (value.length > MAX_LENGTH) return undefined;
  const m = KERNEL_PATTERN.exec(value);
  const g = m?.groups;
  if (!g || !g.x || !g.y || !g.z || !g.release || !g.major || !g.arch) return undefined;
  const arch = g.arch as KernelArch;
  if (!KERNEL_ARCHES.includes(arch)) return undefined;
  let flavour: KernelFlavour = 'base';
  if (g.suffix === '+rt' || g.rt) flavour = 'rt';
  if (g.suffix === '+64k') {
    if (arch !== 'aarch64') return undefined; // 64k pages exist only on aarch64
    flavour = '64k';
  }
  if (g.suffix === '+rt' && g.rt) return undefined; // never both spellings at once
  return {
    full: value,
    version: `${g.x}.${g.y}.${g.z}`,
    release: g.release,
    arch,
    flavour,
    rhelMajor: Number(g.major),
    ...(g.minor === undefined ? {} : { rhelMinor: Number(g.minor) }),
    x: Number(g.x),
    y: Number(g.y),
    z: Number(g.z),
  };
}

/** Shows an untrusted value in a message without letting it forge output. */
export function quoteUntrusted(value: unknown): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return printable(s, 160);
}

/** `RHEL X.Y` from the kernel's `elX_Y`, or just `X` when the minor is not encoded. */
export function rhelVersionOf(kernel: Kernel): string {
  return kernel.rhelMinor === undefined ? String(kernel.rhelMajor) : `${kernel.rhelMajor}.${kernel.rhelMinor}`;
}

/** The kernel string without `.arch` and flavour suffix: `5.14.0-427.68.1.el9_4`. */
export function kernelWithoutArch(kernel: Kernel): string {
  return `${kernel.version}-${kernel.release}`;
}

/**
 * The `uname -r` of a flavoured kernel built from the same source as `base`.
 * From RHEL 9.3 RT kernels share the base version and end in `+rt`; 64k kernels
 * always end in `+64k`.
 */
export function flavouredKernel(base: Kernel, flavour: Exclude<KernelFlavour, 'base'>): string {
  return `${base.version}-${base.release}.${base.arch}+${flavour}`;
}

/**
 * Converts an RPM `[epoch:]version-release.arch` (as in extensions.json or an
 * rpmdb list) of a flavoured kernel package into its `uname -r`.
 */
export function unameFromPackage(evra: string, flavour: KernelFlavour): string {
  const withoutEpoch = evra.replace(/^\d+:/, '');
  if (flavour === 'base') return withoutEpoch;
  if (flavour === 'rt' && /\.rt\d/.test(withoutEpoch)) return withoutEpoch; // old RT naming
  return `${withoutEpoch}+${flavour}`;
}

/**
 * A kernel string as an image tag, by KMM's rule: every character outside
 * `[A-Za-z0-9._-]` becomes `_` (`…x86_64+rt` → `…x86_64_rt`).
 */
export function kernelTag(kernel: string): string {
  return kernel.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Orders kernel strings by version numbers, then release numbers. */
export function compareKernels(a: string, b: string): number {
  const ka = a.split(/[^0-9]+/).filter(Boolean).map(Number);
  const kb = b.split(/[^0-9]+/).filter(Boolean).map(Number);
  for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
    const d = (ka[i] ?? -1) - (kb[i] ?? -1);
    if (d !== 0) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
