/**
 * The scan against a hostile registry and graph, on the local world (docker-registry
 * behind the fault proxy): whatever a server does, the scan ends with a finding per
 * release it could not trust, keeps (and stores) what it resolved, uses no tampered
 * byte and contacts no host off the list.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphClient } from '#core/graph.ts';
import { RegistryClient } from '#core/registry/client.ts';
import { loadDockerConfig } from '#core/registry/credentials.ts';
import { parseImageReference } from '#core/registry/reference.ts';
import { ReleaseResolver } from '#core/release-resolver.ts';
import { scan, type ScanReport } from '#core/scan.ts';
import { FileScanStore } from '#core/scan-store.ts';
import { fixtureWorld } from '#world/fixtures.ts';
import { startWorld, type RunningWorld } from '#world/index.ts';

let world: RunningWorld;
const dirs: string[] = [];

beforeAll(async () => {
  world = await startWorld(fixtureWorld());
});
afterAll(async () => {
  await world?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function newDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'scan-hostile-'));
  dirs.push(d);
  return d;
}

async function client(): Promise<RegistryClient> {
  return new RegistryClient({ credentials: await loadDockerConfig(world.pullSecretPath), retryBaseMs: 5, maxRetries: 1, insecureRegistries: world.insecureRegistries });
}

async function runScan(channels: string[], dir: string): Promise<ScanReport> {
  const registry = await client();
  try {
    return await scan(
      { graph: new GraphClient({ url: world.graphUrl }), resolver: new ReleaseResolver(registry), store: new FileScanStore(dir) },
      { channels, arches: ['amd64'], concurrency: 4 },
    );
  } finally {
    registry.destroy();
  }
}

/** The descriptor of the last layer of a seeded release's payload (where image-references lives). */
async function lastLayerOf(version: string): Promise<{ digest: string; size: number }> {
  const release = world.seeded.find((r) => r.version === version && r.graphArch === 'amd64');
  if (!release) throw new Error(`no seeded ${version}`);
  const c = await client();
  try {
    const m = await c.getManifest(parseImageReference(release.payload), { architecture: 'amd64' });
    const last = m.manifest.layers.at(-1);
    if (!last) throw new Error('no layers');
    return last;
  } finally {
    c.destroy();
  }
}

async function tarGz(files: Record<string, string | Buffer>): Promise<Buffer> {
  const p = pack();
  for (const [name, content] of Object.entries(files)) p.entry({ name }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

const ATTACKER_DTK = 'attacker.example/evil/driver-toolkit@sha256:' + 'e'.repeat(64);

describe('scan against a hostile registry', () => {
  it('uses no byte of a tampered payload layer (image-references first): a finding, the rest resolved, nothing poisoned stored', async () => {
    const last = await lastLayerOf('4.18.14');
    const imageReferences = JSON.stringify({
      kind: 'ImageStream',
      apiVersion: 'image.openshift.io/v1',
      spec: { tags: [{ name: 'driver-toolkit', from: { kind: 'DockerImage', name: ATTACKER_DTK } }] },
    });
    let tampered = await tarGz({ 'release-manifests/image-references': imageReferences });
    // Same size as the real layer, so only the digest can tell.
    tampered = tampered.length >= last.size ? tampered.subarray(0, last.size) : Buffer.concat([tampered, Buffer.alloc(last.size - tampered.length)]);
    const fault = world.proxy.inject({
      match: { method: 'GET', path: `/blobs/${last.digest}` },
      action: { kind: 'replace-body', body: tampered },
      times: 10,
    });
    const dir = await newDir();
    try {
      const report = await runScan(['stable-4.18'], dir);
      expect(fault.hits).toBeGreaterThan(0);
      const release = report.releases.find((r) => r.version === '4.18.14');
      expect(release?.kernels).toEqual([]);
      expect(release?.findings[0]?.message).toMatch(/blob sha256:[0-9a-f]{64}: received \d+ bytes with digest/);
      expect(JSON.stringify(report)).not.toContain('attacker.example');
      expect(report.releases.filter((r) => r.version !== '4.18.14').every((r) => r.kernels.length > 0)).toBe(true);
    } finally {
      fault.cancel();
    }
    // The same cache, the honest registry: 4.18.14 resolves (its failure was not stored).
    const again = await runScan(['stable-4.18'], dir);
    expect(again.releases.find((r) => r.version === '4.18.14')?.kernels).toEqual(['5.14.0-427.68.1.el9_4.x86_64']);
  });

  it('survives a gzip bomb sent with Connection: close for a payload layer, and keeps what it resolved', async () => {
    const last = await lastLayerOf('4.18.14');
    const member = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 16 }, () => member)); // 1 GiB of zeros
    const fault = world.proxy.inject({
      match: { method: 'GET', path: `/blobs/${last.digest}` },
      action: { kind: 'replace-body', body: bomb, connectionClose: true },
      times: 10,
    });
    try {
      const report = await runScan(['stable-4.18'], await newDir());
      const release = report.releases.find((r) => r.version === '4.18.14');
      expect(release?.kernels).toEqual([]);
      expect(release?.findings[0]?.message.split('\n')).toHaveLength(1);
      expect(release?.findings[0]?.message).toMatch(/its descriptor declares \d+: refusing it/);
      expect(report.releases.filter((r) => r.version !== '4.18.14').every((r) => r.kernels.length > 0)).toBe(true);
    } finally {
      fault.cancel();
    }
  });

  it('contacts no registry off the list that a graph names', async () => {
    const seen: IncomingMessage[] = [];
    const offList = createServer((req, res) => {
      seen.push(req);
      res.end();
    });
    await new Promise<void>((resolve) => offList.listen(0, '127.0.0.9', resolve));
    try {
      const host = `127.0.0.9:${(offList.address() as AddressInfo).port}`;
      world.graph.addRelease({ version: '4.18.95', channels: ['steered-4.18'], graphArch: 'amd64', payload: `${host}/evil/ocp-release@sha256:${'d'.repeat(64)}` });
      world.graph.addRelease({ version: '4.18.14', channels: ['steered-4.18'], graphArch: 'amd64', payload: world.seeded.find((r) => r.version === '4.18.14')!.payload });
      const report = await runScan(['steered-4.18'], await newDir());
      expect(report.releases.find((r) => r.version === '4.18.95')?.findings[0]?.message).toMatch(/is not on the allowed list/);
      expect(report.releases.find((r) => r.version === '4.18.14')?.kernels).toEqual(['5.14.0-427.68.1.el9_4.x86_64']);
      expect(seen).toHaveLength(0);
    } finally {
      offList.closeAllConnections();
      await new Promise<void>((resolve) => offList.close(() => resolve()));
    }
  });
});
