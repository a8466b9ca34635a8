/**
 * One flag names the local state for every command that reads or writes it:
 * `--data-dir DIR`, as `dtk-pipeline local --data-dir DIR` writes it; the old
 * `--local [DIR]` still works and means the same.
 */
import type { Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE_DEFINITION } from '#local/emulators.ts';
import { driverSchema } from '#pipeline/drivers.ts';
import { DynamoPipelineStore } from '#aws/dynamo-store.ts';
import { runCli } from '../support/cli.ts';
import { kernelEntry } from '../support/entries.ts';

const KERNEL = '5.14.0-427.68.1.el9_4.x86_64';
let dir: string;

/** A local run's state on disk (the dynalite data `dtk-pipeline local` keeps): one kernel, one stored driver. */
async function seedState(dataDir: string): Promise<void> {
  const server: Server = dynalite({ path: join(dataDir, 'dynamodb'), createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    await client.send(new CreateTableCommand({ TableName: 'dtk-pipeline', ...TABLE_DEFINITION }));
    const store = new DynamoPipelineStore(DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }), 'dtk-pipeline');
    await store.createKernel(kernelEntry(KERNEL, { releases: ['4.18.14'], channels: ['stable-4.18'] }));
    await store.putDriver(driverSchema.parse({ name: 'gpu', source: { type: 'inline', context: 'images/driver-example' }, repository: 'quay.io/partner/gpu' }), '2025-01-10T08:00:00.000Z');
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-store-flags-'));
  await seedState(join(dir, 'state'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const run = (...args: string[]) => runCli(args, { HOME: dir });
/** The coverage index says when it was made: the one field two runs differ in. */
const sameTime = (r: { code: number; stdout: string; stderr: string }) => ({ ...r, stdout: r.stdout.replace(/"generatedAt": "[^"]+"/, '"generatedAt": "…"') });

const COMMANDS: readonly (readonly string[])[] = [
  ['status', '--json'],
  ['status'],
  ['driver', 'list'],
  ['kmm', 'module', '--driver', 'gpu'],
  ['kmm', 'preflight', '--openshift', '4.18.14'],
  ['rebuild', '--kernel', KERNEL],
  ['backfill', '--since', '4.12'],
];

describe('--data-dir, and --local as its old name', () => {
  for (const command of COMMANDS) {
    it(`${command.join(' ')}: --local DIR does what --data-dir DIR does, and the directory given is the one read`, async () => {
      const state = join(dir, 'state');
      const current = sameTime(await run(...command, '--data-dir', state));
      const old = sameTime(await run(...command, '--local', state));
      expect(old).toEqual(current);
      expect(current.stderr).not.toContain('.cache/local');
      const elsewhere = await run(...command, '--data-dir', join(dir, 'nowhere'));
      expect(elsewhere.code).toBe(1);
      expect(elsewhere.stderr).toContain(`no local pipeline state in ${join(dir, 'nowhere', 'dynamodb')}`);
    });
  }

  it('reads the recorded kernel and driver from the directory given', async () => {
    const status = await run('status', '--json', '--data-dir', join(dir, 'state'));
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as { kernels: { kernel: string }[] }).kernels.map((k) => k.kernel)).toEqual([KERNEL]);
    const drivers = await run('driver', 'list', '--data-dir', join(dir, 'state'));
    expect(drivers.stdout).toMatch(/^gpu\t1\tquay\.io\/partner\/gpu:/);
  });

  it('status --kernel prints the kernel asked for, and names one that is not recorded', async () => {
    const found = await run('status', '--data-dir', join(dir, 'state'), '--kernel', '5.14.0-427.68.1.el9_4');
    expect(found.code).toBe(0);
    expect(found.stdout).toMatch(new RegExp(`^${KERNEL.replace(/\./g, '\\.')}\n {2}arch {8}x86_64\n`));
    expect(found.stdout).toMatch(/^ {2}releases {4}4\.18\.14$/m);
    const missing = await run('status', '--data-dir', join(dir, 'state'), '--kernel', '5.14.0-1.el9.x86_64');
    expect(missing).toEqual({ code: 1, stdout: '', stderr: 'dtk-pipeline: kernel "5.14.0-1.el9.x86_64" is not recorded (`dtk-pipeline status` lists the kernels)\n' });
  });

  it('refuses two different directories, or a directory and a table, with exit 2', async () => {
    const two = await run('status', '--data-dir', join(dir, 'a'), '--local', join(dir, 'b'));
    expect(two).toEqual({ code: 2, stdout: '', stderr: 'dtk-pipeline: --local is the old name of --data-dir: give the directory once\n' });
    const both = await run('kmm', 'module', '--driver', 'gpu', '--data-dir', join(dir, 'a'), '--table', 'dtk-pipeline');
    expect(both).toEqual({ code: 2, stdout: '', stderr: 'dtk-pipeline: give --data-dir or --table, not both\n' });
  });

  it('names --data-dir in the help of every command that takes it, and --local as deprecated', async () => {
    for (const command of [['local'], ['status'], ['driver', 'add'], ['driver', 'list'], ['rebuild'], ['backfill'], ['kmm', 'module'], ['kmm', 'preflight']]) {
      const help = await run(...command, '--help');
      expect(help.stdout).toMatch(/^ {2}--data-dir <dir> /m);
      if (command[0] !== 'local') expect(help.stdout).toMatch(/^ {2}--local \[dir\] +deprecated: the old name of --data-dir$/m);
    }
  });
});
