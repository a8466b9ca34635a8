/**
 * Partner drivers have one runtime source: against a deployed table, `driver list`,
 * `status`, `kmm module`, `rebuild` and `backfill` see the drivers the deploy config
 * declares (written to the table by poll-releases) and those added with `driver add`
 * alike; an added driver named like a declared one replaces it. The installed command
 * runs in a child process against a real DynamoDB API (dynalite) and SQS API (fauxqs)
 * on loopback, as it would against AWS.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DynamoPipelineStore } from '#aws/dynamo-store.ts';
import { TABLE_DEFINITION } from '#local/emulators.ts';
import { coverageIndexSchema } from '#pipeline/coverage.ts';
import { driverSchema } from '#pipeline/drivers.ts';
import { buildKeyOf } from '#pipeline/entities.ts';
import { buildEntry, kernelEntry } from '../support/entries.ts';

const TABLE = 'dtk-pipeline';
const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
/** Built for gpu and tpu (declared) and nic (added). */
const BUILT = '5.14.0-427.68.1.el9_4.x86_64';
/** Recorded, nothing built for it yet. */
const NEW = '5.14.0-570.49.1.el9_6.x86_64';
const DIGEST = `sha256:${'1'.repeat(64)}`;

const driver = (name: string, repository: string) =>
  driverSchema.parse({ name, source: { type: 'inline', context: 'images/driver-example' }, repository, arches: ['x86_64'], channels: ['stable-*'] });

let home: string;
let dynamo: Server;
let dynamoEndpoint: string;
let sqsServer: FauxqsServer;
let queueUrl: string;
let store: DynamoPipelineStore;
let dynamoClient: DynamoDBClient;
let planFile: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'cli-drivers-'));
  dynamo = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', () => resolve()));
  dynamoEndpoint = `http://127.0.0.1:${(dynamo.address() as { port: number }).port}`;
  sqsServer = await startFauxqs({ port: 0, host: 'localhost', logger: false, defaultRegion: REGION });
  sqsServer.createQueue('builds');
  queueUrl = `http://sqs.${REGION}.localhost:${sqsServer.port}/000000000000/builds`;

  dynamoClient = new DynamoDBClient({ endpoint: dynamoEndpoint, region: REGION, credentials: CREDENTIALS });
  await dynamoClient.send(new CreateTableCommand({ TableName: TABLE, ...TABLE_DEFINITION }));
  store = new DynamoPipelineStore(DynamoDBDocumentClient.from(dynamoClient, { marshallOptions: { removeUndefinedValues: true } }), TABLE);
  const now = '2025-01-10T08:00:00.000Z';
  // The deploy config's drivers, as poll-releases writes them; then two added with `driver add`.
  await store.putConfigDrivers([driver('gpu', 'quay.io/partner/gpu'), driver('fpga', 'quay.io/partner/fpga-declared'), driver('tpu', 'quay.io/partner/tpu')], now);
  await store.putDriver(driver('nic', 'quay.io/partner/nic'), now);
  await store.putDriver(driver('fpga', 'quay.io/partner/fpga-added'), now);
  // Each with its release's DTK, which driver builds build on.
  const dtkImages = [`quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:${'a'.repeat(64)}`];
  await store.createKernel(kernelEntry(BUILT, { releases: ['4.18.14'], channels: ['stable-4.18'], dtkImages }));
  await store.createKernel(kernelEntry(NEW, { releases: ['4.19.14'], channels: ['stable-4.19'], dtkImages }));
  // Keyed as the pipeline keys a driver build (`<kernel>|driver:<name>@<version>|<arch>`), so a rebuild finds it.
  for (const name of ['gpu', 'nic', 'tpu']) {
    const build = buildEntry(`driver:${name}`, BUILT, 'succeeded', { digest: DIGEST, variant: '1' });
    await store.createBuild({ ...build, buildKey: buildKeyOf(build.kernelVersion, `driver:${name}@1`, build.arch) });
  }

  planFile = join(home, 'plan.json');
  await writeFile(
    planFile,
    JSON.stringify({ dtkRepository: 'quay.io/example/dtk', buildArches: ['x86_64'], projects: { dtk: { x86_64: 'dtk-x86_64' }, driver: { x86_64: 'driver-x86_64' }, join: 'join' }, ubiImages: {} }),
  );
});
afterAll(async () => {
  dynamoClient?.destroy();
  await sqsServer?.stop();
  await new Promise<void>((resolve) => (dynamo ? dynamo.close(() => resolve()) : resolve()));
  if (home) await rm(home, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The installed command against the deployed table (`--table`), the SDK pointed at loopback by the standard variables. */
function dtk(...args: string[]): Promise<Run> {
  const env = {
    PATH: process.env['PATH'],
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: sqsServer.address,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/dtk-pipeline.js', ...args, '--table', TABLE], { env }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Every message in the builds queue now (received, not deleted: each test reads its own build keys). */
async function queuedBuildKeys(): Promise<string[]> {
  const sqs = new SQSClient({ endpoint: sqsServer.address, region: REGION, credentials: CREDENTIALS });
  try {
    const keys: string[] = [];
    for (;;) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 3600 }));
      if (Messages.length === 0) return keys;
      keys.push(...Messages.map((m) => (JSON.parse(m.Body ?? '{}') as { buildKey: string }).buildKey));
    }
  } finally {
    sqs.destroy();
  }
}

describe('partner drivers against a deployed table: declared and added alike', () => {
  it('driver list shows the declared and the added drivers, saying where each came from', async () => {
    const r = await dtk('driver', 'list');
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trimEnd().split('\n').map((l) => l.split('\t'));
    expect(rows.map((row) => [row[0], row[2]?.split(':')[0], row.at(-1)])).toEqual([
      ['fpga', 'quay.io/partner/fpga-added', "driver add (replaces the deploy config's)"],
      ['gpu', 'quay.io/partner/gpu', 'deploy config'],
      ['nic', 'quay.io/partner/nic', 'driver add'],
      ['tpu', 'quay.io/partner/tpu', 'deploy config'],
    ]);
  });

  it('status reports every kernel for the declared and the added drivers', async () => {
    const r = await dtk('status', '--json');
    expect(r.code, r.stderr).toBe(0);
    const index = coverageIndexSchema.parse(JSON.parse(r.stdout));
    const built = index.kernels.find((k) => k.kernel === BUILT);
    expect(Object.keys(built?.drivers ?? {}).sort()).toEqual(['fpga', 'gpu', 'nic', 'tpu']);
    expect(built?.drivers['gpu']).toMatchObject({ covered: true });
    expect(built?.drivers['nic']).toMatchObject({ covered: true });
    expect(Object.keys(index.kernels.find((k) => k.kernel === NEW)?.drivers ?? {}).sort()).toEqual(['fpga', 'gpu', 'nic', 'tpu']);
  });

  it('kmm module maps the images of a declared driver as of an added one', async () => {
    for (const name of ['gpu', 'nic']) {
      const r = await dtk('kmm', 'module', '--driver', name);
      expect(r.code, r.stderr).toBe(0);
      const module = parse(r.stdout) as { kind: string; spec: { moduleLoader: { container: { kernelMappings: { containerImage: string }[] } } } };
      expect(module.kind).toBe('Module');
      expect(module.spec.moduleLoader.container.kernelMappings.map((m) => m.containerImage)).toEqual([`quay.io/partner/${name}:\${KERNEL_FULL_VERSION}`]);
    }
  });

  // tpu: a driver no other test reads the builds of (a rebuild puts its build back in the queue).
  it('rebuild queues a declared driver\'s build again, through the deployment\'s builds queue', async () => {
    const r = await dtk('rebuild', '--kernel', BUILT, '--driver', 'tpu', '--plan', planFile, '--builds-queue-url', queueUrl);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^1 kernels matched; 0 builds queued, 1 queued again/);
    const key = (await store.listBuilds()).find((b) => b.target === 'driver:tpu' && b.kernel === BUILT)?.buildKey;
    expect(key).toBeDefined();
    expect(await queuedBuildKeys()).toContain(key);
  });

  it('backfill queues the builds of the declared and the added drivers, the added one in place of the declared one of its name', async () => {
    const r = await dtk('backfill', '--since', '4.19', '--plan', planFile, '--builds-queue-url', queueUrl);
    expect(r.code, r.stderr).toBe(0);
    const forNew = (await store.listBuilds()).filter((b) => b.kernel === NEW && b.kind === 'driver');
    expect(forNew.map((b) => [b.target, b.image.split(':')[0]]).sort()).toEqual([
      ['driver:fpga', 'quay.io/partner/fpga-added'],
      ['driver:gpu', 'quay.io/partner/gpu'],
      ['driver:nic', 'quay.io/partner/nic'],
      ['driver:tpu', 'quay.io/partner/tpu'],
    ]);
    expect(await queuedBuildKeys()).toEqual(expect.arrayContaining(forNew.map((b) => b.buildKey)));
  });
});
