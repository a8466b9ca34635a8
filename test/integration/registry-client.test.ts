/**
 * RegistryClient against the real registry (Debian's docker-registry, distribution
 * v2.8) on loopback, with filesystem storage and no auth. The test pushes a tiny
 * multi-arch image with plain HTTP calls, then reads it back with the client.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_TYPES, RegistryClient } from '#core/registry/client.ts';
import { ManifestNotFoundError } from '#core/registry/errors.ts';
import { parseImageReference } from '#core/registry/reference.ts';
import type { Descriptor } from '#core/registry/types.ts';

const REGISTRY_BIN = '/usr/bin/docker-registry';
const REPO = 'ocp/release';

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;


async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Pushes with the distribution API's monolithic upload: POST, then PUT ?digest=. */
class Pusher {
  constructor(readonly origin: string) {}

  async blob(content: Buffer, mediaType: string): Promise<Descriptor> {
    const digest = sha256(content);
    const start = await fetch(`${this.origin}/v2/${REPO}/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    const location = new URL(start.headers.get('location') ?? '', this.origin);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', body: content, headers: { 'content-type': 'application/octet-stream' } });
    expect(put.status).toBe(201);
    return { mediaType, digest, size: content.length };
  }

  async manifest(reference: string, json: unknown, mediaType: string): Promise<Descriptor> {
    const body = Buffer.from(JSON.stringify(json));
    const res = await fetch(`${this.origin}/v2/${REPO}/manifests/${reference}`, { method: 'PUT', body, headers: { 'content-type': mediaType } });
    expect(res.status, await res.text()).toBe(201);
    return { mediaType, digest: sha256(body), size: body.length };
  }

  async image(tag: string, architecture: string, layer: Buffer, format: 'oci' | 'docker' = 'oci'): Promise<{ manifest: Descriptor; layer: Descriptor }> {
    const config = await this.blob(
      Buffer.from(JSON.stringify({ architecture, os: 'linux', config: { Labels: { arch: architecture } }, rootfs: { type: 'layers', diff_ids: [] } })),
      format === 'oci' ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json',
    );
    const layerDescriptor = await this.blob(
      layer,
      format === 'oci' ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    );
    const mediaType = format === 'oci' ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest;
    const manifest = await this.manifest(
      tag,
      { schemaVersion: 2, mediaType, config, layers: [layerDescriptor] },
      mediaType,
    );
    return { manifest, layer: layerDescriptor };
  }
}

describe('RegistryClient against docker-registry', () => {
  let dir = '';
  let registry: ChildProcess | undefined;
  let host = '';
  let stderr = '';
  let client: RegistryClient;
  let amd64: { manifest: Descriptor; layer: Descriptor };
  let arm64: { manifest: Descriptor; layer: Descriptor };
  let docker: { manifest: Descriptor; layer: Descriptor };
  let index: Descriptor;
  const amd64Layer = randomBytes(1024 * 1024);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'registry-client-'));
    const config = join(dir, 'config.yml');
    await writeFile(
      config,
      [
        'version: 0.1',
        'log:',
        '  level: info', // its "listening on" line names the port it picked
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${join(dir, 'data')}`,
        'http:',
        // Port 0: the registry picks a free port itself (one picked here could be taken by another test file first).
        '  addr: 127.0.0.1:0',
        '  secret: registry-client-test',
        '',
      ].join('\n'),
    );
    registry = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let port: string | undefined;
    registry.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      port ??= /listening on 127\.0\.0\.1:(\d+)/.exec(stderr)?.[1];
    });

    // Generous: a loaded CI machine (test files run in parallel on two cores) starts processes slowly.
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (port !== undefined && (await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false))) break;
      if (Date.now() > deadline || registry.exitCode !== null) throw new Error(`docker-registry did not start: ${stderr}`);
      await sleep(50);
    }
    host = `127.0.0.1:${port}`;
    const origin = `http://${host}`;

    const push = new Pusher(origin);
    amd64 = await push.image('single', 'amd64', amd64Layer);
    arm64 = await push.image('arm64', 'arm64', Buffer.from('arm64 layer'));
    docker = await push.image('docker', 's390x', Buffer.from('docker layer'), 'docker');
    index = await push.manifest(
      'multi',
      {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociIndex,
        manifests: [
          { ...amd64.manifest, platform: { architecture: 'amd64', os: 'linux' } },
          { ...arm64.manifest, platform: { architecture: 'arm64', os: 'linux' } },
        ],
      },
      MEDIA_TYPES.ociIndex,
    );
    client = new RegistryClient({ retryBaseMs: 10, requestTimeoutMs: 30_000, insecureRegistries: [host] });
  });

  afterAll(async () => {
    await client?.close();
    registry?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('tells whether a tag exists', async () => {
    expect(await client.exists(parseImageReference(`${host}/${REPO}:single`))).toBe(true);
    expect(await client.exists(parseImageReference(`${host}/${REPO}:multi`))).toBe(true);
    expect(await client.exists(parseImageReference(`${host}/${REPO}:missing`))).toBe(false);
    expect(await client.exists(parseImageReference(`${host}/${REPO}@${amd64.manifest.digest}`))).toBe(true);
  });

  it('reads an OCI manifest, its config and its layer', async () => {
    const resolved = await client.getManifest(parseImageReference(`${host}/${REPO}:single`));
    expect(resolved.digest).toBe(amd64.manifest.digest);
    expect(resolved.mediaType).toBe(MEDIA_TYPES.ociManifest);
    expect((await client.getConfig(resolved)).config?.Labels).toEqual({ arch: 'amd64' });

    const before = client.stats.bytes;
    const layer = await readAll(await client.openBlob(resolved.ref, amd64.layer));
    expect(layer.equals(amd64Layer)).toBe(true);
    expect(client.stats.bytes - before).toBe(amd64Layer.length);
  });

  it('selects a platform from an OCI index', async () => {
    const ref = parseImageReference(`${host}/${REPO}:multi`);
    expect(await client.listPlatforms(ref)).toEqual([
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux' },
    ]);
    const resolved = await client.getManifest(ref, { architecture: 'arm64' });
    expect(resolved).toMatchObject({ digest: arm64.manifest.digest, indexDigest: index.digest });
    expect((await readAll(await client.openBlob(resolved.ref, arm64.layer))).toString()).toBe('arm64 layer');
    await expect(client.getManifest(ref, { architecture: 's390x' })).rejects.toThrow(/it has linux\/amd64, linux\/arm64/);
  });

  it('reads a Docker v2 manifest by digest', async () => {
    const resolved = await client.getManifest(parseImageReference(`${host}/${REPO}@${docker.manifest.digest}`));
    expect(resolved.mediaType).toBe(MEDIA_TYPES.dockerManifest);
    expect((await client.getConfig(resolved)).architecture).toBe('s390x');
  });

  it('reports a missing tag as ManifestNotFoundError', async () => {
    await expect(client.getManifest(parseImageReference(`${host}/${REPO}:missing`))).rejects.toBeInstanceOf(ManifestNotFoundError);
  });

  it('makes one request per manifest on a registry without auth', async () => {
    const before = client.stats.requests;
    await client.getManifest(parseImageReference(`${host}/${REPO}:single`));
    expect(client.stats.requests - before).toBe(1);
  });
});
