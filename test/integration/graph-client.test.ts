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
    [400, { kind: 'invalid_params', reason: 'mandatory client parameters missing: channel' }, /HTTP 400 \(bad request: check the channel and arch names\)$/],
    [406, 'not acceptable', /HTTP 406 \(the server cannot answer in application\/json\)$/],
    [503, 'upstream down', /HTTP 503 \(server error: try again later\)$/],
  ])('explains HTTP %i without quoting the body', async (status, body, message) => {
    handler = json(status, body);
    const error = await new GraphClient({ url }).fetch('stable-4.18', 'amd64').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphError);
    expect((error as GraphError).message).toMatch(message);
    expect((error as GraphError).status).toBe(status);
  });

  it('rejects a body that is not JSON, and JSON that is not a graph, naming neither body', async () => {
    handler = json(200, '<html>maintenance</html>');
    const notJson = await new GraphClient({ url }).fetch('stable-4.18', 'amd64').catch((e: unknown) => e);
    expect((notJson as Error).message).toMatch(/sent a body that is not JSON \(24 bytes\)$/);
    expect((notJson as Error).message).not.toContain('maintenance');
    handler = json(200, { nodes: 'maintenance' });
    const notGraph = await new GraphClient({ url }).fetch('stable-4.18', 'amd64').catch((e: unknown) => e);
    expect((notGraph as Error).message).toMatch(/not an update graph/);
    expect((notGraph as Error).message).not.toContain('maintenance');
  });

  it('skips each bad node with a finding and keeps the rest of the channel', async () => {
    const pinned = (c: string) => `quay.io/openshift-release-dev/ocp-release@sha256:${c.repeat(64)}`;
    handler = json(200, {
      version: 1,
      nodes: [
        { version: '4.18.13', payload: pinned('b'), metadata: { 'io.openshift.upgrades.graph.release.channels': 'stable-4.18', 'new.key': 'x', 'a.number': 7 }, extra: { any: 'thing' } },
        { version: '4.18.14', metadata: {} },
        { version: '4.18.15', payload: 'quay.io/openshift-release-dev/ocp-release:4.18.15-x86_64' },
        { version: 'four.eighteen', payload: pinned('c') },
        { version: '4.18.16\u001b]0;pwned\u0007\u001b[2J', payload: pinned('d') },
        'not a node',
        { version: '4.19.0-okd-scos.17', payload: `quay.io/okd/scos-release@sha256:${'e'.repeat(64)}` },
        { version: '4.20.0-okd-scos.ec.14', payload: `quay.io/okd/scos-release@sha256:${'f'.repeat(64)}`, metadata: { url: 'https://x\u001b[2J' } },
        { version: '4.18.17', payload: 'not a pull spec at all' },
      ],
      edges: [[0, 1], 'broken'],
      conditionalEdges: null,
    });
    const result = await new GraphClient({ url }).fetch('stable-4.18', 'amd64');
    if (!result.changed) throw new Error('expected a graph');
    expect(result.graph.nodes.map((n) => n.version)).toEqual(['4.18.13', '4.19.0-okd-scos.17', '4.20.0-okd-scos.ec.14']);
    expect(result.graph.nodes[0]?.metadata).toEqual({ 'io.openshift.upgrades.graph.release.channels': 'stable-4.18', 'new.key': 'x' });
    expect(result.graph.nodes[2]?.metadata).toEqual({});
    // Edges of skipped nodes and malformed edges are dropped; the rest point at kept nodes.
    expect(result.graph.edges).toEqual([]);
    expect(result.findings.map((f) => [f.code, f.channel, f.arch, f.version])).toEqual([
      ['malformed-graph-node', 'stable-4.18', 'amd64', '4.18.14'],
      ['malformed-graph-node', 'stable-4.18', 'amd64', '4.18.15'],
      ['malformed-graph-node', 'stable-4.18', 'amd64', '"four.eighteen"'],
      ['malformed-graph-node', 'stable-4.18', 'amd64', '"4.18.16\\u001b]0;pwned\\u0007\\u001b[2J"'],
      ['malformed-graph-node', 'stable-4.18', 'amd64', ''],
      ['graph-metadata-ignored', 'stable-4.18', 'amd64', '4.20.0-okd-scos.ec.14'],
      ['malformed-graph-node', 'stable-4.18', 'amd64', '4.18.17'],
    ]);
    expect(result.findings.map((f) => f.message)).toEqual([
      'node #1 (4.18.14) has no payload; skipped',
      'node #2 (4.18.15) has a payload not pinned by digest (quay.io/openshift-release-dev/ocp-release:4.18.15-x86_64); skipped',
      'node #3 ("four.eighteen") has a version that does not parse as an OpenShift version; skipped',
      'node #4 ("4.18.16\\u001b]0;pwned\\u0007\\u001b[2J") has a version that does not parse as an OpenShift version; skipped',
      'node #5 is not an object; skipped',
      'release 4.20.0-okd-scos.ec.14: metadata "url" held control characters or was too long; ignored',
      expect.stringMatching(/^node #8 \(4\.18\.17\) has a payload that is not a pull spec \("not a pull spec at all"\); skipped$/),
    ]);
    // eslint-disable-next-line no-control-regex -- the point of the test
    expect(JSON.stringify(result).replace(/\\u00[0-9a-f]{2}/g, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    // eslint-disable-next-line no-control-regex -- the point of the test
    for (const f of result.findings) expect(`${f.version} ${f.message}`).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  it('refuses a graph with more nodes than the limit, naming the limit', async () => {
    const node = { version: '4.18.1', payload: `quay.io/openshift-release-dev/ocp-release@sha256:${'a'.repeat(64)}` };
    handler = json(200, { nodes: Array.from({ length: 11 }, () => node) });
    await expect(new GraphClient({ url, maxNodes: 11 }).fetch('stable-4.18', 'amd64')).resolves.toMatchObject({ changed: true });
    await expect(new GraphClient({ url, maxNodes: 10, limitNames: { maxBodyBytes: '--max-graph-bytes', maxNodes: '--max-graph-nodes' } }).fetch('stable-4.18', 'amd64')).rejects.toThrow(
      /lists 11 nodes, more than the limit of 10 \(--max-graph-nodes\)$/,
    );
  });

  it('keeps an ETag only when it is a plain entity tag', async () => {
    handler = json(200, graph, { etag: 'W/"\u0085x"' });
    const odd = await new GraphClient({ url }).fetch('stable-4.18', 'amd64');
    expect(odd.changed && odd.validator.etag).toBeUndefined();
    handler = json(200, graph, { etag: 'W/"abc-1"' });
    const plain = await new GraphClient({ url }).fetch('stable-4.18', 'amd64');
    expect(plain.changed && plain.validator.etag).toBe('W/"abc-1"');
  });

  it('times out on a server that never answers', async () => {
    handler = () => {}; // hold the request open
    const started = Date.now();
    await expect(new GraphClient({ url, timeoutMs: 300 }).fetch('stable-4.18', 'amd64')).rejects.toThrow(GraphError);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
