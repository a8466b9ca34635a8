/**
 * What the pipeline records: releases, kernels, builds (their zod schemas and
 * types), the build states, and the build key. Plain data: no SDK is imported here,
 * so a use case that needs a constant loads no AWS client. The table that stores
 * them is `#aws/dynamo-store.ts`; the port it implements is `PipelineStore`
 * (`ports.ts`).
 */
import * as z from 'zod';
import { GRAPH_ARCHES, KERNEL_ARCHES } from '#core/arch.ts';
import { findingSchema } from '#core/findings.ts';
import { resolvedReleaseSchema } from '#core/release-record.ts';
import { BUILD_KINDS } from './messages.ts';

export const releaseEntrySchema = z.object({
  payload: z.string(),
  graphArch: z.enum(GRAPH_ARCHES),
  version: z.string(),
  channels: z.array(z.string()),
  state: z.enum(['queued', 'resolved', 'failed']),
  queuedAt: z.string(),
  resolvedAt: z.string().optional(),
  releases: z.array(resolvedReleaseSchema).optional(),
  failure: findingSchema.optional(),
});
export type ReleaseEntry = z.infer<typeof releaseEntrySchema>;

export const kernelEntrySchema = z.object({
  kernel: z.string(),
  arch: z.enum(KERNEL_ARCHES),
  rhelVersion: z.string().nullable(),
  rtKernel: z.string().nullable(),
  kernel64k: z.string().nullable(),
  stream: z.string(),
  streamClass: z.string().nullable(),
  releases: z.array(z.string()),
  channels: z.array(z.string()),
  prerelease: z.boolean(),
  rhcosVersions: z.array(z.string()),
  dtkImages: z.array(z.string()),
  firstSeenAt: z.string(),
  /** The sighting (`<payload>|<release>`) whose message recorded it: its redelivery may finish the job. */
  discoveredBy: z.string(),
  /** `new` until its notification is published and its builds are queued. */
  state: z.enum(['new', 'processed']),
  /** Set once `kernel.discovered` is published, so a retried step does not publish it again. */
  notifiedAt: z.string().optional(),
  /** First seen only in candidate channels or -ec/-rc releases. */
  discoveredAsPrerelease: z.boolean().optional(),
  /** Set once `kernel.promoted` is published. */
  promotedAt: z.string().optional(),
});
export type KernelEntry = z.infer<typeof kernelEntrySchema>;

/**
 * `simulated`: a stand-in for CodeBuild (the local run) did not run the build; no
 * image was built or pushed, so a simulated build never carries a digest and never
 * counts as an image that exists.
 */
export const BUILD_STATES = ['queued', 'started', 'in-progress', 'succeeded', 'failed', 'skipped', 'simulated'] as const;
export type BuildState = (typeof BUILD_STATES)[number];
export const TERMINAL_BUILD_STATES: readonly BuildState[] = ['succeeded', 'failed', 'skipped', 'simulated'];
/** The image exists: built and pushed, or found already pushed. */
export const IMAGE_BUILD_STATES: readonly BuildState[] = ['succeeded', 'skipped'];
/**
 * What follows a build (the join, drivers built FROM this project's DTK) is planned
 * after these. A simulated build lets the local run go on planning; what follows it
 * is simulated too, since its inputs do not exist.
 */
export const FOLLOW_UP_BUILD_STATES: readonly BuildState[] = [...IMAGE_BUILD_STATES, 'simulated'];

export const buildEntrySchema = z.object({
  buildKey: z.string(),
  kind: z.enum(BUILD_KINDS),
  /** `dtk`, or `driver:<name>`; a join carries the target it joins. */
  target: z.string(),
  /** Kernel without arch: groups one target's per-arch builds for the join. */
  kernelVersion: z.string(),
  /** The full kernel (with arch) for per-arch builds; the kernel version for a join. */
  kernel: z.string(),
  /** Kernel arch, or `multi` for a join. */
  arch: z.string(),
  /** A driver build's driver version (a new version is a new build). */
  variant: z.string().optional(),
  /** The arches whose images the join of this target puts together. */
  joinArches: z.array(z.string()).optional(),
  project: z.string(),
  env: z.record(z.string(), z.string()),
  image: z.string(),
  state: z.enum(BUILD_STATES),
  attempts: z.number().int(),
  buildId: z.string().optional(),
  digest: z.string().optional(),
  /** Why a build was skipped or failed, when known. */
  detail: z.string().optional(),
  /**
   * What the finished run signed (written on every finish, so a rebuild without a key
   * clears it): the SHA-256 fingerprint of the certificate its modules are signed with,
   * and the KMS key its pushed image was signed with.
   */
  signed: z.object({ modulesBy: z.string().optional(), imageKey: z.string().optional() }).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type BuildEntry = z.infer<typeof buildEntrySchema>;

/** `<kernelVersion>|<target>|<arch>` ↔ table keys. */
export function buildKeyOf(kernelVersion: string, target: string, arch: string): string {
  return `${kernelVersion}|${target}|${arch}`;
}
