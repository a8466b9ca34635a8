/**
 * The environment contract of the build jobs (DTK, partner driver, multi-arch join).
 *
 * Every build parameter reaches CodeBuild as an environment variable and from there a
 * shell. These schemas are the one place the rules live: the code that starts builds
 * validates the environment it is about to send, and each script validates what it
 * received (`dtk-pipeline validate-build-env --kind dtk|driver|join`) before using any
 * of it. Patterns are strict allow-lists; no value may carry shell syntax, whitespace,
 * `..` path segments or newlines. Error messages name the variable; values are quoted
 * (never for secret files, whose contents are not read here).
 *
 * Empty strings count as unset (CodeBuild environment overrides cannot unset a variable).
 */
import * as z from 'zod';
import type { KernelArch } from '../arch.ts';
import { parseKernel, quoteUntrusted } from '../kernel.ts';
import { parseImageReference } from '../registry/reference.ts';
import type { ImageRef } from '../registry/types.ts';
import { parseBuildKernel, type BuildKernel } from './build-kernel.ts';
import type { RhelVersion } from './dtk-packages.ts';
import { DEFAULT_TAG_TEMPLATE, TAG_PATTERN, validateTagTemplate } from './tags.ts';

export const BUILD_KINDS = ['dtk', 'driver', 'join'] as const;
export type BuildKind = (typeof BUILD_KINDS)[number];

/** Arches the pipeline builds on (native CodeBuild builders). */
export const BUILD_ARCHES = ['x86_64', 'aarch64'] as const satisfies readonly KernelArch[];
export type BuildArch = (typeof BUILD_ARCHES)[number];


// ---------------------------------------------------------------------------
// Patterns (exported: the scripts' quick pre-checks mirror some of them)

/** An absolute or relative path of safe characters without `..` segments. */
export const PATH_PATTERN = /^(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/-]{1,255}$/;
/** Like PATH_PATTERN, relative only. */
export const RELATIVE_PATH_PATTERN = /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/-]{1,255}$/;
export const ABSOLUTE_PATH_PATTERN = /^\/(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/-]{1,254}$/;
export const DRIVER_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Kernel module names (KMM's moduleName): letters, digits, `_` and `-`. */
export const MOD_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;
/** https git URL without credentials, query, fragment or `..`. */
export const GIT_URL_PATTERN = /^https:\/\/[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::\d{1,5})?\/(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._~/-]{1,400}$/;
/** A git branch, tag or commit; never starts with `-` (would be an option) and has no `..`. */
export const GIT_REF_PATTERN = /^(?!.*\.\.)(?!.*\/\/)(?!.*\.lock$)[A-Za-z0-9][A-Za-z0-9._/-]{0,127}(?<!\/)$/;
/** `9.4`, or the major alone (`9`) for early kernels that do not encode the minor. */
export const RHEL_VERSION_PATTERN = /^(8|9|10)(?:\.(\d{1,2}))?$/;
export const SOURCE_URL_PATTERN = /^https:\/\/[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::\d{1,5})?(?:\/[A-Za-z0-9._~%/-]{0,400})?$/;
export const SOURCE_REVISION_PATTERN = /^[0-9a-f]{7,64}$/;
export const BUILD_ARG_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Build-arg values reach partners' RUN lines, often unquoted: no spaces, quotes or shell syntax. */
export const BUILD_ARG_VALUE_PATTERN = /^[A-Za-z0-9._:/@+=,-]{0,256}$/;
/** `x86_64=TAG[,aarch64=TAG]` */
export const ARCH_TAGS_PATTERN = /^(?:x86_64|aarch64)=[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(?:,(?:x86_64|aarch64)=[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/;
/** RHSM organisation IDs are numeric. */
export const RHSM_ORG_PATTERN = /^[0-9]{1,32}$/;
/** RHSM activation key names. */
export const RHSM_KEY_PATTERN = /^[A-Za-z0-9._-]{1,255}$/;

/** Build args the driver build sets itself (KMM's names); BUILD_ARGS_JSON may not override them. */
export const KMM_BUILD_ARGS = ['DTK_AUTO', 'KERNEL_FULL_VERSION', 'KERNEL_VERSION', 'MOD_NAME'] as const;
const MAX_BUILD_ARGS = 32;

// ---------------------------------------------------------------------------
// Field schemas

const pattern = (name: string, re: RegExp, hint: string) =>
  z.string({ error: `${name} is required (${hint})` }).regex(re, { error: (i) => `${name} ${quoteUntrusted(i.input)} is not ${hint}` });

const flag = (name: string) =>
  z
    .enum(['true', 'false'], { error: (i) => `${name} must be "true" or "false", got ${quoteUntrusted(i.input)}` })
    .default('false')
    .transform((v) => v === 'true');

const arch = z.enum(BUILD_ARCHES, { error: (i) => `ARCH ${quoteUntrusted(i.input)} is not one of ${BUILD_ARCHES.join(', ')}` });

/** A repository without tag or digest: `quay.io/org/driver-toolkit`. */
const targetImage = z.string({ error: 'TARGET_IMAGE is required (registry/repository, like quay.io/org/driver-toolkit)' }).transform((s, ctx): ImageRef => {
  try {
    const ref = parseImageReference(s);
    if (ref.tag !== undefined || ref.digest !== undefined) throw new Error('it must not carry a tag or digest (the build computes the tag)');
    if (!s.startsWith(`${ref.registry}/`)) throw new Error('it must name the registry host explicitly (like quay.io/org/repo)');
    return ref;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `TARGET_IMAGE: ${(err as Error).message}` });
    return z.NEVER;
  }
});

/** A pull spec; `requireDigest` for bases that must be pinned. */
const pullSpec = (name: string, requireDigest: boolean) =>
  z.string({ error: `${name} is required (an image pull spec)` }).transform((s, ctx): ImageRef => {
    try {
      const ref = parseImageReference(s);
      if (requireDigest && ref.digest === undefined) throw new Error('it must be pinned by digest (…@sha256:<64 hex>)');
      if (!requireDigest && ref.digest === undefined && ref.tag === undefined) throw new Error('it must carry a tag or a digest');
      if (!s.startsWith(`${ref.registry}/`)) throw new Error('it must name the registry host explicitly');
      return ref;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${name}: ${(err as Error).message}` });
      return z.NEVER;
    }
  });

const common = {
  KERNEL: z.string({ error: 'KERNEL is required (a kernel `uname -r`, like 5.14.0-427.68.1.el9_4.x86_64)' }),
  ARCH: arch,
  TARGET_IMAGE: targetImage,
  REBUILD: flag('REBUILD'),
  ALLOW_CROSS_ARCH: flag('ALLOW_CROSS_ARCH'),
  ALLOW_TEST_KERNELS: flag('ALLOW_TEST_KERNELS'),
  REGISTRY_AUTH_FILE: pattern('REGISTRY_AUTH_FILE', ABSOLUTE_PATH_PATTERN, 'an absolute path of [A-Za-z0-9._/-]').optional(),
  RESULT_FILE: pattern('RESULT_FILE', PATH_PATTERN, 'a path of [A-Za-z0-9._/-] without ".."').default('build-result.env'),
  STORAGE_DRIVER: z.enum(['vfs', 'overlay'], { error: (i) => `STORAGE_DRIVER ${quoteUntrusted(i.input)} is not vfs or overlay` }).default('vfs'),
};

const dtkEnvSchema = z.object({
  ...common,
  RHEL_VERSION: pattern('RHEL_VERSION', RHEL_VERSION_PATTERN, 'a RHEL version like 9.4 (or 9 when the kernel has no minor)'),
  UBI_IMAGE: pullSpec('UBI_IMAGE', true),
  RT_KERNEL: z
    .string()
    .refine((v) => parseKernel(v)?.flavour === 'rt', { error: (i) => `RT_KERNEL ${quoteUntrusted(i.input)} is not a real-time kernel version` })
    .optional(),
  SOURCE_URL: pattern('SOURCE_URL', SOURCE_URL_PATTERN, 'an https URL').optional(),
  SOURCE_REVISION: pattern('SOURCE_REVISION', SOURCE_REVISION_PATTERN, 'a git commit (7 to 64 lowercase hex)').optional(),
  RHSM_ORG_FILE: pattern('RHSM_ORG_FILE', ABSOLUTE_PATH_PATTERN, 'an absolute path of [A-Za-z0-9._/-]'),
  RHSM_KEY_FILE: pattern('RHSM_KEY_FILE', ABSOLUTE_PATH_PATTERN, 'an absolute path of [A-Za-z0-9._/-]'),
});

const buildArgsJson = z
  .string()
  .default('{}')
  .transform((s, ctx): Record<string, string> => {
    let json: unknown;
    try {
      json = JSON.parse(s);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'BUILD_ARGS_JSON is not valid JSON (expected an object of string values)' });
      return z.NEVER;
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      ctx.addIssue({ code: 'custom', message: 'BUILD_ARGS_JSON must be a JSON object of string values' });
      return z.NEVER;
    }
    const entries = Object.entries(json);
    if (entries.length > MAX_BUILD_ARGS) {
      ctx.addIssue({ code: 'custom', message: `BUILD_ARGS_JSON has ${entries.length} entries; at most ${MAX_BUILD_ARGS} are allowed` });
      return z.NEVER;
    }
    for (const [key, value] of entries) {
      if (!BUILD_ARG_KEY_PATTERN.test(key)) {
        ctx.addIssue({ code: 'custom', message: `BUILD_ARGS_JSON key ${quoteUntrusted(key)} is not a build-arg name ([A-Za-z_][A-Za-z0-9_]{0,63})` });
      } else if ((KMM_BUILD_ARGS as readonly string[]).includes(key)) {
        ctx.addIssue({ code: 'custom', message: `BUILD_ARGS_JSON may not set ${key}: the build sets KMM's ${KMM_BUILD_ARGS.join(', ')} itself` });
      } else if (typeof value !== 'string' || !BUILD_ARG_VALUE_PATTERN.test(value)) {
        ctx.addIssue({
          code: 'custom',
          message: `BUILD_ARGS_JSON value of ${key} ${quoteUntrusted(value)} must be a string of [A-Za-z0-9._:/@+=,-], at most 256 characters`,
        });
      }
    }
    return Object.fromEntries(entries) as Record<string, string>;
  });

const driverEnvSchema = z.object({
  ...common,
  /** Pull-only docker config: the only credentials the image build (partner code) is given. */
  PULL_AUTH_FILE: pattern('PULL_AUTH_FILE', ABSOLUTE_PATH_PATTERN, 'an absolute path of [A-Za-z0-9._/-]').optional(),
  DRIVER_NAME: pattern('DRIVER_NAME', DRIVER_NAME_PATTERN, 'a driver name ([a-z0-9][a-z0-9-]{0,62})'),
  MOD_NAME: pattern('MOD_NAME', MOD_NAME_PATTERN, 'a kernel module name ([A-Za-z0-9_][A-Za-z0-9_-]{0,63})'),
  DRIVER_SOURCE: z.string({ error: 'DRIVER_SOURCE is required ("inline" or an https git URL)' }).refine((s) => s === 'inline' || GIT_URL_PATTERN.test(s), {
    error: (i) => `DRIVER_SOURCE ${quoteUntrusted(i.input)} is neither "inline" nor an https git URL without credentials`,
  }),
  DRIVER_REF: pattern('DRIVER_REF', GIT_REF_PATTERN, 'a git branch, tag or commit').optional(),
  DRIVER_CONTEXT_DIR: pattern('DRIVER_CONTEXT_DIR', PATH_PATTERN, 'a path of [A-Za-z0-9._/-] without ".."').optional(),
  DRIVER_CONTAINERFILE: pattern('DRIVER_CONTAINERFILE', RELATIVE_PATH_PATTERN, 'a relative path of [A-Za-z0-9._/-] without ".."').optional(),
  DTK_IMAGE: pullSpec('DTK_IMAGE', false),
  TAG_TEMPLATE: z
    .string()
    .default(DEFAULT_TAG_TEMPLATE)
    .transform((s, ctx) => {
      try {
        return validateTagTemplate(s);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `TAG_TEMPLATE: ${(err as Error).message}` });
        return z.NEVER;
      }
    }),
  BUILD_ARGS_JSON: buildArgsJson,
});

const joinEnvSchema = z.object({
  TARGET_IMAGE: targetImage,
  TARGET_TAG: pattern('TARGET_TAG', TAG_PATTERN, 'an image tag'),
  ARCH_TAGS: pattern('ARCH_TAGS', ARCH_TAGS_PATTERN, 'x86_64=TAG,aarch64=TAG'),
  REGISTRY_AUTH_FILE: common.REGISTRY_AUTH_FILE,
  RESULT_FILE: common.RESULT_FILE,
});

// ---------------------------------------------------------------------------
// Parsed parameters

interface CommonParams {
  readonly kernel: BuildKernel;
  readonly arch: BuildArch;
  readonly target: ImageRef;
  readonly rebuild: boolean;
  readonly registryAuthFile?: string;
  readonly resultFile: string;
  readonly storageDriver: 'vfs' | 'overlay';
}

export interface DtkBuildParams extends CommonParams {
  readonly kind: 'dtk';
  readonly rhel: RhelVersion;
  readonly ubiImage: ImageRef;
  readonly rtKernel?: string;
  readonly sourceUrl?: string;
  readonly sourceRevision?: string;
  readonly rhsmOrgFile: string;
  readonly rhsmKeyFile: string;
}

export interface DriverBuildParams extends CommonParams {
  readonly kind: 'driver';
  readonly driverName: string;
  readonly modName: string;
  /** `inline`, or an https git URL. */
  readonly source: string;
  readonly ref?: string;
  /** inline: the build context on the build machine; git: a subdirectory of the clone (default `.`). */
  readonly contextDir: string;
  /** Relative to the context. @default - Containerfile, else Dockerfile */
  readonly containerfile?: string;
  readonly dtkImage: ImageRef;
  readonly tagTemplate: string;
  readonly buildArgs: Readonly<Record<string, string>>;
}

export interface JoinParams {
  readonly kind: 'join';
  readonly target: ImageRef;
  readonly tag: string;
  readonly archTags: Readonly<Partial<Record<BuildArch, string>>>;
  readonly registryAuthFile?: string;
  readonly resultFile: string;
}

export type BuildParams = DtkBuildParams | DriverBuildParams | JoinParams;

/** A build environment that breaks the contract. The message is one line naming the variable. */
export class BuildEnvError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(message.replace(/[\r\n]+/g, ' '));
    this.name = 'BuildEnvError';
    this.variable = variable;
  }
}

export interface ParseBuildEnvOptions {
  /** `uname -m` of the build machine; the kernel's arch must match unless ALLOW_CROSS_ARCH=true. @default - not checked */
  readonly machineArch?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const ENV_KEYS: Readonly<Record<BuildKind, readonly string[]>> = {
  dtk: Object.keys(dtkEnvSchema.shape),
  driver: Object.keys(driverEnvSchema.shape),
  join: Object.keys(joinEnvSchema.shape),
};

/** The environment variables each build kind reads. */
export function buildEnvKeys(kind: BuildKind): readonly string[] {
  return ENV_KEYS[kind];
}

function pick(kind: BuildKind, env: Env): Record<string, string | undefined> {
  return Object.fromEntries(ENV_KEYS[kind].map((k) => [k, env[k] === '' ? undefined : env[k]]));
}

function fail(error: z.ZodError): never {
  const issue = error.issues[0];
  const variable = String(issue?.path[0] ?? 'environment');
  const message = issue?.message ?? 'invalid build environment';
  throw new BuildEnvError(variable, message.startsWith(variable) ? message : `${variable}: ${message}`);
}

function kernelAndArch(raw: { KERNEL: string; ARCH: BuildArch; ALLOW_TEST_KERNELS: boolean; ALLOW_CROSS_ARCH: boolean }, options: ParseBuildEnvOptions): BuildKernel {
  let kernel: BuildKernel;
  try {
    kernel = parseBuildKernel(raw.KERNEL, { allowTestKernels: raw.ALLOW_TEST_KERNELS });
  } catch (err) {
    throw new BuildEnvError('KERNEL', `KERNEL ${(err as Error).message}`);
  }
  if (kernel.arch !== raw.ARCH) throw new BuildEnvError('ARCH', `ARCH ${raw.ARCH} does not match the arch of KERNEL ${kernel.full} (${kernel.arch})`);
  if (options.machineArch !== undefined && options.machineArch !== raw.ARCH && !raw.ALLOW_CROSS_ARCH) {
    throw new BuildEnvError(
      'ARCH',
      `ARCH ${raw.ARCH} is not this machine's arch (${quoteUntrusted(options.machineArch)}): builds are native; ALLOW_CROSS_ARCH=true is for tests only`,
    );
  }
  return kernel;
}

/** What every per-arch build shares, from its validated environment. */
function commonParams(
  raw: { KERNEL: string; ARCH: BuildArch; ALLOW_TEST_KERNELS: boolean; ALLOW_CROSS_ARCH: boolean; TARGET_IMAGE: ImageRef; REBUILD: boolean; REGISTRY_AUTH_FILE?: string | undefined; RESULT_FILE: string; STORAGE_DRIVER: 'vfs' | 'overlay' },
  options: ParseBuildEnvOptions,
): CommonParams {
  return {
    kernel: kernelAndArch(raw, options),
    arch: raw.ARCH,
    target: raw.TARGET_IMAGE,
    rebuild: raw.REBUILD,
    ...(raw.REGISTRY_AUTH_FILE === undefined ? {} : { registryAuthFile: raw.REGISTRY_AUTH_FILE }),
    resultFile: raw.RESULT_FILE,
    storageDriver: raw.STORAGE_DRIVER,
  };
}

/**
 * `DTK_BASE=centos-stream`: the DTK of a CentOS Stream kernel (OKD's `stream-coreos`).
 * Such a DTK is built FROM a CentOS Stream image with CentOS Stream's own
 * repositories (no UBI, no RHSM; older kernels only in the CentOS vault). The build
 * scripts do not do that yet, so such a build is refused here with that reason and
 * recorded as failed, never attempted on a UBI base it cannot work on.
 */
export const CENTOS_STREAM_DTK_BASE = 'centos-stream';

export function parseDtkBuildEnv(env: Env, options: ParseBuildEnvOptions = {}): DtkBuildParams {
  if (env['DTK_BASE'] === CENTOS_STREAM_DTK_BASE) {
    throw new BuildEnvError(
      'DTK_BASE',
      `KERNEL ${quoteUntrusted(env['KERNEL'])} is a CentOS Stream kernel (OKD): its DTK needs a CentOS Stream base and repositories, not UBI and RHSM; this project does not build it yet`,
    );
  }
  const parsed = dtkEnvSchema.safeParse(pick('dtk', env));
  if (!parsed.success) fail(parsed.error);
  const raw = parsed.data;
  const common = commonParams(raw, options);
  const { kernel } = common;
  if (kernel.test) throw new BuildEnvError('KERNEL', `KERNEL ${kernel.full} is a test kernel: DTK images are built for RHEL kernels only`);
  if (kernel.flavour !== 'base') {
    throw new BuildEnvError('KERNEL', `KERNEL ${kernel.full} is a ${kernel.flavour} kernel: a DTK is built for the base kernel (it carries the RT/64k packages)`);
  }
  const m = RHEL_VERSION_PATTERN.exec(raw.RHEL_VERSION);
  const rhel: RhelVersion = { major: Number(m?.[1]), ...(m?.[2] === undefined ? {} : { minor: Number(m[2]) }) };
  if (kernel.rhel?.major !== rhel.major || (kernel.rhel.minor !== undefined && kernel.rhel.minor !== rhel.minor)) {
    throw new BuildEnvError('RHEL_VERSION', `RHEL_VERSION ${raw.RHEL_VERSION} does not match KERNEL ${kernel.full}`);
  }
  if (!raw.UBI_IMAGE.repository.split('/').includes(`ubi${rhel.major}`)) {
    throw new BuildEnvError('UBI_IMAGE', `UBI_IMAGE repository ${raw.UBI_IMAGE.repository} is not a ubi${rhel.major} image (RHEL_VERSION ${raw.RHEL_VERSION})`);
  }
  if (raw.RT_KERNEL !== undefined && raw.ARCH !== 'x86_64') throw new BuildEnvError('RT_KERNEL', 'RT_KERNEL is for x86_64 builds only');
  return {
    kind: 'dtk',
    ...common,
    rhel,
    ubiImage: raw.UBI_IMAGE,
    ...(raw.RT_KERNEL === undefined ? {} : { rtKernel: raw.RT_KERNEL }),
    ...(raw.SOURCE_URL === undefined ? {} : { sourceUrl: raw.SOURCE_URL }),
    ...(raw.SOURCE_REVISION === undefined ? {} : { sourceRevision: raw.SOURCE_REVISION }),
    rhsmOrgFile: raw.RHSM_ORG_FILE,
    rhsmKeyFile: raw.RHSM_KEY_FILE,
  };
}

export function parseDriverBuildEnv(env: Env, options: ParseBuildEnvOptions = {}): DriverBuildParams {
  const parsed = driverEnvSchema.safeParse(pick('driver', env));
  if (!parsed.success) fail(parsed.error);
  const raw = parsed.data;
  const common = commonParams(raw, options);
  const inline = raw.DRIVER_SOURCE === 'inline';
  if (inline && raw.DRIVER_CONTEXT_DIR === undefined) {
    throw new BuildEnvError('DRIVER_CONTEXT_DIR', 'DRIVER_CONTEXT_DIR is required when DRIVER_SOURCE=inline (the build context directory)');
  }
  if (!inline && raw.DRIVER_REF === undefined) throw new BuildEnvError('DRIVER_REF', 'DRIVER_REF is required for a git DRIVER_SOURCE (branch, tag or commit)');
  if (!inline && raw.DRIVER_CONTEXT_DIR !== undefined && !RELATIVE_PATH_PATTERN.test(raw.DRIVER_CONTEXT_DIR)) {
    throw new BuildEnvError('DRIVER_CONTEXT_DIR', 'DRIVER_CONTEXT_DIR must be a relative path inside the repository for a git DRIVER_SOURCE');
  }
  return {
    kind: 'driver',
    ...common,
    driverName: raw.DRIVER_NAME,
    modName: raw.MOD_NAME,
    source: raw.DRIVER_SOURCE,
    ...(raw.DRIVER_REF === undefined ? {} : { ref: raw.DRIVER_REF }),
    contextDir: raw.DRIVER_CONTEXT_DIR ?? '.',
    ...(raw.DRIVER_CONTAINERFILE === undefined ? {} : { containerfile: raw.DRIVER_CONTAINERFILE }),
    dtkImage: raw.DTK_IMAGE,
    tagTemplate: raw.TAG_TEMPLATE,
    buildArgs: raw.BUILD_ARGS_JSON,
  };
}

export function parseJoinEnv(env: Env): JoinParams {
  const parsed = joinEnvSchema.safeParse(pick('join', env));
  if (!parsed.success) fail(parsed.error);
  const raw = parsed.data;
  const archTags: Partial<Record<BuildArch, string>> = {};
  for (const pair of raw.ARCH_TAGS.split(',')) {
    const [a, tag] = pair.split('=') as [BuildArch, string];
    if (archTags[a] !== undefined) throw new BuildEnvError('ARCH_TAGS', `ARCH_TAGS names ${a} twice`);
    archTags[a] = tag;
  }
  return {
    kind: 'join',
    target: raw.TARGET_IMAGE,
    tag: raw.TARGET_TAG,
    archTags,
    ...(raw.REGISTRY_AUTH_FILE === undefined ? {} : { registryAuthFile: raw.REGISTRY_AUTH_FILE }),
    resultFile: raw.RESULT_FILE,
  };
}

/** Validates the environment of one build kind; throws BuildEnvError (one line, naming the variable). */
export function parseBuildEnv(kind: BuildKind, env: Env, options: ParseBuildEnvOptions = {}): BuildParams {
  switch (kind) {
    case 'dtk':
      return parseDtkBuildEnv(env, options);
    case 'driver':
      return parseDriverBuildEnv(env, options);
    case 'join':
      return parseJoinEnv(env);
  }
}

/** Validates the content of the RHSM secret files (read by the caller). Messages never include the values. */
export function validateRhsmSecrets(org: string, key: string): { readonly org: string; readonly key: string } {
  const o = org.trim();
  const k = key.trim();
  if (!RHSM_ORG_PATTERN.test(o)) throw new BuildEnvError('RHSM_ORG_FILE', 'RHSM_ORG_FILE does not hold an organisation ID (digits only)');
  if (!RHSM_KEY_PATTERN.test(k)) throw new BuildEnvError('RHSM_KEY_FILE', 'RHSM_KEY_FILE does not hold an activation key name ([A-Za-z0-9._-], 1 to 255)');
  return { org: o, key: k };
}
