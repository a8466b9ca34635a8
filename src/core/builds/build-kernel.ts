/**
 * The kernel a build targets.
 *
 * Production builds accept only RHEL kernels, validated by `parseKernel`. The build
 * tests on this machine compile against a Debian kernel's headers (no RHEL content can
 * be fetched here), so a second, documented pattern is accepted only when the caller
 * opts in with `allowTestKernels` (the scripts map `ALLOW_TEST_KERNELS=true` to it;
 * the pipeline never sets it):
 *
 *   6.1.0-50-amd64          Debian: <x>.<y>.<z>-<abi>-<amd64|arm64>
 *   6.1.0-50-cloud-amd64    Debian flavour (treated as a base kernel)
 */
import type { KernelArch } from '../arch.ts';
import { kernelWithoutArch, parseKernel, quoteUntrusted, type KernelFlavour } from '../kernel.ts';

export interface BuildKernel {
  /** `uname -r`, exactly as given. */
  readonly full: string;
  readonly arch: KernelArch;
  readonly flavour: KernelFlavour;
  /** The kernel without arch and flavour suffix (`5.14.0-427.68.1.el9_4`, test: `6.1.0-50`). */
  readonly withoutArch: string;
  /** KMM's `${KERNEL_X}`, `${KERNEL_Y}`, `${KERNEL_Z}`. */
  readonly x: number;
  readonly y: number;
  readonly z: number;
  /** RHEL major and minor (minor undefined when the kernel does not encode it); undefined for test kernels. */
  readonly rhel?: { readonly major: number; readonly minor?: number };
  /** True for a kernel accepted only by the test pattern. */
  readonly test: boolean;
}

/** Debian kernel releases, accepted only with `allowTestKernels`. */
export const TEST_KERNEL_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})-(\d{1,4})-(?:(cloud|rt)-)?(amd64|arm64)$/;

const DEBIAN_ARCH: Readonly<Record<string, KernelArch>> = { amd64: 'x86_64', arm64: 'aarch64' };

export interface ParseBuildKernelOptions {
  /** Also accept `TEST_KERNEL_PATTERN` (Debian kernels). Never set by the pipeline. @default false */
  readonly allowTestKernels?: boolean;
}

/** Parses a build's kernel, or throws an Error naming the value and the accepted forms. */
export function parseBuildKernel(value: string, options: ParseBuildKernelOptions = {}): BuildKernel {
  const kernel = parseKernel(value);
  if (kernel !== undefined) {
    return {
      full: kernel.full,
      arch: kernel.arch,
      flavour: kernel.flavour,
      withoutArch: kernelWithoutArch(kernel),
      x: kernel.x,
      y: kernel.y,
      z: kernel.z,
      rhel: { major: kernel.rhelMajor, ...(kernel.rhelMinor === undefined ? {} : { minor: kernel.rhelMinor }) },
      test: false,
    };
  }
  const m = options.allowTestKernels ? TEST_KERNEL_PATTERN.exec(value) : null;
  if (m !== null) {
    const [, x, y, z, abi, debianFlavour, debianArch] = m;
    return {
      full: value,
      arch: DEBIAN_ARCH[debianArch ?? ''] ?? 'x86_64',
      flavour: debianFlavour === 'rt' ? 'rt' : 'base',
      withoutArch: `${x}.${y}.${z}-${abi}`,
      x: Number(x),
      y: Number(y),
      z: Number(z),
      test: true,
    };
  }
  const accepted = options.allowTestKernels
    ? 'a RHEL kernel (like 5.14.0-427.68.1.el9_4.x86_64) or a Debian test kernel (like 6.1.0-50-amd64)'
    : 'a RHEL kernel `uname -r`, like 5.14.0-427.68.1.el9_4.x86_64 or 5.14.0-427.68.1.el9_4.x86_64+rt';
  throw new Error(`${quoteUntrusted(value)} is not ${accepted}`);
}
