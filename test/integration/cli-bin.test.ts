/**
 * The installed command, as a person starts it: `bin/dtk-pipeline.js` in a child
 * process, running the compiled CLI (dist/cli/, built by the test setup as
 * `npm ci` builds it), with an environment the test controls entirely.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dynalite from 'dynalite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let home: string;
let dynamo: Server;
let dynamoEndpoint: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'cli-bin-'));
  dynamo = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', () => resolve()));
  dynamoEndpoint = `http://127.0.0.1:${(dynamo.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => dynamo?.close(() => resolve()));
  await rm(home, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** No AWS configuration but what a test gives: no profile files, no instance metadata. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

function run(script: string, args: readonly string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { env }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const bin = (args: readonly string[], env?: NodeJS.ProcessEnv) => run('bin/dtk-pipeline.js', args, env);

describe('bin/dtk-pipeline.js', () => {
  it('--help lists every command on stdout and nothing on stderr', async () => {
    const r = await bin(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Usage: dtk-pipeline \[options\] \[command\]\n/);
    for (const command of ['scan', 'local', 'validate-build-env', 'image-exists', 'check-modules', 'join', 'kmm', 'status', 'driver', 'rebuild', 'backfill']) {
      expect(r.stdout).toMatch(new RegExp(`^ {2}${command} `, 'm'));
    }
  });

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    const r = await bin(['--version']);
    expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('says to run `npm run build` when the compiled CLI is missing', async () => {
    const checkout = join(home, 'checkout-without-build');
    await mkdir(join(checkout, 'bin'), { recursive: true });
    await copyFile('bin/dtk-pipeline.js', join(checkout, 'bin', 'dtk-pipeline.js'));
    const r = await run(join(checkout, 'bin', 'dtk-pipeline.js'), ['--help']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('dtk-pipeline: the compiled CLI (dist/cli/bin.js) is missing: run `npm run build` (`npm ci` runs it) in the dtk-pipeline checkout\n');
  });
});

describe('AWS errors, as the person running a command reads them', () => {
  it('without a region: one line naming the table and AWS_REGION, no SDK warning', async () => {
    const r = await bin(['status', '--table', 'dtk-pipeline']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'dtk-pipeline: table dtk-pipeline: no AWS region: set AWS_REGION to the region the stack is deployed in (or a region in the profile AWS_PROFILE names)\n',
    );
  });

  it('without credentials: one line saying which variables to set', async () => {
    const r = await bin(['status', '--table', 'dtk-pipeline'], cleanEnv({ AWS_REGION: 'eu-west-1' }));
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')).toEqual([
      'dtk-pipeline: table dtk-pipeline in eu-west-1: no AWS credentials found: set AWS_PROFILE to a configured profile (after `aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
      '',
    ]);
  });

  it('a table that does not exist (a real DynamoDB API on loopback): names it, the region and the endpoint override', async () => {
    const env = cleanEnv({ AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint });
    const r = await bin(['driver', 'list', '--table', 'no-such-table'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'dtk-pipeline: table no-such-table in us-east-1 does not exist: check the name (the stack\'s outputs) and AWS_REGION and AWS_ENDPOINT_URL_DYNAMODB\n',
    );
  });

  it('an unreachable endpoint: names it and the variable that set it', async () => {
    const env = cleanEnv({ AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9' });
    const r = await bin(['status', '--table', 'dtk-pipeline'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'dtk-pipeline: table dtk-pipeline in us-east-1: cannot reach DynamoDB at http://127.0.0.1:9 (ECONNREFUSED): check AWS_ENDPOINT_URL_DYNAMODB and the network\n',
    );
  });

  it('the SDK warns about Node.js versions only when the user asks for it (AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=false)', async () => {
    const asked = await bin(['status', '--table', 'dtk-pipeline'], cleanEnv({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' }));
    // The SDK pinned here warns on Node.js before 22; the default run above printed one line only.
    const sdkWarns = Number(process.versions.node.split('.')[0]) < 22;
    expect(asked.stderr.includes('NodeVersionSupportWarning')).toBe(sdkWarns);
    const quiet = await bin(['status', '--table', 'dtk-pipeline']);
    expect(quiet.stderr).not.toMatch(/Warning|NodeVersionSupport/);
    expect(quiet.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});
