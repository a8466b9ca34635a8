/**
 * Runs Debian's real `docker-registry` (distribution 2.8) on loopback, with filesystem
 * storage and `auth: token` pointed at a token service (`token-service.ts`). The token
 * service signs RS256 JWTs with its certificate in the `x5c` header; the registry verifies
 * that chain against `rootcertbundle` (the same self-signed certificate). Checked with
 * Debian's 2.8.2: x5c verification works, so no libtrust `kid` fallback is needed.
 *
 * The registry does a few small file operations per request and costs about 1 ms of CPU per
 * request even for `GET /v2/`; seeding speed is bound by it (tmpfs storage halves it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTokenService, type RunningTokenService, type TokenServiceOptions } from './token-service.ts';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface RegistryOptions {
  /** Directory for storage (`<dataDir>/storage`), config and log. @default - a temp dir (tmpfs if available), removed by stop() */
  readonly dataDir?: string;
  /** Token service the registry trusts. @default - one started with `tokenServiceOptions`, stopped by stop() */
  readonly tokenService?: RunningTokenService;
  /** Options for the token service started when `tokenService` is not given. @default {} */
  readonly tokenServiceOptions?: TokenServiceOptions;
  /** `realm` announced in `WWW-Authenticate` (e.g. the token path on a proxy in front). @default - tokenService.url */
  readonly realm?: string;
  /** Port on 127.0.0.1. @default - a free port */
  readonly port?: number;
  /** How long to wait for `/v2/` to answer (generous: a loaded CI machine starts processes slowly). @default 120000 */
  readonly startTimeoutMs?: number;
}

export interface RunningRegistry {
  /** `127.0.0.1:PORT` */
  readonly host: string;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly dataDir: string;
  readonly tokenService: RunningTokenService;
  /** Its plain-http hosts (the registry and its token realm): what a client lists as insecure registries. */
  readonly insecureRegistries: readonly string[];
  stop(): Promise<void>;
}

/**
 * A new temp dir, on tmpfs (`/dev/shm`) where there is one: the registry does many small
 * file operations per request, which tmpfs makes about twice as fast as a disk.
 */
export async function makeTempDir(prefix: string): Promise<string> {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return await mkdtemp(join('/dev/shm', prefix));
  } catch {
    return mkdtemp(join(tmpdir(), prefix));
  }
}

/** Throws a clear error when the registry binary is not installed. */
export function ensureRegistryBinary(): void {
  if (!existsSync(REGISTRY_BINARY)) {
    throw new Error(
      `${REGISTRY_BINARY} not found: the local world runs the real OCI registry. ` +
        'Install it with `apt-get install docker-registry` (Debian/Ubuntu; the test scripts do this).',
    );
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function registryConfig(opts: {
  port: number;
  storageDir: string;
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
}): string {
  const q = (s: string): string => JSON.stringify(s); // JSON strings are valid YAML scalars
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    '  formatter: text',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${q(opts.storageDir)}`,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${q(`127.0.0.1:${opts.port}`)}`,
    `  secret: ${q(randomBytes(16).toString('hex'))}`,
    '  relativeurls: true',
    'auth:',
    '  token:',
    `    realm: ${q(opts.realm)}`,
    `    service: ${q(opts.service)}`,
    `    issuer: ${q(opts.issuer)}`,
    `    rootcertbundle: ${q(opts.certPath)}`,
    'health:',
    '  storagedriver:',
    '    enabled: false',
    '',
  ].join('\n');
}

/**
 * Waits until this registry answers `/v2/`: a 401 whose challenge names `realm`, its own
 * token service. (The port was free a moment ago; should another process have taken it
 * first, the answer there names another realm, or none, and this child exits failing to bind.)
 */
async function waitForRegistry(url: string, realm: string, child: ChildProcess, logTail: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: string | undefined;
  const onExit = (code: number | null, signal: string | null): void => {
    exited = `exited with ${code ?? signal}`;
  };
  child.once('exit', onExit);
  try {
    while (Date.now() < deadline) {
      if (exited) throw new Error(`docker-registry ${exited} before answering: ${logTail()}`);
      try {
        const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(5000) });
        await res.body?.cancel();
        if (res.status === 401 && res.headers.get('www-authenticate')?.includes(`realm=${JSON.stringify(realm)}`)) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`docker-registry did not answer ${url}/v2/ within ${timeoutMs} ms: ${logTail()}`);
  } finally {
    child.off('exit', onExit);
  }
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<RunningRegistry> {
  ensureRegistryBinary();
  const ownsDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await makeTempDir('world-registry-'));
  const storageDir = join(dataDir, 'storage');
  await mkdir(storageDir, { recursive: true });
  const ownsTokenService = opts.tokenService === undefined;
  const tokenService = opts.tokenService ?? (await startTokenService(opts.tokenServiceOptions));
  const certPath = join(dataDir, 'token-cert.pem');
  await writeFile(certPath, tokenService.certificatePem);
  const configPath = join(dataDir, 'config.yml');

  const cleanupOnFailure = async (): Promise<void> => {
    if (ownsTokenService) await tokenService.stop();
    if (ownsDir) await rm(dataDir, { recursive: true, force: true });
  };

  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = opts.port ?? (await freePort());
    await writeFile(
      configPath,
      registryConfig({
        port,
        storageDir,
        realm: opts.realm ?? tokenService.url,
        service: tokenService.service,
        issuer: tokenService.issuer,
        certPath,
      }),
    );
    const log = createWriteStream(join(dataDir, 'registry.log'), { flags: 'a' });
    let tail = '';
    const child = spawn(REGISTRY_BINARY, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer): void => {
      log.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const killOnExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    const url = `http://127.0.0.1:${port}`;
    const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const stopChild = async (): Promise<void> => {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exitedPromise;
        clearTimeout(timer);
      }
      await new Promise<void>((resolve) => log.end(() => resolve()));
    };
    try {
      await waitForRegistry(url, opts.realm ?? tokenService.url, child, () => tail.trim(), opts.startTimeoutMs ?? 120_000);
    } catch (err) {
      lastError = err;
      await stopChild();
      if (opts.port === undefined && /address already in use/i.test(tail)) continue;
      break;
    }
    return {
      host: `127.0.0.1:${port}`,
      url,
      dataDir,
      tokenService,
      insecureRegistries: [...new Set([`127.0.0.1:${port}`, new URL(opts.realm ?? tokenService.url).host])],
      async stop() {
        await stopChild();
        if (ownsTokenService) await tokenService.stop();
        if (ownsDir) await rm(dataDir, { recursive: true, force: true });
      },
    };
  }
  await cleanupOnFailure();
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
