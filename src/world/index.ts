/**
 * The local world: a stand-in for api.openshift.com (update graph) and quay.io (token
 * service, registry, CDN), all on loopback. `startWorld` starts the token service, the
 * real registry, the fault proxy (what the scanner talks to) with its CDN, seeds the
 * world's images, and serves the graph.
 *
 *   scanner ──► graph server                     (graphUrl)
 *   scanner ──► fault proxy ──► docker-registry   (registryHost; /token → token service)
 *                    └─302──► CDN ──► docker-registry
 */
import { randomBytes, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFaultProxy, type RunningCdn, type RunningFaultProxy } from './fault-proxy.ts';
import { startGraphServer, type GraphFault, type RunningGraphServer } from './graph-server.ts';
import { ensureRegistryBinary, makeTempDir, startRegistry, type RunningRegistry } from './registry-server.ts';
import { DEFAULT_COMPONENT_REPOSITORY, DEFAULT_OKD_PAYLOAD_REPOSITORY, DEFAULT_PAYLOAD_REPOSITORY, seedWorldWithStats } from './seed.ts';
import type { ReleaseSpec, SeededRelease, WorldSpec } from './spec.ts';
import { DEFAULT_USERS, startTokenService, type Credentials, type RunningTokenService } from './token-service.ts';

export type { ReleaseSpec, SeededRelease, WorldSpec } from './spec.ts';

/** Bump when seeding changes what it writes, so reused data dirs are reseeded. */
export const SEED_FORMAT_VERSION = 2;
const MARKER_FILE = 'world-seed.json';
const CDN_USER = 'internal-cdn';

export interface StartWorldOptions {
  /**
   * Keep the registry storage here and reuse it when it already holds this world
   * (a marker records a hash of the spec and the proxy port the pull specs name).
   * @default - a temp dir (on tmpfs if available), removed by stop()
   */
  readonly dataDir?: string;
  /** Graph server sends ETags and answers 304. @default false */
  readonly etag?: boolean;
  /** Token lifetime. @default 300 */
  readonly tokenTtlSeconds?: number;
  /** username → password. @default { reader: 'reader-password', pusher: 'pusher-password' } */
  readonly users?: Readonly<Record<string, string>>;
  /** User whose credentials go into the pull secret. @default 'reader' */
  readonly readerUser?: string;
  /** User allowed to push (seeding). @default 'pusher' */
  readonly pushUser?: string;
  /** Per-channel graph faults. @default {} */
  readonly graphFaults?: Readonly<Record<string, GraphFault>>;
  /** Redirect every blob GET to the CDN, like quay. @default false */
  readonly cdnRedirect?: boolean;
  /** CDN refuses requests that carry Authorization (S3 behaviour). @default true */
  readonly cdnRejectsAuthorization?: boolean;
  /** Port of the proxy (the registry host in pull specs). @default - the port of a reused data dir, else a free port */
  readonly proxyPort?: number;
  /** Payload base filler layer size. @default 65536 */
  readonly fillerBytes?: number;
  /** Releases seeded at the same time. @default 8 */
  readonly seedConcurrency?: number;
  /** Seeding progress. */
  readonly onSeedProgress?: (done: number, total: number) => void;
}

export interface RunningWorld {
  /** `http://127.0.0.1:PORT/api/upgrades_info/v1/graph`: OpenShift releases. */
  readonly graphUrl: string;
  /** `http://127.0.0.1:PORT/graph`: OKD releases, on a server of their own (like amd64.origin.releases.ci.openshift.org). */
  readonly okdGraphUrl: string;
  readonly okdGraph: RunningGraphServer;
  /** `127.0.0.1:PORT` of the fault proxy: the registry host in every pull spec. */
  readonly registryHost: string;
  /**
   * The world's plain-http hosts (the registry, its CDN): what a client must list as
   * insecure registries to read it (nothing is plain http implicitly, loopback included).
   */
  readonly insecureRegistries: readonly string[];
  /** Docker config JSON with the reader's credentials for `registryHost`. */
  readonly pullSecretPath: string;
  readonly readerCredentials: Credentials;
  readonly payloadRepository: string;
  readonly componentRepository: string;
  readonly proxy: RunningFaultProxy;
  readonly cdn: RunningCdn;
  readonly graph: RunningGraphServer;
  readonly tokenService: RunningTokenService;
  /** The registry itself (behind the proxy); tests rarely need it. */
  readonly registry: RunningRegistry;
  readonly seeded: readonly SeededRelease[];
  /** Time spent seeding (0 when reused). */
  readonly seedMillis: number;
  /** True when the data dir already held this world. */
  readonly reused: boolean;
  /**
   * Publish a new release while the world runs: seed its images, then list it in the
   * graph (a "new release appears"). Not recorded in the data dir's marker.
   */
  addRelease(release: ReleaseSpec): Promise<SeededRelease[]>;
  stop(): Promise<void>;
}

/** JSON with Uint8Array as base64, for hashing specs. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v instanceof Uint8Array ? { base64: Buffer.from(v).toString('base64') } : v,
  );
}

export function worldHash(world: WorldSpec, fillerBytes: number): string {
  return createHash('sha256')
    .update(stableJson({ format: SEED_FORMAT_VERSION, fillerBytes, world }))
    .digest('hex');
}

interface Marker {
  readonly format: number;
  readonly hash: string;
  readonly proxyPort: number;
  readonly seeded: SeededRelease[];
}

async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    const marker = JSON.parse(await readFile(join(dir, MARKER_FILE), 'utf8')) as Marker;
    return marker.format === SEED_FORMAT_VERSION ? marker : undefined;
  } catch {
    return undefined;
  }
}

export async function startWorld(world: WorldSpec, opts: StartWorldOptions = {}): Promise<RunningWorld> {
  ensureRegistryBinary();
  const ownsDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await makeTempDir('local-world-'));
  await mkdir(dataDir, { recursive: true });
  const payloadRepository = world.payloadRepository ?? DEFAULT_PAYLOAD_REPOSITORY;
  const componentRepository = world.componentRepository ?? DEFAULT_COMPONENT_REPOSITORY;
  const fillerBytes = opts.fillerBytes ?? 64 * 1024;
  const hash = worldHash(world, fillerBytes);
  const marker = ownsDir ? undefined : await readMarker(dataDir);
  const reusable =
    marker?.hash === hash &&
    (opts.proxyPort === undefined || opts.proxyPort === marker.proxyPort) &&
    existsSync(join(dataDir, 'registry', 'storage', 'docker'));

  const users = { ...(opts.users ?? DEFAULT_USERS), [CDN_USER]: randomBytes(12).toString('hex') };
  const readerUser = opts.readerUser ?? 'reader';
  const stoppers: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    stoppers.length = 0;
    if (ownsDir) await rm(dataDir, { recursive: true, force: true });
  };

  try {
    const tokenService = await startTokenService({
      users,
      anonymousRepositories: [payloadRepository, world.okdPayloadRepository ?? DEFAULT_OKD_PAYLOAD_REPOSITORY],
      pushUser: opts.pushUser ?? 'pusher',
      ttlSeconds: opts.tokenTtlSeconds ?? 300,
    });
    stoppers.push(() => tokenService.stop());
    const readerCredentials = tokenService.credentials(readerUser);

    const proxyOptions = {
      tokenServiceUrl: tokenService.url,
      service: tokenService.service,
      cdnCredentials: tokenService.credentials(CDN_USER),
      cdnRedirect: opts.cdnRedirect ?? false,
      cdnRejectsAuthorization: opts.cdnRejectsAuthorization ?? true,
    };
    let proxy: RunningFaultProxy;
    let reused = false;
    if (reusable && marker) {
      try {
        proxy = await startFaultProxy({ ...proxyOptions, port: marker.proxyPort });
        reused = true;
      } catch {
        proxy = await startFaultProxy({ ...proxyOptions, ...(opts.proxyPort ? { port: opts.proxyPort } : {}) });
      }
    } else {
      proxy = await startFaultProxy({ ...proxyOptions, ...(opts.proxyPort ? { port: opts.proxyPort } : {}) });
    }
    stoppers.push(() => proxy.stop());

    const registryDir = join(dataDir, 'registry');
    if (!reused) {
      // Stale or foreign content: pull specs would name another host or world.
      await rm(join(dataDir, MARKER_FILE), { force: true });
      await rm(registryDir, { recursive: true, force: true });
    }
    const registry = await startRegistry({ dataDir: registryDir, tokenService, realm: proxy.tokenUrl });
    stoppers.push(() => registry.stop());
    proxy.setRegistry(registry.url);

    let seeded: SeededRelease[];
    let seedMillis = 0;
    if (reused && marker) {
      seeded = marker.seeded;
    } else {
      const result = await seedWorldWithStats(world, registry, {
        pullSpecHost: proxy.host,
        pushCredentials: tokenService.pushCredentials(),
        fillerBytes,
        emptyRegistry: true, // storage was just wiped
        ...(opts.seedConcurrency ? { concurrency: opts.seedConcurrency } : {}),
        ...(opts.onSeedProgress ? { onProgress: opts.onSeedProgress } : {}),
      });
      seeded = result.seeded;
      seedMillis = result.millis;
      const newMarker: Marker = { format: SEED_FORMAT_VERSION, hash, proxyPort: Number(proxy.host.split(':')[1]), seeded };
      await writeFile(join(dataDir, MARKER_FILE), JSON.stringify(newMarker));
    }
    tokenService.resetStats();

    const isOkd = (r: SeededRelease) => r.distribution === 'okd';
    const graph = await startGraphServer(seeded.filter((r) => !isOkd(r)), { etag: opts.etag ?? false, faults: opts.graphFaults ?? {} });
    stoppers.push(() => graph.stop());
    const okdGraph = await startGraphServer(seeded.filter(isOkd), { etag: opts.etag ?? false, faults: opts.graphFaults ?? {}, path: '/graph' });
    stoppers.push(() => okdGraph.stop());

    const pullSecretPath = join(dataDir, 'pull-secret.json');
    const auth = Buffer.from(`${readerCredentials.username}:${readerCredentials.password}`).toString('base64');
    await writeFile(pullSecretPath, `${JSON.stringify({ auths: { [proxy.host]: { auth } } }, null, 2)}\n`, { mode: 0o600 });

    return {
      graphUrl: graph.url,
      okdGraphUrl: okdGraph.url,
      okdGraph,
      registryHost: proxy.host,
      insecureRegistries: [proxy.host, proxy.cdn.host],
      pullSecretPath,
      readerCredentials,
      payloadRepository,
      componentRepository,
      proxy,
      cdn: proxy.cdn,
      graph,
      tokenService,
      registry,
      seeded,
      seedMillis,
      reused,
      async addRelease(release) {
        const added = await seedWorldWithStats({ ...world, releases: [release] }, registry, {
          pullSpecHost: proxy.host,
          pushCredentials: tokenService.pushCredentials(),
          fillerBytes,
        });
        for (const r of added.seeded) (isOkd(r) ? okdGraph : graph).addRelease(r);
        seeded.push(...added.seeded);
        return added.seeded;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
