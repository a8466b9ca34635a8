/**
 * The coverage index: for every recorded kernel (per arch), the releases that
 * ship it and whether this project has built its DTK image and each partner
 * driver's image. One versioned JSON document, published next to a static page
 * that answers "is my kernel covered?" (see coverage-page.ts).
 *
 * A pure function of one status snapshot: same snapshot, same bytes.
 */
import * as z from 'zod';
import { compareKernels, kernelWithoutArch, parseKernel } from '#core/kernel.ts';
import { compareOpenShiftVersions } from '#core/versions.ts';
import { driverKernels, type Driver } from './drivers.ts';
import type { StatusSnapshot } from './status.ts';
import { fingerprint } from '#core/signing/fingerprint.ts';
import { BUILD_STATES, IMAGE_BUILD_STATES, type BuildEntry, type KernelEntry } from './entities.ts';
import { kernelRecordSchema } from '#core/kernel-index.ts';

export const COVERAGE_SCHEMA = 'dtk-pipeline.coverage/v1';

/** A build's own state, or `not-built` when a matching kernel has no build yet. */
export const COVERAGE_BUILD_STATES = [...BUILD_STATES, 'not-built'] as const;
/** A target's state for one kernel: its builds' worst state, or `not-matching` when the target does not apply. */
export const COVERAGE_STATES = [...COVERAGE_BUILD_STATES, 'not-matching'] as const;
export type CoverageState = (typeof COVERAGE_STATES)[number];

const coverageBuildSchema = z.object({
  /** The kernel the image is for: the base kernel, or its `+rt` / `+64k` flavour. */
  kernel: z.string(),
  flavour: z.enum(['base', 'rt', '64k']),
  state: z.enum(COVERAGE_BUILD_STATES),
  /** Image reference (repository:tag), when a build exists. */
  image: z.string().nullable(),
  digest: z.string().nullable(),
  updatedAt: z.string().nullable(),
  /** Why it was skipped or failed, when known. */
  detail: z.string().nullable(),
  /** SHA-256 fingerprint of the certificate the image's modules are signed with (null: not signed). */
  modulesSignedBy: z.string().nullable().default(null),
  /** The KMS key the image is signed with (sigstore attachment; null: not signed). */
  imageSignedWith: z.string().nullable().default(null),
});
export type CoverageBuild = z.infer<typeof coverageBuildSchema>;

const targetCoverageSchema = z.object({
  state: z.enum(COVERAGE_STATES),
  /** The target applies to this kernel (the DTK always does; a driver by its arches, channels and filters). */
  matches: z.boolean(),
  /** Every image it needs exists (built, or found already pushed). */
  covered: z.boolean(),
  /** One per kernel flavour it is built for; empty when nothing applies or was built. */
  builds: z.array(coverageBuildSchema),
});
export type TargetCoverage = z.infer<typeof targetCoverageSchema>;

const kernelCoverageSchema = kernelRecordSchema
  .pick({ kernel: true, arch: true, rhelVersion: true, rtKernel: true, kernel64k: true, releases: true, channels: true, prerelease: true, rhcosVersions: true })
  .extend({
    /** The DTK images of the releases themselves (by digest). */
    releaseDtkImages: z.array(z.string()),
    firstSeenAt: z.string(),
    dtk: targetCoverageSchema,
    /** By driver name, in the order of `drivers`. */
    drivers: z.record(z.string(), targetCoverageSchema),
  });
export type KernelCoverage = z.infer<typeof kernelCoverageSchema>;

const targetSummarySchema = z.object({
  /** Kernels the target applies to. */
  matching: z.number().int(),
  covered: z.number().int(),
  /** matching − covered: failed, building, simulated and not built yet. */
  missing: z.number().int(),
  failed: z.number().int(),
  /** Simulated by the local run: no image exists. */
  simulated: z.number().int(),
  building: z.number().int(),
  notBuilt: z.number().int(),
});
export type TargetSummary = z.infer<typeof targetSummarySchema>;

export const coverageIndexSchema = z.object({
  schema: z.literal(COVERAGE_SCHEMA),
  generatedAt: z.string(),
  drivers: z.array(
    z.object({
      name: z.string(),
      /** The driver version whose builds count (older versions' builds do not). */
      version: z.string(),
      repository: z.string(),
      arches: z.array(z.string()),
      channels: z.array(z.string()),
      /** The certificate its modules are signed with (what nodes enroll): SHA-256 fingerprint and base64 DER; null when its modules are not signed. */
      moduleCertificate: z.object({ sha256: z.string(), der: z.string() }).nullable().default(null),
    }),
  ),
  summary: z.object({
    kernels: z.number().int(),
    prerelease: z.number().int(),
    dtk: targetSummarySchema,
    drivers: z.record(z.string(), targetSummarySchema),
  }),
  /** Newest kernel first; the arches of one kernel together. */
  kernels: z.array(kernelCoverageSchema),
});
export type CoverageIndex = z.infer<typeof coverageIndexSchema>;

const BUILDING: readonly CoverageState[] = ['queued', 'started', 'in-progress'];
/** Worst first: a target shows the first of these that any of its builds is in. */
const SEVERITY: readonly CoverageState[] = ['failed', 'not-built', 'simulated', 'queued', 'started', 'in-progress', 'succeeded', 'skipped'];

const flavourOf = (kernel: string) => parseKernel(kernel)?.flavour ?? 'base';

function coverageBuild(kernel: string, build: BuildEntry | undefined): CoverageBuild {
  return {
    kernel,
    flavour: flavourOf(kernel),
    state: build?.state ?? 'not-built',
    // A simulated build has no image: never show one, whatever the record holds.
    image: build && build.state !== 'simulated' ? build.image : null,
    digest: build && build.state !== 'simulated' ? (build.digest ?? null) : null,
    updatedAt: build?.updatedAt ?? null,
    detail: build?.detail ?? null,
    modulesSignedBy: (build && build.state !== 'simulated' && build.signed?.modulesBy) || null,
    imageSignedWith: (build && build.state !== 'simulated' && build.signed?.imageKey) || null,
  };
}

function targetCoverage(expected: readonly string[], builds: ReadonlyMap<string, BuildEntry>): TargetCoverage {
  // Images built earlier stay listed when a driver's filters no longer match.
  const kernels = [...new Set([...expected, ...builds.keys()])];
  const list = kernels.map((k) => coverageBuild(k, builds.get(k)));
  const matches = expected.length > 0;
  if (list.length === 0) return { state: 'not-matching', matches, covered: false, builds: [] };
  const state = SEVERITY.find((s) => list.some((b) => b.state === s)) ?? 'not-built';
  const covered =
    matches &&
    expected.every((k) => {
      const built = builds.get(k);
      return built !== undefined && IMAGE_BUILD_STATES.includes(built.state);
    });
  return { state, matches, covered, builds: list };
}

/** `dtk`, or `driver:<name>@<version>`: builds of an older driver version do not cover the current one. */
const targetKeyOf = (b: Pick<BuildEntry, 'target' | 'variant'>) => (b.variant ? `${b.target}@${b.variant}` : b.target);

/** Builds by target key, then by the kernel they are for (joins are per kernel version, not per arch: left out). */
function indexBuilds(builds: readonly BuildEntry[]): Map<string, Map<string, BuildEntry>> {
  const byTarget = new Map<string, Map<string, BuildEntry>>();
  for (const build of builds) {
    if (build.kind === 'join') continue;
    const key = targetKeyOf(build);
    const byKernel = byTarget.get(key) ?? new Map<string, BuildEntry>();
    byTarget.set(key, byKernel);
    const seen = byKernel.get(build.kernel);
    if (!seen || seen.updatedAt < build.updatedAt || (seen.updatedAt === build.updatedAt && seen.buildKey < build.buildKey)) {
      byKernel.set(build.kernel, build);
    }
  }
  return byTarget;
}

/** The builds of one target for a kernel and its flavours. */
function buildsFor(index: Map<string, Map<string, BuildEntry>>, targetKey: string, entry: KernelEntry): Map<string, BuildEntry> {
  const byKernel = index.get(targetKey);
  const found = new Map<string, BuildEntry>();
  for (const k of [entry.kernel, entry.rtKernel, entry.kernel64k]) {
    const build = k ? byKernel?.get(k) : undefined;
    if (k && build) found.set(k, build);
  }
  return found;
}

function kernelCoverage(entry: KernelEntry, drivers: readonly Driver[], builds: Map<string, Map<string, BuildEntry>>): KernelCoverage {
  const releases = [...new Set(entry.releases)].sort(compareOpenShiftVersions);
  const channels = [...new Set(entry.channels)].sort();
  const sighting = { kernel: entry.kernel, arch: entry.arch, releases, channels, rtKernel: entry.rtKernel, kernel64k: entry.kernel64k };
  // The DTK is built for the base kernel only.
  const dtkExpected = parseKernel(entry.kernel) ? [entry.kernel] : [];
  return {
    kernel: entry.kernel,
    arch: entry.arch,
    rhelVersion: entry.rhelVersion,
    rtKernel: entry.rtKernel,
    kernel64k: entry.kernel64k,
    releases,
    channels,
    prerelease: entry.prerelease,
    rhcosVersions: [...new Set(entry.rhcosVersions)].sort(),
    releaseDtkImages: [...new Set(entry.dtkImages)].sort(),
    firstSeenAt: entry.firstSeenAt,
    dtk: targetCoverage(dtkExpected, buildsFor(builds, 'dtk', entry)),
    drivers: Object.fromEntries(drivers.map((d) => [d.name, targetCoverage(driverKernels(d, sighting), buildsFor(builds, `driver:${d.name}@${d.version}`, entry))])),
  };
}

function summarize(targets: readonly TargetCoverage[]): TargetSummary {
  const matching = targets.filter((t) => t.matches);
  const covered = matching.filter((t) => t.covered).length;
  return {
    matching: matching.length,
    covered,
    missing: matching.length - covered,
    failed: matching.filter((t) => !t.covered && t.state === 'failed').length,
    simulated: matching.filter((t) => !t.covered && t.state === 'simulated').length,
    building: matching.filter((t) => !t.covered && BUILDING.includes(t.state)).length,
    notBuilt: matching.filter((t) => !t.covered && t.state === 'not-built').length,
  };
}

/** Newest kernel version first, then arch; strings that are not kernels last. */
function compareRows(a: KernelEntry, b: KernelEntry): number {
  const ka = parseKernel(a.kernel);
  const kb = parseKernel(b.kernel);
  if (!ka || !kb) return ka ? -1 : kb ? 1 : a.kernel < b.kernel ? -1 : a.kernel > b.kernel ? 1 : 0;
  return compareKernels(kernelWithoutArch(kb), kernelWithoutArch(ka)) || a.arch.localeCompare(b.arch) || (a.kernel < b.kernel ? -1 : a.kernel > b.kernel ? 1 : 0);
}

export function buildCoverageIndex(snapshot: StatusSnapshot): CoverageIndex {
  const drivers = [...snapshot.drivers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const builds = indexBuilds(snapshot.builds);
  const kernels = [...snapshot.kernels].sort(compareRows).map((k) => kernelCoverage(k, drivers, builds));
  return {
    schema: COVERAGE_SCHEMA,
    generatedAt: snapshot.generatedAt,
    drivers: drivers.map((d) => ({
      name: d.name,
      version: d.version,
      repository: d.repository,
      arches: [...d.arches],
      channels: [...d.channels],
      moduleCertificate: d.signing ? { sha256: fingerprint(Buffer.from(d.signing.certificate, 'base64')), der: d.signing.certificate } : null,
    })),
    summary: {
      kernels: kernels.length,
      prerelease: kernels.filter((k) => k.prerelease).length,
      dtk: summarize(kernels.map((k) => k.dtk)),
      drivers: Object.fromEntries(drivers.map((d) => [d.name, summarize(kernels.map((k) => k.drivers[d.name]!))])),
    },
    kernels,
  };
}
