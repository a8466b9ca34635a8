/**
 * Kernel Module Management (KMM) manifests from what the pipeline recorded: a
 * `Module` whose kernel mappings point at the driver images this project built,
 * and a `PreflightValidationOCP` for an OpenShift release (its kernel and its own
 * DTK image, the lookup admins otherwise do with `oc adm release info`).
 *
 * Pure functions of one status snapshot. KMM semantics relied on (checked against
 * KMM's source, kubernetes-sigs/kernel-module-management and its downstream
 * rh-ecosystem-edge/kernel-module-management):
 *
 * - `kernelMappings` are tried in order; an entry matches when `literal` equals the
 *   node's kernel, or when `regexp` matches it (Go RE2, unanchored: anchor it).
 *   Matching uses the kernel exactly as the node reports it (`…x86_64+rt`).
 *   [internal/module/kernelmapper.go findKernelMapping]
 * - `containerImage` is then expanded like envsubst with `KERNEL_FULL_VERSION`,
 *   `KERNEL_VERSION`, `KERNEL_XYZ`, `KERNEL_X/Y/Z` (split on `[.,-]`), `MOD_NAME` (the
 *   Module's `metadata.name`, not the kernel module's name) and `MOD_NAMESPACE`.
 *   [internal/utils KernelComponentsAsEnvVars, kernelmapper.go replaceTemplates]
 * - Since KMM 2.1 (upstream PR #824, downstream #1135, June 2024) the kernel is
 *   normalised before that expansion: every character outside `[A-Za-z0-9._-]`
 *   becomes `_`, the rule our tags follow. Older KMM substitutes the raw kernel,
 *   which yields an invalid reference for `+rt`/`+64k` kernels.
 *   [internal/kernel/kernel.go NormalizeVersion]
 *
 * Hence the Module's mappings: one `regexp` entry, anchored and listing exactly the
 * kernels built for the driver, with `containerImage` `<repository>:<tag template>`
 * left for KMM to expand, covering every built kernel for which (a) the kernel needs
 * no normalisation, so every KMM version expands it to the same tag, and (b)
 * expanding the template the way KMM does gives exactly the image that was built
 * (it does not when the repository or template changed since the build, or when the
 * template uses `${MOD_NAME}` and the Module is not named like the kernel module).
 * Every other built kernel gets a `literal` entry with its recorded image. A regexp
 * that lists the kernels, rather than one per RHEL stream, never sends a node to
 * an image that was not built (a missing mapping is reported by KMM; a missing
 * image is an ImagePullBackOff on the node).
 *
 * `PreflightValidationOCP` is `kmm.sigs.x-k8s.io/v1beta2` with `kernelVersion`,
 * `dtkImage` and `pushBuiltImage`, cluster-scoped (no namespace). The older v1beta1
 * form took `releaseImage` instead. [api/v1beta2/preflightvalidationocp_types.go;
 * OpenShift 4.20 docs "Example PreflightValidationOCP resource"]
 */
import { Document } from 'yaml';
import type { KernelArch } from '#core/arch.ts';
import { KERNEL_ARCHES, goArchOf } from '#core/arch.ts';
import type { FindingCode } from '#core/findings.ts';
import { compareKernels, kernelTag, quoteUntrusted } from '#core/kernel.ts';
import type { KernelStream, ResolvedRelease } from '#core/release-record.ts';
import { compareOpenShiftVersions, parseOpenShiftVersion } from '#core/versions.ts';
import type { Driver } from './drivers.ts';
import { moduleNameOf } from './drivers.ts';
import type { StatusSnapshot } from './status.ts';
import type { BuildEntry, ReleaseEntry } from './entities.ts';

export const KMM_MODULE_API_VERSION = 'kmm.sigs.x-k8s.io/v1beta1';
export const KMM_PREFLIGHT_API_VERSION = 'kmm.sigs.x-k8s.io/v1beta2';

/** Annotation keys this project sets on the manifests it prints. */
const ANNOTATION = 'dtk-pipeline';

/** Kubernetes object names: a DNS-1123 subdomain. */
const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Namespaces and secret names used here: a DNS-1123 label. */
const DNS1123_LABEL = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** KMM's Module webhook rejects a longer name + namespace (it derives object names from them). */
const MAX_NAME_AND_NAMESPACE = 40;

/** The default node selector: every worker. */
export const DEFAULT_MODULE_SELECTOR: Readonly<Record<string, string>> = { 'node-role.kubernetes.io/worker': '' };

export interface KmmKernelMapping {
  readonly regexp?: string;
  readonly literal?: string;
  readonly containerImage: string;
}

export interface KmmObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface KmmModule {
  readonly apiVersion: typeof KMM_MODULE_API_VERSION;
  readonly kind: 'Module';
  readonly metadata: KmmObjectMeta;
  readonly spec: {
    readonly moduleLoader: {
      readonly container: {
        readonly modprobe: { readonly moduleName: string };
        readonly kernelMappings: readonly KmmKernelMapping[];
      };
    };
    readonly imageRepoSecret?: { readonly name: string };
    readonly selector: Readonly<Record<string, string>>;
  };
}

export interface KmmModuleOptions {
  /** Namespace of the Module. @default - none: `oc apply` uses the current project (or `-n`) */
  readonly namespace?: string;
  /** Name of the Module (KMM's `${MOD_NAME}`). @default - the driver's name */
  readonly name?: string;
  /** Secret (in the Module's namespace) to pull the driver images with. @default - none: the images are public or the node can pull them */
  readonly imageRepoSecret?: string;
}

function checkName(value: string, what: string, pattern: RegExp): string {
  if (!pattern.test(value)) {
    throw new Error(`${what} ${quoteUntrusted(value)} is not a valid Kubernetes name: use lowercase letters, digits and '-'${pattern === DNS1123_SUBDOMAIN ? " (and '.')" : ''}`);
  }
  return value;
}

/**
 * Expands an image template the way KMM ≥ 2.1 does for a node kernel. Only the
 * `${NAME}` form is handled: tag templates allow no other `$`.
 */
function kmmExpand(template: string, kernel: string, moduleName: string, namespace: string | undefined): string {
  const normalized = kernelTag(kernel);
  const parts = normalized.split(/[.,-]/);
  const values: Record<string, string | undefined> = {
    KERNEL_FULL_VERSION: normalized,
    KERNEL_VERSION: normalized,
    KERNEL_XYZ: parts.slice(0, 3).join('.'),
    KERNEL_X: parts[0],
    KERNEL_Y: parts[1],
    KERNEL_Z: parts[2],
    MOD_NAME: moduleName,
    MOD_NAMESPACE: namespace,
  };
  return template.replace(/\$\{([A-Z_]+)\}/g, (_, name: string) => values[name] ?? '');
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** An anchored RE2 pattern matching exactly the given kernels. */
export function kernelsRegexp(kernels: readonly string[]): string {
  if (kernels.length === 0) throw new Error('a kernel regexp needs at least one kernel');
  return `^(?:${kernels.map(escapeRegExp).join('|')})$`;
}

/** Per-arch driver builds whose image exists: succeeded, or skipped because the tag already existed. */
function builtImages(snapshot: StatusSnapshot, driver: Driver): BuildEntry[] {
  const target = `driver:${driver.name}`;
  return snapshot.builds
    .filter((b) => b.kind === 'driver' && b.target === target && b.arch !== 'multi' && (b.state === 'succeeded' || b.state === 'skipped'))
    .sort((a, b) => a.arch.localeCompare(b.arch) || compareKernels(a.kernel, b.kernel));
}

function findDriver(snapshot: StatusSnapshot, driverName: string): Driver {
  const driver = snapshot.drivers.find((d) => d.name === driverName);
  if (driver) return driver;
  const known = snapshot.drivers.map((d) => d.name);
  throw new Error(
    `unknown driver ${quoteUntrusted(driverName)}; ` +
      (known.length ? `known drivers: ${known.join(', ')}` : 'no drivers are registered (add one with the deploy config or `dtk-pipeline driver`)'),
  );
}

/** A KMM `Module` loading the driver's kernel module from the images this project built. */
export function kmmModule(snapshot: StatusSnapshot, driverName: string, options: KmmModuleOptions = {}): KmmModule {
  const driver = findDriver(snapshot, driverName);
  const name = checkName(options.name ?? driver.name, 'Module name', DNS1123_SUBDOMAIN);
  if (options.namespace !== undefined) checkName(options.namespace, 'namespace', DNS1123_LABEL);
  if (options.imageRepoSecret !== undefined) checkName(options.imageRepoSecret, 'image pull secret', DNS1123_SUBDOMAIN);
  const combined = name.length + (options.namespace?.length ?? 0);
  if (combined > MAX_NAME_AND_NAMESPACE) {
    throw new Error(`Module name and namespace are ${combined} characters together; KMM's admission webhook allows at most ${MAX_NAME_AND_NAMESPACE}: choose a shorter --name`);
  }

  const built = builtImages(snapshot, driver);
  if (built.length === 0) {
    const target = `driver:${driver.name}`;
    const counts = new Map<string, number>();
    for (const b of snapshot.builds) if (b.target === target && b.kind === 'driver') counts.set(b.state, (counts.get(b.state) ?? 0) + 1);
    const recorded = [...counts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([state, n]) => `${n} ${state}`)
      .join(', ');
    throw new Error(`nothing has been built yet for driver ${driver.name}: ${recorded ? `its builds are ${recorded}` : 'no builds are recorded'}`);
  }

  const template = `${driver.repository}:${driver.tagTemplate}`;
  const viaRegexp: string[] = [];
  const literals: KmmKernelMapping[] = [];
  for (const build of built) {
    const expandsToBuilt = kmmExpand(template, build.kernel, name, options.namespace) === build.image;
    if (expandsToBuilt && kernelTag(build.kernel) === build.kernel) viaRegexp.push(build.kernel);
    else literals.push({ literal: build.kernel, containerImage: build.image });
  }
  const kernelMappings: KmmKernelMapping[] = [
    ...(viaRegexp.length ? [{ regexp: kernelsRegexp(viaRegexp), containerImage: template }] : []),
    ...literals,
  ];

  return {
    apiVersion: KMM_MODULE_API_VERSION,
    kind: 'Module',
    metadata: {
      name,
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      annotations: { [`${ANNOTATION}/driver`]: driver.name, [`${ANNOTATION}/driver-version`]: driver.version },
    },
    spec: {
      moduleLoader: { container: { modprobe: { moduleName: moduleNameOf(driver) }, kernelMappings } },
      ...(options.imageRepoSecret === undefined ? {} : { imageRepoSecret: { name: options.imageRepoSecret } }),
      selector: { ...DEFAULT_MODULE_SELECTOR },
    },
  };
}

export type KernelFlavourChoice = 'base' | 'rt' | '64k';

export interface KmmPreflightOptions {
  /** @default - `preflight-<version>`, with the arch, stream and flavour appended when not the default */
  readonly name?: string;
  /** @default 'x86_64' */
  readonly arch?: KernelArch;
  /**
   * RHCOS stream, by tag (`rhel-coreos-10`) or stream class (`rhel-10`), for releases
   * with two (4.22+). @default - the `rhel-coreos` stream (else the first one)
   */
  readonly stream?: string;
  /** Validate against the release's RT (x86_64) or 64k-page (aarch64) kernel. @default 'base' */
  readonly flavour?: KernelFlavourChoice;
  /** Let KMM push the images it builds during validation. @default false */
  readonly pushBuiltImage?: boolean;
}

export interface KmmPreflightValidationOcp {
  readonly apiVersion: typeof KMM_PREFLIGHT_API_VERSION;
  readonly kind: 'PreflightValidationOCP';
  readonly metadata: KmmObjectMeta;
  readonly spec: {
    readonly kernelVersion: string;
    readonly dtkImage?: string;
    readonly pushBuiltImage: boolean;
  };
}

const PRIMARY_STREAM = 'rhel-coreos';
/** Findings that put the manifest's kernel or DTK image in doubt (others, such as a junk label that was ignored, do not). */
const PREFLIGHT_FINDINGS: readonly FindingCode[] = ['dtk-kernel-mismatch', 'kernel-sources-disagree'];

/** Up to `count` recorded versions on each side of where `version` would sort. */
function nearestVersions(known: readonly string[], version: string, count = 3): string[] {
  const sorted = [...new Set(known)].sort(compareOpenShiftVersions);
  const at = sorted.findIndex((v) => compareOpenShiftVersions(v, version) > 0);
  const index = at === -1 ? sorted.length : at;
  return sorted.slice(Math.max(0, index - count), index + count);
}

function findRelease(snapshot: StatusSnapshot, version: string, arch: KernelArch): ResolvedRelease {
  const entries = snapshot.releases.filter((e) => e.version === version);
  if (entries.length === 0) {
    const near = nearestVersions(
      snapshot.releases.map((e) => e.version),
      version,
    );
    throw new Error(
      `OpenShift ${quoteUntrusted(version)} is not recorded; ` +
        (near.length ? `nearest recorded releases: ${near.join(', ')}` : 'no releases are recorded yet (is this the right store? has the pipeline run?)'),
    );
  }
  const resolved = entries.filter((e) => e.state === 'resolved');
  if (resolved.length === 0) {
    const failure = entries.find((e) => e.failure)?.failure;
    throw new Error(
      `OpenShift ${version} is recorded but not resolved (${[...new Set(entries.map((e) => e.state))].join(', ')})` + (failure ? `: ${failure.message}` : ''),
    );
  }
  // The arch's own graph first, the multi graph last: a multi payload lists the same
  // release through an index, and its DTK reference may be the index's.
  const rank = (e: ReleaseEntry) => (e.graphArch === goArchOf(arch) ? 0 : e.graphArch === 'multi' ? 2 : 1);
  const candidates = [...resolved].sort((a, b) => rank(a) - rank(b)).flatMap((e) => (e.releases ?? []).filter((r) => r.version === version));
  const release = candidates.find((r) => r.arch === arch);
  if (!release) {
    const arches = [...new Set(candidates.map((r) => r.arch))];
    throw new Error(`OpenShift ${version} is recorded for ${arches.length ? arches.join(', ') : 'no arch'}, not for ${arch}`);
  }
  return release;
}

function pickStream(release: ResolvedRelease, wanted: string | undefined): KernelStream {
  const streams = release.streams;
  if (streams.length === 0) throw new Error(`OpenShift ${release.version} (${release.arch}) has no kernel recorded`);
  const names = streams.map((s) => (s.streamClass ? `${s.stream} (${s.streamClass})` : s.stream)).join(', ');
  if (wanted !== undefined) {
    const found = streams.find((s) => s.stream === wanted || s.streamClass === wanted);
    if (!found) throw new Error(`OpenShift ${release.version} (${release.arch}) has no stream ${quoteUntrusted(wanted)}; its streams: ${names}`);
    return found;
  }
  return streams.find((s) => s.stream === PRIMARY_STREAM) ?? streams[0]!;
}

function flavourKernel(stream: KernelStream, flavour: KernelFlavourChoice, release: ResolvedRelease): string {
  if (flavour === 'base') return stream.kernel;
  const kernel = flavour === 'rt' ? stream.rtKernel : stream.kernel64k;
  if (!kernel) throw new Error(`OpenShift ${release.version} (${release.arch}, ${stream.stream}) has no ${flavour === 'rt' ? 'RT' : '64k'} kernel recorded`);
  return kernel;
}

/** A `PreflightValidationOCP` for one recorded release: its kernel and its own DTK image. */
export function kmmPreflight(snapshot: StatusSnapshot, openshiftVersion: string, options: KmmPreflightOptions = {}): KmmPreflightValidationOcp {
  if (!parseOpenShiftVersion(openshiftVersion)) {
    throw new Error(`${quoteUntrusted(openshiftVersion)} is not an OpenShift version (like 4.18.14 or 4.19.0-rc.1)`);
  }
  const arch = options.arch ?? 'x86_64';
  if (!KERNEL_ARCHES.includes(arch)) throw new Error(`arch ${quoteUntrusted(arch)} is not one of ${KERNEL_ARCHES.join(', ')}`);
  const flavour = options.flavour ?? 'base';
  const release = findRelease(snapshot, openshiftVersion, arch);
  const stream = pickStream(release, options.stream);
  const kernelVersion = flavourKernel(stream, flavour, release);

  const suffixes = [
    ...(arch === 'x86_64' ? [] : [arch]),
    ...(stream.stream === PRIMARY_STREAM || release.streams.length === 1 ? [] : [stream.streamClass ?? stream.stream]),
    ...(flavour === 'base' ? [] : [flavour]),
  ];
  const defaultName = [`preflight-${openshiftVersion}`, ...suffixes].join('-').toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  const name = checkName(options.name ?? defaultName, 'PreflightValidationOCP name', DNS1123_SUBDOMAIN);

  const others = release.streams.filter((s) => s !== stream);
  const warnings = release.findings.filter((f) => PREFLIGHT_FINDINGS.includes(f.code));
  const annotations: Record<string, string> = {
    [`${ANNOTATION}/openshift-version`]: openshiftVersion,
    [`${ANNOTATION}/arch`]: arch,
    [`${ANNOTATION}/stream`]: stream.stream,
    ...(stream.rhcosVersion ? { [`${ANNOTATION}/rhcos-version`]: stream.rhcosVersion } : {}),
    ...(others.length ? { [`${ANNOTATION}/other-streams`]: others.map((s) => `${s.stream}=${s.kernel}`).join(', ') } : {}),
    ...(warnings.length ? { [`${ANNOTATION}/findings`]: warnings.map((f) => `${f.code}: ${f.message}`).join('; ') } : {}),
    ...(stream.dtkImage ? {} : { [`${ANNOTATION}/no-dtk-image`]: 'the release has no driver-toolkit image recorded for this stream; KMM cannot use DTK_AUTO' }),
  };

  return {
    apiVersion: KMM_PREFLIGHT_API_VERSION,
    kind: 'PreflightValidationOCP',
    metadata: { name, annotations },
    spec: {
      kernelVersion,
      ...(stream.dtkImage ? { dtkImage: stream.dtkImage } : {}),
      pushBuiltImage: options.pushBuiltImage ?? false,
    },
  };
}

export interface ToYamlOptions {
  /** A comment printed above the document (one `#` line per line). @default - none */
  readonly comment?: string;
}

/**
 * YAML for `oc apply -f -`. Strings are quoted by YAML 1.1 rules (what `oc` parses
 * with), so values such as `no` or `4.18` stay strings; long lines are not folded.
 */
export function toYaml(obj: unknown, options: ToYamlOptions = {}): string {
  const doc = new Document(obj, { version: '1.1' });
  if (options.comment) doc.commentBefore = options.comment.split('\n').map((l) => ` ${l}`).join('\n');
  return doc.toString({ lineWidth: 0 });
}
