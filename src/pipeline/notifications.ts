/**
 * Notifications published on the SNS topic. The message body follows a
 * versioned JSON schema (`schema: "dtk-pipeline.notification/v1"`); message
 * attributes carry the fields subscription filter policies match on.
 */
import * as z from 'zod';
import { fingerprint } from '#core/signing/fingerprint.ts';
import { KERNEL_ARCHES } from '#core/arch.ts';
import { findingSchema, type Finding } from '#core/findings.ts';
import type { KernelEntry } from './entities.ts';

export const NOTIFICATION_SCHEMA = 'dtk-pipeline.notification/v1';

const base = {
  schema: z.literal(NOTIFICATION_SCHEMA),
  /** Stable for one fact: a redelivered step publishes the same id, so subscribers can drop repeats. */
  id: z.string(),
  time: z.string(),
};

export const kernelDiscoveredSchema = z.object({
  ...base,
  type: z.literal('kernel.discovered'),
  kernel: z.string(),
  arch: z.enum(KERNEL_ARCHES),
  rhelVersion: z.string().nullable(),
  rtKernel: z.string().nullable(),
  kernel64k: z.string().nullable(),
  release: z.string(),
  channels: z.array(z.string()),
  prerelease: z.boolean(),
  dtkImage: z.string().nullable(),
});

export const kernelPromotedSchema = z.object({
  ...base,
  type: z.literal('kernel.promoted'),
  kernel: z.string(),
  arch: z.enum(KERNEL_ARCHES),
  /** The GA release that brought it out of pre-release. */
  release: z.string(),
  channels: z.array(z.string()),
});

export const releaseFindingSchema = z.object({
  ...base,
  type: z.literal('release.finding'),
  release: z.string(),
  arch: z.string(),
  payload: z.string(),
  finding: findingSchema,
});

/**
 * `build.simulated`: a stand-in for CodeBuild (the local run) did not run the build;
 * `image` is null (nothing was pushed).
 */
export const buildFinishedSchema = z.object({
  ...base,
  type: z.enum(['build.succeeded', 'build.failed', 'build.simulated']),
  buildKey: z.string(),
  kind: z.string(),
  kernel: z.string(),
  arch: z.string(),
  driver: z.string().nullable(),
  state: z.enum(['succeeded', 'skipped', 'failed', 'simulated']),
  /** The image reference; null for a simulated build. */
  image: z.string().nullable(),
  buildId: z.string().nullable(),
  /** SHA-256 fingerprint of the certificate every module of the image was signed with (driver builds that sign, when built). */
  modulesSignedBy: z.string().optional(),
  /**
   * The KMS key the image was signed with: a build that pushed its image, or found it
   * already there (skipped), signs it when its project has a key (the build fails when
   * it cannot).
   */
  imageSignedWith: z.string().optional(),
  /**
   * The image's SBOM (a build that pushed or found its image attaches it, or fails):
   * signed with `signedWith`, or `signedWith: null`: attached UNSIGNED, no key.
   */
  sbom: z.object({ attached: z.literal(true), signedWith: z.string().nullable() }).optional(),
});

export const notificationSchema = z.discriminatedUnion('type', [kernelDiscoveredSchema, kernelPromotedSchema, releaseFindingSchema, buildFinishedSchema]);
export type Notification = z.infer<typeof notificationSchema>;

export interface PublishedNotification {
  readonly subject: string;
  readonly body: Notification;
  /** SNS message attributes (strings). */
  readonly attributes: Readonly<Record<string, string>>;
}

/** Subject (≤ 100 chars, as SNS requires) and filterable attributes of a notification. */
export function describe(n: Notification): PublishedNotification {
  const minor = (release: string) => /^(\d+\.\d+)/.exec(release)?.[1] ?? 'unknown';
  switch (n.type) {
    case 'kernel.discovered':
      return {
        subject: `New ${n.prerelease ? 'pre-release ' : ''}kernel ${n.kernel} (OpenShift ${n.release})`.slice(0, 100),
        body: n,
        attributes: { eventType: n.type, arch: n.arch, openshiftMinor: minor(n.release), prerelease: String(n.prerelease) },
      };
    case 'kernel.promoted':
      return {
        subject: `Kernel ${n.kernel} is now generally available (OpenShift ${n.release})`.slice(0, 100),
        body: n,
        attributes: { eventType: n.type, arch: n.arch, openshiftMinor: minor(n.release), prerelease: 'false' },
      };
    case 'release.finding':
      return {
        subject: `OpenShift ${n.release} ${n.arch}: ${n.finding.code}`.slice(0, 100),
        body: n,
        attributes: { eventType: n.type, arch: n.arch, openshiftMinor: minor(n.release), finding: n.finding.code },
      };
    case 'build.succeeded':
    case 'build.failed':
    case 'build.simulated':
      return {
        subject: `${n.kind} build ${n.type.slice('build.'.length)}${n.type === 'build.simulated' ? ' (not built)' : ''}: ${n.kernel}`.slice(0, 100),
        body: n,
        attributes: { eventType: n.type, arch: n.arch, state: n.state, ...(n.driver ? { driver: n.driver } : {}) },
      };
  }
}

/** `build.succeeded` / `build.failed` / `build.simulated` for a build's record. */
export function buildFinished(
  build: { buildKey: string; kind: string; kernel: string; arch: string; target: string; image: string; env?: Readonly<Record<string, string>> },
  state: 'succeeded' | 'skipped' | 'failed' | 'simulated',
  buildId: string | null,
  time: string,
  /** IMAGE_SIGNING_KMS_KEY of the build's project. @default - none: images and SBOMs are not signed */
  imageKey?: string,
): Notification {
  const imageThere = state === 'succeeded' || state === 'skipped';
  return {
    schema: NOTIFICATION_SCHEMA,
    id: `build.${state}:${build.buildKey}:${buildId ?? 'not-started'}`,
    time,
    type: state === 'failed' ? 'build.failed' : state === 'simulated' ? 'build.simulated' : 'build.succeeded',
    buildKey: build.buildKey,
    kind: build.kind,
    kernel: build.kernel,
    arch: build.arch,
    driver: build.target.startsWith('driver:') ? build.target.slice('driver:'.length) : null,
    state,
    image: state === 'simulated' ? null : build.image,
    buildId,
    ...signedBy(build.env, state),
    ...(imageThere && imageKey ? { imageSignedWith: imageKey } : {}),
    ...(imageThere ? { sbom: { attached: true as const, signedWith: imageKey || null } } : {}),
  };
}

/**
 * Only a build that ran and succeeded with a signing key signed its modules (the build
 * fails when signing or the signature gate fails); a skipped build pushed nothing.
 */
export function signedBy(env: Readonly<Record<string, string>> | undefined, state: 'succeeded' | 'skipped' | 'failed' | 'simulated'): { modulesSignedBy?: string } {
  const cert = env?.['MODULE_SIGNING_CERT'];
  if (state !== 'succeeded' || !cert) return {};
  return { modulesSignedBy: fingerprint(Buffer.from(cert, 'base64')) };
}

/**
 * The messages of each type, built in one place (the use cases say when, these
 * say what); `describe` turns any of them into the SNS subject, body and attributes.
 */

/** `kernel.discovered`, once per kernel, from its record (`release` when the record lists none yet). */
export function kernelDiscovered(entry: KernelEntry, release: string): Notification {
  return {
    schema: NOTIFICATION_SCHEMA,
    id: `kernel.discovered:${entry.kernel}`,
    time: entry.firstSeenAt,
    type: 'kernel.discovered',
    kernel: entry.kernel,
    arch: entry.arch,
    rhelVersion: entry.rhelVersion,
    rtKernel: entry.rtKernel,
    kernel64k: entry.kernel64k,
    release: entry.releases[0] ?? release,
    channels: entry.channels,
    prerelease: entry.prerelease,
    dtkImage: entry.dtkImages[0] ?? null,
  };
}

/** `kernel.promoted`: a pre-release kernel now shipped by a GA `release`. */
export function kernelPromoted(entry: KernelEntry, release: string, time: string): Notification {
  return { schema: NOTIFICATION_SCHEMA, id: `kernel.promoted:${entry.kernel}`, time, type: 'kernel.promoted', kernel: entry.kernel, arch: entry.arch, release, channels: entry.channels };
}

/**
 * `release.finding`: one finding of one release's payload on one arch; `payloadFailed`
 * for the one failure that made the whole payload unusable.
 */
export function releaseFinding(release: { version: string; arch: string; payload: string }, finding: Finding, time: string, { payloadFailed = false }: { payloadFailed?: boolean } = {}): Notification {
  return {
    schema: NOTIFICATION_SCHEMA,
    id: `release.finding:${release.payload}|${release.arch}|${finding.code}${payloadFailed ? '' : `|${finding.source ?? ''}`}`,
    time,
    type: 'release.finding',
    release: release.version,
    arch: release.arch,
    payload: release.payload,
    finding,
  };
}
