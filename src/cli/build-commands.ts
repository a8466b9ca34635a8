/**
 * The `dtk-pipeline` subcommands the build scripts call (scripts/build/*.sh):
 *
 *   validate-build-env --kind dtk|driver|join [--write-context DIR]
 *       validates the build's environment (src/core/builds/params.ts) and prints the
 *       derived values as `KEY=value` lines (every value strictly validated, so the
 *       scripts can read them with `read`, never `eval`); for a DTK build it also writes
 *       the package plan into the build context.
 *   image-exists REF      prints the manifest digest, or `absent` (HEAD with auth)
 *   check-modules --kernel K --dir DIR   the vermagic gate
 *   join --image REPO --tag TAG --arch-tag ARCH=TAG…   the multi-arch join
 */
import { readFile, writeFile } from 'node:fs/promises';
import { machine } from 'node:os';
import { join as joinPath } from 'node:path';
import * as z from 'zod';
import { KERNEL_ARCHES, type KernelArch } from '#core/arch.ts';
import { formatRhelVersion, planDtk, renderReleaseFile } from '#core/builds/dtk-packages.ts';
import { joinImages, type JoinResult } from '#core/builds/join.ts';
import {
  BUILD_KINDS,
  BuildEnvError,
  parseBuildEnv,
  validateRhsmSecrets,
  type DriverBuildParams,
  type DtkBuildParams,
  type JoinParams,
} from '#core/builds/params.ts';
import { multiArchTag, perArchTag, renderTagTemplate, TAG_PATTERN } from '#core/builds/tags.ts';
import { checkModules } from '#core/builds/vermagic.ts';
import { readCertificate } from '#core/signing/certificate.ts';
import { checkModuleSignatures } from '#core/signing/module-signature.ts';
import { isLoopbackHost, RegistryClient } from '#core/registry/client.ts';
import { loadDockerConfig } from '#core/registry/credentials.ts';
import { formatImageReference, parseImageReference } from '#core/registry/reference.ts';
import type { ImageRef } from '#core/registry/types.ts';
import { choosePullSecret } from './pull-secret.ts';
import type { CommandIo } from './scan-command.ts';

/** Exit code of `join` when an arch is still missing (BUILD_RESULT=incomplete). */
export const EXIT_INCOMPLETE = 3;

type Line = readonly [key: string, value: string];

function tlsVerify(ref: ImageRef): string {
  return isLoopbackHost(ref.registry) ? 'false' : 'true';
}

function withTag(ref: ImageRef, tag: string): ImageRef {
  return { registry: ref.registry, repository: ref.repository, tag };
}

function commonLines(p: DtkBuildParams | DriverBuildParams, tag: string): Line[] {
  return [
    ['KERNEL', p.kernel.full],
    ['ARCH', p.arch],
    ['TARGET_TAG', tag],
    ['TARGET_REF', formatImageReference(withTag(p.target, tag))],
    ['TARGET_TLS_VERIFY', tlsVerify(p.target)],
    ['REBUILD', String(p.rebuild)],
    ['RESULT_FILE', p.resultFile],
    ['STORAGE_DRIVER', p.storageDriver],
  ];
}

function dtkLines(p: DtkBuildParams): Line[] {
  const tag = perArchTag(p.kernel);
  const plan = planDtk({ kernel: p.kernel, rhel: p.rhel, ...(p.rtKernel === undefined ? {} : { rtKernel: p.rtKernel }) });
  const labels: Line[] = [
    ['org.opencontainers.image.title', 'driver-toolkit'],
    ['org.opencontainers.image.version', p.kernel.full],
    ['org.opencontainers.image.base.name', formatImageReference(p.ubiImage)],
    ['org.opencontainers.image.base.digest', p.ubiImage.digest ?? ''],
    ['io.openshift.driver-toolkit.kernel', p.kernel.full],
    ['io.openshift.driver-toolkit.rhel-version', formatRhelVersion(p.rhel)],
    ...(plan.rtKernel === undefined ? [] : [['io.openshift.driver-toolkit.rt-kernel', plan.rtKernel] as const]),
    ...(plan.kernel64k === undefined ? [] : [['io.openshift.driver-toolkit.64k-kernel', plan.kernel64k] as const]),
    ...(p.sourceUrl === undefined ? [] : [['org.opencontainers.image.source', p.sourceUrl] as const]),
    ...(p.sourceRevision === undefined ? [] : [['org.opencontainers.image.revision', p.sourceRevision] as const]),
  ];
  return [
    ...commonLines(p, tag),
    ...(p.kernel.flavour === 'base' ? [['MULTI_ARCH_TAG', multiArchTag(p.kernel)] as const] : []),
    ['RHEL_VERSION', formatRhelVersion(p.rhel)],
    ['RHEL_MAJOR', String(p.rhel.major)],
    ['UBI_IMAGE', formatImageReference(p.ubiImage)],
    ['UBI_TLS_VERIFY', tlsVerify(p.ubiImage)],
    ['RHSM_ORG_FILE', p.rhsmOrgFile],
    ['RHSM_KEY_FILE', p.rhsmKeyFile],
    ...labels.map(([k, v]): Line => ['LABEL', `${k}=${v}`]),
  ];
}

function driverLines(p: DriverBuildParams): Line[] {
  const values = { kernel: p.kernel, modName: p.modName };
  const tag = renderTagTemplate(p.tagTemplate, values);
  const multi = p.kernel.flavour === 'base' ? renderTagTemplate(p.tagTemplate, values, { multiArch: true }) : undefined;
  const dtk = formatImageReference(p.dtkImage);
  const kmmArgs: Line[] = [
    ['DTK_AUTO', dtk],
    ['KERNEL_FULL_VERSION', p.kernel.full],
    ['KERNEL_VERSION', p.kernel.full],
    ['MOD_NAME', p.modName],
  ];
  return [
    ...commonLines(p, tag),
    ...(multi === undefined ? [] : [['MULTI_ARCH_TAG', multi] as const]),
    ['DRIVER_NAME', p.driverName],
    ['MOD_NAME', p.modName],
    ['SOURCE', p.source === 'inline' ? 'inline' : 'git'],
    ...(p.source === 'inline' ? [] : [['GIT_URL', p.source] as const]),
    ...(p.ref === undefined ? [] : [['GIT_REF', p.ref] as const]),
    ['CONTEXT_DIR', p.contextDir],
    ...(p.containerfile === undefined ? [] : [['CONTAINERFILE', p.containerfile] as const]),
    ['DTK_IMAGE', dtk],
    ['DTK_TLS_VERIFY', tlsVerify(p.dtkImage)],
    ...[...kmmArgs, ...Object.entries(p.buildArgs)].map(([k, v]): Line => ['BUILD_ARG', `${k}=${v}`]),
    ['LABEL', `org.opencontainers.image.title=${p.driverName}`],
    ['LABEL', `org.opencontainers.image.version=${p.kernel.full}`],
    ['LABEL', `io.openshift.driver-toolkit.kernel=${p.kernel.full}`],
    ['LABEL', `io.openshift.driver-toolkit.base=${dtk}`],
    ...(p.ref === undefined ? [] : [['LABEL', `org.opencontainers.image.revision=${p.ref}`] as const]),
    ...(p.source === 'inline' ? [] : [['LABEL', `org.opencontainers.image.source=${p.source}`] as const]),
  ];
}

function joinLines(p: JoinParams): Line[] {
  return [
    ['TARGET_IMAGE', formatImageReference(p.target)],
    ['TARGET_TAG', p.tag],
    ...Object.entries(p.archTags).map(([a, t]): Line => ['ARCH_TAG', `${a}=${t}`]),
    ['RESULT_FILE', p.resultFile],
  ];
}

/** Writes the DTK build plan files into the build context. */
async function writeDtkContext(p: DtkBuildParams, dir: string): Promise<void> {
  const plan = planDtk({ kernel: p.kernel, rhel: p.rhel, ...(p.rtKernel === undefined ? {} : { rtKernel: p.rtKernel }) });
  const lines = (items: readonly string[]): string => (items.length === 0 ? '' : `${items.join('\n')}\n`);
  await writeFile(joinPath(dir, 'packages.txt'), lines(plan.packages));
  await writeFile(joinPath(dir, 'repos-required.txt'), lines(plan.requiredRepos));
  await writeFile(joinPath(dir, 'repos-optional.txt'), lines(plan.optionalRepos));
  await writeFile(joinPath(dir, 'driver-toolkit-release.json'), renderReleaseFile(plan.releaseFile));
}

async function readSecretFile(path: string, variable: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new BuildEnvError(variable, `${variable} ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export const validateFlagsSchema = z.object({
  kind: z.enum(BUILD_KINDS, { error: (i) => `--kind ${JSON.stringify(i.input)} is not one of ${BUILD_KINDS.join(', ')}` }),
  writeContext: z.string().min(1).optional(),
});

export async function runValidateBuildEnv(flags: z.infer<typeof validateFlagsSchema>, io: CommandIo): Promise<number> {
  try {
    const params = parseBuildEnv(flags.kind, io.env, { machineArch: machine() });
    if (params.registryAuthFile !== undefined) await loadDockerConfig(params.registryAuthFile);
    let lines: Line[];
    if (params.kind === 'dtk') {
      validateRhsmSecrets(await readSecretFile(params.rhsmOrgFile, 'RHSM_ORG_FILE'), await readSecretFile(params.rhsmKeyFile, 'RHSM_KEY_FILE'));
      lines = dtkLines(params);
      if (flags.writeContext !== undefined) await writeDtkContext(params, flags.writeContext);
    } else if (params.kind === 'driver') {
      lines = driverLines(params);
    } else {
      lines = joinLines(params);
    }
    for (const [k, v] of lines) {
      if (/[\r\n]/.test(v)) throw new Error(`internal: derived ${k} holds a newline`);
      io.stdout.write(`${k}=${v}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof BuildEnvError) {
      io.stderr.write(`invalid build environment: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

/**
 * The registry client of the build commands (`image-exists`, `join`), which act on the
 * build's own target, named by the operator. That target's registry may be contacted,
 * plus `ALLOWED_REGISTRIES` (e.g. its token service on another host). Plain http only
 * for `--insecure-registry` and `INSECURE_REGISTRIES` (comma-separated HOST[:PORT], the
 * local build runner and tests set it), never implicitly.
 */
async function registryClient(
  pullSecretFlag: string | undefined,
  insecure: readonly string[],
  target: ImageRef,
  io: CommandIo,
): Promise<RegistryClient> {
  const pullSecret = await choosePullSecret(pullSecretFlag, io.env);
  const list = (name: string): string[] => (io.env[name] ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '');
  return new RegistryClient({
    ...(pullSecret.config ? { credentials: pullSecret.config } : {}),
    insecureRegistries: [...insecure, ...list('INSECURE_REGISTRIES')],
    allowedRegistries: [target.registry, ...list('ALLOWED_REGISTRIES')],
    userAgent: 'dtk-pipeline',
  });
}

export async function runImageExists(reference: string, flags: { pullSecret?: string; insecureRegistry: readonly string[] }, io: CommandIo): Promise<number> {
  const ref = parseImageReference(reference);
  const client = await registryClient(flags.pullSecret, flags.insecureRegistry, ref, io);
  try {
    const found = await client.describeManifest(ref);
    io.stdout.write(`${found === undefined ? 'absent' : found.digest}\n`);
    return 0;
  } finally {
    await client.close();
  }
}

export async function runCheckModules(flags: { kernel: string; dir: string; signedBy?: string }, io: CommandIo): Promise<number> {
  const modules = await checkModules(flags.dir, flags.kernel);
  const cert = flags.signedBy === undefined ? undefined : readCertificate(await readFile(flags.signedBy), flags.signedBy);
  if (cert !== undefined) await checkModuleSignatures(flags.dir, cert.der);
  for (const m of modules) io.stdout.write(`ok ${m.path}: vermagic ${JSON.stringify(m.vermagic)}${cert ? `, signed by certificate SHA256 ${cert.fingerprint}` : ''}\n`);
  return 0;
}

const ARCH_TAG = /^(x86_64|aarch64|s390x|ppc64le)=(.+)$/;

export const joinFlagsSchema = z.object({
  image: z.string({ error: '--image REPO is required' }).transform((s, ctx) => {
    try {
      const ref = parseImageReference(s);
      if (ref.tag !== undefined || ref.digest !== undefined) throw new Error('--image must not carry a tag or digest');
      return ref;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  }),
  tag: z.string({ error: '--tag TAG is required' }).regex(TAG_PATTERN, { error: (i) => `--tag ${JSON.stringify(i.input)} is not an image tag` }),
  archTag: z
    .array(z.string().regex(ARCH_TAG, { error: (i) => `--arch-tag ${JSON.stringify(i.input)} is not ARCH=TAG (ARCH: ${KERNEL_ARCHES.join(', ')})` }))
    .min(1, { error: 'give --arch-tag ARCH=TAG for every arch, e.g. --arch-tag x86_64=TAG1 --arch-tag aarch64=TAG2' }),
  pullSecret: z.string().min(1).optional(),
  insecureRegistry: z.array(z.string()).default([]),
});

export function formatJoinResult(result: JoinResult): string {
  const build = result.status === 'pushed' ? 'pushed' : result.status === 'unchanged' ? 'skipped-exists' : 'incomplete';
  return `BUILD_RESULT=${build}\n${result.status === 'incomplete' ? '' : `IMAGE_DIGEST=${result.digest}\n`}`;
}

export async function runJoin(flags: z.infer<typeof joinFlagsSchema>, io: CommandIo): Promise<number> {
  const archTags: Partial<Record<KernelArch, string>> = {};
  for (const pair of flags.archTag) {
    const m = ARCH_TAG.exec(pair);
    const arch = m?.[1] as KernelArch;
    if (archTags[arch] !== undefined) throw new Error(`--arch-tag names ${arch} twice`);
    archTags[arch] = m?.[2] ?? '';
  }
  const client = await registryClient(flags.pullSecret, flags.insecureRegistry, flags.image, io);
  const started = Date.now();
  try {
    const result = await joinImages(client, { repository: flags.image, tag: flags.tag, archTags });
    if (result.status === 'incomplete') {
      io.stderr.write(`join: ${result.reference} not pushed: no image yet for ${result.missing.join(', ')}\n`);
    } else {
      const arches = result.entries.map((e) => `${e.arch}=${e.descriptor.digest}`).join(' ');
      io.stderr.write(
        `join: ${result.reference} ${result.status === 'pushed' ? 'pushed' : 'already up to date'} (${result.mediaType}, ${result.size} bytes; ${arches}) in ${Date.now() - started} ms, ${client.stats.requests} registry requests\n`,
      );
    }
    io.stdout.write(formatJoinResult(result));
    return result.status === 'incomplete' ? EXIT_INCOMPLETE : 0;
  } finally {
    await client.close();
  }
}
