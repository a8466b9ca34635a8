/**
 * The deploy configuration of the pipeline stack: one zod schema, read from the
 * cdk.json context key `dtkPipeline`, or from a JSON file named by the context
 * key `configFile` (`npx cdk synth -c configFile=deploy/prod.json`).
 *
 * A bad value fails synth with every problem named by its path, e.g.
 * `config.channels[1]: "stabel-4.18" is not a channel name`.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Node } from 'constructs';
import * as z from 'zod';
import { BUILD_ARCHES, ubiImagesSchema } from '#pipeline/config.ts';
import { driverSchema } from '#pipeline/drivers.ts';
import { coverageKey } from '#pipeline/publish-coverage.ts';
import { GRAPH_ARCHES } from '#core/arch.ts';
import { CHANNEL_PATTERN, DEFAULT_GRAPH_URL, GRAPH_LIMITS, OKD_CHANNEL_PATTERN } from '#core/graph.ts';

/** The cdk.json context key holding the config object. */
/**
 * quay.io/buildah/stable: the buildah project's own image, "built using the latest
 * stable version of Buildah in a Fedora based container", public and pullable without
 * credentials, "can run safely with privileges within the container", published for
 * amd64 and arm64 (containers/buildah, contrib/buildahimage/README.md). Fedora ships
 * Node.js (`dnf install nodejs`), which the build scripts' CLI needs.
 *
 * NOT VERIFIED FROM HERE (no internet where this was written): the digest is the
 * multi-arch index a public CI pipeline records for native amd64 and arm64 runners.
 * Check it (`skopeo inspect --raw docker://quay.io/buildah/stable@sha256:…`) or set
 * `builderImage` in the deploy config to a digest you have checked.
 */
export const DEFAULT_BUILDER_IMAGE = 'quay.io/buildah/stable@sha256:56e6ebc9bb71c8303b1968fb51304d3512e14a1b8c730bd0b27ebdf772a34ceb';

export const CONFIG_CONTEXT_KEY = 'dtkPipeline';
/** The context key naming a JSON config file (takes precedence over CONFIG_CONTEXT_KEY). */
export const CONFIG_FILE_CONTEXT_KEY = 'configFile';

/** Kernel arches CodeBuild has native builders for (x86 and Graviton): one list, shared with the functions. */
export { BUILD_ARCHES, type BuildArch } from '#pipeline/config.ts';

/** `quay.io`, `registry.example.com:5000`: a registry host, optionally with a port. */
const REGISTRY_HOST = /^(?=.{1,253}(?::|$))[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::\d{1,5})?$/;
/** `quay.io/myorg/driver-toolkit`: registry host, then lower-case path components. */
const REPOSITORY = /^[^/]+(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$/;
/**
 * A Secrets Manager secret ARN, complete (`…:secret:name-AbCdEf`) or partial
 * (`…:secret:name`).
 */
const SECRET_ARN = /^arn:aws(?:-[a-z]+)*:secretsmanager:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$/;

const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

/** The folder of the coverage objects in the stack's coverage bucket, unless configured. */
export const DEFAULT_COVERAGE_PREFIX = 'coverage/';
/** A key prefix, normalised to a folder with one trailing slash (`coverage` → `coverage/`), or '' for the bucket's root. */
const coveragePrefix = z
  .string()
  .refine(
    (p) => {
      // `*` is a valid key character but a wildcard in the IAM grant of the prefix.
      if (p.includes('*')) return false;
      try {
        coverageKey(p, 'index.html');
        return true;
      } catch {
        return false;
      }
    },
    { error: (i) => `${show(i.input)} is not a key prefix (a relative folder such as "coverage/": letters, digits, / . _ - ! ' ( ), no ".." or "*")` },
  )
  .transform((p) => {
    const folder = p.replace(/\/+$/, '');
    return folder ? `${folder}/` : '';
  });

const unique = <T>(items: readonly T[]) => new Set(items).size === items.length;

/**
 * The channels Red Hat publishes. Stricter than the graph's CHANNEL_PATTERN on
 * purpose: a misspelt channel is a valid-looking name whose graph is empty, so
 * the pipeline would silently watch nothing.
 */
export const CHANNEL_PREFIXES = ['stable', 'fast', 'candidate', 'eus'] as const;
const DEPLOY_CHANNEL = new RegExp(`^(?:${CHANNEL_PREFIXES.join('|')})-\\d{1,2}\\.\\d{1,3}$`);

const channel = z
  .string()
  .refine((c) => DEPLOY_CHANNEL.test(c) && CHANNEL_PATTERN.test(c), {
    error: (issue) =>
      `${show(issue.input)} is not a channel name (expected ${CHANNEL_PREFIXES.join('|')}-<major>.<minor>, e.g. "stable-4.18", "candidate-5.0")`,
  });

const kmsKeyArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/, { error: (i) => `${show(i.input)} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>; aliases cannot scope IAM)` });
const secretArn = z.string().regex(SECRET_ARN, {
  error: (issue) =>
    `${show(issue.input)} is not a Secrets Manager secret ARN (expected arn:aws:secretsmanager:<region>:<account>:secret:<name>)`,
});

export const deployConfigSchema = z
  .strictObject({
    /** Update-graph channels to watch, e.g. `stable-4.18`. */
    channels: z.array(channel).min(1).refine(unique, 'lists a channel twice'),
    /** Graph arches to watch per channel. */
    arches: z
      .array(z.enum(GRAPH_ARCHES, { error: (i) => `${show(i.input)} is not a graph arch (one of ${GRAPH_ARCHES.join(', ')})` }))
      .min(1)
      .refine(unique, 'lists an arch twice'),
    /** Minutes between two polls of the graph. */
    scheduleMinutes: z.number().int().min(1).max(480).default(10),
    /** The update graph endpoint. */
    graphUrl: z.url({ protocol: /^https$/, error: (i) => `${show(i.input)} is not an https URL` }).default(DEFAULT_GRAPH_URL),
    /** Cap on one graph response's body, decoded, in bytes (a larger graph is refused and counted as a graph error). */
    maxGraphBytes: z.number().int().min(64 * 1024).max(256 * 1024 * 1024).default(GRAPH_LIMITS.maxBodyBytes),
    /** Cap on the nodes of one graph (a graph with more is refused and counted as a graph error). */
    maxGraphNodes: z.number().int().min(10).max(100_000).default(GRAPH_LIMITS.maxNodes),
    /**
     * Channels served by another update graph, each group with its URL: OKD's
     * `stable-scos-4` from https://amd64.origin.releases.ci.openshift.org/graph.
     * Polled beside `channels`, with the same arches.
     */
    channelGraphs: z
      .array(
        z.strictObject({
          url: z.url({ protocol: /^https$/, error: (i) => `${show(i.input)} is not an https URL` }),
          channels: z
            .array(
              z.string().refine((c) => CHANNEL_PATTERN.test(c) && (DEPLOY_CHANNEL.test(c) || OKD_CHANNEL_PATTERN.test(c)), {
                error: (issue) => `${show(issue.input)} is not a channel name (e.g. "stable-scos-4" for OKD, or "stable-4.18")`,
              }),
            )
            .min(1),
        }),
      )
      .default([]),
    /** The registry images are pushed to, e.g. `quay.io`. */
    targetRegistry: z.string().regex(REGISTRY_HOST, { error: (i) => `${show(i.input)} is not a registry host (e.g. "quay.io")` }),
    /** Where DTK images are pushed, e.g. `quay.io/myorg/driver-toolkit`. */
    dtkRepository: z
      .string()
      .regex(REPOSITORY, { error: (i) => `${show(i.input)} is not a repository (e.g. "quay.io/myorg/driver-toolkit")` }),
    /** Kernel arches to build images for, each on its native CodeBuild builder. */
    buildArches: z
      .array(z.enum(BUILD_ARCHES, { error: (i) => `${show(i.input)} has no CodeBuild builder (one of ${BUILD_ARCHES.join(', ')})` }))
      .min(1)
      .refine(unique, 'lists an arch twice')
      .default([...BUILD_ARCHES]),
    /**
     * Registries and token services (`host[:port]`) the resolver may contact besides
     * quay.io, registry.redhat.io, registry.ci.openshift.org and sso.redhat.com (e.g. a
     * mirror). A payload or a registry naming any other host is refused.
     */
    allowedRegistries: z
      .array(z.string().regex(REGISTRY_HOST, { error: (i) => `${show(i.input)} is not a registry host (e.g. "mirror.example.com:8443")` }))
      .refine(unique, 'lists a registry twice')
      .default([]),
    /** Addresses subscribed by e-mail to notifications and alarms. */
    notificationEmails: z.array(z.email({ error: (i) => `${show(i.input)} is not an e-mail address` })).default([]),
    /** OpenShift pull secret (docker config JSON). */
    pullSecretArn: secretArn,
    /** Push credentials of the target registry (docker config JSON). */
    pushSecretArn: secretArn,
    /** RHSM org id and activation key, a JSON secret `{"org": …, "key": …}`. */
    rhsmSecretArn: secretArn,
    /** Most releases resolved at once (SQS event source maxConcurrency, 2–1000). */
    resolveConcurrency: z.number().int().min(2).max(1000).default(2),
    /** Concurrent build limit of each CodeBuild project. */
    maxConcurrentBuilds: z.number().int().min(1).max(1000).default(10),
    /**
     * UBI base images of the DTK builds, pinned by digest, per RHEL major of the
     * kernels the channels ship (8 up to OpenShift 4.12, 9, and 10 from 4.22).
     * Required: without it every DTK build would fail.
     */
    ubiImages: ubiImagesSchema.refine((images) => Object.keys(images).length > 0, 'needs the UBI image of at least one RHEL major (e.g. "9"), pinned by digest'),
    /**
     * The builder image of the DTK and driver builds on both arches (a CodeBuild
     * custom image, privileged), pinned by digest: it must carry buildah, the engine
     * the build scripts use. The default is the upstream buildah project's
     * multi-arch image (see DEFAULT_BUILDER_IMAGE for its source); override it to
     * pin your own mirror or a digest you have checked.
     */
    builderImage: z
      .string()
      .regex(/^[a-z0-9.-]+(?::\d+)?\/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$/, { error: (i) => `${show(i.input)} is not an image pinned by digest (registry/repository@sha256:…)` })
      .default(DEFAULT_BUILDER_IMAGE),
    /**
     * Keys the builds may sign with (issue #11): KMS key ARNs (`kms:Sign` and
     * `kms:GetPublicKey` on exactly these, for the driver build projects only) and
     * Secrets Manager secrets holding PEM private keys for users without KMS.
     */
    signing: z
      .strictObject({
        kmsKeyArns: z
          .array(kmsKeyArn)
          .default([])
          .refine(unique, 'lists a key twice'),
        keySecretArns: z.array(secretArn).default([]).refine(unique, 'lists a secret twice'),
        /**
         * ECDSA P-256 KMS key every pushed image (DTK, per-arch driver images, indexes) is
         * signed with (sigstore attachment; `dtk-pipeline sign-image`). Unset: images are not signed.
         */
        imageKmsKeyArn: kmsKeyArn.optional(),
      })
      .prefault({}),
    /** Partner drivers to build for every matching kernel (more can be added at run time with `dtk-pipeline driver add`). */
    drivers: z.array(driverSchema).default([]).refine((ds) => unique(ds.map((d) => d.name)), 'lists a driver twice'),
    /** Where the coverage index (`coverage.json`) and its page (`index.html`) are published in the stack's coverage bucket. */
    coverage: z
      .strictObject({
        /** Key prefix (folder) of both objects; '' publishes at the bucket's root. */
        prefix: coveragePrefix.default(DEFAULT_COVERAGE_PREFIX),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    const all = [...config.channels, ...config.channelGraphs.flatMap((g) => g.channels)];
    const twice = all.find((c, i) => all.indexOf(c) !== i);
    if (twice !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['channelGraphs'], message: `${show(twice)} is listed twice (a channel is read from one graph)` });
    }
    // Drivers and UBI images reach Lambdas as environment variables, which AWS caps at 4 KB in all.
    const bytes = JSON.stringify(config.drivers).length + JSON.stringify(config.ubiImages).length;
    if (bytes > 2500) {
      ctx.addIssue({
        code: 'custom',
        path: ['drivers'],
        message: `drivers and ubiImages take ${bytes} bytes, more than fit in a Lambda environment (about 2,500 here): keep drivers in the table with \`dtk-pipeline driver add\``,
      });
    }
    if (!config.dtkRepository.startsWith(`${config.targetRegistry}/`)) {
      ctx.addIssue({
        code: 'custom',
        path: ['dtkRepository'],
        message: `${show(config.dtkRepository)} is not in the target registry ${show(config.targetRegistry)}`,
      });
    }
  });

/** Every channel polled, and the graph of each one not read from `graphUrl`. */
export function polledChannels(config: Pick<DeployConfig, 'channels' | 'channelGraphs'>): { channels: string[]; channelGraphs: Record<string, string> } {
  const channelGraphs = Object.fromEntries(config.channelGraphs.flatMap((g) => g.channels.map((c) => [c, g.url])));
  return { channels: [...config.channels, ...Object.keys(channelGraphs)], channelGraphs };
}

/** The config as written (defaults optional). */
export type DeployConfigInput = z.input<typeof deployConfigSchema>;
/** The config after defaults. */
export type DeployConfig = z.output<typeof deployConfigSchema>;

export class DeployConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeployConfigError';
  }
}

function pathOf(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}

/** Validates a raw config; `source` says where it came from, for the message. */
export function parseDeployConfig(raw: unknown, source = `context "${CONFIG_CONTEXT_KEY}"`): DeployConfig {
  const parsed = deployConfigSchema.safeParse(raw, { reportInput: true });
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const message =
      issue.code === 'invalid_type' && issue.input === undefined
        ? `is required (${issue.expected})`
        : issue.code === 'unrecognized_keys'
          ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(show).join(', ')}`
          : issue.message;
    return `  config${pathOf(issue.path)}: ${message}`;
  });
  return failWith(`bad deploy config (${source}):\n${problems.join('\n')}`);
}

function failWith(message: string): never {
  throw new DeployConfigError(message);
}

/**
 * Reads the config from the app's context: the file named by `configFile`
 * (relative to the working directory) if set, else the `dtkPipeline` object.
 */
export function loadDeployConfig(node: Node): DeployConfig {
  const file: unknown = node.tryGetContext(CONFIG_FILE_CONTEXT_KEY);
  if (file !== undefined) {
    if (typeof file !== 'string' || file === '') failWith(`context "${CONFIG_FILE_CONTEXT_KEY}" must be a file path`);
    const path = resolve(file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      return failWith(`cannot read the deploy config file ${path}: ${(error as Error).message}`);
    }
    return parseDeployConfig(parseJson(text, path), path);
  }
  let raw: unknown = node.tryGetContext(CONFIG_CONTEXT_KEY);
  if (raw === undefined) {
    failWith(
      `no deploy config: set the context key "${CONFIG_CONTEXT_KEY}" in cdk.json, or name a JSON file with -c ${CONFIG_FILE_CONTEXT_KEY}=<path>`,
    );
  }
  // `-c dtkPipeline='{…}'` on the command line arrives as a string.
  if (typeof raw === 'string') raw = parseJson(raw, `context "${CONFIG_CONTEXT_KEY}"`);
  return parseDeployConfig(raw);
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    return failWith(`the deploy config (${source}) is not JSON: ${(error as Error).message}`);
  }
}
