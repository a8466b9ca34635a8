/**
 * The DTK build, run for real as far as it can be here: scripts/build/build-dtk.sh and
 * images/dtk/Containerfile + install.sh build FROM a fake UBI (busybox with stub
 * subscription-manager, dnf and rpm; test/support/build-world.ts) pulled by digest
 * from Debian's docker-registry with token auth, with RHSM secrets generated here.
 *
 * Proves: the secrets reach the one RUN step (the stub records a hash of them), and
 * appear nowhere in the pushed image's manifest, config (history, labels, env), layers
 * (every byte of every uncompressed tar) or the build log. A control build that passes
 * the same value as a build arg shows the scan finds a leak when there is one. With
 * IMAGE_SIGNING_KMS_KEY (moto KMS) the pushed DTK is signed: the sigstore skopeo accepts it
 * and refuses an unsigned image of the same repository. Every pushed DTK gets its SBOM
 * (CycloneDX 1.6, validated against the published schema after reading it back through
 * the registry): unsigned without the key (and logged so), signed with it; a DTK whose
 * push is skipped gets neither a second SBOM nor a second signature.
 */
import { createHash, createPublicKey, randomBytes, randomInt } from 'node:crypto';
import { CreateKeyCommand, GetPublicKeyCommand } from '@aws-sdk/client-kms';
import { pushImage } from '#core/registry/push.ts';
import { startEmulators } from '#local/emulators.ts';
import { buildImage } from '#world/oci.ts';
import { kmsClient, sigstoreCopy } from '../support/signing.ts';
import { cyclonedxValidator } from '../support/cyclonedx.ts';
import { CYCLONEDX_MEDIA_TYPE, listReferrersByTag, readArtifactDocument } from '#core/signing/sbom.ts';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBuildKernel } from '#core/builds/build-kernel.ts';
import { planDtk, renderReleaseFile } from '#core/builds/dtk-packages.ts';
import { RegistryClient } from '#core/registry/client.ts';
import { parseDockerConfig } from '#core/registry/credentials.ts';
import type { ImageRef } from '#core/registry/types.ts';
import { startRegistry, type RunningRegistry } from '#world/registry-server.ts';
import { buildah, dockerConfigJson, ensureBuildWorld, REPO_ROOT, runScript, storageEnv, type BuildWorld } from '../support/build-world.ts';
import { pullImage, type PulledImage } from '../support/image-files.ts';

const execFileAsync = promisify(execFile);
const KERNEL = '5.14.0-427.68.1.el9_4.x86_64';
const REVISION = 'a'.repeat(40);

/** Every place in a pushed image where a value could be found. */
function leaks(image: PulledImage, values: readonly string[]): string[] {
  const found: string[] = [];
  for (const value of values) {
    const needle = Buffer.from(value);
    if (image.manifestBytes.includes(needle)) found.push(`manifest contains ${value}`);
    if (image.configBytes.includes(needle)) found.push(`config (history, labels, env) contains ${value}`);
    for (const layer of image.layers) if (layer.tar.includes(needle)) found.push(`layer ${layer.digest} contains ${value}`);
  }
  return found;
}

describe('build-dtk.sh with RHSM build secrets', () => {
  let world: BuildWorld;
  let registry: RunningRegistry;
  let client: RegistryClient;
  let dir = '';
  let authFile = '';
  let ubiImage = '';
  const org = String(randomInt(10_000_000, 99_999_999)) + String(randomInt(10_000_000, 99_999_999));
  const key = `dtk-test-${randomBytes(16).toString('hex')}`;

  beforeAll(async () => {
    world = await ensureBuildWorld();
    registry = await startRegistry();
    dir = await mkdtemp(join(tmpdir(), 'builds-dtk-'));
    authFile = join(dir, 'auth.json');
    const push = registry.tokenService.pushCredentials();
    await writeFile(authFile, dockerConfigJson(registry.host, push.username, push.password), { mode: 0o600 });
    await writeFile(join(dir, 'rhsm_org'), `${org}\n`, { mode: 0o600 });
    await writeFile(join(dir, 'rhsm_key'), `${key}\n`, { mode: 0o600 });
    client = new RegistryClient({ credentials: parseDockerConfig(await readFile(authFile, 'utf8')), retryBaseMs: 10, insecureRegistries: registry.insecureRegistries });
    // The "UBI" lives in the registry like the real one and is pulled by digest.
    await buildah(['push', '--quiet', '--tls-verify=false', '--authfile', authFile, '--digestfile', join(dir, 'ubi.digest'), world.fakeUbiImage, `docker://${registry.host}/ubi9/ubi:9.4`]);
    ubiImage = `${registry.host}/ubi9/ubi@${(await readFile(join(dir, 'ubi.digest'), 'utf8')).trim()}`;
  }, 900_000);

  afterAll(async () => {
    await client?.close();
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('builds and pushes a DTK whose image, history and log hold no trace of the secrets', async () => {
    const run = await runScript('build-dtk.sh', {
      KERNEL,
      ARCH: 'x86_64',
      RHEL_VERSION: '9.4',
      UBI_IMAGE: ubiImage,
      TARGET_IMAGE: `${registry.host}/dtk/driver-toolkit`,
      SOURCE_URL: 'https://github.com/example/driver-toolkit-pipeline',
      SOURCE_REVISION: REVISION,
      RHSM_ORG_FILE: join(dir, 'rhsm_org'),
      RHSM_KEY_FILE: join(dir, 'rhsm_key'),
      REGISTRY_AUTH_FILE: authFile,
      RESULT_FILE: join(dir, 'result.env'),
      INSECURE_REGISTRIES: registry.insecureRegistries.join(','),
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.result['BUILD_RESULT']).toBe('pushed');

    const log = `${run.stdout}\n${run.stderr}`;
    expect(log).not.toContain(org);
    expect(log).not.toContain(key);

    const image = await pullImage(client, { registry: registry.host, repository: 'dtk/driver-toolkit', tag: KERNEL });
    expect(image.manifest.digest).toBe(run.result['IMAGE_DIGEST']);
    expect(leaks(image, [org, key])).toEqual([]);

    // The secrets did reach the RUN step: the stub recorded their hash, then unregistration.
    const rhsmLog = image.files.get('var/log/fake-rhsm.log')?.toString() ?? '';
    const hash = createHash('sha256').update(`${org}:${key}`).digest('hex');
    expect(rhsmLog).toContain(`register ${hash}`);
    // The stub (a Python program like the real subscription-manager) saw neither value on its command line.
    expect(rhsmLog).toContain('cmdline clean\n');
    expect(rhsmLog).not.toContain('cmdline leak');
    expect(rhsmLog).toMatch(/unregister\nclean\n?$/);
    expect(rhsmLog).toContain('repos --enable rhel-9-for-x86_64-baseos-rpms');
    expect(rhsmLog).toContain('release --set=9.4');
    expect([...image.files.keys()].filter((f) => /^etc\/pki\/(consumer|entitlement)\/./.test(f))).toEqual([]);

    // Exactly the planned packages, then the kernel's gcc.
    const plan = planDtk({ kernel: parseBuildKernel(KERNEL), rhel: { major: 9, minor: 4 } });
    const installed = (image.files.get('var/log/fake-dnf.log')?.toString() ?? '').split('\n').filter((l) => l.startsWith('install ')).map((l) => l.slice(8));
    expect(installed).toEqual([...plan.packages, 'gcc-11.4.1']);

    expect(image.files.get('etc/driver-toolkit-release.json')?.toString()).toBe(renderReleaseFile(plan.releaseFile));
    const config = JSON.parse(image.configBytes.toString()) as { config: { Labels: Record<string, string> }; history: { created_by?: string }[] };
    expect(config.config.Labels).toMatchObject({
      'org.opencontainers.image.base.digest': ubiImage.split('@')[1],
      'org.opencontainers.image.source': 'https://github.com/example/driver-toolkit-pipeline',
      'org.opencontainers.image.revision': REVISION,
      'org.opencontainers.image.version': KERNEL,
      'io.openshift.driver-toolkit.rt-kernel': `${KERNEL}+rt`,
    });
    // History names the secret mounts, never the values.
    expect(config.history.some((h) => h.created_by?.includes('install.sh'))).toBe(true);

    // Its SBOM, unsigned (no key) and said so.
    expect(run.stderr).toMatch(/SBOM \S+ of \S+ \(attached via tag-schema\), UNSIGNED: no IMAGE_SIGNING_KMS_KEY/);
    const sboms = await listReferrersByTag(client, { registry: registry.host, repository: 'dtk/driver-toolkit', digest: image.manifest.digest }, CYCLONEDX_MEDIA_TYPE);
    expect(sboms).toHaveLength(1);
    expect(await client.describeManifest({ registry: registry.host, repository: 'dtk/driver-toolkit', tag: `sha256-${sboms[0]?.digest.slice(7) ?? ''}.sig` })).toBeUndefined();
  });

  it('signs the DTK it pushes when IMAGE_SIGNING_KMS_KEY is set: skopeo accepts it and refuses an unsigned image of the same repository', async () => {
    const emulators = await startEmulators();
    try {
      const kms = kmsClient(emulators.endpoints.kms);
      const created = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Description: 'image signing' }));
      const publicKey = await kms.send(new GetPublicKeyCommand({ KeyId: created.KeyMetadata?.KeyId ?? '' }));
      kms.destroy();
      const keyPath = join(dir, 'image-signing.pub');
      await writeFile(keyPath, createPublicKey({ key: Buffer.from(publicKey.PublicKey ?? new Uint8Array()), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }));
      const skopeo = (await execFileAsync('bash', [join(REPO_ROOT, 'scripts', 'ensure-sigstore-skopeo.sh')])).stdout.trim().split('\n').pop() ?? '';
      const repository = 'dtk/driver-toolkit-signed';
      const copy = (digestRef: string) => sigstoreCopy({ skopeo, workDir: dir, registryHost: registry.host, repository, keyPath, digestRef, reader: registry.tokenService.credentials('reader') });

      const env = {
        ...emulators.sdkEnv(),
        KERNEL,
        ARCH: 'x86_64',
        RHEL_VERSION: '9.4',
        UBI_IMAGE: ubiImage,
        TARGET_IMAGE: `${registry.host}/${repository}`,
        RHSM_ORG_FILE: join(dir, 'rhsm_org'),
        RHSM_KEY_FILE: join(dir, 'rhsm_key'),
        REGISTRY_AUTH_FILE: authFile,
        RESULT_FILE: join(dir, 'result-signed.env'),
        INSECURE_REGISTRIES: registry.insecureRegistries.join(','),
        IMAGE_SIGNING_KMS_KEY: created.KeyMetadata?.Arn ?? '',
        SOURCE_URL: 'https://github.com/example/driver-toolkit-pipeline',
        SOURCE_REVISION: REVISION,
        CODEBUILD_BUILD_ID: 'dtk-x86_64:42',
      };
      const run = await runScript('build-dtk.sh', env);
      expect(run.code, run.stderr).toBe(0);
      expect(run.result['BUILD_RESULT']).toBe('pushed');
      const digest = run.result['IMAGE_DIGEST'] ?? '';
      const accepted = await copy(`${registry.host}/${repository}@${digest}`);
      expect(accepted.code, accepted.stderr).toBe(0);

      // The SBOM, read back through the registry: valid CycloneDX 1.6 naming the kernel, the
      // UBI by digest, this pipeline's source and revision and the build; signed like the image.
      const sboms = await listReferrersByTag(client, { registry: registry.host, repository, digest }, CYCLONEDX_MEDIA_TYPE);
      expect(sboms).toHaveLength(1);
      const sbomDigest = sboms[0]?.digest ?? '';
      const bom = JSON.parse((await readArtifactDocument(client, { registry: registry.host, repository }, sbomDigest)).toString('utf8')) as {
        metadata: { component: { version: string }; properties: { name: string; value: string }[] };
        components: { 'bom-ref': string; name: string; version?: string }[];
      };
      expect(cyclonedxValidator()(bom)).toEqual([]);
      expect(bom.metadata.component.version).toBe(digest);
      expect(bom.metadata.properties).toEqual(
        expect.arrayContaining([
          { name: 'dtk-pipeline:image-kind', value: 'dtk' },
          { name: 'dtk-pipeline:kernel', value: KERNEL },
          { name: 'dtk-pipeline:build-id', value: 'dtk-x86_64:42' },
          { name: 'dtk-pipeline:source-commit', value: REVISION },
        ]),
      );
      expect(bom.components.find((c) => c['bom-ref'] === 'base-image')).toMatchObject({ name: ubiImage.split('@')[0], version: ubiImage.split('@')[1] });
      expect(bom.components.find((c) => c['bom-ref'] === 'pipeline-source')).toMatchObject({ name: 'https://github.com/example/driver-toolkit-pipeline', version: REVISION });
      expect(run.stderr).toMatch(/SBOM \S+ of \S+ \(attached via tag-schema\), signed/);
      const sbomAccepted = await copy(`${registry.host}/${repository}@${sbomDigest}`);
      expect(sbomAccepted.code, sbomAccepted.stderr).toBe(0);

      // Built again: the tag exists, the push is skipped; no second SBOM, no second signature.
      const again = await runScript('build-dtk.sh', { ...env, RESULT_FILE: join(dir, 'result-signed-again.env') });
      expect(again.code, again.stderr).toBe(0);
      expect(again.result['BUILD_RESULT']).toBe('skipped-exists');
      expect(again.stderr).toContain('already signed with this key');
      expect(again.stderr).toContain('already has its SBOM');
      expect((await listReferrersByTag(client, { registry: registry.host, repository, digest }, CYCLONEDX_MEDIA_TYPE)).map((d) => d.digest)).toEqual([sbomDigest]);
      for (const signed of [digest, sbomDigest]) {
        const sig = await client.getManifestBytes({ registry: registry.host, repository, tag: `sha256-${signed.slice(7)}.sig` });
        expect((JSON.parse(sig.bytes.toString()) as { layers: unknown[] }).layers).toHaveLength(1);
      }

      const unsigned = buildImage({ layers: [{ files: { 'etc/unsigned': 'x' } }] }, 'amd64');
      const pushed = await pushImage(client, { registry: registry.host, repository, tag: 'unsigned' }, {
        manifest: { mediaType: unsigned.manifest.mediaType, bytes: unsigned.manifest.bytes },
        blobs: [unsigned.config, ...unsigned.layers.map((l) => l.blob)].map((b) => ({ mediaType: b.mediaType, bytes: b.bytes })),
      });
      const refused = await copy(`${registry.host}/${repository}@${pushed.digest}`);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/signature/i);
    } finally {
      await emulators.stop();
    }
  }, 600_000);

  it('control: the stub reports an org and key given on its command line (the check can fail)', async () => {
    const ctx = join(dir, 'control-cmdline');
    await execFileAsync('mkdir', ['-p', ctx]);
    await writeFile(
      join(ctx, 'Containerfile'),
      `FROM ${world.fakeUbiImage}\nRUN rm -f /etc/rhsm-host && subscription-manager register --org 1234 --activationkey throwaway-key >/dev/null\n`,
    );
    const image = 'localhost/dtk-test-cmdline-control:latest';
    await execFileAsync('buildah', ['--storage-driver', 'vfs', 'build', '--isolation', 'chroot', '--pull=false', '-t', image, ctx], {
      env: { ...process.env, ...storageEnv() },
    });
    try {
      const ctr = (await buildah(['from', '--pull=false', '--quiet', image])).trim();
      try {
        const mnt = (await buildah(['mount', ctr])).trim();
        expect(await readFile(join(mnt, 'var/log/fake-rhsm.log'), 'utf8')).toContain('cmdline leak\n');
      } finally {
        await buildah(['umount', ctr]).catch(() => undefined);
        await buildah(['rm', ctr]).catch(() => undefined);
      }
    } finally {
      await buildah(['rmi', '--force', image]).catch(() => undefined);
    }
  });

  it('control: the same scan finds a value passed as a build arg (the scan can fail)', async () => {
    const ctx = join(dir, 'control');
    await execFileAsync('mkdir', ['-p', ctx]);
    await writeFile(join(ctx, 'Containerfile'), `FROM ${world.minimalImage}\nARG RHSM_ACTIVATION_KEY\nRUN echo done > /done\n`);
    await execFileAsync(
      'buildah',
      ['--storage-driver', 'vfs', 'build', '--isolation', 'chroot', '--pull=false', '--build-arg', `RHSM_ACTIVATION_KEY=${key}`, '-t', 'localhost/dtk-test-leaky:latest', ctx],
      { env: { ...process.env, ...storageEnv() } },
    );
    const ref: ImageRef = { registry: registry.host, repository: 'dtk/leaky', tag: 'control' };
    try {
      await buildah(['push', '--quiet', '--tls-verify=false', '--authfile', authFile, 'localhost/dtk-test-leaky:latest', `docker://${registry.host}/dtk/leaky:control`]);
    } finally {
      await buildah(['rmi', '--force', 'localhost/dtk-test-leaky:latest']).catch(() => undefined);
    }
    const found = leaks(await pullImage(client, ref), [org, key]);
    expect(found).toEqual([`config (history, labels, env) contains ${key}`]);
  });
});
