/**
 * Every image the pipeline pushes gets its SBOM (issue #11), with or without a signing
 * key, through the build scripts as CodeBuild runs them (compiled CLI, Debian's
 * docker-registry with token auth, moto's KMS):
 *
 * - a driver image built without a key: SBOM attached (tag-schema fallback: the
 *   registry has no referrers API), UNSIGNED and said so; the same build run again with
 *   a key (the image exists, the push is skipped) signs the image and the SBOM (skopeo
 *   verifies, and refuses an unsigned image of the same repository) and attaches no
 *   second SBOM; a third run signs nothing twice;
 * - an image that existed without any SBOM gets one from its own files, credited to the
 *   build that attached it, not as the image's build;
 * - the multi-arch index gets an SBOM naming its per-arch manifests and their SBOMs;
 * - with a registry that has the referrers API (Debian packages none: a test server
 *   adds it in front of docker-registry, test/support/referrers-proxy.ts), the SBOM goes
 *   through the referrers API and no fallback tag is written.
 *
 * Every SBOM is read back through the registry and validated against the published
 * CycloneDX 1.6 JSON schema (with a control document the validator refuses).
 */
import { execFile } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateKeyCommand, GetPublicKeyCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '#core/registry/client.ts';
import { parseDockerConfig } from '#core/registry/credentials.ts';
import { pushImage } from '#core/registry/push.ts';
import type { ImageRef } from '#core/registry/types.ts';
import { CYCLONEDX_MEDIA_TYPE, listReferrersByTag, readArtifactDocument } from '#core/signing/sbom.ts';
import { startEmulators, type Emulators } from '#local/emulators.ts';
import { buildImage } from '#world/oci.ts';
import { startRegistry, type RunningRegistry } from '#world/registry-server.ts';
import { buildah, dockerConfigJson, ensureBuildWorld, REPO_ROOT, runScript, type BuildWorld } from '../support/build-world.ts';
import { runCli } from '../support/cli.ts';
import { cyclonedxValidator } from '../support/cyclonedx.ts';
import { pullImage } from '../support/image-files.ts';
import { startReferrersProxy, type ReferrersProxy } from '../support/referrers-proxy.ts';
import { kmsClient, sigstoreCopy, tool } from '../support/signing.ts';

const execFileAsync = promisify(execFile);
const SHA = /^sha256:[0-9a-f]{64}$/;

interface Bom {
  bomFormat: string;
  metadata: { component: { version: string }; properties: { name: string; value: string }[] };
  components: { 'bom-ref': string; name: string; version?: string; hashes?: { content: string }[]; properties?: { name: string; value: string }[] }[];
}

let world: BuildWorld;
let registry: RunningRegistry;
let emulators: Emulators;
let client: RegistryClient;
let dir = '';
let authFile = '';
let keyArn = '';
let keyPath = '';
let skopeo = '';
const validate = cyclonedxValidator();

const prop = (props: { name: string; value: string }[] | undefined, name: string) => props?.find((p) => p.name === name)?.value;
const pinned = (repository: string, digest: string, host = registry.host): ImageRef & { digest: string } => ({ registry: host, repository, digest });

/** The SBOMs attached to an image (tag-schema fallback: docker-registry has no referrers API), each read back and parsed. */
async function sbomsOf(repository: string, digest: string): Promise<{ digest: string; bom: Bom; raw: unknown }[]> {
  const found = await listReferrersByTag(client, pinned(repository, digest), CYCLONEDX_MEDIA_TYPE);
  return Promise.all(
    found.map(async (d) => {
      const raw = JSON.parse((await readArtifactDocument(client, { registry: registry.host, repository }, d.digest)).toString('utf8')) as unknown;
      return { digest: d.digest, bom: raw as Bom, raw };
    }),
  );
}

/** The layers of the sigstore attachment of REPO@DIGEST (none: no attachment). */
async function signatureLayers(repository: string, digest: string): Promise<number> {
  const ref: ImageRef = { registry: registry.host, repository, tag: `sha256-${digest.slice(7)}.sig` };
  if ((await client.describeManifest(ref)) === undefined) return 0;
  return (JSON.parse((await client.getManifestBytes(ref)).bytes.toString()) as { layers: unknown[] }).layers.length;
}

const copy = (repository: string, digestRef: string) =>
  sigstoreCopy({ skopeo, workDir: dir, registryHost: registry.host, repository, keyPath, digestRef, reader: registry.tokenService.credentials('reader') });

async function pushUnsigned(repository: string, tag: string, content: string, arch: 'amd64' | 'arm64' = 'amd64'): Promise<string> {
  const image = buildImage({ layers: [{ files: { [`opt/lib/modules/k/extra/${arch}.ko`]: content } }] }, arch);
  const pushed = await pushImage(client, { registry: registry.host, repository, tag }, {
    manifest: { mediaType: image.manifest.mediaType, bytes: image.manifest.bytes },
    blobs: [image.config, ...image.layers.map((l) => l.blob)].map((b) => ({ mediaType: b.mediaType, bytes: b.bytes })),
  });
  return pushed.digest;
}

const insecureFlags = (hosts: readonly string[]) => hosts.flatMap((h) => ['--insecure-registry', h]);

beforeAll(async () => {
  world = await ensureBuildWorld();
  registry = await startRegistry();
  emulators = await startEmulators();
  dir = await mkdtemp(join(tmpdir(), 'sbom-every-image-'));
  authFile = join(dir, 'auth.json');
  const push = registry.tokenService.pushCredentials();
  await writeFile(authFile, dockerConfigJson(registry.host, push.username, push.password), { mode: 0o600 });
  client = new RegistryClient({ credentials: parseDockerConfig(await readFile(authFile, 'utf8')), insecureRegistries: registry.insecureRegistries, retryBaseMs: 10 });
  const kms = kmsClient(emulators.endpoints.kms);
  const key = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Description: 'image signing' }));
  keyArn = key.KeyMetadata?.Arn ?? '';
  const publicKey = await kms.send(new GetPublicKeyCommand({ KeyId: key.KeyMetadata?.KeyId ?? '' }));
  kms.destroy();
  keyPath = join(dir, 'image-signing.pub');
  await writeFile(keyPath, createPublicKey({ key: Buffer.from(publicKey.PublicKey ?? new Uint8Array()), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }));
  skopeo = (await execFileAsync('bash', [join(REPO_ROOT, 'scripts', 'ensure-sigstore-skopeo.sh')])).stdout.trim().split('\n').pop() ?? '';
}, 900_000);

afterAll(async () => {
  await client?.close();
  await emulators?.stop();
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the CycloneDX validator (control)', () => {
  it('refuses a document the schema does not allow', () => {
    expect(validate({ bomFormat: 'CycloneDX', specVersion: '1.6', version: 1, components: [{ type: 'file', name: 'x', hashes: [{ alg: 'SHA-256', content: 'not hex' }] }] })).not.toEqual([]);
  });
});

describe('build-driver.sh: every pushed driver image gets its SBOM', () => {
  const driverEnv = (repository: string, over: Record<string, string> = {}): Record<string, string> => ({
    KERNEL: world.kernel,
    ARCH: 'x86_64',
    ALLOW_TEST_KERNELS: 'true',
    DRIVER_NAME: 'dtk-example',
    MOD_NAME: 'dtk_example',
    DRIVER_SOURCE: 'inline',
    DRIVER_CONTEXT_DIR: 'images/driver-example',
    DTK_IMAGE: world.dtkImage,
    TARGET_IMAGE: `${registry.host}/${repository}`,
    BUILD_ARGS_JSON: JSON.stringify({ FINAL_BASE: world.minimalImage }),
    REGISTRY_AUTH_FILE: authFile,
    INSECURE_REGISTRIES: registry.insecureRegistries.join(','),
    RESULT_FILE: join(dir, `${repository.replace(/\//g, '_')}.env`),
    ...emulators.sdkEnv(),
    ...over,
  });

  it('without a key: an unsigned SBOM, said so; run again with a key (push skipped): image and SBOM signed, no second SBOM, nothing signed twice', async () => {
    const repository = 'partner/sbom-unsigned-then-signed';
    const first = await runScript('build-driver.sh', driverEnv(repository, { CODEBUILD_BUILD_ID: 'driver-x86_64:first' }));
    expect(first.code, first.stderr).toBe(0);
    expect(first.result['BUILD_RESULT']).toBe('pushed');
    const digest = first.result['IMAGE_DIGEST'] ?? '';
    expect(digest).toMatch(SHA);
    expect(first.stderr).toMatch(/SBOM \S+ of \S+ \(attached via tag-schema\), UNSIGNED: no IMAGE_SIGNING_KMS_KEY/);
    expect(first.stderr).not.toMatch(/SBOM \S+ of \S+ \(attached via [a-z-]+\), signed/);

    const image = await pullImage(client, { registry: registry.host, repository, tag: world.kernel });
    const ko = image.files.get(`opt/lib/modules/${world.kernel}/extra/dtk_example.ko`);
    if (!ko) throw new Error('no module in the image');
    const sboms = await sbomsOf(repository, digest);
    expect(sboms).toHaveLength(1);
    const [sbom] = sboms;
    if (!sbom) throw new Error('no SBOM');
    expect(validate(sbom.raw)).toEqual([]);
    expect(sbom.bom.metadata.component.version).toBe(digest);
    expect(prop(sbom.bom.metadata.properties, 'dtk-pipeline:build-id')).toBe('driver-x86_64:first');
    expect(prop(sbom.bom.metadata.properties, 'dtk-pipeline:kernel')).toBe(world.kernel);
    // The DTK (named by tag here) is pinned by the digest of the image the build used.
    const dtkDigest = (await buildah(['inspect', '--type', 'image', '--format', '{{.FromImageDigest}}', world.dtkImage])).trim();
    expect(dtkDigest).toMatch(SHA);
    expect(sbom.bom.components.find((c) => c['bom-ref'] === 'driver-toolkit')).toMatchObject({ name: world.dtkImage.replace(/:[^/:]+$/, ''), version: dtkDigest });
    expect(sbom.bom.components.find((c) => c['bom-ref'] === `file:opt/lib/modules/${world.kernel}/extra/dtk_example.ko`)?.hashes?.[0]?.content).toBe(
      createHash('sha256').update(ko).digest('hex'),
    );
    // Unsigned means no signature anywhere: not on the image, not on the SBOM.
    expect(await signatureLayers(repository, digest)).toBe(0);
    expect(await signatureLayers(repository, sbom.digest)).toBe(0);
    expect((await copy(repository, `${registry.host}/${repository}@${digest}`)).code).not.toBe(0);

    // The same build with a key: the tag exists, the push is skipped, what is missing is added.
    const second = await runScript('build-driver.sh', driverEnv(repository, { IMAGE_SIGNING_KMS_KEY: keyArn, CODEBUILD_BUILD_ID: 'driver-x86_64:second' }));
    expect(second.code, second.stderr).toBe(0);
    expect(second.result).toMatchObject({ BUILD_RESULT: 'skipped-exists', IMAGE_DIGEST: digest });
    expect(second.stderr).toMatch(/SBOM \S+ of \S+ \(attached via tag-schema\), signed/);
    expect(second.stderr).toContain('already has its SBOM');
    const accepted = await copy(repository, `${registry.host}/${repository}@${digest}`);
    expect(accepted.code, accepted.stderr).toBe(0);
    // The SBOM artifact itself passes the same sigstore check.
    const sbomAccepted = await copy(repository, `${registry.host}/${repository}@${sbom.digest}`);
    expect(sbomAccepted.code, sbomAccepted.stderr).toBe(0);
    expect((await sbomsOf(repository, digest)).map((s) => s.digest)).toEqual([sbom.digest]);
    // Control: an unsigned image of the same repository is refused by that check.
    const unsigned = await pushUnsigned(repository, 'unsigned', 'not signed');
    const refused = await copy(repository, `${registry.host}/${repository}@${unsigned}`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/signature/i);

    // Once more: nothing is signed twice, no SBOM added.
    const third = await runScript('build-driver.sh', driverEnv(repository, { IMAGE_SIGNING_KMS_KEY: keyArn }));
    expect(third.code, third.stderr).toBe(0);
    expect(third.result['BUILD_RESULT']).toBe('skipped-exists');
    expect(third.stderr).toContain('already signed with this key');
    expect(await signatureLayers(repository, digest)).toBe(1);
    expect(await signatureLayers(repository, sbom.digest)).toBe(1);
    expect((await sbomsOf(repository, digest)).map((s) => s.digest)).toEqual([sbom.digest]);
  }, 900_000);

  it('an image that existed without an SBOM gets one read from its own files, credited to the build that attached it', async () => {
    const source = 'partner/sbom-source';
    const built = await runScript('build-driver.sh', driverEnv(source));
    expect(built.code, built.stderr).toBe(0);
    const digest = built.result['IMAGE_DIGEST'] ?? '';
    // The same image in another repository, without its referrers (as if pushed before SBOMs existed).
    const repository = 'partner/sbom-existing';
    const creds = registry.tokenService.pushCredentials();
    const copied = await tool(skopeo, [
      'copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', `${creds.username}:${creds.password}`, '--dest-creds', `${creds.username}:${creds.password}`,
      `docker://${registry.host}/${source}@${digest}`, `docker://${registry.host}/${repository}:${world.kernel}`,
    ]);
    expect(copied.code, copied.stderr).toBe(0);
    expect(await client.describeManifest({ registry: registry.host, repository, tag: world.kernel })).toMatchObject({ digest });
    expect(await sbomsOf(repository, digest)).toEqual([]);

    const run = await runScript('build-driver.sh', driverEnv(repository, { CODEBUILD_BUILD_ID: 'driver-x86_64:later' }));
    expect(run.code, run.stderr).toBe(0);
    expect(run.result['BUILD_RESULT']).toBe('skipped-exists');
    expect(run.stderr).toContain('has no SBOM: reading its modules');
    expect(run.stderr).toContain('UNSIGNED');
    const sboms = await sbomsOf(repository, digest);
    expect(sboms).toHaveLength(1);
    const bom = sboms[0]?.bom;
    if (!bom) throw new Error('no SBOM');
    expect(validate(sboms[0]?.raw)).toEqual([]);
    // The module in the SBOM is the one in the image, and the SBOM says whose it is.
    const original = (await sbomsOf(source, digest))[0]?.bom;
    const files = (b: Bom | undefined) => b?.components.filter((c) => c['bom-ref'].startsWith('file:')).map((c) => [c.name, c.hashes?.[0]?.content]);
    expect(files(bom)).toEqual(files(original));
    expect(files(bom)).toHaveLength(1);
    expect(prop(bom.metadata.properties, 'dtk-pipeline:build-id')).toBeUndefined();
    expect(prop(bom.metadata.properties, 'dtk-pipeline:sbom-attached-by-build')).toBe('driver-x86_64:later');
    expect(prop(bom.metadata.properties, 'dtk-pipeline:sbom-origin')).toMatch(/after the image was pushed/);
    // The base image comes from the image's own annotations, as the fresh build recorded it.
    expect(bom.components.find((c) => c['bom-ref'] === 'base-image')).toEqual(original?.components.find((c) => c['bom-ref'] === 'base-image'));
    expect(bom.components.find((c) => c['bom-ref'] === 'base-image')?.version).toMatch(SHA);
  }, 900_000);
});

describe('join.sh: the multi-arch index gets its SBOM', () => {
  const repository = 'partner/sbom-joined';

  /** A per-arch image with its SBOM attached as the driver build attaches it. */
  async function archWithSbom(tag: string, arch: 'amd64' | 'arm64', content: string): Promise<{ digest: string; sbom: string }> {
    const digest = await pushUnsigned(repository, tag, content, arch);
    const modules = join(dir, `modules-${tag}`);
    await mkdir(join(modules, 'extra'), { recursive: true });
    await writeFile(join(modules, 'extra', `${arch}.ko`), content);
    const attached = await runCli(
      ['sbom', 'attach', `${registry.host}/${repository}@${digest}`, '--kernel', `5.14.0-427.68.1.el9_4.${arch === 'amd64' ? 'x86_64' : 'aarch64'}`, '--modules-dir', modules, '--pull-secret', authFile, ...insecureFlags(registry.insecureRegistries)],
      process.env,
    );
    if (attached.code !== 0) throw new Error(`sbom attach failed: ${attached.stderr}`);
    return { digest, sbom: /^SBOM=\S+@(sha256:[0-9a-f]{64})$/m.exec(attached.stdout)?.[1] ?? '' };
  }

  const joinEnv = (tag: string, archTags: string, over: Record<string, string> = {}): Record<string, string> => ({
    ...emulators.sdkEnv(),
    TARGET_IMAGE: `${registry.host}/${repository}`,
    TARGET_TAG: tag,
    ARCH_TAGS: archTags,
    REGISTRY_AUTH_FILE: authFile,
    RESULT_FILE: join(dir, `${tag}.env`),
    INSECURE_REGISTRIES: registry.insecureRegistries.join(','),
    ...over,
  });

  it('names every per-arch manifest and its SBOM; unsigned without a key, signed by a later join with one, never duplicated', async () => {
    const amd = await archWithSbom('j1-x86_64', 'amd64', 'amd module');
    const arm = await archWithSbom('j1-aarch64', 'arm64', 'arm module');
    const run = await runScript('join.sh', joinEnv('j1', 'x86_64=j1-x86_64,aarch64=j1-aarch64', { CODEBUILD_BUILD_ID: 'join:1' }));
    expect(run.code, run.stderr).toBe(0);
    expect(run.result['BUILD_RESULT']).toBe('pushed');
    const digest = run.result['IMAGE_DIGEST'] ?? '';
    expect(run.stderr).toMatch(/SBOM \S+ of \S+ \(attached via tag-schema\), UNSIGNED/);
    const sboms = await sbomsOf(repository, digest);
    expect(sboms).toHaveLength(1);
    const sbom = sboms[0];
    if (!sbom) throw new Error('no index SBOM');
    expect(validate(sbom.raw)).toEqual([]);
    expect(prop(sbom.bom.metadata.properties, 'dtk-pipeline:image-kind')).toBe('index');
    expect(prop(sbom.bom.metadata.properties, 'dtk-pipeline:build-id')).toBe('join:1');
    const entries = sbom.bom.components.map((c) => ({ digest: c.version, platform: prop(c.properties, 'dtk-pipeline:platform'), sbom: prop(c.properties, 'dtk-pipeline:sbom'), kernel: prop(c.properties, 'dtk-pipeline:kernel') }));
    expect(entries).toEqual(
      expect.arrayContaining([
        { digest: amd.digest, platform: 'linux/amd64', sbom: amd.sbom, kernel: '5.14.0-427.68.1.el9_4.x86_64' },
        { digest: arm.digest, platform: 'linux/arm64', sbom: arm.sbom, kernel: '5.14.0-427.68.1.el9_4.aarch64' },
      ]),
    );
    expect(entries).toHaveLength(2);
    expect(await signatureLayers(repository, sbom.digest)).toBe(0);

    const again = await runScript('join.sh', joinEnv('j1', 'x86_64=j1-x86_64,aarch64=j1-aarch64', { IMAGE_SIGNING_KMS_KEY: keyArn }));
    expect(again.code, again.stderr).toBe(0);
    expect(again.result).toMatchObject({ BUILD_RESULT: 'skipped-exists', IMAGE_DIGEST: digest });
    expect(again.stderr).toMatch(/SBOM \S+ of \S+ \(attached via tag-schema\), signed/);
    expect((await sbomsOf(repository, digest)).map((s) => s.digest)).toEqual([sbom.digest]);
    expect(await signatureLayers(repository, digest)).toBe(1);
    const sbomAccepted = await copy(repository, `${registry.host}/${repository}@${sbom.digest}`);
    expect(sbomAccepted.code, sbomAccepted.stderr).toBe(0);
  }, 600_000);
});

describe('a registry with the referrers API', () => {
  let proxy: ReferrersProxy;
  let proxyAuth = '';
  beforeAll(async () => {
    proxy = await startReferrersProxy(registry.url);
    const push = registry.tokenService.pushCredentials();
    proxyAuth = join(dir, 'proxy-auth.json');
    await writeFile(proxyAuth, dockerConfigJson(proxy.host, push.username, push.password), { mode: 0o600 });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('gets the SBOM through the referrers API (no fallback tag), once, and the index SBOM finds the per-arch SBOMs there', async () => {
    const repository = 'partner/sbom-referrers';
    const proxyClient = new RegistryClient({ credentials: parseDockerConfig(await readFile(proxyAuth, 'utf8')), insecureRegistries: [proxy.host, ...registry.insecureRegistries], retryBaseMs: 10 });
    try {
      const amd = await pushUnsigned(repository, 'r-x86_64', 'amd module', 'amd64');
      const arm = await pushUnsigned(repository, 'r-aarch64', 'arm module', 'arm64');
      const modules = join(dir, 'modules-referrers');
      await mkdir(modules, { recursive: true });
      await writeFile(join(modules, 'm.ko'), 'module');
      const attach = (digest: string) =>
        runCli(['sbom', 'attach', `${proxy.host}/${repository}@${digest}`, '--kernel', '5.14.0-427.68.1.el9_4.x86_64', '--modules-dir', modules, '--pull-secret', proxyAuth, ...insecureFlags([proxy.host, ...registry.insecureRegistries])], process.env);
      const first = await attach(amd);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain('SBOM_VIA=referrers-api\nSBOM_ADDED=true\n');
      expect(first.stderr).toContain('through the referrers API');
      const sbomDigest = /^SBOM=\S+@(sha256:[0-9a-f]{64})$/m.exec(first.stdout)?.[1] ?? '';
      // No fallback tag: the registry indexed the artifact from its subject.
      expect(await client.describeManifest({ registry: registry.host, repository, tag: `sha256-${amd.slice(7)}` })).toBeUndefined();
      const listed = await proxyClient.referrers(pinned(repository, amd, proxy.host), CYCLONEDX_MEDIA_TYPE);
      expect(listed?.map((d) => d.digest)).toEqual([sbomDigest]);
      const document = JSON.parse((await readArtifactDocument(proxyClient, { registry: proxy.host, repository }, sbomDigest)).toString('utf8')) as unknown;
      expect(validate(document)).toEqual([]);

      const again = await attach(amd);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain(`SBOM=${proxy.host}/${repository}@${sbomDigest}\nSBOM_VIA=referrers-api\nSBOM_ADDED=false\n`);
      expect(await proxyClient.referrers(pinned(repository, amd, proxy.host), CYCLONEDX_MEDIA_TYPE)).toHaveLength(1);
      expect((await attach(arm)).code).toBe(0);

      // The join, as the build runs it, against this registry.
      const run = await runScript('join.sh', {
        ...emulators.sdkEnv(),
        TARGET_IMAGE: `${proxy.host}/${repository}`,
        TARGET_TAG: 'r',
        ARCH_TAGS: 'x86_64=r-x86_64,aarch64=r-aarch64',
        REGISTRY_AUTH_FILE: proxyAuth,
        RESULT_FILE: join(dir, 'r.env'),
        INSECURE_REGISTRIES: [proxy.host, ...registry.insecureRegistries].join(','),
        IMAGE_SIGNING_KMS_KEY: keyArn,
      });
      expect(run.code, run.stderr).toBe(0);
      const index = run.result['IMAGE_DIGEST'] ?? '';
      expect(run.stderr).toMatch(/SBOM \S+ of \S+ \(attached via referrers-api\), signed/);
      expect(await client.describeManifest({ registry: registry.host, repository, tag: `sha256-${index.slice(7)}` })).toBeUndefined();
      const indexSboms = (await proxyClient.referrers(pinned(repository, index, proxy.host), CYCLONEDX_MEDIA_TYPE)) ?? [];
      expect(indexSboms).toHaveLength(1);
      const bom = JSON.parse((await readArtifactDocument(proxyClient, { registry: proxy.host, repository }, indexSboms[0]?.digest ?? '')).toString('utf8')) as Bom;
      expect(validate(bom)).toEqual([]);
      expect(bom.components.map((c) => prop(c.properties, 'dtk-pipeline:sbom')).filter((s) => s !== undefined && SHA.test(s))).toHaveLength(2);
      expect(await signatureLayers(repository, indexSboms[0]?.digest ?? '')).toBe(1);
    } finally {
      await proxyClient.close();
    }
  }, 600_000);

  it('falls back to the tag schema on the same registry without the proxy (docker-registry answers 404 for referrers)', async () => {
    const repository = 'partner/sbom-no-referrers';
    const digest = await pushUnsigned(repository, 'x', 'module');
    expect(await client.referrers(pinned(repository, digest))).toBeUndefined();
    const modules = join(dir, 'modules-fallback');
    await mkdir(modules, { recursive: true });
    await writeFile(join(modules, 'm.ko'), 'module');
    const run = await runCli(['sbom', 'attach', `${registry.host}/${repository}@${digest}`, '--kernel', '5.14.0-427.68.1.el9_4.x86_64', '--modules-dir', modules, '--pull-secret', authFile, ...insecureFlags(registry.insecureRegistries)], process.env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('SBOM_VIA=tag-schema\n');
    expect(run.stdout).toContain('SBOM_SIGNED=false\n');
    expect(run.stderr).toContain('UNSIGNED');
    expect(await client.describeManifest({ registry: registry.host, repository, tag: `sha256-${digest.slice(7)}` })).toBeDefined();
  });
});
