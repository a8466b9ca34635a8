/**
 * Builders that turn plain release facts (version, arch, RHCOS version, kernels) into the
 * `ReleaseArchSpec` of that release's era, following docs/release-payloads.md and docs/kernels.md:
 *
 * | OpenShift  | node image tag(s) (kernel source)                             | extensions tag             |
 * |------------|---------------------------------------------------------------|----------------------------|
 * | ≤ 4.11     | machine-os-content (labels com.coreos.rpm.kernel[-rt-core])    | –                          |
 * | 4.12       | rhel-coreos-8 (ostree.linux) + machine-os-content              | rhel-coreos-8-extensions   |
 * | 4.13–4.14  | rhel-coreos (ostree.linux) + machine-os-content                | rhel-coreos-extensions     |
 * | 4.15–4.18  | rhel-coreos (ostree.linux)                                     | rhel-coreos-extensions     |
 * | 4.19–4.21  | rhel-coreos (ostree.linux, metalayer meta.json)                | + extensions.json          |
 * | 4.22+, 5.x | rhel-coreos + rhel-coreos-10 (ostree.linux=true, meta.json)    | both, with extensions.json |
 * | OKD (SCOS) | stream-coreos (CentOS Stream; layered like RHCOS of its minor) | stream-coreos-extensions   |
 *
 * `driver-toolkit` carries `etc/driver-toolkit-release.json` in its last layer (or
 * second-to-last, on request). A RHEL 10 stream (`rhel10`) is a Tech Preview in 4.21 and
 * 4.22, **without** `driver-toolkit-10`; from 5.0 it has one.
 * Extension images before 4.19 hold an RPM directory (`usr/share/rpm-ostree/extensions/*.rpm`),
 * from 4.19 also `usr/share/rpm-ostree/extensions.json`.
  */
import type { ImageFormat } from './oci.ts';
import type { ComponentSpec, GoArch, ImageSpec, LayerSpec, ReleaseArchSpec, ReleaseSpec } from './spec.ts';
import { compareOpenShiftVersions, parseOpenShiftVersion, type OpenShiftVersion } from '#core/versions.ts';

/** `uname -m` spelling of a Go arch (kernels, RPMs, quay payload tags). */
export function unameArch(arch: GoArch): 'x86_64' | 'aarch64' | 's390x' | 'ppc64le' {
  switch (arch) {
    case 'amd64':
      return 'x86_64';
    case 'arm64':
      return 'aarch64';
    default:
      return arch;
  }
}

/** The DTK's junk RT field on arches without kernel-rt (seen in the wild). */
export const JUNK_RT_KERNEL = 'package kernel-rt-core is not installed+rt';

/** One RHCOS stream of a release: RHEL 9 (or 8), or the RHEL 10 stream of 4.22+. */
export interface KernelStreamFacts {
  /** e.g. `418.94.202505062142-0` or `9.6.20250925-0` */
  readonly rhcosVersion: string;
  /** `uname -r`, e.g. `5.14.0-427.68.1.el9_4.x86_64` */
  readonly kernel: string;
  /** RT kernel `uname -r` (x86_64 only): `…rt7.89.el8_4.x86_64` before RHEL 9.3, `….x86_64+rt` after. */
  readonly rtKernel?: string;
  /** 64k-page kernel `uname -r` (aarch64, 4.15 →): `….aarch64+64k`. */
  readonly kernel64k?: string;
  /** DTK `RHEL_VERSION`. @default - from the kernel's `elX_Y`, else the era's RHEL */
  readonly rhelVersion?: string;
}

export interface ReleaseArchFaults {
  /** Build the DTK against this kernel instead of the RHCOS one (okd#2350). */
  readonly dtkKernel?: string;
  /** DTK RT field holds `package kernel-rt-core is not installed+rt`. */
  readonly junkRt?: boolean;
  /** DTK file has no RT_KERNEL_VERSION key (4.12.z built after Oct 2025). */
  readonly omitDtkRt?: boolean;
  /**
   * Value of the RHCOS kernel label (`ostree.linux`, or `com.coreos.rpm.kernel` on
   * machine-os-content) instead of the kernel: `'true'`, or a string with shell metacharacters.
   */
  readonly kernelLabel?: string;
  readonly payload?: ReleaseArchSpec['payloadFault'];
  /**
   * Layered node images (every stream) hold meta.json before their last layer
   * (openshift/os 53c2138, builds of 2026-03-30..2026-05-20): `true` in a small layer of
   * its own behind a big one; `'in-big-layer'` only inside a layer too big to read.
   */
  readonly metaJsonNotLast?: boolean | 'in-big-layer';
}

/** Size of the base layer under a misordered meta.json: above the scanner's fallback bound (1 MiB). */
export const MISORDERED_BASE_LAYER_BYTES = 3 * 1024 * 1024;

export interface BuildReleaseArchOptions extends KernelStreamFacts {
  /** OpenShift version, e.g. `4.18.14`, `4.17.0-rc.1`, `5.0.0-ec.1`. */
  readonly ocp: string;
  readonly arch: GoArch;
  /** The RHEL 10 stream (4.21 and 4.22 as a Tech Preview without DTK; 5.x with `driver-toolkit-10`). */
  readonly rhel10?: KernelStreamFacts;
  /** Layer holding `etc/driver-toolkit-release.json`. @default 'last' */
  readonly dtkFileLayer?: 'last' | 'second-to-last';
  /** Publish components as indexes (multi payloads). @default false */
  readonly asIndex?: boolean;
  /** Component manifest flavour. @default - 'docker' up to 4.14, 'oci' after */
  readonly format?: ImageFormat;
  readonly faults?: ReleaseArchFaults;
}

export type Era = 'machine-os-content' | '4.12' | '4.13-4.14' | '4.15-4.18' | '4.19-4.21' | 'dual-stream' | 'okd-scos';

/** A fixture's OpenShift version, parsed; throws on a typo in a fixture. */
export function parseOcpVersion(version: string): OpenShiftVersion {
  const v = parseOpenShiftVersion(version);
  if (!v) throw new Error(`not an OpenShift version: ${JSON.stringify(version)} (want e.g. 4.18.14 or 4.17.0-rc.1)`);
  return v;
}

export { compareOpenShiftVersions as compareOcpVersions };

export function eraOf(ocp: string): Era {
  const { major, minor, distribution } = parseOcpVersion(ocp);
  if (distribution === 'okd') return 'okd-scos';
  if (major > 4 || minor >= 22) return 'dual-stream';
  if (minor >= 19) return '4.19-4.21';
  if (minor >= 15) return '4.15-4.18';
  if (minor >= 13) return '4.13-4.14';
  if (minor === 12) return '4.12';
  return 'machine-os-content';
}

/** RHEL (9 or 8) of an OpenShift minor, per docs/kernels.md (for OKD: the CentOS Stream major). */
export function eraRhelVersion(ocp: string): string {
  const { major, minor, distribution } = parseOcpVersion(ocp);
  if (distribution === 'okd') return major > 4 || minor >= 22 ? '10' : '9';
  if (major > 4 || minor >= 22) return '9.8';
  if (minor >= 19) return '9.6';
  if (minor >= 16) return '9.4';
  if (minor >= 13) return '9.2';
  if (minor >= 11) return '8.6';
  if (minor >= 7) return '8.4';
  return '8.2';
}

/** `8.6` from `….el8_6.…`; undefined when the kernel omits the minor (`5.14.0-252.el9`). */
export function rhelVersionOfKernel(kernel: string): string | undefined {
  const m = /\.el(\d+)_(\d+)(?:\.|$)/.exec(kernel);
  return m ? `${m[1]}.${m[2]}` : undefined;
}

/** `[version, release, arch]` of a kernel `uname -r` (flavour suffix dropped). */
export function splitKernel(kernel: string): { version: string; release: string; arch: string } {
  const m = /^(\d+\.\d+\.\d+)-(.+)\.(x86_64|aarch64|s390x|ppc64le)(?:\+\w+)?$/.exec(kernel);
  if (!m?.[1] || !m[2] || !m[3]) throw new Error(`cannot split kernel ${JSON.stringify(kernel)} into version-release.arch`);
  return { version: m[1], release: m[2], arch: m[3] };
}

/** `<evr>.<arch>` of an RPM for a kernel `uname -r` (drops `+rt` / `+64k`). */
function rpmEvra(kernel: string): string {
  return kernel.replace(/\+\w+$/, '');
}

function minorOf(ocp: string): string {
  const { major, minor } = parseOcpVersion(ocp);
  return `${major}.${minor}`;
}

// ------------------------------------------------------------------ component images

interface StreamContext {
  readonly ocp: string;
  readonly arch: GoArch;
  readonly era: Era;
  readonly format: ImageFormat;
  readonly faults: ReleaseArchFaults;
  readonly dtkFileLayer: 'last' | 'second-to-last';
  readonly streamclass?: 'rhel-9' | 'rhel-10';
  /** Node images are layered (meta.json in the last layer): 4.19 →, and OKD SCOS of those minors. */
  readonly layered: boolean;
  /** `ostree.linux=true` instead of the kernel (the openshift/os Containerfile from 4.22). */
  readonly ostreeLinuxTrue: boolean;
  readonly okd: boolean;
}

function annotations(ctx: StreamContext, rhcosVersion?: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (rhcosVersion !== undefined) out['io.openshift.build.versions'] = `machine-os=${rhcosVersion}`;
  if (ctx.streamclass !== undefined) out['io.openshift.os.streamclass'] = ctx.streamclass;
  return out;
}

/** Identical for every release of a RHEL minor, so the blob is shared (the RHCOS version is in the labels). */
function osReleaseLayer(name: string, rhel: string): LayerSpec {
  return {
    files: {
      'usr/lib/os-release': [`NAME="${name}"`, 'ID="rhcos"', 'ID_LIKE="rhel fedora"', `RHEL_VERSION="${rhel}"`, ''].join('\n'),
    },
  };
}

function rhcosImage(ctx: StreamContext, s: KernelStreamFacts, rhel: string): ImageSpec {
  const metalayer = ctx.layered;
  const labels: Record<string, string> = {
    'com.coreos.osname': ctx.okd ? 'scos' : 'rhcos',
    'ostree.bootable': 'true',
    'ostree.linux': ctx.faults.kernelLabel ?? (ctx.ostreeLinuxTrue ? 'true' : s.kernel),
    version: s.rhcosVersion,
    'org.opencontainers.image.version': s.rhcosVersion,
  };
  if (metalayer) {
    labels['io.openshift.metalayer'] = 'true';
    labels['containers.bootc'] = '1';
  }
  const base = osReleaseLayer(ctx.okd ? 'CentOS Stream CoreOS' : 'Red Hat Enterprise Linux CoreOS', rhel);
  if (!metalayer) return { labels, layers: [base], format: ctx.format };
  const k = splitKernel(s.kernel);
  const pkg = (name: string, version: string, release: string, arch = k.arch): string[] => [name, '0', version, release, arch];
  const elTag = /\.(el\d+(?:_\d+)?)$/.exec(k.release)?.[1] ?? 'el9';
  const pkglist = [
    pkg('bash', '5.1.8', `9.${elTag}`),
    pkg('cri-o', `1.${parseOcpVersion(ctx.ocp).minor + 13}.3`, `3.rhaos${minorOf(ctx.ocp)}.${elTag}`),
    pkg('kernel', k.version, k.release),
    pkg('kernel-core', k.version, k.release),
    pkg('kernel-modules', k.version, k.release),
    pkg('kernel-modules-core', k.version, k.release),
    pkg('ostree', '2024.9', `1.${elTag}`),
    pkg('rpm-ostree', '2024.11', `2.${elTag}`),
    pkg('systemd', '252', `51.${elTag}`),
  ];
  const meta: LayerSpec = { files: { 'usr/share/openshift/base/meta.json': { json: { 'rpmdb.pkglist': pkglist } } } };
  const top: LayerSpec = { files: { 'etc/containers/registries.conf.d/000-node.conf': '# node image\n' } };
  if (ctx.faults.metaJsonNotLast === 'in-big-layer') {
    // meta.json only inside a big content layer: no cheap copy exists.
    return { labels, format: ctx.format, layers: [base, { ...misorderedContentLayer(), files: { ...misorderedContentLayer().files, ...meta.files } }, top] };
  }
  if (ctx.faults.metaJsonNotLast) {
    // 53c2138's order: a big content layer, then meta.json, then a small layer on top.
    return { labels, format: ctx.format, layers: [base, misorderedContentLayer(), meta, top] };
  }
  return { labels, format: ctx.format, layers: [base, meta] };
}

let bigLayer: LayerSpec | undefined;
/** One shared object, so its (incompressible) blob is built once. */
export function misorderedContentLayer(): LayerSpec {
  bigLayer ??= { files: { 'usr/lib/ostree-content/README': 'ostree content\n' }, fillerBytes: MISORDERED_BASE_LAYER_BYTES };
  return bigLayer;
}

function machineOsContentImage(ctx: StreamContext, s: KernelStreamFacts, rhel: string): ImageSpec {
  const labels: Record<string, string> = {
    'com.coreos.ostree-commit': `${s.rhcosVersion}-commit`,
    'com.coreos.rpm.kernel': ctx.faults.kernelLabel ?? s.kernel,
    version: s.rhcosVersion,
    'io.openshift.build.version-display-names': 'machine-os=Red Hat Enterprise Linux CoreOS',
    'io.openshift.build.versions': `machine-os=${s.rhcosVersion}`,
  };
  if (ctx.arch === 'amd64' && s.rtKernel !== undefined) labels['com.coreos.rpm.kernel-rt-core'] = s.rtKernel;
  const files: Record<string, string> = {
    'srv/repo/config': '[core]\nrepo_version=1\nmode=archive-z2\n',
    'pkglist.txt': `kernel-${rpmEvra(s.kernel)}\n`,
  };
  if (ctx.era === 'machine-os-content' && ctx.arch === 'amd64' && s.rtKernel !== undefined) {
    files[`extensions/kernel-rt-core-${rpmEvra(s.rtKernel)}.rpm`] = 'rpm stub\n';
  }
  return { labels, format: ctx.format, layers: [osReleaseLayer('machine-os-content', rhel), { files }] };
}

function extensionsImage(ctx: StreamContext, s: KernelStreamFacts): ImageSpec {
  const el = /\.(el\d+)/.exec(s.kernel)?.[1] ?? 'el9';
  const files: Record<string, LayerSpec['files'][string]> = {
    'usr/share/rpm-ostree/extensions/repodata/repomd.xml': '<?xml version="1.0" encoding="UTF-8"?>\n<repomd/>\n',
    [`usr/share/rpm-ostree/extensions/usbguard-1.0.0-15.${el}.${unameArch(ctx.arch)}.rpm`]: 'rpm stub\n',
    [`usr/share/rpm-ostree/extensions/kernel-devel-${rpmEvra(s.kernel)}.rpm`]: 'rpm stub\n',
  };
  const json: Record<string, string> = {
    'kernel-devel': rpmEvra(s.kernel),
    usbguard: `1.0.0-15.${el}.${unameArch(ctx.arch)}`,
  };
  if (ctx.arch === 'amd64' && s.rtKernel !== undefined) {
    files[`usr/share/rpm-ostree/extensions/kernel-rt-core-${rpmEvra(s.rtKernel)}.rpm`] = 'rpm stub\n';
    json['kernel-rt-core'] = rpmEvra(s.rtKernel);
    json['kernel-rt-kvm'] = rpmEvra(s.rtKernel);
  }
  if (ctx.arch === 'arm64' && s.kernel64k !== undefined) {
    files[`usr/share/rpm-ostree/extensions/kernel-64k-core-${rpmEvra(s.kernel64k)}.rpm`] = 'rpm stub\n';
    json['kernel-64k-core'] = rpmEvra(s.kernel64k);
    json['kernel-64k-modules'] = rpmEvra(s.kernel64k);
  }
  if (ctx.layered) {
    files['usr/share/rpm-ostree/extensions.json'] = { json: Object.fromEntries(Object.entries(json).sort()) };
  }
  return {
    labels: { 'com.coreos.osname': ctx.okd ? 'scos-extensions' : 'rhcos-extensions' },
    format: ctx.format,
    layers: [{ files: { 'usr/share/licenses/extensions/LICENSE': 'GPL-2.0\n' } }, { files }],
  };
}

function dtkImage(ctx: StreamContext, s: KernelStreamFacts, rhel: string): ImageSpec {
  const kernel = ctx.faults.dtkKernel ?? s.kernel;
  const release: Record<string, string> = { KERNEL_VERSION: kernel };
  if (!ctx.faults.omitDtkRt) {
    if (ctx.faults.junkRt) {
      release.RT_KERNEL_VERSION = JUNK_RT_KERNEL;
    } else if (ctx.arch === 'amd64' && s.rtKernel !== undefined) {
      release.RT_KERNEL_VERSION =
        ctx.faults.dtkKernel !== undefined && s.rtKernel.endsWith('+rt') ? `${ctx.faults.dtkKernel}+rt` : s.rtKernel;
    }
  }
  release.RHEL_VERSION = rhel;
  const rhelMajor = rhel.split('.')[0] ?? '9';
  const base: LayerSpec = {
    files: {
      'etc/os-release': ctx.okd
        ? `NAME="CentOS Stream"\nVERSION_ID="${rhelMajor}"\nID="centos"\n`
        : `NAME="Red Hat Enterprise Linux"\nVERSION_ID="${rhel}"\nID="rhel"\n`,
      [`usr/src/kernels/${rpmEvra(kernel)}/Makefile`]: `# kernel ${kernel}\n`,
    },
  };
  const dtkFile: LayerSpec = { files: { 'etc/driver-toolkit-release.json': { json: release } } };
  const layers: LayerSpec[] = [base, dtkFile];
  if (ctx.dtkFileLayer === 'second-to-last') {
    layers.push({ files: { 'usr/share/doc/driver-toolkit/README': 'Driver Toolkit\n' } });
  }
  return {
    labels: {
      name: ctx.okd ? 'okd/driver-toolkit' : `openshift/ose-driver-toolkit-rhel${rhelMajor}`,
      version: `v${minorOf(ctx.ocp)}.0`,
      'io.openshift.release.operator': 'true',
    },
    format: ctx.format,
    layers,
  };
}

/** Small non-kernel components, identical for every release of a minor (shared blobs). */
function plainComponent(ctx: StreamContext, name: string, path: string): ImageSpec {
  return {
    labels: { 'io.openshift.build.name': name, version: `v${minorOf(ctx.ocp)}` },
    format: ctx.format,
    layers: [{ files: { [path]: `#!/bin/sh\n# ${name} ${minorOf(ctx.ocp)} ${unameArch(ctx.arch)}\n` } }],
  };
}

// ------------------------------------------------------------------ release builders

export function buildReleaseArch(o: BuildReleaseArchOptions): ReleaseArchSpec {
  const era = eraOf(o.ocp);
  const { minor, major } = parseOcpVersion(o.ocp);
  const okd = era === 'okd-scos';
  const at = (mj: number, mn: number) => major > mj || (major === mj && minor >= mn);
  if (o.rhel10 !== undefined && (okd || !at(4, 21))) {
    throw new Error(`rhel10 stream given for ${o.ocp}: only OpenShift 4.21+ releases have one`);
  }
  const format = o.format ?? (major === 4 && minor <= 14 ? 'docker' : 'oci');
  const newTags = !okd && at(4, 19);
  const ctx: StreamContext = {
    ocp: o.ocp,
    arch: o.arch,
    era,
    format,
    faults: o.faults ?? {},
    dtkFileLayer: o.dtkFileLayer ?? 'last',
    ...(newTags ? { streamclass: 'rhel-9' as const } : {}),
    layered: at(4, 19),
    ostreeLinuxTrue: at(4, 22),
    okd,
  };
  const rhel = o.rhelVersion ?? rhelVersionOfKernel(o.kernel) ?? eraRhelVersion(o.ocp);
  const asIndex = o.asIndex ?? false;
  const c = (image: ImageSpec, ann: Record<string, string> = {}): ComponentSpec => ({
    image,
    ...(Object.keys(ann).length > 0 ? { annotations: ann } : {}),
    ...(asIndex ? { asIndex: true } : {}),
  });

  const components: Record<string, ComponentSpec> = {
    cli: c(plainComponent(ctx, 'cli', 'usr/bin/oc')),
    'cluster-version-operator': c(plainComponent(ctx, 'cluster-version-operator', 'usr/bin/cluster-version-operator')),
    'machine-config-operator': c(plainComponent(ctx, 'machine-config-operator', 'usr/bin/machine-config-operator')),
    'driver-toolkit': c(dtkImage(ctx, o, rhel), annotations(ctx)),
  };
  const rhcosAnn = annotations(ctx, o.rhcosVersion);
  switch (era) {
    case 'machine-os-content':
      components['machine-os-content'] = c(machineOsContentImage(ctx, o, rhel), rhcosAnn);
      break;
    case '4.12':
      components['rhel-coreos-8'] = c(rhcosImage(ctx, o, rhel), rhcosAnn);
      components['rhel-coreos-8-extensions'] = c(extensionsImage(ctx, o), annotations(ctx));
      components['machine-os-content'] = c(machineOsContentImage(ctx, o, rhel), rhcosAnn);
      break;
    case '4.13-4.14':
      components['rhel-coreos'] = c(rhcosImage(ctx, o, rhel), rhcosAnn);
      components['rhel-coreos-extensions'] = c(extensionsImage(ctx, o), annotations(ctx));
      components['machine-os-content'] = c(machineOsContentImage(ctx, o, rhel), rhcosAnn);
      break;
    case 'okd-scos':
      components['stream-coreos'] = c(rhcosImage(ctx, o, rhel), rhcosAnn);
      components['stream-coreos-extensions'] = c(extensionsImage(ctx, o), annotations(ctx));
      break;
    default:
      components['rhel-coreos'] = c(rhcosImage(ctx, o, rhel), rhcosAnn);
      components['rhel-coreos-extensions'] = c(extensionsImage(ctx, o), annotations(ctx));
  }
  if (era === 'dual-stream' && o.rhel10 === undefined) {
    throw new Error(`${o.ocp} needs a rhel10 stream (4.22+ ship RHEL 9 and RHEL 10 RHCOS)`);
  }
  if (o.rhel10 !== undefined) {
    const s10 = o.rhel10;
    const ctx10: StreamContext = { ...ctx, streamclass: 'rhel-10' };
    const rhel10 = s10.rhelVersion ?? rhelVersionOfKernel(s10.kernel) ?? (at(4, 22) ? '10.2' : '10.1');
    components['rhel-coreos-10'] = c(rhcosImage(ctx10, s10, rhel10), annotations(ctx10, s10.rhcosVersion));
    components['rhel-coreos-10-extensions'] = c(extensionsImage(ctx10, s10), annotations(ctx10));
    // 4.21 and 4.22 ship RHEL 10 as a Tech Preview with no DTK of its own (docs/release-payloads.md).
    if (at(5, 0)) components['driver-toolkit-10'] = c(dtkImage({ ...ctx10, faults: {} }, s10, rhel10), annotations(ctx10));
  }
  return {
    arch: o.arch,
    components,
    ...(o.faults?.payload !== undefined ? { payloadFault: o.faults.payload } : {}),
  };
}

export interface BuildReleaseOptions {
  readonly version: string;
  readonly channels: readonly string[];
  /** @default 'single' */
  readonly payloadKind?: 'single' | 'multi';
  /** Payload manifest flavour. @default - 'docker' up to 4.15, 'oci' after */
  readonly payloadFormat?: ImageFormat;
  /** Errata URL. @default - a stable made-up errata URL */
  readonly url?: string;
  readonly arches: readonly Omit<BuildReleaseArchOptions, 'ocp'>[];
}

export function errataUrl(version: string): string {
  const { minor, patch, distribution } = parseOcpVersion(version);
  if (distribution === 'okd') return `https://github.com/okd-project/okd/releases/tag/${version}`;
  const year = 2020 + Math.max(0, minor - 6) / 2;
  return `https://access.redhat.com/errata/RHBA-${Math.floor(year)}:${String(1000 + minor * 300 + patch * 7).padStart(4, '0')}`;
}

export function buildRelease(o: BuildReleaseOptions): ReleaseSpec {
  const kind = o.payloadKind ?? 'single';
  const { major, minor } = parseOcpVersion(o.version);
  return {
    version: o.version,
    channels: [...o.channels],
    ...(eraOf(o.version) === 'okd-scos' ? { distribution: 'okd' as const } : {}),
    payloadKind: kind,
    payloadFormat: o.payloadFormat ?? (major === 4 && minor <= 15 ? 'docker' : 'oci'),
    url: o.url ?? errataUrl(o.version),
    arches: o.arches.map((a) => buildReleaseArch({ ...a, ocp: o.version, ...(kind === 'multi' ? { asIndex: true } : {}) })),
  };
}
