/**
 * One release payload, for one architecture → its kernel stream(s).
 *
 * A release ships one kernel stream per node image: `rhel-coreos` (or
 * `rhel-coreos-8`, or `machine-os-content` before 4.12; OKD's `stream-coreos`,
 * CentOS Stream), and from 4.21 a second, RHEL 10 stream `rhel-coreos-10`: a Tech
 * Preview without any DTK of its own in 4.21 and 4.22, with `driver-toolkit-10`
 * from 5.0. For each stream every source that exists is read; the node image's
 * kernel is the one nodes run and wins, and a DTK built for another kernel is
 * reported as a finding.
 */
import type { GoArch, GraphArch, KernelArch } from './arch.ts';
import { isGoArch, kernelArchOf } from './arch.ts';
import { readDtkImage } from './dtk-image.ts';
import type { Finding } from './findings.ts';
import type { Kernel } from './kernel.ts';
import { flavouredKernel, parseKernel, rhelVersionOf } from './kernel.ts';
import type { Observation } from './observation.ts';
import { ImageReader } from './image-reader.ts';
import type { ComponentImage } from './release-payload.ts';
import { PayloadError, readReleasePayload } from './release-payload.ts';
import { PlatformNotFoundError } from './registry/errors.ts';
import { parseImageReference } from './registry/reference.ts';
import type { ImageRef, ImageSource, Platform, ResolvedManifest } from './registry/types.ts';
import { DTK_RELEASE_FILE } from './dtk-image.ts';
import { META_FALLBACK_MAX_LAYER_BYTES, META_JSON, readExtensionsImage, readMetaJsonFromEarlierLayers, readRhcosImage } from './rhcos-image.ts';
import type { KernelStream, ResolvedRelease } from './release-record.ts';
import { isCentOsStream } from './release-record.ts';
import { parseOpenShiftVersion, parseRhcosVersion } from './versions.ts';

export { isCentOsStream, kernelStreamSchema, resolvedReleaseSchema, type KernelStream, type ResolvedRelease } from './release-record.ts';

interface StreamPlan {
  readonly stream: string;
  readonly rhcos?: ComponentImage;
  readonly legacy?: ComponentImage;
  readonly extensions?: ComponentImage;
  readonly dtk?: ComponentImage;
}

type StreamObservations = { rhcos: Observation[]; dtk?: Observation; extensions?: Observation };

const STREAM_CLASS = 'io.openshift.os.streamclass';

/** Node image tags of the primary stream, by era: RHEL 9 (4.13 →), RHEL 8 (4.12), OKD's CentOS Stream. */
const PRIMARY_TAGS = ['rhel-coreos', 'rhel-coreos-8', 'stream-coreos'] as const;

const BUILD_VERSIONS = 'io.openshift.build.versions';

/** Which images make up each kernel stream of a release. */
export function planStreams(components: ReadonlyMap<string, ComponentImage>): StreamPlan[] {
  const plans: StreamPlan[] = [];
  const primaryTag = PRIMARY_TAGS.find((t) => components.has(t));
  const legacy = components.get('machine-os-content');
  const dtk = components.get('driver-toolkit');
  if (primaryTag || legacy || dtk) {
    plans.push({
      stream: primaryTag ?? (legacy ? 'machine-os-content' : 'driver-toolkit'),
      rhcos: primaryTag ? components.get(primaryTag) : undefined,
      legacy,
      extensions: primaryTag ? components.get(`${primaryTag}-extensions`) : undefined,
      dtk,
    });
  }
  const primaryDigest = primaryTag ? components.get(primaryTag)?.ref.digest : undefined;
  for (const [tag, image] of components) {
    const m = /^rhel-coreos-(\d{1,2})$/.exec(tag);
    if (!m || tag === primaryTag || (primaryDigest && image.ref.digest === primaryDigest)) continue;
    plans.push({
      stream: tag,
      rhcos: image,
      extensions: components.get(`${tag}-extensions`),
      dtk: components.get(`driver-toolkit-${m[1]}`),
    });
  }
  return plans;
}

function rhcosVersionFromAnnotations(image: ComponentImage | undefined): string | undefined {
  const versions = image?.annotations[BUILD_VERSIONS];
  const m = versions ? /(?:^|,)\s*machine-os=([^,\s]+)/.exec(versions) : undefined;
  return m?.[1] && parseRhcosVersion(m[1]) ? m[1] : undefined;
}

/** Combines a stream's observations into one kernel record, with findings. */
export function combineStream(
  plan: StreamPlan,
  seen: StreamObservations,
  arch: KernelArch,
  openshiftVersion: string,
): { stream?: KernelStream; findings: Finding[] } {
  const all = [...seen.rhcos, ...(seen.dtk ? [seen.dtk] : []), ...(seen.extensions ? [seen.extensions] : [])];
  const findings: Finding[] = all.flatMap((o) => o.findings);

  const rhcosKernels = seen.rhcos.filter((o): o is Observation & { kernel: Kernel } => o.kernel !== undefined);
  const distinct = [...new Set(rhcosKernels.map((o) => o.kernel.full))];
  if (distinct.length > 1) {
    findings.push({
      code: 'kernel-sources-disagree',
      source: plan.stream,
      message: `RHCOS sources of ${plan.stream} disagree: ${rhcosKernels.map((o) => `${o.source} says ${o.kernel.full}`).join(', ')}; using ${distinct[0]}`,
    });
  }
  const dtkKernel = seen.dtk?.kernel;
  const kernel = rhcosKernels[0]?.kernel ?? dtkKernel;
  if (!kernel) {
    findings.push({ code: 'no-kernel-found', source: plan.stream, message: `no source of ${plan.stream} names a valid kernel` });
    return { findings };
  }
  if (dtkKernel && rhcosKernels[0] && dtkKernel.full !== kernel.full) {
    findings.push({
      code: 'dtk-kernel-mismatch',
      source: plan.dtk?.tag ?? 'driver-toolkit',
      message: `${plan.dtk?.tag ?? 'driver-toolkit'} was built for ${dtkKernel.full} but ${plan.stream} runs ${kernel.full}`,
    });
  }

  // Flavoured kernels come from RHCOS-side sources first; the DTK's only count
  // when the DTK was built for the kernel the nodes run.
  const dtkAgrees = dtkKernel?.full === kernel.full;
  const flavourSources = [...seen.rhcos, ...(seen.extensions ? [seen.extensions] : []), ...(seen.dtk && dtkAgrees ? [seen.dtk] : [])];
  const pick = (field: 'rtKernel' | 'kernel64k'): Kernel | undefined => flavourSources.find((o) => o[field])?.[field];
  const rt = arch === 'x86_64' ? pick('rtKernel') : undefined;
  let k64 = arch === 'aarch64' ? pick('kernel64k') : undefined;
  if (!k64 && arch === 'aarch64' && supports64k(openshiftVersion, kernel)) {
    // 4.15–4.18 publish no 64k field anywhere cheap to read, but kernel-64k is
    // built from the same source as the base kernel and shipped beside it.
    k64 = parseKernel(flavouredKernel(kernel, '64k'));
  }

  const rhcosVersion =
    all.find((o) => o.rhcosVersion)?.rhcosVersion ??
    rhcosVersionFromAnnotations(plan.rhcos) ??
    rhcosVersionFromAnnotations(plan.legacy);
  // CentOS Stream has no minor releases: its EL major is all there is to say.
  const rhelVersion = isCentOsStream(plan.stream)
    ? String(kernel.rhelMajor)
    : kernel.rhelMinor !== undefined
      ? rhelVersionOf(kernel)
      : (seen.dtk?.rhelVersion ?? (rhcosVersion ? parseRhcosVersion(rhcosVersion)?.rhelVersion : undefined) ?? rhelVersionOf(kernel));
  const streamClass = plan.rhcos?.annotations[STREAM_CLASS] ?? plan.dtk?.annotations[STREAM_CLASS];

  return {
    findings,
    stream: {
      stream: plan.stream,
      streamClass: streamClass && /^[a-z0-9-]{1,32}$/.test(streamClass) ? streamClass : null,
      kernel: kernel.full,
      rtKernel: rt?.full ?? null,
      kernel64k: k64?.full ?? null,
      rhelVersion,
      rhcosVersion: rhcosVersion ?? null,
      dtkImage: plan.dtk?.pullSpec ?? null,
    },
  };
}

/** 64k-page kernels ship for aarch64 from OpenShift 4.15 (RHEL 9.2 kernels and later). */
function supports64k(openshiftVersion: string, kernel: Kernel): boolean {
  const v = parseOpenShiftVersion(openshiftVersion);
  if (!v) return false;
  const ocpOk = v.major > 4 || (v.major === 4 && v.minor >= 15);
  return ocpOk && kernel.rhelMajor >= 9;
}

/** Failures that stay true for a payload's digest: the payload itself is unusable, retrying will not help. */
export function isUnusablePayload(error: unknown): boolean {
  return error instanceof PayloadError || error instanceof PlatformNotFoundError;
}

/** A payload pull spec, pinned by digest; anything else is an unusable payload. */
export function payloadReference(payload: string): ImageRef {
  let ref: ImageRef;
  try {
    ref = parseImageReference(payload);
  } catch (error) {
    throw new PayloadError(`payload ${JSON.stringify(payload)} is not a pull spec: ${(error as Error).message}`, { cause: error });
  }
  if (!ref.digest) throw new PayloadError(`payload ${JSON.stringify(payload)} is not pinned by digest`);
  return ref;
}

export interface PayloadToResolve {
  readonly version: string;
  /** Pull spec by digest, as the graph lists it. */
  readonly payload: string;
  /** The graph the payload came from: one arch, or `multi` (an index resolved per entry). */
  readonly graphArch: GraphArch;
}

/**
 * Resolves release payloads. Images are read through an `ImageReader`, so what
 * releases share (a DTK build, an RHCOS layer) is fetched once.
 */
export class ReleaseResolver {
  private readonly images: ImageReader;

  constructor(source: ImageSource) {
    this.images = new ImageReader(source);
  }

  /** Every architecture of a payload: one result for a single-arch payload, one per entry of a multi payload. */
  async resolvePayload(input: PayloadToResolve): Promise<ResolvedRelease[]> {
    const payloadRef = payloadReference(input.payload);
    if (input.graphArch !== 'multi') {
      return [await this.resolveArch({ ...input, payloadRef, goArch: input.graphArch })];
    }
    const platforms = (await this.images.listPlatforms(payloadRef)) ?? [];
    const goArches = [...new Set(platforms.filter((p) => (p.os ?? 'linux') === 'linux').map((p) => p.architecture))].filter(isGoArch);
    if (goArches.length === 0) throw new PayloadError(`multi payload ${input.payload} lists no linux architecture this project knows`);
    return await Promise.all(goArches.map((goArch) => this.resolveArch({ ...input, payloadRef, goArch })));
  }

  /** Resolves one architecture of a release payload. */
  async resolveArch(input: { version: string; payload: string; payloadRef: ImageRef; goArch: GoArch }): Promise<ResolvedRelease> {
    const arch = kernelArchOf(input.goArch);
    const platform: Platform = { architecture: input.goArch, os: 'linux' };
    const release = await readReleasePayload(this.images, input.payloadRef, platform);
    const plans = planStreams(release.components);
    const findings: Finding[] = [];
    if (plans.length === 0) {
      findings.push({
        code: 'no-kernel-found',
        message: 'image-references has none of rhel-coreos, rhel-coreos-8, stream-coreos, machine-os-content, driver-toolkit',
      });
    }
    const combined = await Promise.all(
      plans.map(async (plan) => combineStream(plan, await this.observeStream(plan, platform, arch), arch, input.version)),
    );
    const streams: KernelStream[] = [];
    for (const c of combined) {
      findings.push(...c.findings);
      if (c.stream && !streams.some((s) => s.kernel === c.stream!.kernel)) streams.push(c.stream);
    }
    return { version: input.version, arch, payload: input.payload, streams, findings };
  }

  /**
   * A layered node image without meta.json in its last layer: the kernel comes from
   * the cheapest source left that speaks for the node image, and a finding names it.
   * Its `ostree.linux` label costs nothing (it names the kernel up to 4.21); then
   * meta.json from a small earlier layer (a few KiB; never a base layer); only then
   * the DTK file, which was read anyway but says what the DTK was built for, not what
   * the nodes run (okd#2350 shipped such a DTK).
   */
  private async metaJsonFallback(
    image: ResolvedManifest,
    fromImage: readonly Observation[],
    dtk: Observation | undefined,
    plan: StreamPlan,
    arch: KernelArch,
  ): Promise<Observation[]> {
    const tag = plan.stream;
    const missing = `${tag} has no ${META_JSON} in its last layer`;
    const note = (message: string): Observation => ({ source: tag, findings: [{ code: 'kernel-source-fallback', source: tag, message }] });
    const label = fromImage.find((o) => o.kernel);
    if (label) return [note(`${missing}; its kernel ${label.kernel!.full} comes from ${label.source} label ostree.linux`)];
    const found = await readMetaJsonFromEarlierLayers(this.images, image, arch, tag);
    const layers = image.manifest.layers.length;
    if (found.observation) {
      const kernel = found.observation.kernel?.full ?? 'no valid kernel';
      return [
        found.observation,
        note(`${missing}; ${kernel} comes from ${META_JSON} in layer ${found.layerIndex + 1} of ${layers} (${found.layerBytes} bytes)`),
      ];
    }
    const searched = `none of its ${found.tried} earlier layers of at most ${META_FALLBACK_MAX_LAYER_BYTES} bytes holds it (larger layers are not read)`;
    if (dtk?.kernel) {
      return [
        note(
          `${missing} and ${searched}; its kernel ${dtk.kernel.full} comes from ${plan.dtk?.tag ?? 'driver-toolkit'} ${DTK_RELEASE_FILE} (what the DTK was built for; not checked against the node image)`,
        ),
      ];
    }
    return [note(`${missing} and ${searched}; no other source names its kernel`)];
  }

  /** Reads everything a stream's images say. */
  private async observeStream(plan: StreamPlan, platform: Platform, arch: KernelArch): Promise<StreamObservations> {
    const { images } = this;
    const { rhcos: rhcosImage, legacy: legacyImage, dtk: dtkImage, extensions: extImage } = plan;
    const [rhcos, legacy, dtk] = await Promise.all([
      rhcosImage && readRhcosImage(images, rhcosImage.ref, platform, arch, rhcosImage.tag),
      legacyImage && readRhcosImage(images, legacyImage.ref, platform, arch, 'machine-os-content'),
      dtkImage && readDtkImage(images, dtkImage.ref, platform, arch, dtkImage.tag),
    ]);
    // extensions.json exists only beside layered node images (4.19 →); older
    // extensions images hold RPMs and are far too big to read for nothing.
    const extensions =
      rhcos?.layered && extImage
        ? await readExtensionsImage(images, extImage.ref, platform, arch, extImage.tag)
        : undefined;
    const fallback = rhcos?.metaJsonMissing && rhcosImage ? await this.metaJsonFallback(rhcos.metaJsonMissing, rhcos.observations, dtk, plan, arch) : [];
    return {
      rhcos: [...fallback, ...(rhcos?.observations ?? []), ...(legacy?.observations ?? [])],
      ...(dtk ? { dtk } : {}),
      ...(extensions ? { extensions } : {}),
    };
  }
}
