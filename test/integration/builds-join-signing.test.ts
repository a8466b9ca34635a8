/**
 * The pipeline signs what it pushes: scripts/build/join.sh, given IMAGE_SIGNING_KMS_KEY
 * (an ECDSA P-256 key in KMS, moto_server), signs the multi-arch index it pushes, through
 * the compiled CLI as the build runs it, against Debian's docker-registry with token auth.
 *
 * containers/image (skopeo 1.18, what CRI-O runs) checks the signature of every per-arch
 * image it copies but not that of the index itself (an index whose per-arch images are
 * signed is accepted with or without its own signature: observed here). So the index
 * signature is verified with openssl (the ECDSA signature over the simple-signing payload,
 * which must name the index digest), and skopeo checks the whole: copying every arch of
 * the signed index is accepted, and refused for an index of the same repository that
 * holds an unsigned image. A key KMS cannot sign with fails the build.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { RegistryClient } from '#core/registry/client.ts';
import { startEmulators, type Emulators } from '#local/emulators.ts';
import { buildImage } from '#world/oci.ts';
import type { RunningRegistry } from '#world/registry-server.ts';
import { joinEnv, runScript, startBuildRegistry, type BuildRegistry } from '../support/build-world.ts';
import { runCli } from '../support/cli.ts';
import { pushBuiltImage } from '../support/image-files.ts';
import { kmsClient, sigstoreCopy, sigstoreSkopeo, tool } from '../support/signing.ts';

const REPO = 'partner/joined-signed';
const SHA = /^sha256:[0-9a-f]{64}$/;

let target: BuildRegistry;
let registry: RunningRegistry;
let emulators: Emulators;
let kms: KMSClient;
let client: RegistryClient;
let dir: string;
let authFile: string;
let keyArn: string;
let publicKeyFile: string;
let skopeo: string;

/** openssl's verdict on the sigstore signature attached to REPO@DIGEST (its payload must name DIGEST). */
async function opensslVerifyAttachment(digest: string) {
  const sigTag = `sha256-${digest.slice('sha256:'.length)}.sig`;
  const manifest = JSON.parse((await client.getManifestBytes({ registry: registry.host, repository: REPO, tag: sigTag })).bytes.toString()) as {
    layers: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }[];
  };
  const layer = manifest.layers[0];
  if (!layer) throw new Error('signature manifest has no layer');
  const chunks: Buffer[] = [];
  for await (const chunk of await client.openBlob({ registry: registry.host, repository: REPO, tag: sigTag }, layer)) chunks.push(chunk as Buffer);
  const payload = Buffer.concat(chunks);
  const work = await mkdtemp(join(dir, 'openssl-'));
  await writeFile(join(work, 'payload'), payload);
  await writeFile(join(work, 'sig'), Buffer.from(layer.annotations['dev.cosignproject.cosign/signature'] ?? '', 'base64'));
  const verdict = await tool('openssl', ['dgst', '-sha256', '-verify', publicKeyFile, '-signature', join(work, 'sig'), join(work, 'payload')]);
  const named = (JSON.parse(payload.toString()) as { critical: { image: { 'docker-manifest-digest': string } } }).critical.image['docker-manifest-digest'];
  return { ...verdict, named };
}

const skopeoCopyAll = (digestRef: string) =>
  sigstoreCopy({ skopeo, workDir: dir, registryHost: registry.host, repository: REPO, keyPath: publicKeyFile, digestRef, reader: registry.tokenService.credentials('reader') });

/** Pushes a per-arch image under TAG and signs it (as the driver build does); resolves with its tag. */
async function pushArch(tag: string, arch: 'amd64' | 'arm64', content: string, sign = true): Promise<string> {
  const image = buildImage({ layers: [{ files: { [`opt/lib/modules/k/extra/${arch}.ko`]: content } }] }, arch);
  const pushed = await pushBuiltImage(client, { registry: registry.host, repository: REPO, tag }, image);
  if (!sign) return tag;
  const signed = await runCli(['sign-image', `${registry.host}/${REPO}@${pushed.digest}`, '--kms-key-id', keyArn, '--pull-secret', authFile, ...registry.insecureRegistries.flatMap((h) => ['--insecure-registry', h])], { ...process.env, ...emulators.sdkEnv() });
  if (signed.code !== 0) throw new Error(`sign-image failed: ${signed.stderr}`);
  return tag;
}

const indexEnv = (tag: string, archTags: string, over: Record<string, string> = {}): Record<string, string> => ({
  ...emulators.sdkEnv(),
  ...joinEnv(target, REPO, tag, archTags),
  ...over,
});

beforeAll(async () => {
  skopeo = await sigstoreSkopeo();
  target = await startBuildRegistry('builds-join-signing-');
  ({ registry, client, dir, authFile } = target);
  emulators = await startEmulators();
  kms = kmsClient(emulators.endpoints.kms);
  const key = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Description: 'image signing' }));
  keyArn = key.KeyMetadata?.Arn ?? '';
  const policy = await runCli(['ocp', 'image-policy', '--repository', `${registry.host}/${REPO}`, '--kms-key-id', keyArn, '--output', 'json'], { ...process.env, ...emulators.sdkEnv() });
  if (policy.code !== 0) throw new Error(`ocp image-policy failed: ${policy.stderr}`);
  const parsed = JSON.parse(policy.stdout) as { spec: { policy: { rootOfTrust: { publicKey: { keyData: string } } } } };
  publicKeyFile = join(dir, 'cosign.pub');
  await writeFile(publicKeyFile, Buffer.from(parsed.spec.policy.rootOfTrust.publicKey.keyData, 'base64'));
});

afterAll(async () => {
  kms?.destroy();
  await emulators?.stop();
  await target?.stop();
});

describe('join.sh with IMAGE_SIGNING_KMS_KEY', () => {
  it('signs the index it pushes (openssl verifies it, skopeo accepts the whole); without the key there is no signature, and a later join with the key adds it', async () => {
    const amd = await pushArch('k1-x86_64', 'amd64', 'module one');
    const arm = await pushArch('k1-aarch64', 'arm64', 'module one arm');
    const run = await runScript('join.sh', indexEnv('k1', `x86_64=${amd},aarch64=${arm}`, { IMAGE_SIGNING_KMS_KEY: keyArn }));
    expect(run.code, run.stderr).toBe(0);
    expect(run.result['BUILD_RESULT']).toBe('pushed');
    const digest = run.result['IMAGE_DIGEST'] ?? '';
    expect(digest).toMatch(SHA);
    expect(run.stderr).toContain(`sign-image: ${registry.host}/${REPO}@${digest} signed`);
    const verdict = await opensslVerifyAttachment(digest);
    expect(verdict.code, verdict.stderr).toBe(0);
    expect(verdict.stdout).toContain('Verified OK');
    expect(verdict.named).toBe(digest);
    const accepted = await skopeoCopyAll(`${registry.host}/${REPO}@${digest}`);
    expect(accepted.code, accepted.stderr).toBe(0);

    // Control: an index joined without the key has no signature at all.
    const amd2 = await pushArch('k2-x86_64', 'amd64', 'module two');
    const arm2 = await pushArch('k2-aarch64', 'arm64', 'module two arm');
    const unsignedRun = await runScript('join.sh', indexEnv('k2', `x86_64=${amd2},aarch64=${arm2}`));
    expect(unsignedRun.code, unsignedRun.stderr).toBe(0);
    expect(unsignedRun.stderr).not.toContain('sign-image');
    const unsignedDigest = unsignedRun.result['IMAGE_DIGEST'] ?? '';
    expect(await client.describeManifest({ registry: registry.host, repository: REPO, tag: `sha256-${unsignedDigest.slice(7)}.sig` })).toBeUndefined();

    // Joining again with the key signs the index that already existed.
    const again = await runScript('join.sh', indexEnv('k2', `x86_64=${amd2},aarch64=${arm2}`, { IMAGE_SIGNING_KMS_KEY: keyArn }));
    expect(again.code, again.stderr).toBe(0);
    expect(again.result).toEqual({ BUILD_RESULT: 'skipped-exists', IMAGE_DIGEST: unsignedDigest });
    expect((await opensslVerifyAttachment(unsignedDigest)).code).toBe(0);
  });

  it('skopeo refuses a signed index of the same repository that holds an unsigned image', async () => {
    const amd = await pushArch('k5-x86_64', 'amd64', 'module five', false);
    const arm = await pushArch('k5-aarch64', 'arm64', 'module five arm');
    const run = await runScript('join.sh', indexEnv('k5', `x86_64=${amd},aarch64=${arm}`, { IMAGE_SIGNING_KMS_KEY: keyArn }));
    expect(run.code, run.stderr).toBe(0);
    const refused = await skopeoCopyAll(`${registry.host}/${REPO}@${run.result['IMAGE_DIGEST'] ?? ''}`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/signature/i);
  });

  it('openssl refuses an index signature under another key (control of the openssl check)', async () => {
    const amd = await pushArch('k6-x86_64', 'amd64', 'module six');
    const arm = await pushArch('k6-aarch64', 'arm64', 'module six arm');
    const run = await runScript('join.sh', indexEnv('k6', `x86_64=${amd},aarch64=${arm}`, { IMAGE_SIGNING_KMS_KEY: keyArn }));
    expect(run.code, run.stderr).toBe(0);
    const good = publicKeyFile;
    publicKeyFile = join(dir, 'other.pub');
    await writeFile(publicKeyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }));
    try {
      const verdict = await opensslVerifyAttachment(run.result['IMAGE_DIGEST'] ?? '');
      expect(verdict.code).not.toBe(0);
      expect(verdict.stdout + verdict.stderr).toContain('Verification failure');
    } finally {
      publicKeyFile = good;
    }
  });

  it('fails the build, saying the index is unsigned, when KMS cannot sign with the key', async () => {
    const amd = await pushArch('k3-x86_64', 'amd64', 'module three');
    const arm = await pushArch('k3-aarch64', 'arm64', 'module three arm');
    const missing = keyArn.replace(/key\/.*$/, 'key/00000000-0000-0000-0000-000000000000');
    const run = await runScript('join.sh', indexEnv('k3', `x86_64=${amd},aarch64=${arm}`, { IMAGE_SIGNING_KMS_KEY: missing }));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('was pushed but could not be signed');
    expect(run.stderr).toContain('it is unsigned');
  });

  it('refuses a signing key that is not a KMS key ARN before doing anything', async () => {
    const run = await runScript('join.sh', indexEnv('k4', 'x86_64=a,aarch64=b', { IMAGE_SIGNING_KMS_KEY: 'alias/image-signing' }));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('IMAGE_SIGNING_KMS_KEY has characters or a form that is not allowed');
    expect(await client.describeManifest({ registry: registry.host, repository: REPO, tag: 'k4' })).toBeUndefined();
  });
});
