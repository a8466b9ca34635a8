/**
 * The HTTP transport (src/core/http/transport.ts) against real servers on loopback:
 * the parts the graph client relies on beside the registry client.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpTransport, HttpTransportError } from '#core/http/transport.ts';

const servers: Server[] = [];
const transports: HttpTransport[] = [];
afterEach(async () => {
  for (const t of transports.splice(0)) t.destroy();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

async function serve(handler: RequestListener, host = '127.0.0.1'): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return `${host}:${(server.address() as AddressInfo).port}`;
}

function transport(insecureHosts: string[], extra: ConstructorParameters<typeof HttpTransport>[0] = {}): HttpTransport {
  const t = new HttpTransport({ insecureHosts, retryBaseMs: 1, ...extra });
  transports.push(t);
  return t;
}

describe('HttpTransport', () => {
  it('decodes a gzip body when asked, and refuses one that inflates past the cap, naming the limit', async () => {
    const small = gzipSync('{"nodes":[]}');
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    const host = await serve((req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/json' });
      res.end(req.url === '/small' ? small : bomb);
    });
    const t = transport([host]);
    const ok = await t.request({ method: 'GET', url: new URL(`http://${host}/small`), headers: {} }, t.buffered({ maxBytes: 1024, decode: true }));
    expect(ok.body.toString()).toBe('{"nodes":[]}');
    await expect(
      t.request({ method: 'GET', url: new URL(`http://${host}/bomb`), headers: {} }, t.buffered({ maxBytes: 32 * 1024 * 1024, decode: true })),
    ).rejects.toThrow(/larger than the 33554432-byte limit/);
  });

  it('follows a same-origin redirect and refuses one to another origin without contacting it', async () => {
    let otherHits = 0;
    const other = await serve((_req, res) => {
      otherHits++;
      res.end('elsewhere');
    });
    const host = await serve((req, res) => {
      if (req.url === '/moved') res.writeHead(302, { location: '/here' }).end();
      else if (req.url === '/away') res.writeHead(302, { location: `http://${other}/x` }).end();
      else res.end('here');
    });
    const t = transport([host, other]);
    const got = await t.request({ method: 'GET', url: new URL(`http://${host}/moved`), headers: {} }, t.buffered({ maxBytes: 100 }), { redirects: 'same-origin' });
    expect(got.body.toString()).toBe('here');
    await expect(
      t.request({ method: 'GET', url: new URL(`http://${host}/away`), headers: {} }, t.buffered({ maxBytes: 100 }), { redirects: 'same-origin' }),
    ).rejects.toThrow(/redirected to another origin \(http:\/\/127\.0\.0\.1:\d+\), which is not followed/);
    expect(otherHits).toBe(0);
  });

  it('cuts a body that trickles past the total deadline, and does not retry it', async () => {
    let requests = 0;
    const host = await serve((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-length': '100' });
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write('x')), 50);
      res.on('close', () => clearInterval(timer));
    });
    const t = transport([host], { deadlineMs: 500, idleTimeoutMs: 20_000 }); // no gap reaches the idle timeout, even on a loaded machine
    const err = await t.request({ method: 'GET', url: new URL(`http://${host}/slow`), headers: {} }, t.buffered({ maxBytes: 1000 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpTransportError);
    expect((err as Error).message).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/slow did not complete within the 500 ms deadline/);
    expect(requests).toBe(1);
  });

  it('says what failed as data: the cap and how it was measured, a body that does not decode', async () => {
    const host = await serve((req, res) => {
      if (req.url === '/declared') res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': '5000' }).end(Buffer.alloc(5000));
      else res.writeHead(200, { 'content-encoding': 'gzip' }).end('not gzip: SECRET');
    });
    const t = transport([host]);
    const get = async (path: string): Promise<HttpTransportError> => {
      try {
        await t.request({ method: 'GET', url: new URL(`http://${host}${path}`), headers: {} }, t.buffered({ maxBytes: 1000, decode: true }));
      } catch (e) {
        return e as HttpTransportError;
      }
      throw new Error(`${path} was not refused`);
    };
    const declared = await get('/declared');
    expect(declared.failure).toEqual({ kind: 'too-large', maxBytes: 1000, measured: 'content-length' });
    const garbled = await get('/garbled');
    expect(garbled.failure).toEqual({ kind: 'undecodable', code: 'Z_DATA_ERROR' });
    expect(garbled.message).toMatch(/does not decode as gzip \(Z_DATA_ERROR\)$/);
    expect(garbled.message).not.toContain('SECRET');
  });

  it('with totalDeadlineMs, one deadline covers every redirect hop', async () => {
    let hops = 0;
    const host = await serve((req, res) => {
      hops++;
      // Each hop answers in 300 ms: four of them would take 1.2 s.
      setTimeout(() => res.writeHead(302, { location: `/hop${hops}` }).end(), 300);
    });
    const t = transport([host], { deadlineMs: 1_000 });
    const err = await t
      .request({ method: 'GET', url: new URL(`http://${host}/hop0`), headers: {} }, t.buffered({ maxBytes: 100 }), { redirects: 'same-origin', maxRedirects: 3, totalDeadlineMs: 700 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpTransportError);
    // Without the one deadline, the fourth hop would answer and the error would be too many redirects.
    expect((err as HttpTransportError).failure).toEqual({ kind: 'deadline', deadlineMs: 700 });
    expect((err as Error).message).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/hop\d did not complete within the total 700 ms deadline$/);
    expect(hops).toBeLessThan(4);
  });

  it('refuses plain http to a host not listed insecure, before any connection', async () => {
    let hits = 0;
    const host = await serve((_req, res) => {
      hits++;
      res.end();
    });
    const t = transport([]);
    await expect(t.request({ method: 'GET', url: new URL(`http://${host}/`), headers: {} }, t.buffered({ maxBytes: 10 }))).rejects.toThrow(
      /refusing http to http:\/\/127\.0\.0\.1:\d+\/: plain http is allowed only for hosts listed as insecure/,
    );
    expect(hits).toBe(0);
    expect(t.stats.requests).toBe(0);
  });
});
