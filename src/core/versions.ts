/**
 * OpenShift and OKD release versions, and RHCOS build versions.
 *
 *   OpenShift  4.18.14, 4.17.0-ec.2, 4.17.0-rc.1, 5.0.0-ec.1
 *   OKD (SCOS) 4.19.0-okd-scos.17 (generally available: the `.17` is OKD's build
 *              counter, not a pre-release), 4.20.0-okd-scos.ec.14 (pre-release)
 *   Old s390x  4.2.11-s390x: a GA release whose version carries its arch (real
 *              stable-4.2 s390x graphs list 4.2.11-s390x … 4.2.13-s390x)
 */

export interface OpenShiftVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** The whole semver pre-release part: `ec.2`, `rc.1`, `okd-scos.17`, `okd-scos.ec.14`. */
  readonly prerelease?: string;
  /** `okd` for OKD (SCOS) versions, which carry `-okd-scos.` whether or not they are pre-releases. */
  readonly distribution: 'ocp' | 'okd';
  /** True for engineering, feature and release candidates of either distribution. */
  readonly isPrerelease: boolean;
}

/** A GA version suffixed with its arch (`4.2.11-s390x`). */
const ARCH_SUFFIX = /^(?:s390x|ppc64le|aarch64|arm64|x86_64|amd64)$/;

/**
 * `okd-scos.17` (GA build 17), `okd-scos.ec.14` (engineering candidate 14), and the
 * FCOS-era OKD spelling `0.okd-2024-03-10-010116` (GA, ordered by its date).
 */
const OKD_SUFFIX = /^(?:okd-scos\.(?:(?<build>\d{1,4})|(?<pre>(?:ec|rc|fc)\.\d{1,4}))|0\.okd-(?<date>\d{4}-\d{2}-\d{2}-\d{6}))$/;

const OCP_PATTERN = /^(\d{1,2})\.(\d{1,3})\.(\d{1,4})(?:-([0-9A-Za-z.-]{1,64}))?$/;

export function parseOpenShiftVersion(value: string): OpenShiftVersion | undefined {
  const m = OCP_PATTERN.exec(value);
  if (!m) return undefined;
  const suffix = m[4];
  const looksOkd = suffix !== undefined && /^(?:0\.)?okd-/.test(suffix);
  const okd = looksOkd ? OKD_SUFFIX.exec(suffix) : undefined;
  if (looksOkd && !okd) return undefined; // an OKD spelling we do not know: not guessed at
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    ...(suffix === undefined ? {} : { prerelease: suffix }),
    distribution: okd ? 'okd' : 'ocp',
    isPrerelease: okd ? okd.groups?.['pre'] !== undefined : suffix !== undefined && !ARCH_SUFFIX.test(suffix),
  };
}

/**
 * True for engineering and release candidates (`4.17.0-ec.2`, `4.17.0-rc.1`,
 * `4.20.0-okd-scos.ec.14`); false for GA releases, OKD's included (`4.19.0-okd-scos.17`).
 */
export function isPrereleaseVersion(value: string): boolean {
  return parseOpenShiftVersion(value)?.isPrerelease ?? false;
}

/** True for OKD versions (`…-okd-scos.…`). */
export function isOkdVersion(value: string): boolean {
  return parseOpenShiftVersion(value)?.distribution === 'okd';
}

/** `4.18` for `4.18.14`. */
export function minorOf(value: string): string | undefined {
  const v = parseOpenShiftVersion(value);
  return v ? `${v.major}.${v.minor}` : undefined;
}

/** Semver order: 4.17.0-ec.2 < 4.17.0-rc.1 < 4.17.0 < 4.17.1. Unparseable strings sort last. */
export function compareOpenShiftVersions(a: string, b: string): number {
  const va = parseOpenShiftVersion(a);
  const vb = parseOpenShiftVersion(b);
  if (!va || !vb) return va ? -1 : vb ? 1 : a.localeCompare(b);
  const d = va.major - vb.major || va.minor - vb.minor || va.patch - vb.patch;
  if (d !== 0) return d;
  if (va.distribution !== vb.distribution) return va.distribution === 'ocp' ? -1 : 1;
  if (va.distribution === 'okd') return compareOkd(va.prerelease!, vb.prerelease!);
  if (va.isPrerelease !== vb.isPrerelease) return va.isPrerelease ? -1 : 1;
  if (va.prerelease === vb.prerelease) return 0;
  if (va.prerelease === undefined) return 1;
  if (vb.prerelease === undefined) return -1;
  return comparePrerelease(va.prerelease, vb.prerelease);
}

/** OKD of one x.y.z: candidates (ec < rc, by number) before GA builds (by number). */
function compareOkd(a: string, b: string): number {
  const ga = OKD_SUFFIX.exec(a)?.groups;
  const gb = OKD_SUFFIX.exec(b)?.groups;
  if (ga?.['date'] !== undefined || gb?.['date'] !== undefined) return a < b ? -1 : a > b ? 1 : 0;
  if (ga?.['build'] !== undefined && gb?.['build'] !== undefined) return Number(ga['build']) - Number(gb['build']);
  if (ga?.['build'] !== undefined) return 1;
  if (gb?.['build'] !== undefined) return -1;
  return comparePrerelease(ga?.['pre'] ?? a, gb?.['pre'] ?? b);
}

function comparePrerelease(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x) ? Number(x) : undefined;
    const ny = /^\d+$/.test(y) ? Number(y) : undefined;
    if (nx !== undefined && ny !== undefined) {
      if (nx !== ny) return nx - ny;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

/**
 * RHCOS build versions:
 *   up to 4.18: `<OCPmaj><OCPmin>.<RHELmaj><RHELmin>.<YYYYMMDDHHMM>-<n>` (`418.94.202505062142-0`)
 *   from 4.19:  `<RHELmaj>.<RHELmin>.<YYYYMMDD>-<n>` (`9.6.20250925-0`)
 */
const RHCOS_OLD = /^(\d)(\d{1,2})\.(\d)(\d{1,2})\.(\d{12})-(\d{1,3})$/;
const RHCOS_NEW = /^(\d{1,2})\.(\d{1,2})\.(\d{8})-(\d{1,3})$/;

export interface RhcosVersion {
  readonly value: string;
  readonly rhelVersion: string;
  /** `4.18` for the old scheme; undefined for the new one (it does not say). */
  readonly openshiftMinor?: string;
}

export function parseRhcosVersion(value: string): RhcosVersion | undefined {
  const old = RHCOS_OLD.exec(value);
  if (old) return { value, rhelVersion: `${old[3]}.${old[4]}`, openshiftMinor: `${old[1]}.${old[2]}` };
  const current = RHCOS_NEW.exec(value);
  if (current) return { value, rhelVersion: `${current[1]}.${current[2]}` };
  return undefined;
}
