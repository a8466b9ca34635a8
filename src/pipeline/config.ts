/**
 * The contract between the stack (lib/) and the Lambdas (lambdas/): which
 * environment variables each function gets, and what each must hold. The stack
 * writes exactly `FUNCTION_ENV[fn]` for each function (typed by
 * `FunctionEnvironment`); each handler parses exactly those once, at cold start,
 * with `readFunctionEnv`. A missing or bad value fails the cold start with a
 * message naming the variable.
 */
import * as z from 'zod';
import { GRAPH_ARCHES, KERNEL_ARCHES } from '#core/arch.ts';
import { BUILD_ARCHES } from '#core/builds/params.ts';
import { CHANNEL_PATTERN, DEFAULT_GRAPH_URL, GRAPH_LIMITS } from '#core/graph.ts';
import type { BuildPlanConfig } from './build-plan.ts';
import { driverSchema } from './drivers.ts';

export { BUILD_ARCHES, BUILD_KINDS, type BuildArch, type BuildKind } from '#core/builds/params.ts';

/** CloudWatch namespace of the pipeline's own metrics (Powertools EMF). */
export const METRICS_NAMESPACE = 'DriverToolkitPipeline';
/** Metrics the functions emit; the stack's alarms and dashboard read them by these names. */
export const METRICS = {
  /** poll-releases, once per poll that read at least one graph (the staleness alarm watches it). */
  pollSucceeded: 'PollSucceeded',
  releasesQueued: 'ReleasesQueued',
  graphErrors: 'GraphErrors',
  graphFindings: 'GraphFindings',
} as const;

/** RHEL majors a DTK can be built for (UBI 8, 9 and 10). */
export const RHEL_MAJORS = ['8', '9', '10'] as const;
/** A UBI image pinned by digest: `registry.access.redhat.com/ubi9/ubi@sha256:…`. */
export const UBI_IMAGE_PATTERN = /^[a-z0-9.-]+(?::\d+)?\/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$/;
/** UBI base images pinned by digest, by RHEL major: the deploy config's `ubiImages` and the functions' `UBI_IMAGES`. */
export const ubiImagesSchema = z.partialRecord(
  z.enum(RHEL_MAJORS),
  z.string().regex(UBI_IMAGE_PATTERN, { error: (i) => `${JSON.stringify(i.input)} is not an image pinned by digest` }),
);

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

/**
 * A build plan as a file: what `rebuild`, `backfill` and `driver add` plan builds
 * with. The local run writes one beside its state; for a deployment, write it from
 * the deploy config and the stack's CodeBuild project names. (Drivers are not part
 * of it: they are read from the table, where the deploy config's drivers are too.)
 */
export const planFileSchema = z.object({
  dtkRepository: z.string().min(1),
  buildArches: z.array(z.enum(KERNEL_ARCHES)).min(1),
  projects: buildProjectsSchema,
  ubiImages: ubiImagesSchema,
});

/** Every variable any of the functions reads, and what it must hold. */
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
  BUILD_ARCHES: z.string().transform(splitList).pipe(z.array(z.enum(BUILD_ARCHES)).min(1)),
  /** JSON array of the deploy config's partner drivers; poll-releases writes them to the table, where everyone reads them. */
  DRIVERS: jsonOf(z.array(driverSchema), 'DRIVERS').default([]),
  /** JSON object: UBI base image pinned by digest per RHEL major, e.g. {"9": "registry.access.redhat.com/ubi9/ubi@sha256:…"}. */
  UBI_IMAGES: jsonOf(ubiImagesSchema, 'UBI_IMAGES').default({}),
  /** JSON, see buildProjectsSchema. */
  BUILD_PROJECTS: jsonOf(buildProjectsSchema, 'BUILD_PROJECTS'),
  /** JSON object: each CodeBuild project's build timeout in minutes (reconcile-builds). */
  BUILD_TIMEOUTS: jsonOf(z.record(z.string(), z.number().int().nonnegative()), 'BUILD_TIMEOUTS'),
  /** Minutes a release may stay queued (claimed, not resolved) before poll-releases queues it again (its message was lost or dead-lettered). */
  RELEASE_RECLAIM_MINUTES: z.coerce.number().int().nonnegative().default(30),
  /** Minutes past a project's timeout before reconcile-builds asks CodeBuild about a build still in flight. */
  RECONCILE_MARGIN_MINUTES: z.coerce.number().int().nonnegative().default(15),
  /** S3 bucket the coverage index and page are published to. */
  COVERAGE_BUCKET: z.string().min(1),
  /** Key prefix (a folder, e.g. `coverage/`) of the coverage objects; empty for the bucket's root. */
  COVERAGE_PREFIX: z.string().default(''),
});
export type PipelineEnv = z.infer<typeof envSchema>;
export type EnvKey = keyof PipelineEnv;

/** What record-kernel and track-builds plan builds with. */
const PLAN_ENV = ['DTK_REPOSITORY', 'BUILD_ARCHES', 'BUILD_PROJECTS', 'UBI_IMAGES'] as const satisfies readonly EnvKey[];

/** Each function (by its service name, `lambdas/<name>/handler.ts`) and exactly the variables it reads. */
export const FUNCTION_ENV = {
  'poll-releases': ['TABLE_NAME', 'RELEASES_QUEUE_URL', 'GRAPH_URL', 'GRAPH_MAX_BYTES', 'GRAPH_MAX_NODES', 'CHANNEL_GRAPHS', 'CHANNELS', 'ARCHES', 'DRIVERS', 'RELEASE_RECLAIM_MINUTES'],
  'resolve-release': ['TABLE_NAME', 'TOPIC_ARN', 'KERNELS_QUEUE_URL', 'INSECURE_REGISTRIES', 'ALLOWED_REGISTRIES', 'PULL_SECRET_ARN'],
  'record-kernel': ['TABLE_NAME', 'TOPIC_ARN', 'BUILDS_QUEUE_URL', ...PLAN_ENV],
  'start-build': ['TABLE_NAME', 'TOPIC_ARN'],
  'track-builds': ['TABLE_NAME', 'TOPIC_ARN', 'BUILDS_QUEUE_URL', ...PLAN_ENV],
  'reconcile-builds': ['TABLE_NAME', 'TOPIC_ARN', 'BUILDS_QUEUE_URL', 'BUILD_TIMEOUTS', 'RECONCILE_MARGIN_MINUTES', ...PLAN_ENV],
  'publish-coverage': ['TABLE_NAME', 'COVERAGE_BUCKET', 'COVERAGE_PREFIX'],
} as const satisfies Record<string, readonly EnvKey[]>;
export type FunctionName = keyof typeof FUNCTION_ENV;
export const FUNCTION_NAMES = Object.keys(FUNCTION_ENV) as FunctionName[];

/** The parsed configuration of one function. */
export type FunctionEnv<F extends FunctionName> = Pick<PipelineEnv, (typeof FUNCTION_ENV)[F][number]>;
/** The environment the stack writes for one function: every variable it reads, as a string (or a token). */
export type FunctionEnvironment<F extends FunctionName> = Record<(typeof FUNCTION_ENV)[F][number], string>;

export function isFunctionName(name: string): name is FunctionName {
  return Object.hasOwn(FUNCTION_ENV, name);
}

/** Parses one function's variables, failing with every missing or bad one named. */
export function readFunctionEnv<F extends FunctionName>(fn: F, env: Readonly<Record<string, string | undefined>>): FunctionEnv<F> {
  const mask = Object.fromEntries(FUNCTION_ENV[fn].map((k) => [k, true])) as Record<EnvKey, true>;
  const parsed = envSchema.pick(mask).safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`).join('; ');
    throw new Error(`bad Lambda configuration of ${fn}: ${problems}`);
  }
  return parsed.data as unknown as FunctionEnv<F>;
}

export function planConfig(env: Pick<PipelineEnv, (typeof PLAN_ENV)[number]>): BuildPlanConfig {
  return { dtkRepository: env.DTK_REPOSITORY, buildArches: env.BUILD_ARCHES, projects: env.BUILD_PROJECTS, ubiImages: env.UBI_IMAGES };
}
