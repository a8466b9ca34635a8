/**
 * Deduplication: many z-streams ship one kernel (5.14.0-284.77.1.el9_2 shipped in
 * four releases across 4.14 and 4.15). The index maps each (kernel, arch) to the
 * releases and channels that ship it.
 */
import * as z from 'zod';
import { KERNEL_ARCHES } from './arch.ts';
import { compareKernels } from './kernel.ts';
import type { ResolvedRelease } from './release-record.ts';
import { compareOpenShiftVersions, isPrereleaseVersion } from './versions.ts';

export const kernelRecordSchema = z.object({
  kernel: z.string(),
  arch: z.enum(KERNEL_ARCHES),
  rhelVersion: z.string().nullable(),
  rtKernel: z.string().nullable(),
  kernel64k: z.string().nullable(),
  releases: z.array(z.string()),
  channels: z.array(z.string()),
  /** Seen only in candidate channels, or only in -ec./-rc. releases. */
  prerelease: z.boolean(),
  rhcosVersions: z.array(z.string()),
  dtkImages: z.array(z.string()),
  /** RHCOS stream tags it was found in (`rhel-coreos`, `rhel-coreos-10`…). */
  streams: z.array(z.string()),
});
export type KernelRecord = z.infer<typeof kernelRecordSchema>;

export interface ReleaseSighting {
  readonly release: ResolvedRelease;
  /** Every channel the release is known to be in. */
  readonly channels: readonly string[];
}

/** A GA release (not -ec./-rc.) listed in a channel other than candidate-*. */
export function isGenerallyAvailable(version: string, channels: readonly string[]): boolean {
  return !isPrereleaseVersion(version) && channels.some((c) => !c.startsWith('candidate-'));
}

/** True unless some generally available release ships it in a non-candidate channel. */
export function isPrerelease(sightings: readonly ReleaseSighting[]): boolean {
  return !sightings.some((s) => isGenerallyAvailable(s.release.version, s.channels));
}

const sortedUnique = (values: Iterable<string>, compare?: (a: string, b: string) => number): string[] =>
  [...new Set(values)].sort(compare);

export function indexKernels(sightings: readonly ReleaseSighting[]): KernelRecord[] {
  const groups = new Map<string, { kernel: string; arch: ResolvedRelease['arch']; entries: { sighting: ReleaseSighting; streamIndex: number }[] }>();
  for (const sighting of sightings) {
    sighting.release.streams.forEach((stream, streamIndex) => {
      const key = `${stream.kernel}|${sighting.release.arch}`;
      const group = groups.get(key) ?? { kernel: stream.kernel, arch: sighting.release.arch, entries: [] };
      group.entries.push({ sighting, streamIndex });
      groups.set(key, group);
    });
  }
  const records: KernelRecord[] = [];
  for (const group of groups.values()) {
    const streams = group.entries.map((e) => e.sighting.release.streams[e.streamIndex]!);
    const first = <K extends 'rtKernel' | 'kernel64k' | 'rhelVersion'>(field: K) => streams.find((s) => s[field])?.[field] ?? null;
    records.push({
      kernel: group.kernel,
      arch: group.arch,
      rhelVersion: first('rhelVersion'),
      rtKernel: first('rtKernel'),
      kernel64k: first('kernel64k'),
      releases: sortedUnique(group.entries.map((e) => e.sighting.release.version), compareOpenShiftVersions),
      channels: sortedUnique(group.entries.flatMap((e) => e.sighting.channels)),
      prerelease: isPrerelease(group.entries.map((e) => e.sighting)),
      rhcosVersions: sortedUnique(streams.flatMap((s) => (s.rhcosVersion ? [s.rhcosVersion] : []))),
      dtkImages: sortedUnique(streams.flatMap((s) => (s.dtkImage ? [s.dtkImage] : []))),
      streams: sortedUnique(streams.map((s) => s.stream)),
    });
  }
  return records.sort((a, b) => a.arch.localeCompare(b.arch) || compareKernels(a.kernel, b.kernel));
}
