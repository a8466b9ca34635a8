import { describe, expect, it } from 'vitest';
import { compareOpenShiftVersions, isOkdVersion, isPrereleaseVersion, minorOf, parseOpenShiftVersion, parseRhcosVersion } from '#core/versions.ts';

describe('OpenShift versions', () => {
  it('orders pre-releases before the release, by semver', () => {
    const sorted = ['4.17.1', '4.17.0', '4.17.0-rc.1', '4.17.0-ec.2', '4.16.10', '4.16.9', '5.0.0-ec.1'].sort(compareOpenShiftVersions);
    expect(sorted).toEqual(['4.16.9', '4.16.10', '4.17.0-ec.2', '4.17.0-rc.1', '4.17.0', '4.17.1', '5.0.0-ec.1']);
  });

  it('knows engineering and release candidates', () => {
    expect(isPrereleaseVersion('4.17.0-ec.2')).toBe(true);
    expect(isPrereleaseVersion('4.17.0-rc.1')).toBe(true);
    expect(isPrereleaseVersion('4.17.0')).toBe(false);
    expect(minorOf('4.18.14')).toBe('4.18');
  });
});

describe('OKD and other real version spellings', () => {
  it('tells OKD GA builds from OKD pre-releases', () => {
    expect(isPrereleaseVersion('4.19.0-okd-scos.17')).toBe(false);
    expect(isPrereleaseVersion('4.20.0-okd-scos.ec.14')).toBe(true);
    expect(isOkdVersion('4.19.0-okd-scos.17')).toBe(true);
    expect(isOkdVersion('4.19.1')).toBe(false);
    expect(minorOf('4.22.0-okd-scos.5')).toBe('4.22');
  });

  it('orders OKD candidates before OKD builds, builds by number', () => {
    const sorted = ['4.20.0-okd-scos.2', '4.20.0-okd-scos.ec.14', '4.20.0-okd-scos.10', '4.19.0-okd-scos.17', '4.20.0-okd-scos.ec.2'].sort(compareOpenShiftVersions);
    expect(sorted).toEqual(['4.19.0-okd-scos.17', '4.20.0-okd-scos.ec.2', '4.20.0-okd-scos.ec.14', '4.20.0-okd-scos.2', '4.20.0-okd-scos.10']);
  });

  it('reads an arch-suffixed s390x version as GA, and a hotfix as not GA', () => {
    expect(isPrereleaseVersion('4.2.11-s390x')).toBe(false);
    expect(isPrereleaseVersion('4.3.0-0.hotfix-2020-09-30-133631')).toBe(true);
    expect(['4.2.12', '4.2.11-s390x', '4.2.11-rc.1'].sort(compareOpenShiftVersions)).toEqual(['4.2.11-rc.1', '4.2.11-s390x', '4.2.12']);
  });

  it('refuses OKD spellings it does not know instead of guessing', () => {
    expect(parseOpenShiftVersion('4.19.0-okd-fcos.1')).toBeUndefined();
    expect(parseOpenShiftVersion('4.19.0-okd-scos.')).toBeUndefined();
    // The FCOS-era spelling is known: GA, ordered by date.
    expect(isPrereleaseVersion('4.15.0-0.okd-2024-03-10-010116')).toBe(false);
    expect(isOkdVersion('4.15.0-0.okd-2024-03-10-010116')).toBe(true);
  });
});

describe('parseRhcosVersion', () => {
  it('reads both RHCOS version schemes', () => {
    expect(parseRhcosVersion('412.86.202305161131-0')).toEqual({ value: '412.86.202305161131-0', rhelVersion: '8.6', openshiftMinor: '4.12' });
    expect(parseRhcosVersion('418.94.202505062142-0')?.rhelVersion).toBe('9.4');
    expect(parseRhcosVersion('9.6.20250925-0')).toEqual({ value: '9.6.20250925-0', rhelVersion: '9.6' });
    expect(parseRhcosVersion('10.2.20260817-0')?.rhelVersion).toBe('10.2');
  });

  it('rejects anything else', () => {
    for (const junk of ['true', '418.94', '9.6.2025-0', '418.94.202505062142-0; id']) expect(parseRhcosVersion(junk)).toBeUndefined();
  });
});
