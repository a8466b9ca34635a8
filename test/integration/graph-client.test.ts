import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphClient, GraphError, channelsOf } from '#core/graph.ts';

/** A stand-in for the Cincinnati endpoint whose answers each test sets. */
let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
const seen: { url: string; headers: IncomingMessage['headers'] }[] = [];
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/upgrades_info/v1/graph`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const graph = {
  version: 1,
  nodes: [
    {
      version: '4.18.14',
      payload: 'quay.io/openshift-release-dev/ocp-release@sha256:' + 'a'.repeat(64),
      metadata: { 'io.openshift.upgrades.graph.release.channels': 'candidate-4.18,fast-4.18,stable-4.18', 'some.new.key': 'x' },
    },
  ],
  edges: [],
  conditionalEdges: [],
  unknownTopLevel: true,
};
const json = (status: number, body: unknown, headers: Record<string, string> = {}) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

describe('GraphClient', () => {
  it('asks for one channel and arch as JSON and tolerates unknown keys', async () => {
    handler = json(200, graph);
    seen.length = 0;
    const result = await new GraphClient({ url }).fetch('stable-4.18', 'arm64');
    expect(result.changed).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toContain('channel=stable-4.18');
    expect(seen[0]?.url).toContain('arch=arm64');
    expect(seen[0]?.headers.accept).toBe('application/json');
    if (result.changed) expect(channelsOf(result.graph.nodes[0]!)).toEqual(['candidate-4.18', 'fast-4.18', 'stable-4.18']);
  });

  it('sends the ETag back and treats 304 as unchanged', async () => {
    handler = (req, res) => (req.headers['if-none-match'] === '"v1"' ? (res.writeHead(304), res.end()) : json(200, graph, { etag: '"v1"' })(req, res));
    const client = new GraphClient({ url });
    const first = await client.fetch('stable-4.18', 'amd64');
    expect(first.changed && first.validator.etag).toBe('"v1"');
    seen.length = 0;
    const second = await client.fetch('stable-4.18', 'amd64', first.changed ? first.validator : undefined);
    expect(second.changed).toBe(false);
    expect(seen).toHaveLength(1);
  });

  it('compares content when the server offers no ETag', async () => {
    handler = json(200, graph);
    const client = new GraphClient({ url });
    const first = await client.fetch('stable-4.18', 'amd64');
    const second = await client.fetch('stable-4.18', 'amd64', first.changed ? first.validator : undefined);
    expect(second.changed).toBe(false);
    handler = json(200, { ...graph, nodes: [] });
    const third = await client.fetch('stable-4.18', 'amd64', first.changed ? first.validator : undefined);
    expect(third.changed).toBe(true);
  });

  it.each([
    [400, { kind: 'invalid_params', reason: 'mandatory client parameters missing: channel' }, /HTTP 400 \(bad request: check the channel and arch names\): mandatory client parameters missing/],
    [406, 'not acceptable', /HTTP 406 \(the server cannot answer in application\/json\)/],
    [503, 'upstream down', /HTTP 503 \(server error: try again later\)/],
  ])('explains HTTP %i', async (status, body, message) => {
    handler = json(status, body);
    const error = await new GraphClient({ url }).fetch('stable-4.18', 'amd64').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphError);
    expect((error as GraphError).message).toMatch(message);
    expect((error as GraphError).status).toBe(status);
  });

  it('rejects a body that is not JSON, and JSON that is not a graph', async () => {
    handler = json(200, '<html>maintenance</html>');
    await expect(new GraphClient({ url }).fetch('stable-4.18', 'amd64')).rejects.toThrow(/not JSON.*<html>maintenance/);
    handler = json(200, { nodes: [{ version: 4 }] });
    await expect(new GraphClient({ url }).fetch('stable-4.18', 'amd64')).rejects.toThrow(/not an update graph/);
  });

  it('times out on a server that never answers', async () => {
    handler = () => {}; // hold the request open
    const started = Date.now();
    await expect(new GraphClient({ url, timeoutMs: 300 }).fetch('stable-4.18', 'amd64')).rejects.toThrow(GraphError);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
