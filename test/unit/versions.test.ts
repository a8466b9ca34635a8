import { describe, expect, it } from 'vitest';
import { compareOpenShiftVersions, isPrereleaseVersion, minorOf, parseRhcosVersion } from '#core/versions.ts';

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
