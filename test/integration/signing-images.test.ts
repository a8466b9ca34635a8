/**
 * Image signatures verified by Debian 13's skopeo 1.18 (containers/image, the code CRI-O runs
 * for OpenShift's ClusterImagePolicy): a `sigstoreSigned` policy with the public key
 * taken from the ClusterImagePolicy that `ocp image-policy` prints, and
 * `use-sigstore-attachments: true`, against Debian's docker-registry with token auth.
 * The key is an ECDSA P-256 key in KMS (moto_server). An unsigned image of the same
 * repository, and the signed one under another key, must be refused by the same check.
 * Debian 12's skopeo is built with sigstore disabled; scripts/ensure-sigstore-skopeo.sh
 * provides Debian 13's (see there).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { KMSClient } from '@aws-sdk/client-kms';
import { RegistryClient } from '#core/registry/client.ts';
import { parseDockerConfig } from '#core/registry/credentials.ts';
import { pushImage } from '#core/registry/push.ts';
import type { ImageRef } from '#core/registry/types.ts';
import { SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE } from '#core/signing/image-signature.ts';
import { startEmulators, type Emulators } from '#local/emulators.ts';
import { buildImage, buildIndex, type BuiltImage } from '#world/oci.ts';
import { startRegistry, type RunningRegistry } from '#world/registry-server.ts';
import { dockerConfigJson, REPO_ROOT } from '../support/build-world.ts';
import { runCli } from '../support/cli.ts';
import { createKmsKey, kmsClient, tool } from '../support/signing.ts';
import { cyclonedxValidator } from '../support/cyclonedx.ts';
import { CYCLONEDX_MEDIA_TYPE, listReferrersByTag } from '#core/signing/sbom.ts';

const REPO = 'acme/gpu-driver';
const execFileAsync = promisify(execFile);

let registry: RunningRegistry;
let emulators: Emulators;
let kms: KMSClient;
let dir: string;
let env: NodeJS.ProcessEnv;
let pusher: RegistryClient;
let pushAuth: string;
let eccKey: string;
let publicKeyFile: string;
let signed: string;
let unsigned: string;
let index: string;
let armImage: string;
let skopeo: string;

function asInMemory(image: BuiltImage) {
  return {
    manifest: { mediaType: image.manifest.mediaType, bytes: image.manifest.bytes },
    blobs: [image.config, ...image.layers.map((l) => l.blob)].map((b) => ({ mediaType: b.mediaType, bytes: b.bytes })),
  };
}

/** skopeo copy under a policy that wants a sigstore signature of `keyPath` for REPO. */
async function skopeoCopy(digestRef: string, keyPath: string) {
  const work = await mkdtemp(join(dir, 'skopeo-'));
  const policy = join(work, 'policy.json');
  await writeFile(
    policy,
    JSON.stringify({
      default: [{ type: 'reject' }],
      transports: { docker: { [`${registry.host}/${REPO}`]: [{ type: 'sigstoreSigned', keyPath, signedIdentity: { type: 'matchRepository' } }] } },
    }),
  );
  const registriesD = join(work, 'registries.d');
  await mkdir(registriesD);
  await writeFile(join(registriesD, 'default.yaml'), `docker:\n  ${registry.host}:\n    use-sigstore-attachments: true\n`);
  const reader = registry.tokenService.credentials('reader');
  return tool(skopeo, [
    '--policy', policy,
    '--registries.d', registriesD,
    'copy', '--all', '--src-tls-verify=false', '--src-creds', `${reader.username}:${reader.password}`,
    `docker://${digestRef}`, `dir:${join(work, 'out')}`,
  ]);
}

beforeAll(async () => {
  skopeo = (await execFileAsync('bash', [join(REPO_ROOT, 'scripts', 'ensure-sigstore-skopeo.sh')])).stdout.trim().split('\n').pop() ?? '';
  dir = await mkdtemp(join(tmpdir(), 'dtk-sign-images-'));
  registry = await startRegistry();
  emulators = await startEmulators();
  kms = kmsClient(emulators.endpoints.kms);
  eccKey = await createKmsKey(kms, 'ECC_NIST_P256');
  env = { ...process.env, ...emulators.sdkEnv() };
  const c = registry.tokenService.credentials('pusher');
  pushAuth = join(dir, 'push-auth.json');
  await writeFile(pushAuth, dockerConfigJson(registry.host, c.username, c.password));
  pusher = new RegistryClient({ credentials: parseDockerConfig(dockerConfigJson(registry.host, c.username, c.password)), insecureRegistries: registry.insecureRegistries, retryBaseMs: 10 });
  const ref = (tag: string): ImageRef => ({ registry: registry.host, repository: REPO, tag });
  const amd = buildImage({ layers: [{ files: { 'opt/lib/modules/k/extra/a.ko': 'module a' } }] }, 'amd64');
  const arm = buildImage({ layers: [{ files: { 'opt/lib/modules/k/extra/a.ko': 'module a arm' } }] }, 'arm64');
  const other = buildImage({ layers: [{ files: { 'opt/lib/modules/k/extra/b.ko': 'module b' } }] }, 'amd64');
  signed = `${registry.host}/${REPO}@${(await pushImage(pusher, ref('signed'), asInMemory(amd))).digest}`;
  armImage = `${registry.host}/${REPO}@${(await pushImage(pusher, ref('arm'), asInMemory(arm))).digest}`;
  unsigned = `${registry.host}/${REPO}@${(await pushImage(pusher, ref('unsigned'), asInMemory(other))).digest}`;
  const idx = buildIndex([amd, arm]);
  index = `${registry.host}/${REPO}@${await pusher.putManifest(ref('multi'), idx.mediaType, idx.bytes)}`;

  const policy = await runCli(['ocp', 'image-policy', '--repository', `${registry.host}/${REPO}`, '--kms-key-id', eccKey, '--output', 'json'], env);
  if (policy.code !== 0) throw new Error(`ocp image-policy failed: ${policy.stderr}`);
  const parsed = JSON.parse(policy.stdout) as { spec: { policy: { rootOfTrust: { publicKey: { keyData: string } } } } };
  publicKeyFile = join(dir, 'cosign.pub');
  await writeFile(publicKeyFile, Buffer.from(parsed.spec.policy.rootOfTrust.publicKey.keyData, 'base64'));
});

afterAll(async () => {
  await pusher?.close();
  kms?.destroy();
  await emulators?.stop();
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sign = (ref: string, ...extra: string[]) =>
  runCli(['sign-image', ref, '--kms-key-id', eccKey, '--pull-secret', pushAuth, ...registry.insecureRegistries.flatMap((h) => ['--insecure-registry', h]), ...extra], env);

describe('sign-image', () => {
  it('attaches a sigstore signature that skopeo accepts, and skopeo refuses an unsigned image of the same repository', async () => {
    const result = await sign(signed);
    expect(result.code, result.stderr).toBe(0);
    const hex = signed.split('@sha256:')[1];
    expect(result.stdout).toContain(`SIGNATURE=${registry.host}/${REPO}:sha256-${hex}.sig\n`);

    const accepted = await skopeoCopy(signed, publicKeyFile);
    expect(accepted.code, accepted.stderr).toBe(0);
    const refused = await skopeoCopy(unsigned, publicKeyFile);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/signature/i);
  });

  it('skopeo refuses the signed image under another key (control)', async () => {
    expect((await sign(signed)).code).toBe(0);
    const other = join(dir, 'other.pub');
    await writeFile(other, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }));
    const refused = await skopeoCopy(signed, other);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/signature/i);
  });

  it('signs a multi-arch index and its per-arch images, which skopeo (copying every arch) then accepts', async () => {
    expect((await sign(index)).code).toBe(0);
    expect((await sign(signed)).code).toBe(0);
    // The arm64 image is still unsigned: copying every arch is refused.
    const partly = await skopeoCopy(index, publicKeyFile);
    expect(partly.code).not.toBe(0);
    expect(partly.stderr).toContain('no signature exists');
    const result = await sign(armImage);
    expect(result.code, result.stderr).toBe(0);
    const accepted = await skopeoCopy(index, publicKeyFile);
    expect(accepted.code, accepted.stderr).toBe(0);
  });

  it('signing again with the same key adds no second signature', async () => {
    expect((await sign(signed)).code).toBe(0);
    const again = await sign(signed);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('already signed with this key');
    const hex = signed.split('@sha256:')[1] ?? '';
    const manifest = JSON.parse((await pusher.getManifestBytes({ registry: registry.host, repository: REPO, tag: `sha256-${hex}.sig` })).bytes.toString()) as {
      layers: { mediaType: string; annotations: Record<string, string> }[];
    };
    expect(manifest.layers).toHaveLength(1);
    expect(manifest.layers[0]?.mediaType).toBe(SIMPLE_SIGNING_MEDIA_TYPE);
    expect(manifest.layers[0]?.annotations[SIGNATURE_ANNOTATION]).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('refuses a reference without a digest', async () => {
    const result = await sign(`${registry.host}/${REPO}:signed`);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('has no digest');
  });

  it('refuses to sign an image that was never pushed', async () => {
    const result = await sign(`${registry.host}/${REPO}@sha256:${'0'.repeat(64)}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('does not exist');
  });
});

describe('sbom attach', () => {
  const KERNEL = '5.14.0-427.68.1.el9_4.x86_64';
  const COMMIT = 'c0ffee'.padEnd(40, '1');

  async function readStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
    return Buffer.concat(chunks);
  }

  it('attaches a CycloneDX 1.6 SBOM that validates against the published schema and reads back through the registry (tag-schema fallback), signed', async () => {
    const modules = join(dir, 'sbom-modules');
    await mkdir(join(modules, 'extra'), { recursive: true });
    await writeFile(join(modules, 'extra', 'a.ko'), 'module a bytes');
    await writeFile(join(modules, 'extra', 'b.ko'), 'module b bytes');
    await writeFile(join(modules, 'modules.dep'), '');
    const dtk = `quay.io/acme/driver-toolkit@sha256:${'d'.repeat(64)}`;
    const base = `registry.access.redhat.com/ubi9/ubi-minimal@sha256:${'b'.repeat(64)}`;
    const result = await runCli(
      [
        'sbom', 'attach', signed,
        '--kernel', KERNEL, '--modules-dir', modules, '--modules-prefix', `opt/lib/modules/${KERNEL}`,
        '--dtk-image', dtk, '--base-image', base,
        '--source-url', 'https://github.com/acme/gpu-driver', '--source-commit', COMMIT, '--build-id', 'dtk-driver:1234',
        '--kms-key-id', eccKey, '--pull-secret', pushAuth, ...registry.insecureRegistries.flatMap((h) => ['--insecure-registry', h]),
      ],
      env,
    );
    expect(result.code, result.stderr).toBe(0);
    const sbomDigest = /^SBOM=.*@(sha256:[a-f0-9]{64})$/m.exec(result.stdout)?.[1] ?? '';
    expect(sbomDigest).not.toBe('');

    const reader = registry.tokenService.credentials('reader');
    const client = new RegistryClient({ credentials: parseDockerConfig(dockerConfigJson(registry.host, reader.username, reader.password)), insecureRegistries: registry.insecureRegistries });
    try {
      const imageDigest = signed.split('@')[1] ?? '';
      const found = await listReferrersByTag(client, { registry: registry.host, repository: REPO, digest: imageDigest }, CYCLONEDX_MEDIA_TYPE);
      expect(found.map((d) => d.digest)).toContain(sbomDigest);
      const manifest = JSON.parse((await client.getManifestBytes({ registry: registry.host, repository: REPO, digest: sbomDigest })).bytes.toString()) as {
        artifactType: string; subject: { digest: string }; layers: { mediaType: string; digest: string; size: number }[];
      };
      expect(manifest.artifactType).toBe(CYCLONEDX_MEDIA_TYPE);
      expect(manifest.subject.digest).toBe(imageDigest);
      const layer = manifest.layers[0];
      if (!layer) throw new Error('no SBOM layer');
      const doc = JSON.parse((await readStream(await client.openBlob({ registry: registry.host, repository: REPO, digest: sbomDigest }, layer))).toString()) as {
        metadata: { component: { version: string }; properties: { name: string; value: string }[] };
        components: { type: string; name: string; version?: string; hashes?: { content: string }[] }[];
      };
      expect(cyclonedxValidator()(doc)).toEqual([]);
      expect(doc.metadata.component.version).toBe(imageDigest);
      expect(doc.metadata.properties).toContainEqual({ name: 'dtk-pipeline:build-id', value: 'dtk-driver:1234' });
      expect(doc.components.find((c) => c.type === 'operating-system')?.version).toBe(KERNEL);
      expect(doc.components.find((c) => c.name === 'https://github.com/acme/gpu-driver')?.version).toBe(COMMIT);
      expect(doc.components.find((c) => c.name === 'quay.io/acme/driver-toolkit')?.version).toBe(`sha256:${'d'.repeat(64)}`);
      expect(doc.components.find((c) => c.name === 'registry.access.redhat.com/ubi9/ubi-minimal')?.version).toBe(`sha256:${'b'.repeat(64)}`);
      const files = doc.components.filter((c) => c.type === 'file');
      expect(files.map((f) => [f.name, f.hashes?.[0]?.content])).toEqual([
        [`opt/lib/modules/${KERNEL}/extra/a.ko`, createHash('sha256').update('module a bytes').digest('hex')],
        [`opt/lib/modules/${KERNEL}/extra/b.ko`, createHash('sha256').update('module b bytes').digest('hex')],
      ]);
      // The schema check can fail: a document without bomFormat is refused.
      expect(cyclonedxValidator()({ ...doc, bomFormat: undefined, specVersion: '0.9' }).length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
    // The SBOM artifact is signed like an image: skopeo's sigstore check accepts it.
    const accepted = await skopeoCopy(`${registry.host}/${REPO}@${sbomDigest}`, publicKeyFile);
    expect(accepted.code, accepted.stderr).toBe(0);
  });
});
