/**
 * What the local CodeBuild stand-in can build for real, and the reason it gives
 * for every build it cannot. It runs the project's own build scripts
 * (`scripts/build/*.sh`, as the buildspecs do) against the local registry:
 *
 * - `join`: runs `join.sh` when every per-arch image it joins exists in the
 *   registry; otherwise there is nothing to join and the build is simulated.
 * - `driver`: runs `build-driver.sh` when the build's arch is this machine's
 *   (builds are native, never emulated), buildah is installed, and the DTK image
 *   it builds FROM holds the kernel's headers (`/usr/src/kernels/<kernel>`), as
 *   the stand-in DTK of the build tests does. The offline world's DTK images hold
 *   the release file and a placeholder Makefile, so their driver builds are simulated.
 * - `dtk`: never. A DTK image is built from UBI with a Red Hat subscription
 *   (RHSM), which cannot be reached offline: a DTK build is always simulated.
 *
 * A simulated build ends `BUILD_RESULT=simulated` with its reason and no digest;
 * real builds run one at a time by default, so `npm run local` stays quick.
 *
 * A real build's script gets its build's environment (the project's variables from
 * the template, StartBuild's overrides) the way the buildspecs pass it: the
 * SECRETS_MANAGER variables PULL_SECRET and PUSH_SECRET are written to auth files by
 * `write-secrets.sh` (REGISTRY_AUTH_FILE, PULL_AUTH_FILE) and removed from the
 * script's environment; ARCH defaults to the project's BUILD_ARCH.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { goArchOf, type KernelArch } from '#core/arch.ts';
import { parseImageReference } from '#core/registry/reference.ts';
import type { Descriptor, ImageRef, ImageSource } from '#core/registry/types.ts';
import type { BuildKind } from '#pipeline/messages.ts';
import type { BuildProjects } from '#pipeline/config.ts';
import { simulate, type BuildExecutor, type BuildOutcome } from './build-runner.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../..');

/** What the executor reads from the registry. */
export type LocalRegistry = Pick<ImageSource, 'getManifest' | 'openBlob'> & { exists(ref: ImageRef): Promise<boolean> };

export interface LocalExecutorOptions {
  /** The build projects, to tell a DTK, driver and join build apart. */
  readonly projects: BuildProjects;
  /** The local registry, with credentials that may pull every image the builds use. */
  readonly registry: LocalRegistry;
  /** Where result files are written. */
  readonly workDir: string;
  /** More environment for the scripts, e.g. `CONTAINERS_STORAGE_CONF`. @default - none */
  readonly scriptEnv?: Readonly<Record<string, string>>;
  /** Real builds running at once. @default 1 */
  readonly maxRealBuilds?: number;
  /** The arch of this machine. @default - from `process.arch` */
  readonly machineArch?: string;
  /** Whether buildah can run here. @default - `buildah --version` succeeds */
  readonly engine?: boolean;
  /** A real build running longer is killed and fails. @default 1200000 (20 min) */
  readonly timeoutMs?: number;
}

export const DTK_NOT_OFFLINE = 'a DTK image is built from UBI with a Red Hat subscription (RHSM), which cannot be reached offline';

function machineArch(): string {
  return process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
}

function kindOf(projects: BuildProjects, project: string): BuildKind | undefined {
  if (Object.values(projects.dtk).includes(project)) return 'dtk';
  if (Object.values(projects.driver).includes(project)) return 'driver';
  if (projects.join === project) return 'join';
  return undefined;
}

/**
 * Whether a DTK image holds the build tree of `kernel`: a generated
 * `include/generated/utsrelease.h` under `/usr/src/kernels/<kernel>` (directly, or
 * through the symlink the stand-in DTK of the build tests has), which kernel-devel
 * and Debian's linux-headers both ship and a placeholder Makefile does not.
 * Hand-rolled over tar-stream because `readLayerFiles` reads named regular files
 * and a symlinked tree must be followed. Whiteouts are not followed: a layer that
 * deletes the tree again is not expected in a DTK.
 */
export async function dtkHasKernelHeaders(registry: LocalRegistry, image: string, arch: KernelArch, kernel: string): Promise<boolean> {
  const ref = parseImageReference(image);
  const resolved = await registry.getManifest(ref, { architecture: goArchOf(arch), os: 'linux' });
  const tree = `usr/src/kernels/${kernel}`;
  const trees = new Set([tree]);
  const headers = new Set<string>();
  for (const layer of [...resolved.manifest.layers].reverse()) {
    await scanLayer(await registry.openBlob(resolved.ref, layer), layer, (name, linkname) => {
      if (name === tree && linkname) trees.add(posix.normalize(linkname.startsWith('/') ? linkname.slice(1) : posix.join('usr/src/kernels', linkname)));
      const m = /^(.*)\/include\/generated\/utsrelease\.h$/.exec(name);
      if (m?.[1]) headers.add(m[1]);
    });
    if ([...trees].some((t) => headers.has(t))) return true;
  }
  return false;
}

/** Calls `seen` with every entry's path (no leading `/`) and, for a symlink, its target. */
async function scanLayer(source: Readable, layer: Descriptor, seen: (name: string, linkname: string | undefined) => void): Promise<void> {
  const tar = extract();
  await new Promise<void>((resolvePromise, reject) => {
    const fail = (error: unknown) => {
      source.destroy();
      tar.destroy();
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    tar.on('entry', (header, stream, next) => {
      seen(header.name.replace(/^\.?\/+/, '').replace(/\/+$/, ''), header.type === 'symlink' ? (header.linkname ?? undefined) : undefined);
      stream.on('end', next);
      stream.resume();
    });
    tar.on('finish', () => resolvePromise());
    tar.on('error', fail);
    source.on('error', fail);
    if (/gzip/.test(layer.mediaType)) {
      const gunzip = createGunzip();
      gunzip.on('error', fail);
      source.pipe(gunzip).pipe(tar);
    } else {
      source.pipe(tar);
    }
  });
}

/** The build variables holding secrets' values: written to files, never passed to a build script. */
const SECRET_VARIABLES = ['PULL_SECRET', 'PUSH_SECRET', 'RHSM_ORG', 'RHSM_ACTIVATION_KEY'];

/** Runs one of scripts/build/*.sh with exactly `env`; resolves with its exit code and output tail. */
function runScript(script: string, env: Record<string, string>, timeoutMs: number, args: readonly string[] = []): Promise<{ code: number; tail: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [join(REPO_ROOT, 'scripts', 'build', script), ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let tail = '';
    child.stderr.on('data', (c: Buffer) => (tail = (tail + c.toString('utf8')).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, tail });
    });
  });
}

async function readResult(file: string): Promise<Record<string, string>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const result: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(BUILD_RESULT|IMAGE_DIGEST)=(.*)$/.exec(line);
    if (m?.[1] && m[2]) result[m[1]] = m[2];
  }
  return result;
}

/** One at a time (or `n`): real builds share two cores with everything else. */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

export function localExecutor(options: LocalExecutorOptions): BuildExecutor {
  const arch = options.machineArch ?? machineArch();
  const engine = options.engine ?? spawnSync('buildah', ['--version'], { stdio: 'ignore' }).status === 0;
  const limit = limiter(options.maxRealBuilds ?? 1);
  const timeoutMs = options.timeoutMs ?? 20 * 60_000;

  const run = (script: string, kind: BuildKind, shellEnv: Readonly<Record<string, string>>): Promise<BuildOutcome> =>
    limit(async () => {
      await mkdir(options.workDir, { recursive: true });
      const resultFile = join(options.workDir, `result-${randomUUID()}.env`);
      const secretsDir = await mkdtemp(join(options.workDir, 'secrets-'));
      const base = { PATH: `${process.env['PATH'] ?? '/usr/bin:/bin'}:/usr/sbin:/sbin`, HOME: process.env['HOME'] ?? '/root' };
      const plain = Object.fromEntries(Object.entries(shellEnv).filter(([name]) => !SECRET_VARIABLES.includes(name)));
      const arch = shellEnv['ARCH'] ?? shellEnv['BUILD_ARCH'];
      const env: Record<string, string> = { ...base, ...options.scriptEnv, ...plain, ...(arch ? { ARCH: arch } : {}), RESULT_FILE: resultFile };
      try {
        if (shellEnv['PULL_SECRET'] !== undefined || shellEnv['PUSH_SECRET'] !== undefined) {
          // As the buildspecs do: the join is given the push credentials only; no RHSM values reach a file here.
          const given = kind === 'join' ? ['PUSH_SECRET'] : ['PULL_SECRET', 'PUSH_SECRET'];
          const secretEnv = Object.fromEntries(given.flatMap((name) => (shellEnv[name] === undefined ? [] : [[name, shellEnv[name]!]])));
          const written = await runScript('write-secrets.sh', { ...base, ...secretEnv }, 60_000, [secretsDir]);
          if (written.code !== 0) return { ok: false, exported: { FAILURE: written.tail.trim().split('\n').slice(-1)[0] ?? `write-secrets.sh exit ${written.code}` } };
          env['REGISTRY_AUTH_FILE'] = join(secretsDir, 'auth.json');
          if (kind === 'driver') env['PULL_AUTH_FILE'] = join(secretsDir, 'pull-auth.json');
        }
        const { code, tail } = await runScript(script, env, timeoutMs);
        const exported = await readResult(resultFile);
        if (code !== 0) return { ok: false, exported: { ...exported, FAILURE: tail.trim().split('\n').slice(-1)[0] ?? `exit ${code}` } };
        return { ok: true, exported };
      } finally {
        await rm(resultFile, { force: true });
        await rm(secretsDir, { recursive: true, force: true });
      }
    });

  return async (build, shellEnv) => {
    const kind = kindOf(options.projects, build.project);
    if (kind === 'dtk') return simulate(DTK_NOT_OFFLINE);
    if (kind === 'join') {
      const repository = build.env['TARGET_IMAGE'] ?? '';
      const tags = (build.env['ARCH_TAGS'] ?? '').split(',').map((pair) => pair.slice(pair.indexOf('=') + 1));
      const missing: string[] = [];
      for (const tag of tags) {
        const image = `${repository}:${tag}`;
        // A registry error is not "missing": the join runs and says what went wrong.
        const exists = await options.registry.exists(parseImageReference(image)).catch(() => true);
        if (!exists) missing.push(image);
      }
      if (missing.length > 0) return simulate(`nothing to join: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in the registry (not built here)`);
      return run('join.sh', 'join', shellEnv);
    }
    if (kind === 'driver') {
      const buildArch = build.env['ARCH'] ?? '';
      const kernel = build.env['KERNEL'] ?? '';
      const dtk = build.env['DTK_IMAGE'] ?? '';
      if (buildArch !== arch) return simulate(`an ${buildArch} build needs a native ${buildArch} builder; this machine is ${arch}`);
      if (!engine) return simulate('buildah is not installed here');
      let headers: boolean;
      try {
        headers = await dtkHasKernelHeaders(options.registry, dtk, buildArch as KernelArch, kernel);
      } catch (error) {
        return simulate(`the DTK image ${dtk} could not be read: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (!headers) return simulate(`the DTK image ${dtk} has no kernel headers in /usr/src/kernels/${kernel}`);
      return run('build-driver.sh', 'driver', shellEnv);
    }
    return simulate(`project ${build.project} is not a build project of this run`);
  };
}
