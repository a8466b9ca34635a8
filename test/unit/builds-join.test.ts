import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeIndex, joinImages, type JoinRegistry } from '#core/builds/join.ts';
import { ManifestNotFoundError } from '#core/registry/errors.ts';
import { MEDIA_TYPES } from '#core/registry/client.ts';
import type { Descriptor, ImageConfig, ImageRef, ResolvedManifest } from '#core/registry/types.ts';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** An in-memory registry with just what the join uses; counts PUTs. */
class FakeRegistry implements JoinRegistry {
  readonly manifests = new Map<string, { mediaType: string; bytes: Buffer }>();
  readonly configs = new Map<string, ImageConfig>();
  puts = 0;

  image(tag: string, architecture: string, mediaType: string = MEDIA_TYPES.ociManifest): string {
    const configDigest = sha(Buffer.from(`config ${tag}`));
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config: { mediaType: 'x', digest: configDigest, size: 1 }, layers: [] }));
    this.manifests.set(tag, { mediaType, bytes });
    this.configs.set(configDigest, { architecture, os: 'linux' });
    return sha(bytes);
  }

  async getManifestBytes(ref: ImageRef) {
    const m = this.manifests.get(ref.tag ?? '');
    if (m === undefined) throw new ManifestNotFoundError(`${ref.repository}:${ref.tag}`, { url: 'http://127.0.0.1/v2/' });
    return { digest: sha(m.bytes), mediaType: m.mediaType, bytes: m.bytes };
  }

  async getConfig(image: ResolvedManifest): Promise<ImageConfig> {
    return this.configs.get(image.manifest.config.digest) ?? {};
  }

  async describeManifest(ref: ImageRef): Promise<Descriptor | undefined> {
    const m = this.manifests.get(ref.tag ?? '');
    return m === undefined ? undefined : { mediaType: m.mediaType, digest: sha(m.bytes), size: m.bytes.length };
  }

  async putManifest(ref: ImageRef, mediaType: string, bytes: Buffer): Promise<string> {
    this.puts++;
    this.manifests.set(ref.tag ?? '', { mediaType, bytes });
    return sha(bytes);
  }
}

const repository: ImageRef = { registry: 'quay.io', repository: 'org/driver-toolkit' };
const request = {
  repository,
  tag: '5.14.0-427.68.1.el9_4',
  archTags: { x86_64: '5.14.0-427.68.1.el9_4.x86_64', aarch64: '5.14.0-427.68.1.el9_4.aarch64' },
};

describe('joinImages', () => {
  it('pushes an OCI index of both arches with platforms from the image configs', async () => {
    const reg = new FakeRegistry();
    const amd = reg.image('5.14.0-427.68.1.el9_4.x86_64', 'amd64');
    const arm = reg.image('5.14.0-427.68.1.el9_4.aarch64', 'arm64');
    const result = await joinImages(reg, request);
    expect(result.status).toBe('pushed');
    const index = JSON.parse(reg.manifests.get(request.tag)?.bytes.toString() ?? '{}');
    expect(index.mediaType).toBe(MEDIA_TYPES.ociIndex);
    expect(index.manifests.map((m: { digest: string; platform: unknown }) => [m.digest, m.platform])).toEqual([
      [amd, { architecture: 'amd64', os: 'linux' }],
      [arm, { architecture: 'arm64', os: 'linux' }],
    ]);
  });

  it('does nothing when the tag already names the same index', async () => {
    const reg = new FakeRegistry();
    reg.image(request.archTags.x86_64, 'amd64');
    reg.image(request.archTags.aarch64, 'arm64');
    const first = await joinImages(reg, request);
    const second = await joinImages(reg, request);
    expect(second).toMatchObject({ status: 'unchanged', digest: first.status === 'incomplete' ? '' : first.digest });
    expect(reg.puts).toBe(1);
  });

  it('replaces the index when an arch was rebuilt', async () => {
    const reg = new FakeRegistry();
    reg.image(request.archTags.x86_64, 'amd64');
    reg.image(request.archTags.aarch64, 'arm64');
    await joinImages(reg, request);
    reg.image(request.archTags.aarch64, 'arm64', MEDIA_TYPES.dockerManifest);
    expect((await joinImages(reg, request)).status).toBe('pushed');
    expect(reg.puts).toBe(2);
  });

  it('waits for every arch: incomplete, nothing pushed', async () => {
    const reg = new FakeRegistry();
    reg.image(request.archTags.x86_64, 'amd64');
    expect(await joinImages(reg, request)).toEqual({ status: 'incomplete', reference: 'quay.io/org/driver-toolkit:5.14.0-427.68.1.el9_4', missing: ['aarch64'] });
    expect(reg.puts).toBe(0);
  });

  it('refuses a per-arch tag whose config names another arch', async () => {
    const reg = new FakeRegistry();
    reg.image(request.archTags.x86_64, 'amd64');
    reg.image(request.archTags.aarch64, 'amd64');
    await expect(joinImages(reg, request)).rejects.toThrow(/given as the aarch64 image, but its config says linux\/amd64/);
    expect(reg.puts).toBe(0);
  });

  it('refuses a per-arch tag that is itself an index', async () => {
    const reg = new FakeRegistry();
    reg.image(request.archTags.x86_64, 'amd64');
    reg.manifests.set(request.archTags.aarch64, { mediaType: MEDIA_TYPES.ociIndex, bytes: Buffer.from('{"schemaVersion":2,"manifests":[]}') });
    await expect(joinImages(reg, request)).rejects.toThrow(/not a single-arch image manifest/);
  });

  it('refuses bad tags before any request', async () => {
    const reg = new FakeRegistry();
    await expect(joinImages(reg, { ...request, tag: 'a;b' })).rejects.toThrow(/is not an image tag/);
    await expect(joinImages(reg, { ...request, archTags: { x86_64: request.tag } })).rejects.toThrow(/index tag itself/);
    await expect(joinImages(reg, { ...request, repository: { ...repository, tag: 'x' } })).rejects.toThrow(/must not carry a tag/);
  });
});

describe('encodeIndex', () => {
  it('writes a Docker manifest list when every entry is a Docker manifest, in arch order', () => {
    const d = (n: string) => ({ mediaType: MEDIA_TYPES.dockerManifest, digest: `sha256:${n.repeat(64)}`, size: 10 });
    const index = encodeIndex([
      { arch: 'aarch64', tag: 'b', descriptor: d('b') },
      { arch: 'x86_64', tag: 'a', descriptor: d('a') },
    ]);
    expect(index.mediaType).toBe(MEDIA_TYPES.dockerManifestList);
    expect(JSON.parse(index.bytes.toString()).manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture)).toEqual([
      'amd64',
      'arm64',
    ]);
  });
});
