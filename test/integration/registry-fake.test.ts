/**
 * RegistryClient against a fake registry + token service on loopback
 * (test/support/fake-registry.ts): real HTTP over node:http, no mocks.
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { MANIFEST_ACCEPT, MEDIA_TYPES, RegistryClient, type RegistryClientOptions } from '#core/registry/client.ts';
import { DockerConfig } from '#core/registry/credentials.ts';
import { ManifestNotFoundError, PlatformNotFoundError, RegistryAuthError, RegistryError } from '#core/registry/errors.ts';
import type { ImageRef } from '#core/registry/types.ts';
import { FakeRegistry, type FakeRegistryOptions, type HookContext, sha256 } from '../support/fake-registry.ts';

const SECRET = 'S3cret-Pa55word';
const b64 = (s: string): string => Buffer.from(s).toString('base64');

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  registryOptions: FakeRegistryOptions = {},
  clientOptions: Partial<RegistryClientOptions> & { password?: string } = {},
): Promise<{ reg: FakeRegistry; client: RegistryClient; ref: (repo: string, tag?: string) => ImageRef }> {
  const reg = await FakeRegistry.start(registryOptions);
  const { password, ...options } = clientOptions;
  const credentials =
    password === undefined ? undefined : DockerConfig.fromJson({ auths: { [reg.host]: { auth: b64(`alice:${password}`) } } });
  // The fake registry and its CDN are on loopback over plain http: listed insecure, as any such registry must be.
  const insecureRegistries = [reg.host, ...(reg.cdnOrigin === '' ? [] : [new URL(reg.cdnOrigin).host])];
  // Generous per-request timeout: a loaded CI machine can be slow to answer on loopback; the tests of timeouts set their own.
  const client = new RegistryClient({ retryBaseMs: 1, requestTimeoutMs: 30_000, insecureRegistries, ...(credentials ? { credentials } : {}), ...options });
  // Run in reverse: the server goes first. close() waits for requests in flight, so a
  // hang means the client left a response body unconsumed.
  cleanups.push(async () => {
    const closed = client.close().then(() => true);
    if (!(await Promise.race([closed, sleep(30_000).then(() => false)]))) {
      await client.destroy();
      throw new Error('client.close() did not finish: a response body was left unconsumed');
    }
  });
  cleanups.push(() => reg.close());
  const ref = (repository: string, tag = 'latest'): ImageRef => ({ registry: reg.host, repository, tag });
  return { reg, client, ref };
}

const isManifest = (ctx: HookContext): boolean => ctx.path.includes('/manifests/');
const isBlob = (ctx: HookContext): boolean => ctx.path.includes('/blobs/');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** Everything a caller could print or log about a failure and the client. */
function visibleText(err: Error, client: RegistryClient): string {
  return [err.message, err.stack, JSON.stringify(err), String(err.cause ?? ''), JSON.stringify(client.stats)].join('\n');
}

describe('RegistryClient: pulling', () => {
  it('pulls anonymously through the token flow and reads manifest, config and blob', async () => {
    const { reg, client, ref } = await setup({ auth: 'bearer', tokenField: 'access_token' });
    const image = reg.addImage('team/app', 'v1', { architecture: 'amd64', labels: { 'io.openshift.release': '4.18.1' }, layer: 'hello' });

    const resolved = await client.getManifest(ref('team/app', 'v1'));
    expect(resolved.digest).toBe(image.manifest.digest);
    expect(resolved.ref).toEqual({ registry: reg.host, repository: 'team/app', digest: image.manifest.digest });
    expect(resolved.mediaType).toBe(MEDIA_TYPES.ociManifest);
    expect(resolved.manifest.layers).toEqual([image.layer]);
    expect(resolved.manifest.annotations).toEqual({ 'org.example.unknown': 'kept' });
    expect(resolved.indexDigest).toBeUndefined();

    const config = await client.getConfig(resolved);
    expect(config.architecture).toBe('amd64');
    expect(config.config?.Labels).toEqual({ 'io.openshift.release': '4.18.1' });
    expect((await readAll(await client.openBlob(resolved.ref, image.layer))).toString()).toBe('hello');

    const [probe, token, manifest] = reg.requests();
    expect(probe).toMatchObject({ path: '/v2/team/app/manifests/v1', accept: MANIFEST_ACCEPT });
    expect(probe?.authorization).toBeUndefined();
    expect(token).toMatchObject({ path: '/token' });
    expect(token?.authorization).toBeUndefined();
    expect(new URLSearchParams(token?.query).get('scope')).toBe('repository:team/app:pull');
    expect(manifest?.authorization).toMatch(/^Bearer tok-/);
  });

  it('needs exactly one request for a second manifest fetch in the same repository', async () => {
    const { reg, client, ref } = await setup({ auth: 'bearer' });
    reg.addImage('team/app', 'v1', { architecture: 'amd64' });
    reg.addImage('team/other', 'v1', { architecture: 'amd64' });

    await client.getManifest(ref('team/app', 'v1'));
    expect(client.stats.requests).toBe(3); // anonymous probe → 401, token, manifest
    await client.getManifest(ref('team/app', 'v1'));
    expect(client.stats.requests).toBe(4);
    // Another repository on the same host: no anonymous probe, the token comes first.
    await client.getManifest(ref('team/other', 'v1'));
    expect(client.stats.requests).toBe(6);
    expect(reg.requests().slice(4).map((r) => r.path)).toEqual(['/token', '/v2/team/other/manifests/v1']);
    expect(client.stats.requests).toBe(reg.log.length);
  });

  it('pulls with credentials from the pull secret', async () => {
    const { reg, client, ref } = await setup({ auth: 'bearer', users: { alice: SECRET } }, { password: SECRET });
    const image = reg.addImage('private/app', 'v1', { architecture: 'amd64' });

    expect((await client.getManifest(ref('private/app', 'v1'))).digest).toBe(image.manifest.digest);
    expect(reg.requests().find((r) => r.path === '/token')?.authorization).toBe(`Basic ${b64(`alice:${SECRET}`)}`);
  });

  it('reads a docker v2 manifest whose media type is only in Content-Type', async () => {
    const { reg, client, ref } = await setup();
    const config = reg.addBlob('{}');
    reg.addManifest('a', 'docker', { schemaVersion: 2, config, layers: [] }, MEDIA_TYPES.dockerManifest);
    expect((await client.getManifest(ref('a', 'docker'))).mediaType).toBe(MEDIA_TYPES.dockerManifest);
  });

  it('throws ManifestNotFoundError naming the reference', async () => {
    const { client, ref } = await setup();
    const err = await caught(client.getManifest(ref('team/app', 'nope')));
    expect(err).toBeInstanceOf(ManifestNotFoundError);
    expect(err.message).toContain(`/team/app:nope`);
  });

  it('counts body bytes as a blob is consumed', async () => {
    const { reg, client, ref } = await setup();
    const layer = reg.addBlob(Buffer.alloc(100_000, 1));
    const before = client.stats.bytes;
    const stream = await client.openBlob(ref('a'), layer);
    await readAll(stream);
    expect(client.stats.bytes - before).toBe(100_000);
  });
});

describe('RegistryClient: exists', () => {
  it('answers with a HEAD request carrying every manifest media type', async () => {
    const { reg, client, ref } = await setup({ auth: 'bearer' });
    reg.addImage('a/b', 'v1', { architecture: 'amd64' });

    expect(await client.exists(ref('a/b', 'v1'))).toBe(true);
    expect(await client.exists(ref('a/b', 'v2'))).toBe(false);
    const heads = reg.requests().filter((r) => r.method === 'HEAD');
    expect(heads).toHaveLength(3); // probe, authorised v1, authorised v2
    expect(heads.every((r) => r.accept === MANIFEST_ACCEPT)).toBe(true);
    expect(heads[2]?.authorization).toMatch(/^Bearer /);
  });

  it('throws RegistryAuthError when access is refused', async () => {
    const { reg, client, ref } = await setup({ auth: 'bearer', users: { alice: SECRET } }, { password: 'wrong' });
    reg.addImage('a/b', 'v1', { architecture: 'amd64' });
    await expect(client.exists(ref('a/b', 'v1'))).rejects.toBeInstanceOf(RegistryAuthError);
  });
});

describe('RegistryClient: auth failures', () => {
  it('reports refused credentials without revealing them', async () => {
    const wrong = 'Wr0ng-Secret-Value';
    const { reg, client, ref } = await setup({ auth: 'bearer', users: { alice: SECRET } }, { password: wrong });
    reg.addImage('private/app', 'v1', { architecture: 'amd64' });

    const err = await caught(client.getManifest(ref('private/app', 'v1')));
    expect(err).toBeInstanceOf(RegistryAuthError);
    expect(err.name).toBe('RegistryAuthError');
    expect(err.message).toContain(`credentials for ${reg.host} were refused for repository private/app: check the pull secret`);
    const text = visibleText(err, client);
    for (const secret of [wrong, b64(`alice:${wrong}`), SECRET]) expect(text).not.toContain(secret);
  });

  it('says the pull secret has no entry when anonymous access is refused', async () => {
    const { reg, client, ref } = await setup({ auth: 'bearer', users: { alice: SECRET } });
    reg.addImage('private/app', 'v1', { architecture: 'amd64' });
    const err = await caught(client.getManifest(ref('private/app', 'v1')));
    expect(err).toBeInstanceOf(RegistryAuthError);
    expect(err.message).toMatch(/requires credentials for repository private\/app and the pull secret has none/);
  });

  it('fetches one new token when a cached token has expired', async () => {
    const { reg, client, ref } = await setup({ auth: 'bearer', users: { alice: SECRET } }, { password: SECRET });
    reg.addImage('a/b', 'v1', { architecture: 'amd64' });
    await client.getManifest(ref('a/b', 'v1'));
    reg.revokeTokens();
    const before = client.stats.requests;

    await client.getManifest(ref('a/b', 'v1'));
    expect(client.stats.requests - before).toBe(3); // 401 with the old token, token, manifest
    expect(reg.issuedTokens).toHaveLength(2);
    expect(reg.requests().at(-1)?.authorization).toBe(`Bearer ${reg.issuedTokens[1]}`);
  });

  it('fetches a new token up front once expires_in has passed', async () => {
    // 3 s: the two first requests use one token even when a loaded machine is slow to answer them.
    const { reg, client, ref } = await setup({ auth: 'bearer', tokenExpiresIn: 3 });
    reg.addImage('a/b', 'v1', { architecture: 'amd64' });
    await client.getManifest(ref('a/b', 'v1'));
    await client.getManifest(ref('a/b', 'v1'));
    expect(reg.issuedTokens).toHaveLength(1);
    await sleep(3_000);
    const before = client.stats.requests;

    await client.getManifest(ref('a/b', 'v1'));
    expect(reg.issuedTokens).toHaveLength(2);
    expect(client.stats.requests - before).toBe(2); // token, manifest: no 401 round trip
  });

  it('gives up after one re-authentication when fresh tokens are refused too, without leaking them', async () => {
    const { reg, client, ref } = await setup({ auth: 'bearer', users: { alice: SECRET } }, { password: SECRET });
    reg.addImage('a/b', 'v1', { architecture: 'amd64' });
    await client.getManifest(ref('a/b', 'v1'));
    // From now on the registry refuses every token it issued (e.g. no pull permission).
    reg.intercept(({ res, req }) => {
      if (!req.url?.includes('/manifests/')) return false;
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${reg.origin}/token",service="fake-registry"` });
      res.end();
      return true;
    });
    const before = client.stats.requests;

    const err = await caught(client.getManifest(ref('a/b', 'v1')));
    expect(err).toBeInstanceOf(RegistryAuthError);
    expect(client.stats.requests - before).toBe(3); // 401 (cached token), new token, 401 (new token)
    const text = visibleText(err, client);
    for (const secret of [SECRET, b64(`alice:${SECRET}`), ...reg.issuedTokens]) expect(text).not.toContain(secret);
  });

  it('sends Basic credentials directly to a Basic-only registry', async () => {
    const { reg, client, ref } = await setup({ auth: 'basic', users: { alice: SECRET } }, { password: SECRET });
    reg.addImage('a/b', 'v1', { architecture: 'amd64' });

    await client.getManifest(ref('a/b', 'v1'));
    await client.getManifest(ref('a/b', 'v1'));
    expect(reg.requests().map((r) => r.authorization?.split(' ')[0] ?? 'none')).toEqual(['none', 'Basic', 'Basic']);
  });

  it('refuses a Basic-only registry when the pull secret has no entry for it', async () => {
    const { reg, client, ref } = await setup({ auth: 'basic', users: { alice: SECRET } });
    reg.addImage('a/b', 'v1', { architecture: 'amd64' });
    await expect(client.getManifest(ref('a/b', 'v1'))).rejects.toThrow(RegistryAuthError);
  });
});

describe('RegistryClient: retries', () => {
  it('honours Retry-After on 429', async () => {
    const { reg, client, ref } = await setup();
    reg.addImage('a', 'v1', { architecture: 'amd64' });
    reg.intercept(({ res, ...ctx }) => {
      if (!isManifest({ res, ...ctx })) return false;
      res.writeHead(429, { 'retry-after': '1' });
      res.end();
      return true;
    }, 1);

    await client.getManifest(ref('a', 'v1'));
    const [first, second] = reg.requests();
    expect(reg.requests()).toHaveLength(2);
    expect(client.stats.requests).toBe(2);
    // ≥ 1 s, less libuv's millisecond timer rounding.
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(995);
  });

  it('retries 503 and succeeds', async () => {
    const { reg, client, ref } = await setup();
    reg.addImage('a', 'v1', { architecture: 'amd64' });
    reg.intercept((ctx) => {
      ctx.res.writeHead(503);
      ctx.res.end('busy');
      return true;
    }, 2);

    await client.getManifest(ref('a', 'v1'));
    expect(reg.requests()).toHaveLength(3);
  });

  it('throws RegistryError with status and URL after maxRetries', async () => {
    const { reg, client, ref } = await setup({}, { maxRetries: 2 });
    reg.intercept((ctx) => {
      ctx.res.writeHead(503);
      ctx.res.end();
      return true;
    });

    const err = await caught(client.getManifest(ref('a', 'v1')));
    expect(err).toBeInstanceOf(RegistryError);
    expect(err).toMatchObject({ status: 503, url: `${reg.origin}/v2/a/manifests/v1` });
    expect(err.message).toMatch(/HTTP 503 after 3 attempts/);
    expect(reg.requests()).toHaveLength(3);
  });

  it('does not retry other 4xx', async () => {
    const { reg, client, ref } = await setup();
    reg.intercept((ctx) => {
      ctx.res.writeHead(400);
      ctx.res.end();
      return true;
    });
    await expect(client.getManifest(ref('a', 'v1'))).rejects.toMatchObject({ status: 400 });
    expect(reg.requests()).toHaveLength(1);
  });

  it('retries a request whose headers time out', async () => {
    const { reg, client, ref } = await setup({}, { requestTimeoutMs: 2_000 }); // the retry must answer within it, even on a loaded machine
    reg.addImage('a', 'v1', { architecture: 'amd64' });
    reg.intercept(() => true, 1); // never answers

    await client.getManifest(ref('a', 'v1'));
    expect(reg.requests()).toHaveLength(2);
  });

  it('retries a manifest whose body stalls', async () => {
    const { reg, client, ref } = await setup({}, { requestTimeoutMs: 2_000 }); // the retry must answer within it, even on a loaded machine
    reg.addImage('a', 'v1', { architecture: 'amd64' });
    reg.intercept(({ res }) => {
      res.writeHead(200, { 'content-type': MEDIA_TYPES.ociManifest, 'content-length': '1000' });
      res.write('{"schemaVersion":');
      return true;
    }, 1);

    await client.getManifest(ref('a', 'v1'));
    expect(reg.requests()).toHaveLength(2);
  });

  it('retries a dropped connection', async () => {
    const { reg, client, ref } = await setup();
    reg.addImage('a', 'v1', { architecture: 'amd64' });
    reg.intercept(({ req }) => {
      req.socket.destroy();
      return true;
    }, 1);

    await client.getManifest(ref('a', 'v1'));
    expect(reg.requests()).toHaveLength(2);
  });
});

describe('RegistryClient: indexes', () => {
  async function multiArch(): Promise<Awaited<ReturnType<typeof setup>> & { arm64: string; index: string }> {
    const ctx = await setup({ auth: 'bearer' });
    const images = (['amd64', 'arm64', 's390x'] as const).map((architecture) => ({
      architecture,
      manifest: ctx.reg.addImage('release', undefined, { architecture }).manifest,
    }));
    const index = ctx.reg.addIndex('release', '4.18', images);
    return { ...ctx, arm64: images[1]?.manifest.digest ?? '', index: index.digest };
  }

  it('selects the manifest for the wanted platform', async () => {
    const { client, ref, arm64, index } = await multiArch();
    const resolved = await client.getManifest(ref('release', '4.18'), { architecture: 'arm64' });
    expect(resolved).toMatchObject({ digest: arm64, indexDigest: index, mediaType: MEDIA_TYPES.ociManifest });
    expect(resolved.ref.digest).toBe(arm64);
    expect((await client.getConfig(resolved)).architecture).toBe('arm64');
  });

  it('lists the platforms that exist when none matches', async () => {
    const { client, ref } = await multiArch();
    const err = await caught(client.getManifest(ref('release', '4.18'), { architecture: 'ppc64le' }));
    expect(err).toBeInstanceOf(PlatformNotFoundError);
    expect(err.message).toMatch(/no linux\/ppc64le image; it has linux\/amd64, linux\/arm64, linux\/s390x/);
  });

  it('refuses an index when no platform is given', async () => {
    const { client, ref } = await multiArch();
    await expect(client.getManifest(ref('release', '4.18'))).rejects.toThrow(/is an index .*pass a platform/);
  });

  it('lists platforms with one request', async () => {
    const { client, ref } = await multiArch();
    expect(await client.listPlatforms(ref('release', '4.18'))).toEqual(
      ['amd64', 'arm64', 's390x'].map((architecture) => ({ architecture, os: 'linux' })),
    );
    const before = client.stats.requests;
    const single = await client.getManifest(ref('release', '4.18'), { architecture: 'amd64' });
    expect(await client.listPlatforms(single.ref)).toBeUndefined();
    expect(client.stats.requests - before).toBe(3);
  });

  it('rejects a manifest whose content does not match the digest it was fetched by', async () => {
    const { reg, client, ref } = await setup();
    const image = reg.addImage('a', 'v1', { architecture: 'amd64' });
    const wrong = `sha256:${'0'.repeat(64)}`;
    reg.addRawManifest('a', wrong, JSON.stringify({ schemaVersion: 2, config: image.config, layers: [] }), MEDIA_TYPES.ociManifest);

    await expect(client.getManifest({ ...ref('a'), digest: wrong })).rejects.toThrow(
      /manifest digest mismatch for .*: the registry sent content with digest sha256:/,
    );
  });

  it('rejects a manifest whose Docker-Content-Digest does not match its content', async () => {
    const { reg, client, ref } = await setup();
    const image = reg.addImage('a', 'v1', { architecture: 'amd64' });
    const body = JSON.stringify({ schemaVersion: 2, config: image.config, layers: [] });
    reg.addRawManifest('a', 'v2', body, MEDIA_TYPES.ociManifest, `sha256:${'1'.repeat(64)}`);

    await expect(client.getManifest(ref('a', 'v2'))).rejects.toThrow(/Docker-Content-Digest says sha256:1111/);
  });
});

describe('RegistryClient: blobs', () => {
  it('follows a redirect to another host without forwarding Authorization', async () => {
    const { reg, client, ref } = await setup({ auth: 'bearer', users: { alice: SECRET }, blobRedirect: true }, { password: SECRET });
    const image = reg.addImage('a/b', 'v1', { architecture: 'amd64', layer: 'layer bytes' });
    const resolved = await client.getManifest(ref('a/b', 'v1'));

    expect((await readAll(await client.openBlob(resolved.ref, image.layer))).toString()).toBe('layer bytes');
    expect((await client.getConfig(resolved)).architecture).toBe('amd64');

    const registryBlobGets = reg.requests().filter((r) => r.path.includes('/blobs/'));
    expect(registryBlobGets.length).toBeGreaterThanOrEqual(2);
    expect(registryBlobGets.every((r) => r.authorization?.startsWith('Bearer '))).toBe(true);
    const cdn = reg.requests('cdn');
    expect(cdn).toHaveLength(2);
    expect(cdn.map((r) => r.authorization)).toEqual([undefined, undefined]);
    expect(client.stats.requests).toBe(reg.log.length); // every hop counted
  });

  it('refuses a redirect to plain http on a host that is not loopback', async () => {
    const { reg, client, ref } = await setup();
    const layer = reg.addBlob('x');
    reg.intercept((ctx) => {
      if (!isBlob(ctx)) return false;
      ctx.res.writeHead(302, { location: 'http://cdn.example.invalid/blob?sig=abc' });
      ctx.res.end();
      return true;
    });

    const err = await caught(client.openBlob(ref('a'), layer));
    expect(err.message).toMatch(/refusing http to http:\/\/cdn\.example\.invalid\/blob: plain http is allowed only/);
    expect(err.message).not.toContain('sig=abc');
  });

  it('gives up after 5 redirects', async () => {
    const { reg, client, ref } = await setup();
    const layer = reg.addBlob('x');
    let hops = 0;
    reg.intercept((ctx) => {
      if (!isBlob(ctx)) return false;
      ctx.res.writeHead(307, { location: `${ctx.path}?hop=${++hops}` });
      ctx.res.end();
      return true;
    });

    await expect(client.openBlob(ref('a'), layer)).rejects.toThrow(/too many redirects \(more than 5\)/);
    expect(reg.requests()).toHaveLength(6);
  });

  it('fails the stream when the blob does not match its digest', async () => {
    const { reg, client, ref } = await setup();
    const layer = reg.addBlob('expected');
    reg.intercept((ctx) => {
      if (!isBlob(ctx)) return false;
      ctx.res.end('tampered');
      return true;
    });
    await expect(readAll(await client.openBlob(ref('a'), layer))).rejects.toThrow(/received 8 bytes with digest sha256:/);
  });

  it('stops reading when the caller destroys the stream early', async () => {
    const { reg, client, ref } = await setup();
    const total = 256 * 1024 * 1024;
    const server = { written: 0, finished: false, closed: false };
    reg.intercept((ctx) => {
      if (!isBlob(ctx)) return false;
      const { res } = ctx;
      res.writeHead(200, { 'content-length': String(total) });
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = (): void => {
        while (server.written < total && !res.destroyed) {
          server.written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        if (!res.destroyed) {
          res.end();
          server.finished = true;
        }
      };
      res.on('close', () => {
        server.closed = true;
      });
      pump();
      return true;
    });

    const stream = await client.openBlob(ref('a'), { mediaType: 'x', digest: sha256('irrelevant'), size: total });
    for await (const _chunk of stream) break; // one chunk, then destroy (for-await does it)
    for (const deadline = Date.now() + 30_000; !server.closed && Date.now() < deadline; ) await sleep(20); // generous: a loaded machine
    const bytesAfterClose = client.stats.bytes;
    await sleep(100);

    expect(server.closed).toBe(true);
    expect(server.finished).toBe(false);
    expect(server.written).toBeLessThan(total);
    expect(client.stats.bytes).toBe(bytesAfterClose);
    expect(client.stats.bytes).toBeLessThan(total);
  });
});
