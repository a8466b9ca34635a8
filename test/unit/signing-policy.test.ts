/**
 * `ocp image-policy`: the ClusterImagePolicy printed for a registered driver (and any
 * extra repository such as the DTK's) parses back as YAML with the scopes and the
 * public key, ready for `oc apply`. The store is a small fake holding the drivers.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { imagePolicyFlagsSchema, runImagePolicy } from '#cli/signing-command.ts';
import { clusterImagePolicy } from '#core/signing/image-policy.ts';
import { driverSchema } from '#pipeline/drivers.ts';
import type { PipelineStore } from '#pipeline/ports.ts';

const PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
let dir: string;
let keyFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'image-policy-'));
  keyFile = join(dir, 'cosign.pub');
  await writeFile(keyFile, PEM);
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const drivers = [driverSchema.parse({ name: 'gpu', source: { type: 'inline', context: 'images/driver-example' }, repository: 'quay.io/acme/gpu-driver' })];
// The drivers as the deploy config declares them (none added with `driver add`): image-policy finds those too.
const open = async () => ({ store: { listConfigDrivers: async () => drivers, listDrivers: async () => [] } as unknown as PipelineStore, description: 'fake', close: async () => {} });

async function run(args: Record<string, unknown>): Promise<{ code: number; stdout: string }> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  const flags = imagePolicyFlagsSchema.parse({ store: {}, ...args });
  const code = await runImagePolicy(flags, { stdout, stderr: new PassThrough(), env: {} }, open);
  return { code, stdout: Buffer.concat(chunks).toString() };
}

describe('ocp image-policy', () => {
  it('prints a ClusterImagePolicy scoped to the driver and DTK repositories with the public key', async () => {
    const out = await run({ driver: 'gpu', repository: ['quay.io/acme/driver-toolkit'], publicKey: keyFile });
    expect(out.code).toBe(0);
    const policy = parse(out.stdout) as ReturnType<typeof clusterImagePolicy>;
    expect(policy.apiVersion).toBe('config.openshift.io/v1');
    expect(policy.kind).toBe('ClusterImagePolicy');
    expect(policy.metadata.name).toBe('dtk-pipeline-gpu');
    expect(policy.spec.scopes).toEqual(['quay.io/acme/driver-toolkit', 'quay.io/acme/gpu-driver']);
    expect(policy.spec.policy.rootOfTrust.policyType).toBe('PublicKey');
    expect(Buffer.from(policy.spec.policy.rootOfTrust.publicKey.keyData, 'base64').toString()).toBe(PEM);
    expect(policy.spec.policy.signedIdentity.matchPolicy).toBe('MatchRepository');
  });

  it('names an unknown driver', async () => {
    await expect(run({ driver: 'nope', publicKey: keyFile })).rejects.toThrow('no driver nope is registered');
  });

  it('refuses a scope with a tag and a key that is not PEM', () => {
    expect(() => clusterImagePolicy('p', ['quay.io/acme/x:latest'], PEM)).toThrow('without tag');
    expect(() => clusterImagePolicy('p', ['quay.io/acme/x'], 'not a key')).toThrow('not a PEM');
  });

  it('needs a key and a scope', () => {
    expect(imagePolicyFlagsSchema.safeParse({ store: {}, driver: 'gpu' }).success).toBe(false);
    expect(imagePolicyFlagsSchema.safeParse({ store: {}, publicKey: 'k' }).success).toBe(false);
  });
});
