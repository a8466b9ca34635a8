/**
 * Clean strings and bad nodes end to end: a graph whose channel holds, beside its real
 * release, a node whose version carries terminal escape sequences, a node without a
 * payload and a node with an unpinned payload. Each bad node is one finding (channel,
 * arch, version) and is skipped; the real release is resolved; and no control character
 * reaches the terminal (`scan --format table`), a log line, the table or a notification.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanReportSchema } from '#core/scan.ts';
import { REGION } from '#local/emulators.ts';
import { fixtureWorld } from '#world/fixtures.ts';
import { startWorld, type RunningWorld } from '#world/index.ts';
import { runCli } from '../support/cli.ts';
import { startPipelineHarness, type PipelineHarness } from '../support/pipeline-harness.ts';

/** Sets the terminal title, rings the bell, clears the screen. */
const HOSTILE_VERSION = '4.18.99\u001b]0;owned\u0007\u001b[2J';
const CSI_VERSION = '4.18.98\u009b31m';
const pinned = (c: string) => `quay.io/openshift-release-dev/ocp-release@sha256:${c.repeat(64)}`;
const HOSTILE_NODES = [
  { version: HOSTILE_VERSION, payload: pinned('1'), metadata: { 'io.openshift.upgrades.graph.release.channels': 'stable-4.18' } },
  { version: CSI_VERSION, payload: pinned('2') },
  { version: '4.18.97', metadata: { 'io.openshift.upgrades.graph.release.channels': 'stable-4.18' } },
  { version: '4.18.96', payload: 'quay.io/openshift-release-dev/ocp-release:4.18.96-x86_64' },
];

/** Any C0/C1 control character but the newline. */
// eslint-disable-next-line no-control-regex -- the point of the test
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

/** Every string anywhere in a value (keys included). */
function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => [k, ...stringsIn(v)]);
  return [];
}

describe('a graph with bad and hostile nodes', () => {
  it('control: the check sees the escape sequences the server sends', () => {
    expect(stringsIn({ a: [{ b: HOSTILE_VERSION }] }).filter((v) => CONTROL.test(v))).toEqual([HOSTILE_VERSION]);
    expect(CONTROL.test(CSI_VERSION)).toBe(true);
    // JSON.stringify escapes C0 characters but leaves C1 ones (U+009B is a CSI) raw.
    expect(JSON.stringify(HOSTILE_NODES[0])).not.toMatch(CONTROL);
    expect(JSON.stringify(HOSTILE_NODES[1])).toMatch(CONTROL);
  });

  describe('dtk-pipeline scan', () => {
    let world: RunningWorld;
    let dir: string;
    beforeAll(async () => {
      world = await startWorld(fixtureWorld());
      world.graph.setExtraNodes('stable-4.18', HOSTILE_NODES);
      dir = await mkdtemp(join(tmpdir(), 'clean-strings-'));
    });
    afterAll(async () => {
      await world?.stop();
      await rm(dir, { recursive: true, force: true });
    });
    /** The world's registry is on loopback over plain http: it must be listed as insecure. */
    const insecure = (): string[] => world.insecureRegistries.flatMap((h) => ['--insecure-registry', h]);
    const scan = (format: string, cache = 'c1') =>
      runCli(
        ['scan', '--channel', 'stable-4.18', '--graph-url', world.graphUrl, '--pull-secret', world.pullSecretPath, '--cache-dir', join(dir, cache), '--format', format, ...insecure()],
        { HOME: dir },
      );

    it('prints a table and warnings with no control character, and resolves the real release', async () => {
      const r = await scan('table');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('5.14.0-427.68.1.el9_4.x86_64');
      expect(r.stdout).not.toMatch(CONTROL);
      expect(r.stderr).not.toMatch(CONTROL);
      const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: stable-4.18/amd64: '));
      expect(warnings).toHaveLength(4);
      expect(r.stderr).toContain('node #1 ("4.18.99\\u001b]0;owned\\u0007\\u001b[2J") has a version that does not parse');
      expect(r.stderr).toContain('node #2 ("4.18.98\\u009b31m") has a version that does not parse');
      expect(r.stderr).toContain('node #3 (4.18.97) has no payload; skipped');
      expect(r.stderr).toContain('node #4 (4.18.96) has a payload not pinned by digest');
    });

    it('reports each bad node as a graph finding in JSON, again on a scan of the unchanged graph', async () => {
      for (const attempt of [1, 2]) {
        const r = await scan('json', 'c2');
        expect(r.code, `scan ${attempt}: ${r.stderr}`).toBe(0);
        expect(r.stdout).not.toMatch(CONTROL);
        const report = scanReportSchema.parse(JSON.parse(r.stdout));
        expect(report.releases.map((x) => x.version)).toEqual(['4.18.14']);
        expect(report.graphFindings.map((f) => [f.code, f.channel, f.arch, f.version])).toEqual([
          ['malformed-graph-node', 'stable-4.18', 'amd64', '"4.18.99\\u001b]0;owned\\u0007\\u001b[2J"'],
          ['malformed-graph-node', 'stable-4.18', 'amd64', '"4.18.98\\u009b31m"'],
          ['malformed-graph-node', 'stable-4.18', 'amd64', '4.18.97'],
          ['malformed-graph-node', 'stable-4.18', 'amd64', '4.18.96'],
        ]);
        if (attempt === 2) expect(report.stats.graphsUnchanged).toBe(1);
      }
    });

    it('names the limit when a graph has more nodes than --max-graph-nodes, and refuses bad limits', async () => {
      const within = await runCli(
        ['scan', '--channel', 'stable-4.18', '--graph-url', world.graphUrl, '--pull-secret', world.pullSecretPath, '--cache-dir', join(dir, 'c3'), '--max-graph-nodes', '10', '--max-graph-bytes', '64KiB', ...insecure()],
        { HOME: dir },
      );
      expect(within.code, within.stderr).toBe(0);
      world.graph.setExtraNodes('stable-4.18', Array.from({ length: 10 }, () => HOSTILE_NODES[2]));
      try {
        const over = await runCli(['scan', '--channel', 'stable-4.18', '--graph-url', world.graphUrl, '--cache-dir', join(dir, 'c4'), '--max-graph-nodes', '10'], { HOME: dir });
        expect(over.code).toBe(1);
        expect(over.stderr.trim().split('\n').at(-1)).toMatch(/lists 11 nodes, more than the limit of 10 \(--max-graph-nodes\)$/);
      } finally {
        world.graph.setExtraNodes('stable-4.18', HOSTILE_NODES);
      }
      for (const [flag, value, message] of [
        ['--max-graph-nodes', '0', /--max-graph-nodes must be at least 10/],
        ['--max-graph-bytes', 'lots', /--max-graph-bytes "lots" is not a size from 64KiB to 1GiB/],
      ] as const) {
        const bad = await runCli(['scan', '--channel', 'stable-4.18', flag, value], { HOME: dir });
        expect(bad.code).toBe(2);
        expect(bad.stderr).toMatch(message);
      }
    });
  });

  describe('the pipeline', () => {
    let h: PipelineHarness;
    beforeAll(async () => {
      h = await startPipelineHarness({ channels: ['stable-4.18'], arches: ['amd64'], buildArches: ['x86_64'], subscribers: { all: null }, logLevel: 'INFO' });
      h.world.graph.setExtraNodes('stable-4.18', HOSTILE_NODES);
    });
    afterAll(async () => h?.stop());

    it('logs each bad node as a warning, and no control character reaches a log, the table or a notification', async () => {
      // The handlers' logger writes through console (outside Lambda) or process.stdout: both are captured.
      const lines: string[] = [];
      const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
      const saved = methods.map((m) => console[m]);
      const streams = [process.stdout, process.stderr];
      const writes = streams.map((stream) => stream.write.bind(stream));
      for (const m of methods) console[m] = (...args: unknown[]) => void lines.push(`${args.map(String).join(' ')}\n`);
      streams.forEach((stream, i) => {
        stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
          lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
          return (writes[i] as (...a: unknown[]) => boolean)(chunk, ...rest);
        }) as typeof stream.write;
      });
      try {
        await h.pipeline.tick();
        await h.pipeline.drain();
      } finally {
        methods.forEach((m, i) => (console[m] = saved[i]!));
        streams.forEach((stream, i) => (stream.write = writes[i]!));
      }
      const log = lines.join('');
      expect(log).not.toMatch(CONTROL);
      const warnings = log
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((e) => e['message'] === 'graph node skipped or partly ignored');
      expect(warnings.map((w) => [w['level'], w['channel'], w['arch'], w['version']])).toEqual([
        ['WARN', 'stable-4.18', 'amd64', '"4.18.99\\u001b]0;owned\\u0007\\u001b[2J"'],
        ['WARN', 'stable-4.18', 'amd64', '"4.18.98\\u009b31m"'],
        ['WARN', 'stable-4.18', 'amd64', '4.18.97'],
        ['WARN', 'stable-4.18', 'amd64', '4.18.96'],
      ]);

      const dynamo = new DynamoDBClient({ endpoint: h.emulators.endpoints.dynamodb, region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
      try {
        const { Items = [] } = await dynamo.send(new ScanCommand({ TableName: h.pipeline.tableName }));
        expect(Items.length).toBeGreaterThan(0);
        expect(JSON.stringify(Items)).toContain('4.18.14');
        expect(JSON.stringify(Items)).not.toContain('4.18.9');
        expect(stringsIn(Items).filter((v) => CONTROL.test(v))).toEqual([]);
      } finally {
        dynamo.destroy();
      }

      const notes = await h.received('all');
      expect(notes.some((n) => n.type === 'kernel.discovered')).toBe(true);
      expect(JSON.stringify(notes)).not.toContain('4.18.9');
      expect(stringsIn(notes).filter((v) => CONTROL.test(v))).toEqual([]);
    });
  });
});
