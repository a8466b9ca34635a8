/**
 * Partner drivers: what to build for every kernel they match. Declared in the
 * deploy config, or added and changed at run time with `dtk-pipeline driver`
 * (stored in the table); both are validated by the same schema.
 */
import * as z from 'zod';
import type { KernelArch } from '#core/arch.ts';
import { parseKernel } from '#core/kernel.ts';
import { BUILD_ARCHES, BUILD_ARG_KEY_PATTERN, BUILD_ARG_VALUE_PATTERN, DRIVER_NAME_PATTERN, GIT_REF_PATTERN, GIT_URL_PATTERN, MOD_NAME_PATTERN } from '#core/builds/params.ts';
import { DEFAULT_TAG_TEMPLATE, validateTagTemplate } from '#core/builds/tags.ts';
import { parseOpenShiftVersion } from '#core/versions.ts';

/** `stable-4.18`, `candidate-*`, `*-4.18`: `*` matches any run of characters. */
const CHANNEL_GLOB = /^[a-z0-9*][a-z0-9.*-]{0,63}$/;
const REPOSITORY = /^[a-z0-9]+(?:[.-][a-z0-9]+)*(?::\d{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$/;

export const driverSchema = z.object({
  name: z.string().regex(DRIVER_NAME_PATTERN, { error: (i) => `driver name ${JSON.stringify(i.input)} must be lowercase letters, digits and dashes` }),
  /** The kernel module's name (KMM's MOD_NAME). @default the driver name with `-` → `_` */
  moduleName: z.string().regex(MOD_NAME_PATTERN).optional(),
  source: z.discriminatedUnion('type', [
    z.object({
      type: z.literal('git'),
      url: z.string().regex(GIT_URL_PATTERN, { error: (i) => `source.url ${JSON.stringify(i.input)} must be an https git URL` }),
      ref: z.string().regex(GIT_REF_PATTERN, { error: (i) => `source.ref ${JSON.stringify(i.input)} is not a git ref` }),
      /** Path of the Containerfile inside the repository. @default 'Containerfile' */
      containerfile: z.string().regex(/^(?!\/)(?!.*\.\.)[A-Za-z0-9._/-]{1,255}$/).default('Containerfile'),
    }),
    z.object({
      type: z.literal('inline'),
      /** The bundled example driver, or a directory shipped with the build sources. */
      context: z.string().regex(/^(?!\/)(?!.*\.\.)[A-Za-z0-9._/-]{1,255}$/),
    }),
  ]),
  /** Where images go, without tag: `quay.io/partner/gpu-driver`. */
  repository: z.string().regex(REPOSITORY, { error: (i) => `repository ${JSON.stringify(i.input)} must be registry/path without a tag` }),
  /** KMM placeholders: ${KERNEL_FULL_VERSION}, ${KERNEL_X}, ${KERNEL_Y}, ${KERNEL_Z}, ${KERNEL_XYZ}, ${MOD_NAME}. */
  tagTemplate: z
    .string()
    .default(DEFAULT_TAG_TEMPLATE)
    .superRefine((t, ctx) => {
      try {
        validateTagTemplate(t);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `tagTemplate ${JSON.stringify(t)}: ${(error as Error).message}` });
      }
    }),
  arches: z.array(z.enum(BUILD_ARCHES)).min(1).default(['x86_64', 'aarch64']),
  /** Channels whose kernels it is built for; include `candidate-*` to prebuild before GA. */
  channels: z.array(z.string().regex(CHANNEL_GLOB)).min(1).default(['stable-*', 'fast-*', 'eus-*']),
  filters: z
    .object({
      /** Oldest OpenShift minor whose kernels it is built for, e.g. `4.14`. */
      minOpenShift: z.string().regex(/^\d{1,2}\.\d{1,3}$/).optional(),
      /** Also build for the real-time kernel of each release. @default false */
      rt: z.boolean().default(false),
      /** Also build for the 64k-page aarch64 kernel. @default false */
      kernel64k: z.boolean().default(false),
      /** RHEL majors whose kernels it is built for. @default all */
      rhel: z.array(z.enum(['8', '9', '10'])).optional(),
    })
    .default({ rt: false, kernel64k: false }),
  buildArgs: z
    .record(z.string().regex(BUILD_ARG_KEY_PATTERN), z.string().regex(BUILD_ARG_VALUE_PATTERN))
    .default({}),
  /** `release`: the release payload's own DTK (by digest); `project`: this project's DTK image. @default 'release' */
  dtk: z.enum(['release', 'project']).default('release'),
  /**
   * Secure Boot: sign every module with this key before the gate and the push
   * (issue #11). The key is named, never given: a KMS key ARN (RSA) or a Secrets
   * Manager secret holding a PEM key; both must be listed in the deploy config's
   * `signing` so the build may use them. `certificate`: base64 of the key's DER
   * certificate (`dtk-pipeline signing cert`), the one nodes enroll.
   */
  signing: z
    .strictObject({
      kmsKeyArn: z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/, { error: (i) => `signing.kmsKeyArn ${JSON.stringify(i.input)} is not a KMS key ARN` }).optional(),
      keySecretArn: z.string().regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/, { error: (i) => `signing.keySecretArn ${JSON.stringify(i.input)} is not a secret ARN` }).optional(),
      certificate: z.string().regex(/^[A-Za-z0-9+/]{100,4096}={0,2}$/, { error: 'signing.certificate must be the base64 of the DER certificate (`dtk-pipeline signing cert --out FILE.der`, then base64 -w0 FILE.der)' }),
    })
    .refine((s) => (s.kmsKeyArn === undefined) !== (s.keySecretArn === undefined), { error: 'signing names exactly one of kmsKeyArn or keySecretArn' })
    .optional(),
  /** Bumping it rebuilds every kernel (a new driver version). */
  version: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('1'),
});
export type Driver = z.infer<typeof driverSchema>;
export type DriverInput = z.input<typeof driverSchema>;

/** Where a driver in effect came from: the deploy config (as poll-releases wrote it) or `dtk-pipeline driver add`. */
export type DriverOrigin = 'deploy-config' | 'driver-add';

export interface DriverInEffect {
  readonly driver: Driver;
  readonly origin: DriverOrigin;
  /** An added driver named like one the deploy config declares: the added one is used. */
  readonly replacesDeclared: boolean;
}

type DriverSources = { listConfigDrivers(): Promise<Driver[]>; listDrivers(): Promise<Driver[]> };

/**
 * Every partner driver, from the one place they live at run time: the table. The
 * deploy config's drivers are written there by poll-releases (item `DRIVERS`/`CONFIG`),
 * drivers added with `dtk-pipeline driver add` beside them; on a name clash the
 * added one wins. Sorted by name, each with where it came from (`driver list`).
 */
export async function driversInEffect(store: DriverSources): Promise<DriverInEffect[]> {
  const [config, stored] = await Promise.all([store.listConfigDrivers(), store.listDrivers()]);
  const byName = new Map<string, DriverInEffect>(config.map((driver) => [driver.name, { driver, origin: 'deploy-config', replacesDeclared: false }]));
  for (const driver of stored) byName.set(driver.name, { driver, origin: 'driver-add', replacesDeclared: byName.has(driver.name) });
  return [...byName.values()].sort((a, b) => a.driver.name.localeCompare(b.driver.name));
}

/** Every partner driver (see `driversInEffect`): what everything that plans builds or reports coverage reads. */
export async function driversOf(store: DriverSources): Promise<Driver[]> {
  return (await driversInEffect(store)).map((d) => d.driver);
}

export const moduleNameOf = (d: Driver): string => d.moduleName ?? d.name.replace(/-/g, '_');

function globMatch(glob: string, value: string): boolean {
  const re = new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

/** Where a kernel was seen, as the matcher needs it. */
export interface KernelSighting {
  readonly kernel: string;
  readonly arch: KernelArch;
  readonly releases: readonly string[];
  readonly channels: readonly string[];
}

/** Which of a kernel's flavours (base, RT, 64k) a driver is built for; empty when it does not match. */
export function driverKernels(driver: Driver, sighting: KernelSighting & { rtKernel: string | null; kernel64k: string | null }): string[] {
  const kernel = parseKernel(sighting.kernel);
  if (!kernel || !driver.arches.includes(kernel.arch as (typeof driver.arches)[number])) return [];
  if (driver.filters.rhel && !driver.filters.rhel.includes(String(kernel.rhelMajor) as '8' | '9' | '10')) return [];
  if (!sighting.channels.some((c) => driver.channels.some((g) => globMatch(g, c)))) return [];
  const min = driver.filters.minOpenShift ? parseOpenShiftVersion(`${driver.filters.minOpenShift}.0`) : undefined;
  if (min) {
    const newer = sighting.releases.some((r) => {
      const v = parseOpenShiftVersion(r);
      return v !== undefined && (v.major > min.major || (v.major === min.major && v.minor >= min.minor));
    });
    if (!newer) return [];
  }
  return [
    kernel.full,
    ...(driver.filters.rt && sighting.rtKernel ? [sighting.rtKernel] : []),
    ...(driver.filters.kernel64k && sighting.kernel64k ? [sighting.kernel64k] : []),
  ];
}
