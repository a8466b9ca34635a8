/**
 * The registry client's push half (blob upload, putManifest) and joinImages against
 * Debian's docker-registry with token auth: only the push user gets a push token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinImages } from '#core/builds/join.ts';
import { MEDIA_TYPES, RegistryClient } from '#core/registry/client.ts';
import { parseDockerConfig } from '#core/registry/credentials.ts';
import { RegistryAuthError } from '#core/registry/errors.ts';
import { pushImage } from '#core/registry/push.ts';
import type { ImageRef } from '#core/registry/types.ts';
import { buildImage, type BuiltImage } from '#world/oci.ts';
import { startRegistry, type RunningRegistry } from '#world/registry-server.ts';
import { dockerConfigJson } from '../support/build-world.ts';

const REPO = 'team/driver';

function asInMemory(image: BuiltImage) {
  return {
    manifest: { mediaType: image.manifest.mediaType, bytes: image.manifest.bytes },
    blobs: [image.config, ...image.layers.map((l) => l.blob)].map((b) => ({ mediaType: b.mediaType, bytes: b.bytes })),
  };
}

describe('pushing with the registry client', () => {
  let registry: RunningRegistry;
  let pusher: RegistryClient;
  let reader: RegistryClient;
  let anonymous: RegistryClient;
  let client: (user: string) => RegistryClient;
  const ref = (tag: string): ImageRef => ({ registry: registry.host, repository: REPO, tag });

  beforeAll(async () => {
    registry = await startRegistry();
    client = (user: string) => {
      const c = registry.tokenService.credentials(user);
      return new RegistryClient({ credentials: parseDockerConfig(dockerConfigJson(registry.host, c.username, c.password)), retryBaseMs: 10, insecureRegistries: registry.insecureRegistries });
    };
    pusher = client('pusher');
    reader = client('reader');
    anonymous = new RegistryClient({ retryBaseMs: 10, insecureRegistries: registry.insecureRegistries });
  });

  afterAll(async () => {
    await Promise.all([pusher?.close(), reader?.close(), anonymous?.close()]);
    await registry?.stop();
  });

  it('uploads blobs and a manifest with a pull,push token, and reads them back', async () => {
    registry.tokenService.resetStats();
    // A client of its own: the shared one may hold a token from another test already.
    const fresh = client('pusher');
    const image = buildImage({ layers: [{ files: { 'etc/hello': 'hello' } }] }, 'amd64');
    const pushed = await pushImage(fresh, ref('v1'), asInMemory(image)).finally(() => fresh.close());
    expect(pushed.digest).toBe(image.manifest.digest);
    expect(await reader.describeManifest(ref('v1'))).toEqual({ mediaType: MEDIA_TYPES.ociManifest, digest: image.manifest.digest, size: image.manifest.size });
    expect((await reader.getManifestBytes(ref('v1'))).bytes.equals(image.manifest.bytes)).toBe(true);
    expect(registry.tokenService.stats.byUser['pusher']).toBeGreaterThanOrEqual(1);
  });

  it('skips blobs the repository already has', async () => {
    const image = buildImage({ layers: [{ files: { 'etc/hello': 'hello' } }] }, 'amd64');
    await pushImage(pusher, ref('v1-seed'), asInMemory(image)); // the repository has its blobs (whatever ran before)
    const before = pusher.stats.requests;
    await pushImage(pusher, ref('v1-again'), asInMemory(image));
    // HEAD per blob (2) + manifest PUT (1): no uploads.
    expect(pusher.stats.requests - before).toBe(3);
  });

  it('refuses push for a user who may only pull, naming the push credentials', async () => {
    const image = buildImage({ layers: [{ files: { 'etc/x': 'x' } }] }, 'amd64');
    const err = await reader.putManifest(ref('denied'), image.manifest.mediaType, image.manifest.bytes).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryAuthError);
    expect((err as Error).message).toMatch(/refused push access to repository team\/driver: check the push credentials/);
    expect(await reader.describeManifest(ref('denied'))).toBeUndefined();
  });

  it('refuses push without credentials', async () => {
    const image = buildImage({ layers: [{ files: { 'etc/x': 'x' } }] }, 'amd64');
    await expect(anonymous.pushBlob(ref('x'), image.config.mediaType, image.config.bytes)).rejects.toThrow(/requires credentials to push to repository team\/driver/);
  });

  it('joins two arches through the client (the Lambda path) and is idempotent', async () => {
    const amd = await pushImage(pusher, ref('k.x86_64'), asInMemory(buildImage({ layers: [{ files: { a: 'amd' } }] }, 'amd64')));
    const arm = await pushImage(pusher, ref('k.aarch64'), asInMemory(buildImage({ layers: [{ files: { a: 'arm' } }] }, 'arm64')));
    const request = { repository: { registry: registry.host, repository: REPO }, tag: 'k', archTags: { x86_64: 'k.x86_64', aarch64: 'k.aarch64' } };
    const first = await joinImages(pusher, request);
    expect(first).toMatchObject({ status: 'pushed', mediaType: MEDIA_TYPES.ociIndex });
    expect(first.status !== 'incomplete' && first.entries.map((e) => e.descriptor.digest)).toEqual([amd.digest, arm.digest]);
    const before = pusher.stats.requests;
    expect(await joinImages(pusher, request)).toMatchObject({ status: 'unchanged', digest: first.status === 'incomplete' ? '' : first.digest });
    expect(pusher.stats.requests - before).toBeLessThanOrEqual(5);
    await expect(joinImages(reader, { ...request, tag: 'k-reader' })).rejects.toThrow(RegistryAuthError);
  });
});
