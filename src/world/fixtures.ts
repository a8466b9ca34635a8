/**
 * The test world: docs/kernels.md's public sample values plus realistic additions so every
 * era and architecture is covered, and one release per error case, each in its own
 * `fault-…` channel so tests can scan them separately.
 *
 * `FIXTURE_EXPECTATIONS` is written out by hand (not computed from the builders) so a
 * test comparing a scanner's output against it can fail.
 */
import { buildRelease } from './eras.ts';
import type { GoArch, WorldSpec } from './spec.ts';

const C = (minor: string, ...kinds: Array<'candidate' | 'fast' | 'stable' | 'eus'>): string[] =>
  kinds.map((k) => `${k}-${minor}`);

/** Channels of the fault releases (each lists exactly one release). */
export const FAULT_CHANNELS = {
  missingImageReferences: 'fault-missing-image-references',
  imageReferencesNotJson: 'fault-image-references-not-json',
  truncatedGzip: 'fault-truncated-gzip',
  dtkMismatch: 'fault-dtk-mismatch',
  junkRt: 'fault-junk-rt',
  ostreeLinuxTrue: 'fault-ostree-linux-true',
  shellMetacharacters: 'fault-shell-metachar',
  metaJsonNotLast: 'fault-meta-json-not-last',
} as const;

/** OKD's channel (a real OKD ClusterVersion's `spec.channel`), served by the OKD graph. */
export const OKD_CHANNEL = 'stable-scos-4';

export function fixtureWorld(): WorldSpec {
  return {
    releases: [
      // ≤ 4.11: machine-os-content labels
      buildRelease({
        version: '4.9.0-rc.1',
        channels: ['candidate-4.9'],
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '49.84.202109152215-0',
            kernel: '4.18.0-305.17.1.el8_4.x86_64',
            rtKernel: '4.18.0-305.17.1.rt7.89.el8_4.x86_64',
          },
        ],
      }),
      buildRelease({
        version: '4.10.20',
        channels: C('4.10', 'candidate', 'fast', 'stable', 'eus'),
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '410.84.202206212304-0',
            kernel: '4.18.0-305.49.1.el8_4.x86_64',
            rtKernel: '4.18.0-305.49.1.rt7.121.el8_4.x86_64',
          },
          {
            arch: 'arm64',
            rhcosVersion: '410.84.202206212304-0',
            kernel: '4.18.0-305.49.1.el8_4.aarch64',
            dtkFileLayer: 'second-to-last',
          },
        ],
      }),
      // 4.12: rhel-coreos-8 + machine-os-content
      buildRelease({
        version: '4.12.3',
        channels: C('4.12', 'candidate', 'fast', 'stable', 'eus'),
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '412.86.202302091057-0',
            kernel: '4.18.0-372.43.1.el8_6.x86_64',
            rtKernel: '4.18.0-372.43.1.rt7.200.el8_6.x86_64',
          },
        ],
      }),
      buildRelease({
        version: '4.12.18',
        channels: [...C('4.12', 'candidate', 'fast', 'stable', 'eus'), 'stable-4.13'],
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '412.86.202305161131-0',
            kernel: '4.18.0-372.53.1.el8_6.x86_64',
            rtKernel: '4.18.0-372.53.1.rt7.210.el8_6.x86_64',
          },
          { arch: 'arm64', rhcosVersion: '412.86.202305161131-0', kernel: '4.18.0-372.53.1.el8_6.aarch64' },
        ],
      }),
      // 4.12.z built after Oct 2025: no RT field in the DTK file (and no RT label)
      buildRelease({
        version: '4.12.80',
        channels: C('4.12', 'stable', 'eus'),
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '412.86.202510211031-0',
            kernel: '4.18.0-372.158.1.el8_6.x86_64',
            faults: { omitDtkRt: true },
          },
        ],
      }),
      // 4.13–4.14: rhel-coreos + machine-os-content
      buildRelease({
        version: '4.13.10',
        channels: C('4.13', 'candidate', 'fast', 'stable'),
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '413.92.202308210212-0',
            kernel: '5.14.0-284.28.1.el9_2.x86_64',
            rtKernel: '5.14.0-284.28.1.rt14.313.el9_2.x86_64',
          },
        ],
      }),
      buildRelease({
        version: '4.14.7',
        channels: C('4.14', 'candidate', 'fast', 'stable', 'eus'),
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '414.92.202312132152-0',
            kernel: '5.14.0-284.45.1.el9_2.x86_64',
            rtKernel: '5.14.0-284.45.1.rt14.330.el9_2.x86_64',
          },
        ],
      }),
      // One kernel (5.14.0-284.77.1.el9_2) shipped in four releases across 4.14 and 4.15
      ...(
        [
          ['4.14.34', '414.92.202407300859-0', C('4.14', 'candidate', 'fast', 'stable', 'eus')],
          ['4.14.35', '414.92.202408052222-0', C('4.14', 'candidate', 'fast', 'stable', 'eus')],
          ['4.15.23', '415.92.202407301859-0', C('4.15', 'candidate', 'fast', 'stable')],
          ['4.15.24', '415.92.202408062122-0', C('4.15', 'candidate', 'fast', 'stable')],
        ] as const
      ).map(([version, rhcosVersion, channels]) =>
        buildRelease({
          version,
          channels,
          arches: [
            {
              arch: 'amd64',
              rhcosVersion,
              kernel: '5.14.0-284.77.1.el9_2.x86_64',
              rtKernel: '5.14.0-284.77.1.rt14.362.el9_2.x86_64',
            },
            ...(version.startsWith('4.15.')
              ? [
                  {
                    arch: 'arm64' as const,
                    rhcosVersion,
                    kernel: '5.14.0-284.77.1.el9_2.aarch64',
                    kernel64k: '5.14.0-284.77.1.el9_2.aarch64+64k',
                  },
                ]
              : []),
          ],
        }),
      ),
      // 4.15–4.18: rhel-coreos only
      buildRelease({
        version: '4.15.0',
        channels: C('4.15', 'candidate', 'fast', 'stable'),
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '415.92.202402130021-0',
            kernel: '5.14.0-284.41.1.el9_2.x86_64',
            rtKernel: '5.14.0-284.41.1.rt14.326.el9_2.x86_64',
          },
          {
            arch: 'arm64',
            rhcosVersion: '415.92.202402130021-0',
            kernel: '5.14.0-284.41.1.el9_2.aarch64',
            kernel64k: '5.14.0-284.41.1.el9_2.aarch64+64k',
          },
        ],
      }),
      buildRelease({
        version: '4.16.0',
        channels: C('4.16', 'candidate', 'fast', 'stable', 'eus'),
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '416.94.202406251923-0',
            kernel: '5.14.0-427.22.1.el9_4.x86_64',
            rtKernel: '5.14.0-427.22.1.el9_4.x86_64+rt',
          },
          {
            arch: 'arm64',
            rhcosVersion: '416.94.202406251923-0',
            kernel: '5.14.0-427.22.1.el9_4.aarch64',
            kernel64k: '5.14.0-427.22.1.el9_4.aarch64+64k',
            dtkFileLayer: 'second-to-last',
          },
        ],
      }),
      // Pre-releases: only in candidate channels. The ec kernel omits `_Y` (RHEL minor from the DTK).
      buildRelease({
        version: '4.17.0-ec.2',
        channels: ['candidate-4.17'],
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '417.94.202407291514-0',
            kernel: '5.14.0-480.el9.x86_64',
            rtKernel: '5.14.0-480.el9.x86_64+rt',
          },
        ],
      }),
      buildRelease({
        version: '4.17.0-rc.1',
        channels: ['candidate-4.17'],
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '417.94.202409120353-0',
            kernel: '5.14.0-427.35.1.el9_4.x86_64',
            rtKernel: '5.14.0-427.35.1.el9_4.x86_64+rt',
          },
        ],
      }),
      buildRelease({
        version: '4.17.2',
        channels: C('4.17', 'candidate', 'fast', 'stable'),
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '417.94.202410211619-0',
            kernel: '5.14.0-427.40.1.el9_4.x86_64',
            rtKernel: '5.14.0-427.40.1.el9_4.x86_64+rt',
          },
          {
            arch: 'arm64',
            rhcosVersion: '417.94.202410211619-0',
            kernel: '5.14.0-427.40.1.el9_4.aarch64',
            kernel64k: '5.14.0-427.40.1.el9_4.aarch64+64k',
          },
        ],
      }),
      buildRelease({
        version: '4.18.14',
        channels: C('4.18', 'candidate', 'fast', 'stable', 'eus'),
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '418.94.202505062142-0',
            kernel: '5.14.0-427.68.1.el9_4.x86_64',
            rtKernel: '5.14.0-427.68.1.el9_4.x86_64+rt',
          },
        ],
      }),
      // 4.19–4.21: layered node image (meta.json) + extensions.json
      buildRelease({
        version: '4.19.14',
        channels: C('4.19', 'candidate', 'fast', 'stable'),
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '9.6.20250925-0',
            kernel: '5.14.0-570.49.1.el9_6.x86_64',
            rtKernel: '5.14.0-570.49.1.el9_6.x86_64+rt',
          },
          {
            arch: 'arm64',
            rhcosVersion: '9.6.20250925-0',
            kernel: '5.14.0-570.49.1.el9_6.aarch64',
            kernel64k: '5.14.0-570.49.1.el9_6.aarch64+64k',
          },
        ],
      }),
      buildRelease({
        version: '4.20.2',
        channels: C('4.20', 'candidate', 'fast', 'stable'),
        payloadKind: 'multi',
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '9.6.20251104-0',
            kernel: '5.14.0-570.60.1.el9_6.x86_64',
            rtKernel: '5.14.0-570.60.1.el9_6.x86_64+rt',
          },
          {
            arch: 'arm64',
            rhcosVersion: '9.6.20251104-0',
            kernel: '5.14.0-570.60.1.el9_6.aarch64',
            kernel64k: '5.14.0-570.60.1.el9_6.aarch64+64k',
          },
          { arch: 's390x', rhcosVersion: '9.6.20251104-0', kernel: '5.14.0-570.60.1.el9_6.s390x' },
          { arch: 'ppc64le', rhcosVersion: '9.6.20251104-0', kernel: '5.14.0-570.60.1.el9_6.ppc64le' },
        ],
      }),
      // 4.21: RHEL 10.1 as a Tech Preview stream (rhel-coreos-10), without any driver-toolkit-10
      buildRelease({
        version: '4.21.1',
        channels: C('4.21', 'candidate', 'fast', 'stable'),
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '9.6.20260212-0',
            kernel: '5.14.0-570.88.1.el9_6.x86_64',
            rtKernel: '5.14.0-570.88.1.el9_6.x86_64+rt',
            rhel10: {
              rhcosVersion: '10.1.20260212-0',
              kernel: '6.12.0-124.31.1.el10_1.x86_64',
              rtKernel: '6.12.0-124.31.1.el10_1.x86_64+rt',
            },
          },
        ],
      }),
      // 4.22 / 5.0: two kernel streams (RHEL 9.8 and RHEL 10.2), ostree.linux=true;
      // 4.22's RHEL 10 stream is a Tech Preview without DTK, 5.0's has driver-toolkit-10
      buildRelease({
        version: '4.22.0',
        channels: C('4.22', 'candidate', 'fast', 'stable', 'eus'),
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '9.8.20260701-0',
            kernel: '5.14.0-687.12.1.el9_8.x86_64',
            rtKernel: '5.14.0-687.12.1.el9_8.x86_64+rt',
            rhel10: {
              rhcosVersion: '10.2.20260701-0',
              kernel: '6.12.0-211.10.1.el10_2.x86_64',
              rtKernel: '6.12.0-211.10.1.el10_2.x86_64+rt',
            },
          },
          {
            arch: 'arm64',
            rhcosVersion: '9.8.20260701-0',
            kernel: '5.14.0-687.12.1.el9_8.aarch64',
            kernel64k: '5.14.0-687.12.1.el9_8.aarch64+64k',
            rhel10: {
              rhcosVersion: '10.2.20260701-0',
              kernel: '6.12.0-211.10.1.el10_2.aarch64',
              kernel64k: '6.12.0-211.10.1.el10_2.aarch64+64k',
            },
          },
        ],
      }),
      buildRelease({
        version: '5.0.0-ec.1',
        channels: ['candidate-5.0'],
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '9.8.20260815-0',
            kernel: '5.14.0-690.el9.x86_64',
            rtKernel: '5.14.0-690.el9.x86_64+rt',
            rhel10: {
              rhcosVersion: '10.2.20260817-0',
              kernel: '6.12.0-230.el10.x86_64',
              rtKernel: '6.12.0-230.el10.x86_64+rt',
            },
          },
        ],
      }),

      // ---------------------------------------------------------------- OKD (SCOS)
      // Served by the OKD graph only. Versions and channel from a real OKD ClusterVersion;
      // CentOS Stream kernels from docs/kernels.md; the SCOS node image versions are illustrative.
      buildRelease({
        version: '4.19.0-okd-scos.17',
        channels: [OKD_CHANNEL],
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '9.0.20250827-0',
            kernel: '5.14.0-570.el9.x86_64',
            rtKernel: '5.14.0-570.el9.x86_64+rt',
          },
        ],
      }),
      // A pre-release listed in the stable channel (the real ClusterVersion offers it there).
      buildRelease({
        version: '4.20.0-okd-scos.ec.14',
        channels: [OKD_CHANNEL],
        arches: [{ arch: 'amd64', rhcosVersion: '9.0.20250901-0', kernel: '5.14.0-604.el9.x86_64' }],
      }),
      // okd-project/okd#2350: 4.22 OKD shipped a DTK built for 6.12.0-212 against node kernel 224.
      buildRelease({
        version: '4.22.0-okd-scos.2',
        channels: [OKD_CHANNEL],
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '10.0.20260620-0',
            kernel: '6.12.0-224.el10.x86_64',
            faults: { dtkKernel: '6.12.0-212.el10.x86_64' },
          },
        ],
      }),

      // ---------------------------------------------------------------- error cases
      ...(
        [
          ['4.17.3', FAULT_CHANNELS.missingImageReferences, 'missing-image-references', '5.14.0-427.42.1'],
          ['4.17.4', FAULT_CHANNELS.imageReferencesNotJson, 'image-references-not-json', '5.14.0-427.44.1'],
          ['4.17.5', FAULT_CHANNELS.truncatedGzip, 'truncated-gzip', '5.14.0-427.47.1'],
        ] as const
      ).map(([version, channel, payload, kernelBase]) =>
        buildRelease({
          version,
          channels: [channel],
          arches: [
            {
              arch: 'amd64',
              rhcosVersion: '417.94.202411051902-0',
              kernel: `${kernelBase}.el9_4.x86_64`,
              rtKernel: `${kernelBase}.el9_4.x86_64+rt`,
              faults: { payload },
            },
          ],
        }),
      ),
      buildRelease({
        version: '4.19.9',
        channels: [FAULT_CHANNELS.dtkMismatch],
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '9.6.20250826-0',
            kernel: '5.14.0-570.39.1.el9_6.x86_64',
            rtKernel: '5.14.0-570.39.1.el9_6.x86_64+rt',
            faults: { dtkKernel: '5.14.0-570.37.1.el9_6.x86_64' },
          },
        ],
      }),
      buildRelease({
        version: '4.18.20',
        channels: [FAULT_CHANNELS.junkRt],
        arches: [
          {
            arch: 'arm64',
            rhcosVersion: '418.94.202507091512-0',
            kernel: '5.14.0-427.77.1.el9_4.aarch64',
            kernel64k: '5.14.0-427.77.1.el9_4.aarch64+64k',
            faults: { junkRt: true },
          },
        ],
      }),
      buildRelease({
        version: '4.22.1',
        channels: [FAULT_CHANNELS.ostreeLinuxTrue],
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '9.8.20260715-0',
            kernel: '5.14.0-687.15.1.el9_8.x86_64',
            rtKernel: '5.14.0-687.15.1.el9_8.x86_64+rt',
            rhel10: {
              rhcosVersion: '10.2.20260715-0',
              kernel: '6.12.0-211.13.1.el10_2.x86_64',
              rtKernel: '6.12.0-211.13.1.el10_2.x86_64+rt',
            },
            faults: { kernelLabel: 'true' },
          },
        ],
      }),
      buildRelease({
        version: '4.16.8',
        channels: [FAULT_CHANNELS.shellMetacharacters],
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '416.94.202408200132-0',
            kernel: '5.14.0-427.31.1.el9_4.x86_64',
            rtKernel: '5.14.0-427.31.1.el9_4.x86_64+rt',
            faults: { kernelLabel: '5.14.0-1.el9.x86_64;rm -rf /' },
          },
        ],
      }),
      // openshift/os 53c2138 (builds 2026-03-30..2026-05-20): meta.json is not the last layer
      buildRelease({
        version: '4.22.0-rc.1',
        channels: ['candidate-4.22', FAULT_CHANNELS.metaJsonNotLast],
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '9.8.20260512-0',
            kernel: '5.14.0-687.5.1.el9_8.x86_64',
            rtKernel: '5.14.0-687.5.1.el9_8.x86_64+rt',
            rhel10: {
              rhcosVersion: '10.2.20260512-0',
              kernel: '6.12.0-211.4.1.el10_2.x86_64',
              rtKernel: '6.12.0-211.4.1.el10_2.x86_64+rt',
            },
            faults: { metaJsonNotLast: true },
          },
        ],
      }),
      // meta.json only inside a layer too big to read: RHEL 9 from the DTK file, RHEL 10 (no DTK) not found.
      buildRelease({
        version: '4.22.0-ec.3',
        channels: ['candidate-4.22', FAULT_CHANNELS.metaJsonNotLast],
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '9.8.20260410-0',
            kernel: '5.14.0-687.2.1.el9_8.x86_64',
            rtKernel: '5.14.0-687.2.1.el9_8.x86_64+rt',
            rhel10: { rhcosVersion: '10.2.20260410-0', kernel: '6.12.0-211.2.1.el10_2.x86_64' },
            faults: { metaJsonNotLast: 'in-big-layer' },
          },
        ],
      }),
      // The same misordered build on 4.21, whose node images still label ostree.linux with the kernel.
      buildRelease({
        version: '4.21.9',
        channels: [FAULT_CHANNELS.metaJsonNotLast],
        arches: [
          {
            arch: 'amd64',
            rhcosVersion: '9.6.20260415-0',
            kernel: '5.14.0-570.101.1.el9_6.x86_64',
            rtKernel: '5.14.0-570.101.1.el9_6.x86_64+rt',
            rhel10: {
              rhcosVersion: '10.1.20260415-0',
              kernel: '6.12.0-124.45.1.el10_1.x86_64',
            },
            faults: { metaJsonNotLast: true },
          },
        ],
      }),
    ],
  };
}

// ------------------------------------------------------------------------ expectations

export type FindingCode = 'dtk-kernel-mismatch' | 'invalid-kernel-string' | 'invalid-rt-kernel' | 'kernel-source-fallback' | 'no-kernel-found' | 'resolve-failed';

/** One kernel stream a correct scanner reports for a release and arch. */
export interface ExpectedKernel {
  /** Image-references tag the node kernel comes from. */
  readonly rhcosTag: 'machine-os-content' | 'rhel-coreos-8' | 'rhel-coreos' | 'rhel-coreos-10' | 'stream-coreos';
  /** The release's own DTK for the stream; null for RHEL 10 in 4.21/4.22 (Tech Preview, no DTK). */
  readonly dtkTag: 'driver-toolkit' | 'driver-toolkit-10' | null;
  /** The node's kernel (`uname -r`). */
  readonly kernel: string;
  readonly rtKernel: string | null;
  readonly kernel64k: string | null;
  /** `X.Y`; from `elX_Y`, or the DTK's RHEL_VERSION when the kernel omits `_Y`; the EL major alone for CentOS Stream. */
  readonly rhelVersion: string;
  readonly rhcosVersion: string;
}

export interface FixtureExpectation {
  readonly version: string;
  /** The architecture of the payload entry (for multi payloads, one row per arch). */
  readonly arch: GoArch;
  /** The graph `arch` parameter that lists it. */
  readonly graphArch: GoArch | 'multi';
  readonly channels: readonly string[];
  /** One per kernel stream (two from 4.22 on); empty when the release cannot be resolved. */
  readonly kernels: readonly ExpectedKernel[];
  readonly findings: readonly FindingCode[];
}

/**
 * What a correct scanner reports for every (version, arch) of `fixtureWorld()`.
 *
 * Conventions:
 * - the node kernel comes from RHCOS (labels or meta.json); the DTK must agree, else `dtk-kernel-mismatch`
 *   (and the node kernel is still the RHCOS one);
 * - a kernel label that does not parse as a kernel is ignored; a value with characters outside a kernel
 *   string (`;`, spaces, `/`) is `invalid-kernel-string`; so is the 4.22+ value `ostree.linux=true`
 *   (the issue: a value such as `true` is rejected with a finding, never passed on);
 * - an RT field that is not an RT kernel is `invalid-rt-kernel` and `rtKernel` stays null;
 * - 4.15–4.18 aarch64 64k kernels are `<kernel>+64k` (the extensions image lists
 *   `kernel-64k-core-<evr>.aarch64.rpm`; from 4.19 extensions.json has it);
 * - a payload that cannot be read is `resolve-failed` with no kernels.
 */
export const FIXTURE_EXPECTATIONS: readonly FixtureExpectation[] = [
  {
    version: '4.9.0-rc.1', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.9'], findings: [],
    kernels: [
      { rhcosTag: 'machine-os-content', dtkTag: 'driver-toolkit', kernel: '4.18.0-305.17.1.el8_4.x86_64', rtKernel: '4.18.0-305.17.1.rt7.89.el8_4.x86_64', kernel64k: null, rhelVersion: '8.4', rhcosVersion: '49.84.202109152215-0' },
    ],
  },
  {
    version: '4.10.20', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.10', 'fast-4.10', 'stable-4.10', 'eus-4.10'], findings: [],
    kernels: [
      { rhcosTag: 'machine-os-content', dtkTag: 'driver-toolkit', kernel: '4.18.0-305.49.1.el8_4.x86_64', rtKernel: '4.18.0-305.49.1.rt7.121.el8_4.x86_64', kernel64k: null, rhelVersion: '8.4', rhcosVersion: '410.84.202206212304-0' },
    ],
  },
  {
    version: '4.10.20', arch: 'arm64', graphArch: 'arm64', channels: ['candidate-4.10', 'fast-4.10', 'stable-4.10', 'eus-4.10'], findings: [],
    kernels: [
      { rhcosTag: 'machine-os-content', dtkTag: 'driver-toolkit', kernel: '4.18.0-305.49.1.el8_4.aarch64', rtKernel: null, kernel64k: null, rhelVersion: '8.4', rhcosVersion: '410.84.202206212304-0' },
    ],
  },
  {
    version: '4.12.3', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.12', 'fast-4.12', 'stable-4.12', 'eus-4.12'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos-8', dtkTag: 'driver-toolkit', kernel: '4.18.0-372.43.1.el8_6.x86_64', rtKernel: '4.18.0-372.43.1.rt7.200.el8_6.x86_64', kernel64k: null, rhelVersion: '8.6', rhcosVersion: '412.86.202302091057-0' },
    ],
  },
  {
    version: '4.12.18', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.12', 'fast-4.12', 'stable-4.12', 'eus-4.12', 'stable-4.13'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos-8', dtkTag: 'driver-toolkit', kernel: '4.18.0-372.53.1.el8_6.x86_64', rtKernel: '4.18.0-372.53.1.rt7.210.el8_6.x86_64', kernel64k: null, rhelVersion: '8.6', rhcosVersion: '412.86.202305161131-0' },
    ],
  },
  {
    version: '4.12.18', arch: 'arm64', graphArch: 'arm64', channels: ['candidate-4.12', 'fast-4.12', 'stable-4.12', 'eus-4.12', 'stable-4.13'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos-8', dtkTag: 'driver-toolkit', kernel: '4.18.0-372.53.1.el8_6.aarch64', rtKernel: null, kernel64k: null, rhelVersion: '8.6', rhcosVersion: '412.86.202305161131-0' },
    ],
  },
  {
    version: '4.12.80', arch: 'amd64', graphArch: 'amd64', channels: ['stable-4.12', 'eus-4.12'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos-8', dtkTag: 'driver-toolkit', kernel: '4.18.0-372.158.1.el8_6.x86_64', rtKernel: null, kernel64k: null, rhelVersion: '8.6', rhcosVersion: '412.86.202510211031-0' },
    ],
  },
  {
    version: '4.13.10', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.13', 'fast-4.13', 'stable-4.13'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-284.28.1.el9_2.x86_64', rtKernel: '5.14.0-284.28.1.rt14.313.el9_2.x86_64', kernel64k: null, rhelVersion: '9.2', rhcosVersion: '413.92.202308210212-0' },
    ],
  },
  {
    version: '4.14.7', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.14', 'fast-4.14', 'stable-4.14', 'eus-4.14'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-284.45.1.el9_2.x86_64', rtKernel: '5.14.0-284.45.1.rt14.330.el9_2.x86_64', kernel64k: null, rhelVersion: '9.2', rhcosVersion: '414.92.202312132152-0' },
    ],
  },
  {
    version: '4.14.34', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.14', 'fast-4.14', 'stable-4.14', 'eus-4.14'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-284.77.1.el9_2.x86_64', rtKernel: '5.14.0-284.77.1.rt14.362.el9_2.x86_64', kernel64k: null, rhelVersion: '9.2', rhcosVersion: '414.92.202407300859-0' },
    ],
  },
  {
    version: '4.14.35', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.14', 'fast-4.14', 'stable-4.14', 'eus-4.14'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-284.77.1.el9_2.x86_64', rtKernel: '5.14.0-284.77.1.rt14.362.el9_2.x86_64', kernel64k: null, rhelVersion: '9.2', rhcosVersion: '414.92.202408052222-0' },
    ],
  },
  {
    version: '4.15.23', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.15', 'fast-4.15', 'stable-4.15'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-284.77.1.el9_2.x86_64', rtKernel: '5.14.0-284.77.1.rt14.362.el9_2.x86_64', kernel64k: null, rhelVersion: '9.2', rhcosVersion: '415.92.202407301859-0' },
    ],
  },
  {
    version: '4.15.23', arch: 'arm64', graphArch: 'arm64', channels: ['candidate-4.15', 'fast-4.15', 'stable-4.15'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-284.77.1.el9_2.aarch64', rtKernel: null, kernel64k: '5.14.0-284.77.1.el9_2.aarch64+64k', rhelVersion: '9.2', rhcosVersion: '415.92.202407301859-0' },
    ],
  },
  {
    version: '4.15.24', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.15', 'fast-4.15', 'stable-4.15'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-284.77.1.el9_2.x86_64', rtKernel: '5.14.0-284.77.1.rt14.362.el9_2.x86_64', kernel64k: null, rhelVersion: '9.2', rhcosVersion: '415.92.202408062122-0' },
    ],
  },
  {
    version: '4.15.24', arch: 'arm64', graphArch: 'arm64', channels: ['candidate-4.15', 'fast-4.15', 'stable-4.15'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-284.77.1.el9_2.aarch64', rtKernel: null, kernel64k: '5.14.0-284.77.1.el9_2.aarch64+64k', rhelVersion: '9.2', rhcosVersion: '415.92.202408062122-0' },
    ],
  },
  {
    version: '4.15.0', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.15', 'fast-4.15', 'stable-4.15'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-284.41.1.el9_2.x86_64', rtKernel: '5.14.0-284.41.1.rt14.326.el9_2.x86_64', kernel64k: null, rhelVersion: '9.2', rhcosVersion: '415.92.202402130021-0' },
    ],
  },
  {
    version: '4.15.0', arch: 'arm64', graphArch: 'arm64', channels: ['candidate-4.15', 'fast-4.15', 'stable-4.15'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-284.41.1.el9_2.aarch64', rtKernel: null, kernel64k: '5.14.0-284.41.1.el9_2.aarch64+64k', rhelVersion: '9.2', rhcosVersion: '415.92.202402130021-0' },
    ],
  },
  {
    version: '4.16.0', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.16', 'fast-4.16', 'stable-4.16', 'eus-4.16'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-427.22.1.el9_4.x86_64', rtKernel: '5.14.0-427.22.1.el9_4.x86_64+rt', kernel64k: null, rhelVersion: '9.4', rhcosVersion: '416.94.202406251923-0' },
    ],
  },
  {
    version: '4.16.0', arch: 'arm64', graphArch: 'arm64', channels: ['candidate-4.16', 'fast-4.16', 'stable-4.16', 'eus-4.16'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-427.22.1.el9_4.aarch64', rtKernel: null, kernel64k: '5.14.0-427.22.1.el9_4.aarch64+64k', rhelVersion: '9.4', rhcosVersion: '416.94.202406251923-0' },
    ],
  },
  {
    version: '4.17.0-ec.2', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.17'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-480.el9.x86_64', rtKernel: '5.14.0-480.el9.x86_64+rt', kernel64k: null, rhelVersion: '9.4', rhcosVersion: '417.94.202407291514-0' },
    ],
  },
  {
    version: '4.17.0-rc.1', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.17'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-427.35.1.el9_4.x86_64', rtKernel: '5.14.0-427.35.1.el9_4.x86_64+rt', kernel64k: null, rhelVersion: '9.4', rhcosVersion: '417.94.202409120353-0' },
    ],
  },
  {
    version: '4.17.2', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.17', 'fast-4.17', 'stable-4.17'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-427.40.1.el9_4.x86_64', rtKernel: '5.14.0-427.40.1.el9_4.x86_64+rt', kernel64k: null, rhelVersion: '9.4', rhcosVersion: '417.94.202410211619-0' },
    ],
  },
  {
    version: '4.17.2', arch: 'arm64', graphArch: 'arm64', channels: ['candidate-4.17', 'fast-4.17', 'stable-4.17'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-427.40.1.el9_4.aarch64', rtKernel: null, kernel64k: '5.14.0-427.40.1.el9_4.aarch64+64k', rhelVersion: '9.4', rhcosVersion: '417.94.202410211619-0' },
    ],
  },
  {
    version: '4.18.14', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.18', 'fast-4.18', 'stable-4.18', 'eus-4.18'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-427.68.1.el9_4.x86_64', rtKernel: '5.14.0-427.68.1.el9_4.x86_64+rt', kernel64k: null, rhelVersion: '9.4', rhcosVersion: '418.94.202505062142-0' },
    ],
  },
  {
    version: '4.19.14', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.19', 'fast-4.19', 'stable-4.19'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-570.49.1.el9_6.x86_64', rtKernel: '5.14.0-570.49.1.el9_6.x86_64+rt', kernel64k: null, rhelVersion: '9.6', rhcosVersion: '9.6.20250925-0' },
    ],
  },
  {
    version: '4.19.14', arch: 'arm64', graphArch: 'arm64', channels: ['candidate-4.19', 'fast-4.19', 'stable-4.19'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-570.49.1.el9_6.aarch64', rtKernel: null, kernel64k: '5.14.0-570.49.1.el9_6.aarch64+64k', rhelVersion: '9.6', rhcosVersion: '9.6.20250925-0' },
    ],
  },
  {
    version: '4.20.2', arch: 'amd64', graphArch: 'multi', channels: ['candidate-4.20', 'fast-4.20', 'stable-4.20'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-570.60.1.el9_6.x86_64', rtKernel: '5.14.0-570.60.1.el9_6.x86_64+rt', kernel64k: null, rhelVersion: '9.6', rhcosVersion: '9.6.20251104-0' },
    ],
  },
  {
    version: '4.20.2', arch: 'arm64', graphArch: 'multi', channels: ['candidate-4.20', 'fast-4.20', 'stable-4.20'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-570.60.1.el9_6.aarch64', rtKernel: null, kernel64k: '5.14.0-570.60.1.el9_6.aarch64+64k', rhelVersion: '9.6', rhcosVersion: '9.6.20251104-0' },
    ],
  },
  {
    version: '4.20.2', arch: 's390x', graphArch: 'multi', channels: ['candidate-4.20', 'fast-4.20', 'stable-4.20'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-570.60.1.el9_6.s390x', rtKernel: null, kernel64k: null, rhelVersion: '9.6', rhcosVersion: '9.6.20251104-0' },
    ],
  },
  {
    version: '4.20.2', arch: 'ppc64le', graphArch: 'multi', channels: ['candidate-4.20', 'fast-4.20', 'stable-4.20'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-570.60.1.el9_6.ppc64le', rtKernel: null, kernel64k: null, rhelVersion: '9.6', rhcosVersion: '9.6.20251104-0' },
    ],
  },
  {
    version: '4.21.1', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.21', 'fast-4.21', 'stable-4.21'], findings: [],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-570.88.1.el9_6.x86_64', rtKernel: '5.14.0-570.88.1.el9_6.x86_64+rt', kernel64k: null, rhelVersion: '9.6', rhcosVersion: '9.6.20260212-0' },
      { rhcosTag: 'rhel-coreos-10', dtkTag: null, kernel: '6.12.0-124.31.1.el10_1.x86_64', rtKernel: '6.12.0-124.31.1.el10_1.x86_64+rt', kernel64k: null, rhelVersion: '10.1', rhcosVersion: '10.1.20260212-0' },
    ],
  },
  {
    version: '4.22.0', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.22', 'fast-4.22', 'stable-4.22', 'eus-4.22'], findings: ['invalid-kernel-string'],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-687.12.1.el9_8.x86_64', rtKernel: '5.14.0-687.12.1.el9_8.x86_64+rt', kernel64k: null, rhelVersion: '9.8', rhcosVersion: '9.8.20260701-0' },
      { rhcosTag: 'rhel-coreos-10', dtkTag: null, kernel: '6.12.0-211.10.1.el10_2.x86_64', rtKernel: '6.12.0-211.10.1.el10_2.x86_64+rt', kernel64k: null, rhelVersion: '10.2', rhcosVersion: '10.2.20260701-0' },
    ],
  },
  {
    version: '4.22.0', arch: 'arm64', graphArch: 'arm64', channels: ['candidate-4.22', 'fast-4.22', 'stable-4.22', 'eus-4.22'], findings: ['invalid-kernel-string'],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-687.12.1.el9_8.aarch64', rtKernel: null, kernel64k: '5.14.0-687.12.1.el9_8.aarch64+64k', rhelVersion: '9.8', rhcosVersion: '9.8.20260701-0' },
      { rhcosTag: 'rhel-coreos-10', dtkTag: null, kernel: '6.12.0-211.10.1.el10_2.aarch64', rtKernel: null, kernel64k: '6.12.0-211.10.1.el10_2.aarch64+64k', rhelVersion: '10.2', rhcosVersion: '10.2.20260701-0' },
    ],
  },
  {
    version: '5.0.0-ec.1', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-5.0'], findings: ['invalid-kernel-string'],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-690.el9.x86_64', rtKernel: '5.14.0-690.el9.x86_64+rt', kernel64k: null, rhelVersion: '9.8', rhcosVersion: '9.8.20260815-0' },
      { rhcosTag: 'rhel-coreos-10', dtkTag: 'driver-toolkit-10', kernel: '6.12.0-230.el10.x86_64', rtKernel: '6.12.0-230.el10.x86_64+rt', kernel64k: null, rhelVersion: '10.2', rhcosVersion: '10.2.20260817-0' },
    ],
  },
  // error cases
  { version: '4.17.3', arch: 'amd64', graphArch: 'amd64', channels: ['fault-missing-image-references'], kernels: [], findings: ['resolve-failed'] },
  { version: '4.17.4', arch: 'amd64', graphArch: 'amd64', channels: ['fault-image-references-not-json'], kernels: [], findings: ['resolve-failed'] },
  { version: '4.17.5', arch: 'amd64', graphArch: 'amd64', channels: ['fault-truncated-gzip'], kernels: [], findings: ['resolve-failed'] },
  {
    version: '4.19.9', arch: 'amd64', graphArch: 'amd64', channels: ['fault-dtk-mismatch'], findings: ['dtk-kernel-mismatch'],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-570.39.1.el9_6.x86_64', rtKernel: '5.14.0-570.39.1.el9_6.x86_64+rt', kernel64k: null, rhelVersion: '9.6', rhcosVersion: '9.6.20250826-0' },
    ],
  },
  {
    version: '4.18.20', arch: 'arm64', graphArch: 'arm64', channels: ['fault-junk-rt'], findings: ['invalid-rt-kernel'],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-427.77.1.el9_4.aarch64', rtKernel: null, kernel64k: '5.14.0-427.77.1.el9_4.aarch64+64k', rhelVersion: '9.4', rhcosVersion: '418.94.202507091512-0' },
    ],
  },
  {
    version: '4.22.1', arch: 'amd64', graphArch: 'amd64', channels: ['fault-ostree-linux-true'], findings: ['invalid-kernel-string'],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-687.15.1.el9_8.x86_64', rtKernel: '5.14.0-687.15.1.el9_8.x86_64+rt', kernel64k: null, rhelVersion: '9.8', rhcosVersion: '9.8.20260715-0' },
      { rhcosTag: 'rhel-coreos-10', dtkTag: null, kernel: '6.12.0-211.13.1.el10_2.x86_64', rtKernel: '6.12.0-211.13.1.el10_2.x86_64+rt', kernel64k: null, rhelVersion: '10.2', rhcosVersion: '10.2.20260715-0' },
    ],
  },
  {
    version: '4.16.8', arch: 'amd64', graphArch: 'amd64', channels: ['fault-shell-metachar'], findings: ['invalid-kernel-string'],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-427.31.1.el9_4.x86_64', rtKernel: '5.14.0-427.31.1.el9_4.x86_64+rt', kernel64k: null, rhelVersion: '9.4', rhcosVersion: '416.94.202408200132-0' },
    ],
  },
  // OKD
  {
    version: '4.19.0-okd-scos.17', arch: 'amd64', graphArch: 'amd64', channels: ['stable-scos-4'], findings: [],
    kernels: [
      { rhcosTag: 'stream-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-570.el9.x86_64', rtKernel: '5.14.0-570.el9.x86_64+rt', kernel64k: null, rhelVersion: '9', rhcosVersion: '9.0.20250827-0' },
    ],
  },
  {
    version: '4.20.0-okd-scos.ec.14', arch: 'amd64', graphArch: 'amd64', channels: ['stable-scos-4'], findings: [],
    kernels: [
      { rhcosTag: 'stream-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-604.el9.x86_64', rtKernel: null, kernel64k: null, rhelVersion: '9', rhcosVersion: '9.0.20250901-0' },
    ],
  },
  {
    version: '4.22.0-okd-scos.2', arch: 'amd64', graphArch: 'amd64', channels: ['stable-scos-4'], findings: ['dtk-kernel-mismatch', 'invalid-kernel-string'],
    kernels: [
      { rhcosTag: 'stream-coreos', dtkTag: 'driver-toolkit', kernel: '6.12.0-224.el10.x86_64', rtKernel: null, kernel64k: null, rhelVersion: '10', rhcosVersion: '10.0.20260620-0' },
    ],
  },
  // meta.json not in the last layer: both streams from the small earlier layer (ostree.linux=true)
  {
    version: '4.22.0-rc.1', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.22', 'fault-meta-json-not-last'], findings: ['invalid-kernel-string', 'kernel-source-fallback'],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-687.5.1.el9_8.x86_64', rtKernel: '5.14.0-687.5.1.el9_8.x86_64+rt', kernel64k: null, rhelVersion: '9.8', rhcosVersion: '9.8.20260512-0' },
      { rhcosTag: 'rhel-coreos-10', dtkTag: null, kernel: '6.12.0-211.4.1.el10_2.x86_64', rtKernel: '6.12.0-211.4.1.el10_2.x86_64+rt', kernel64k: null, rhelVersion: '10.2', rhcosVersion: '10.2.20260512-0' },
    ],
  },
  {
    version: '4.21.9', arch: 'amd64', graphArch: 'amd64', channels: ['fault-meta-json-not-last'], findings: ['kernel-source-fallback'],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-570.101.1.el9_6.x86_64', rtKernel: '5.14.0-570.101.1.el9_6.x86_64+rt', kernel64k: null, rhelVersion: '9.6', rhcosVersion: '9.6.20260415-0' },
      { rhcosTag: 'rhel-coreos-10', dtkTag: null, kernel: '6.12.0-124.45.1.el10_1.x86_64', rtKernel: null, kernel64k: null, rhelVersion: '10.1', rhcosVersion: '10.1.20260415-0' },
    ],
  },
  {
    version: '4.22.0-ec.3', arch: 'amd64', graphArch: 'amd64', channels: ['candidate-4.22', 'fault-meta-json-not-last'], findings: ['invalid-kernel-string', 'kernel-source-fallback', 'no-kernel-found'],
    kernels: [
      { rhcosTag: 'rhel-coreos', dtkTag: 'driver-toolkit', kernel: '5.14.0-687.2.1.el9_8.x86_64', rtKernel: '5.14.0-687.2.1.el9_8.x86_64+rt', kernel64k: null, rhelVersion: '9.8', rhcosVersion: '9.8.20260410-0' },
    ],
  },
];
