/**
 * OpenShift release versions and RHCOS build versions.
 */

export interface OpenShiftVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** `ec.2`, `rc.1`, `fc.0`… for pre-releases. */
  readonly prerelease?: string;
}

const OCP_PATTERN = /^(\d{1,2})\.(\d{1,3})\.(\d{1,4})(?:-([0-9A-Za-z.-]{1,64}))?$/;

export function parseOpenShiftVersion(value: string): OpenShiftVersion | undefined {
  const m = OCP_PATTERN.exec(value);
  if (!m) return undefined;
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    ...(m[4] === undefined ? {} : { prerelease: m[4] }),
  };
}

/** True for engineering and release candidates (`4.17.0-ec.2`, `4.17.0-rc.1`). */
export function isPrereleaseVersion(value: string): boolean {
  return parseOpenShiftVersion(value)?.prerelease !== undefined;
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
  if (va.prerelease === vb.prerelease) return 0;
  if (va.prerelease === undefined) return 1;
  if (vb.prerelease === undefined) return -1;
  return comparePrerelease(va.prerelease, vb.prerelease);
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
