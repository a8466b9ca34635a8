/**
 * The commands people run, end to end on this machine: `local` (the pipeline
 * against the offline world, twice), then `status`, `driver add` (with its
 * backfill), `rebuild` and `kmm preflight` against the state it left.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { coverageIndexSchema } from '#pipeline/coverage.ts';
import { runCli } from '../support/cli.ts';

let dir: string;
type Run = { code: number; stdout: string; stderr: string };
/** The two local runs every test here reads the state of: made once, so each test also runs alone (`-t NAME`). */
let first: Run;
let second: Run;
let page: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-local-'));
  first = await runLocal('--data-dir', dir);
  page = await readFile(join(dir, 'coverage', 'index.html'), 'utf8').catch(() => '');
  second = await runLocal('--data-dir', dir);
}, 900_000);
afterAll(async () => {
  for (const d of [dir, ...copies]) if (d) await rm(d, { recursive: true, force: true });
});

const copies: string[] = [];
/**
 * A copy of the state the two runs left, for a test that changes it (adds a driver,
 * queues builds): the other tests read the original, so they pass in any order.
 */
async function copyOfState(): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'cli-local-copy-'));
  copies.push(copy);
  await cp(dir, copy, { recursive: true });
  return copy;
}

/**
 * `local` runs in its own process, as a person runs it: the handlers read their
 * configuration at import (a cold start), so one process runs one pipeline.
 */
async function runLocal(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/dtk-pipeline.js', 'local', ...args], { env: { ...process.env, HOME: dir }, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const run = (...args: string[]) => runCli(args, { ...process.env, HOME: dir });

describe('the local run and the commands that read its state', () => {
  it('runs the pipeline, and a second run over the unchanged world reports nothing new', async () => {
    expect(first.code, first.stderr).toBe(0);
    // The demo world: every fixture release outside the fault channels, OKD (stable-scos-4, its own graph) included.
    expect(first.stdout).toMatch(/releases seen: 34\nkernels recorded: 37\n/);
    expect(first.stdout).toMatch(/builds started: [1-9]\d*/);
    // Nothing is claimed that was not built: the offline world's DTKs hold no kernel
    // headers, and a DTK needs UBI + RHSM, so every build here is simulated, or refused
    // before it starts (an OKD kernel's DTK), with the reason.
    const buildLines = first.stdout.split('\n').filter((l) => l.startsWith('build '));
    expect(buildLines.length).toBeGreaterThan(0);
    expect(buildLines.filter((l) => !/ (simulated \(simulated, not built: .+\)|failed \(not started: .+\))$/.test(l))).toEqual([]);
    expect(buildLines.filter((l) => / simulated /.test(l)).length).toBeGreaterThan(buildLines.length / 2);
    expect(buildLines.filter((l) => / (succeeded|skipped)( |$)/.test(l))).toEqual([]);
    expect(buildLines.find((l) => l.startsWith('build dtk '))).toContain('UBI with a Red Hat subscription (RHSM)');
    // The findings of the releases it resolved, by release.
    expect(first.stdout).toMatch(/findings \(\d+\):\n(?:.*\n)* {2}4\.22\.0 x86_64 invalid-kernel-string: rhel-coreos label ostree\.linux holds "true"/);
    expect(page).toContain('5.14.0-427.68.1.el9_4.x86_64');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/releases seen: 0\nkernels recorded: 0\nnotifications published: 0\nbuilds started: 0\n/);
    expect(second.stdout).toContain('nothing new since the last run');
  });

  it('status --json lists every kernel with its DTK and example-driver images', async () => {
    const r = await run('status', '--data-dir', dir, '--json');
    expect(r.code).toBe(0);
    const index = coverageIndexSchema.parse(JSON.parse(r.stdout));
    expect(index.kernels).toHaveLength(37);
    const k = index.kernels.find((x) => x.kernel === '5.14.0-427.68.1.el9_4.x86_64');
    expect(k?.releases).toEqual(['4.18.14']);
    expect(k?.dtk).toMatchObject({ state: 'simulated', covered: false });
    expect(k?.dtk.builds[0]).toMatchObject({ state: 'simulated', image: null, digest: null });
    expect(k?.drivers['dtk-example']).toMatchObject({ state: 'simulated', covered: false });
    expect(index.summary.dtk).toMatchObject({ covered: 0 });
    expect(index.summary.dtk.simulated).toBeGreaterThan(0);
    const every = index.kernels.flatMap((x) => [x.dtk, ...Object.values(x.drivers)]).flatMap((t) => t.builds);
    expect(every.filter((b) => b.state === 'succeeded' || b.state === 'skipped' || b.digest !== null)).toEqual([]);
  });

  it('status and kmm module present no simulated build as an image', async () => {
    const table = await run('status', '--data-dir', dir);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('simulated');
    expect(table.stdout).not.toMatch(/succeeded|driver-toolkit:|partner\/dtk-example:/);
    expect(table.stdout).toMatch(/DTK 0\/\d+ covered \(\d+ simulated, not built\)/);
    const kmm = await run('kmm', 'module', '--data-dir', dir, '--driver', 'dtk-example');
    expect(kmm.code).toBe(1);
    expect(kmm.stdout).toBe('');
    expect(kmm.stderr).toMatch(/nothing has been built yet for driver dtk-example: its builds are \d+ simulated/);
  });

  it('status prints one line per kernel that fits 100 and 80 columns', async () => {
    const kernels = coverageIndexSchema.parse(JSON.parse((await run('status', '--data-dir', dir, '--json')).stdout)).kernels.length;
    for (const columns of [100, 80]) {
      const r = await runCli(['status', '--data-dir', dir], { ...process.env, HOME: dir, COLUMNS: String(columns) });
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(columns);
      expect(lines.filter((l) => /^\d+\.\d+\.\d+-\S+ /.test(l))).toHaveLength(kernels);
      expect(r.stdout).not.toContain('\u001b');
    }
  });

  it('driver add stores a driver and queues its backfill for the next local run', async () => {
    const state = await copyOfState();
    const file = join(state, 'nic.json');
    await writeFile(file, JSON.stringify({ name: 'nic', source: { type: 'inline', context: 'images/driver-example' }, repository: 'registry.example/partner/nic', channels: ['stable-4.18'], arches: ['x86_64'] }));
    const added = await run('driver', 'add', '--data-dir', state, '--file', file);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/added driver nic/);
    expect(added.stdout).toMatch(/backfill: 1 kernels matched; 1 builds queued/);
    // The run's declared example driver and the added one, each with where it came from.
    const listed = await run('driver', 'list', '--data-dir', state);
    expect(listed.stdout.trimEnd().split('\n').map((l) => `${l.split('\t')[0]} ${l.split('\t').at(-1)}`)).toEqual(['dtk-example deploy config', 'nic driver add']);
    const missing = await run('status', '--data-dir', state, '--missing');
    expect(missing.stdout).toContain('5.14.0-427.68.1.el9_4.x86_64');
    const next = await runLocal('--data-dir', state);
    expect(next.stderr).toContain('starting 1 builds queued since the last run');
    expect(next.stdout).toMatch(/builds started: [1-9]/);
    const after = await run('status', '--data-dir', state, '--json');
    expect(coverageIndexSchema.parse(JSON.parse(after.stdout)).summary.drivers['nic']).toMatchObject({ matching: 1, covered: 0, simulated: 1 });
  }, 120_000);

  it('refuses a bad driver definition with one line naming the field', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({ name: 'nic', source: { type: 'git', url: 'http://x/y', ref: 'main' }, repository: 'registry.example/partner/nic' }));
    const r = await run('driver', 'add', '--data-dir', dir, '--file', file);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/source\.url .*https/);
  });

  it('rebuild queues a recorded kernel again for the driver the run declares, and refuses an unknown kernel', async () => {
    const state = await copyOfState();
    const r = await run('rebuild', '--data-dir', state, '--kernel', '5.14.0-427.68.1.el9_4.x86_64', '--driver', 'dtk-example');
    expect(r.stdout).toMatch(/1 kernels matched; 0 builds queued, 2 queued again/); // the kernel and its RT kernel (filters.rt)
    const unknown = await run('rebuild', '--data-dir', state, '--kernel', '5.14.0-1.1.1.el9_4.x86_64');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/kernel "5.14.0-1.1.1.el9_4.x86_64" is not recorded/);
  });

  it('plans builds from the plan the local run wrote, and asks for one against a deployed table', async () => {
    const plan = JSON.parse(await readFile(join(dir, 'plan.json'), 'utf8')) as { ubiImages: Record<string, string>; dtkRepository: string };
    expect(Object.keys(plan.ubiImages).sort()).toEqual(['10', '8', '9']);
    expect(plan.dtkRepository).toMatch(/^127\.0\.0\.1:\d+\/dtk\/driver-toolkit$/);
    const deployed = await run('backfill', '--table', 'dtk-pipeline', '--since', '4.12');
    expect(deployed.code).toBe(1);
    expect(deployed.stderr).toMatch(/--table needs --plan FILE/);
  });

  it('with --live and an unreadable graph, polls the default arches, names each graph and exits non-zero', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as AddressInfo;
    await new Promise((r) => closed.close(r));
    const r = await runLocal('--live', '--channel', 'stable-4.18', '--graph-url', `http://127.0.0.1:${port}/graph`, '--data-dir', join(dir, 'live'));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/graphs not read \(3 of 3; their releases were not looked at\):/);
    for (const arch of ['amd64', 'arm64', 'multi']) expect(r.stdout).toMatch(new RegExp(`  stable-4\\.18 ${arch}: update graph .* unreachable`));
    expect(r.stdout).toContain('not every graph could be read: the run is incomplete');
    expect(r.stdout).not.toContain('nothing new');
  }, 60_000);

  it('kmm preflight prints a PreflightValidationOCP for a recorded release', async () => {
    const r = await run('kmm', 'preflight', '--data-dir', dir, '--openshift', '4.18.14');
    expect(r.code).toBe(0);
    const doc = parse(r.stdout) as { kind: string; spec: { kernelVersion: string; dtkImage: string } };
    expect(doc.kind).toBe('PreflightValidationOCP');
    expect(doc.spec.kernelVersion).toBe('5.14.0-427.68.1.el9_4.x86_64');
    expect(doc.spec.dtkImage).toMatch(/@sha256:[0-9a-f]{64}$/);
  });
});
