import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanReportSchema } from '#core/scan.ts';
import { fixtureWorld } from '#world/fixtures.ts';
import { startWorld, type RunningWorld } from '#world/index.ts';
import { runCli } from '../support/cli.ts';

let world: RunningWorld;
let dir: string;
beforeAll(async () => {
  world = await startWorld(fixtureWorld());
  dir = await mkdtemp(join(tmpdir(), 'cli-'));
});
afterAll(async () => {
  await world?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Scans of the world list its plain-http registry and CDN, as a user of a local registry must. */
const insecure = (): string[] => world.insecureRegistries.flatMap((h) => ['--insecure-registry', h]);
const run = (args: string[], env: NodeJS.ProcessEnv = { HOME: dir }) => runCli(args[0] === 'scan' && args.includes('--graph-url') ? [...args, ...insecure()] : args, env);

describe('dtk-pipeline scan', () => {
  it('prints the JSON report the issue describes', async () => {
    const r = await run(['scan', '--channel', 'stable-4.18', '--graph-url', world.graphUrl, '--pull-secret', world.pullSecretPath, '--cache-dir', join(dir, 'c1'), '--format', 'json']);
    expect(r.code).toBe(0);
    const report = scanReportSchema.parse(JSON.parse(r.stdout));
    expect(report.kernels[0]).toMatchObject({
      kernel: '5.14.0-427.68.1.el9_4.x86_64',
      arch: 'x86_64',
      rhelVersion: '9.4',
      rtKernel: '5.14.0-427.68.1.el9_4.x86_64+rt',
      kernel64k: null,
      releases: ['4.18.14'],
      prerelease: false,
      rhcosVersions: ['418.94.202505062142-0'],
    });
    expect(report.kernels[0]?.dtkImages[0]).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(report.releases[0]).toMatchObject({ version: '4.18.14', arch: 'x86_64', kernels: ['5.14.0-427.68.1.el9_4.x86_64'], findings: [] });
    expect(r.stderr).toContain('1 kernels in 1 releases');
  });

  it('scans OKD beside OpenShift, each channel from its own graph', async () => {
    const r = await run([
      'scan', '--channel', 'stable-4.18', '--channel', 'stable-scos-4', '--graph-url', world.graphUrl,
      '--channel-graph', `stable-scos-4=${world.okdGraphUrl}`, '--pull-secret', world.pullSecretPath, '--cache-dir', join(dir, 'c-okd'), '--format', 'json',
    ]);
    expect(r.code).toBe(0);
    const report = scanReportSchema.parse(JSON.parse(r.stdout));
    expect(report.releases.map((x) => x.version)).toEqual(['4.18.14', '4.19.0-okd-scos.17', '4.20.0-okd-scos.ec.14', '4.22.0-okd-scos.2']);
    expect(report.kernels.find((k) => k.kernel === '6.12.0-224.el10.x86_64')).toMatchObject({ streams: ['stream-coreos'], rhelVersion: '10', prerelease: false });
    expect(world.okdGraph.stats.requests).toBeGreaterThan(0);
  });

  it('reads the pull secret from $REGISTRY_AUTH_FILE and prints the matrix on one line', async () => {
    const r = await run(
      ['scan', '--channel', 'stable-4.12', '--arch', 'amd64', '--arch', 'arm64', '--graph-url', world.graphUrl, '--cache-dir', join(dir, 'c2'), '--format', 'matrix'],
      { HOME: dir, REGISTRY_AUTH_FILE: world.pullSecretPath },
    );
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(JSON.parse(r.stdout).versions).toContainEqual({ rhel: '8.6', kernel: '4.18.0-372.53.1.el8_6', archs: 'linux/amd64,linux/arm64' });
  });

  it.each([
    [['scan'], /give at least one --channel/],
    [['scan', '--channel', 'stable-4.18', '--arch', 'x86'], /--arch "x86" is not one of amd64, arm64, s390x, ppc64le, multi/],
    [['scan', '--channel', 'stable-4.18', '--concurrency', '0'], /--concurrency must be at least 1/],
    [['scan', '--channel', 'stable-4.18', '--format', 'yaml'], /--format "yaml" is not one of table, json, matrix/],
    [['scan', '--channel', 'stable-4.18', '--insecure-registry', 'a b'], /--insecure-registry "a b" is not HOST\[:PORT\]/],
    [['scan', '--nope'], /unknown option '--nope'/],
  ])('rejects bad flags %j with one line and exit 2', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  it('ends with one line and exit 1 when the graph is unreachable', async () => {
    const r = await run(['scan', '--channel', 'stable-4.18', '--graph-url', 'http://127.0.0.1:9/graph', '--cache-dir', join(dir, 'c3')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^dtk-pipeline: update graph 127\.0\.0\.1:9 .*unreachable/);
    expect(r.stdout).toBe('');
  });

  it('ends with one line naming the problem, and no secret, when credentials are refused', async () => {
    const secret = join(dir, 'wrong.json');
    const password = 'not-the-password-123';
    await writeFile(secret, JSON.stringify({ auths: { [world.registryHost]: { auth: Buffer.from(`reader:${password}`).toString('base64') } } }));
    const r = await run(['scan', '--channel', 'stable-4.18', '--graph-url', world.graphUrl, '--pull-secret', secret, '--cache-dir', join(dir, 'c4')]);
    expect(r.code).toBe(1);
    const last = r.stderr.trim().split('\n').at(-1)!;
    expect(last).toMatch(/^dtk-pipeline: .*refused/);
    expect(r.stderr + r.stdout).not.toContain(password);
    expect(r.stderr + r.stdout).not.toContain(Buffer.from(`reader:${password}`).toString('base64'));
  });

  it('says which pull secret file is missing', async () => {
    const r = await run(['scan', '--channel', 'stable-4.18', '--graph-url', world.graphUrl, '--pull-secret', join(dir, 'missing.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('missing.json');
  });
});
