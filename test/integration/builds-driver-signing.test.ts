/**
 * The driver build signs its modules when the driver names a signing key: the real
 * example module, compiled against the stand-in DTK by scripts/build/build-driver.sh,
 * signed in the image with a PEM key from Secrets Manager (moto), pushed to Debian's
 * docker-registry, pulled back and verified with kmod's modinfo and `openssl cms
 * -verify`. No private key material reaches the image, the build log or the build's
 * environment; a control image that does hold the key shows the scan finds it.
 *
 * The PEM path is the one whose signature moto computes correctly end to end (a KMS
 * key signs a module with a DIGEST call, which moto 5.2.1 hashes again; see
 * signing-modules.test.ts).
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { Descriptor } from '#core/registry/types.ts';
import { CYCLONEDX_MEDIA_TYPE, listReferrersByTag } from '#core/signing/sbom.ts';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegistryClient } from '#core/registry/client.ts';
import type { ImageRef } from '#core/registry/types.ts';
import { startEmulators, type Emulators } from '#local/emulators.ts';
import { buildImage } from '#world/oci.ts';
import type { RunningRegistry } from '#world/registry-server.ts';
import { buildah, ensureBuildWorld, exampleDriverEnv, runScript, startBuildRegistry, type BuildRegistry, type BuildWorld } from '../support/build-world.ts';
import { runCli } from '../support/cli.ts';
import { imageLeaks, pullImage, pushBuiltImage, type PulledImage } from '../support/image-files.ts';
import { createImageSigningKey, modinfoField, opensslCmsVerify, sigstoreCopy, sigstoreSkopeo, splitSignedModule } from '../support/signing.ts';


const REPO = 'partner/dtk-example-signed';

/** Every place in a pushed image or a log where `needles` could be found. */
function leaks(image: PulledImage, log: string, needles: readonly Buffer[]): string[] {
  const inLog = needles.flatMap((needle, i) => (log.includes(needle.toString('latin1')) ? [`build log contains needle ${i}`] : []));
  return [...imageLeaks(image, needles), ...inLog];
}

describe('build-driver.sh with module signing', () => {
  let world: BuildWorld;
  let target: BuildRegistry;
  let registry: RunningRegistry;
  let emulators: Emulators;
  let dir = '';
  let client: RegistryClient;
  let secretArn = '';
  let certDer = '';
  let pem = '';
  let pkcs8Der: Buffer;

  const ref = (tag: string): ImageRef => ({ registry: registry.host, repository: REPO, tag });
  const driverEnv = (over: Record<string, string> = {}): Record<string, string> => ({
    ...exampleDriverEnv(world, target, REPO, join(dir, 'result.env')),
    ...emulators.sdkEnv(),
    ...over,
  });

  beforeAll(async () => {
    world = await ensureBuildWorld();
    target = await startBuildRegistry('builds-driver-signing-');
    ({ registry, client, dir } = target);
    emulators = await startEmulators();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    pkcs8Der = privateKey.export({ format: 'der', type: 'pkcs8' });
    secretArn = await emulators.createSecret('partner-module-signing-key', pem);
    certDer = join(dir, 'signing.der');
    const cert = await runCli(['signing', 'cert', '--key-secret', secretArn, '--subject', 'CN=Partner module signing', '--out', certDer], { ...process.env, ...emulators.sdkEnv() });
    if (cert.code !== 0) throw new Error(`signing cert failed: ${cert.stderr}`);
  }, 900_000);

  afterAll(async () => {
    await emulators?.stop();
    await target?.stop();
  });

  it('signs the example module in the image; modinfo and openssl verify it; no key material anywhere (with a control)', async () => {
    const env = driverEnv({ MODULE_SIGNING_KEY_SECRET: secretArn, MODULE_SIGNING_CERT: (await readFile(certDer)).toString('base64') });
    const run = await runScript('build-driver.sh', env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.result['BUILD_RESULT']).toBe('pushed');
    expect(run.stderr).toContain('signed extra/dtk_example.ko');

    const image = await pullImage(client, ref(world.kernel));
    const ko = image.files.get(`opt/lib/modules/${world.kernel}/extra/dtk_example.ko`);
    if (!ko) throw new Error('no module in the image');
    const path = join(dir, 'dtk_example.ko');
    await writeFile(path, ko);
    expect(await modinfoField(path, 'signer')).toBe('Partner module signing');
    expect(await modinfoField(path, 'sig_hashalgo')).toBe('sha256');
    expect(await modinfoField(path, 'vermagic')).toMatch(new RegExp(`^${world.kernel.replace(/\./g, '\\.')} `));
    const certPem = join(dir, 'signing.pem');
    const x509 = await import('node:crypto').then((c) => new c.X509Certificate(Buffer.from(env['MODULE_SIGNING_CERT'] ?? '', 'base64')));
    await writeFile(certPem, x509.toString());
    const { module, pkcs7 } = splitSignedModule(ko);
    const verified = await opensslCmsVerify(dir, pkcs7, module, certPem);
    expect(verified.code, verified.stderr).toBe(0);

    // No private key material: not the PEM lines, not the DER, not in the environment.
    const pemLines = pem.split('\n').filter((l) => l.length === 64).map((l) => Buffer.from(l));
    const needles = [...pemLines.slice(0, 3), pkcs8Der.subarray(pkcs8Der.length - 64)];
    expect(leaks(image, run.stdout + run.stderr, needles)).toEqual([]);
    expect(Object.values(env).some((v) => pemLines.some((l) => v.includes(l.toString())))).toBe(false);

    // Control: an image that does hold the key is caught by the same scan.
    const control = buildImage({ layers: [{ files: { 'etc/leaked.pem': pem } }] }, 'amd64');
    await pushBuiltImage(client, ref('control'), control);
    expect(leaks(await pullImage(client, ref('control')), '', needles).length).toBeGreaterThan(0);
  }, 600_000);

  it('signs the pushed image and attaches a signed SBOM with IMAGE_SIGNING_KMS_KEY: skopeo accepts it and refuses an unsigned image of the same repository', async () => {
    const repository = 'partner/dtk-example-image-signed';
    const keyPath = join(dir, 'image-signing.pub');
    const keyArn = await createImageSigningKey(emulators.endpoints.kms, keyPath);
    const skopeo = await sigstoreSkopeo();
    const copy = (digestRef: string) => sigstoreCopy({ skopeo, workDir: dir, registryHost: registry.host, repository, keyPath, digestRef, reader: registry.tokenService.credentials('reader') });

    const run = await runScript('build-driver.sh', driverEnv({ TARGET_IMAGE: `${registry.host}/${repository}`, IMAGE_SIGNING_KMS_KEY: keyArn, CODEBUILD_BUILD_ID: 'driver-x86_64:1234' }));
    expect(run.code, run.stderr).toBe(0);
    expect(run.result['BUILD_RESULT']).toBe('pushed');
    const digest = run.result['IMAGE_DIGEST'] ?? '';
    const accepted = await copy(`${registry.host}/${repository}@${digest}`);
    expect(accepted.code, accepted.stderr).toBe(0);

    const unsigned = buildImage({ layers: [{ files: { 'opt/other.ko': 'unsigned' } }] }, 'amd64');
    const pushed = await pushBuiltImage(client, { registry: registry.host, repository, tag: 'unsigned' }, unsigned);
    const refused = await copy(`${registry.host}/${repository}@${pushed.digest}`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/signature/i);

    // The SBOM, read back through the registry: the kernel, the build id and the module's sha256; signed too.
    const image = await pullImage(client, { registry: registry.host, repository, tag: world.kernel });
    const ko = image.files.get(`opt/lib/modules/${world.kernel}/extra/dtk_example.ko`);
    if (!ko) throw new Error('no module in the image');
    const sboms = await listReferrersByTag(client, { registry: registry.host, repository, digest }, CYCLONEDX_MEDIA_TYPE);
    expect(sboms).toHaveLength(1);
    const sbomDigest = sboms[0]?.digest ?? '';
    const manifest = JSON.parse((await client.getManifestBytes({ registry: registry.host, repository, digest: sbomDigest })).bytes.toString()) as { layers: Descriptor[] };
    const layer = manifest.layers[0];
    if (!layer) throw new Error('no SBOM layer');
    const chunks: Buffer[] = [];
    for await (const chunk of await client.openBlob({ registry: registry.host, repository, digest: sbomDigest }, layer)) chunks.push(chunk as Buffer);
    const sbom = Buffer.concat(chunks).toString();
    expect(sbom).toContain(world.kernel);
    expect(sbom).toContain('driver-x86_64:1234');
    expect(sbom).toContain(createHash('sha256').update(ko).digest('hex'));
    // The base image of the final stage, pinned by the digest buildah resolved it to.
    const baseDigest = (await buildah(['inspect', '--type', 'image', '--format', '{{.FromImageDigest}}', world.minimalImage])).trim();
    expect(baseDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const components = (JSON.parse(sbom) as { components: { 'bom-ref'?: string; name: string; version?: string }[] }).components;
    expect(components.find((c) => c['bom-ref'] === 'base-image')).toMatchObject({ name: world.minimalImage.replace(/:[^/:]+$/, ''), version: baseDigest });
    expect(await client.describeManifest({ registry: registry.host, repository, tag: `sha256-${sbomDigest.slice(7)}.sig` })).toBeDefined();
  }, 600_000);

  it('fails the build, and pushes nothing, when the certificate is not the key\'s', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const otherSecret = await emulators.createSecret('other-key', privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
    const target = `${registry.host}/partner/dtk-example-badcert`;
    const run = await runScript('build-driver.sh', driverEnv({ TARGET_IMAGE: target, MODULE_SIGNING_KEY_SECRET: otherSecret, MODULE_SIGNING_CERT: (await readFile(certDer)).toString('base64') }));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('the certificate is not for secret:');
    expect(run.stderr).toContain('module signing failed');
    expect(await client.describeManifest({ registry: registry.host, repository: 'partner/dtk-example-badcert', tag: world.kernel })).toBeUndefined();
  }, 600_000);
});
