/**
 * The scan, end to end, against the local world: a real docker-registry with token
 * auth behind a fault proxy, and a Cincinnati stand-in. Expected kernels come from
 * the hand-written FIXTURE_EXPECTATIONS table, not from the fixture builders.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphArch } from '#core/arch.ts';
import { kernelArchOf } from '#core/arch.ts';
import { GraphClient } from '#core/graph.ts';
import { RegistryClient } from '#core/registry/client.ts';
import { loadDockerConfig } from '#core/registry/credentials.ts';
import { ReleaseResolver } from '#core/release-resolver.ts';
import { scan, type ScanReport } from '#core/scan.ts';
import { FileScanStore } from '#core/scan-store.ts';
import { FAULT_CHANNELS, FIXTURE_EXPECTATIONS, OKD_CHANNEL, fixtureWorld } from '#world/fixtures.ts';
import { misorderedContentLayer } from '#world/eras.ts';
import { buildLayer } from '#world/oci.ts';
import { startWorld, type RunningWorld } from '#world/index.ts';

let world: RunningWorld;
let cacheDir: string;

beforeAll(async () => {
  world = await startWorld(fixtureWorld());
  cacheDir = await mkdtemp(join(tmpdir(), 'scan-cache-'));
});
afterAll(async () => {
  await world?.stop();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

const allChannels = () => [...new Set(FIXTURE_EXPECTATIONS.flatMap((e) => e.channels))].sort();

async function runScan(
  channels: readonly string[],
  arches: readonly GraphArch[],
  opts: { dir?: string; anonymous?: boolean; client?: RegistryClient } = {},
): Promise<{ report: ScanReport; registry: RegistryClient }> {
  const registry =
    opts.client ??
    new RegistryClient(
      opts.anonymous
        ? { retryBaseMs: 5, insecureRegistries: world.insecureRegistries }
        : { credentials: await loadDockerConfig(world.pullSecretPath), retryBaseMs: 5, insecureRegistries: world.insecureRegistries },
    );
  const report = await scan(
    {
      graph: new GraphClient({ url: world.graphUrl }),
      // OKD's channel is served by OKD's own graph, as upstream.
      channelGraphs: new Map([[OKD_CHANNEL, new GraphClient({ url: world.okdGraphUrl })]]),
      resolver: new ReleaseResolver(registry),
      store: new FileScanStore(opts.dir ?? cacheDir),
    },
    { channels, arches, concurrency: 4 },
  );
  return { report, registry };
}

describe('scan of the fixture world', () => {
  let report: ScanReport;

  beforeAll(async () => {
    ({ report } = await runScan(allChannels(), ['amd64', 'arm64', 'multi']));
  });

  it('resolves every release and arch of every era exactly as expected', () => {
    const actual = report.releases.map((r) => ({ version: r.version, arch: r.arch, kernels: r.kernels }));
    const expected = FIXTURE_EXPECTATIONS.map((e) => ({ version: e.version, arch: kernelArchOf(e.arch), kernels: e.kernels.map((k) => k.kernel) }));
    const key = (r: { version: string; arch: string }) => `${r.version}/${r.arch}`;
    expect(actual.map(key).sort()).toEqual(expected.map(key).sort());
    for (const e of expected) expect(actual.find((a) => key(a) === key(e))?.kernels, key(e)).toEqual(e.kernels);
  });

  it('reports RT, 64k, RHEL and RHCOS versions and the DTK for each kernel', () => {
    for (const e of FIXTURE_EXPECTATIONS) {
      for (const k of e.kernels) {
        const record = report.kernels.find((r) => r.kernel === k.kernel && r.arch === kernelArchOf(e.arch));
        const where = `${e.version}/${e.arch} ${k.kernel}`;
        expect(record, where).toBeDefined();
        expect({ rt: record!.rtKernel, k64: record!.kernel64k, rhel: record!.rhelVersion }, where).toEqual({ rt: k.rtKernel, k64: k.kernel64k, rhel: k.rhelVersion });
        expect(record!.rhcosVersions, where).toContain(k.rhcosVersion);
        expect(record!.releases, where).toContain(e.version);
        // RHEL 10 in 4.21/4.22 is a Tech Preview without a DTK of its own.
        if (k.dtkTag === null) expect(record!.dtkImages, where).toEqual([]);
        else expect(record!.dtkImages.length, where).toBeGreaterThan(0);
      }
    }
  });

  it('records the findings each release should have, and no others', () => {
    for (const e of FIXTURE_EXPECTATIONS) {
      const release = report.releases.find((r) => r.version === e.version && r.arch === kernelArchOf(e.arch));
      const codes = [...new Set(release?.findings.map((f) => f.code))].sort();
      expect(codes, `${e.version}/${e.arch}`).toEqual([...new Set(e.findings)].sort());
    }
  });

  it('never passes on a kernel string with shell metacharacters', () => {
    const text = JSON.stringify(report.kernels);
    expect(text).not.toMatch(/[;`$]|rm -rf/);
    const release = report.releases.find((r) => r.channels.includes(FAULT_CHANNELS.shellMetacharacters));
    expect(release?.findings[0]?.message).toContain('rm -rf');
  });

  it('deduplicates a kernel shared by four z-streams across 4.14 and 4.15', () => {
    const shared = report.kernels.find((k) => k.kernel === '5.14.0-284.77.1.el9_2.x86_64');
    expect(shared?.releases).toEqual(['4.14.34', '4.14.35', '4.15.23', '4.15.24']);
    expect(report.kernels.filter((k) => k.kernel === '5.14.0-284.77.1.el9_2.x86_64')).toHaveLength(1);
  });

  it('marks kernels seen only in candidate channels or only in ec/rc releases as prerelease', () => {
    const prerelease = new Set(report.kernels.filter((k) => k.prerelease).flatMap((k) => k.releases));
    expect(prerelease).toContain('4.17.0-ec.2');
    expect(prerelease).toContain('4.17.0-rc.1');
    expect(prerelease).toContain('5.0.0-ec.1');
    expect(prerelease).toContain('4.9.0-rc.1');
    expect(prerelease).not.toContain('4.18.14');
  });

  it('resolves a multi payload once per architecture entry', () => {
    const multi = report.releases.filter((r) => r.version === '4.20.2').map((r) => r.arch).sort();
    expect(multi).toEqual(['aarch64', 'ppc64le', 's390x', 'x86_64']);
  });

  it('records RHEL 10 of 4.21 and 4.22 as its own stream, with no release DTK', () => {
    for (const version of ['4.21.1', '4.22.0']) {
      const streams = report.releases.find((x) => x.version === version && x.arch === 'x86_64')?.kernels;
      expect(streams, version).toHaveLength(2);
    }
    const rhel10 = report.kernels.find((k) => k.kernel === '6.12.0-124.31.1.el10_1.x86_64');
    expect(rhel10).toMatchObject({ streams: ['rhel-coreos-10'], dtkImages: [], rtKernel: '6.12.0-124.31.1.el10_1.x86_64+rt', rhelVersion: '10.1' });
    // 5.0 has driver-toolkit-10.
    expect(report.kernels.find((k) => k.kernel === '6.12.0-230.el10.x86_64')?.dtkImages).toHaveLength(1);
  });

  it('scans OKD beside OpenShift: stream-coreos kernels, okd-scos versions, its own graph', () => {
    const okd = report.releases.filter((r) => r.channels.includes(OKD_CHANNEL)).map((r) => r.version);
    expect(okd).toEqual(['4.19.0-okd-scos.17', '4.20.0-okd-scos.ec.14', '4.22.0-okd-scos.2']);
    const ga = report.kernels.find((k) => k.kernel === '5.14.0-570.el9.x86_64');
    expect(ga).toMatchObject({ prerelease: false, streams: ['stream-coreos'], rhelVersion: '9' });
    // An engineering candidate listed in a stable channel is still a pre-release.
    expect(report.kernels.find((k) => k.kernel === '5.14.0-604.el9.x86_64')?.prerelease).toBe(true);
    expect(world.okdGraph.stats.requests).toBeGreaterThan(0);
  });

  it('reports the DTK OKD 4.22 built for another kernel (okd#2350) as dtk-kernel-mismatch', () => {
    const r = report.releases.find((x) => x.version === '4.22.0-okd-scos.2');
    expect(r?.kernels).toEqual(['6.12.0-224.el10.x86_64']);
    const mismatch = r?.findings.find((f) => f.code === 'dtk-kernel-mismatch');
    expect(mismatch?.message).toContain('6.12.0-212.el10.x86_64');
    expect(mismatch?.message).toContain('6.12.0-224.el10.x86_64');
  });

  it('finds the kernel when meta.json is not in the last layer, names the source, and never reads the big layer', () => {
    const r = report.releases.find((x) => x.version === '4.22.0-rc.1');
    const fallbacks = r?.findings.filter((f) => f.code === 'kernel-source-fallback').map((f) => `${f.source}: ${f.message}`);
    expect(fallbacks).toHaveLength(2);
    // The node image's own small earlier layer is preferred to the DTK's word.
    expect(fallbacks?.find((m) => m.startsWith('rhel-coreos:'))).toMatch(/5\.14\.0-687\.5\.1\.el9_8\.x86_64 comes from .*meta\.json in layer 3 of 4 \(\d+ bytes\)/);
    expect(fallbacks?.find((m) => m.startsWith('rhel-coreos-10:'))).toMatch(/in layer 3 of 4 \(\d+ bytes\)/);
    // meta.json only inside the big layer: RHEL 9 from the DTK file, RHEL 10 (no DTK) has no kernel.
    const ec3 = report.releases.find((x) => x.version === '4.22.0-ec.3')?.findings.filter((f) => f.code === 'kernel-source-fallback');
    expect(ec3?.find((f) => f.source === 'rhel-coreos')?.message).toContain('comes from driver-toolkit etc/driver-toolkit-release.json');
    expect(ec3?.find((f) => f.source === 'rhel-coreos-10')?.message).toContain('no other source names its kernel');
    // 4.21: the label ostree.linux still names the kernel, so nothing more is read.
    const r421 = report.releases.find((x) => x.version === '4.21.9')?.findings.map((f) => f.message);
    expect(r421).toHaveLength(2);
    for (const m of r421!) expect(m).toContain('label ostree.linux');
    const big = buildLayer(misorderedContentLayer(), 'oci').blob.digest;
    expect(world.proxy.log.filter((e) => e.path.endsWith(big))).toEqual([]);
    // Nor the big layers that alone hold meta.json in 4.22.0-ec.3's node images.
    const ec3Spec = fixtureWorld().releases.find((x) => x.version === '4.22.0-ec.3')!.arches[0]!;
    for (const tag of ['rhel-coreos', 'rhel-coreos-10']) {
      const layer = ec3Spec.components[tag]!.image.layers[1]!;
      expect(layer.fillerBytes, tag).toBeGreaterThan(1024 * 1024);
      const digest = buildLayer(layer, 'oci').blob.digest;
      expect(world.proxy.log.filter((e) => e.path.endsWith(digest)), tag).toEqual([]);
    }
  });

  it('reports two kernels for a release with a RHEL 10 stream', () => {
    const r = report.releases.find((x) => x.version === '4.22.0' && x.arch === 'x86_64');
    expect(r?.kernels).toEqual(['5.14.0-687.12.1.el9_8.x86_64', '6.12.0-211.10.1.el10_2.x86_64']);
  });
});

describe('a second scan of an unchanged world', () => {
  it('costs one graph request per channel × arch and no registry request', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'scan-cache-'));
    try {
      const channels = ['stable-4.18', 'stable-4.15', 'candidate-4.22'];
      const first = await runScan(channels, ['amd64', 'arm64'], { dir });
      expect(first.registry.stats.requests).toBeGreaterThan(0);
      const graphBefore = world.graph.stats.requests;
      const second = await runScan(channels, ['amd64', 'arm64'], { dir });
      expect(world.graph.stats.requests - graphBefore).toBe(6);
      expect(second.registry.stats.requests).toBe(0);
      expect(second.report.kernels).toEqual(first.report.kernels);
      expect(second.report.stats.payloadsFromStore).toBe(first.report.stats.payloads);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('faults', () => {
  it('reports payloads it cannot read as resolve-failed with the reason, and goes on', async () => {
    const { report } = await runScan(
      [FAULT_CHANNELS.missingImageReferences, FAULT_CHANNELS.imageReferencesNotJson, FAULT_CHANNELS.truncatedGzip, 'stable-4.18'],
      ['amd64'],
      { dir: await mkdtemp(join(tmpdir(), 'scan-cache-')) },
    );
    const failed = Object.fromEntries(report.releases.filter((r) => r.kernels.length === 0).map((r) => [r.version, r.findings[0]?.message]));
    expect(failed['4.17.3']).toMatch(/no release-manifests\/image-references/);
    expect(failed['4.17.4']).toMatch(/image-references is not JSON/);
    expect(failed['4.17.5']).toMatch(/unexpected end of file/);
    expect(report.kernels.some((k) => k.releases.includes('4.18.14'))).toBe(true);
  });

  it('ends with an auth error naming the repository when the component images need a pull secret', async () => {
    await expect(runScan(['stable-4.18'], ['amd64'], { anonymous: true, dir: await mkdtemp(join(tmpdir(), 'scan-cache-')) })).rejects.toThrow(
      /ocp-v4\.0-art-dev/,
    );
  });

  it('retries a 429 with Retry-After and a 503 and still resolves the release', async () => {
    const rateLimited = world.proxy.inject({ match: { pathClass: 'manifest' }, action: { kind: 'rate-limit', retryAfterSeconds: 1 }, times: 1 });
    const unavailable = world.proxy.inject({ match: { pathClass: 'blob' }, action: { kind: 'server-error', status: 503 }, times: 2 });
    const { report } = await runScan(['stable-4.18'], ['amd64'], { dir: await mkdtemp(join(tmpdir(), 'scan-cache-')) });
    expect(rateLimited.hits).toBe(1);
    expect(unavailable.hits).toBe(2);
    expect(report.stats.payloadsFailed).toBe(0);
    expect(report.releases.find((r) => r.version === '4.18.14')?.kernels).toEqual(['5.14.0-427.68.1.el9_4.x86_64']);
  });

  it('follows blob redirects to a CDN without sending it the registry token', async () => {
    world.proxy.setCdnRedirect(true);
    try {
      const before = world.cdn.stats.requests;
      const { report } = await runScan(['stable-4.19'], ['amd64'], { dir: await mkdtemp(join(tmpdir(), 'scan-cache-')) });
      expect(world.cdn.stats.requests).toBeGreaterThan(before);
      expect(world.cdn.stats.withAuthorization).toBe(0);
      expect(report.stats.payloadsFailed).toBe(0);
    } finally {
      world.proxy.setCdnRedirect(false);
    }
  });

  it('re-authenticates once when a token it still trusts is refused mid-scan', async () => {
    // Tokens really last 3 s (2 to 3: their exp is in whole seconds), but the token service says 300 s: the
    // client keeps using one the registry refuses. 3 s, not 1: a fresh token must still be good for the retry
    // a loaded machine makes a moment later.
    world.tokenService.setTtlSeconds(3);
    world.tokenService.setAdvertisedTtlSeconds(300);
    try {
      const client = new RegistryClient({ credentials: await loadDockerConfig(world.pullSecretPath), retryBaseMs: 5, insecureRegistries: world.insecureRegistries });
      await runScan(['stable-4.17'], ['amd64'], { client, dir: await mkdtemp(join(tmpdir(), 'scan-cache-')) });
      await new Promise((r) => setTimeout(r, 3200)); // every token of the first scan has expired
      world.proxy.resetStats(); // the log keeps the last 2,000 requests: start it afresh
      const { report } = await runScan(['stable-4.18'], ['amd64'], { client, dir: await mkdtemp(join(tmpdir(), 'scan-cache-')) });
      const after = world.proxy.log;
      expect(after.filter((e) => e.status === 401 && e.pathClass !== 'token').length).toBeGreaterThan(0);
      expect(report.stats.payloadsFailed).toBe(0);
      expect(report.releases.find((r) => r.version === '4.18.14')?.kernels).toEqual(['5.14.0-427.68.1.el9_4.x86_64']);
    } finally {
      world.tokenService.setTtlSeconds(300);
      world.tokenService.setAdvertisedTtlSeconds(undefined);
    }
  });

  it('reports graph nodes whose payload is not pinned by digest or not a pull spec as graph findings, and resolves the rest', async () => {
    world.graph.addRelease({ version: '4.18.90', channels: ['odd-4.18'], graphArch: 'amd64', payload: `${world.registryHost}/openshift-release-dev/ocp-release:4.18.90-x86_64` });
    world.graph.addRelease({ version: '4.18.91', channels: ['odd-4.18'], graphArch: 'amd64', payload: 'not a pull spec;rm -rf /' });
    world.graph.addRelease({ version: '4.18.14', channels: ['odd-4.18'], graphArch: 'amd64', payload: world.seeded.find((r) => r.version === '4.18.14')!.payload });
    const { report } = await runScan(['odd-4.18'], ['amd64'], { dir: await mkdtemp(join(tmpdir(), 'scan-cache-')) });
    // Each bad node is one graph finding (channel, arch, version), skipped before any registry request.
    const skipped = Object.fromEntries(report.graphFindings.map((f) => [f.version, f]));
    expect(skipped['4.18.90']).toMatchObject({ code: 'malformed-graph-node', channel: 'odd-4.18', arch: 'amd64', message: expect.stringMatching(/not pinned by digest/) });
    expect(skipped['4.18.91']).toMatchObject({ code: 'malformed-graph-node', channel: 'odd-4.18', arch: 'amd64', message: expect.stringMatching(/not a pull spec/) });
    expect(report.releases.map((r) => r.version)).toEqual(['4.18.14']);
    expect(report.releases[0]?.kernels).toEqual(['5.14.0-427.68.1.el9_4.x86_64']);
  });

  it('keeps scanning the other channels when one graph is not JSON', async () => {
    world.graph.setFault('stable-4.18', 'not-json');
    try {
      const { report } = await runScan(['stable-4.18', 'stable-4.17'], ['amd64'], { dir: await mkdtemp(join(tmpdir(), 'scan-cache-')) });
      expect(report.graphErrors).toHaveLength(1);
      expect(report.graphErrors[0]?.message).toMatch(/stable-4\.18.*not JSON/);
      expect(report.releases.some((r) => r.version === '4.17.2')).toBe(true);
    } finally {
      world.graph.setFault('stable-4.18', undefined);
    }
  });
});
