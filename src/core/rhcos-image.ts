/**
 * The kernel an RHCOS image runs, from every place it has been kept over the
 * OpenShift eras (docs/kernels.md):
 *   - `machine-os-content` labels `com.coreos.rpm.kernel`, `…kernel-rt-core` (≤ 4.14);
 *   - `rhel-coreos` labels `ostree.linux` = `uname -r` (4.12 →; from 4.22 it says `true`);
 *   - layered node images (label `io.openshift.metalayer=true`, 4.19 →): the last
 *     layer's `usr/share/openshift/base/meta.json` rpm list;
 *   - the extensions image's `usr/share/rpm-ostree/extensions.json` (4.19 →) for
 *     the RT and 64k kernels.
 */
import * as z from 'zod';
import type { KernelArch } from './arch.ts';
import type { ImageReader } from './image-reader.ts';
import type { Observation } from './observation.ts';
import { ObservationBuilder } from './observation.ts';
import { unameFromPackage } from './kernel.ts';
import type { ImageRef, Platform, ResolvedManifest } from './registry/types.ts';

export const META_JSON = 'usr/share/openshift/base/meta.json';
export const EXTENSIONS_JSON = 'usr/share/rpm-ostree/extensions.json';

type Labels = Readonly<Record<string, string>>;

/** `machine-os-content` image labels. */
export function observeMachineOsContentLabels(labels: Labels, arch: KernelArch): Observation {
  return new ObservationBuilder('machine-os-content', arch)
    .kernel(labels['com.coreos.rpm.kernel'], 'base', 'label com.coreos.rpm.kernel')
    .kernel(labels['com.coreos.rpm.kernel-rt-core'], 'rt', 'label com.coreos.rpm.kernel-rt-core')
    .rhcosVersion(labels['version'])
    .build();
}

/** `rhel-coreos*` image labels. `ostree.linux=true` (4.22 →) is reported and ignored. */
export function observeRhelCoreosLabels(labels: Labels, arch: KernelArch, source = 'rhel-coreos'): Observation {
  return new ObservationBuilder(source, arch)
    .kernel(labels['ostree.linux'], 'base', 'label ostree.linux')
    .rhcosVersion(labels['version'])
    .rhcosVersion(labels['org.opencontainers.image.version'])
    .build();
}

const rpmEntrySchema = z.tuple([z.string(), z.union([z.string(), z.number()]).nullable(), z.string(), z.string(), z.string()]);
export const metaJsonSchema = z.looseObject({ 'rpmdb.pkglist': z.array(z.array(z.unknown())) });

/** A layered node image's meta.json: the `kernel` (or `kernel-core`) rpm. */
export function observeMetaJson(text: string, arch: KernelArch, source = 'rhel-coreos'): Observation {
  const builder = new ObservationBuilder(source, arch);
  const parsed = metaJsonSchema.safeParse(safeJson(text));
  if (!parsed.success) {
    return builder.finding({ code: 'invalid-kernel-string', source, message: `${source} ${META_JSON} is not an rpm list` }).build();
  }
  const rpms = parsed.data['rpmdb.pkglist'].flatMap((entry) => {
    const rpm = rpmEntrySchema.safeParse(entry);
    return rpm.success ? [rpm.data] : [];
  });
  const kernel = rpms.find(([name]) => name === 'kernel') ?? rpms.find(([name]) => name === 'kernel-core');
  if (kernel) {
    const [, , version, release, rpmArch] = kernel;
    builder.kernel(`${version}-${release}.${rpmArch}`, 'base', `${META_JSON} rpm ${kernel[0]}`);
  }
  return builder.build();
}

export const extensionsJsonSchema = z.record(z.string(), z.unknown());

/** The extensions image's extensions.json: RT and 64k kernel packages. */
export function observeExtensionsJson(text: string, arch: KernelArch, source = 'rhel-coreos-extensions'): Observation {
  const builder = new ObservationBuilder(source, arch);
  const parsed = extensionsJsonSchema.safeParse(safeJson(text));
  if (!parsed.success) {
    return builder.finding({ code: 'invalid-kernel-string', source, message: `${source} ${EXTENSIONS_JSON} is not a JSON object` }).build();
  }
  const rt = parsed.data['kernel-rt-core'];
  const k64 = parsed.data['kernel-64k-core'];
  if (typeof rt === 'string') builder.kernel(unameFromPackage(rt, 'rt'), 'rt', `${EXTENSIONS_JSON} kernel-rt-core`);
  if (typeof k64 === 'string') builder.kernel(unameFromPackage(k64, '64k'), '64k', `${EXTENSIONS_JSON} kernel-64k-core`);
  return builder.build();
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function lastLayerFile(images: ImageReader, image: ResolvedManifest, path: string): Promise<string | undefined> {
  const last = image.manifest.layers.at(-1);
  if (!last) return undefined;
  const files = await images.readFiles(image.ref, last, [path]);
  return files.get(path)?.toString('utf8');
}

export interface RhcosImageObservation {
  readonly observations: readonly Observation[];
  /** True for layered node images (4.19 →), whose extensions image has extensions.json. */
  readonly layered: boolean;
  /**
   * A layered image whose last layer holds no meta.json (openshift/os 53c2138 broke
   * the layer order of builds from 2026-03-30 to 2026-05-20; fixed in 17084e8): the
   * manifest, for a fallback that reads only small earlier layers.
   */
  readonly metaJsonMissing?: ResolvedManifest;
}

/**
 * Largest earlier layer the meta.json fallback may read. A layer holding only
 * meta.json is a few KiB to a few tens of KiB compressed (an rpm list of ~600
 * packages); base and ostree content layers are tens to hundreds of MiB. 1 MiB keeps
 * every plausible meta.json layer in and every base layer out.
 */
export const META_FALLBACK_MAX_LAYER_BYTES = 1024 * 1024;
/** At most this many earlier layers are tried (nearest the end first). */
export const META_FALLBACK_MAX_LAYERS = 4;

/**
 * meta.json from an earlier layer of a layered node image, for when its last layer
 * does not hold it. Only layers of at most META_FALLBACK_MAX_LAYER_BYTES are read,
 * nearest the end first, at most META_FALLBACK_MAX_LAYERS of them: a base layer is
 * never downloaded. Returns the observation and which layer held the file.
 */
export async function readMetaJsonFromEarlierLayers(
  images: ImageReader,
  image: ResolvedManifest,
  arch: KernelArch,
  source: string,
): Promise<{ observation: Observation; layerIndex: number; layerBytes: number } | { observation?: undefined; tried: number }> {
  const layers = image.manifest.layers;
  const candidates = layers
    .slice(0, -1)
    .map((layer, index) => ({ layer, index }))
    .filter(({ layer }) => layer.size <= META_FALLBACK_MAX_LAYER_BYTES)
    .reverse()
    .slice(0, META_FALLBACK_MAX_LAYERS);
  for (const { layer, index } of candidates) {
    const text = (await images.readFiles(image.ref, layer, [META_JSON])).get(META_JSON)?.toString('utf8');
    if (text !== undefined) return { observation: observeMetaJson(text, arch, source), layerIndex: index, layerBytes: layer.size };
  }
  return { tried: candidates.length };
}

/** Reads an RHCOS image (`rhel-coreos*` or `machine-os-content`): labels, and meta.json when layered. */
export async function readRhcosImage(
  images: ImageReader,
  ref: ImageRef,
  platform: Platform,
  arch: KernelArch,
  source: string,
): Promise<RhcosImageObservation> {
  const image = await images.getManifest(ref, platform);
  const labels = (await images.getConfig(image)).config?.Labels ?? {};
  if (source === 'machine-os-content') {
    return { observations: [observeMachineOsContentLabels(labels, arch)], layered: false };
  }
  const fromLabels = observeRhelCoreosLabels(labels, arch, source);
  if (labels['io.openshift.metalayer'] !== 'true') return { observations: [fromLabels], layered: false };
  const meta = await lastLayerFile(images, image, META_JSON);
  if (meta === undefined) return { observations: [fromLabels], layered: true, metaJsonMissing: image };
  // meta.json is the rpm database itself: it goes first.
  return { observations: [observeMetaJson(meta, arch, source), fromLabels], layered: true };
}

/** Reads an extensions image's extensions.json (layered releases only). */
export async function readExtensionsImage(
  images: ImageReader,
  ref: ImageRef,
  platform: Platform,
  arch: KernelArch,
  source: string,
): Promise<Observation> {
  const image = await images.getManifest(ref, platform);
  const text = await lastLayerFile(images, image, EXTENSIONS_JSON);
  return text === undefined ? new ObservationBuilder(source, arch).build() : observeExtensionsJson(text, arch, source);
}
