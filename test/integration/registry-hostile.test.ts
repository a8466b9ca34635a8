/**
 * A hostile registry, CDN and token service on loopback (test/support/fake-registry.ts
 * with fault hooks) against the registry client and the layer reader: each attack of
 * the hostile-registry issue, and what must hold: no tampered byte used, no crash,
 * bounded bytes and time, no request off the list, no credential where it does not
 * belong.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ImageReader } from '#core/image-reader.ts';
import { RegistryClient, type RegistryClientOptions } from '#core/registry/client.ts';
import { DockerConfig } from '#core/registry/credentials.ts';
import type { ImageRef } from '#core/registry/types.ts';
import { FakeRegistry, OCI_LAYER, sha256, type FakeRegistryOptions } from '../support/fake-registry.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const p = pack();
  for (const [name, content] of Object.entries(files)) p.entry({ name }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function setup(
  registryOptions: FakeRegistryOptions = {},
  clientOptions: Partial<RegistryClientOptions> = {},
): Promise<{ reg: FakeRegistry; client: RegistryClient; ref: (repo: string) => ImageRef }> {
  const reg = await FakeRegistry.start(registryOptions);
  const insecureRegistries = [reg.host, ...(reg.cdnOrigin === '' ? [] : [new URL(reg.cdnOrigin).host])];
  // Generous per-request timeout: a loaded CI machine can be slow to answer on loopback; the tests of time bounds set their own.
  const client = new RegistryClient({ retryBaseMs: 1, maxRetries: 1, requestTimeoutMs: 30_000, insecureRegistries, ...clientOptions });
  cleanups.push(async () => client.destroy());
  cleanups.push(() => reg.close());
  return { reg, client, ref: (repository) => ({ registry: reg.host, repository, digest: `sha256:${'0'.repeat(64)}` }) };
}

/** A server that only records who called it (a host that must never be contacted). */
async function bystander(host: string): Promise<{ server: Server; origin: string; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"token":"from-the-bystander"}');
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { server, origin: `http://${host}:${(server.address() as AddressInfo).port}`, seen };
}

describe('a hostile registry: every byte verified', () => {
  it('uses nothing from a layer whose bytes differ from its descriptor, even when the wanted file comes first', async () => {
    const { reg, client, ref } = await setup();
    const honest = gzipSync(await tarOf({ 'release-manifests/image-references': '{"honest":true}', 'rest/padding': Buffer.alloc(50_000, 1) }));
    const layer = reg.addBlob(honest);
    const tampered = gzipSync(await tarOf({ 'release-manifests/image-references': '{"honest":false}', 'rest/padding': Buffer.alloc(50_000, 2) }));
    reg.intercept((ctx) => {
      if (!ctx.path.includes('/blobs/')) return false;
      ctx.res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(Math.min(tampered.length, honest.length)) });
      ctx.res.end(tampered.subarray(0, honest.length));
      return true;
    });

    const reader = new ImageReader(client);
    const reading = reader.readFiles(ref('ocp/release'), layer, ['release-manifests/image-references']);
    await expect(reading).rejects.toThrow(/layer could not be read: blob sha256:[0-9a-f]{64}: received \d+ bytes with digest sha256:[0-9a-f]{64}, expected/);
  });

  it('reads no more than the declared size of a blob whose server sends 500 MiB for a 1 KiB descriptor', async () => {
    const { reg, client, ref } = await setup();
    const descriptor = { mediaType: OCI_LAYER, digest: sha256('k'.repeat(1024)), size: 1024 };
    let sent = 0;
    reg.intercept((ctx) => {
      if (!ctx.path.includes('/blobs/')) return false;
      // No Content-Length: chunked, and it would go on for 500 MiB.
      ctx.res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = (): void => {
        while (sent < 500 * 1024 * 1024 && !ctx.res.destroyed) {
          sent += chunk.length;
          if (!ctx.res.write(chunk)) return void ctx.res.once('drain', pump);
        }
        ctx.res.end();
      };
      pump();
      return true;
    });

    const stream = await client.openBlob(ref('a'), descriptor);
    const failure = await new Promise<Error>((resolve) => {
      stream.on('error', resolve);
      stream.resume();
    });
    expect(failure.message).toMatch(/longer than the 1024 bytes its descriptor declares/);
    expect(client.stats.bytes).toBeLessThan(8 * 1024 * 1024); // a few socket buffers, never the 500 MiB
  });

  it('refuses up front a blob whose Content-Length exceeds its descriptor', async () => {
    const { reg, client, ref } = await setup();
    const descriptor = { mediaType: OCI_LAYER, digest: sha256('x'), size: 1 };
    reg.intercept((ctx) => {
      if (!ctx.path.includes('/blobs/')) return false;
      ctx.res.writeHead(200, { 'content-length': String(1024 * 1024) });
      ctx.res.end(Buffer.alloc(1024 * 1024));
      return true;
    });
    await expect(client.openBlob(ref('a'), descriptor)).rejects.toThrow(/is sent as 1048576 bytes, its descriptor declares 1: refusing it/);
  });
});

describe('a hostile registry cannot crash the process (nodejs/undici#5360)', () => {
  it('survives a gzip bomb sent with Connection: close, ends with an error naming the limit, and keeps working', async () => {
    const { reg, client, ref } = await setup({}, { maxLayerBytes: 64 * 1024 * 1024 });
    // 2 GiB of zeros in one tar entry, then the wanted file: gzip members concatenate.
    const zeros = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const header = (await tarOf({ x: '' })).subarray(0, 512);
    header.write('usr/zeros\0', 0, 'latin1');
    header.write(`${(2 * 1024 ** 3).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
    header.fill(' ', 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const bomb = Buffer.concat([gzipSync(header), ...Array.from({ length: 32 }, () => zeros)]);
    const layer = reg.addBlob(bomb);
    reg.intercept((ctx) => {
      if (!ctx.path.includes('/blobs/')) return false;
      ctx.res.writeHead(200, { 'content-type': 'application/octet-stream', connection: 'close', 'content-length': String(bomb.length) });
      ctx.res.end(bomb);
      return true;
    }, 1);

    const reader = new ImageReader(client);
    await expect(reader.readFiles(ref('a'), layer, ['etc/driver-toolkit-release.json'])).rejects.toThrow(
      /inflates to more than the 67108864-byte limit \(maxDecompressedBytes\)/,
    );
    // Still alive, and the client still answers.
    const small = reg.addBlob(gzipSync(await tarOf({ 'etc/driver-toolkit-release.json': '{}' })));
    const files = await new ImageReader(client).readFiles(ref('a'), small, ['etc/driver-toolkit-release.json']);
    expect(files.get('etc/driver-toolkit-release.json')?.toString()).toBe('{}');
  });

  it('survives a gzip-encoded manifest body that would inflate far past the manifest limit: it is not decoded, and refused', async () => {
    const { reg, client, ref } = await setup();
    const body = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20), { level: 9 });
    reg.intercept((ctx) => {
      if (!ctx.path.includes('/manifests/')) return false;
      ctx.res.writeHead(200, {
        'content-type': 'application/vnd.oci.image.manifest.v1+json',
        'content-encoding': 'gzip',
        connection: 'close',
        'content-length': String(body.length),
      });
      ctx.res.end(body);
      return true;
    });
    await expect(client.getManifest({ ...ref('a'), digest: undefined, tag: 'latest' })).rejects.toThrow(/manifest .* is not valid JSON|digest mismatch/);
    expect(client.stats.bytes).toBeLessThanOrEqual(body.length);
  });
});

describe('a hostile registry: bounded time', () => {
  it('cuts a CDN that sends one byte at a time, at the blob deadline, though no gap reaches the idle timeout', async () => {
    // An idle timeout no gap of a loaded machine reaches; 300 bytes at 10/s would take 30 s.
    const { reg, client, ref } = await setup({ blobRedirect: true }, { blobDeadlineMs: 1_000, requestTimeoutMs: 20_000 });
    const content = Buffer.alloc(300, 1);
    const layer = reg.addBlob(content);
    reg.intercept((ctx) => {
      if (ctx.server !== 'cdn') return false;
      ctx.res.writeHead(200, { 'content-length': String(content.length) });
      let i = 0;
      const timer = setInterval(() => {
        if (ctx.res.destroyed || i >= content.length) return void clearInterval(timer);
        ctx.res.write(content.subarray(i, i + 1));
        i++;
      }, 100);
      ctx.res.on('close', () => clearInterval(timer));
      return true;
    });

    const started = performance.now();
    const stream = await client.openBlob(ref('a'), layer);
    const failure = await new Promise<Error>((resolve) => {
      stream.on('error', resolve);
      stream.resume();
    });
    expect(failure.message).toMatch(/did not complete within the 1000 ms deadline/);
    expect(performance.now() - started).toBeLessThan(15_000); // cut long before the 30 s the whole body would take
  });
});

describe('a hostile registry: registries on a list', () => {
  it('contacts no registry off the list', async () => {
    const offList = await bystander('127.0.0.4');
    const client = new RegistryClient({ retryBaseMs: 1 });
    cleanups.push(async () => client.destroy());
    const host = new URL(offList.origin).host;
    await expect(client.getManifest({ registry: host, repository: 'ocp/release', tag: 'latest' })).rejects.toThrow(
      new RegExp(`registry ${host.replace(/\./g, '\\.')} is not on the allowed list .*--allow-registry`),
    );
    expect(offList.seen).toHaveLength(0);
    expect(client.stats.requests).toBe(0);
  });

  it('refuses a token realm off the list: it gets no request and no credentials', async () => {
    const realm = await bystander('127.0.0.5');
    const password = 'p4ss-never-leaves';
    const { reg, client, ref } = await setup({}, {});
    const withCreds = new RegistryClient({
      retryBaseMs: 1,
      insecureRegistries: [reg.host],
      credentials: DockerConfig.fromJson({ auths: { [reg.host]: { auth: Buffer.from(`alice:${password}`).toString('base64') } } }),
    });
    cleanups.push(async () => withCreds.destroy());
    reg.intercept((ctx) => {
      ctx.res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm.origin}/2018-06-01/runtime/invocation/next",service="x"` });
      ctx.res.end();
      return true;
    });
    for (const c of [client, withCreds]) {
      await expect(c.getManifest({ ...ref('a'), digest: undefined, tag: 'latest' })).rejects.toThrow(
        /named token service 127\.0\.0\.5:\d+, which is not on the allowed list: refusing to contact it or send it credentials/,
      );
    }
    expect(realm.seen).toHaveLength(0);
    expect(reg.log.every((r) => r.authorization === undefined)).toBe(true);
  });

  it('refuses a redirect to plain http on a loopback host that is not listed insecure', async () => {
    const target = await bystander('127.0.0.6');
    const { reg, client, ref } = await setup();
    const layer = reg.addBlob('x');
    reg.intercept((ctx) => {
      if (!ctx.path.includes('/blobs/')) return false;
      ctx.res.writeHead(307, { location: `${target.origin}/blob?sig=s3cret` });
      ctx.res.end();
      return true;
    });
    await expect(client.openBlob(ref('a'), layer)).rejects.toThrow(/refusing http to http:\/\/127\.0\.0\.6:\d+\/blob: plain http is allowed only for hosts listed as insecure/);
    expect(target.seen).toHaveLength(0);
  });

  it('reaches a loopback registry over plain http only when it is listed insecure', async () => {
    const reg = await FakeRegistry.start();
    cleanups.push(() => reg.close());
    reg.addImage('a', 'latest', { architecture: 'amd64' });
    const allowedButTls = new RegistryClient({ retryBaseMs: 1, maxRetries: 0, allowedRegistries: [reg.host] });
    cleanups.push(async () => allowedButTls.destroy());
    // https to a plain-http server: a TLS failure, never a silent downgrade.
    await expect(allowedButTls.getManifest({ registry: reg.host, repository: 'a', tag: 'latest' })).rejects.toThrow();
    expect(reg.log).toHaveLength(0); // no HTTP request was understood by the plain-http server
    const listed = new RegistryClient({ retryBaseMs: 1, insecureRegistries: [reg.host] });
    cleanups.push(async () => listed.destroy());
    expect((await listed.getManifest({ registry: reg.host, repository: 'a', tag: 'latest' })).manifest.layers).toHaveLength(1);
  });
});
