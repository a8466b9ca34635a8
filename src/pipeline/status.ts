/**
 * The read model of everything the pipeline knows, for people and tools: the
 * `status` command, KMM manifests and the coverage index are pure functions of
 * one snapshot.
 */
import { compareKernels } from '#core/kernel.ts';
import { compareOpenShiftVersions } from '#core/versions.ts';
import { driversOf, type Driver } from './drivers.ts';
import type { BuildEntry, KernelEntry, ReleaseEntry } from './entities.ts';
import type { PipelineStore } from './ports.ts';

export interface StatusSnapshot {
  readonly generatedAt: string;
  /** Sorted by arch, then kernel version. */
  readonly kernels: readonly KernelEntry[];
  /** Sorted by OpenShift version. */
  readonly releases: readonly ReleaseEntry[];
  readonly builds: readonly BuildEntry[];
  /** Every driver (see `driversOf`). */
  readonly drivers: readonly Driver[];
}

export async function loadSnapshot(
  store: PipelineStore,
  now = new Date(),
  options: { releases?: boolean } = {},
): Promise<StatusSnapshot> {
  // Releases are the largest records; the coverage index does not read them.
  const [kernels, releases, builds, drivers] = await Promise.all([
    store.listKernels(),
    options.releases === false ? [] : store.listReleases(),
    store.listBuilds(),
    driversOf(store),
  ]);
  return {
    generatedAt: now.toISOString(),
    kernels: [...kernels].sort((a, b) => a.arch.localeCompare(b.arch) || compareKernels(a.kernel, b.kernel)),
    releases: [...releases].sort((a, b) => compareOpenShiftVersions(a.version, b.version) || a.graphArch.localeCompare(b.graphArch)),
    builds: [...builds].sort((a, b) => a.buildKey.localeCompare(b.buildKey)),
    drivers,
  };
}
