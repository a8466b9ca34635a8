/**
 * Scan benchmark against the local world: a generated world of N releases × 2 arches
 * (amd64, arm64), every channel of it, a fresh cache; then a second scan of the same,
 * unchanged world with the same cache. Prints numbers (no pass/fail): a table, then one
 * JSON line with everything. See bench/README.md for what each number means.
 *
 *   npm run bench -- [--releases 1000] [--concurrency 8] [--no-etag] [--seed 1] [--keep-cache]
 *
 * The world's registry storage is kept in .cache/bench-world/<size>/ and reused on the
 * next run (seeding 1,000 releases takes minutes; a reused world starts in seconds).
 *
 * How requests are measured:
 *   - client side: the RegistryClient's own `stats` (every request, retries and token
 *     requests included; body bytes read), and an observer (`onRequest`) that sees
 *     every request with its status and the bytes received, and
 *     charges it to the release being resolved (AsyncLocalStorage around resolvePayload;
 *     an image shared by several releases is charged to the one that read it first);
 *   - server side: the fault proxy's per-class counters (what the registry served).
 * The reference "bytes needed" is computed from what the scan asked for (an ImageSource
 * wrapper records every manifest, config and layer it read) and the stored sizes of
 * those manifests and blobs in the registry's storage on disk.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Table, { type TableConstructorOptions } from 'cli-table3';
import { goArchOf, type GraphArch } from '#core/arch.ts';
import { GraphClient, OKD_CHANNEL_PATTERN } from '#core/graph.ts';
import type { RequestObserver } from '#core/http/transport.ts';
import { RegistryClient } from '#core/registry/client.ts';
import { loadDockerConfig } from '#core/registry/credentials.ts';
import type { Descriptor, ImageConfig, ImageRef, ImageSource, Platform, ResolvedManifest } from '#core/registry/types.ts';
import { ReleaseResolver, type PayloadToResolve, type ResolvedRelease } from '#core/release-resolver.ts';
import { scan, type ScanProgress, type ScanReport } from '#core/scan.ts';
import { FileScanStore } from '#core/scan-store.ts';
import { compareOcpVersions, eraOf, parseOcpVersion } from '#world/eras.ts';
import { classifyPath, type PathClass } from '#world/fault-proxy.ts';
import { generateWorld } from '#world/generate.ts';
import { startWorld, type RunningWorld } from '#world/index.ts';

// ------------------------------------------------------------------ flags

const { values: flags } = parseArgs({
  options: {
    releases: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
    'no-etag': { type: 'boolean', default: false },
    'keep-cache': { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write('usage: npm run bench -- [--releases N] [--concurrency N] [--seed N] [--no-etag] [--keep-cache]\n');
  process.exit(0);
}
const positiveInt = (name: string, value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
};
const RELEASES = positiveInt('releases', flags.releases);
const CONCURRENCY = positiveInt('concurrency', flags.concurrency);
const SEED = positiveInt('seed', flags.seed);
const ETAG = !flags['no-etag'];
const ARCHES: readonly GraphArch[] = ['amd64', 'arm64'];
/** Target of registry requests per resolved release (payload × arch). */
const TARGET_REQUESTS_PER_RELEASE = 8;

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA_DIR = join(REPO_ROOT, '.cache', 'bench-world', `releases-${RELEASES}-seed-${SEED}`);

const log = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`);
};

// ------------------------------------------------------------------ request accounting

type Class = Exclude<PathClass, 'other'> | 'other' | 'cdn';
const CLASSES: readonly Class[] = ['manifest', 'blob', 'token', 'other', 'cdn'];

interface Tally {
  requests: number;
  bytes: number;
  /** Successful GETs of a manifest or blob path this scan had already fetched. */
  repeatGets: number;
  byClass: Record<Class, { requests: number; bytes: number }>;
  /** 401 answers (the first, anonymous try before a token is known, or an expired token). */
  unauthorized: number;
}

const newTally = (): Tally => ({
  requests: 0,
  bytes: 0,
  repeatGets: 0,
  byClass: Object.fromEntries(CLASSES.map((c) => [c, { requests: 0, bytes: 0 }])) as Tally['byClass'],
  unauthorized: 0,
});

/** The release being resolved, for charging requests to it. */
interface Charge {
  readonly key: string;
  readonly version: string;
  readonly graphArch: GraphArch;
}

class Accounting {
  readonly als = new AsyncLocalStorage<Charge>();
  readonly total = newTally();
  readonly perRelease = new Map<string, { charge: Charge; tally: Tally }>();
  readonly unattributed = newTally();
  /** GET path → successful fetches (a count above 1 is a repeat read). */
  readonly gets = new Map<string, number>();

  constructor(private readonly registryHost: string) {}

  /** An observer (RegistryClient `onRequest`) counting every request the registry client makes. */
  observer(): RequestObserver {
    return ({ method, url }) => {
      const charge = this.als.getStore();
      const tallies: Tally[] = [this.total, charge ? this.releaseTally(charge) : this.unattributed];
      const path = `${url.pathname}${url.search}`;
      const cls: Class = url.host === this.registryHost || url.host.endsWith(this.registryHost) ? classifyPath(path) : 'cdn';
      for (const t of tallies) {
        t.requests++;
        t.byClass[cls].requests++;
      }
      return ({ status, bytes }) => {
        if (status === 401) for (const t of tallies) t.unauthorized++;
        if (status === 200 && method === 'GET' && cls !== 'token') {
          const seen = this.gets.get(`${cls} ${path}`) ?? 0;
          if (seen > 0) for (const t of tallies) t.repeatGets++;
          this.gets.set(`${cls} ${path}`, seen + 1);
        }
        for (const t of tallies) {
          t.bytes += bytes;
          t.byClass[cls].bytes += bytes;
        }
      };
    };
  }

  private releaseTally(charge: Charge): Tally {
    let entry = this.perRelease.get(charge.key);
    if (!entry) {
      entry = { charge, tally: newTally() };
      this.perRelease.set(charge.key, entry);
    }
    return entry.tally;
  }

  /**
   * Repeat GETs of one manifest or blob path (fetches beyond the first), split by what
   * was fetched: manifests, config blobs, and layers (`source` knows which digests are configs).
   */
  repeats(source: RecordingSource): { requests: number; paths: number; manifest: number; config: number; layer: number } {
    const out = { requests: 0, paths: 0, manifest: 0, config: 0, layer: 0 };
    for (const [key, n] of this.gets) {
      if (n <= 1) continue;
      out.requests += n - 1;
      out.paths++;
      const digest = /(sha256:[a-f0-9]{64})$/.exec(key)?.[1] ?? '';
      if (key.startsWith('manifest ')) out.manifest += n - 1;
      else if (source.configs.has(digest)) out.config += n - 1;
      else out.layer += n - 1;
    }
    return out;
  }
}

/** Charges everything a payload's resolution costs to that payload × arch. */
class ChargingResolver extends ReleaseResolver {
  constructor(
    images: ImageSource,
    private readonly accounting: Accounting,
  ) {
    super(images);
  }

  override resolvePayload(input: PayloadToResolve): Promise<ResolvedRelease[]> {
    const charge: Charge = { key: `${input.version}/${input.graphArch}`, version: input.version, graphArch: input.graphArch };
    return this.accounting.als.run(charge, () => super.resolvePayload(input));
  }
}

/** Records which manifests, configs and layers the scan read, for the "bytes needed" reference. */
class RecordingSource implements ImageSource {
  /** digest → repository, of every manifest and index fetched. */
  readonly manifests = new Map<string, string>();
  /** Per release (charge key): the distinct manifests (digests) and blobs (digest → size) it fetched. */
  readonly byCharge = new Map<string, { manifests: Set<string>; blobs: Map<string, number> }>();
  readonly configs = new Map<string, number>();
  readonly layers = new Map<string, number>();
  /** Digests that are the last layer of some manifest read. */
  readonly lastLayers = new Set<string>();
  readonly calls = { getManifest: 0, listPlatforms: 0, getConfig: 0, openBlob: 0 };

  constructor(
    private readonly inner: ImageSource,
    private readonly als: AsyncLocalStorage<Charge>,
  ) {}

  private charged(): { manifests: Set<string>; blobs: Map<string, number> } {
    const key = this.als.getStore()?.key ?? '(none)';
    let entry = this.byCharge.get(key);
    if (!entry) {
      entry = { manifests: new Set(), blobs: new Map() };
      this.byCharge.set(key, entry);
    }
    return entry;
  }

  async getManifest(ref: ImageRef, platform?: Platform): Promise<ResolvedManifest> {
    this.calls.getManifest++;
    const m = await this.inner.getManifest(ref, platform);
    this.manifests.set(m.digest, ref.repository);
    this.charged().manifests.add(m.digest);
    if (m.indexDigest) {
      this.manifests.set(m.indexDigest, ref.repository);
      this.charged().manifests.add(m.indexDigest);
    }
    const last = m.manifest.layers.at(-1);
    if (last) this.lastLayers.add(last.digest);
    return m;
  }

  async listPlatforms(ref: ImageRef): Promise<Platform[] | undefined> {
    this.calls.listPlatforms++;
    const platforms = await this.inner.listPlatforms(ref);
    if (ref.digest) {
      this.manifests.set(ref.digest, ref.repository);
      this.charged().manifests.add(ref.digest);
    }
    return platforms;
  }

  async getConfig(image: ResolvedManifest): Promise<ImageConfig> {
    this.calls.getConfig++;
    this.configs.set(image.manifest.config.digest, image.manifest.config.size);
    this.charged().blobs.set(image.manifest.config.digest, image.manifest.config.size);
    return this.inner.getConfig(image);
  }

  async openBlob(ref: ImageRef, descriptor: Descriptor): Promise<Readable> {
    this.calls.openBlob++;
    this.layers.set(descriptor.digest, descriptor.size);
    this.charged().blobs.set(descriptor.digest, descriptor.size);
    return this.inner.openBlob(ref, descriptor);
  }
}

/** Size of a stored manifest: distribution keeps manifests as blobs, by digest. */
async function storedSize(registryDataDir: string, digest: string): Promise<number | undefined> {
  const hex = digest.replace(/^sha256:/, '');
  try {
    return (await stat(join(registryDataDir, 'storage', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data'))).size;
  } catch {
    return undefined;
  }
}

interface Reference {
  manifests: { count: number; bytes: number; unknownSizes: number };
  configs: { count: number; bytes: number };
  lastLayers: { count: number; bytes: number };
  /** Layers read that are not the last of their image (a DTK file in the second-to-last layer). */
  otherLayers: { count: number; bytes: number };
  /** manifests + configs + last layers */
  bytes: number;
  /** … + other layers read */
  bytesWithOtherLayers: number;
}

async function referenceBytes(source: RecordingSource, registryDataDir: string): Promise<Reference> {
  let manifestBytes = 0;
  let unknownSizes = 0;
  for (const digest of source.manifests.keys()) {
    const size = await storedSize(registryDataDir, digest);
    if (size === undefined) unknownSizes++;
    else manifestBytes += size;
  }
  const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);
  const last = [...source.layers].filter(([d]) => source.lastLayers.has(d));
  const other = [...source.layers].filter(([d]) => !source.lastLayers.has(d));
  const ref: Reference = {
    manifests: { count: source.manifests.size, bytes: manifestBytes, unknownSizes },
    configs: { count: source.configs.size, bytes: sum(source.configs.values()) },
    lastLayers: { count: last.length, bytes: sum(last.map(([, s]) => s)) },
    otherLayers: { count: other.length, bytes: sum(other.map(([, s]) => s)) },
    bytes: 0,
    bytesWithOtherLayers: 0,
  };
  ref.bytes = ref.manifests.bytes + ref.configs.bytes + ref.lastLayers.bytes;
  ref.bytesWithOtherLayers = ref.bytes + ref.otherLayers.bytes;
  return ref;
}

// ------------------------------------------------------------------ memory

const MiB = 1024 * 1024;
const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** The docker-registry child of this process (the world's registry). */
async function registryPid(): Promise<number | undefined> {
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(await readFile(`/proc/${name}/stat`, 'utf8'));
      if (m?.[1] === 'docker-registry' && Number(m[2]) === process.pid) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** VmRSS and VmHWM (peak) of a process, in MiB. */
async function procRss(pid: number | undefined): Promise<{ rss: number; hwm: number } | undefined> {
  if (pid === undefined) return undefined;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
async function procCpuSeconds(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

/** Samples this process's RSS (and the registry's) while a phase runs. */
function sampleMemory(pid: number | undefined): { stop: () => Promise<{ peakRssMiB: number; registryPeakRssMiB?: number }> } {
  let peak = process.memoryUsage().rss;
  let registryPeak = 0;
  let busy = false;
  const tick = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    peak = Math.max(peak, process.memoryUsage().rss);
    const r = await procRss(pid);
    if (r) registryPeak = Math.max(registryPeak, r.rss);
    busy = false;
  };
  const timer = setInterval(() => void tick(), 100);
  return {
    async stop() {
      clearInterval(timer);
      await tick();
      return { peakRssMiB: round(peak / MiB), ...(pid !== undefined ? { registryPeakRssMiB: round(registryPeak) } : {}) };
    },
  };
}

// ------------------------------------------------------------------ one scan

interface ScanRun {
  report: ScanReport;
  wallMs: number;
  graphPhaseMs: number;
  client: { requests: number; bytes: number };
  accounting: Accounting;
  source: RecordingSource;
  server: { requests: number; bytes: number; byClass: Record<PathClass, { requests: number; bytes: number }> };
  graph: { requests: number; graphs: number; notModified: number };
  cdn: { requests: number; bytes: number };
  memory: { peakRssMiB: number; registryPeakRssMiB?: number };
  /** CPU seconds used during the scan: this process (scanner and the in-process proxy, token and graph servers) and the registry child. */
  cpu: { processSeconds: number; registrySeconds: number | null };
}

async function runScan(world: RunningWorld, cacheDir: string, channels: readonly string[], pid: number | undefined): Promise<ScanRun> {
  const accounting = new Accounting(world.registryHost);
  const registry = new RegistryClient({
    credentials: await loadDockerConfig(world.pullSecretPath),
    insecureRegistries: world.insecureRegistries,
    onRequest: accounting.observer(),
  });
  const source = new RecordingSource(registry, accounting.als);
  world.proxy.resetStats();
  world.cdn.resetStats();
  world.graph.resetStats();
  world.okdGraph.resetStats();

  let graphDoneAt = 0;
  let lastShown = -1;
  const onProgress = (p: ScanProgress): void => {
    if (p.phase === 'graph' && p.done === p.total) graphDoneAt = performance.now();
    if (p.phase === 'resolve') {
      const tenth = Math.floor((p.done / p.total) * 10);
      if (tenth !== lastShown) {
        lastShown = tenth;
        log(`  resolve ${p.done}/${p.total}`);
      }
    }
  };

  const memory = sampleMemory(pid);
  const cpuBefore = process.cpuUsage();
  const registryCpuBefore = await procCpuSeconds(pid);
  const started = performance.now();
  let report: ScanReport;
  try {
    report = await scan(
      {
        graph: new GraphClient({ url: world.graphUrl }),
        // OKD channels come from OKD's own graph, as upstream.
        channelGraphs: new Map(channels.filter((c) => OKD_CHANNEL_PATTERN.test(c)).map((c) => [c, new GraphClient({ url: world.okdGraphUrl })])),
        resolver: new ChargingResolver(source, accounting),
        store: new FileScanStore(cacheDir),
      },
      { channels, arches: ARCHES, concurrency: CONCURRENCY, onProgress },
    );
  } finally {
    await registry.close();
  }
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const registryCpuAfter = await procCpuSeconds(pid);
  const mem = await memory.stop();
  const p = world.proxy.stats;
  const byClass = structuredClone(p.byClass);
  return {
    report,
    wallMs,
    graphPhaseMs: graphDoneAt > 0 ? graphDoneAt - started : wallMs,
    client: { ...registry.stats },
    accounting,
    source,
    server: {
      requests: p.requests,
      bytes: Object.values(byClass).reduce((a, c) => a + c.bytes, 0),
      byClass,
    },
    graph: {
      requests: world.graph.stats.requests + world.okdGraph.stats.requests,
      graphs: world.graph.stats.graphs + world.okdGraph.stats.graphs,
      notModified: world.graph.stats.notModified + world.okdGraph.stats.notModified,
    },
    cdn: { requests: world.cdn.stats.requests, bytes: world.cdn.stats.bytes },
    memory: mem,
    cpu: {
      processSeconds: round((cpu.user + cpu.system) / 1e6, 2),
      registrySeconds: registryCpuBefore !== undefined && registryCpuAfter !== undefined ? round(registryCpuAfter - registryCpuBefore, 2) : null,
    },
  };
}

// ------------------------------------------------------------------ per era

interface EraRow {
  minor: string;
  era: string;
  releases: number;
  /** GETs of a manifest or blob already fetched in this scan (should be 0). */
  repeatGets: number;
  /** Manifest + blob bytes received / the bytes of the distinct manifests, configs and layers read (1.0 = a perfect client). */
  ratioToMinimum: number | null;
  requests: number;
  requestsPerRelease: number;
  manifestPerRelease: number;
  blobPerRelease: number;
  tokenPerRelease: number;
  unauthorizedPerRelease: number;
  maxRequests: number;
  bytesPerRelease: number;
  overTarget: boolean;
}

async function perEra(run: ScanRun, registryDataDir: string): Promise<EraRow[]> {
  const groups = new Map<string, Tally[]>();
  const minimum = new Map<string, number>();
  const manifestSizes = new Map<string, number>();
  const sizeOf = async (digest: string): Promise<number> => {
    if (!manifestSizes.has(digest)) manifestSizes.set(digest, (await storedSize(registryDataDir, digest)) ?? 0);
    return manifestSizes.get(digest)!;
  };
  // Every resolved payload × arch counts, including those whose images were all read by
  // an earlier release (charged nothing).
  const resolvedKeys = new Set(run.report.releases.map((r) => `${r.version}/${r.arch === 'multi' ? 'multi' : goArchOf(r.arch)}`));
  const eraOfGroup = new Map<string, string>();
  for (const key of resolvedKeys) {
    const [version = ''] = key.split('/');
    const { major, minor, distribution } = parseOcpVersion(version);
    // OKD's 4.19 is not OpenShift's 4.19: its own row.
    const mm = `${major}.${minor}${distribution === 'okd' ? ' okd' : ''}`;
    eraOfGroup.set(mm, eraOf(version));
    const list = groups.get(mm) ?? [];
    list.push(run.accounting.perRelease.get(key)?.tally ?? newTally());
    groups.set(mm, list);
    const read = run.source.byCharge.get(key);
    let bytes = 0;
    for (const d of read?.manifests ?? []) bytes += await sizeOf(d);
    for (const size of read?.blobs.values() ?? []) bytes += size;
    minimum.set(mm, (minimum.get(mm) ?? 0) + bytes);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => compareOcpVersions(`${a.split(' ')[0]}.0`, `${b.split(' ')[0]}.0`) || a.localeCompare(b))
    .map(([mm, tallies]) => {
      const n = tallies.length;
      const sum = (f: (t: Tally) => number): number => tallies.reduce((a, t) => a + f(t), 0);
      const requests = sum((t) => t.requests);
      const contentBytes = sum((t) => t.byClass.manifest.bytes + t.byClass.blob.bytes + t.byClass.cdn.bytes);
      const min = minimum.get(mm) ?? 0;
      return {
        minor: mm,
        era: eraOfGroup.get(mm) ?? '',
        releases: n,
        repeatGets: sum((t) => t.repeatGets),
        ratioToMinimum: min > 0 ? round(contentBytes / min, 3) : null,
        requests,
        requestsPerRelease: round(requests / n, 2),
        manifestPerRelease: round(sum((t) => t.byClass.manifest.requests) / n, 2),
        blobPerRelease: round(sum((t) => t.byClass.blob.requests + t.byClass.cdn.requests) / n, 2),
        tokenPerRelease: round(sum((t) => t.byClass.token.requests) / n, 3),
        unauthorizedPerRelease: round(sum((t) => t.unauthorized) / n, 3),
        maxRequests: Math.max(...tallies.map((t) => t.requests)),
        bytesPerRelease: Math.round(sum((t) => t.bytes) / n),
        overTarget: requests / n > TARGET_REQUESTS_PER_RELEASE,
      };
    });
}

// ------------------------------------------------------------------ main

/** Plain tables (no colours): the output is read in logs as often as in a terminal. */
const table = (options: TableConstructorOptions): Table.Table => new Table({ ...options, style: { head: [], border: [], ...options.style } });

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(2)} MiB`;
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const spec = generateWorld({ releases: RELEASES, seed: SEED });
  const channels = [...new Set(spec.releases.flatMap((r) => r.channels))].sort();
  log(`world: ${spec.releases.length} releases × ${ARCHES.length} arches, ${channels.length} channels; data dir ${DATA_DIR}`);

  const startWorldAt = performance.now();
  let lastSeedTenth = -1;
  const world = await startWorld(spec, {
    dataDir: DATA_DIR,
    etag: ETAG,
    onSeedProgress: (done, total) => {
      const tenth = Math.floor((done / total) * 10);
      if (tenth !== lastSeedTenth) {
        lastSeedTenth = tenth;
        log(`  seeding ${done}/${total}`);
      }
    },
  });
  const worldStartMs = performance.now() - startWorldAt;
  log(world.reused ? `world reused (started in ${secs(worldStartMs)})` : `world seeded in ${secs(world.seedMillis)}`);

  const cacheDir = await mkdtemp(join(tmpdir(), 'bench-scan-cache-'));
  try {
    const pid = await registryPid();
    const rssBeforeScan = process.memoryUsage().rss;
    const maxRssBeforeScanKiB = process.resourceUsage().maxRSS;

    log(`scan 1: ${channels.length} channels × ${ARCHES.join(', ')}, concurrency ${CONCURRENCY}, fresh cache ${cacheDir}`);
    const first = await runScan(world, cacheDir, channels, pid);
    const maxRssAfterScanKiB = process.resourceUsage().maxRSS;
    const registryProc = await procRss(pid);
    const reference = await referenceBytes(first.source, world.registry.dataDir);

    log('scan 2: same cache, unchanged world');
    const second = await runScan(world, cacheDir, channels, pid);

    // ---------------------------------------------------------------- numbers
    const resolved = first.report.stats.payloadsResolved;
    const perRelease = (n: number): number => (resolved > 0 ? n / resolved : 0);
    const acc = first.accounting;
    const repeats = acc.repeats(first.source);
    const actualContentBytes = first.server.byClass.manifest.bytes + first.server.byClass.blob.bytes + first.cdn.bytes;
    const eras = await perEra(first, world.registry.dataDir);
    const graphPairs = channels.length * ARCHES.length;

    const result = {
      bench: 'scan',
      releases: spec.releases.length,
      arches: ARCHES,
      channels: channels.length,
      concurrency: CONCURRENCY,
      etag: ETAG,
      seed: SEED,
      world: {
        dataDir: DATA_DIR,
        reused: world.reused,
        seedMs: world.seedMillis,
        startMs: Math.round(worldStartMs),
      },
      scan1: {
        wallMs: Math.round(first.wallMs),
        graphPhaseMs: Math.round(first.graphPhaseMs),
        cpu: first.cpu,
        resolvePhaseMs: Math.round(first.wallMs - first.graphPhaseMs),
        payloads: first.report.stats.payloads,
        payloadsResolved: resolved,
        payloadsFailed: first.report.stats.payloadsFailed,
        releasesWithoutKernel: first.report.releases.filter((r) => r.kernels.length === 0).length,
        kernels: first.report.kernels.length,
        graphErrors: first.report.graphErrors.length,
        graph: first.graph,
        registryClient: {
          requests: first.client.requests,
          bytes: first.client.bytes,
          receivedBytes: acc.total.bytes,
          byClass: acc.total.byClass,
          unauthorized: acc.total.unauthorized,
          unattributedRequests: acc.unattributed.requests,
          repeatGets: repeats,
        },
        registryServer: first.server,
        cdn: first.cdn,
        perRelease: {
          requests: round(perRelease(first.client.requests), 2),
          bytes: Math.round(perRelease(first.client.bytes)),
          serverRequests: round(perRelease(first.server.requests), 2),
          serverBytes: Math.round(perRelease(first.server.bytes)),
        },
        imageSourceCalls: first.source.calls,
        reference: {
          ...reference,
          actualManifestAndBlobBytes: actualContentBytes,
          ratio: reference.bytes > 0 ? round(actualContentBytes / reference.bytes, 3) : null,
          ratioWithOtherLayers: reference.bytesWithOtherLayers > 0 ? round(actualContentBytes / reference.bytesWithOtherLayers, 3) : null,
        },
        memory: {
          rssBeforeScanMiB: round(rssBeforeScan / MiB),
          peakRssDuringScanMiB: first.memory.peakRssMiB,
          maxRssProcessMiB: round(maxRssAfterScanKiB / 1024),
          maxRssRaisedByScan: maxRssAfterScanKiB > maxRssBeforeScanKiB,
          registryChildPeakRssDuringScanMiB: first.memory.registryPeakRssMiB ?? null,
          registryChildHwmMiB: registryProc ? round(registryProc.hwm) : null,
        },
      },
      eras,
      scan2: {
        wallMs: Math.round(second.wallMs),
        graphRequests: second.graph.requests,
        graphRequestsTarget: graphPairs,
        graphNotModified: second.graph.notModified,
        graphBodies: second.graph.graphs,
        graphsUnchanged: second.report.stats.graphsUnchanged,
        registryRequestsClient: second.client.requests,
        registryRequestsServer: second.server.requests,
        payloadsFromStore: second.report.stats.payloadsFromStore,
        payloadsResolved: second.report.stats.payloadsResolved,
        sameKernels: JSON.stringify(second.report.kernels) === JSON.stringify(first.report.kernels),
      },
    };

    // ---------------------------------------------------------------- tables
    const out: string[] = [];
    out.push(
      `\nScan benchmark: ${result.releases} releases × ${ARCHES.length} arches = ${result.scan1.payloads} payloads, ${channels.length} channels, ` +
        `concurrency ${CONCURRENCY}, graph ${ETAG ? 'with ETag' : 'without ETag (content hash)'}`,
    );
    out.push(`World: ${world.reused ? `reused (${DATA_DIR}), started in ${secs(worldStartMs)}` : `seeded in ${secs(world.seedMillis)}`}\n`);

    const s1 = table({ head: ['scan 1 (fresh cache)', 'value'] });
    s1.push(
      ['wall time', `${secs(first.wallMs)} (graph ${secs(first.graphPhaseMs)}, resolve ${secs(first.wallMs - first.graphPhaseMs)})`],
      ['CPU during the scan: this process / registry child', `${first.cpu.processSeconds} s / ${first.cpu.registrySeconds ?? 'n/a'} s (${os.availableParallelism()} cores)`],
      ['payloads resolved / failed', `${resolved} / ${first.report.stats.payloadsFailed}`],
      ['kernels found', String(first.report.kernels.length)],
      ['graph requests (200 / 304)', `${first.graph.requests} (${first.graph.graphs} / ${first.graph.notModified})`],
      ['registry requests, client', String(first.client.requests)],
      ['registry requests, server (proxy)', String(first.server.requests)],
      ['registry bytes, client (body read)', `${first.client.bytes} (${mib(first.client.bytes)})`],
      ['registry bytes, client (received)', `${acc.total.bytes} (${mib(acc.total.bytes)})`],
      ['registry bytes, server (proxy)', `${first.server.bytes} (${mib(first.server.bytes)})`],
      ['requests / resolved release (client)', result.scan1.perRelease.requests.toFixed(2)],
      ['requests / resolved release (server)', result.scan1.perRelease.serverRequests.toFixed(2)],
      ['bytes / resolved release (client)', kib(result.scan1.perRelease.bytes)],
      ['bytes / resolved release (server)', kib(result.scan1.perRelease.serverBytes)],
      ['401 answers (client)', String(acc.total.unauthorized)],
      [
        'repeat GETs of one manifest/blob',
        `${repeats.requests} on ${repeats.paths} paths (manifests ${repeats.manifest}, configs ${repeats.config}, layers ${repeats.layer})`,
      ],
      ['requests outside any release', String(acc.unattributed.requests)],
    );
    out.push(s1.toString());

    const cls = table({ head: ['class', 'client requests', 'client bytes', 'server requests', 'server bytes'] });
    for (const c of ['manifest', 'blob', 'token', 'other'] as const) {
      cls.push([c, acc.total.byClass[c].requests, acc.total.byClass[c].bytes, first.server.byClass[c].requests, first.server.byClass[c].bytes]);
    }
    cls.push(['cdn', acc.total.byClass.cdn.requests, acc.total.byClass.cdn.bytes, first.cdn.requests, first.cdn.bytes]);
    out.push(cls.toString());

    const ref = table({ head: ['bytes needed (distinct items read)', 'count', 'bytes'] });
    ref.push(
      [`manifests (sizes from registry storage${reference.manifests.unknownSizes ? `, ${reference.manifests.unknownSizes} unknown` : ''})`, reference.manifests.count, reference.manifests.bytes],
      ['configs', reference.configs.count, reference.configs.bytes],
      ['last layers', reference.lastLayers.count, reference.lastLayers.bytes],
      ['= reference (manifests + configs + last layers)', '', `${reference.bytes} (${mib(reference.bytes)})`],
      ['other layers read (DTK file not in the last layer)', reference.otherLayers.count, reference.otherLayers.bytes],
      ['= reference incl. other layers read', '', `${reference.bytesWithOtherLayers} (${mib(reference.bytesWithOtherLayers)})`],
      ['actual manifest + blob bytes served (server)', '', `${actualContentBytes} (${mib(actualContentBytes)})`],
      ['actual / reference', '', `${result.scan1.reference.ratio} (incl. other layers: ${result.scan1.reference.ratioWithOtherLayers})`],
    );
    out.push(ref.toString());

    const mem = table({ head: ['memory', 'MiB'] });
    mem.push(
      ['RSS before scan 1', result.scan1.memory.rssBeforeScanMiB],
      ['peak RSS during scan 1 (sampled every 100 ms)', result.scan1.memory.peakRssDuringScanMiB],
      [
        `process maxRSS (resourceUsage, whole run${world.reused ? '' : ', includes seeding'})`,
        `${result.scan1.memory.maxRssProcessMiB}${result.scan1.memory.maxRssRaisedByScan ? ' (raised by the scan)' : ' (set before the scan)'}`,
      ],
      ['registry child: peak RSS during scan 1 (not in the above)', result.scan1.memory.registryChildPeakRssDuringScanMiB ?? 'n/a'],
      ['registry child: VmHWM (its lifetime)', result.scan1.memory.registryChildHwmMiB ?? 'n/a'],
    );
    out.push(mem.toString());

    const era = table({
      head: ['minor', 'era', 'releases', 'req/release', 'manifest', 'blob', 'token', '401', 'max', 'bytes/release', 'repeat GETs', 'bytes / minimum', `> ${TARGET_REQUESTS_PER_RELEASE}?`],
    });
    for (const e of eras) {
      era.push([
        e.minor,
        e.era,
        e.releases,
        e.requestsPerRelease.toFixed(2),
        e.manifestPerRelease.toFixed(2),
        e.blobPerRelease.toFixed(2),
        e.tokenPerRelease.toFixed(3),
        e.unauthorizedPerRelease.toFixed(3),
        e.maxRequests,
        kib(e.bytesPerRelease),
        e.repeatGets,
        e.ratioToMinimum ?? 'n/a',
        e.overTarget ? 'ABOVE' : 'ok',
      ]);
    }
    out.push(`Registry requests per resolved release (payload × arch), by OpenShift minor (client side; a shared image is charged to the release that read it first):`);
    out.push(era.toString());

    const s2 = table({ head: ['scan 2 (same cache, unchanged world)', 'value', 'target'] });
    s2.push(
      ['wall time', secs(second.wallMs), ''],
      ['graph requests', `${second.graph.requests} (${second.graph.notModified} × 304, ${second.graph.graphs} × 200)`, `${graphPairs} (channels × arches)`],
      ['graphs seen as unchanged', String(second.report.stats.graphsUnchanged), String(graphPairs)],
      ['registry requests (client / server)', `${second.client.requests} / ${second.server.requests}`, '0'],
      ['payloads from store / resolved', `${second.report.stats.payloadsFromStore} / ${second.report.stats.payloadsResolved}`, `${first.report.stats.payloads} / 0`],
      ['same kernels as scan 1', String(result.scan2.sameKernels), 'true'],
    );
    out.push(s2.toString());

    if (flags.verbose) {
      const top = [...acc.gets.entries()].filter(([, n]) => n > 1).sort((a, b) => b[1] - a[1]).slice(0, 20);
      out.push('Most repeated GETs (scan 1):', ...top.map(([path, n]) => `  ${n} × ${path}`));
    }
    process.stdout.write(`${out.join('\n')}\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    if (!flags['keep-cache']) await rm(cacheDir, { recursive: true, force: true });
    else log(`scan cache kept in ${cacheDir}`);
    await world.stop();
  }
}

await main();
