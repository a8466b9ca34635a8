/**
 * What to build for a kernel: the DTK image per (kernel, arch) on a native
 * builder of that arch, each matching partner driver per (driver, kernel
 * flavour, arch), then one multi-arch index per target once every arch has its
 * image. Build keys make each of these a first-write-wins record.
 */
import type { KernelArch } from '#core/arch.ts';
import { parseBuildKernel } from '#core/builds/build-kernel.ts';
import { CENTOS_STREAM_DTK_BASE } from '#core/builds/params.ts';
import { isCentOsStream } from '#core/release-record.ts';
import { renderTagTemplate } from '#core/builds/tags.ts';
import type { Kernel } from '#core/kernel.ts';
import { kernelTag, kernelWithoutArch, parseKernel } from '#core/kernel.ts';
import type { BuildProjects } from './config.ts';
import type { Driver } from './drivers.ts';
import { driverKernels, moduleNameOf } from './drivers.ts';
import type { BuildEntry, KernelEntry } from './entities.ts';
import { buildKeyOf, FOLLOW_UP_BUILD_STATES } from './entities.ts';

export interface BuildPlanConfig {
  readonly dtkRepository: string;
  readonly buildArches: readonly KernelArch[];
  readonly projects: BuildProjects;
  /** UBI base images pinned by digest, by RHEL major (`8`, `9`, `10`). */
  readonly ubiImages?: Readonly<Record<string, string>>;
}

function entry(fields: Omit<BuildEntry, 'state' | 'attempts' | 'createdAt' | 'updatedAt'>, now: string): BuildEntry {
  return { ...fields, state: 'queued', attempts: 0, createdAt: now, updatedAt: now };
}

/** Groups one target's per-arch builds: the kernel without arch, plus the flavour for RT/64k kernels. */
export function kernelGroup(kernel: Kernel): string {
  const base = kernelWithoutArch(kernel);
  return kernel.flavour === 'base' || /\.rt\d/.test(kernel.release) ? base : `${base}+${kernel.flavour}`;
}

/** DTK build of a (base) kernel on its own arch, when a builder for that arch is configured. */
export function planDtkBuild(
  kernel: Kernel,
  stream: { rhelVersion: string | null; rtKernel: string | null; stream?: string | null },
  config: BuildPlanConfig,
  now: string,
): BuildEntry[] {
  const project = config.projects.dtk[kernel.arch];
  if (!config.buildArches.includes(kernel.arch) || !project || kernel.flavour !== 'base') return [];
  const kernelVersion = kernelGroup(kernel);
  // OKD's CentOS Stream kernels: a UBI base with RHSM repositories cannot hold them.
  const centos = stream.stream !== undefined && stream.stream !== null && isCentOsStream(stream.stream);
  const ubi = centos ? undefined : config.ubiImages?.[String(kernel.rhelMajor)];
  return [
    entry(
      {
        buildKey: buildKeyOf(kernelVersion, 'dtk', kernel.arch),
        kind: 'dtk',
        target: 'dtk',
        kernelVersion,
        kernel: kernel.full,
        arch: kernel.arch,
        project,
        image: `${config.dtkRepository}:${kernelTag(kernel.full)}`,
        joinArches: [...config.buildArches],
        env: {
          KERNEL: kernel.full,
          ARCH: kernel.arch,
          RHEL_VERSION: stream.rhelVersion ?? String(kernel.rhelMajor),
          TARGET_IMAGE: config.dtkRepository,
          REBUILD: 'false',
          ...(ubi ? { UBI_IMAGE: ubi } : {}),
          ...(centos ? { DTK_BASE: CENTOS_STREAM_DTK_BASE } : {}),
          ...(stream.rtKernel ? { RT_KERNEL: stream.rtKernel } : {}),
        },
      },
      now,
    ),
  ];
}

/** The driver is built FROM this project's DTK image: by choice, or because no release ships a DTK for the kernel. */
export function usesProjectDtk(driver: Pick<Driver, 'dtk'>, kernelEntry: Pick<KernelEntry, 'dtkImages'>): boolean {
  return driver.dtk === 'project' || kernelEntry.dtkImages.length === 0;
}

/**
 * Driver builds for a recorded kernel. Drivers built `FROM` the release's own
 * DTK are planned at once; those built from this project's DTK image only once
 * that image exists (`projectDtkReady`).
 */
export function planDriverBuilds(
  kernelEntry: KernelEntry,
  drivers: readonly Driver[],
  config: BuildPlanConfig,
  now: string,
  options: { projectDtkReady: boolean; rebuild?: boolean },
): BuildEntry[] {
  const builds: BuildEntry[] = [];
  for (const driver of drivers) {
    const releaseDtk = kernelEntry.dtkImages[0];
    // A kernel no release ships a DTK for (RHEL 10 in 4.21/4.22, a Tech Preview):
    // this project's DTK is the only one its nodes will have, whatever the driver asks.
    if (usesProjectDtk(driver, kernelEntry) && !options.projectDtkReady) continue;
    for (const flavoured of driverKernels(driver, kernelEntry)) {
      const kernel = parseKernel(flavoured);
      const project = kernel && config.projects.driver[kernel.arch];
      if (!kernel || !project || !config.buildArches.includes(kernel.arch)) continue;
      const modName = moduleNameOf(driver);
      const tag = renderTagTemplate(driver.tagTemplate, { kernel: parseBuildKernel(kernel.full), modName });
      const kernelVersion = kernelGroup(kernel);
      const target = `driver:${driver.name}`;
      const dtkImage = usesProjectDtk(driver, kernelEntry) ? `${config.dtkRepository}:${kernelTag(kernelEntry.kernel)}` : releaseDtk!;
      builds.push(
        entry(
          {
            buildKey: buildKeyOf(kernelVersion, `${target}@${driver.version}`, kernel.arch),
            kind: 'driver',
            target,
            variant: driver.version,
            kernelVersion,
            kernel: kernel.full,
            arch: kernel.arch,
            project,
            image: `${driver.repository}:${tag}`,
            joinArches: driver.arches.filter((a) => config.buildArches.includes(a)),
            env: {
              DRIVER_NAME: driver.name,
              MOD_NAME: modName,
              ...(driver.source.type === 'git'
                ? { DRIVER_SOURCE: driver.source.url, DRIVER_REF: driver.source.ref, DRIVER_CONTAINERFILE: driver.source.containerfile }
                : { DRIVER_SOURCE: 'inline', DRIVER_CONTEXT_DIR: driver.source.context }),
              KERNEL: kernel.full,
              ARCH: kernel.arch,
              DTK_IMAGE: dtkImage,
              TARGET_IMAGE: driver.repository,
              TAG_TEMPLATE: driver.tagTemplate,
              BUILD_ARGS_JSON: JSON.stringify(driver.buildArgs),
              REBUILD: options.rebuild ? 'true' : 'false',
              ...(driver.signing === undefined
                ? {}
                : {
                    MODULE_SIGNING_CERT: driver.signing.certificate,
                    ...(driver.signing.kmsKeyArn ? { MODULE_SIGNING_KMS_KEY: driver.signing.kmsKeyArn } : { MODULE_SIGNING_KEY_SECRET: driver.signing.keySecretArn ?? '' }),
                  }),
            },
          },
          now,
        ),
      );
    }
  }
  return builds;
}

/** `<target>` or `<target>@<variant>`: the key segment that tells targets apart. */
const targetKey = (b: Pick<BuildEntry, 'target' | 'variant'>) => (b.variant ? `${b.target}@${b.variant}` : b.target);

/**
 * The join of a target's per-arch images, once every arch it needs has succeeded
 * (or was skipped because its image already exists, or was simulated by the local
 * run: that join is simulated too). RT and 64k kernels exist on one arch only and
 * are never joined.
 */
export function planJoin(builds: readonly BuildEntry[], of: BuildEntry, config: BuildPlanConfig, now: string): BuildEntry | undefined {
  const arches = of.joinArches ?? config.buildArches;
  const kernel = parseKernel(of.kernel);
  if (arches.length < 2 || !kernel || kernel.flavour !== 'base') return undefined;
  const perArch = builds.filter((b) => b.kind !== 'join' && targetKey(b) === targetKey(of));
  const done = perArch.filter((b) => FOLLOW_UP_BUILD_STATES.includes(b.state));
  if (!arches.every((arch) => done.some((b) => b.arch === arch))) return undefined;
  const repository = of.image.replace(/:[^:/]+$/, '');
  const tagOf = (b: BuildEntry) => b.image.slice(repository.length + 1);
  const archTags = arches.map((arch) => `${arch}=${tagOf(done.find((b) => b.arch === arch)!)}`);
  // The multi-arch tag: the per-arch tag with the kernel's arch taken out.
  const multiTag = tagOf(of).replace(kernelTag(of.kernel), kernelTag(kernelWithoutArch(kernel)));
  return entry(
    {
      buildKey: buildKeyOf(of.kernelVersion, targetKey(of), 'multi'),
      kind: 'join',
      target: of.target,
      ...(of.variant ? { variant: of.variant } : {}),
      kernelVersion: of.kernelVersion,
      kernel: of.kernelVersion,
      arch: 'multi',
      project: config.projects.join,
      image: `${repository}:${multiTag}`,
      env: { TARGET_IMAGE: repository, TARGET_TAG: multiTag, ARCH_TAGS: archTags.join(',') },
    },
    now,
  );
}
