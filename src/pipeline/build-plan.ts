/**
 * What to build for a kernel, and the join that follows: the DTK image per
 * (kernel, arch) on a native builder of that arch, then one multi-arch index once
 * every arch of the kernel has its image. Partner drivers extend this plan.
 */
import type { KernelArch } from '#core/arch.ts';
import type { Kernel } from '#core/kernel.ts';
import { kernelTag, kernelWithoutArch, parseKernel } from '#core/kernel.ts';
import type { BuildProjects } from './config.ts';
import type { BuildEntry } from './store.ts';
import { buildKeyOf } from './store.ts';

export interface BuildPlanConfig {
  readonly dtkRepository: string;
  readonly buildArches: readonly KernelArch[];
  readonly projects: BuildProjects;
}

function entry(fields: Omit<BuildEntry, 'state' | 'attempts' | 'createdAt' | 'updatedAt'>, now: string): BuildEntry {
  return { ...fields, state: 'queued', attempts: 0, createdAt: now, updatedAt: now };
}

/** DTK build of a (base) kernel on its own arch, when a builder for that arch is configured. */
export function planKernelBuilds(kernel: Kernel, rhelVersion: string | null, config: BuildPlanConfig, now: string): BuildEntry[] {
  const project = config.projects.dtk[kernel.arch];
  if (!config.buildArches.includes(kernel.arch) || !project || kernel.flavour !== 'base') return [];
  const kernelVersion = kernelWithoutArch(kernel);
  const image = `${config.dtkRepository}:${kernelTag(kernel.full)}`;
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
        image,
        env: {
          KERNEL: kernel.full,
          ARCH: kernel.arch,
          RHEL_VERSION: rhelVersion ?? String(kernel.rhelMajor),
          TARGET_IMAGE: config.dtkRepository,
          REBUILD: 'false',
        },
      },
      now,
    ),
  ];
}

/**
 * The join of a target's per-arch images, once every configured arch has
 * succeeded (or was skipped because its image already exists).
 */
export function planJoin(builds: readonly BuildEntry[], target: string, config: BuildPlanConfig, now: string): BuildEntry | undefined {
  const perArch = builds.filter((b) => b.target === target && b.kind !== 'join');
  const done = perArch.filter((b) => b.state === 'succeeded' || b.state === 'skipped');
  if (config.buildArches.length < 2 || !config.buildArches.every((arch) => done.some((b) => b.arch === arch))) return undefined;
  const kernelVersion = perArch[0]!.kernelVersion;
  const repository = perArch[0]!.image.replace(/:[^:/]+$/, '');
  const archTags = config.buildArches.map((arch) => {
    const build = done.find((b) => b.arch === arch)!;
    const kernel = parseKernel(build.kernel);
    return `${arch}=${kernel ? kernelTag(kernel.full) : build.image.split(':').at(-1)}`;
  });
  return entry(
    {
      buildKey: buildKeyOf(kernelVersion, target, 'multi'),
      kind: 'join',
      target,
      kernelVersion,
      kernel: kernelVersion,
      arch: 'multi',
      project: config.projects.join,
      image: `${repository}:${kernelTag(kernelVersion)}`,
      env: { TARGET_IMAGE: repository, TARGET_TAG: kernelTag(kernelVersion), ARCH_TAGS: archTags.join(',') },
    },
    now,
  );
}
