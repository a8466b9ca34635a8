/**
 * The world the build-script tests run in: buildah with its own vfs storage under
 * `.cache/build-world/`, and three local images made from Debian packages (no registry
 * other than Debian's apt repository is reachable here):
 *
 *   localhost/dtk-test-standin:<key>   stand-in DTK base: Debian bookworm minbase with gcc,
 *                                      make, kmod and the headers of a Debian kernel in the
 *                                      DTK layout (/usr/src/kernels/<kernel>), plus the
 *                                      headers of a second ("cloud") kernel, and
 *                                      /etc/driver-toolkit-release.json
 *   localhost/dtk-test-minimal:<key>   busybox only: the small final base of driver images
 *   localhost/dtk-test-fake-ubi:<key>  minimal + Python + stub subscription-manager (Python, like
 *                                      the real one) / dnf / rpm that behave enough like UBI for
 *                                      images/dtk/install.sh
 *
 * They are built once (debootstrap, about a minute and a half on two cores) and kept,
 * keyed by a hash of this recipe, so later runs start in seconds. A lock directory
 * keeps parallel test files from building them twice.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { RegistryClient } from '#core/registry/client.ts';
import { parseDockerConfig } from '#core/registry/credentials.ts';
import { startRegistry, type RunningRegistry } from '#world/registry-server.ts';

const execFileAsync = promisify(execFile);

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
const CACHE_DIR = join(REPO_ROOT, '.cache', 'build-world');
const SUITE = 'bookworm';
/** Debian packages of the stand-in DTK base. */
const PACKAGES = ['gcc', 'make', 'kmod', 'libc6-dev', 'busybox-static', 'linux-headers-amd64', 'linux-headers-cloud-amd64', 'python3-minimal'];
/** Bump when a recipe below changes in a way the package list or the stubs do not show. */
const RECIPE_VERSION = 3;
const FAKE_UBI_VERSION = 3;

export interface BuildWorld {
  /** Environment for buildah and the build scripts (storage configuration, PATH). */
  readonly env: Readonly<Record<string, string>>;
  /** The stand-in DTK image (local storage). */
  readonly dtkImage: string;
  /** The busybox image. */
  readonly minimalImage: string;
  /** The fake UBI image. */
  readonly fakeUbiImage: string;
  /** The Debian kernel whose headers the stand-in DTK has, e.g. `6.1.0-50-amd64`. */
  readonly kernel: string;
  /** A second kernel with headers in the stand-in (`…-cloud-amd64`): "another kernel". */
  readonly otherKernel: string;
  /** Whether the images came from the cache, and how long getting them took. */
  readonly cached: boolean;
  readonly setupMs: number;
}

export function storageEnv(): Record<string, string> {
  return {
    CONTAINERS_STORAGE_CONF: join(CACHE_DIR, 'storage.conf'),
    PATH: `${process.env['PATH'] ?? '/usr/bin:/bin'}:/usr/sbin:/sbin`,
  };
}

/** Runs buildah with the world's storage; resolves with stdout. */
export async function buildah(args: readonly string[], options: { maxBuffer?: number } = {}): Promise<string> {
  const { stdout } = await execFileAsync('buildah', ['--storage-driver', 'vfs', ...args], {
    env: { ...process.env, ...storageEnv() },
    maxBuffer: options.maxBuffer ?? 64 * 1024 * 1024,
  });
  return stdout;
}

function debianMirror(): string {
  for (const file of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const deb822 = /^URIs:\s*(\S+)/m.exec(text);
    if (deb822?.[1] && !deb822[1].includes('security')) return deb822[1];
    const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text);
    if (oneLine?.[1]) return oneLine[1];
  }
  return 'http://deb.debian.org/debian';
}

async function imageExists(name: string): Promise<boolean> {
  try {
    await buildah(['inspect', '--type', 'image', '--format', '{{.FromImageID}}', name]);
    return true;
  } catch {
    return false;
  }
}

async function imageLabel(name: string, label: string): Promise<string> {
  const out = await buildah(['inspect', '--type', 'image', '--format', `{{index .OCIv1.Config.Labels "${label}"}}`, name]);
  return out.trim();
}

async function run(command: string, args: readonly string[], what: string): Promise<void> {
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...storageEnv() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (chunk: Buffer): void => {
      tail = (tail + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${what} failed (exit ${code}): ${tail}`))));
  });
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = join(CACHE_DIR, 'lock');
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > 20 * 60_000) await rm(lock, { recursive: true, force: true }); // a crashed run's lock
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Commits a directory tree as a single-layer image. */
async function commitTree(root: string, name: string, labels: Readonly<Record<string, string>>): Promise<void> {
  const ctr = (await buildah(['from', '--quiet', 'scratch'])).trim();
  try {
    await buildah(['copy', '--quiet', ctr, `${root}/`, '/']);
    const labelArgs = Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    await buildah(['config', '--env', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--os', 'linux', '--arch', 'amd64', ...labelArgs, ctr]);
    await buildah(['commit', '--quiet', '--format', 'oci', ctr, name]);
  } finally {
    await buildah(['rm', ctr]).catch(() => undefined);
  }
}

/** A busybox-only root file system (static binary from the Debian rootfs). */
async function busyboxTree(debianRoot: string, dir: string): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  for (const d of ['etc', 'tmp', 'usr/bin', 'var/log', 'root']) await mkdir(join(dir, d), { recursive: true });
  await copyFile(join(debianRoot, 'bin', 'busybox'), join(dir, 'bin', 'busybox'));
  await chmod(join(dir, 'bin', 'busybox'), 0o755);
  const { stdout } = await execFileAsync(join(dir, 'bin', 'busybox'), ['--list']);
  for (const applet of stdout.split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox')) {
    await symlink('busybox', join(dir, 'bin', applet)).catch(() => undefined);
  }
  await writeFile(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(dir, 'etc', 'group'), 'root:x:0:\n');
  await chmod(join(dir, 'tmp'), 0o1777);
}

/** Stub UBI tools: enough of subscription-manager, dnf and rpm for images/dtk/install.sh. */
const FAKE_UBI_STUBS: Readonly<Record<string, string>> = {
  'usr/sbin/subscription-manager': `#!/usr/bin/python3
# Test stand-in for subscription-manager, a Python program like the real one: records
# calls in /var/log/fake-rhsm.log ($FAKE_RHSM_LOG). On register it records whether the
# org or key was on its command line (where every process on the build host can read
# it) and sha256(org:key) through sha256sum, never the values, so a test can prove the
# secrets reached the build step while the image holds no secret.
import os, sys
log = os.environ.get('FAKE_RHSM_LOG', '/var/log/fake-rhsm.log')
args = sys.argv[1:]
def record(line):
    with open(log, 'a') as f:
        f.write(line + '\\n')
command = args[0] if args else ''
if command == 'register':
    opts = {}
    i = 1
    while i < len(args):
        if args[i] in ('--org', '--activationkey') and i + 1 < len(args):
            opts[args[i]] = args[i + 1]
            i += 1
        i += 1
    org, key = opts.get('--org', ''), opts.get('--activationkey', '')
    if not org or not key:
        sys.stderr.write('missing org or key\\n')
        sys.exit(64)
    if os.path.exists('/etc/rhsm-host'):
        sys.stderr.write("still using the host's entitlements (/etc/rhsm-host)\\n")
        sys.exit(65)
    with open('/proc/self/cmdline', 'rb') as f:
        cmdline = f.read()
    record('cmdline ' + ('leak' if org.encode() in cmdline or key.encode() in cmdline else 'clean'))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.dup2(r, 0)
        os.dup2(os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644), 1)
        os.execv('/bin/sh', ['sh', '-c', 'printf "register %s\\\\n" "$(sha256sum | cut -d" " -f1)"'])
    os.close(r)
    os.write(w, (org + ':' + key).encode())
    os.close(w)
    os.waitpid(pid, 0)
    for d in ('/etc/pki/consumer', '/etc/pki/entitlement'):
        os.makedirs(d, exist_ok=True)
    with open('/etc/pki/consumer/cert.pem', 'w') as f:
        f.write('consumer certificate\\n')
    with open('/etc/pki/entitlement/1.pem', 'w') as f:
        f.write('entitlement\\n')
    print('The system has been registered with ID: 00000000-0000-0000-0000-000000000000')
elif command == 'unregister':
    for d in ('/etc/pki/consumer', '/etc/pki/entitlement'):
        for name in (os.listdir(d) if os.path.isdir(d) else []):
            os.remove(os.path.join(d, name))
    record('unregister')
elif command == 'clean':
    record('clean')
else:
    record(' '.join(args))
`,
  'usr/bin/dnf': `#!/bin/sh
# Test stand-in for dnf: records "install" package lists in /var/log/fake-dnf.log and
# lays out kernel-core / kernel-devel like the real packages.
log=/var/log/fake-dnf.log
[ -e /etc/pki/entitlement/1.pem ] || { echo "dnf: not entitled" >&2; exit 1; }
install=false
for a in "$@"; do
  if [ "$install" = true ]; then
    echo "install $a" >>"$log"
    case "$a" in
    kernel-core-*)
      v="\${a#kernel-core-}"
      mkdir -p "/lib/modules/$v" /var/lib/fake-rpm
      echo 'CONFIG_CC_VERSION_TEXT="gcc (GCC) 11.4.1 20231218 (Red Hat 11.4.1-3)"' >"/lib/modules/$v/config"
      echo "$v" >/var/lib/fake-rpm/kernel-core ;;
    kernel-devel-[0-9]*)
      v="\${a#kernel-devel-}"
      mkdir -p "/usr/src/kernels/$v" && echo "# kernel build tree" >"/usr/src/kernels/$v/Makefile" ;;
    esac
  fi
  [ "$a" = install ] && install=true
done
[ "$1" = clean ] && echo "clean $*" >>"$log"
exit 0
`,
  'usr/bin/rpm': `#!/bin/sh
# Test stand-in for rpm -q --qf FORMAT kernel-core.
cat /var/lib/fake-rpm/kernel-core 2>/dev/null || { echo "package kernel-core is not installed"; exit 1; }
`,
};

async function buildImages(key: string, names: { dtk: string; minimal: string }): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'build-world-'));
  try {
    const root = join(work, 'debian');
    await run('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, SUITE, root, debianMirror()], 'debootstrap');
    const headers = (await readdir(join(root, 'usr', 'src'))).filter((d) => /^linux-headers-\d.*-amd64$/.test(d));
    const kernel = headers.find((d) => !d.includes('-cloud-'))?.replace('linux-headers-', '');
    const otherKernel = headers.find((d) => d.includes('-cloud-'))?.replace('linux-headers-', '');
    if (!kernel || !otherKernel) throw new Error(`debootstrap installed no usable kernel headers: ${headers.join(', ')}`);
    for (const k of [kernel, otherKernel]) {
      await mkdir(join(root, 'usr', 'src', 'kernels'), { recursive: true });
      await symlink(`../linux-headers-${k}`, join(root, 'usr', 'src', 'kernels', k));
      // linux-headers-* ships /lib/modules/<k>/build already; add it only where it does not.
      await mkdir(join(root, 'lib', 'modules', k), { recursive: true });
      await symlink(`/usr/src/linux-headers-${k}`, join(root, 'lib', 'modules', k, 'build')).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    }
    await writeFile(join(root, 'etc', 'driver-toolkit-release.json'), `${JSON.stringify({ KERNEL_VERSION: kernel, RHEL_VERSION: 'debian-12 (test stand-in)' })}\n`);
    for (const d of ['usr/share/doc', 'usr/share/man', 'usr/share/locale', 'var/cache/apt/archives', 'var/lib/apt/lists']) {
      await rm(join(root, d), { recursive: true, force: true });
    }
    await commitTree(root, names.dtk, {
      'io.dtk-pipeline.test.kernel': kernel,
      'io.dtk-pipeline.test.other-kernel': otherKernel,
      'io.dtk-pipeline.test.key': key,
    });

    const minimal = join(work, 'minimal');
    await busyboxTree(root, minimal);
    await commitTree(minimal, names.minimal, { 'io.dtk-pipeline.test.key': key });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The fake UBI: busybox, with dash as /bin/sh (busybox's shell runs its own `rpm` applet
 * whatever PATH says) and the stubs in /usr/bin. Files come from the stand-in DTK image.
 */
async function buildFakeUbi(dtkImage: string, name: string, key: string): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'build-world-ubi-'));
  const ctr = (await buildah(['from', '--pull=false', '--quiet', dtkImage])).trim();
  try {
    const debian = (await buildah(['mount', ctr])).trim();
    const tree = join(work, 'ubi');
    await busyboxTree(debian, tree);
    // dash, and Python (subscription-manager is a Python program on UBI) with the libraries they link.
    const libs = ['libc.so.6', 'libm.so.6', 'libz.so.1', 'libexpat.so.1'].map((l) => `lib/x86_64-linux-gnu/${l}`);
    for (const file of ['usr/bin/dash', 'usr/bin/python3.11', 'lib64/ld-linux-x86-64.so.2', ...libs]) {
      await mkdir(join(tree, file, '..'), { recursive: true });
      await copyFile(join(debian, file), join(tree, file));
    }
    await chmod(join(tree, 'usr/bin/dash'), 0o755);
    await chmod(join(tree, 'usr/bin/python3.11'), 0o755);
    await symlink('python3.11', join(tree, 'usr/bin/python3'));
    await cp(join(debian, 'usr/lib/python3.11'), join(tree, 'usr/lib/python3.11'), { recursive: true });
    await rm(join(tree, 'bin', 'sh'));
    await symlink('/usr/bin/dash', join(tree, 'bin', 'sh'));
    await rm(join(tree, 'bin', 'rpm'), { force: true });
    for (const [path, text] of Object.entries(FAKE_UBI_STUBS)) {
      await mkdir(join(tree, path, '..'), { recursive: true });
      await writeFile(join(tree, path), text, { mode: 0o755 });
    }
    await mkdir(join(tree, 'etc', 'rhsm'), { recursive: true });
    await symlink('/run/secrets/rhsm', join(tree, 'etc', 'rhsm-host'));
    await commitTree(tree, name, { 'io.dtk-pipeline.test.key': key, name: 'fake-ubi9' });
  } finally {
    await buildah(['umount', ctr]).catch(() => undefined);
    await buildah(['rm', ctr]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Removes the images of earlier recipes, so the cache does not grow. (The fake UBI also
 * carries a digest name per test registry it was pulled from: names only, same image.)
 * Only the three images made here: other `localhost/dtk-test-*` images belong to a test
 * file that may be using them right now (files run in parallel).
 */
async function pruneStale(current: readonly string[]): Promise<void> {
  const listed = (await buildah(['images', '--format', '{{.Name}}:{{.Tag}}'])).split('\n').filter(Boolean);
  const ours = /^localhost\/dtk-test-(?:standin|minimal|fake-ubi):/;
  const stale = listed.filter((name) => ours.test(name) && !current.includes(name));
  for (const name of stale) await buildah(['rmi', '--force', name]).catch(() => undefined);
}

/** Makes sure the world's images exist (building them on first use) and describes them. */
export async function ensureBuildWorld(): Promise<BuildWorld> {
  const started = Date.now();
  await mkdir(CACHE_DIR, { recursive: true });
  // Other test files' buildah processes read this file while this one starts: written only
  // when it differs, and atomically (a rename), so no reader ever sees it half written.
  const storageConf = ['[storage]', 'driver = "vfs"', `graphroot = "${join(CACHE_DIR, 'storage')}"`, `runroot = "${join(CACHE_DIR, 'run')}"`, ''].join('\n');
  const confPath = join(CACHE_DIR, 'storage.conf');
  if ((await readFile(confPath, 'utf8').catch(() => '')) !== storageConf) {
    const temp = `${confPath}.${process.pid}.tmp`;
    await writeFile(temp, storageConf);
    await rename(temp, confPath);
  }
  const hash = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 12);
  const key = hash({ RECIPE_VERSION, SUITE, PACKAGES });
  const ubiKey = hash({ key, FAKE_UBI_VERSION, FAKE_UBI_STUBS });
  const names = {
    dtk: `localhost/dtk-test-standin:${key}`,
    minimal: `localhost/dtk-test-minimal:${key}`,
    fakeUbi: `localhost/dtk-test-fake-ubi:${ubiKey}`,
  };
  let cached = true;
  await withLock(async () => {
    await pruneStale(Object.values(names));
    if (!(await imageExists(names.dtk)) || !(await imageExists(names.minimal))) {
      cached = false;
      for (const name of [names.dtk, names.minimal]) await buildah(['rmi', '--force', name]).catch(() => undefined);
      await buildImages(key, names);
    }
    if (!(await imageExists(names.fakeUbi))) {
      cached = false;
      await buildFakeUbi(names.dtk, names.fakeUbi, ubiKey);
    }
  });
  return {
    env: storageEnv(),
    dtkImage: names.dtk,
    minimalImage: names.minimal,
    fakeUbiImage: names.fakeUbi,
    kernel: await imageLabel(names.dtk, 'io.dtk-pipeline.test.kernel'),
    otherKernel: await imageLabel(names.dtk, 'io.dtk-pipeline.test.other-kernel'),
    cached,
    setupMs: Date.now() - started,
  };
}

export interface ScriptRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** `KEY=value` lines of stdout. */
  readonly result: Readonly<Record<string, string>>;
}

/** Runs one of scripts/build/*.sh with exactly `env` (plus the world's storage and PATH). */
export async function runScript(script: string, env: Readonly<Record<string, string>>, options: { timeoutMs?: number } = {}): Promise<ScriptRun> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [join(REPO_ROOT, 'scripts', 'build', script)], {
      cwd: REPO_ROOT,
      env: { HOME: process.env['HOME'] ?? '/root', ...storageEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const result = Object.fromEntries(
        stdout
          .split('\n')
          .map((l) => /^([A-Z_]+)=(.*)$/.exec(l))
          .filter((m): m is RegExpExecArray => m !== null)
          .map((m) => [m[1] ?? '', m[2] ?? '']),
      );
      resolvePromise({ code: code ?? -1, stdout, stderr, ms: Date.now() - started, result });
    });
  });
}

/** A docker config JSON granting `username` on `registryHost`. */
export function dockerConfigJson(registryHost: string, username: string, password: string): string {
  return JSON.stringify({ auths: { [registryHost]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } } });
}

/**
 * What every build-script test stands up besides the world: Debian's docker-registry
 * with token auth on loopback, a scratch directory holding the push credentials as the
 * buildspecs write them (`auth.json`, mode 0600), and the project's client using them.
 */
export interface BuildRegistry {
  readonly registry: RunningRegistry;
  readonly dir: string;
  /** The docker config file with the push credentials (`<dir>/auth.json`). */
  readonly authFile: string;
  readonly push: { readonly username: string; readonly password: string };
  readonly client: RegistryClient;
  /** Closes the client, stops the registry and removes the directory. */
  stop(): Promise<void>;
}

export async function startBuildRegistry(prefix: string): Promise<BuildRegistry> {
  const registry = await startRegistry();
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const authFile = join(dir, 'auth.json');
  const push = registry.tokenService.pushCredentials();
  await writeFile(authFile, dockerConfigJson(registry.host, push.username, push.password), { mode: 0o600 });
  const client = new RegistryClient({ credentials: parseDockerConfig(await readFile(authFile, 'utf8')), insecureRegistries: registry.insecureRegistries, retryBaseMs: 10 });
  return {
    registry,
    dir,
    authFile,
    push,
    client,
    stop: async () => {
      await client.close();
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The environment of scripts/build/build-driver.sh building the bundled example module
 * (images/driver-example) against the stand-in DTK onto a busybox base, pushed to
 * `<registry>/<repository>` with the push credentials.
 */
export function exampleDriverEnv(world: BuildWorld, target: BuildRegistry, repository: string, resultFile: string): Record<string, string> {
  return {
    KERNEL: world.kernel,
    ARCH: 'x86_64',
    ALLOW_TEST_KERNELS: 'true',
    DRIVER_NAME: 'dtk-example',
    MOD_NAME: 'dtk_example',
    DRIVER_SOURCE: 'inline',
    DRIVER_CONTEXT_DIR: 'images/driver-example',
    DTK_IMAGE: world.dtkImage,
    TARGET_IMAGE: `${target.registry.host}/${repository}`,
    BUILD_ARGS_JSON: JSON.stringify({ FINAL_BASE: world.minimalImage }),
    REGISTRY_AUTH_FILE: target.authFile,
    INSECURE_REGISTRIES: target.registry.insecureRegistries.join(','),
    RESULT_FILE: resultFile,
  };
}

/** The environment of scripts/build/join.sh joining ARCH_TAGS of `<registry>/<repository>` under TAG. */
export function joinEnv(target: BuildRegistry, repository: string, tag: string, archTags: string): Record<string, string> {
  return {
    TARGET_IMAGE: `${target.registry.host}/${repository}`,
    TARGET_TAG: tag,
    ARCH_TAGS: archTags,
    REGISTRY_AUTH_FILE: target.authFile,
    RESULT_FILE: join(target.dir, `${tag}.env`),
    INSECURE_REGISTRIES: target.registry.insecureRegistries.join(','),
  };
}
