/**
 * Notifications published on the SNS topic. The message body follows a
 * versioned JSON schema (`schema: "dtk-pipeline.notification/v1"`); message
 * attributes carry the fields subscription filter policies match on.
 */
import { z } from 'zod';
import { KERNEL_ARCHES } from '#core/arch.ts';

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

export const buildFinishedSchema = z.object({
  ...base,
  type: z.enum(['build.succeeded', 'build.failed']),
  buildKey: z.string(),
  kind: z.string(),
  kernel: z.string(),
  arch: z.string(),
  driver: z.string().nullable(),
  state: z.string(),
  image: z.string().nullable(),
  buildId: z.string().nullable(),
});

export const notificationSchema = z.discriminatedUnion('type', [kernelDiscoveredSchema, buildFinishedSchema]);
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
    case 'build.succeeded':
    case 'build.failed':
      return {
        subject: `${n.kind} build ${n.type === 'build.succeeded' ? 'succeeded' : 'failed'}: ${n.kernel}`.slice(0, 100),
        body: n,
        attributes: { eventType: n.type, arch: n.arch, state: n.state, ...(n.driver ? { driver: n.driver } : {}) },
      };
  }
}
