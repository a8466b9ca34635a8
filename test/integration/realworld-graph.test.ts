/**
 * Real update-graph data (../shared/realworld/graph, see its PROVENANCE.md): every
 * captured graph response is served verbatim by a local HTTP server and read by the
 * GraphClient as the poller reads the real service; real channel files and
 * ClusterVersions (OpenShift and OKD) go through the version and channel rules.
 * Expected numbers were counted by hand from the files (python/jq), not by this code.
 */
import { readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { GraphArch } from '#core/arch.ts';
import { CHANNEL_PATTERN, GraphClient, OKD_CHANNEL_PATTERN, OKD_GRAPH_URL, channelsOf } from '#core/graph.ts';
import { payloadReference } from '#core/release-resolver.ts';
import { compareOpenShiftVersions, isOkdVersion, isPrereleaseVersion, parseOpenShiftVersion } from '#core/versions.ts';
import { REALWORLD_DIR, realFile } from '../support/realworld.ts';

interface CapturedGraph {
  readonly file: string;
  readonly channel: string;
  readonly arch: GraphArch;
  readonly nodes: number;
  readonly edges: number;
  readonly conditionalEdges: number;
  readonly oldest: string;
  readonly newest: string;
  /** Nodes that are not generally available (rc, hotfix builds). */
  readonly prerelease: number;
}

const E2E = 'graph/cincinnati-e2e';
const COMMIT = '134475077ed4eeaedf3c339f12915b9cdaf7d194';
const CAPTURED: readonly CapturedGraph[] = [
  { file: `${E2E}/${COMMIT}_candidate-4.12_multi_v1.json`, channel: 'candidate-4.12', arch: 'multi', nodes: 5, edges: 10, conditionalEdges: 0, oldest: '4.12.0-rc.0', newest: '4.12.0-rc.4', prerelease: 5 },
  { file: `${E2E}/${COMMIT}_stable-4.7_amd64_v1.json`, channel: 'stable-4.7', arch: 'amd64', nodes: 102, edges: 3244, conditionalEdges: 2, oldest: '4.6.1', newest: '4.7.60', prerelease: 0 },
  { file: `${E2E}/${COMMIT}_stable-4.7_s390x_v1.json`, channel: 'stable-4.7', arch: 's390x', nodes: 102, edges: 3244, conditionalEdges: 2, oldest: '4.6.1', newest: '4.7.60', prerelease: 0 },
  { file: `${E2E}/${COMMIT}_stable-4.8_amd64_v1.json`, channel: 'stable-4.8', arch: 'amd64', nodes: 101, edges: 3168, conditionalEdges: 1, oldest: '4.7.0', newest: '4.8.54', prerelease: 0 },
  { file: `${E2E}/${COMMIT}_stable-4.8_s390x_v1.json`, channel: 'stable-4.8', arch: 's390x', nodes: 101, edges: 3168, conditionalEdges: 1, oldest: '4.7.0', newest: '4.8.54', prerelease: 0 },
  { file: `${E2E}/${COMMIT}_stable-4.9_amd64_v1.json`, channel: 'stable-4.9', arch: 'amd64', nodes: 90, edges: 2544, conditionalEdges: 0, oldest: '4.8.2', newest: '4.9.53', prerelease: 0 },
  { file: `${E2E}/${COMMIT}_stable-4.9_s390x_v1.json`, channel: 'stable-4.9', arch: 's390x', nodes: 90, edges: 2544, conditionalEdges: 0, oldest: '4.8.2', newest: '4.9.53', prerelease: 0 },
  // 4.2.11-s390x … 4.2.13-s390x: GA versions that carry their arch.
  { file: `${E2E}/old_421646a6e9592b179c26b3c77d406820c479a19c_stable-4.2_s390x_v1.json`, channel: 'stable-4.2', arch: 's390x', nodes: 18, edges: 96, conditionalEdges: 0, oldest: '4.2.11-s390x', newest: '4.2.36', prerelease: 0 },
  // 4.3.0-0.hotfix-2020-09-30-133631: a hotfix build in a stable channel, not GA.
  { file: `${E2E}/old_421646a6e9592b179c26b3c77d406820c479a19c_stable-4.3_amd64_v1.json`, channel: 'stable-4.3', arch: 'amd64', nodes: 41, edges: 327, conditionalEdges: 0, oldest: '4.2.16', newest: '4.3.40', prerelease: 1 },
  { file: 'graph/oc-mirror/amd64-stable-4.13.json', channel: 'stable-4.13', arch: 'amd64', nodes: 98, edges: 1171, conditionalEdges: 37, oldest: '4.12.0', newest: '4.13.43', prerelease: 0 },
];

let server: Server;
let baseUrl: string;
const served = new Map<string, Buffer>();

beforeAll(async () => {
  for (const g of CAPTURED) served.set(`${g.channel}/${g.arch}`, await realFile(g.file));
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const body = served.get(`${url.searchParams.get('channel')}/${url.searchParams.get('arch')}`);
    if (!body) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Error","reason":"unknown channel"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/upgrades_info/v1/graph`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('captured update graphs, served verbatim', () => {
  it('covers every captured graph in the shared folder', async () => {
    const files = [
      ...(await readdir(join(REALWORLD_DIR, E2E))).map((f) => `${E2E}/${f}`),
      ...(await readdir(join(REALWORLD_DIR, 'graph/oc-mirror'))).map((f) => `graph/oc-mirror/${f}`),
    ].filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(CAPTURED.map((g) => g.file).sort());
  });

  for (const g of CAPTURED) {
    it(`parses ${g.channel}/${g.arch} (${g.file.split('/').at(-1)})`, async () => {
      const fetched = await new GraphClient({ url: baseUrl }).fetch(g.channel, g.arch);
      if (!fetched.changed) throw new Error('a first fetch cannot be unchanged');
      const { graph } = fetched;
      expect({ nodes: graph.nodes.length, edges: graph.edges.length, conditionalEdges: graph.conditionalEdges?.length ?? 0 }).toEqual({
        nodes: g.nodes,
        edges: g.edges,
        conditionalEdges: g.conditionalEdges,
      });
      const versions = graph.nodes.map((n) => n.version);
      for (const v of versions) expect(parseOpenShiftVersion(v), v).toBeDefined();
      const sorted = [...versions].sort(compareOpenShiftVersions);
      expect([sorted[0], sorted.at(-1)]).toEqual([g.oldest, g.newest]);
      expect(versions.filter(isPrereleaseVersion)).toHaveLength(g.prerelease);
      // Every payload is pinned by digest, and edges point at nodes.
      for (const n of graph.nodes) expect(payloadReference(n.payload).digest, n.version).toMatch(/^sha256:[0-9a-f]{64}$/);
      for (const [from, to] of graph.edges) expect(Math.max(from, to)).toBeLessThan(g.nodes);
      // The channels a node's metadata lists are all channel names.
      for (const n of graph.nodes) expect(channelsOf(n).length, n.version).toBeGreaterThan(0);
    });
  }

  it('reads the channels a node is listed in from its metadata', async () => {
    const fetched = await new GraphClient({ url: baseUrl }).fetch('candidate-4.12', 'multi');
    if (!fetched.changed) throw new Error('unchanged');
    const rc4 = fetched.graph.nodes.find((n) => n.version === '4.12.0-rc.4');
    expect(rc4 && channelsOf(rc4)).toEqual(['candidate-4.12', 'candidate-4.13']);
    expect(rc4?.metadata?.['release.openshift.io/architecture']).toBe('multi');
  });
});

describe('real channel files (cincinnati-graph-data)', () => {
  // name → [versions, of which not GA], counted by hand from the files.
  const CHANNEL_FILES: Record<string, readonly [number, number]> = {
    'candidate-4.12': [174, 19],
    'candidate-4.22': [106, 28],
    'candidate-5.0': [31, 19],
    'stable-4.22': [71, 0],
    'eus-4.22': [71, 0],
    'fast-4.21': [63, 0],
  };
  for (const [name, [count, notGa]] of Object.entries(CHANNEL_FILES)) {
    it(`${name}: every version parses, ${notGa} of ${count} are pre-releases`, async () => {
      const file = parseYaml((await realFile(`graph/cincinnati-graph-data/channels_${name}.yaml`)).toString('utf8')) as { name: string; versions: string[] };
      expect(file.name).toBe(name);
      expect(CHANNEL_PATTERN.test(name)).toBe(true);
      expect(file.versions).toHaveLength(count);
      for (const v of file.versions) expect(parseOpenShiftVersion(v), v).toBeDefined();
      expect(file.versions.filter(isPrereleaseVersion)).toHaveLength(notGa);
    });
  }
});

/** availableUpdates of the 4.14.1 ClusterVersion, counted by hand. */
const COUNTED_414_UPDATES = 10;

describe('real ClusterVersions', () => {
  it('OKD: stable-scos-4 on the OKD graph, okd-scos versions, an ec offered in a stable channel', async () => {
    const cv = parseYaml((await realFile('graph/oc-clusterversion/4.19.0-okd-scos.16-cv.yaml')).toString('utf8')) as {
      spec: { channel: string; upstream: string };
      status: { availableUpdates: { image: string; version: string }[]; desired: { version: string } };
    };
    expect(CHANNEL_PATTERN.test(cv.spec.channel)).toBe(true);
    expect(OKD_CHANNEL_PATTERN.test(cv.spec.channel)).toBe(true);
    expect(cv.spec.upstream).toBe(OKD_GRAPH_URL);
    const updates = Object.fromEntries(cv.status.availableUpdates.map((u) => [u.version, isPrereleaseVersion(u.version)]));
    expect(updates).toEqual({ '4.20.0-okd-scos.ec.14': true, '4.19.0-okd-scos.17': false });
    for (const u of cv.status.availableUpdates) {
      expect(isOkdVersion(u.version)).toBe(true);
      expect(payloadReference(u.image).repository).toMatch(/^origin\/release-scos(-next)?$/);
    }
    expect(compareOpenShiftVersions(cv.status.desired.version, '4.19.0-okd-scos.17')).toBeLessThan(0);
  });

  it('OpenShift: every offered and applied release is a pinned payload with a GA version', async () => {
    // A `List` holding the ClusterVersion, on the integration graph (…/api/upgrades_info/graph, no /v1).
    const list = parseYaml((await realFile('graph/oc-clusterversion/4.14.1-all-recommended-cv.yaml')).toString('utf8')) as {
      items: {
        spec: { channel: string; upstream: string };
        status: { availableUpdates: { image: string; version: string; channels: string[] }[]; history: { image: string; version: string }[] };
      }[];
    };
    const cv = list.items[0]!;
    expect(cv.spec.upstream).toBe('https://api.integration.openshift.com/api/upgrades_info/graph');
    expect(CHANNEL_PATTERN.test(cv.spec.channel)).toBe(true);
    expect(cv.status.availableUpdates).toHaveLength(COUNTED_414_UPDATES);
    for (const u of cv.status.availableUpdates) for (const c of u.channels) expect(CHANNEL_PATTERN.test(c), c).toBe(true);
    expect(OKD_CHANNEL_PATTERN.test(cv.spec.channel)).toBe(false);
    for (const u of [...cv.status.availableUpdates, ...cv.status.history]) {
      expect(isPrereleaseVersion(u.version), u.version).toBe(false);
      expect(payloadReference(u.image).digest, u.version).toBeDefined();
    }
  });
});
