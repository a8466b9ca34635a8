/**
 * Runtime configuration of the pipeline's Lambdas, read once at cold start from
 * the environment the stack sets (see lib/). A missing or bad value fails the
 * cold start with a message naming the variable.
 */
import * as z from 'zod';
import { GRAPH_ARCHES, KERNEL_ARCHES } from '#core/arch.ts';
import { CHANNEL_PATTERN, DEFAULT_GRAPH_URL, GRAPH_LIMITS } from '#core/graph.ts';
import type { BuildPlanConfig } from './build-plan.ts';
import { driverSchema } from './drivers.ts';

const splitList = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

/** A variable holding JSON that must match `schema`. */
function jsonOf<T extends z.ZodType>(schema: T, name: string) {
  return z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: `${name} is not JSON` });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

/** CodeBuild project names by build kind and arch, as JSON. */
export const buildProjectsSchema = z.object({
  dtk: z.partialRecord(z.enum(KERNEL_ARCHES), z.string().min(1)),
  driver: z.partialRecord(z.enum(KERNEL_ARCHES), z.string().min(1)).default({}),
  join: z.string().min(1),
});
export type BuildProjects = z.infer<typeof buildProjectsSchema>;

/** UBI base images pinned by digest, by RHEL major. */
export const ubiImagesSchema = z.partialRecord(z.enum(['8', '9', '10']), z.string().regex(/@sha256:[0-9a-f]{64}$/, { error: 'UBI images must be pinned by digest' }));

/**
 * A build plan as a file: what `rebuild`, `backfill` and `driver add` plan builds
 * with. The local run writes one beside its state; for a deployment, write it from
 * the deploy config and the stack's CodeBuild project names.
 */
export const planFileSchema = z.object({
  dtkRepository: z.string().min(1),
  buildArches: z.array(z.enum(KERNEL_ARCHES)).min(1),
  projects: buildProjectsSchema,
  ubiImages: ubiImagesSchema,
  drivers: z.array(driverSchema).default([]),
});

/** Every variable any of the Lambdas reads; each handler picks what it needs. */
export const envSchema = z.object({
  TABLE_NAME: z.string().min(1),
  TOPIC_ARN: z.string().min(1),
  RELEASES_QUEUE_URL: z.string().url(),
  KERNELS_QUEUE_URL: z.string().url(),
  BUILDS_QUEUE_URL: z.string().url(),
  /** Comma-separated channels, e.g. `stable-4.18,candidate-4.19`. */
  CHANNELS: z.string().transform(splitList).pipe(z.array(z.string().regex(CHANNEL_PATTERN)).min(1)),
  /** Comma-separated graph arches, e.g. `amd64,arm64,multi`. */
  ARCHES: z.string().transform(splitList).pipe(z.array(z.enum(GRAPH_ARCHES)).min(1)),
  GRAPH_URL: z.string().url().default(DEFAULT_GRAPH_URL),
  /** Cap on one graph body, decoded, in bytes (deploy config maxGraphBytes). */
  GRAPH_MAX_BYTES: z.coerce.number().int().positive().default(GRAPH_LIMITS.maxBodyBytes),
  /** Cap on the nodes of one graph (deploy config maxGraphNodes). */
  GRAPH_MAX_NODES: z.coerce.number().int().positive().default(GRAPH_LIMITS.maxNodes),
  /** JSON object: channel → graph URL, for channels another graph serves (OKD's `stable-scos-4`). */
  CHANNEL_GRAPHS: jsonOf(z.record(z.string().regex(CHANNEL_PATTERN), z.string().url()), 'CHANNEL_GRAPHS').default({}),
  /** Secrets Manager ARN of the OpenShift pull secret (docker config JSON). */
  PULL_SECRET_ARN: z.string().min(1),
  /** Comma-separated HOST:PORT reachable over plain HTTP (tests only); they are allowed too. */
  INSECURE_REGISTRIES: z.string().default('').transform(splitList),
  /** Comma-separated HOST:PORT the resolver may contact besides the public OpenShift and OKD registries. */
  ALLOWED_REGISTRIES: z.string().default('').transform(splitList),
  /** Where DTK images are pushed: `quay.io/org/driver-toolkit`. */
  DTK_REPOSITORY: z.string().min(1),
  /** Kernel arches to build for (native builders exist for these). */
  BUILD_ARCHES: z.string().transform(splitList).pipe(z.array(z.enum(KERNEL_ARCHES)).min(1)),
  /** JSON array of the deploy config's partner drivers (the table may add more). */
  DRIVERS: jsonOf(z.array(driverSchema), 'DRIVERS').default([]),
  /** JSON object: UBI base image pinned by digest per RHEL major, e.g. {"9": "registry.access.redhat.com/ubi9/ubi@sha256:…"}. */
  UBI_IMAGES: jsonOf(ubiImagesSchema, 'UBI_IMAGES').default({}),
  /** JSON, see buildProjectsSchema. */
  BUILD_PROJECTS: jsonOf(buildProjectsSchema, 'BUILD_PROJECTS'),
  /** S3 bucket the coverage index and page are published to. */
  COVERAGE_BUCKET: z.string().min(1),
  /** Key prefix (a folder, e.g. `coverage/`) of the coverage objects; empty for the bucket's root. */
  COVERAGE_PREFIX: z.string().default(''),
});
export type PipelineEnv = z.infer<typeof envSchema>;

/** Reads the named variables, failing with every missing or bad one named. */
export function readEnv<K extends keyof PipelineEnv>(env: NodeJS.ProcessEnv, keys: readonly K[]): Pick<PipelineEnv, K> {
  const mask = Object.fromEntries(keys.map((k) => [k, true])) as Record<keyof PipelineEnv, true>;
  const parsed = envSchema.pick(mask).safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`).join('; ');
    throw new Error(`bad Lambda configuration: ${problems}`);
  }
  return parsed.data as unknown as Pick<PipelineEnv, K>;
}

export const PLAN_ENV = ['DTK_REPOSITORY', 'BUILD_ARCHES', 'BUILD_PROJECTS', 'DRIVERS', 'UBI_IMAGES'] as const;

export function planConfig(env: Pick<PipelineEnv, (typeof PLAN_ENV)[number]>): BuildPlanConfig {
  return { dtkRepository: env.DTK_REPOSITORY, buildArches: env.BUILD_ARCHES, projects: env.BUILD_PROJECTS, drivers: env.DRIVERS, ubiImages: env.UBI_IMAGES };
}
