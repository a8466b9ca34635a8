/**
 * A big, realistic world for benchmarks: OpenShift 4.12–4.22 with engineering and release
 * candidates and many z-streams, channels candidate/fast/stable/eus, kernels shared by 2–5
 * consecutive z-streams, RT kernels on amd64 and 64k kernels on arm64 (4.15 →), a second,
 * RHEL 10 Tech Preview stream without DTK in 4.21 and 4.22, 4.22 pre-releases whose node
 * images hold meta.json before their last layer (openshift/os 53c2138), and OKD releases
 * (`stable-scos-4`, CentOS Stream kernels, one DTK built for another kernel; about one in
 * twelve releases). Deterministic for a given seed.
 */
import { buildRelease, type BuildReleaseArchOptions, type KernelStreamFacts } from './eras.ts';
import type { GoArch, ReleaseSpec, WorldSpec } from './spec.ts';

export interface GenerateWorldOptions {
  /** Number of releases (each with every arch). */
  readonly releases: number;
  /** @default ['amd64', 'arm64'] */
  readonly arches?: readonly GoArch[];
  /** PRNG seed. @default 1 */
  readonly seed?: number;
}

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MINORS = [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22] as const;

interface KernelLine {
  /** e.g. `4.18.0-372` */
  readonly base: string;
  /** `el8_6` */
  readonly el: string;
  /** RT before RHEL 9.3: `rt7.` / `rt14.` prefix; undefined → `+rt`. */
  readonly rtPrefix?: string;
}

function kernelLine(minor: number, rhel10: boolean): KernelLine {
  if (rhel10) return minor === 21 ? { base: '6.12.0-124', el: 'el10_1' } : { base: '6.12.0-211', el: 'el10_2' };
  if (minor === 12) return { base: '4.18.0-372', el: 'el8_6', rtPrefix: 'rt7' };
  if (minor <= 15) return { base: '5.14.0-284', el: 'el9_2', rtPrefix: 'rt14' };
  if (minor <= 18) return { base: '5.14.0-427', el: 'el9_4' };
  if (minor <= 21) return { base: '5.14.0-570', el: 'el9_6' };
  return { base: '5.14.0-687', el: 'el9_8' };
}

function ymd(date: Date): string {
  return date.toISOString().slice(0, 10).replace(/-/g, '');
}

function rhcosVersion(minor: number, date: Date, rhel10: boolean, n: number): string {
  if (rhel10) return `${minor === 21 ? '10.1' : '10.2'}.${ymd(date)}-${n}`;
  if (minor >= 19) return `${minor <= 21 ? '9.6' : '9.8'}.${ymd(date)}-${n}`;
  const rhel = minor === 12 ? '86' : minor <= 15 ? '92' : '94';
  const hhmm = String(1000 + ((date.getTime() / 60000) % 1300)).slice(-4);
  return `4${minor}.${rhel}.${ymd(date)}${hhmm}-${n}`;
}

function streamFacts(
  line: KernelLine,
  build: number,
  arch: GoArch,
  minor: number,
  rhcos: string,
  rtSerial: number,
): KernelStreamFacts {
  const uarch = arch === 'amd64' ? 'x86_64' : arch === 'arm64' ? 'aarch64' : arch;
  const kernel = `${line.base}.${build}.1.${line.el}.${uarch}`;
  const facts: { -readonly [K in keyof KernelStreamFacts]: KernelStreamFacts[K] } = { rhcosVersion: rhcos, kernel };
  if (arch === 'amd64') {
    facts.rtKernel = line.rtPrefix
      ? `${line.base}.${build}.1.${line.rtPrefix}.${rtSerial}.${line.el}.x86_64`
      : `${kernel}+rt`;
  }
  if (arch === 'arm64' && minor >= 15) facts.kernel64k = `${kernel}+64k`;
  return facts;
}

export function generateWorld(opts: GenerateWorldOptions): WorldSpec {
  const arches = opts.arches ?? ['amd64', 'arm64'];
  if (!(opts.releases > 0)) throw new Error(`releases must be positive, got ${opts.releases}`);
  const rand = prng(opts.seed ?? 1);
  const releases: ReleaseSpec[] = [];
  // Kernel build numbers per line, so lines shared by several minors never repeat a kernel.
  const nextBuild = new Map<string, number>();

  MINORS.forEach((minor, mi) => {
    const count = Math.floor(opts.releases / MINORS.length) + (mi < opts.releases % MINORS.length ? 1 : 0);
    if (count === 0) return;
    const mm = `4.${minor}`;
    const prereleases: string[] = [];
    if (count >= 8) prereleases.push(`${mm}.0-ec.1`, `${mm}.0-ec.2`, `${mm}.0-rc.1`, `${mm}.0-rc.2`);
    const versions = [...prereleases];
    for (let z = 0; versions.length < count; z++) versions.push(`${mm}.${z}`);
    const gaCount = versions.length - prereleases.length;
    const start = new Date(Date.UTC(2023, 0, 10) + mi * 120 * 86_400_000);

    let groupLeft = 0;
    let build = 0;
    let build10 = 0;
    let rtSerial = 0;
    versions.forEach((version, vi) => {
      if (groupLeft === 0) {
        // 2–5 consecutive releases share a kernel; never leave a lone release at the end of a minor.
        const remaining = versions.length - vi;
        groupLeft = Math.min(2 + Math.floor(rand() * 4), remaining);
        if (remaining - groupLeft === 1) groupLeft = groupLeft === 5 ? 4 : groupLeft + 1;
        const line = kernelLine(minor, false);
        build = (nextBuild.get(line.base) ?? 10) + 1 + Math.floor(rand() * 3);
        nextBuild.set(line.base, build);
        if (minor >= 21) {
          const line10 = kernelLine(minor, true);
          build10 = (nextBuild.get(line10.base) ?? 5) + 1 + Math.floor(rand() * 3);
          nextBuild.set(line10.base, build10);
        }
        rtSerial = 100 + build * 3;
      }
      groupLeft--;
      const date = new Date(start.getTime() + vi * 6 * 86_400_000);
      const pre = vi < prereleases.length;
      const z = vi - prereleases.length;
      const channels = [`candidate-${mm}`];
      if (!pre) {
        channels.push(`fast-${mm}`);
        if (z >= 1) channels.push(`stable-${mm}`);
        if (z >= 1 && minor % 2 === 0) channels.push(`eus-${mm}`);
        // Late z-streams of a minor are also listed in the next minor's channels (upgrade paths).
        if (minor < 22 && z >= gaCount * 0.8) channels.push(`candidate-4.${minor + 1}`, `fast-4.${minor + 1}`);
      }
      const archOptions = arches.map((arch): Omit<BuildReleaseArchOptions, 'ocp'> => {
        const main = streamFacts(kernelLine(minor, false), build, arch, minor, rhcosVersion(minor, date, false, 0), rtSerial);
        return {
          arch,
          ...main,
          ...(minor >= 21
            ? { rhel10: streamFacts(kernelLine(minor, true), build10, arch, minor, rhcosVersion(minor, date, true, 0), rtSerial) }
            : {}),
          ...(arch !== 'amd64' && rand() < 0.3 ? { dtkFileLayer: 'second-to-last' as const } : {}),
          // 4.22 pre-releases were built while openshift/os put meta.json before the last layer.
          ...(minor === 22 && pre ? { faults: { metaJsonNotLast: true } } : {}),
        };
      });
      releases.push(buildRelease({ version, channels, arches: archOptions }));
    });
  });
  releases.push(...okdReleases(Math.floor(opts.releases / 12), arches));
  return { releases };
}

/**
 * OKD releases in `stable-scos-4`: 4.19 and 4.20 builds on CentOS Stream 9, 4.22 on
 * CentOS Stream 10 (its first builds with a DTK made for 6.12.0-212, okd#2350), an
 * engineering candidate before each minor's builds. Two builds share a kernel.
 */
function okdReleases(count: number, arches: readonly GoArch[]): ReleaseSpec[] {
  const minors = [19, 20, 22] as const;
  const out: ReleaseSpec[] = [];
  for (let i = 0; i < count; i++) {
    const minor = minors[i % minors.length]!;
    const n = Math.floor(i / minors.length);
    const version = n === 0 ? `4.${minor}.0-okd-scos.ec.1` : `4.${minor}.0-okd-scos.${n - 1}`;
    const el10 = minor >= 22;
    const build = (el10 ? 224 : minor === 19 ? 570 : 604) + Math.floor(n / 2);
    const date = ymd(new Date(Date.UTC(2025, 5, 1) + i * 3 * 86_400_000));
    const archOptions = arches.map((arch): Omit<BuildReleaseArchOptions, 'ocp'> => {
      const uarch = arch === 'amd64' ? 'x86_64' : arch === 'arm64' ? 'aarch64' : arch;
      const kernel = `${el10 ? '6.12.0' : '5.14.0'}-${build}.el${el10 ? 10 : 9}.${uarch}`;
      return {
        arch,
        rhcosVersion: `${el10 ? '10' : '9'}.0.${date}-0`,
        kernel,
        ...(arch === 'amd64' ? { rtKernel: `${kernel}+rt` } : {}),
        ...(el10 && n <= 3 ? { faults: { dtkKernel: `6.12.0-212.el10.${uarch}` } } : {}),
      };
    });
    out.push(buildRelease({ version, channels: ['stable-scos-4'], arches: archOptions }));
  }
  return out;
}
