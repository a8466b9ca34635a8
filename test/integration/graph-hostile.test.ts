/**
 * A hostile update-graph server on loopback, tried the way issue #9 tried the old
 * client: a 200 MB body, a 407 KB gzip bomb, a byte every 200 ms, a redirect to
 * another host, bodies holding secrets. The client must end each with one clear
 * GraphError: no crash, memory bounded, no other host contacted, no body quoted.
 *
 * The heavy cases run the client in a child process, which reports its peak RSS
 * (process.resourceUsage().maxRSS); a crash there is a non-zero exit with no report.
 */
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPH_LIMITS, GraphClient, GraphError } from '#core/graph.ts';

const execFileAsync = promisify(execFile);
const REPO_ROOT = join(import.meta.dirname, '..', '..');
const MiB = 1024 * 1024;
const SECRET = 'ghp_SECRETsecretSECRET0123456789abcdef';
const PATH = '/api/upgrades_info/v1/graph';
const NODE = { version: '4.18.14', payload: `quay.io/openshift-release-dev/ocp-release@sha256:${'a'.repeat(64)}`, metadata: {} };

/** Bytes each route managed to write before the client hung up. */
const written: Record<string, number> = {};
let bomb: Buffer;
let hostile: Server;
let elsewhere: Server;
let base = '';
let elsewhereBase = '';
const elsewhereRequests: string[] = [];
let slowHops = 0;

/** Writes `total` bytes of JSON whitespace after `{"nodes":[`, respecting backpressure, until done or the client leaves. */
function stream(res: ServerResponse, key: string, total: number): void {
  const chunk = Buffer.alloc(MiB, 0x20);
  written[key] = 0;
  let closed = false;
  res.on('close', () => (closed = true));
  const pump = (): void => {
    while (!closed && written[key]! < total) {
      written[key]! += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!closed) res.end(']}');
  };
  res.write('{"nodes":[');
  pump();
}

function route(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  switch (path) {
    case '/huge':
      res.writeHead(200, { 'content-type': 'application/json' });
      return stream(res, 'huge', 200 * MiB);
    case '/huge-declared':
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(200 * MiB + 12) });
      return stream(res, 'huge-declared', 200 * MiB);
    case '/bomb':
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(bomb.length), connection: 'close' });
      return void res.end(bomb);
    case '/drip': {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"nodes":[');
      const timer = setInterval(() => res.write(' '), 200);
      res.on('close', () => clearInterval(timer));
      return;
    }
    case '/redirect-away':
      res.writeHead(302, { location: `${elsewhereBase}${PATH}?channel=stable-4.18` });
      return void res.end();
    case '/redirect-slow': {
      // Same-origin redirects, each after 600 ms: the chain outlasts a 1500 ms deadline.
      const hop = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('hop') ?? '0');
      slowHops++;
      const timer = setTimeout(() => res.writeHead(307, { location: `/redirect-slow?hop=${hop + 1}` }).end(), 600);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    case '/silent':
      return; // never answers
    case '/redirect-same':
      res.writeHead(307, { location: `/ok?channel=stable-4.18` });
      return void res.end();
    case '/ok':
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ version: 1, nodes: [NODE], edges: [] }));
    case '/secret-500':
      res.writeHead(500, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ kind: 'error', reason: `upstream said Authorization: Bearer ${SECRET}` }));
    case '/secret-400':
      res.writeHead(400, { 'content-type': 'text/plain' });
      return void res.end(`bad request; token=${SECRET}`);
    case '/secret-html':
      res.writeHead(200, { 'content-type': 'text/html' });
      return void res.end(`<html>${SECRET}</html>`);
    case '/secret-not-graph':
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ nodes: SECRET, token: SECRET }));
    case '/bad-gzip':
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      return void res.end(`not gzip at all ${SECRET}`);
    default:
      res.writeHead(404);
      res.end();
  }
}

async function listen(server: Server, host: string): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

/** The gzip of `{"nodes":[` + 400 MiB of spaces + `]}`: about 410 KB on the wire. */
async function makeBomb(): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve) => gzip.on('end', resolve));
  const spaces = Buffer.alloc(MiB, 0x20);
  gzip.write('{"nodes":[');
  for (let i = 0; i < 400; i++) if (!gzip.write(spaces)) await new Promise((r) => gzip.once('drain', r));
  gzip.end(']}');
  await done;
  return Buffer.concat(out);
}

interface ChildReport {
  readonly ok: boolean;
  readonly error?: string;
  readonly name?: string;
  readonly nodes?: number;
  readonly maxRssMiB: number;
}

async function fetchInChild(url: string, timeoutMs?: number): Promise<ChildReport> {
  const args = ['--import', 'tsx', join(REPO_ROOT, 'test/support/graph-fetch-child.ts'), url, ...(timeoutMs ? [String(timeoutMs)] : [])];
  const { stdout } = await execFileAsync(process.execPath, args, { cwd: REPO_ROOT, timeout: 120_000 });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as ChildReport;
}

beforeAll(async () => {
  bomb = await makeBomb();
  hostile = createServer(route);
  base = await listen(hostile, '127.0.0.1');
  elsewhere = createServer((req, res) => {
    elsewhereRequests.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ nodes: [NODE] }));
  });
  elsewhereBase = await listen(elsewhere, '127.0.0.2');
}, 60_000);

afterAll(async () => {
  hostile.closeAllConnections();
  elsewhere.closeAllConnections();
  await Promise.all([hostile, elsewhere].map((s) => new Promise((r) => s.close(r))));
});

describe('GraphClient against a hostile server', () => {
  it('stops a 200 MB body at the 32 MiB cap, in bounded memory, naming the limit', async () => {
    const report = await fetchInChild(`${base}/huge`);
    expect(report).toMatchObject({ ok: false, name: 'GraphError' });
    expect(report.error).toMatch(new RegExp(`sent a body larger than the limit of ${GRAPH_LIMITS.maxBodyBytes} bytes on the wire \\(maxBodyBytes\\)$`));
    // The client hung up near the cap: the server could not push the 200 MB.
    expect(written['huge']).toBeLessThan(100 * MiB);
    // The old client took 1.16 GB for this; the cap plus node and the test loader is far less.
    expect(report.maxRssMiB).toBeLessThan(300);
    console.log(`200 MB body: child peak RSS ${report.maxRssMiB} MiB; server wrote ${Math.round(written['huge']! / MiB)} MiB before the client left`);
  });

  it('refuses a body whose Content-Length is over the cap before reading it', async () => {
    const error = await new GraphClient({ url: `${base}/huge-declared` }).fetch('stable-4.18', 'amd64').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphError);
    expect((error as Error).message).toMatch(/larger than the limit of 33554432 bytes \(Content-Length\) \(maxBodyBytes\)$/);
  });

  it('stops a 407 KB gzip bomb at the decoded cap without crashing, in bounded memory', async () => {
    expect(bomb.length).toBeGreaterThan(380_000);
    expect(bomb.length).toBeLessThan(460_000);
    const report = await fetchInChild(`${base}/bomb`);
    expect(report).toMatchObject({ ok: false, name: 'GraphError' });
    expect(report.error).toMatch(/sent a body larger than the limit of 33554432 bytes decoded \(maxBodyBytes\)$/);
    expect(report.maxRssMiB).toBeLessThan(300);
    console.log(`gzip bomb (${bomb.length} bytes): child peak RSS ${report.maxRssMiB} MiB`);
  });

  it('cuts a server that sends a byte every 200 ms at the request deadline, not only at an idle gap', async () => {
    const report = await fetchInChild(`${base}/drip`, 1500);
    expect(report).toMatchObject({ ok: false, name: 'GraphError' });
    expect(report.error).toMatch(/did not answer in full within 1500 ms$/);
  });

  it('does not follow a redirect to another host, and contacts it not at all', async () => {
    elsewhereRequests.length = 0;
    const error = await new GraphClient({ url: `${base}/redirect-away` }).fetch('stable-4.18', 'amd64').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphError);
    expect((error as Error).message).toMatch(/redirected to another origin \(http:\/\/127\.0\.0\.2:\d+\); not followed$/);
    expect(elsewhereRequests).toEqual([]);
    // Control: the other host answers a graph, so following the redirect would have "worked".
    const direct = await new GraphClient({ url: `${elsewhereBase}${PATH}` }).fetch('stable-4.18', 'amd64');
    expect(direct.changed && direct.graph.nodes.length).toBe(1);
  });

  it('cuts a chain of slow same-origin redirects at the one request deadline', async () => {
    const error = await new GraphClient({ url: `${base}/redirect-slow`, timeoutMs: 1500 }).fetch('stable-4.18', 'amd64').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphError);
    // A deadline per hop would let all four hops answer (600 ms each), then refuse the fourth redirect.
    expect((error as Error).message).toMatch(/did not answer in full within 1500 ms$/);
    expect(slowHops).toBeLessThanOrEqual(3);
  });

  it('gives up on a server that sends nothing for the idle timeout', async () => {
    const error = await new GraphClient({ url: `${base}/silent`, idleTimeoutMs: 300, timeoutMs: 20_000 }).fetch('stable-4.18', 'amd64').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphError);
    expect((error as Error).message).toMatch(/^update graph 127\.0\.0\.1:\d+ \(channel stable-4\.18, arch amd64\) sent nothing for 300 ms$/);
  });

  it('follows a redirect on the same origin', async () => {
    const result = await new GraphClient({ url: `${base}/redirect-same` }).fetch('stable-4.18', 'amd64');
    expect(result.changed && result.graph.nodes.map((n) => n.version)).toEqual(['4.18.14']);
  });

  it.each(['/secret-500', '/secret-400', '/secret-html', '/secret-not-graph', '/bad-gzip'])('quotes no byte of the body of %s in its error', async (path) => {
    const error = await new GraphClient({ url: `${base}${path}` }).fetch('stable-4.18', 'amd64').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphError);
    expect((error as Error).message).toMatch(/^update graph 127\.0\.0\.1:\d+ \(channel stable-4\.18, arch amd64\) /);
    expect(`${(error as Error).message} ${(error as Error).stack}`).not.toContain('SECRET');
  });
});
