/**
 * What a DTK image for one kernel and arch installs (docs/images.md), as data: the
 * package list, the repositories to enable, and the `/etc/driver-toolkit-release.json`
 * it writes. `scripts/build/build-dtk.sh` writes this plan into the build context
 * (`dtk-pipeline validate-build-env --kind dtk --write-context DIR`), and
 * `images/dtk/install.sh` installs exactly that inside the UBI build.
 *
 * Versions are pinned: every kernel package is `name-<version>-<release>.<arch>` of the
 * target kernel, so dnf fails loudly instead of installing a newer kernel (the
 * okd#2350 fault). gcc is matched to the kernel inside the build (`install.sh` reads
 * the compiler from the installed kernel's config), since only the RPM knows it.
 *
 * Facts and choices:
 * - kernel-devel-matched exists from RHEL 9.
 * - RT (x86_64): from RHEL 9.3 kernel-rt is built from the kernel's own source and has
 *   the same version (`uname -r` …`+rt`), so its packages are derived; before 9.3 the RT
 *   version (`…rt14.330.el9_2`) is independent and must be given (`RT_KERNEL`), else
 *   no RT packages are installed and the release file has no RT field (like 4.12.z DTKs
 *   built after Oct 2025).
 * - 64k (aarch64): kernel-64k-* from RHEL 9.2, same version as the base kernel.
 * - kernel-abi-stablelists was called kernel-abi-whitelists before RHEL 8.6 (*unsure*
 *   of the exact minor: 8.6 kernels provide both names, so 8.6+ uses the new one).
 * - mokutil exists on x86_64 and aarch64 only; the pipeline builds only those arches.
 */
import type { KernelArch } from '../arch.ts';
import { parseKernel, quoteUntrusted } from '../kernel.ts';
import type { BuildKernel } from './build-kernel.ts';

export interface RhelVersion {
  readonly major: number;
  /** Undefined for early and pre-release kernels (`5.14.0-252.el9`): treated as the newest minor. */
  readonly minor?: number;
}

export interface DtkPlanInput {
  /** A base-flavour RHEL kernel. */
  readonly kernel: BuildKernel;
  readonly rhel: RhelVersion;
  /** The RT kernel `uname -r` (x86_64 only). @default - derived from the kernel from RHEL 9.3; none before */
  readonly rtKernel?: string;
}

/** The official DTK release file (`/etc/driver-toolkit-release.json`), key order as upstream writes it. */
export interface DtkReleaseFile {
  readonly KERNEL_VERSION: string;
  readonly RT_KERNEL_VERSION?: string;
  readonly RHEL_VERSION: string;
}

export interface DtkPlan {
  /** Pinned package specs for `dnf install`, in install order. */
  readonly packages: readonly string[];
  /** subscription-manager repository IDs that must be enabled. */
  readonly requiredRepos: readonly string[];
  /** Repository IDs enabled when the subscription has them (EUS, CodeReady Builder, RT). */
  readonly optionalRepos: readonly string[];
  /** `uname -r` of the RT kernel installed, when one is. */
  readonly rtKernel?: string;
  /** `uname -r` of the 64k kernel installed, when one is. */
  readonly kernel64k?: string;
  readonly releaseFile: DtkReleaseFile;
}

const KERNEL_SUBPACKAGES = ['kernel-core', 'kernel-devel', 'kernel-headers', 'kernel-modules', 'kernel-modules-extra'] as const;
const RT_SUBPACKAGES = ['kernel-rt-core', 'kernel-rt-devel', 'kernel-rt-modules', 'kernel-rt-modules-extra'] as const;
const K64_SUBPACKAGES = ['kernel-64k-core', 'kernel-64k-devel', 'kernel-64k-modules', 'kernel-64k-modules-extra'] as const;
/** Tools, unversioned (gcc is added by install.sh, matched to the kernel). */
export const DTK_TOOLS = [
  'elfutils-libelf-devel',
  'kmod',
  'binutils',
  'kabi-dw',
  'make',
  'git',
  'xz',
  'diffutils',
  'flex',
  'bison',
  'openssl',
  'keyutils',
  'mokutil',
] as const;

/** RHEL minors with Extended Update Support (the z-stream kernels OpenShift pins live there). */
function isEusMinor(rhel: RhelVersion): boolean {
  if (rhel.minor === undefined) return false;
  if (rhel.major === 8) return [1, 2, 4, 6, 8].includes(rhel.minor);
  return rhel.minor % 2 === 0;
}

function atLeast(rhel: RhelVersion, major: number, minor: number): boolean {
  return rhel.major > major || (rhel.major === major && (rhel.minor ?? Number.POSITIVE_INFINITY) >= minor);
}

/** `9.4`, or `9` when the minor is unknown. */
export function formatRhelVersion(rhel: RhelVersion): string {
  return rhel.minor === undefined ? String(rhel.major) : `${rhel.major}.${rhel.minor}`;
}

function rtKernelOf(input: DtkPlanInput): string | undefined {
  const { kernel, rhel, rtKernel } = input;
  if (kernel.arch !== 'x86_64') {
    if (rtKernel !== undefined) throw new Error(`RT_KERNEL is for x86_64 only; ${kernel.full} is ${kernel.arch}`);
    return undefined;
  }
  if (rtKernel === undefined) return atLeast(rhel, 9, 3) ? `${kernel.withoutArch}.x86_64+rt` : undefined;
  const rt = parseKernel(rtKernel);
  if (rt === undefined || rt.flavour !== 'rt' || rt.arch !== 'x86_64') {
    throw new Error(`RT_KERNEL ${quoteUntrusted(rtKernel)} is not an x86_64 real-time kernel (like 5.14.0-284.45.1.rt14.330.el9_2.x86_64)`);
  }
  if (rt.version !== `${kernel.x}.${kernel.y}.${kernel.z}` || rt.rhelMajor !== rhel.major || (rt.rhelMinor ?? rhel.minor) !== rhel.minor) {
    throw new Error(`RT_KERNEL ${rtKernel} does not belong to ${kernel.full} (RHEL ${formatRhelVersion(rhel)})`);
  }
  return rt.full;
}

/** `name-<version>-<release>.<arch>` for a package of the kernel `uname` (flavour suffix dropped). */
function nevra(name: string, uname: string): string {
  return `${name}-${uname.replace(/\+(rt|64k)$/, '')}`;
}

function repoIds(rhel: RhelVersion, arch: KernelArch, rt: boolean): { required: string[]; optional: string[] } {
  const m = rhel.major;
  const required = [`rhel-${m}-for-${arch}-baseos-rpms`, `rhel-${m}-for-${arch}-appstream-rpms`];
  const optional = [`codeready-builder-for-rhel-${m}-${arch}-rpms`];
  if (isEusMinor(rhel)) {
    optional.push(`rhel-${m}-for-${arch}-baseos-eus-rpms`, `rhel-${m}-for-${arch}-appstream-eus-rpms`, `codeready-builder-for-rhel-${m}-${arch}-eus-rpms`);
  }
  if (rt) optional.push(`rhel-${m}-for-${arch}-rt-rpms`);
  return { required, optional };
}

/** The packages, repositories and release file of the DTK image for `input.kernel`. */
export function planDtk(input: DtkPlanInput): DtkPlan {
  const { kernel, rhel } = input;
  if (kernel.test || kernel.rhel === undefined) throw new Error(`${kernel.full} is not a RHEL kernel: DTK images are built for RHEL kernels only`);
  if (kernel.flavour !== 'base') {
    throw new Error(`${kernel.full} is a ${kernel.flavour} kernel: a DTK is built for the base kernel and carries its RT/64k packages`);
  }
  if (kernel.arch !== 'x86_64' && kernel.arch !== 'aarch64') throw new Error(`DTK images are built for x86_64 and aarch64, not ${kernel.arch}`);
  if (kernel.rhel.major !== rhel.major || (kernel.rhel.minor !== undefined && kernel.rhel.minor !== rhel.minor)) {
    throw new Error(`RHEL_VERSION ${formatRhelVersion(rhel)} does not match kernel ${kernel.full}`);
  }
  if (rhel.major < 8 || rhel.major > 10) throw new Error(`RHEL ${rhel.major} is not supported (UBI 8, 9 and 10 only)`);

  const packages: string[] = KERNEL_SUBPACKAGES.map((name) => nevra(name, kernel.full));
  if (rhel.major >= 9) packages.push(nevra('kernel-devel-matched', kernel.full));
  const stablelists = atLeast(rhel, 8, 6) ? 'kernel-abi-stablelists' : 'kernel-abi-whitelists';
  packages.push(`${stablelists}-${kernel.withoutArch}`); // noarch

  const rtKernel = rtKernelOf(input);
  if (rtKernel !== undefined) packages.push(...RT_SUBPACKAGES.map((name) => nevra(name, rtKernel)));

  const kernel64k = kernel.arch === 'aarch64' && atLeast(rhel, 9, 2) ? `${kernel.withoutArch}.aarch64+64k` : undefined;
  if (kernel64k !== undefined) packages.push(...K64_SUBPACKAGES.map((name) => nevra(name, kernel64k)));

  packages.push(...DTK_TOOLS);
  const repos = repoIds(rhel, kernel.arch, rtKernel !== undefined);
  return {
    packages,
    requiredRepos: repos.required,
    optionalRepos: repos.optional,
    ...(rtKernel === undefined ? {} : { rtKernel }),
    ...(kernel64k === undefined ? {} : { kernel64k }),
    releaseFile: {
      KERNEL_VERSION: kernel.full,
      ...(rtKernel === undefined ? {} : { RT_KERNEL_VERSION: rtKernel }),
      RHEL_VERSION: formatRhelVersion(rhel),
    },
  };
}

/** The release file as upstream formats it: one JSON object on one line. */
export function renderReleaseFile(file: DtkReleaseFile): string {
  return `${JSON.stringify(file)}\n`;
}
